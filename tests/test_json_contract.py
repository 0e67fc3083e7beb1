"""The JSON report is a documented contract: every report validates against
docs/schema/report.v1.json, which forbids undocumented fields."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from scenario import POLICY, scenario
from test_scan_scenario import run_cli

from dormant.demo.seed import seed

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "docs" / "schema" / "report.v1.json").read_text()
)


def validate(doc: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)


def test_scan_report_validates(emulator, now, tmp_path: Path):
    seed(emulator, scenario(), now)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    proc = run_cli(
        "scan", "--policy", str(policy), "--format", "json", endpoint=emulator.endpoint_url
    )
    assert proc.stderr == ""  # no progress display when stderr is not a terminal
    doc = json.loads(proc.stdout)
    validate(doc)
    assert doc["findings"] and doc["excluded"] and doc["exceptions"]
    key = next(f for f in doc["findings"] if f["type"] == "UnusedIAMUserAccessKey")
    assert key["access_key_id"].startswith("AKIA")
    assert key["recommendation"]["commands"][0].startswith("aws iam update-access-key")
    assert {e["source"] for e in key["evidence"]} >= {"GetAccessKeyLastUsed", "ListAccessKeys"}


def test_schema_rejects_an_undocumented_field(emulator, now, tmp_path):
    seed(emulator, scenario(), now)
    doc = json.loads(run_cli("scan", "--format", "json", endpoint=emulator.endpoint_url).stdout)
    doc["findings"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)
