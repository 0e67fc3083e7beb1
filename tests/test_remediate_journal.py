"""The remediation journal: durable settings, one process at a time, versioned schema."""

from __future__ import annotations

import sqlite3

import pytest

from dormant.sinks.remediate.journal import APPLY, Journal, JournalError, default_path


def _journal(tmp_path) -> Journal:
    return Journal.create(
        tmp_path / "plan.journal.sqlite",
        plan_json="{}",
        plan_bytes=b"{}",
        plan_path="plan.json",
        steps=[
            {
                "step": 1,
                "kind": "deactivate-access-key",
                "principal_arn": "arn",
                "irreversible": False,
            }
        ],
        created_at="2026-11-29T00:00:00Z",
        account_id="123456789012",
    )


def test_every_commit_is_synced_and_the_file_stands_alone(tmp_path):
    j = _journal(tmp_path)
    assert j.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert j.conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    j.start_run("apply", "2026-11-29T00:00:01Z", "arn:aws:iam::123456789012:user/me", {})
    call = j.intent(
        1, APPLY, 1, "UpdateAccessKey", {"Status": "Inactive"}, {"Status": "Active"}, "t1"
    )
    # Written and committed before the call: another connection sees it at once.
    with sqlite3.connect(j.path) as other:
        assert other.execute("SELECT state FROM calls WHERE id = ?", (call,)).fetchone() == (
            "intent",
        )
    j.call_done(call, "t2", {})
    assert [r.state for r in j.calls(1, APPLY)] == ["done"]
    j.close()
    assert default_path("out/plan.json").as_posix() == "out/plan.journal.sqlite"
    assert not list(tmp_path.glob("*-wal")) and not list(tmp_path.glob(".*partial"))


def test_one_process_at_a_time(tmp_path):
    first = _journal(tmp_path)
    first.lock()
    second = Journal.open(first.path)
    with pytest.raises(JournalError, match="another dormant is applying or rolling back"):
        second.lock()
    first.close()
    second.lock()  # free again
    second.close()


def test_a_newer_journal_is_refused_and_an_existing_one_never_overwritten(tmp_path):
    j = _journal(tmp_path)
    j.close()
    with pytest.raises(JournalError, match="exists already"):
        _journal(tmp_path)
    with sqlite3.connect(tmp_path / "plan.journal.sqlite") as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(JournalError, match="schema version 99, written by a newer dormant"):
        Journal.open(tmp_path / "plan.journal.sqlite")
    (tmp_path / "not.sqlite").write_bytes(b"hello")
    with pytest.raises(JournalError, match="not a dormant"):
        Journal.open(tmp_path / "not.sqlite")
