"""The history of runs: an embedded SQLite database of every scan and analyze, and their
findings, to tell new, resolved and recurring findings apart and to draw trends.

- Where: ``--history PATH``, else ``$DORMANT_HISTORY`` (a path, or ``off``), else
  ``$XDG_DATA_HOME/dormant/history.db`` (``~/.local/share/dormant/history.db``).
- One transaction per run; WAL so a reader never blocks a writer.
- The schema is versioned with ``PRAGMA user_version`` and a list of migration steps: a database
  written by an older dormant is migrated when opened; one written by a newer dormant is refused
  (:class:`HistoryError`), never altered.
- No clock here: the CLI passes ``recorded_at``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import DormantError
from .model import Report, Verdict

ENV_VAR = "DORMANT_HISTORY"
OFF_VALUES = frozenset({"off", "none", "no", "false", "0"})


class HistoryError(DormantError):
    """The history database cannot be used: unreadable, or written by a newer dormant."""


# ------------------------------------------------------------------------------- schema

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
"""Version 1, as the first release wrote it. ``runs.accounts`` is a JSON list of account ids;
``runs.counts`` a JSON object (``by_type``, ``by_verdict``)."""


def _script(conn: sqlite3.Connection, sql: str) -> None:
    """Run DDL statement by statement: ``executescript`` would commit the migration's
    transaction first. (The DDL here has no ``;`` inside a statement.)"""
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v2(conn: sqlite3.Connection) -> None:
    """Version 2: which accounts each run covered, as rows, so ``--account``, ``diff`` and the
    trend find a run by account through an index instead of parsing every run's JSON list.
    Backfilled from ``runs.accounts``."""
    _script(
        conn,
        """
        CREATE TABLE run_accounts (
            run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            account_id TEXT NOT NULL,
            PRIMARY KEY (account_id, run_id)
        ) WITHOUT ROWID;
        CREATE INDEX findings_by_run_account ON findings(run_id, account_id);
        """,
    )
    rows = conn.execute("SELECT run_id, accounts FROM runs").fetchall()
    for run_id, accounts in rows:
        for account in json.loads(accounts or "[]"):
            conn.execute(
                "INSERT OR IGNORE INTO run_accounts (run_id, account_id) VALUES (?, ?)",
                (run_id, account),
            )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    lambda conn: _script(conn, V1_DDL),
    _v2,
]
"""Step ``i`` takes a database from version ``i`` to ``i + 1``. Append only: never edit a step
that has been released."""

SCHEMA_VERSION = len(MIGRATIONS)


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class Run:
    run_id: int
    as_of: str
    recorded_at: str
    command: str
    accounts: tuple[str, ...]
    snapshot_digest: str | None
    policy_source: str | None
    tool_version: str
    findings: int
    """Open findings (not excluded)."""
    excluded: int
    counts: dict[str, Any] = field(default_factory=dict)
    """``by_type`` and ``by_verdict`` of the open findings."""

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of,
            "recorded_at": self.recorded_at,
            "command": self.command,
            "accounts": list(self.accounts),
            "snapshot_digest": self.snapshot_digest,
            "policy_source": self.policy_source,
            "tool_version": self.tool_version,
            "findings": self.findings,
            "excluded": self.excluded,
            "by_type": self.counts.get("by_type", {}),
            "by_verdict": self.counts.get("by_verdict", {}),
        }


@dataclass(frozen=True)
class FindingRecord:
    """One finding as a run recorded it."""

    finding_id: str
    type: str
    account_id: str
    principal_arn: str
    principal_name: str
    access_key_id: str | None
    verdict: str
    last_used: str | None
    days_unused: int | None

    @property
    def is_open(self) -> bool:
        return self.verdict != str(Verdict.EXCLUDED)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.finding_id,
            "type": self.type,
            "account_id": self.account_id,
            "principal_arn": self.principal_arn,
            "principal_name": self.principal_name,
            "access_key_id": self.access_key_id,
            "verdict": self.verdict,
            "last_used": self.last_used,
            "days_unused": self.days_unused,
        }


@dataclass(frozen=True)
class Change:
    """A finding across two runs: ``before`` and/or ``after`` (None where it was not open)."""

    finding_id: str
    before: FindingRecord | None
    after: FindingRecord | None
    note: str | None = None
    """For a resolved finding: why it left (``excluded`` now, or no longer found)."""

    @property
    def current(self) -> FindingRecord:
        rec = self.after or self.before
        assert rec is not None
        return rec

    def to_json(self) -> dict[str, Any]:
        rec = self.current.to_json()
        rec["verdict_before"] = self.before.verdict if self.before else None
        rec["verdict_after"] = self.after.verdict if self.after else None
        rec["days_unused"] = (self.after or self.before).days_unused  # type: ignore[union-attr]
        if self.note:
            rec["note"] = self.note
        return rec


@dataclass(frozen=True)
class Diff:
    before: Run
    after: Run
    accounts: tuple[str, ...]
    """The accounts compared: those both runs covered."""
    new: tuple[Change, ...]
    resolved: tuple[Change, ...]
    recurring: tuple[Change, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.before.to_json(),
            "to": self.after.to_json(),
            "accounts": list(self.accounts),
            "summary": {
                "new": len(self.new),
                "resolved": len(self.resolved),
                "recurring": len(self.recurring),
            },
            "new": [c.to_json() for c in self.new],
            "resolved": [c.to_json() for c in self.resolved],
            "recurring": [c.to_json() for c in self.recurring],
        }


@dataclass(frozen=True)
class TrendPoint:
    """Open findings per account in one run: what the HTML report's trend chart draws."""

    run_id: int
    as_of: str
    counts: dict[str, int]
    """Open findings by account id, for the accounts asked about that this run covered."""


