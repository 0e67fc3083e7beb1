"""The demo: the README's first command works, and its fictional company's labels are what
the scan finds, exactly."""

from __future__ import annotations

import json
from pathlib import Path

from test_scan_scenario import run_cli

from dormant.demo import moto_ext
from dormant.demo.company import DEMO_POLICY, company
from dormant.demo.seed import finding_label, seed
from dormant.demo.trail import write_trail


def test_demo_company_labels_match_the_scan(emulator, now, tmp_path: Path):
    labels = seed(emulator, company(), now)
    # The trail bucket, named in the policy file: CloudTrail agrees with IAM, so the labels
    # stay exact, and the report says who assumes each role.
    prefix = write_trail(emulator, "123456789012", "larkspur-cloudtrail")
    policy = tmp_path / "policy.toml"
    policy.write_text(DEMO_POLICY + f'\n[cloudtrail]\nsources = ["{prefix}"]\n')
    snap = tmp_path / "snap"
    proc = run_cli(
        "scan",
        "--policy",
        str(policy),
        "--format",
        "json",
        "--snapshot",
        str(snap),
        endpoint=emulator.endpoint_url,
    )
    doc = json.loads(proc.stdout)
    assert sorted((finding_label(f) for f in doc["findings"]), key=repr) == sorted(labels, key=repr)
    assert len({f["principal_name"] for f in doc["findings"]}) >= 10

    assert {c["source"]: c["status"] for c in doc["coverage"]}["cloudtrail"] == "read"
    callers = {r["role_name"]: {c["kind"] for c in r["callers"]} for r in doc["role_assumptions"]}
    assert callers["github-actions-deploy"] == {"WebIdentityUser"}
    assert callers["security-audit"] == {"SAMLUser"}
    assert callers["ci-deploy"] == {"AWSAccount"}
    assert callers["app-orders-api"] == {"AWSService"}
    partner = next(
        f
        for f in doc["findings"]
        if f["principal_name"] == "partner-readonly" and f["type"] == "UnusedIAMRole"
    )
    assert [c["caller"] for c in partner["details"]["assumed_by"]] == ["account:444455556666"]

    # Nothing dormant wrote or printed holds a secret access key.
    secrets = [
        k.secret_access_key
        for u in moto_ext.backend("123456789012").users.values()
        for k in u.access_keys
    ]
    assert secrets
    written = (
        proc.stdout + proc.stderr + "".join(p.read_text() for p in snap.rglob("*") if p.is_file())
    )
    for secret in secrets:
        assert secret not in written


def test_dormant_demo_command(tmp_path: Path):
    out = tmp_path / "demo"
    proc = run_cli("demo", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "UnusedIAMUserAccessKey" in proc.stdout
    assert "larkspur-freight-prod" in proc.stdout
    for name in (
        "report.json",
        "report.csv",
        "report.md",
        "report.html",
        "policy.toml",
        "snapshot/manifest.json",
    ):
        assert (out / name).is_file(), name
    assert f"HTML audit report: {out / 'report.html'}" in proc.stderr
    html = (out / "report.html").read_text()
    assert "larkspur-freight-prod" in html and "svc-jenkins-legacy" in html
    # The saved evidence re-judges to the same report with no emulator running.
    again = run_cli(
        "analyze", str(out / "snapshot"), "--policy", str(out / "policy.toml"), "--format", "json"
    )
    assert again.stdout == (out / "report.json").read_text()

    # Unused services and actions of several roles, with their least-privilege policies.
    assert "UnusedPermission" in proc.stdout and "Least privilege" in proc.stdout
    for shown in ("sns (all 1 granted)", "ecr (all 64 granted)", "s3:PutBucketPolicy"):
        assert shown in proc.stdout
    recs = out / "recommendations"
    assert f"written to {recs}/" in proc.stderr
    index = json.loads((recs / "recommendations.json").read_text())
    changed = {
        p["principal_name"]
        for p in index["principals"]
        if any(q["documents"] or q["recommendation"] != "keep" for q in p["policies"])
    }
    assert {"app-orders-api", "app-billing-worker", "ci-deploy"} <= changed
    commands = (recs / "commands.sh").read_text()
    assert (
        "create-policy-version --policy-arn arn:aws:iam::123456789012:policy/deploy-pipeline"
        in commands
    )
    assert "detach-role-policy --role-name app-billing-worker" in commands
    # `dormant recommend` on the saved evidence recommends the same documents.
    run_cli(
        "recommend",
        str(out / "snapshot"),
        "--policy",
        str(out / "policy.toml"),
        "--out",
        str(tmp_path / "again"),
    )
    again_index = json.loads((tmp_path / "again" / "recommendations.json").read_text())

    def documents(doc):
        return [[q["documents"] for q in p["policies"]] for p in doc["principals"]]

    assert documents(again_index) == documents(index)


def test_dormant_demo_org_scans_an_organization_and_names_its_gaps(tmp_path: Path):
    out = tmp_path / "demo-org"
    proc = run_cli("demo", "--org", "--out", str(out), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    accounts = {a["account_name"]: a for a in doc["accounts"]}
    status = {name: a["scan_status"] for name, a in accounts.items()}
    assert status == {
        "larkspur-payments": "complete",
        "larkspur-analytics": "complete",
        "larkspur-sandbox": "incomplete",  # an SCP denies iam:ListUsers
        "larkspur-legacy": "not-scanned",  # its member role cannot be assumed
        "larkspur-main": "incomplete",  # the management account: one Access Advisor job fails
    }
    assert accounts["larkspur-payments"]["ou_path"] == "Root/Prod/Payments"
    assert any("ListUsers" in g for g in accounts["larkspur-sandbox"]["scan_gaps"])
    assert any("AssumeRole" in g for g in accounts["larkspur-legacy"]["scan_gaps"])

    def found(account: str) -> set[tuple[str, str, str]]:
        aid = accounts[account]["account_id"]
        return {
            (f["type"], f["principal_arn"].rsplit("/", 1)[-1], f["verdict"])
            for f in doc["findings"]
            if f["account_id"] == aid
        }

    payments = found("larkspur-payments")
    assert {
        ("UnusedIAMUserAccessKey", "payments-ci-legacy", "unused"),
        ("UnusedIAMUserAccessKey", "payments-bootstrap", "never-used"),
        ("UnusedIAMUserPassword", "payments-contractor", "unused"),
        ("UnusedIAMRole", "payments-migration-2024", "unused"),
        ("UnusedIAMRole", "payments-poc", "never-used"),
    } <= payments
    assert not any(p in {"payments-engineer", "payments-app"} for _, p, _ in payments)
    assert found("larkspur-legacy") == set()  # nothing judged where nothing was read
    # The members' findings also come from the member's own sources in the denied account.
    assert ("UnusedIAMRole", "sandbox-poc", "never-used") in found("larkspur-sandbox")
    # The saved organization bundle re-judges to the same report with no emulator running.
    again = run_cli(
        "analyze", str(out / "snapshot"), "--policy", str(out / "policy.toml"), "--format", "json"
    )
    assert again.stdout == (out / "report.json").read_text()
