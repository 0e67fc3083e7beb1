"""The remediation journal: an SQLite file written before every change and synced to disk.

What it holds (schema version in ``PRAGMA user_version``, migrated like the history store):

- ``meta``: the plan itself (its JSON and SHA-256), the account, when the journal was made;
  a journal alone is enough to roll back.
- ``steps``: one row per plan step: ``status`` (``pending``, ``started``, ``done``, ``skipped``,
  ``refused``, ``failed``, then ``rolling-back``, ``rolled-back``, ``rollback-refused``,
  ``rollback-failed``), the reason, ``applied_at`` (the time its placeholders were resolved with)
  and ``saved``: what apply read before the first call (for a role to delete, the whole role).
- ``calls``: every call, apply's and rollback's: its resolved parameters and, read just before
  it, the state its undo needs (``before``) are written with ``state = 'intent'`` and committed
  *before* the call is made; after it, ``state = 'done'`` (or ``failed``) and its response.
  A crash between the two leaves ``intent``: ``apply --resume`` and ``rollback`` then ask AWS
  whether the call took effect before doing anything else.
- ``runs``: each apply, resume and rollback: who ran it, with which options, how it ended.

Every commit is durable before the next AWS call: ``journal_mode = DELETE`` (one file, easy to
copy or hand to an auditor) and ``synchronous = FULL`` (SQLite fsyncs the database and its
rollback journal at each commit). No clock here: callers pass the times.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import __version__
from ...errors import DormantError

FORMAT = "dormant-remediation-journal"


class JournalError(DormantError):
    """The journal cannot be used: missing, unreadable, newer, or for another plan."""


V1_DDL = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    command TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    caller_arn TEXT,
    tool_version TEXT NOT NULL,
    options TEXT NOT NULL,
    outcome TEXT
);
CREATE TABLE steps (
    step INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    principal_arn TEXT NOT NULL,
    irreversible INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    applied_at TEXT,
    saved TEXT,
    run_id INTEGER,
    updated_at TEXT
);
CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    step INTEGER NOT NULL REFERENCES steps(step),
    phase TEXT NOT NULL,
    seq INTEGER NOT NULL,
    operation TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    before TEXT,
    response TEXT,
    error TEXT,
    note TEXT,
    run_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    done_at TEXT
);
"""


def _v1(conn: sqlite3.Connection) -> None:
    for statement in V1_DDL.split(";"):
        if statement.strip():
            conn.execute(statement)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1]
"""Step ``i`` takes a journal from version ``i`` to ``i + 1``. Append only."""

SCHEMA_VERSION = len(MIGRATIONS)

APPLY = "apply"
ROLLBACK = "rollback"


@dataclass(frozen=True)
class StepRow:
    step: int
    kind: str
    principal_arn: str
    irreversible: bool
    status: str
    reason: str | None
    applied_at: str | None
    saved: Any
    updated_at: str | None


