"""Larkspur Freight: a fictional company's AWS account, as a security team finds it.

Engineers who sign in every day, a CI pipeline with a rotated key and one that was forgotten,
people who left, a vendor integration on an allow-list, break-glass users, application roles in
daily use, migration roles nobody removed, service-linked and IAM Identity Center roles.
"""

from __future__ import annotations

import random

from .seed import Account, Expect, Key, Password, Role, Root, User

U, N, I_ = "unused", "never-used", "insufficient-evidence"
USED = "used"

PASSWORD = "UnusedIAMUserPassword"
KEY = "UnusedIAMUserAccessKey"
ROTATE = "UnrotatedIAMUserAccessKey"
INACTIVE = "InactiveIAMUser"
ROLE = "UnusedIAMRole"

_ENGINEERS = [
    "amara.okafor",
    "ben.hartley",
    "chen.wei",
    "dana.kowalski",
    "eli.rosen",
    "farah.haddad",
    "gabriel.silva",
    "hana.sato",
    "ivan.petrov",
    "julia.moreau",
    "kofi.mensah",
    "lena.fischer",
    "mateo.garcia",
    "nina.johansson",
    "omar.aziz",
    "priya.nair",
]
_LEFT = ["quentin.blake", "rosa.delgado", "sam.whitfield", "tara.oconnell"]


