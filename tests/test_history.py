"""The history of runs: where it lives, what a run records, new/resolved/recurring findings,
the trend, and schema migrations (an old database opens, a newer one is refused)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from moto.iam.models import AccessKeyLastUsed
from test_scan_scenario import run_cli

from dormant.demo import moto_ext
from dormant.demo.company import DEMO_POLICY, company
from dormant.demo.seed import seed
from dormant.history import SCHEMA_VERSION, History, HistoryError, resolve_path
from dormant.model import (
    AccountInfo,
    Finding,
    FindingType,
    PrincipalType,
    Report,
    Verdict,
)

A1, A2 = "111122223333", "444455556666"

# The version 1 schema exactly as the first release wrote it. A frozen copy, not an import:
# a database written by that release must keep opening whatever the code's DDL becomes.
V1_DDL = """
CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    as_of TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    command TEXT NOT NULL,
    accounts TEXT NOT NULL,
    snapshot_digest TEXT,
    policy_source TEXT,
    tool_version TEXT NOT NULL,
    findings INTEGER NOT NULL,
    excluded INTEGER NOT NULL,
    counts TEXT NOT NULL
);
CREATE TABLE findings (
    run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    finding_id TEXT NOT NULL,
    type TEXT NOT NULL,
    account_id TEXT NOT NULL,
    principal_arn TEXT NOT NULL,
    principal_name TEXT NOT NULL,
    access_key_id TEXT,
    verdict TEXT NOT NULL,
    last_used TEXT,
    days_unused INTEGER,
    PRIMARY KEY (run_id, finding_id)
);
CREATE INDEX findings_by_finding ON findings(finding_id);
"""


def finding(name: str, account: str = A1, verdict=Verdict.UNUSED, key: str | None = None):
    return Finding(
        type=FindingType.UNUSED_ACCESS_KEY if key else FindingType.UNUSED_PASSWORD,
        account_id=account,
        principal_arn=f"arn:aws:iam::{account}:user/{name}",
        principal_name=name,
        principal_type=PrincipalType.USER,
        verdict=verdict,
        reason="test",
        threshold_days=90,
        access_key_id=key,
        last_used="2026-01-01T00:00:00Z",
        days_unused=100,
    )


def report(as_of: str, findings=(), excluded=(), accounts=(A1,), digest="d" * 64) -> Report:
    return Report(
        as_of=as_of,
        accounts=tuple(AccountInfo(a, None, as_of, None) for a in accounts),
        findings=tuple(findings),
        excluded=tuple(dataclasses.replace(f, verdict=Verdict.EXCLUDED) for f in excluded),
        coverage=(),
        exceptions=(),
        thresholds={},
        policy_source="policy.toml",
        snapshot_digest=digest,
    )


# ------------------------------------------------------------------------------- paths


def test_where_the_history_lives(tmp_path: Path):
    home = Path.home()
    env: dict[str, str] = {}
    assert resolve_path(None, False, env) == home / ".local/share/dormant/history.db"
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    assert resolve_path(None, False, env) == tmp_path / "xdg/dormant/history.db"
    env["XDG_DATA_HOME"] = "relative/ignored"  # the XDG spec: relative paths are invalid
    assert resolve_path(None, False, env) == home / ".local/share/dormant/history.db"
    env["DORMANT_HISTORY"] = str(tmp_path / "h.db")
    assert resolve_path(None, False, env) == tmp_path / "h.db"
    assert resolve_path(str(tmp_path / "o.db"), False, env) == tmp_path / "o.db"
    assert resolve_path(str(tmp_path / "o.db"), True, env) is None
    env["DORMANT_HISTORY"] = "off"
    assert resolve_path(None, False, env) is None
    assert resolve_path(str(tmp_path / "o.db"), False, env) == tmp_path / "o.db"


def test_the_tests_never_write_the_real_home():
    path = resolve_path(None, False)
    assert path is not None
    assert not str(path).startswith(str(Path.home() / ".local")), path
    assert os.environ["DORMANT_HISTORY"] == str(path)


# ------------------------------------------------------------------- record, diff, trend


def test_record_diff_and_trend(tmp_path: Path):
    gone, stays, fresh, vendor = (finding(n) for n in ("gone", "stays", "fresh", "vendor"))
    other = finding("other", account=A2)
    with History.open(tmp_path / "h.db") as h:
        r1 = h.record(
            report("2026-10-01T00:00:00Z", [gone, stays, vendor, other], accounts=(A1, A2)),
            command="scan",
            recorded_at="2026-10-01T00:00:05Z",
        )
        r2 = h.record(
            report("2026-11-01T00:00:00Z", [stays, fresh], excluded=[vendor]),
            command="scan",
            recorded_at="2026-11-01T00:00:05Z",
        )
        runs = h.runs()
        assert [r.run_id for r in runs] == [r2, r1]
        assert runs[1].accounts == (A1, A2) and runs[1].findings == 4
        assert runs[0].excluded == 1 and runs[0].counts["by_verdict"] == {"unused": 2}
        assert [r.run_id for r in h.runs(account=A2)] == [r1]

        d = h.diff()
        assert (d.before.run_id, d.after.run_id) == (r1, r2)
        # Only the account both runs covered is compared: A2's finding is not "resolved".
        assert d.accounts == (A1,)
        assert [c.current.principal_name for c in d.new] == ["fresh"]
        assert {c.current.principal_name: c.note for c in d.resolved} == {
            "gone": "no longer found",
            "vendor": "excluded now",
        }
        assert [c.current.principal_name for c in d.recurring] == ["stays"]
        assert d.to_json()["summary"] == {"new": 1, "resolved": 2, "recurring": 1}

        trend = h.trend([A1, A2])
        assert [(p.run_id, p.counts) for p in trend] == [(r1, {A1: 3, A2: 1}), (r2, {A1: 2})]

        # The same bundle judged again as of the same time counts once in the trend.
        r3 = h.record(
            report("2026-11-01T00:00:00Z", [stays]),
            command="analyze",
            recorded_at="2026-11-02T00:00:00Z",
        )
        assert [(p.run_id, p.counts) for p in h.trend([A1])] == [(r1, {A1: 3}), (r3, {A1: 1})]

        with pytest.raises(HistoryError, match="no run 99"):
            h.diff(99, r2)
        with pytest.raises(HistoryError, match="first recorded run"):
            h.diff(account=A2)


def test_a_run_is_one_transaction(tmp_path: Path):
    # The findings' insert fails after the run's row is written: nothing of the run remains.
    f = finding("dup")
    with History.open(tmp_path / "h.db") as h:
        h.conn.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON findings BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
        with pytest.raises(HistoryError, match="boom"):
            h.record(report("2026-10-01T00:00:00Z", [f]), command="scan", recorded_at="x")
        assert h.runs() == []
        assert h.conn.execute("SELECT COUNT(*) FROM run_accounts").fetchone()[0] == 0


def test_wal_and_schema_version(tmp_path: Path):
    with History.open(tmp_path / "h.db") as h:
        assert h.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert h.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


# -------------------------------------------------------------------------- migrations


def test_a_version_1_database_is_migrated_with_its_data(tmp_path: Path):
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1_DDL)
    conn.execute(
        "INSERT INTO runs VALUES (1, '2026-09-01T00:00:00Z', '2026-09-01T00:01:00Z', 'scan', "
        "?, ?, NULL, '0.1.0', 2, 0, ?)",
        (json.dumps([A1, A2]), "e" * 64, json.dumps({"by_verdict": {"unused": 2}})),
    )
    conn.execute(
        "INSERT INTO runs VALUES (2, '2026-10-01T00:00:00Z', '2026-10-01T00:01:00Z', "
        "'analyze', ?, NULL, 'p.toml', '0.1.0', 1, 0, '{}')",
        (json.dumps([A1]),),
    )
    rows = [
        (1, "f-a", "UnusedIAMUserPassword", A1, f"arn:aws:iam::{A1}:user/a", "a", None,
         "unused", "2026-01-01T00:00:00Z", 243),
        (1, "f-b", "UnusedIAMUserAccessKey", A2, f"arn:aws:iam::{A2}:user/b", "b", "AKIAB",
         "never-used", None, 400),
        (2, "f-a", "UnusedIAMUserPassword", A1, f"arn:aws:iam::{A1}:user/a", "a", None,
         "unused", "2026-01-01T00:00:00Z", 273),
    ]  # fmt: skip
    conn.executemany("INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    with History.open(path) as h:
        assert h.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        # Data intact.
        assert h.conn.execute("SELECT * FROM findings ORDER BY run_id, finding_id").fetchall() == [
            tuple(r) for r in sorted(rows, key=lambda r: (r[0], r[1]))
        ]
        runs = h.runs()
        assert [(r.run_id, r.accounts, r.snapshot_digest) for r in runs] == [
            (2, (A1,), None),
            (1, (A1, A2), "e" * 64),
        ]
        # What version 2 added is backfilled and used.
        assert [r.run_id for r in h.runs(account=A2)] == [1]
        d = h.diff()
        assert (d.before.run_id, d.after.run_id) == (1, 2)
        assert [c.finding_id for c in d.recurring] == ["f-a"] and not d.new
        # And the migrated database takes new runs.
        h.record(report("2026-11-01T00:00:00Z", []), command="scan", recorded_at="now")
        assert [p.counts for p in h.trend([A1])] == [{A1: 1}, {A1: 1}, {A1: 0}]


def test_a_database_from_a_newer_dormant_is_refused_untouched(tmp_path: Path, shared_data: Path):
    csv = next(
        (shared_data / "custodian-placebo-iam" / "extracted_credential_reports").glob("*.csv")
    )
    path = tmp_path / "future.db"
    with History.open(path) as h:
        h.record(report("2026-10-01T00:00:00Z", [finding("a")]), command="scan", recorded_at="t")
        h.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="newer dormant"):
        History.open(path)
    for args in (
        ("history", "--history", str(path)),
        ("diff", "--history", str(path)),
        ("analyze", str(csv), "--history", str(path)),
    ):
        proc = run_cli(*args, check_codes=(2,))
        assert "newer dormant" in proc.stderr and str(path) in proc.stderr, args
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_database_is_an_error_not_a_crash(tmp_path: Path):
    path = tmp_path / "notes.txt"
    path.write_text("not sqlite at all, just some text that is long enough to matter\n" * 20)
    with pytest.raises(HistoryError, match="not a usable history database"):
        History.open(path)
    proc = run_cli("history", "--history", str(path), check_codes=(2,))
    assert "not a usable history database" in proc.stderr and "--no-history" in proc.stderr


# ------------------------------------------------------------------------ through the CLI


def test_two_scans_with_a_key_used_in_between(emulator, now, tmp_path: Path):
    """Seed the demo company, scan; the forgotten Jenkins key is used; scan again: the diff
    shows that key's finding resolved, and the HTML trend goes down."""
    seed(emulator, company(), now)
    policy = tmp_path / "policy.toml"
    policy.write_text(DEMO_POLICY)
    db = tmp_path / "history.db"
    common = ("--policy", str(policy), "--history", str(db))
    first = run_cli("scan", *common, "--format", "json", endpoint=emulator.endpoint_url)
    assert first.stderr == ""  # recording is quiet when stderr is not a terminal
    doc1 = json.loads(first.stdout)

    user = moto_ext.backend("123456789012").get_user("svc-jenkins-legacy")
    (key,) = user.access_keys
    key.last_used = AccessKeyLastUsed(now.replace(microsecond=0), "s3", "us-east-1")
    html = tmp_path / "second.html"
    run_cli("scan", *common, "--format", "html", "-o", str(html), endpoint=emulator.endpoint_url)

    diff = json.loads(run_cli("diff", "--history", str(db), "--format", "json").stdout)
    assert (diff["from"]["run_id"], diff["to"]["run_id"]) == (1, 2)
    resolved = {(c["type"], c["principal_name"], c["access_key_id"]) for c in diff["resolved"]}
    assert ("UnusedIAMUserAccessKey", "svc-jenkins-legacy", key.access_key_id) in resolved
    assert ("InactiveIAMUser", "svc-jenkins-legacy", None) in resolved
    assert not diff["new"]
    # The rotation finding stays (the key is old), now with a used key.
    rotation = [c for c in diff["recurring"] if c["type"] == "UnrotatedIAMUserAccessKey"]
    jenkins = next(c for c in rotation if c["principal_name"] == "svc-jenkins-legacy")
    assert (jenkins["verdict_before"], jenkins["verdict_after"]) == ("never-used", "used")

    table = run_cli("diff", "--history", str(db)).stdout
    assert "0 new, 2 resolved" in table and "svc-jenkins-legacy" in table

    # The trend in the second scan's HTML report: both runs, the open findings going down.
    n1 = len(doc1["findings"])
    page = html.read_text()
    chart = page[page.index('id="chart-trend"') :]
    chart = chart[: chart.index("</figure>")]
    counts = [
        int(n) for n in re.findall(r"run \d+, as of [^:]+:[^:]+:[^:]+: (\d+) open finding", chart)
    ]
    assert counts == [n1, n1 - 2]

    runs = json.loads(run_cli("history", "--history", str(db), "--format", "json").stdout)
    assert [r["run_id"] for r in runs["runs"]] == [2, 1]
    assert [r["findings"] for r in runs["runs"]] == [n1 - 2, n1]
    assert runs["runs"][0]["snapshot_digest"] and runs["runs"][0]["command"] == "scan"
    listing = run_cli("history", "--history", str(db), "--account", "123456789012").stdout
    assert "scan" in listing and "123456789012" in listing


def test_no_history_records_nothing(tmp_path: Path, shared_data: Path):
    csv = next(
        (shared_data / "custodian-placebo-iam" / "extracted_credential_reports").glob("*.csv")
    )
    db = tmp_path / "h.db"
    run_cli("analyze", str(csv), "--history", str(db), "--no-history", "--format", "json")
    assert not db.exists()
    env_off = dict(os.environ, DORMANT_HISTORY="off")
    proc = subprocess.run(
        [sys.executable, "-m", "dormant.cli", "history"],
        capture_output=True,
        text=True,
        env=env_off,
    )
    assert proc.returncode == 2 and "history is off" in proc.stderr
    # Nothing recorded yet: an empty list, and no database made for it.
    empty = json.loads(run_cli("history", "--history", str(db), "--format", "json").stdout)
    assert empty == {"runs": []} and not db.exists()
    assert run_cli("diff", "--history", str(db), check_codes=(2,)).stderr.startswith(
        "dormant: error: "
    )
    assert not db.exists()
    run_cli("analyze", str(csv), "--history", str(db), "--format", "json")
    assert db.exists()
    with History.open(db) as h:
        (run,) = h.runs()
        assert run.command == "analyze" and run.findings > 0
