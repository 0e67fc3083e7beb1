"""The labelled scenario: one emulated account that covers every rule of the core judgement
and its edge. Each principal carries the findings it must produce (and nothing else)."""

from __future__ import annotations

from dormant.demo.seed import (
    Account,
    Analyzer,
    AnalyzerFinding,
    Expect,
    Key,
    ManagedPolicy,
    Password,
    Role,
    Root,
    User,
)

U, N, I_, USED = "unused", "never-used", "insufficient-evidence", "used"
PASSWORD = "UnusedIAMUserPassword"
KEY = "UnusedIAMUserAccessKey"
ROTATE = "UnrotatedIAMUserAccessKey"
INACTIVE = "InactiveIAMUser"
ROLE = "UnusedIAMRole"
PERM = "UnusedPermission"


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, sid: str | None = None, resource="*") -> dict:
    out = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if sid:
        out["Sid"] = sid
    return out


# The permission cases: what each role or user is granted, what it used, and what must be found.
APP_POLICY = doc(
    allow("sqs:*", "Queue"),
    allow(["s3:ListAllMyBuckets", "s3:CreateBucket", "s3:GetObject"], "Buckets"),
    allow(["dynamodb:GetItem", "dynamodb:PutItem"], "Table"),
)
QUEUE_WRITER = ManagedPolicy(
    "queue-writer",
    doc(allow(["sqs:SendMessage", "sns:Publish"])),
    age=10,
    previous=[(doc(allow("sqs:SendMessage")), 300)],
)


def permission_cases() -> tuple[list[User], list[Role]]:
    roles = [
        # A wholly unused service (sqs), an unused tracked action of a used service
        # (s3:CreateBucket), an S3 object action (never in Access Advisor) and a used service
        # without action-level data (dynamodb).
        Role(
            "perm-app",
            age=500,
            used=1,
            inline=APP_POLICY,
            access={"s3:ListAllMyBuckets": 2, "dynamodb": 1},
            expect=[
                Expect(PERM, U, service="sqs"),
                Expect(PERM, U, service="s3", action="s3:CreateBucket"),
                Expect(PERM, I_, service="s3"),
                Expect(PERM, I_, service="dynamodb"),
            ],
        ),
        # iam:PassRole is never tracked: insufficient, even though no iam call was made.
        Role(
            "perm-passrole",
            age=500,
            used=3,
            inline=doc(allow(["ec2:RunInstances", "ec2:DescribeInstances", "iam:PassRole"])),
            access={"ec2:RunInstances": 3, "ec2:DescribeInstances": 3},
            expect=[Expect(PERM, I_, service="iam")],
        ),
        # The Access Advisor job fails: every permission is insufficient-evidence.
        Role(
            "perm-failed-job",
            age=500,
            used=2,
            inline=doc(allow("s3:ListAllMyBuckets")),
            job="fail",
            expect=[Expect(PERM, I_)],
        ),
        # sns:Publish was added 10 days ago (policy version 2): too young to be unused.
        Role(
            "perm-young-grant",
            age=500,
            used=1,
            policies=["queue-writer"],
            access={"sqs": 5},
            expect=[Expect(PERM, I_, service="sns"), Expect(PERM, I_, service="sqs")],
        ),
        # An AWS-managed policy for a service the role never used.
        Role(
            "perm-aws-managed",
            age=600,
            used=4,
            policies=["AmazonSQSFullAccess"],
            inline=doc(allow("s3:ListAllMyBuckets")),
            access={"s3:ListAllMyBuckets": 4},
            expect=[Expect(PERM, U, service="sqs")],
        ),
        # A role that is itself unused: its permissions are not judged one by one.
        Role("perm-unused-role", age=500, inline=doc(allow("s3:*")), expect=[Expect(ROLE, U)]),
        # A role younger than the threshold: nothing can have gone unused that long.
        Role("perm-young-role", age=20, used=1, inline=doc(allow("sqs:*"))),
    ]
    users = [
        # A user's permission through a group: glue unused, athena used (service level only).
        User(
            "ana",
            age=400,
            password=Password(used=1),
            groups=["analysts"],
            access={"athena": 2},
            expect=[Expect(PERM, U, service="glue"), Expect(PERM, I_, service="athena")],
        ),
    ]
    return users, roles


ANALYZER = Analyzer(
    findings=[AnalyzerFinding("perm-app", {"sqs": [], "s3": ["s3:CreateBucket"]})],
)

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
    perm_users, perm_roles = permission_cases()
    return Account(
        users=users + perm_users,
        roles=roles + perm_roles,
        root=root,
        groups={"analysts": []},
        group_inline={
            "analysts": doc(
                allow(["athena:StartQueryExecution", "athena:GetQueryResults", "glue:GetTable"])
            )
        },
        managed=[QUEUE_WRITER],
        analyzer=ANALYZER,
    )


EXCLUDED = {
    # (type, principal) of what the rules must exclude, with the rule's start.
    (KEY, "allowed-vendor"): "allow-list",
    (INACTIVE, "allowed-vendor"): "allow-list",
    (ROTATE, "allowed-vendor"): "allow-list",
    (ROLE, "excluded-by-arn"): "policy exclusion",
    (ROLE, "AWSServiceRoleForSupport"): "service-linked role",
    (ROLE, "sso"): "IAM Identity Center role",
}
