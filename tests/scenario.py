"""The labelled scenario: one emulated account that covers every rule of the core judgement
and its edge. Each principal carries the findings it must produce (and nothing else)."""

from __future__ import annotations

from dormant.demo.seed import Account, Expect, Key, Password, Role, Root, User

U, N, I_, USED = "unused", "never-used", "insufficient-evidence", "used"
PASSWORD = "UnusedIAMUserPassword"
KEY = "UnusedIAMUserAccessKey"
ROTATE = "UnrotatedIAMUserAccessKey"
INACTIVE = "InactiveIAMUser"
ROLE = "UnusedIAMRole"

POLICY = """\
[exclusions]
arns = ["arn:aws:iam::*:role/excluded-by-arn"]

[[allow]]
arn = "arn:aws:iam::*:user/allowed-vendor"
owner = "vendor-team@example.com"
reason = "contractual integration, reviewed quarterly"
expires = 2099-01-01

[[allow]]
tag = "exempt=yes"
owner = "old-team@example.com"
reason = "was exempt until the migration"
expires = 2020-01-01
"""


def scenario() -> Account:
    users = [
        # Stale password and key: every usage finding, and the key is old.
        User(
            "stale",
            age=500,
            password=Password(used=120),
            keys=[Key(age=400, used=120)],
            expect=[
                Expect(PASSWORD, U),
                Expect(KEY, U, key=0),
                Expect(ROTATE, U, key=0),
                Expect(INACTIVE, U),
            ],
        ),
        # Fresh: used yesterday, young key.
        User("fresh", age=300, password=Password(used=1), keys=[Key(age=30, used=1)]),
        # Never used, created long ago.
        User(
            "never-old",
            age=200,
            password=Password(age=200),
            keys=[Key(age=200)],
            expect=[
                Expect(PASSWORD, N),
                Expect(KEY, N, key=0),
                Expect(ROTATE, N, key=0),
                Expect(INACTIVE, N),
            ],
        ),
        # Never used, but younger than the threshold: nothing yet.
        User("never-new", age=20, password=Password(age=20), keys=[Key(age=20)]),
        # Only an inactive key (used 300 days ago): not a key finding; the user is inactive.
        User(
            "inactive-key",
            age=400,
            keys=[Key(age=400, used=300, active=False)],
            expect=[Expect(INACTIVE, U)],
        ),
        # Deleted login profile with an old PasswordLastUsed: no password finding; key in use.
        User("deleted-profile", age=600, password_last_used=400, keys=[Key(age=60, used=5)]),
        # Key 1 inactive, key 2 stale.
        User(
            "key1-inactive-key2-stale",
            age=700,
            keys=[Key(age=600, used=500, active=False), Key(age=200, used=150)],
            expect=[Expect(KEY, U, key=1), Expect(ROTATE, U, key=1), Expect(INACTIVE, U)],
        ),
        # 89 days: within the threshold.
        User("edge-89", age=300, password=Password(used=89), keys=[Key(age=89.5, used=89)]),
        # 91 days: over it.
        User(
            "edge-91",
            age=300,
            password=Password(used=91),
            keys=[Key(age=91.5, used=91)],
            expect=[
                Expect(PASSWORD, U),
                Expect(KEY, U, key=0),
                Expect(ROTATE, U, key=0),
                Expect(INACTIVE, U),
            ],
        ),
        # A new password (10 days) after an old one last used 300 days ago: the old use is not
        # this password's, and the new one is too young to judge.
        User("recreated-password", age=500, password=Password(age=10), password_last_used=300),
        # Used key, but older than the rotation threshold.
        User(
            "unrotated-in-use",
            age=400,
            keys=[Key(age=200, used=1)],
            expect=[Expect(ROTATE, USED, key=0)],
        ),
        # No credentials at all, created long ago: an inactive user.
        User("no-credentials", age=300, expect=[Expect(INACTIVE, N)]),
        # No credentials but young.
        User("no-credentials-new", age=10),
        # Only an SSH key, whose use IAM does not track.
        User("ssh-only", age=300, ssh_key=True, expect=[Expect(INACTIVE, I_)]),
        # Only a service-specific credential (CodeCommit HTTPS).
        User(
            "git-credential-only", age=300, service_credential=True, expect=[Expect(INACTIVE, I_)]
        ),
        # On the allow-list: excluded, reported as such.
        User("allowed-vendor", age=500, keys=[Key(age=300, used=200)]),
        # Tagged for an allow-list entry that has expired: reported.
        User(
            "expired-exemption",
            age=500,
            tags={"exempt": "yes"},
            keys=[Key(age=150, used=100)],
            expect=[Expect(KEY, U, key=0), Expect(ROTATE, U, key=0), Expect(INACTIVE, U)],
        ),
        # Under the CIS preset (45 days) this key is unused; under the default it is not.
        User("used-60-days-ago", age=300, keys=[Key(age=80, used=60)]),
    ]
    roles = [
        Role("role-stale", age=500, used=120, expect=[Expect(ROLE, U)]),
        Role("role-fresh", age=500, used=1),
        Role("role-never-old", age=200, expect=[Expect(ROLE, N)]),
        Role("role-never-new", age=20),
        Role("role-beyond-window", age=900, expect=[Expect(ROLE, U)]),
        Role("role-89", age=300, used=89),
        Role("role-91", age=300, used=91, expect=[Expect(ROLE, U)]),
        Role("excluded-by-arn", age=900),
        Role(
            "sso",
            age=900,
            path="/aws-reserved/sso.amazonaws.com/",
            trust="arn:aws:iam::123456789012:root",
        ),
        Role("slr", age=900, service_linked="support.amazonaws.com"),
    ]
    root = Root(
        password_used=10,
        keys=[Key(age=1000)],
        expect=[Expect("RootAccessKeyPresent", N, key=0), Expect("RootRecentlyUsed", USED)],
    )
    return Account(users=users, roles=roles, root=root)


EXCLUDED = {
    # (type, principal) of what the rules must exclude, with the rule's start.
    (KEY, "allowed-vendor"): "allow-list",
    (INACTIVE, "allowed-vendor"): "allow-list",
    (ROTATE, "allowed-vendor"): "allow-list",
    (ROLE, "excluded-by-arn"): "policy exclusion",
    (ROLE, "AWSServiceRoleForSupport"): "service-linked role",
    (ROLE, "sso"): "IAM Identity Center role",
}
