"""Larkspur Freight: a fictional company's AWS account, as a security team finds it.

Engineers who sign in every day, a CI pipeline with a rotated key and one that was forgotten,
people who left, a vendor integration on an allow-list, break-glass users, application roles in
daily use, migration roles nobody removed, service-linked and IAM Identity Center roles.

Their permissions drifted as permissions do: the orders API still may publish to a topic retired
eight months ago, the billing worker may rewrite its bucket's policy or delete the bucket, the
ingest function kept EC2 rights from before it was serverless, the deploy pipeline kept ECR from
an abandoned container project (and passes roles to CloudFormation, which Access Advisor cannot
see), an analyst's group grants a Glue action nobody calls, and one Access Advisor job fails.
An Access Analyzer unused-access analyzer has its own findings to compare with.
"""

from __future__ import annotations

import random

from .seed import (
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

U, N, I_ = "unused", "never-used", "insufficient-evidence"
USED = "used"

PASSWORD = "UnusedIAMUserPassword"
KEY = "UnusedIAMUserAccessKey"
ROTATE = "UnrotatedIAMUserAccessKey"
INACTIVE = "InactiveIAMUser"
ROLE = "UnusedIAMRole"
PERM = "UnusedPermission"
ACCT = "123456789012"


def _doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(sid: str, actions: list[str], resource: str | list[str] = "*") -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


OBSERVABILITY = [
    "logs:DescribeLogGroups",
    "logs:FilterLogEvents",
    "logs:GetLogEvents",
    "cloudwatch:GetMetricData",
    "ecs:DescribeServices",
    "ecs:DescribeTasks",
    "ecs:ListServices",
]
"""What the engineering group grants, and what every engineer uses."""

DEPLOY_PIPELINE = ManagedPolicy(
    "deploy-pipeline",
    _doc(
        _allow(
            "Stacks",
            [
                "cloudformation:CreateChangeSet",
                "cloudformation:DescribeChangeSet",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:DescribeStacks",
                "cloudformation:DeleteStack",
            ],
        ),
        _allow(
            "Artifacts",
            ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
            ["arn:aws:s3:::larkspur-artifacts", "arn:aws:s3:::larkspur-artifacts/*"],
        ),
        _allow(
            "Functions",
            [
                "lambda:GetFunction",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:DeleteFunction",
            ],
        ),
        _allow("PassExecutionRoles", ["iam:PassRole"], f"arn:aws:iam::{ACCT}:role/app-*"),
        _allow("Containers", ["ecr:*"]),
    ),
    age=500,
)

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


def _observability(rng: random.Random) -> dict[str, float]:
    return {action: rng.uniform(0, 20) for action in OBSERVABILITY}


def company(seed: int = 7) -> Account:
    rng = random.Random(seed)
    uses = random.Random(seed + 1)
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
                access=_observability(uses),
            )
        )
    # An engineer with an old key still in use: rotate it.
    users.append(
        User(
            "victor.lund",
            age=900,
            groups=["engineering"],
            access=_observability(uses),
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
            inline=_doc(
                _allow("Manifests", ["s3:GetObject"], "arn:aws:s3:::larkspur-edi/manifests/*")
            ),
        )
    )
    # Break-glass: a password with MFA, used in last quarter's drill; excluded by path.
    users.append(
        User(
            "breakglass-admin",
            age=1200,
            path="/break-glass/",
            mfa=True,
            password=Password(used=95),
            policies=["AdministratorAccess"],
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
            groups=["analysts"],
            access={"athena": 1, "glue:GetTable": 1, "glue:GetDatabase": 3},
            # Athena has no action-level data here: its two actions cannot be judged. Glue has:
            # GetPartitions was never called.
            expect=[
                Expect(PERM, I_, service="athena"),
                Expect(PERM, U, service="glue", action="glue:GetPartitions"),
            ],
        )
    )
    # A user with an SSH key for CodeCommit and nothing else tracked.
    users.append(User("zoe.codecommit", age=400, ssh_key=True, expect=[Expect(INACTIVE, I_)]))

    roles: list[Role] = [
        # Orders: DynamoDB every minute (no action-level data here); SNS publishing was retired
        # eight months ago.
        Role(
            "app-orders-api",
            age=700,
            used=0.1,
            trust="ecs-tasks.amazonaws.com",
            inline=_doc(
                _allow(
                    "OrdersTable",
                    [
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:Query",
                        "dynamodb:UpdateItem",
                    ],
                    f"arn:aws:dynamodb:us-east-1:{ACCT}:table/orders",
                ),
                _allow(
                    "ShipmentEvents",
                    ["sns:Publish"],
                    f"arn:aws:sns:us-east-1:{ACCT}:shipment-events",
                ),
            ),
            access={"dynamodb": 0.1, "sns:Publish": 240},
            expect=[Expect(PERM, I_, service="dynamodb"), Expect(PERM, U, service="sns")],
        ),
        # Billing: an AWS-managed policy whose CreateLogGroup ran once, at the first deploy; and
        # bucket rights nobody uses (its object reads and writes Access Advisor cannot see).
        Role(
            "app-billing-worker",
            age=650,
            used=0.3,
            trust="lambda.amazonaws.com",
            policies=["AWSLambdaBasicExecutionRole"],
            inline=_doc(
                _allow(
                    "Invoices",
                    [
                        "s3:GetObject",
                        "s3:PutObject",
                        "s3:ListBucket",
                        "s3:PutBucketPolicy",
                        "s3:DeleteBucket",
                    ],
                    ["arn:aws:s3:::larkspur-invoices", "arn:aws:s3:::larkspur-invoices/*"],
                )
            ),
            access={
                "logs:CreateLogGroup": 380,
                "logs:CreateLogStream": 0.3,
                "logs:PutLogEvents": 0.3,
                "s3:ListBucket": 0.3,
                "s3:GetObject": 0.3,
                "s3:PutObject": 0.3,
            },
            expect=[
                Expect(PERM, U, service="logs", action="logs:CreateLogGroup"),
                Expect(PERM, U, service="s3", action="s3:PutBucketPolicy"),
                Expect(PERM, U, service="s3", action="s3:DeleteBucket"),
                Expect(PERM, I_, service="s3"),
            ],
        ),
        # Ingest: Kinesis daily; the EC2 rights are from before it was a Lambda function.
        Role(
            "app-tracking-ingest",
            age=500,
            used=1,
            trust="lambda.amazonaws.com",
            inline=_doc(
                _allow(
                    "Stream",
                    [
                        "kinesis:DescribeStream",
                        "kinesis:GetRecords",
                        "kinesis:GetShardIterator",
                        "kinesis:ListShards",
                    ],
                ),
                _allow(
                    "LegacyWorkers",
                    ["ec2:DescribeInstances", "ec2:RunInstances", "ec2:TerminateInstances"],
                ),
            ),
            access={
                "kinesis:DescribeStream": 1,
                "kinesis:GetRecords": 1,
                "kinesis:GetShardIterator": 1,
                "kinesis:ListShards": 1,
            },
            expect=[Expect(PERM, U, service="ec2")],
        ),
        # Deploys: CloudFormation change sets and Lambda code, never a stack or function
        # deletion; ECR from an abandoned container project; iam:PassRole, which Access Advisor
        # never tracks.
        Role(
            "ci-deploy",
            age=900,
            used=0.02,
            trust="arn:aws:iam::210987654321:root",
            policies=["deploy-pipeline"],
            access={
                "cloudformation:CreateChangeSet": 0.02,
                "cloudformation:DescribeChangeSet": 0.02,
                "cloudformation:ExecuteChangeSet": 0.02,
                "cloudformation:DescribeStacks": 0.02,
                "s3:ListBucket": 0.02,
                "s3:PutObject": 0.02,
                "lambda:GetFunction": 0.02,
                "lambda:UpdateFunctionCode": 0.02,
                "lambda:UpdateFunctionConfiguration": 0.02,
            },
            expect=[
                Expect(PERM, U, service="cloudformation", action="cloudformation:DeleteStack"),
                Expect(PERM, U, service="lambda", action="lambda:DeleteFunction"),
                Expect(PERM, U, service="ecr"),
                Expect(PERM, I_, service="s3"),
                Expect(PERM, I_, service="iam"),
            ],
        ),
        # GitHub Actions deploys through OIDC: used this morning, no findings.
        Role(
            "github-actions-deploy",
            age=300,
            used=0.3,
            trust="arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        ),
        Role(
            "security-audit",
            age=1000,
            used=12,
            trust="arn:aws:iam::123456789012:saml-provider/Okta",
            inline=_doc(
                _allow(
                    "Evidence",
                    [
                        "iam:GenerateCredentialReport",
                        "iam:GetCredentialReport",
                        "iam:GetAccountAuthorizationDetails",
                        "cloudtrail:LookupEvents",
                    ],
                )
            ),
            access={
                "iam:GenerateCredentialReport": 12,
                "iam:GetCredentialReport": 12,
                "iam:GetAccountAuthorizationDetails": 12,
                "cloudtrail:LookupEvents": 12,
            },
        ),
        # Its Access Advisor job fails: nothing about its permissions can be said this time.
        Role(
            "data-lake-reader",
            age=450,
            used=30,
            trust="glue.amazonaws.com",
            inline=_doc(
                _allow(
                    "Catalog",
                    ["glue:GetTable", "glue:GetDatabase", "s3:GetObject", "s3:ListBucket"],
                )
            ),
            access={"glue:GetTable": 30, "s3:ListBucket": 30},
            job="fail",
            expect=[Expect(PERM, I_)],
        ),
        Role(
            "migration-2023-dms",
            age=900,
            used=None,
            trust="dms.amazonaws.com",
            inline=_doc(_allow("Replication", ["dms:*"])),
            expect=[Expect(ROLE, U)],
        ),
        Role(
            "legacy-batch-processor",
            age=800,
            used=210,
            trust="batch.amazonaws.com",
            inline=_doc(_allow("Batch", ["s3:*", "batch:*"])),
            expect=[Expect(ROLE, U)],
        ),
        Role(
            "poc-ml-sagemaker",
            age=200,
            used=None,
            trust="sagemaker.amazonaws.com",
            expect=[Expect(ROLE, N)],
        ),
        Role(
            "experiment-step-functions",
            age=20,
            used=None,
            trust="states.amazonaws.com",
            inline=_doc(_allow("States", ["states:*"])),
        ),
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
            policies=["AdministratorAccess"],
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
        groups={"engineering": [], "analysts": []},
        group_inline={
            "engineering": _doc(_allow("Observability", OBSERVABILITY)),
            "analysts": _doc(
                _allow(
                    "Queries",
                    [
                        "athena:StartQueryExecution",
                        "athena:GetQueryResults",
                        "glue:GetTable",
                        "glue:GetDatabase",
                        "glue:GetPartitions",
                    ],
                )
            ),
        },
        managed=[DEPLOY_PIPELINE],
        alias="larkspur-freight-prod",
        analyzer=Analyzer(
            findings=[
                AnalyzerFinding("app-orders-api", {"sns": []}),
                AnalyzerFinding(
                    "app-billing-worker",
                    {
                        "logs": ["logs:CreateLogGroup"],
                        "s3": ["s3:PutBucketPolicy", "s3:DeleteBucket"],
                    },
                ),
                AnalyzerFinding(
                    "ci-deploy",
                    {
                        "ecr": [],
                        "lambda": ["lambda:DeleteFunction"],
                        "cloudformation": ["cloudformation:DeleteStack"],
                    },
                ),
            ]
        ),
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


# ------------------------------------------------------------------ the organization (--org)

ORG_MEMBER_ROLE = "dormant-readonly"
"""The member role ``dormant demo --org`` creates in each member account: deploy/member-role.yaml's
default name."""


def member_account(kind: str) -> Account:
    """A small member account of Larkspur's organization: a few people and workloads, some of
    them forgotten. ``kind`` names the account and prefixes its principals."""
    return Account(
        users=[
            User(
                f"{kind}-engineer", age=400, password=Password(used=1), keys=[Key(age=60, used=1)]
            ),
            User(f"{kind}-ci-legacy", age=500, keys=[Key(age=480, used=210)]),
            User(f"{kind}-contractor", age=200, password=Password(used=150)),
            User(f"{kind}-bootstrap", age=300, keys=[Key(age=300)]),
        ],
        roles=[
            Role(f"{kind}-app", age=600, used=1),
            Role(f"{kind}-migration-2024", age=700, used=400),
            Role(f"{kind}-poc", age=250),
        ],
    )


ORG_MEMBERS = {
    # name -> OU path below the root, and what goes wrong when it is scanned
    "larkspur-payments": ("Prod/Payments", None),
    "larkspur-analytics": ("Prod", None),
    "larkspur-sandbox": ("Dev", "an SCP denies iam:ListUsers"),
    "larkspur-legacy": ("Dev", "its member role cannot be assumed"),
}
"""``dormant demo --org``'s member accounts; the management account is :func:`company`."""
