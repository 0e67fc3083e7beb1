"""End to end: the CLI, as a subprocess, scans an emulated account over HTTP and must report
exactly the labelled findings of the scenario, no more and no fewer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scenario import EXCLUDED, POLICY, scenario

from dormant.demo.seed import Label, finding_label, seed


def run_cli(
    *args: str, endpoint: str | None = None, check_codes=(0, 1)
) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    proc = subprocess.run(
        [sys.executable, "-m", "dormant.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode in check_codes, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def test_scan_matches_labels_exactly(emulator, now, tmp_path: Path):
    labels = seed(emulator, scenario(), now)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    out = tmp_path / "report.json"
    proc = run_cli(
        "scan",
        "--policy",
        str(policy),
        "--format",
        "json",
        "--output",
        str(out),
        "--snapshot",
        str(tmp_path / "snap"),
        endpoint=emulator.endpoint_url,
    )
    assert proc.returncode == 1, proc.stderr  # findings at the default --fail-on
    doc = json.loads(out.read_text())

    got = sorted((finding_label(f) for f in doc["findings"]), key=repr)
    assert got == sorted(labels, key=repr)

    # (moto names the service-linked role AWSServiceRoleForsupport: compare names casefolded)
    excluded = {
        (f["type"], f["principal_name"].casefold()): f["excluded_by"] for f in doc["excluded"]
    }
    expected = {(t, name.casefold()): rule for (t, name), rule in EXCLUDED.items()}
    assert set(excluded) == set(expected)
    for key, rule in expected.items():
        assert excluded[key].startswith(rule), (key, excluded[key])
    assert all(f["verdict"] == "excluded" for f in doc["excluded"])

    # Every source was read, but for the one Access Advisor job that failed, which coverage
    # names; the expired allow-list entry is reported.
    coverage = {c["source"]: c for c in doc["coverage"]}
    assert {name: c["status"] for name, c in coverage.items()} == {
        "account": "read",
        "access_keys": "read",
        "authorization_details": "read",
        "credential_report": "read",
        "other_credentials": "read",
        "users": "read",
        "access_advisor": "partial",
        "access_analyzer": "read",
    }
    (failed,) = coverage["access_advisor"]["errors"]
    assert failed["target"].endswith(":role/perm-failed-job")
    assert failed["code"] == "InternalFailure"
    expired = [e for e in doc["exceptions"] if e["status"] == "expired"]
    assert [e["pattern"] for e in expired] == ["tag:exempt=yes"]
    assert expired[0]["matched"], "the expired entry names the findings it no longer covers"
    assert any("expired" in w for w in doc["warnings"])


def test_analyze_of_the_bundle_gives_the_same_bytes(emulator, now, tmp_path: Path):
    seed(emulator, scenario(), now)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    snap = tmp_path / "snap.zip"
    first = tmp_path / "scan.json"
    run_cli(
        "scan",
        "--policy",
        str(policy),
        "--format",
        "json",
        "--output",
        str(first),
        "--snapshot",
        str(snap),
        endpoint=emulator.endpoint_url,
    )
    # No AWS at all for analyze: a bogus endpoint would fail any call.
    again = [
        run_cli(
            "analyze",
            str(snap),
            "--policy",
            str(policy),
            "--format",
            "json",
            endpoint="http://127.0.0.1:9",
        ).stdout
        for _ in range(2)
    ]
    assert again[0] == again[1]
    assert again[0] == first.read_text()


def test_cis_preset_tightens_credential_thresholds(emulator, now, tmp_path: Path):
    seed(emulator, scenario(), now)
    snap = tmp_path / "snap"
    run_cli("collect", "--out", str(snap), endpoint=emulator.endpoint_url)
    default = json.loads(run_cli("analyze", str(snap), "--format", "json").stdout)
    cis = json.loads(run_cli("analyze", str(snap), "--cis", "--format", "json").stdout)

    def names(doc, ftype):
        return {f["principal_name"] for f in doc["findings"] if f["type"] == ftype}

    assert "used-60-days-ago" not in names(default, "UnusedIAMUserAccessKey")
    assert "used-60-days-ago" in names(cis, "UnusedIAMUserAccessKey")
    assert {
        f["threshold_days"] for f in cis["findings"] if f["type"] == "UnusedIAMUserAccessKey"
    } == {45}
    # Roles keep the default: the preset is about credentials.
    assert "role-89" not in names(cis, "UnusedIAMRole")


def test_throttled_jobs_give_the_same_findings(emulator, now, tmp_path: Path):
    """A share of the Access Advisor calls answer Throttling: retried, the scan finds exactly
    the labels, and no principal gets a second job."""
    from dormant.demo import moto_access_advisor

    labels = seed(emulator, scenario(), now)
    moto_access_advisor.configure(throttle_share=0.03, throttle_seed=3)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    proc = run_cli(
        "scan", "--policy", str(policy), "--format", "json", endpoint=emulator.endpoint_url
    )
    stats = moto_access_advisor.stats()
    assert stats["calls"].get("Throttled", 0) > 0
    assert max(stats["generate_per_arn"].values()) == 1
    got = sorted((finding_label(f) for f in json.loads(proc.stdout)["findings"]), key=repr)
    assert got == sorted(labels, key=repr)


def test_a_job_that_times_out_makes_that_principal_insufficient(emulator, now, tmp_path: Path):
    from dormant.demo import moto_access_advisor

    labels = seed(emulator, scenario(), now)
    moto_access_advisor.slow_job("123456789012", "arn:aws:iam::123456789012:role/perm-app", 10**6)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    proc = run_cli(
        "scan",
        "--policy",
        str(policy),
        "--job-timeout",
        "3",
        "--format",
        "json",
        endpoint=emulator.endpoint_url,
    )
    doc = json.loads(proc.stdout)
    expected = [x for x in labels if x.principal_name != "perm-app" or x.type != "UnusedPermission"]
    expected.append(Label("UnusedPermission", "perm-app", None, None, "insufficient-evidence"))
    got = sorted((finding_label(f) for f in doc["findings"]), key=repr)
    assert got == sorted(expected, key=repr)
    (app,) = [f for f in doc["findings"] if f["principal_name"] == "perm-app"]
    assert "TIMEOUT" in app["reason"]
    coverage = {c["source"]: c for c in doc["coverage"]}["access_advisor"]
    codes = {e["target"].rsplit("/", 1)[-1]: e["code"] for e in coverage["errors"]}
    assert codes == {"perm-app": "JobTimeout", "perm-failed-job": "InternalFailure"}
