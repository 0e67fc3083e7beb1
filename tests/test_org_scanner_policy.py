"""The organization scan's own permissions, under the emulator's IAM enforcement: the scanning
principal with deploy/org-scanner-policy.json (plus deploy/readonly-policy.json, since its own
account is scanned too), each member's role with exactly deploy/readonly-policy.json, is enough
for a complete scan; the scanner's policy lists exactly the Organizations actions the scan
calls; and without each of its statements the scan says what is missing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from org_support import ORG_SCANNER, READONLY, labelled
from test_scan_scenario import run_cli

from dormant.demo import faults
from dormant.demo.organization import Member, seed_organization
from dormant.demo.seed import Analyzer, AnalyzerFinding
from dormant.demo.server import DEFAULT_ACCOUNT
from dormant.errors import DormantError
from dormant.org import list_member_accounts
from dormant.sources.aws import build_session


def _actions(doc: dict) -> set[str]:
    out = set()
    for st in doc["Statement"]:
        acts = st["Action"]
        out.update([acts] if isinstance(acts, str) else acts)
    return out


def _without(doc: dict, *, sid: str | None = None, action: str | None = None) -> dict:
    statements = []
    for st in doc["Statement"]:
        if st["Sid"] == sid:
            continue
        acts = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        acts = [a for a in acts if a != action]
        if acts:
            statements.append({**st, "Action": acts})
    return {**doc, "Statement": statements}


def _setup(emulator, now, scanner_policy: dict) -> tuple[object, dict]:
    payments = labelled("payments")
    payments.analyzer = Analyzer(findings=[AnalyzerFinding("payments-busy-role", {"sqs": []})])
    org = seed_organization(
        emulator,
        [Member("payments", payments, ou="Prod"), Member("data", labelled("data"))],
        now,
        management=labelled("mgmt"),
        role_policy=READONLY,
    )
    iam = emulator.client("iam")
    iam.create_user(UserName="dormant-scanner")
    for name, doc in (("org-scanner", scanner_policy), ("readonly", READONLY)):
        iam.put_user_policy(
            UserName="dormant-scanner", PolicyName=name, PolicyDocument=json.dumps(doc)
        )
    key = iam.create_access_key(UserName="dormant-scanner")["AccessKey"]
    faults.reset()  # count only the scan's calls
    emulator.set_auth(0)  # every call from now on is authenticated and authorized
    return org, key


def _as(key: dict):
    class Creds:
        def __enter__(self):
            self.saved = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
            os.environ["AWS_ACCESS_KEY_ID"] = key["AccessKeyId"]
            os.environ["AWS_SECRET_ACCESS_KEY"] = key["SecretAccessKey"]

        def __exit__(self, *exc):
            os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = self.saved

    return Creds()


def _scan(emulator, key, tmp_path: Path, *args: str, codes=(0, 1)):
    out = tmp_path / "report.json"
    with _as(key):
        proc = run_cli(
            "scan",
            "--org",
            "--with-entities",
            "--format",
            "json",
            "--output",
            str(out),
            *args,
            endpoint=emulator.endpoint_url,
            check_codes=codes,
        )
    assert key["SecretAccessKey"] not in proc.stdout + proc.stderr
    return proc, (json.loads(out.read_text()) if out.exists() else None)


def test_the_two_policies_are_enough(emulator, now, tmp_path):
    org, key = _setup(emulator, now, ORG_SCANNER)
    proc, doc = _scan(emulator, key, tmp_path)
    assert {a["account_id"]: a["scan_status"] for a in doc["accounts"]} == {
        DEFAULT_ACCOUNT: "complete",
        org.id("payments"): "complete",
        org.id("data"): "complete",
    }
    assert all(c["status"] in ("read", "skipped") for c in doc["coverage"])
    analyzer = {
        c["account_id"]: c["status"] for c in doc["coverage"] if c["source"] == "access_analyzer"
    }
    assert analyzer[org.id("payments")] == "read"  # read with the member role's credentials
    assert {a["account_id"]: a["ou_path"] for a in doc["accounts"]}[
        org.id("payments")
    ] == "Root/Prod"
    # The scanner's policy lists exactly the Organizations actions the scan made.
    called = {a for a in faults.calls(DEFAULT_ACCOUNT) if a.startswith("organizations:")}
    assert called == {a for a in _actions(ORG_SCANNER) if a.startswith("organizations:")}
    assert faults.calls(DEFAULT_ACCOUNT)["sts:AssumeRole"] == 2  # the management account: none


def test_without_assume_role_the_members_are_not_scanned(emulator, now, tmp_path):
    org, key = _setup(emulator, now, _without(ORG_SCANNER, sid="DormantAssumeMemberRole"))
    proc, doc = _scan(emulator, key, tmp_path)
    status = {a["account_id"]: a["scan_status"] for a in doc["accounts"]}
    assert status == {
        DEFAULT_ACCOUNT: "complete",
        org.id("payments"): "not-scanned",
        org.id("data"): "not-scanned",
    }
    assert proc.returncode == 1
    for name in ("payments", "data"):
        assert f"account {org.id(name)} ({name}) not scanned: assume-role denied" in proc.stderr
    # The policy's resource names the role: another role name is denied as well.
    emulator.set_auth(None)
    emulator.client("iam").put_user_policy(
        UserName="dormant-scanner", PolicyName="org-scanner", PolicyDocument=json.dumps(ORG_SCANNER)
    )
    emulator.set_auth(0)
    proc, doc = _scan(
        emulator, key, tmp_path, "--role-name", "SomeOtherRole", "--no-access-advisor"
    )
    assert doc["summary"]["accounts_not_scanned"] == sorted([org.id("payments"), org.id("data")])


@pytest.mark.parametrize(
    "action,effect",
    [
        ("organizations:DescribeOrganization", "DescribeOrganization: AccessDeniedException"),
        ("organizations:ListAccounts", "ListAccounts: AccessDeniedException"),
        ("organizations:ListRoots", "OU paths unknown"),
        ("organizations:ListOrganizationalUnitsForParent", "OU paths unknown"),
        ("organizations:ListAccountsForParent", "OU paths unknown"),
    ],
)
def test_each_organizations_action_is_needed(emulator, now, action, effect):
    org, key = _setup(emulator, now, _without(ORG_SCANNER, action=action))
    session = build_session(
        region="us-east-1",
        endpoint_url=emulator.endpoint_url,
        credentials={
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        },
    )
    if "unknown" in effect:
        members = list_member_accounts(session)
        assert len(members) == 3 and all(m.ou_path is None for m in members)
        assert any(effect in n for n in members.notes)
        # Narrowing by OU needs the tree: a clear error then.
        with pytest.raises(DormantError, match="cannot read the organization"):
            list_member_accounts(session, ous=["Root/Prod"])
    else:
        with pytest.raises(DormantError, match="cannot read the organization") as exc:
            list_member_accounts(session)
        assert effect in str(exc.value)
        assert "deploy/org-scanner-policy.json" in str(exc.value)


def test_role_chaining_from_a_profile(emulator, now, tmp_path):
    """The base session comes from a profile that itself assumes a role (role_arn with
    source_profile): only that role may read the organization and assume the member roles."""
    org = seed_organization(
        emulator, [Member("payments", labelled("payments"), ou="Prod")], now, role_policy=READONLY
    )
    iam = emulator.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                # (moto evaluates a trust policy naming the account's root as trusting no one:
                # name the user, as a trust policy for one CI identity would.)
                "Principal": {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT}:user/ci-bot"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="dormant-org-scanner", AssumeRolePolicyDocument=json.dumps(trust))
    for name, doc in (("org-scanner", ORG_SCANNER), ("readonly", READONLY)):
        iam.put_role_policy(
            RoleName="dormant-org-scanner", PolicyName=name, PolicyDocument=json.dumps(doc)
        )
    iam.create_user(UserName="ci-bot")  # may do nothing but assume the scanner role
    only_assume = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/dormant-org-scanner",
            }
        ],
    }
    iam.put_user_policy(
        UserName="ci-bot", PolicyName="assume", PolicyDocument=json.dumps(only_assume)
    )
    key = iam.create_access_key(UserName="ci-bot")["AccessKey"]
    config = tmp_path / "config"
    config.write_text(
        "[profile ci]\n"
        f"aws_access_key_id = {key['AccessKeyId']}\n"
        f"aws_secret_access_key = {key['SecretAccessKey']}\n"
        "[profile org-scan]\n"
        f"role_arn = arn:aws:iam::{DEFAULT_ACCOUNT}:role/dormant-org-scanner\n"
        "source_profile = ci\n"
        "region = us-east-1\n"
    )
    emulator.set_auth(0)
    saved = os.environ["AWS_CONFIG_FILE"]
    os.environ["AWS_CONFIG_FILE"] = str(config)
    try:
        run_cli(
            "collect",
            "--org",
            "--profile",
            "org-scan",
            "--no-access-advisor",
            "--out",
            str(tmp_path / "snap"),
            endpoint=emulator.endpoint_url,
            check_codes=(0,),
        )
    finally:
        os.environ["AWS_CONFIG_FILE"] = saved
    from dormant import snapshot as snapshot_mod
    from dormant.judge import scan_status

    bundle = snapshot_mod.read(tmp_path / "snap")
    arns = {a.account_id: a.scanner_arn for a in bundle.accounts}
    assert arns[DEFAULT_ACCOUNT].startswith(
        f"arn:aws:sts::{DEFAULT_ACCOUNT}:assumed-role/dormant-org-scanner/"
    )
    assert arns[org.id("payments")] == (
        f"arn:aws:sts::{org.id('payments')}:assumed-role/OrganizationAccountAccessRole/dormant"
    )
    assert [scan_status(a)[0] for a in bundle.accounts] == ["complete", "complete"]


def test_an_organization_trail_is_read_with_the_scanners_own_permissions(emulator, now, tmp_path):
    # An organization trail lands in one bucket (the log-archive account's) that the scanning
    # principal may read and the member roles (exactly the read-only policy) may not: the scan
    # reads s3:// sources with the scanner's session, each account its own prefix.
    from dormant.demo.trail import write_trail

    bucket = "org-trail-logs"
    read_trail = {
        "Sid": "ReadTheOrganizationTrail",
        "Effect": "Allow",
        "Action": ["s3:ListBucket", "s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }
    org, key = _setup(
        emulator, now, {**ORG_SCANNER, "Statement": [*ORG_SCANNER["Statement"], read_trail]}
    )
    emulator.set_auth(None)
    payments = org.id("payments")
    source = write_trail(emulator, payments, bucket)
    emulator.set_auth(0)

    proc, doc = _scan(emulator, key, tmp_path, "--trail", source)
    trail = {c["account_id"]: c for c in doc["coverage"] if c["source"] == "cloudtrail"}
    assert trail[payments]["status"] == "read", trail[payments]["errors"]
    assert not any(c["errors"] for c in trail.values())
    # The trail's evidence reached the judgement: the report says who assumed its roles.
    assert any(r["account_id"] == payments for r in doc["role_assumptions"])
