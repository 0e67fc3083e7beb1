"""The tool's own permissions: the read-only policy in deploy/ is enough for `collect`, and
without any one of its actions the scan still completes and names the gap in coverage.

The scan runs with ``--with-entities`` so that every action of the policy is called: the account
has a group whose member used a service, and an unused-access analyzer with a finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_scan_scenario import run_cli

from dormant.demo.seed import (
    Account,
    Analyzer,
    AnalyzerFinding,
    Key,
    Password,
    Role,
    User,
    seed,
)

POLICY_FILE = Path(__file__).resolve().parent.parent / "deploy" / "readonly-policy.json"


def _actions() -> list[str]:
    doc = json.loads(POLICY_FILE.read_text())
    return [a for st in doc["Statement"] for a in st["Action"]]


S3_READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "sqs:*"], "Resource": "*"}],
}


def _account() -> Account:
    return Account(
        users=[
            User("alice", age=300, password=Password(used=200), keys=[Key(age=300, used=200)]),
            User(
                "bob",
                age=300,
                password=Password(used=1),
                groups=["devs"],
                access={"s3:ListAllMyBuckets": 1},
            ),
        ],
        roles=[
            Role("old-role", age=500, used=300),
            Role("app", age=500, used=1, inline=S3_READ, access={"s3:ListAllMyBuckets": 1}),
        ],
        groups={"devs": []},
        group_inline={"devs": S3_READ},
        analyzer=Analyzer(findings=[AnalyzerFinding("app", {"sqs": []})]),
    )


def _scan_as_scanner(emulator, now, tmp_path: Path, actions: list[str]) -> dict:
    seed(emulator, _account(), now)
    iam = emulator.client("iam")
    iam.create_user(UserName="dormant-scanner")
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_user_policy(
        UserName="dormant-scanner", PolicyName="dormant-readonly", PolicyDocument=json.dumps(doc)
    )
    key = iam.create_access_key(UserName="dormant-scanner")["AccessKey"]
    emulator.set_auth(0)  # every call from now on is authenticated and authorized
    out = tmp_path / "report.json"
    import os

    saved = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    os.environ["AWS_ACCESS_KEY_ID"] = key["AccessKeyId"]
    os.environ["AWS_SECRET_ACCESS_KEY"] = key["SecretAccessKey"]
    try:
        proc = run_cli(
            "scan",
            "--with-entities",
            "--format",
            "json",
            "--output",
            str(out),
            endpoint=emulator.endpoint_url,
        )
    finally:
        os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = saved
    assert key["SecretAccessKey"] not in proc.stdout + proc.stderr + out.read_text()
    return json.loads(out.read_text())


def test_readonly_policy_is_enough(emulator, now, tmp_path):
    doc = _scan_as_scanner(emulator, now, tmp_path, _actions())
    assert {c["source"]: c["status"] for c in doc["coverage"]} == {
        "account": "read",
        "access_keys": "read",
        "authorization_details": "read",
        "credential_report": "read",
        "other_credentials": "read",
        "users": "read",
        "access_advisor": "read",
        "access_analyzer": "read",
    }
    coverage = {c["source"]: c for c in doc["coverage"]}
    assert set(coverage["access_advisor"]["operations"]) == {
        "GenerateServiceLastAccessedDetails",
        "GetServiceLastAccessedDetails",
        "GetServiceLastAccessedDetailsWithEntities",
    }
    assert set(coverage["access_analyzer"]["operations"]) == {
        "ListAnalyzers",
        "ListFindingsV2",
        "GetFindingV2",
    }
    found = {(f["type"], f["principal_name"], f["verdict"]) for f in doc["findings"]}
    assert ("UnusedIAMUserAccessKey", "alice", "unused") in found
    assert ("UnusedIAMRole", "old-role", "unused") in found
    sqs = [f for f in doc["findings"] if f["principal_name"] == "app" and f["service"] == "sqs"]
    assert [(f["verdict"], f["details"]["access_analyzer"]) for f in sqs] == [("unused", "agrees")]


# Which source each action feeds, the API operation that needs it (AWS authorizes
# ListFindingsV2 and GetFindingV2 with the v1 action names), and the finding that must then lack
# evidence (or None when another source still speaks for it).
MISSING = {
    "iam:GenerateCredentialReport": ("credential_report", None, "RootRecentlyUsed"),
    "iam:GetCredentialReport": ("credential_report", None, "RootRecentlyUsed"),
    "iam:ListUsers": ("users", None, None),
    "iam:GetLoginProfile": ("users", None, None),
    "iam:ListAccessKeys": ("access_keys", None, None),
    "iam:GetAccessKeyLastUsed": ("access_keys", None, None),
    "iam:GetAccountAuthorizationDetails": ("authorization_details", None, "UnusedIAMRole"),
    "iam:ListSSHPublicKeys": ("other_credentials", None, "InactiveIAMUser"),
    "iam:ListServiceSpecificCredentials": ("other_credentials", None, "InactiveIAMUser"),
    "iam:ListSigningCertificates": ("other_credentials", None, "InactiveIAMUser"),
    "iam:ListAccountAliases": ("account", None, None),
    "iam:GetAccountSummary": ("account", None, None),
    "iam:GenerateServiceLastAccessedDetails": ("access_advisor", None, "UnusedPermission"),
    "iam:GetServiceLastAccessedDetails": ("access_advisor", None, "UnusedPermission"),
    # Only the entity detail of groups and policies is missing: no verdict depends on it.
    "iam:GetServiceLastAccessedDetailsWithEntities": ("access_advisor", None, None),
    "access-analyzer:ListAnalyzers": ("access_analyzer", None, None),
    "access-analyzer:ListFindings": ("access_analyzer", "ListFindingsV2", None),
    "access-analyzer:GetFinding": ("access_analyzer", "GetFindingV2", None),
}

# Sources that are not asked for at all when another source is missing.
DEPENDS = {"authorization_details": {"access_advisor"}}


def test_every_action_is_mapped():
    assert set(MISSING) == set(_actions())


@pytest.mark.parametrize("action", sorted(MISSING))
def test_without_one_action_the_source_is_denied(emulator, now, tmp_path, action):
    source, operation, insufficient_type = MISSING[action]
    doc = _scan_as_scanner(emulator, now, tmp_path, [a for a in _actions() if a != action])
    coverage = {c["source"]: c for c in doc["coverage"]}
    assert coverage[source]["status"] == "denied", coverage[source]
    op = operation or action.split(":", 1)[1]
    assert coverage[source]["operations"][op]["status"] == "denied"
    assert any(
        e["code"] in ("AccessDenied", "AccessDeniedException") and e["operation"] == op
        for e in coverage[source]["errors"]
    )
    others = {s: c["status"] for s, c in coverage.items() if s != source}
    expected = {s: "skipped" if s in DEPENDS.get(source, ()) else "read" for s in others}
    assert others == expected
    if insufficient_type:
        assert any(
            f["type"] == insufficient_type and f["verdict"] == "insufficient-evidence"
            for f in doc["findings"]
        ), doc["findings"]
    # Never a false "unused": bob used his password yesterday whatever was denied.
    assert not any(
        f["principal_name"] == "bob" and f["type"] == "UnusedIAMUserPassword"
        for f in doc["findings"]
    )