@dataclass(frozen=True)
class CallRow:
    id: int
    step: int
    phase: str
    seq: int
    operation: str
    params: dict[str, Any]
    state: str
    """``intent`` (written, not known to be made), ``done``, ``failed``."""
    before: Any
    response: Any
    error: str | None
    note: str | None
    at: str
    done_at: str | None


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, default=str)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Journal:
    """Open with :meth:`create` or :meth:`open`; close with :meth:`close` (or ``with``)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.on_commit: Callable[[Journal], None] | None = None
        """Called after every commit (the Lambda copies the journal to S3 there)."""
        self.run_id: int | None = None

    # ------------------------------------------------------------------------------- open

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @classmethod
    def create(
        cls,
        path: Path | str,
        *,
        plan_json: str,
        plan_bytes: bytes,
        plan_path: str,
        steps: list[dict[str, Any]],
        created_at: str,
        account_id: str,
    ) -> Journal:
        path = Path(path)
        if path.exists():
            raise JournalError(f"{path}: exists already")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.unlink(missing_ok=True)
        try:
            conn = cls._connect(tmp)
            conn.execute("BEGIN IMMEDIATE")
            for step in MIGRATIONS:
                step(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            meta = {
                "format": FORMAT,
                "created_at": created_at,
                "tool_version": __version__,
                "account_id": account_id,
                "plan_path": plan_path,
                "plan_sha256": hashlib.sha256(plan_bytes).hexdigest(),
                "plan": plan_json,
            }
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", sorted(meta.items()))
            conn.executemany(
                "INSERT INTO steps (step, kind, principal_arn, irreversible, status) "
                "VALUES (?, ?, ?, ?, 'pending')",
                [
                    (s["step"], s["kind"], s["principal_arn"], int(bool(s["irreversible"])))
                    for s in steps
                ],
            )
            conn.execute("COMMIT")
            conn.close()
            tmp.replace(path)  # the journal appears whole or not at all
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return cls.open(path)

    @classmethod
    def open(cls, path: Path | str) -> Journal:
        path = Path(path)
        if not path.is_file():
            raise JournalError(f"{path}: no such journal")
        try:
            conn = cls._connect(path)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            fmt = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{path}: not a dormant journal ({exc})") from None
        if not fmt or fmt[0] != FORMAT:
            conn.close()
            raise JournalError(f"{path}: not a dormant remediation journal")
        if version > SCHEMA_VERSION:
            conn.close()
            raise JournalError(
                f"{path}: journal schema version {version}, written by a newer dormant; this "
                f"version ({__version__}) reads up to {SCHEMA_VERSION}"
            )
        if version < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        return cls(conn, path)

    def lock(self) -> None:
        """Hold the journal for this process until :meth:`close`: a second apply, resume or
        rollback of the same journal at the same time is refused, not interleaved."""
        import fcntl

        handle = open(self.path.with_name(self.path.name + ".lock"), "a")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise JournalError(
                f"{self.path}: another dormant is applying or rolling back this journal now"
            ) from None
        self._lock = handle

    def close(self) -> None:
        self.conn.close()
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.close()
            self._lock = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------ writes

    def _commit(self, sql: str, args: tuple) -> int:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            cur = self.conn.execute(sql, args)
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        if self.on_commit is not None:
            self.on_commit(self)
        return int(cur.lastrowid or 0)

    def start_run(self, command: str, at: str, caller_arn: str | None, options: dict) -> int:
        self.run_id = self._commit(
            "INSERT INTO runs (command, started_at, caller_arn, tool_version, options) "
            "VALUES (?, ?, ?, ?, ?)",
            (command, at, caller_arn, __version__, _dump(options)),
        )
        return self.run_id

    def finish_run(self, at: str, outcome: str) -> None:
        self._commit(
            "UPDATE runs SET finished_at = ?, outcome = ? WHERE run_id = ?",
            (at, outcome, self.run_id),
        )

    def set_step(
        self,
        step: int,
        status: str,
        at: str,
        *,
        reason: str | None = None,
        applied_at: str | None = None,
        saved: Any = None,
    ) -> None:
        sets = ["status = ?", "reason = ?", "run_id = ?", "updated_at = ?"]
        args: list[Any] = [status, reason, self.run_id, at]
        if applied_at is not None:
            sets.append("applied_at = ?")
            args.append(applied_at)
        if saved is not None:
            sets.append("saved = ?")
            args.append(_dump(saved))
        self._commit(f"UPDATE steps SET {', '.join(sets)} WHERE step = ?", (*args, step))

    def intent(
        self,
        step: int,
        phase: str,
        seq: int,
        operation: str,
        params: dict[str, Any],
        before: Any,
        at: str,
    ) -> int:
        """Write a call before it is made (durable when this returns)."""
        return self._commit(
            "INSERT INTO calls (step, phase, seq, operation, params, state, before, run_id, at) "
            "VALUES (?, ?, ?, ?, ?, 'intent', ?, ?, ?)",
            (step, phase, seq, operation, _dump(params), _dump(before), self.run_id, at),
        )

    def call_done(self, call_id: int, at: str, response: Any, note: str | None = None) -> None:
        self._commit(
            "UPDATE calls SET state = 'done', response = ?, note = ?, done_at = ? WHERE id = ?",
            (_dump(response), note, at, call_id),
        )

    def call_failed(self, call_id: int, at: str, error: str) -> None:
        self._commit(
            "UPDATE calls SET state = 'failed', error = ?, done_at = ? WHERE id = ?",
            (error, at, call_id),
        )

    def forget_intent(self, call_id: int, at: str, note: str) -> None:
        """An intent found not to have taken effect: mark it so, it will be made again."""
        self._commit(
            "UPDATE calls SET state = 'not-made', note = ?, done_at = ? WHERE id = ?",
            (note, at, call_id),
        )

    # ------------------------------------------------------------------------------- reads

    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())

    def steps(self) -> dict[int, StepRow]:
        rows = self.conn.execute(
            "SELECT step, kind, principal_arn, irreversible, status, reason, applied_at, saved, "
            "updated_at FROM steps ORDER BY step"
        ).fetchall()
        return {
            r[0]: StepRow(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], _load(r[7]), r[8])
            for r in rows
        }

    def calls(self, step: int, phase: str) -> list[CallRow]:
        rows = self.conn.execute(
            "SELECT id, step, phase, seq, operation, params, state, before, response, error, "
            "note, at, done_at FROM calls WHERE step = ? AND phase = ? ORDER BY seq, id",
            (step, phase),
        ).fetchall()
        return [
            CallRow(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                _load(r[5]),
                r[6],
                _load(r[7]),
                _load(r[8]),
                r[9],
                r[10],
                r[11],
                r[12],
            )
            for r in rows
        ]

    def runs(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT run_id, command, started_at, finished_at, caller_arn, tool_version, options, "
            "outcome FROM runs ORDER BY run_id"
        ).fetchall()
        keys = (
            "run_id",
            "command",
            "started_at",
            "finished_at",
            "caller_arn",
            "tool_version",
            "options",
            "outcome",
        )
        return [dict(zip(keys, r, strict=True)) | {"options": _load(r[6])} for r in rows]

    def status_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.steps().values():
            out[row.status] = out.get(row.status, 0) + 1
        return dict(sorted(out.items()))


def default_path(plan_path: str | Path) -> Path:
    """``plan.json`` -> ``plan.journal.sqlite``, next to the plan."""
    p = Path(plan_path)
    return p.with_name(f"{p.stem}.journal.sqlite")