def company(seed: int = 7) -> Account:
    rng = random.Random(seed)
    users: list[User] = []
    for name in _ENGINEERS:
        # Active engineers: console every few days, a young key or none.
        keys = [Key(age=rng.uniform(10, 80), used=rng.uniform(0, 5))] if rng.random() < 0.5 else []
        users.append(
            User(
                name,
                age=rng.uniform(200, 1500),
                groups=["engineering"],
                password=Password(used=rng.uniform(0, 20)),
                keys=keys,
                mfa=True,
            )
        )
    # An engineer with an old key still in use: rotate it.
    users.append(
        User(
            "victor.lund",
            age=900,
            groups=["engineering"],
            mfa=True,
            password=Password(used=1),
            keys=[Key(age=400, used=2)],
            expect=[Expect(ROTATE, USED, key=0)],
        )
    )
    # People who left: passwords and keys nobody touched for months.
    for i, name in enumerate(_LEFT):
        idle = 120 + 60 * i
        users.append(
            User(
                name,
                age=1000,
                groups=["engineering"],
                password=Password(used=idle),
                keys=[Key(age=600, used=idle + 3)],
                expect=[
                    Expect(PASSWORD, U),
                    Expect(KEY, U, key=0),
                    Expect(ROTATE, U, key=0),
                    Expect(INACTIVE, U),
                ],
            )
        )
    # A new hire whose password is not used yet: not a finding.
    users.append(User("will.zhang", age=6, groups=["engineering"], password=Password(age=6)))
    # A contractor who never signed in, created half a year ago.
    users.append(
        User(
            "xavier.contractor",
            age=180,
            password=Password(age=180),
            expect=[Expect(PASSWORD, N), Expect(INACTIVE, N)],
        )
    )
    # CI/CD: the pipeline rotated its key (old one deactivated), the new one is used hourly.
    users.append(
        User(
            "svc-ci-deploy",
            age=1100,
            path="/service/",
            keys=[Key(age=400, used=300, active=False), Key(age=30, used=0.04)],
        )
    )
    # A forgotten CI user from an old Jenkins: key never used since creation.
    users.append(
        User(
            "svc-jenkins-legacy",
            age=800,
            path="/service/",
            keys=[Key(age=800)],
            expect=[Expect(KEY, N, key=0), Expect(ROTATE, N, key=0), Expect(INACTIVE, N)],
        )
    )
    # Metrics exporter: key 1 inactive, key 2 stale.
    users.append(
        User(
            "svc-metrics-export",
            age=700,
            path="/service/",
            keys=[Key(age=650, used=500, active=False), Key(age=300, used=150)],
            expect=[Expect(KEY, U, key=1), Expect(ROTATE, U, key=1), Expect(INACTIVE, U)],
        )
    )
    # Backups: used daily, key within rotation.
    users.append(
        User("svc-backup", age=500, path="/service/", keys=[Key(age=60, used=0.5, service="s3")])
    )
    # Vendor integration on the allow-list (see the demo policy): excluded, with its owner.
    users.append(
        User(
            "vendor-acme-edi",
            age=900,
            path="/vendor/",
            tags={"owner": "partnerships@larkspur.example"},
            keys=[Key(age=700, used=200)],
        )
    )
    # Break-glass: a password with MFA, used in last quarter's drill; excluded by path.
    users.append(
        User(
            "breakglass-admin", age=1200, path="/break-glass/", mfa=True, password=Password(used=95)
        )
    )
    # A data scientist who deleted their password but still has the old last-use date;
    # their key is used: nothing to report.
    users.append(
        User(
            "yara.analytics",
            age=600,
            password_last_used=400,
            keys=[Key(age=50, used=1, service="athena")],
        )
    )
    # A user with an SSH key for CodeCommit and nothing else tracked.
    users.append(User("zoe.codecommit", age=400, ssh_key=True, expect=[Expect(INACTIVE, I_)]))

    roles: list[Role] = [
        Role("app-orders-api", age=700, used=0.1, trust="ecs-tasks.amazonaws.com"),
        Role("app-billing-worker", age=650, used=0.3, trust="lambda.amazonaws.com"),
        Role("app-tracking-ingest", age=500, used=1, trust="lambda.amazonaws.com"),
        Role("ci-deploy", age=900, used=0.02, trust="arn:aws:iam::210987654321:root"),
        Role("security-audit", age=1000, used=12, trust="arn:aws:iam::111122223333:root"),
        Role("data-lake-reader", age=450, used=30, trust="glue.amazonaws.com"),
        Role(
            "migration-2023-dms",
            age=900,
            used=None,
            trust="dms.amazonaws.com",
            expect=[Expect(ROLE, U)],
        ),
        Role(
            "legacy-batch-processor",
            age=800,
            used=210,
            trust="batch.amazonaws.com",
            expect=[Expect(ROLE, U)],
        ),
        Role(
            "poc-ml-sagemaker",
            age=200,
            used=None,
            trust="sagemaker.amazonaws.com",
            expect=[Expect(ROLE, N)],
        ),
        Role("experiment-step-functions", age=20, used=None, trust="states.amazonaws.com"),
        Role(
            "partner-readonly",
            age=600,
            used=120,
            trust="arn:aws:iam::444455556666:root",
            tags={"team": "partnerships"},
            expect=[Expect(ROLE, U)],
        ),
        Role(
            "AWSReservedSSO_AdministratorAccess_4c1d2e3f",
            age=800,
            used=3,
            path="/aws-reserved/sso.amazonaws.com/",
            trust="arn:aws:iam::123456789012:root",
        ),
        Role(
            "AWSReservedSSO_ReadOnly_9a8b7c6d",
            age=800,
            used=None,
            path="/aws-reserved/sso.amazonaws.com/",
            trust="arn:aws:iam::123456789012:root",
        ),
        Role("support", age=1000, service_linked="support.amazonaws.com"),
        Role("autoscaling", age=900, used=2, service_linked="autoscaling.amazonaws.com"),
        Role("elasticbeanstalk", age=1000, service_linked="elasticbeanstalk.amazonaws.com"),
    ]
    root = Root(
        password_used=40,
        keys=[Key(age=2500, used=None)],
        mfa=True,
        expect=[Expect("RootAccessKeyPresent", N, key=0), Expect("RootRecentlyUsed", USED)],
    )
    return Account(
        users=users,
        roles=roles,
        root=root,
        groups={"engineering": []},
        alias="larkspur-freight-prod",
    )


DEMO_POLICY = """\
# The demo's policy file: the same format as `dormant scan --policy`.
[thresholds]
default = 90

[exclusions]
paths = ["/break-glass/"]

[[allow]]
arn = "arn:aws:iam::*:user/vendor/vendor-acme-edi"
owner = "partnerships@larkspur.example"
reason = "EDI partner pulls manifests monthly; key rotation agreed yearly (LF-1042)"
expires = 2099-12-31

[[allow]]
tag = "team=partnerships"
owner = "partnerships@larkspur.example"
reason = "Partner read-only role kept for the annual audit"
expires = 2025-06-30
"""
