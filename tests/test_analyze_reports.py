"""`dormant analyze` on a bare credential report, as an auditor receives it: every real report
in the shared data is judged, in JSON that keeps the contract."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from test_bad_input import GOOD, invoke
from test_json_contract import validate

REPORTS = sorted(
    (
        Path(__file__).resolve().parent.parent.parent
        / "shared"
        / "data"
        / "custodian-placebo-iam"
        / "extracted_credential_reports"
    ).glob("*.csv")
)


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.name.split("__")[0])
def test_every_real_report_is_judged(path: Path):
    result = invoke("analyze", str(path), "--format", "json", "--as-of", "2026-11-29T00:00:00Z")
    assert result.exit_code in (0, 1), result.stderr
    doc = json.loads(result.stdout)
    validate(doc)
    # A bare report has no role data, SSH keys or key ids: said, not guessed.
    assert any("roles were not judged" in w for w in doc["warnings"])
    for f in doc["findings"]:
        if f["type"] == "UnusedIAMUserAccessKey":
            assert f["access_key_id"] is None and f["key_slot"] in (1, 2)
        if f["type"] == "InactiveIAMUser":
            assert f["verdict"] == "insufficient-evidence"


def test_the_unused_keys_report(tmp_path: Path):
    path = next(p for p in REPORTS if p.name.startswith("test_iam_user_unused_keys__"))
    doc = json.loads(
        invoke("analyze", str(path), "--format", "json", "--as-of", "2026-11-29T00:00:00Z").stdout
    )
    keys = {
        (f["principal_name"], f["key_slot"], f["verdict"])
        for f in doc["findings"]
        if f["type"] == "UnusedIAMUserAccessKey"
    }
    # charmworld's and Hazmat's keys were created in 2012/2013 and never used: IAM tracks key
    # use since 2015-04-22, so they are unused (not never-used) since then.
    assert ("charmworld", 1, "unused") in keys
    assert ("Hazmat", 1, "unused") in keys
    root = [f for f in doc["findings"] if f["type"] == "RootAccessKeyPresent"]
    assert [(f["key_slot"], f["verdict"]) for f in root] == [(1, "unused")]


def test_bare_report_is_judged_as_of_its_latest_time_by_default(tmp_path: Path):
    f = tmp_path / "report.csv"
    f.write_text(GOOD)
    doc = json.loads(invoke("analyze", str(f), "--format", "json").stdout)
    assert doc["as_of"] == "2020-02-01T00:00:00Z"
    assert any("generation time is not known" in w for w in doc["warnings"])


def test_generation_time_from_the_console_file_name(tmp_path: Path):
    f = tmp_path / "status_reports_2021-03-04T05_06_07+00_00.csv"
    f.write_text(GOOD)
    doc = json.loads(invoke("analyze", str(f), "--format", "json").stdout)
    assert doc["as_of"] == "2021-03-04T05:06:07Z"
    assert not any("generation time is not known" in w for w in doc["warnings"])


def test_aws_cli_json_output_with_base64_content(tmp_path: Path):
    f = tmp_path / "report.json"
    f.write_text(
        json.dumps(
            {
                "Content": base64.b64encode(GOOD.encode()).decode(),
                "ReportFormat": "text/csv",
                "GeneratedTime": "2021-01-01T00:00:00Z",
            }
        )
    )
    result = invoke("analyze", str(f), "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["as_of"] == "2021-01-01T00:00:00Z"
    types = {x["type"] for x in doc["findings"]}
    assert {"UnusedIAMUserPassword", "UnusedIAMUserAccessKey"} <= types
    assert result.exit_code == 1


@pytest.mark.parametrize(
    "fail_on,code",
    [
        ("any", 1),
        ("none", 0),
        ("UnusedIAMRole", 0),
        ("UnusedIAMUserPassword", 1),
        ("never-used", 1),
        ("RootRecentlyUsed,unused", 0),
    ],
)
def test_fail_on(tmp_path: Path, fail_on, code):
    f = tmp_path / "report.csv"
    f.write_text(GOOD)
    # As of 2021: the password is unused, the key never used, no root row.
    result = invoke("analyze", str(f), "--as-of", "2021-01-01T00:00:00Z", "--fail-on", fail_on)
    assert result.exit_code == code, result.output


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown", "json"])
def test_every_format_renders_and_writes_files(tmp_path: Path, fmt):
    f = tmp_path / "report.csv"
    f.write_text(GOOD.replace("alice", "=cmd|calc"))
    out = tmp_path / f"out.{fmt}"
    result = invoke(
        "analyze", str(f), "--as-of", "2021-01-01T00:00:00Z", "--format", fmt, "--output", str(out)
    )
    assert result.exit_code == 1 and result.stdout == ""
    text = out.read_text()
    assert "UnusedIAMUserPassword" in text
    if fmt == "csv":
        assert "'=cmd|calc" in text and ",=cmd" not in text  # no formula injection
    if fmt == "markdown":
        assert "=cmd\\|calc" in text  # a pipe in a name does not break the table
