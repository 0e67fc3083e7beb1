"""The ``dormant trail`` click group, through click's CliRunner (the main CLI mounts it)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from dormant.trail.cli import trail

from .conftest import SAMPLES, client, event, write_gz


@pytest.fixture
def runner():
    return CliRunner()


def test_scan_json_is_the_evidence(runner, data_dir):
    res = runner.invoke(trail, ["scan", str(SAMPLES["awsdocs"]), "--workers", "1"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["schema_version"] == 1
    assert len(data["role_assumptions"]) == 4


def test_scan_writes_output_file(runner, data_dir, tmp_path):
    out = tmp_path / "ev.json"
    res = runner.invoke(trail, ["scan", str(SAMPLES["otrf"]), "--output", str(out)])
    assert res.exit_code == 0
    assert json.loads(out.read_text())["events_read"] == 103
    assert res.stdout == ""


def test_scan_table(runner, data_dir):
    res = runner.invoke(trail, ["scan", str(SAMPLES["otrf"]), "--format", "table"])
    assert res.exit_code == 0
    assert "arn:aws:iam::123456789123:user/pedro" in res.stdout
    assert "Role assumptions" in res.stdout


def test_bad_input_warns_and_exits_0(runner, data_dir):
    res = runner.invoke(trail, ["scan", str(SAMPLES["malformed"])])
    assert res.exit_code == 0
    assert "warning: 36 problem(s)" in res.stderr
    assert "SerializerAllFieldsNull.json: record 0: no usable time" in res.stderr
    assert "Traceback" not in res.stderr


def test_bad_input_with_strict_exits_2(runner, data_dir):
    res = runner.invoke(trail, ["scan", str(SAMPLES["malformed"]), "--strict"])
    assert res.exit_code == 2


def test_clean_input_with_strict_exits_0(runner, data_dir):
    res = runner.invoke(trail, ["scan", str(SAMPLES["stratus"]), "--strict"])
    assert res.exit_code == 0 and res.stderr == ""


def test_missing_path_is_a_usage_error(runner, tmp_path):
    res = runner.invoke(trail, ["scan", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "no such file or folder" in res.stderr


def test_filters_and_engines(runner, data_dir):
    args = ["scan", str(SAMPLES["stratus"]), "--region", "us-east-1", "--start", "2024-08-01"]
    local = json.loads(runner.invoke(trail, args).stdout)
    sql = json.loads(runner.invoke(trail, [*args, "--engine", "duckdb"]).stdout)
    assert local["events_filtered"] > 0
    assert local["principal_activity"] == sql["principal_activity"]


def test_s3_source_on_the_command_line(runner, endpoint, tmp_path):
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket="cli-logs")
    path = write_gz(tmp_path / "x.json.gz", [event()])
    s3.upload_file(
        str(path), "cli-logs", "AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/02/x.json.gz"
    )
    res = runner.invoke(
        trail,
        ["scan", "s3://cli-logs/", "--endpoint-url", endpoint, "--aws-region", "us-east-1"],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["events_read"] == 1


def test_a_failure_is_one_line_and_debug_shows_the_traceback(runner, monkeypatch, data_dir):
    def boom(*a, **k):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr("dormant.trail.engine.run", boom)
    res = runner.invoke(trail, ["scan", str(SAMPLES["otrf"])])
    assert res.exit_code == 2
    assert res.stderr == "error: RuntimeError: disk on fire\n"
    res = runner.invoke(trail, ["scan", str(SAMPLES["otrf"]), "--debug"])
    assert isinstance(res.exception, RuntimeError)


def test_athena_engine_needs_a_database(runner):
    res = runner.invoke(trail, ["scan", "--engine", "athena"])
    assert res.exit_code == 2 and "--database" in res.stderr


def test_sql_command(runner, data_dir):
    q = "SELECT identity_type, count(*) AS n FROM events GROUP BY 1 ORDER BY 1"
    res = runner.invoke(trail, ["sql", str(SAMPLES["stratus"]), "-q", q, "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == [
        {"identity_type": "AssumedRole", "n": 68},
        {"identity_type": "FederatedUser", "n": 1},
        {"identity_type": "IAMUser", "n": 241},
    ]


def test_sql_command_csv_and_raw_table(runner, data_dir):
    q = "SELECT count(*) AS n FROM cloudtrail"
    res = runner.invoke(trail, ["sql", str(SAMPLES["otrf"]), "-q", q, "--format", "csv"])
    assert res.stdout.splitlines() == ["n", "103"]


def test_sql_error_is_one_line(runner, data_dir):
    res = runner.invoke(trail, ["sql", str(SAMPLES["otrf"]), "-q", "SELECT nope FROM events"])
    assert res.exit_code == 2
    assert res.stderr.startswith("error: BinderException") and res.stderr.count("\n") == 1


def test_athena_setup_prints_ddl(runner):
    res = runner.invoke(
        trail,
        ["athena-setup", "--bucket", "b", "--org-id", "o-abcdefghij", "--account", "111111111111"],
    )
    assert res.exit_code == 0
    assert "projection.account.values' = '111111111111'" in res.stdout
    assert res.stdout.rstrip().endswith(");")


def test_athena_setup_rejects_a_bad_account(runner):
    res = runner.invoke(trail, ["athena-setup", "--bucket", "b", "--account", "12"])
    assert res.exit_code == 2 and "not an account id" in res.stderr


def test_athena_setup_run_and_scan_through_moto(runner, endpoint):
    aws = ["--endpoint-url", endpoint, "--aws-region", "us-east-1"]
    res = runner.invoke(
        trail,
        [
            "athena-setup",
            "--bucket",
            "b",
            "--account",
            "111111111111",
            "--run",
            "--database",
            "audit",
            "--output-location",
            "s3://results/",
            *aws,
        ],
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("created audit.cloudtrail (query ")
    # No seeded results: every query answers with no rows, and the evidence is empty but valid.
    res = runner.invoke(
        trail,
        [
            "scan",
            "--engine",
            "athena",
            "--database",
            "audit",
            "--workgroup",
            "primary",
            "--output-location",
            "s3://results/",
            *aws,
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["events_read"] == 0


def test_importing_the_trail_package_imports_no_heavy_dependency():
    code = (
        "import sys, dormant.trail, dormant.trail.evidence, dormant.trail.actions;"
        "heavy = ('msgspec', 'duckdb', 'sqlglot', 'isal', 'click');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_sql_command_applies_the_filters(runner, data_dir):
    q = "SELECT count(*) AS n FROM events"
    args = ["sql", str(SAMPLES["stratus"]), "-q", q, "--format", "csv"]
    assert runner.invoke(trail, args).stdout.splitlines() == ["n", "310"]
    res = runner.invoke(trail, [*args, "--start", "2024-11-01"])
    n = int(res.stdout.splitlines()[1])
    assert 0 < n < 310


def test_a_bad_time_is_a_usage_error(runner, data_dir):
    res = runner.invoke(trail, ["scan", str(SAMPLES["otrf"]), "--start", "last tuesday"])
    assert res.exit_code == 2
    assert "is not a date" in res.stderr
