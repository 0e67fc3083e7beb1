"""Access Analyzer unused-access findings, with botocore's Stubber on documented shapes.

Stubber validates every stubbed response against the service model, so the shapes below are
the documented ones; ListAnalyzers answers come from Cloud Custodian's real recordings."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from aa_support import ACCOUNT, FakeClock, boto_session, load_placebo, shared_data
from botocore.stub import Stubber

from dormant.sources import access_analyzer as aan
from dormant.sources.aws import AccountSession
from dormant.sources.base import CollectContext, SourceResult, SourceStatus

ANALYZER = f"arn:aws:access-analyzer:us-east-1:{ACCOUNT}:analyzer/unused"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/old"
USER = f"arn:aws:iam::{ACCOUNT}:user/bob"
T = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _context():
    session = AccountSession(session=boto_session())
    client = session.session.client("accessanalyzer", region_name="us-east-1")
    session._clients[("accessanalyzer", None)] = client  # noqa: SLF001
    clock = FakeClock()
    ctx = CollectContext(
        session=session, account_id=ACCOUNT, clock=clock.clock, sleep=clock.sleep, concurrency=1
    )
    return ctx, Stubber(client)


def _analyzer(type_="ACCOUNT_UNUSED_ACCESS", status="ACTIVE"):
    return {
        "arn": ANALYZER,
        "name": "unused",
        "type": type_,
        "createdAt": T,
        "status": status,
        "configuration": {"unusedAccess": {"unusedAccessAge": 90}},
    }


def _summary(fid, finding_type, resource, resource_type="AWS::IAM::Role"):
    return {
        "id": fid,
        "resource": resource,
        "resourceType": resource_type,
        "resourceOwnerAccount": ACCOUNT,
        "status": "ACTIVE",
        "createdAt": T,
        "updatedAt": T,
        "analyzedAt": T,
        "findingType": finding_type,
    }


def _full(summary, details, **extra):
    data = {k: v for k, v in summary.items()}
    data["findingDetails"] = details
    data.update(extra)
    return data


def test_no_unused_access_analyzer_skips_and_says_what_exists():
    _, recorded = load_placebo(
        shared_data(
            "custodian-placebo-iam",
            "test_access_analyzer_finding_org_analyzer",
            "access-analyzer.ListAnalyzers_1.json",
        )
    )
    ctx, stub = _context()
    stub.add_response("list_analyzers", {"analyzers": recorded["analyzers"]}, {})
    with stub:
        result = aan.collect(ctx)
    assert result.status == SourceStatus.SKIPPED
    assert [a["type"] for a in result.raw["analyzers"]] == ["ACCOUNT", "ORGANIZATION"]
    assert aan.parse(result.raw) == []
    stub.assert_no_pending_responses()


def test_findings_and_details_of_every_type_are_read_and_parsed():
    role = _summary("f-role", "UnusedIAMRole", ROLE)
    key = _summary("f-key", "UnusedIAMUserAccessKey", USER, "AWS::IAM::User")
    pwd = _summary("f-pwd", "UnusedIAMUserPassword", USER, "AWS::IAM::User")
    perm = _summary("f-perm", "UnusedPermission", ROLE)
    ctx, stub = _context()
    stub.add_response("list_analyzers", {"analyzers": [_analyzer("ACCOUNT"), _analyzer()]}, {})
    stub.add_response(
        "list_findings_v2",
        {"findings": [role, key], "nextToken": "page2"},
        {"analyzerArn": ANALYZER, "filter": {"status": {"eq": ["ACTIVE"]}}},
    )
    stub.add_response(
        "list_findings_v2",
        {"findings": [pwd, perm]},
        {"analyzerArn": ANALYZER, "filter": {"status": {"eq": ["ACTIVE"]}}, "nextToken": "page2"},
    )
    stub.add_response(
        "get_finding_v2",
        _full(role, [{"unusedIamRoleDetails": {"lastAccessed": T - dt.timedelta(days=200)}}]),
        {"analyzerArn": ANALYZER, "id": "f-role"},
    )
    stub.add_response(
        "get_finding_v2",
        _full(key, [{"unusedIamUserAccessKeyDetails": {"accessKeyId": "AKIAOLDKEY0000000000"}}]),
        {"analyzerArn": ANALYZER, "id": "f-key"},
    )
    stub.add_response(
        "get_finding_v2",
        _full(
            pwd, [{"unusedIamUserPasswordDetails": {"lastAccessed": T - dt.timedelta(days=120)}}]
        ),
        {"analyzerArn": ANALYZER, "id": "f-pwd"},
    )
    stub.add_response(
        "get_finding_v2",
        _full(
            perm,
            [
                {
                    "unusedPermissionDetails": {
                        "serviceNamespace": "s3",
                        "lastAccessed": T - dt.timedelta(days=100),
                        "actions": [
                            {"action": "s3:PutBucketPolicy"},
                            {
                                "action": "s3:DeleteBucket",
                                "lastAccessed": T - dt.timedelta(days=150),
                            },
                        ],
                    }
                }
            ],
            nextToken="more",
        ),
        {"analyzerArn": ANALYZER, "id": "f-perm"},
    )
    stub.add_response(
        "get_finding_v2",
        _full(perm, [{"unusedPermissionDetails": {"serviceNamespace": "dynamodb"}}]),
        {"analyzerArn": ANALYZER, "id": "f-perm", "nextToken": "more"},
    )
    with stub:
        result = aan.collect(ctx)
    stub.assert_no_pending_responses()
    assert result.status == SourceStatus.READ and result.errors == []

    # A saved snapshot re-parses to the same records.
    again = SourceResult.from_json(json.loads(json.dumps(result.to_json())))
    findings = aan.parse(again.raw)
    assert findings == aan.parse(result.raw)
    by_id = {f.id: f for f in findings}
    assert {f.finding_type for f in findings} == aan.FINDING_TYPES
    assert by_id["f-role"].resource == ROLE
    assert by_id["f-role"].last_accessed == T - dt.timedelta(days=200)
    assert by_id["f-key"].details[0].access_key_id == "AKIAOLDKEY0000000000"
    assert by_id["f-key"].last_accessed is None
    assert by_id["f-pwd"].resource_type == "AWS::IAM::User"
    s3, ddb = by_id["f-perm"].details
    assert s3.kind == "unusedPermissionDetails" and s3.service_namespace == "s3"
    assert [a.action for a in s3.actions] == ["s3:PutBucketPolicy", "s3:DeleteBucket"]
    assert s3.actions[0].last_accessed is None
    assert ddb.service_namespace == "dynamodb" and ddb.actions == ()
    assert (
        aan.unused_analyzers(result.raw)[0]["configuration"]["unusedAccess"]["unusedAccessAge"]
        == 90
    )


def test_documented_list_findings_v2_output_parses_without_details():
    text = shared_data("awscli-iam-examples", "accessanalyzer__list-findings-v2.rst").read_text()
    body = text.split("Output::", 1)[1]
    start = body.index("{")
    end = body.rindex("}") + 1
    documented = json.loads(body[start:end])
    findings = aan.parse({"findings": {ANALYZER: documented["findings"]}})
    assert [f.id for f in findings] == [
        "597f3bc2-3adc-4c18-9879-5c4b23485e46",
        "ce0e221a-85b9-4d52-91ff-d7678075442f",
    ]
    assert findings[0].details is None
    assert findings[0].analyzed_at == dt.datetime(2024, 2, 16, 18, 17, 47, 888000, tzinfo=dt.UTC)


@pytest.mark.parametrize("code", ["AccessDeniedException"])
def test_denied_list_analyzers_is_recorded(code):
    ctx, stub = _context()
    stub.add_client_error("list_analyzers", code, "not allowed", 403)
    with stub:
        result = aan.collect(ctx)
    assert result.status == SourceStatus.DENIED
    assert result.errors[0].operation == "ListAnalyzers"


def test_failing_detail_is_recorded_per_finding():
    role = _summary("f-role", "UnusedIAMRole", ROLE)
    ctx, stub = _context()
    stub.add_response(
        "list_analyzers", {"analyzers": [_analyzer("ORGANIZATION_UNUSED_ACCESS")]}, {}
    )
    stub.add_response(
        "list_findings_v2",
        {"findings": [role]},
        {"analyzerArn": ANALYZER, "filter": {"status": {"eq": ["ACTIVE"]}}},
    )
    stub.add_client_error("get_finding_v2", "ThrottlingException", "slow down", 429)
    with stub:
        result = aan.collect(ctx)
    # Per operation, as every source reports: the listing was read, the one detail failed.
    assert result.operations["ListFindingsV2"]["status"] == "read"
    assert result.operations["GetFindingV2"] == {"calls": 1, "errors": 1, "status": "failed"}
    assert result.status == SourceStatus.FAILED
    (error,) = result.errors
    assert error.target == "f-role" and error.code == "ThrottlingException"
    (finding,) = aan.parse(result.raw)
    assert finding.details is None and finding.finding_type == "UnusedIAMRole"
