"""The least-privilege rewriter: examples, properties checked with the local evaluator, and a
check that moto's IAM enforcement agrees."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import botocore.exceptions
import pytest
from aa_support import ACCOUNT, client, fresh_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dormant.iam.catalog import ActionCatalog, load_catalog
from dormant.iam.evaluate import granted_actions, is_allowed
from dormant.iam.policy import parse_policy, policy_size
from dormant.iam.rewrite import (
    PolicyInput,
    PolicyKind,
    Recommendation,
    rewrite_policies,
    split_document,
    unified_diff,
    write_documents,
)
from dormant.iam.usage import UsageEvidence, Verdict

NOW = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
DAYS = dt.timedelta(days=1)
T90 = 90 * DAYS
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"


def _doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _plan(policies, evidence, **kwargs):
    return rewrite_policies(policies, evidence, threshold=T90, as_of=NOW, **kwargs)


def _inline(doc, name="inline"):
    return PolicyInput(name, PolicyKind.INLINE_ROLE, doc, owner=ROLE)


def _allowed_after(plan):
    return {f"{i}:{j}": d for i, p in enumerate(plan.policies) for j, d in enumerate(p.documents)}


def test_s3_wildcard_keeps_used_and_untracked_actions_only():
    catalog = load_catalog()
    evidence = UsageEvidence.of(
        services={"s3": NOW - 2 * DAYS},
        actions={
            "s3:ListBucket": NOW - 2 * DAYS,
            "s3:ListAllMyBuckets": NOW - 3 * DAYS,
            "s3:CreateBucket": None,
            "s3:DeleteBucket": NOW - 200 * DAYS,
            "s3:PutBucketPolicy": None,
        },
    )
    original = _doc(_allow("s3:*", "arn:aws:s3:::data*", Sid="Data"))
    plan = _plan([_inline(original)], evidence)
    (rewrite,) = plan.policies
    assert rewrite.recommendation is Recommendation.PUT_INLINE
    assert rewrite.removed == ("s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketPolicy")
    (doc,) = rewrite.documents
    (stmt,) = doc["Statement"]
    assert stmt["Sid"] == "Data" and stmt["Resource"] == "arn:aws:s3:::data*"
    after = {"p": doc}
    for used in ("s3:ListBucket", "s3:ListAllMyBuckets", "s3:GetObject", "s3:PutObject"):
        assert is_allowed(after, used), used
    for gone in rewrite.removed:
        assert not is_allowed(after, gone), gone
    # Untracked s3 actions are kept: the evidence cannot judge them.
    assert "s3:GetObject" in rewrite.kept_insufficient
    assert plan.verdicts["s3:GetObject"].verdict is Verdict.INSUFFICIENT
    # Nothing new is granted.
    before = set(granted_actions({"p": original}, catalog))
    assert set(granted_actions(after, catalog)) <= before


def test_service_without_action_data_keeps_its_statement_when_used():
    original = _doc(_allow("sqs:*"), _allow(["dynamodb:Get*", "dynamodb:Query"]))
    evidence = UsageEvidence.of(services={"sqs": NOW - DAYS, "dynamodb": NOW - 10 * DAYS})
    (rewrite,) = _plan([_inline(original)], evidence).policies
    assert rewrite.recommendation is Recommendation.KEEP
    assert rewrite.documents == (original,)
    assert unified_diff(rewrite) == ""


def test_unused_service_statement_is_dropped_but_passrole_is_kept():
    original = _doc(
        _allow("iam:*"),
        _allow("ec2:Describe*", Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}),
        {"Effect": "Deny", "Action": "ec2:TerminateInstances", "Resource": "*"},
    )
    evidence = UsageEvidence.of(services={"iam": NOW - 365 * DAYS, "ec2": NOW - DAYS})
    (rewrite,) = _plan([_inline(original)], evidence).policies
    (doc,) = rewrite.documents
    statements = doc["Statement"]
    assert statements[0]["Action"] == "iam:PassRole"
    assert statements[1] == original["Statement"][1]  # condition untouched
    assert statements[2] == original["Statement"][2]  # deny verbatim
    assert "iam:CreateUser" in rewrite.removed and "iam:PassRole" not in rewrite.removed


def test_policy_with_nothing_used_is_deleted_or_detached():
    evidence = UsageEvidence.of(services={"ec2": None})
    doc = _doc(_allow("ec2:RunInstances"))
    inline, managed = _plan(
        [
            _inline(doc),
            PolicyInput(
                "m", PolicyKind.MANAGED, doc, arn=f"arn:aws:iam::{ACCOUNT}:policy/m", owner=ROLE
            ),
        ],
        evidence,
    ).policies
    assert inline.recommendation is Recommendation.DELETE_INLINE and inline.documents == ()
    assert managed.recommendation is Recommendation.DETACH


def test_aws_managed_policy_is_replaced_not_edited(tmp_path):
    admin = _doc(_allow("*"))
    evidence = UsageEvidence.of(
        services={"s3": NOW - DAYS, "iam": None, "ec2": None},
        actions={"s3:ListAllMyBuckets": NOW - DAYS, "s3:CreateBucket": None},
    )
    catalog = ActionCatalog.from_json(
        {
            "services": {
                "s3": [
                    "Amazon S3",
                    {"ListAllMyBuckets": "L", "CreateBucket": "W", "GetObject": "R"},
                    ["GetObject"],
                ],
                "iam": ["IAM", {"CreateUser": "W", "PassRole": "W"}],
                "ec2": ["EC2", {"RunInstances": "W"}],
            }
        }
    )
    pol = PolicyInput(
        "AdministratorAccess",
        PolicyKind.AWS_MANAGED,
        admin,
        arn="arn:aws:iam::aws:policy/AdministratorAccess",
        owner=ROLE,
    )
    plan = _plan([pol], evidence, catalog=catalog)
    (rewrite,) = plan.policies
    assert rewrite.recommendation is Recommendation.REPLACE_AWS_MANAGED
    (doc,) = rewrite.documents
    assert sorted(doc["Statement"][0]["Action"]) == [
        "iam:PassRole",
        "s3:GetObject",
        "s3:ListAllMyBuckets",
    ]
    assert any("cannot be edited" in n for n in rewrite.notes)
    written = write_documents(plan, tmp_path)
    (item,) = written
    assert json.loads(item.path.read_text()) == doc
    assert any(
        c.startswith("aws iam create-policy --policy-name dormant-app-AdministratorAccess")
        for c in item.commands
    )
    detach = "detach-role-policy --role-name app --policy-arn arn:aws:iam::aws:policy/Admin"
    assert any(detach in c for c in item.commands)


def test_inline_and_managed_write_the_right_commands(tmp_path):
    evidence = UsageEvidence.of(services={"ec2": NOW - DAYS, "iam": None})
    doc = _doc(_allow(["ec2:DescribeInstances", "iam:CreateUser"]))
    managed_arn = f"arn:aws:iam::{ACCOUNT}:policy/ops"
    plan = _plan(
        [_inline(doc), PolicyInput("ops", PolicyKind.MANAGED, doc, arn=managed_arn, owner=ROLE)],
        evidence,
    )
    inline, managed = write_documents(plan, tmp_path)
    assert inline.commands == (
        "aws iam put-role-policy --role-name app --policy-name inline "
        f"--policy-document file://{inline.path}",
    )
    assert managed.commands == (
        f"aws iam create-policy-version --policy-arn {managed_arn} "
        f"--policy-document file://{managed.path} --set-as-default",
    )
    diff = unified_diff(plan.policies[0])
    assert diff.startswith("--- a/inline.json\n+++ b/inline.json\n")
    assert '-        "iam:CreateUser"' in diff


def test_not_action_is_kept_and_flagged():
    original = _doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    evidence = UsageEvidence.of(services={"ec2": None})
    catalog = ActionCatalog.from_actions(["ec2:RunInstances", "iam:CreateUser", "s3:ListBucket"])
    (rewrite,) = _plan([_inline(original)], evidence, catalog=catalog).policies
    assert rewrite.recommendation is Recommendation.KEEP
    assert any("NotAction" in n and "ec2:RunInstances" in n for n in rewrite.notes)


def test_oversized_rewrite_is_split_within_the_limit():
    catalog = load_catalog()
    evidence = UsageEvidence.of(services={"ec2": NOW - DAYS}, actions={"ec2:RunInstances": None})
    original = _doc(_allow("ec2:*"))
    plan = _plan(
        [PolicyInput("big", PolicyKind.MANAGED, original, arn="arn:aws:iam::1:policy/big")],
        evidence,
        catalog=catalog,
    )
    (rewrite,) = plan.policies
    assert all(size <= 6144 for size in rewrite.sizes)
    docs = {str(i): d for i, d in enumerate(rewrite.documents)}
    assert not is_allowed(docs, "ec2:RunInstances")
    assert is_allowed(docs, "ec2:DescribeInstances") and is_allowed(docs, "ec2:CreateTags")


def test_split_document_chunks_a_long_action_list():
    actions = [f"svc:Action{i:04d}" for i in range(600)]
    doc = _doc(_allow(actions, Sid="Big"))
    parts = split_document(doc, 2048)
    assert len(parts) > 1 and all(policy_size(p) <= 2048 for p in parts)
    seen = [a for p in parts for s in p["Statement"] for a in s["Action"]]
    assert seen == actions
    assert [s["Sid"] for p in parts for s in p["Statement"]][:2] == ["Big1", "Big2"]


# -- Properties ------------------------------------------------------------------------------

SMALL = ActionCatalog.from_json(
    {
        "services": {
            "s3": [
                "Amazon S3",
                {
                    a: "W"
                    for a in [
                        "GetObject",
                        "PutObject",
                        "ListBucket",
                        "ListAllMyBuckets",
                        "CreateBucket",
                        "DeleteBucket",
                        "GetBucketPolicy",
                        "PutBucketPolicy",
                    ]
                },
                ["GetObject", "PutObject"],
            ],
            "iam": [
                "IAM",
                {
                    a: "W"
                    for a in [
                        "PassRole",
                        "CreateUser",
                        "DeleteUser",
                        "ListUsers",
                        "GetUser",
                        "ListRoles",
                    ]
                },
            ],
            "ec2": [
                "EC2",
                {
                    a: "W"
                    for a in [
                        "DescribeInstances",
                        "DescribeVpcs",
                        "RunInstances",
                        "TerminateInstances",
                    ]
                },
            ],
            "sqs": [
                "SQS",
                {a: "W" for a in ["SendMessage", "ReceiveMessage", "CreateQueue", "ListQueues"]},
            ],
        }
    }
)
ALL = SMALL.all_actions()
PATTERNS = [
    "*",
    "s3:*",
    "iam:*",
    "ec2:*",
    "sqs:*",
    "s3:Get*",
    "s3:List*",
    "iam:List*",
    "ec2:Describe*",
    "sqs:*Message",
    *ALL,
]
WHEN = st.sampled_from([None, NOW - DAYS, NOW - 30 * DAYS, NOW - 200 * DAYS])

statement_st = st.builds(
    lambda effect, actions, not_action: (
        {"Effect": effect, "NotAction": actions, "Resource": "*"}
        if not_action and effect == "Allow"
        else {"Effect": effect, "Action": actions, "Resource": "*"}
    ),
    st.sampled_from(["Allow", "Allow", "Allow", "Deny"]),
    st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=4, unique=True),
    st.sampled_from([False, False, False, True]),
)
policy_st = st.lists(statement_st, min_size=1, max_size=4).map(lambda s: _doc(*s))
evidence_st = st.builds(
    lambda services, actions: UsageEvidence.of(services=services, actions=actions),
    st.dictionaries(st.sampled_from(["s3", "iam", "ec2", "sqs"]), WHEN),
    st.dictionaries(st.sampled_from([a for a in ALL if a != "iam:PassRole"]), WHEN),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(policy_st, min_size=1, max_size=3), evidence_st)
def test_rewrite_keeps_what_is_used_and_drops_what_is_unused(docs, evidence):
    inputs = [_inline(d, f"p{i}") for i, d in enumerate(docs)]
    plan = _plan(inputs, evidence, catalog=SMALL)
    before = set(granted_actions({str(i): d for i, d in enumerate(docs)}, SMALL))
    after = set(granted_actions(_allowed_after(plan), SMALL))
    not_action = {
        a
        for d in docs
        for s in parse_policy(d).statements
        if s.effect == "Allow" and s.not_actions is not None
        for a in SMALL.all_actions()
        if is_allowed({"x": _doc({**s.raw})}, a)
    }
    assert after <= before, "the rewrite granted something new"
    for action in before:
        verdict = plan.verdicts.get(action)
        if verdict is None:  # granted only through NotAction: kept verbatim
            assert action in after
            continue
        if verdict.verdict.removable and action not in not_action:
            assert action not in after, f"{action} is {verdict.verdict} but still allowed"
        if not verdict.verdict.removable:
            assert action in after, f"{action} is {verdict.verdict} but was removed"
    # Every action the evidence shows used is still allowed.
    for action, when in evidence.actions.items():
        canon = SMALL.canonical(action)
        if canon in before and when is not None and when >= NOW - T90:
            assert canon in after


# -- moto's IAM enforcement agrees ---------------------------------------------------------


def _auth(url, value):
    # moto 5.2 reads the body as a bare number (float(body)), not as {"value": N}, and only
    # when it is not sent as a form (urllib's default content type).
    request = urllib.request.Request(
        f"{url}/moto-api/reset-auth",
        data=str(value).encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(request).read()


def test_moto_enforces_the_rewritten_policy():
    srv = fresh_server()
    iam = client("iam", srv.url)
    iam.create_user(UserName="worker")
    original = _doc(_allow(["s3:*", "iam:*"]))
    evidence = UsageEvidence.of(
        services={"s3": NOW - DAYS, "iam": NOW - 300 * DAYS},
        actions={"s3:ListAllMyBuckets": NOW - DAYS, "s3:CreateBucket": None},
    )
    pol = PolicyInput(
        "work", PolicyKind.INLINE_USER, original, owner=f"arn:aws:iam::{ACCOUNT}:user/worker"
    )
    (rewrite,) = _plan([pol], evidence).policies
    (doc,) = rewrite.documents
    iam.put_user_policy(UserName="worker", PolicyName="work", PolicyDocument=json.dumps(doc))
    key = iam.create_access_key(UserName="worker")["AccessKey"]
    s3 = client("s3", srv.url, key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    worker_iam = client("iam", srv.url, key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    _auth(srv.url, 0)
    try:
        s3.list_buckets()  # used: still allowed
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            s3.create_bucket(Bucket="never-used")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        with pytest.raises(botocore.exceptions.ClientError) as denied_iam:
            worker_iam.list_users()
        assert denied_iam.value.response["Error"]["Code"] == "AccessDenied"
    finally:
        _auth(srv.url, 1_000_000_000)
