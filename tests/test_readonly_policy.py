"""The tool's own permissions: the read-only policy in deploy/ is enough for `collect`, and
without any one of its actions the scan still completes and names the gap in coverage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_scan_scenario import run_cli

from dormant.demo.seed import Account, Key, Password, Role, User, seed

POLICY_FILE = Path(__file__).resolve().parent.parent / "deploy" / "readonly-policy.json"


def _actions() -> list[str]:
    doc = json.loads(POLICY_FILE.read_text())
    return [a for st in doc["Statement"] for a in st["Action"]]


def _account() -> Account:
    return Account(
        users=[
            User("alice", age=300, password=Password(used=200), keys=[Key(age=300, used=200)]),
            User("bob", age=300, password=Password(used=1)),
        ],
        roles=[Role("old-role", age=500, used=300)],
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
            "scan", "--format", "json", "--output", str(out), endpoint=emulator.endpoint_url
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
    }
    found = {(f["type"], f["principal_name"], f["verdict"]) for f in doc["findings"]}
    assert ("UnusedIAMUserAccessKey", "alice", "unused") in found
    assert ("UnusedIAMRole", "old-role", "unused") in found


# Which source each action feeds, and the finding that must then lack evidence (or None when
# another source still speaks for it).
MISSING = {
    "iam:GenerateCredentialReport": ("credential_report", "RootRecentlyUsed"),
    "iam:GetCredentialReport": ("credential_report", "RootRecentlyUsed"),
    "iam:ListUsers": ("users", None),
    "iam:GetLoginProfile": ("users", None),
    "iam:ListAccessKeys": ("access_keys", None),
    "iam:GetAccessKeyLastUsed": ("access_keys", None),
    "iam:GetAccountAuthorizationDetails": ("authorization_details", "UnusedIAMRole"),
    "iam:ListSSHPublicKeys": ("other_credentials", "InactiveIAMUser"),
    "iam:ListServiceSpecificCredentials": ("other_credentials", "InactiveIAMUser"),
    "iam:ListSigningCertificates": ("other_credentials", "InactiveIAMUser"),
    "iam:ListAccountAliases": ("account", None),
    "iam:GetAccountSummary": ("account", None),
}


def test_every_action_is_mapped():
    assert set(MISSING) == set(_actions())


@pytest.mark.parametrize("action", sorted(MISSING))
def test_without_one_action_the_source_is_denied(emulator, now, tmp_path, action):
    source, insufficient_type = MISSING[action]
    doc = _scan_as_scanner(emulator, now, tmp_path, [a for a in _actions() if a != action])
    coverage = {c["source"]: c for c in doc["coverage"]}
    assert coverage[source]["status"] == "denied", coverage[source]
    op = action.split(":", 1)[1]
    assert coverage[source]["operations"][op]["status"] == "denied"
    assert any(
        e["code"] == "AccessDenied" and e["operation"] == op for e in coverage[source]["errors"]
    )
    others = {s: c["status"] for s, c in coverage.items() if s != source}
    assert set(others.values()) == {"read"}, others
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
