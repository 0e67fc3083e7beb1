"""Bad input gets one line naming the file, the line or field, and what was expected; exit 2;
no traceback unless --debug."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from evidence import Builder

from dormant import snapshot as snapshot_mod
from dormant.cli import main

GOOD = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
    "alice,arn:aws:iam::111122223333:user/alice,2020-01-01T00:00:00+00:00,true,"
    "2020-02-01T00:00:00+00:00,2020-01-01T00:00:00+00:00,N/A,false,true,"
    "2020-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
)


def invoke(*args: str, debug: bool = False):
    runner = CliRunner()
    argv = (["--debug"] if debug else []) + list(args)
    return runner.invoke(main, argv, catch_exceptions=False)


def one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    return lines[0]


@pytest.mark.parametrize(
    "mutate,fragments",
    [
        (lambda s: s.replace("password_last_used,", ""), ["line 1", "password_last_used"]),
        (
            lambda s: s.replace("2020-02-01T00:00:00+00:00", "yesterday"),
            ["line 2", "password_last_used", "yesterday", "ISO-8601"],
        ),
        (lambda s: s.replace(",false,N/A\n", ",false\n"), ["line 2", "cells", "expected 22"]),
        (lambda s: "", ["empty"]),
        (
            lambda s: s.replace(
                "true,2020-01-01T00:00:00+00:00,N/A,N/A", "maybe,2020-01-01T00:00:00+00:00,N/A,N/A"
            ),
            ["line 2", "access_key_1_active", "true or false"],
        ),
        (lambda s: "\x89PNG\r\n\x1a\n\x00\xff", ["UTF-8"]),
    ],
)
def test_malformed_credential_report(tmp_path: Path, mutate, fragments):
    bad = tmp_path / "report.csv"
    text = mutate(GOOD)
    bad.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    one_line_error(invoke("analyze", str(bad)), str(bad), *fragments)


def test_extra_columns_are_a_warning_not_an_error(tmp_path: Path):
    lines = GOOD.splitlines()
    f = tmp_path / "report.csv"
    f.write_text(lines[0] + ",new_column\n" + lines[1] + ",x\n")
    result = invoke("analyze", str(f), "--format", "json", "--generated-at", "2026-01-01T00:00:00Z")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert any("new_column" in w for w in doc["warnings"])


def test_debug_shows_the_traceback(tmp_path: Path):
    bad = tmp_path / "report.csv"
    bad.write_text("")
    result = invoke("analyze", str(bad), debug=True)
    assert result.exit_code == 2 and "Traceback" in result.stderr


def _bundle(tmp_path: Path) -> Path:
    snap = Builder().user("a", 500, keys=[("AKIAA1", 400, 200, True)]).snapshot()
    path = tmp_path / "bundle"
    snapshot_mod.write(snap, path)
    return path


def test_tampered_snapshot_is_refused(tmp_path: Path):
    path = _bundle(tmp_path)
    target = path / "accounts" / "111122223333" / "access_keys.json"
    target.write_text(target.read_text().replace("AKIAA1", "AKIAZZ"))
    one_line_error(invoke("analyze", str(path)), "access_keys.json", "does not match")
    one_line_error(invoke("verify", str(path)), "access_keys.json")


def test_snapshot_with_a_missing_file(tmp_path: Path):
    path = _bundle(tmp_path)
    (path / "accounts" / "111122223333" / "users.json").unlink()
    one_line_error(invoke("analyze", str(path)), "users.json", "missing")


def test_corrupt_manifest(tmp_path: Path):
    path = _bundle(tmp_path)
    (path / "manifest.json").write_text("{not json")
    one_line_error(invoke("analyze", str(path)), "manifest.json", "not valid JSON")


def test_zip_bundle_round_trip_and_truncation(tmp_path: Path):
    snap = Builder().user("a", 500, keys=[("AKIAA1", 400, 200, True)]).snapshot()
    z = tmp_path / "b.zip"
    digest = snapshot_mod.write(snap, z)
    assert snapshot_mod.read(z).digest == digest
    z.write_bytes(z.read_bytes()[:200])
    one_line_error(invoke("analyze", str(z)), str(z))


@pytest.mark.parametrize(
    "text,fragments",
    [
        ("[thresholds\ndefault = 90\n", ["not valid TOML", "line 1"]),
        ("[thresholds]\nUnusedIAMRole = 'ninety'\n", ["thresholds.UnusedIAMRole", "ninety"]),
        ("[thresholds]\nUnusedRole = 30\n", ["thresholds", "UnusedRole", "unknown finding type"]),
        ("[exclusions]\nservice_linked = true\n", ["exclusions.service_linked", "unknown key"]),
        ("[[allow]]\narn = 'x'\nowner = 'o'\nreason = 'r'\n", ["allow[0].expires"]),
        (
            "[[allow]]\narn = 'x'\ntag = 'y'\nowner = 'o'\nreason = 'r'\nexpires = 2027-01-01\n",
            ["allow[0]", "exactly one of 'arn' or 'tag'"],
        ),
        ("[thresholds]\ndefault = 0\n", ["thresholds", "at least 1"]),
    ],
)
def test_bad_policy_file(tmp_path: Path, text, fragments):
    policy = tmp_path / "policy.toml"
    policy.write_text(text)
    report = tmp_path / "r.csv"
    report.write_text(GOOD)
    one_line_error(invoke("analyze", str(report), "--policy", str(policy)), str(policy), *fragments)


def test_missing_policy_file(tmp_path: Path):
    report = tmp_path / "r.csv"
    report.write_text(GOOD)
    one_line_error(
        invoke("analyze", str(report), "--policy", str(tmp_path / "nope.toml")),
        "nope.toml",
        "cannot read",
    )


def test_bad_as_of(tmp_path: Path):
    report = tmp_path / "r.csv"
    report.write_text(GOOD)
    one_line_error(invoke("analyze", str(report), "--as-of", "last tuesday"), "--as-of")


def test_unknown_fail_on_value(tmp_path: Path):
    report = tmp_path / "r.csv"
    report.write_text(GOOD)
    result = invoke("analyze", str(report), "--fail-on", "sometimes")
    assert result.exit_code == 2 and "sometimes" in result.stderr