# -------------------------------------------------------------------------------- paths


def default_path(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "dormant" / "history.db"


def resolve_path(
    option: str | None, disabled: bool, env: dict[str, str] | None = None
) -> Path | None:
    """Where the history lives, or None when it is off.

    ``--no-history`` wins, then ``--history PATH``, then ``$DORMANT_HISTORY`` (a path, or
    ``off``), then the XDG default.
    """
    env = os.environ if env is None else env
    if disabled:
        return None
    if option:
        return Path(option).expanduser()
    value = env.get(ENV_VAR, "").strip()
    if value:
        if value.casefold() in OFF_VALUES:
            return None
        return Path(value).expanduser()
    return default_path(env)


# -------------------------------------------------------------------------------- store


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"{path}: the history database is schema version {version}, written by a newer "
            f"dormant; this version ({__version__}) reads up to {SCHEMA_VERSION}. Upgrade "
            "dormant, or use --history PATH / --no-history"
        )
    if version == SCHEMA_VERSION:
        return
    # One transaction for every step, so a failed migration leaves the old version intact.
    conn.execute("BEGIN IMMEDIATE")
    try:
        for step in range(version, SCHEMA_VERSION):
            MIGRATIONS[step](conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class History:
    """The store. Open with :meth:`open`; use as a context manager to close it."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path | str, *, create: bool = True) -> History:
        path = Path(path)
        if not create and not path.exists():
            raise HistoryError(f"{path}: no history yet (nothing has been recorded there)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(
                f"{path}: cannot open the history database ({exc}); name another with "
                "--history PATH, or record nothing with --no-history"
            ) from None
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 10000")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            _migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise HistoryError(
                f"{path}: not a usable history database ({exc}); name another with "
                "--history PATH, or record nothing with --no-history"
            ) from None
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------- write

    def record(self, report: Report, *, command: str, recorded_at: str) -> int:
        """Record a run and its findings (open and excluded) in one transaction; its id."""
        by_type: dict[str, int] = {}
        by_verdict: dict[str, int] = {}
        for f in report.findings:
            by_type[str(f.type)] = by_type.get(str(f.type), 0) + 1
            by_verdict[str(f.verdict)] = by_verdict.get(str(f.verdict), 0) + 1
        counts = {
            "by_type": dict(sorted(by_type.items())),
            "by_verdict": dict(sorted(by_verdict.items())),
        }
        accounts = sorted(set(report.account_ids))
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            cur = self.conn.execute(
                "INSERT INTO runs (as_of, recorded_at, command, accounts, snapshot_digest, "
                "policy_source, tool_version, findings, excluded, counts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    report.as_of,
                    recorded_at,
                    command,
                    json.dumps(accounts),
                    report.snapshot_digest,
                    report.policy_source,
                    __version__,
                    len(report.findings),
                    len(report.excluded),
                    json.dumps(counts, sort_keys=True),
                ),
            )
            run_id = int(cur.lastrowid)
            self.conn.executemany(
                "INSERT INTO run_accounts (run_id, account_id) VALUES (?, ?)",
                [(run_id, a) for a in accounts],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO findings (run_id, finding_id, type, account_id, "
                "principal_arn, principal_name, access_key_id, verdict, last_used, days_unused) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        f.id,
                        str(f.type),
                        f.account_id,
                        f.principal_arn,
                        f.principal_name,
                        f.access_key_id or (f"slot{f.key_slot}" if f.key_slot else None),
                        str(f.verdict),
                        f.last_used,
                        f.days_unused,
                    )
                    for f in (*report.findings, *report.excluded)
                ],
            )
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise HistoryError(f"{self.path}: cannot record the run ({exc})") from None
            raise
        return run_id

    # ----------------------------------------------------------------------------- read

    @staticmethod
    def _run(row: Sequence[Any]) -> Run:
        return Run(
            run_id=row[0],
            as_of=row[1],
            recorded_at=row[2],
            command=row[3],
            accounts=tuple(json.loads(row[4] or "[]")),
            snapshot_digest=row[5],
            policy_source=row[6],
            tool_version=row[7],
            findings=row[8],
            excluded=row[9],
            counts=json.loads(row[10] or "{}"),
        )

    _RUN_COLUMNS = (
        "r.run_id, r.as_of, r.recorded_at, r.command, r.accounts, r.snapshot_digest, "
        "r.policy_source, r.tool_version, r.findings, r.excluded, r.counts"
    )

    def runs(self, *, account: str | None = None, limit: int | None = None) -> list[Run]:
        """Recorded runs, newest first (by run id: the order they were recorded)."""
        sql = f"SELECT {self._RUN_COLUMNS} FROM runs r"
        args: list[Any] = []
        if account:
            sql += " WHERE r.run_id IN (SELECT run_id FROM run_accounts WHERE account_id = ?)"
            args.append(account)
        sql += " ORDER BY r.run_id DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        return [self._run(row) for row in self.conn.execute(sql, args)]

    def run(self, run_id: int) -> Run:
        row = self.conn.execute(
            f"SELECT {self._RUN_COLUMNS} FROM runs r WHERE r.run_id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise HistoryError(f"{self.path}: no run {run_id} in the history")
        return self._run(row)

    def findings(self, run_id: int, accounts: Iterable[str]) -> dict[str, FindingRecord]:
        accounts = list(accounts)
        marks = ",".join("?" for _ in accounts)
        rows = self.conn.execute(
            "SELECT finding_id, type, account_id, principal_arn, principal_name, access_key_id, "
            f"verdict, last_used, days_unused FROM findings WHERE run_id = ? "
            f"AND account_id IN ({marks}) ORDER BY account_id, type, principal_arn, finding_id",
            [run_id, *accounts],
        )
        return {row[0]: FindingRecord(*row) for row in rows}

    def previous(self, run: Run, account: str | None = None) -> Run | None:
        """The latest run recorded before ``run`` that covered one of its accounts (or
        ``account``)."""
        accounts = [account] if account else list(run.accounts)
        if not accounts:
            return None
        marks = ",".join("?" for _ in accounts)
        row = self.conn.execute(
            f"SELECT {self._RUN_COLUMNS} FROM runs r WHERE r.run_id < ? AND r.run_id IN "
            f"(SELECT run_id FROM run_accounts WHERE account_id IN ({marks})) "
            "ORDER BY r.run_id DESC LIMIT 1",
            [run.run_id, *accounts],
        ).fetchone()
        return self._run(row) if row else None

    def latest(self, accounts: Iterable[str] | None = None) -> Run | None:
        """The latest recorded run (that covered one of ``accounts``, when given)."""
        if accounts is None:
            runs = self.runs(limit=1)
            return runs[0] if runs else None
        accounts = list(accounts)
        if not accounts:
            return None
        marks = ",".join("?" for _ in accounts)
        row = self.conn.execute(
            f"SELECT {self._RUN_COLUMNS} FROM runs r WHERE r.run_id IN "
            f"(SELECT run_id FROM run_accounts WHERE account_id IN ({marks})) "
            "ORDER BY r.run_id DESC LIMIT 1",
            accounts,
        ).fetchone()
        return self._run(row) if row else None

    def diff(
        self,
        before: int | None = None,
        after: int | None = None,
        *,
        account: str | None = None,
    ) -> Diff:
        """New, resolved and recurring findings from run ``before`` to run ``after``.

        With no run given: the latest run (of ``account``, when given) against the run recorded
        before it that covered the same account. With ``before`` only: that run against the
        latest run covering one of its accounts. Only the accounts both runs covered (or
        ``account``) are compared.
        """
        if before is not None and after is not None:
            a, b = self.run(before), self.run(after)
        elif before is not None:
            a = self.run(before)
            latest = self.latest([account] if account else a.accounts)
            if latest is None or latest.run_id == a.run_id:
                raise HistoryError(
                    f"{self.path}: run {a.run_id} is the latest run of its accounts: "
                    "nothing later to compare it with"
                )
            b = latest
        else:
            latest = self.latest([account] if account else None)
            if latest is None:
                raise HistoryError(
                    f"{self.path}: no recorded run"
                    + (f" of account {account}" if account else "")
                    + " to compare"
                )
            b = latest
            previous = self.previous(b, account)
            if previous is None:
                raise HistoryError(
                    f"{self.path}: run {b.run_id} is the first recorded run of "
                    f"{account or ', '.join(b.accounts) or 'its accounts'}: nothing to compare"
                )
            a = previous
        accounts = sorted(
            ({account} if account else set(a.accounts)) & set(a.accounts) & set(b.accounts)
        )
        if not accounts:
            raise HistoryError(
                f"runs {a.run_id} and {b.run_id} cover no account in common"
                + (f" with {account}" if account else "")
            )
        fa = self.findings(a.run_id, accounts)
        fb = self.findings(b.run_id, accounts)
        open_a = {k: v for k, v in fa.items() if v.is_open}
        open_b = {k: v for k, v in fb.items() if v.is_open}
        new = [Change(k, None, v) for k, v in open_b.items() if k not in open_a]
        resolved = [
            Change(k, v, None, note="excluded now" if k in fb else "no longer found")
            for k, v in open_a.items()
            if k not in open_b
        ]
        recurring = [Change(k, open_a[k], v) for k, v in open_b.items() if k in open_a]
        return Diff(a, b, tuple(accounts), tuple(new), tuple(resolved), tuple(recurring))

    def trend(self, accounts: Iterable[str], *, limit: int = 30) -> list[TrendPoint]:
        """Open findings per account over the last ``limit`` runs that covered any of
        ``accounts``, oldest first (by as_of, then by when recorded).

        A snapshot judged again as of the same time with the same policy file (``analyze`` of
        one bundle, run twice) counts once: its latest recording.
        """
        accounts = sorted(set(accounts))
        if not accounts:
            return []
        marks = ",".join("?" for _ in accounts)
        rows = self.conn.execute(
            "SELECT r.run_id, r.as_of, r.snapshot_digest, r.policy_source, ra.account_id "
            "FROM runs r JOIN run_accounts ra ON ra.run_id = r.run_id "
            f"WHERE ra.account_id IN ({marks}) ORDER BY r.run_id",
            accounts,
        ).fetchall()
        runs: dict[int, tuple[str, tuple[Any, ...], list[str]]] = {}
        for run_id, as_of, digest, policy, account in rows:
            same = (as_of, digest or f"run{run_id}", policy)
            runs.setdefault(run_id, (as_of, same, []))[2].append(account)
        latest: dict[tuple[Any, ...], int] = {}
        for run_id, (_, same, _) in runs.items():
            latest[same] = max(run_id, latest.get(same, 0))
        keep = sorted(set(latest.values()), key=lambda r: (runs[r][0], r))[-limit:]
        points = []
        for run_id in keep:
            as_of, _, covered = runs[run_id]
            counts = {a: 0 for a in sorted(covered)}
            for account, n in self.conn.execute(
                "SELECT account_id, COUNT(*) FROM findings WHERE run_id = ? AND verdict != ? "
                f"AND account_id IN ({marks}) GROUP BY account_id",
                [run_id, str(Verdict.EXCLUDED), *accounts],
            ):
                counts[account] = n
            points.append(TrendPoint(run_id=run_id, as_of=as_of, counts=counts))
        return points
