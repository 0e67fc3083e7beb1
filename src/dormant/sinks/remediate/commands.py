"""What ``dormant remediate plan|show|apply|rollback`` do, for the thin CLI to call."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import DormantError, InputError
from ...model import Finding
from ...policy import Policy, load_policy
from ...timeutil import iso, parse_time
from . import plan as plan_mod
from .apply import Applier, Options, Result
from .build import build_plan
from .journal import Journal, JournalError, default_path
from .rollback import Rollbacker, RollbackOptions


def _read_report(path: Path) -> dict[str, Any] | None:
    """The JSON report at ``path``, or None when it is not one."""
    if path.is_dir() or path.suffix.lower() == ".zip":
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(doc, dict) and "findings" in doc and "schema_version" in doc:
        return doc
    return None


def make_plan(
    input_path: str,
    *,
    snapshot_path: str | None,
    policy: Policy,
    as_of: dt.datetime | None,
    created_at: dt.datetime,
) -> plan_mod.Plan:
    """A plan from a snapshot (judged with ``policy``) or a JSON report (with, optionally, the
    snapshot it was made from)."""
    from ... import snapshot as snapshot_mod
    from ...judge import judge

    path = Path(input_path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if snapshot_mod.is_snapshot(path):
        if snapshot_path:
            raise InputError("--snapshot: the input is a snapshot already")
        snap = snapshot_mod.read(path)
        when = as_of or parse_time(snap.created_at)
        report = judge(snap, policy, when)
        return build_plan(
            report.findings,
            report.excluded,
            policy=policy,
            as_of=when,
            created_at=iso(created_at),
            snapshot=snap,
            source={"kind": "snapshot", "path": str(path), "snapshot_digest": snap.digest},
            account_ids=report.account_ids,
        )
    doc = _read_report(path)
    if doc is None:
        raise InputError(
            f"{path}: neither an evidence bundle nor a JSON report of dormant (scan --format json)"
        )
    if as_of is not None:
        raise InputError("--as-of: a report was judged already; give a snapshot to judge again")
    try:
        findings = [Finding.from_json(f) for f in doc.get("findings") or []]
        excluded = [Finding.from_json(f) for f in doc.get("excluded") or []]
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(f"{path}: a finding is malformed ({type(exc).__name__}: {exc})") from None
    snap = None
    if snapshot_path:
        snap = snapshot_mod.read(snapshot_path)
        wanted = doc.get("snapshot_digest")
        if wanted and snap.digest != wanted:
            raise InputError(
                f"--snapshot {snapshot_path}: manifest sha256 {snap.digest}, but the report was "
                f"judged from {wanted}"
            )
    return build_plan(
        findings,
        excluded,
        policy=policy,
        as_of=str(doc.get("as_of")),
        created_at=iso(created_at),
        snapshot=snap,
        source={
            "kind": "report",
            "path": str(path),
            "report_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "snapshot_digest": doc.get("snapshot_digest"),
            "snapshot_path": snapshot_path,
        },
        account_ids=list(doc.get("account_ids") or []),
    )


def policy_for_apply(
    policy_path: str | None, plan: plan_mod.Plan, echo: Callable[[str], None]
) -> Policy:
    """The current policy file: ``--policy``, else the one the plan was made with (if it is
    still there), else the built-in rules only."""
    if policy_path:
        return load_policy(policy_path)
    recorded = plan.settings.get("policy_source")
    if recorded and Path(recorded).is_file():
        echo(f"dormant: re-checking exclusions and allow-list against {recorded} (the plan's)")
        return load_policy(recorded)
    if recorded:
        echo(
            f"dormant: warning: the plan was made with {recorded}, which is not there now; only "
            "the built-in exclusions are re-checked (give the current file with --policy)"
        )
    return load_policy(None)


def apply_plan(
    session,
    plan_path: str,
    *,
    journal_path: str | None,
    policy_path: str | None,
    options: Options,
    clock: Callable[[], dt.datetime],
    echo: Callable[[str], None],
    warn: Callable[[str], None],
    on_journal: Callable[[Journal], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> tuple[Result, Path]:
    plan, doc, data = plan_mod.read(plan_path)
    if doc.get("steps_sha256") and doc["steps_sha256"] != plan.steps_digest:
        warn(
            "dormant: warning: the plan's steps were edited after dormant wrote it; every step "
            "is checked again before it is applied"
        )
    policy = policy_for_apply(policy_path, plan, warn)
    jpath = Path(journal_path) if journal_path else default_path(plan_path)
    journal = None
    known: dict[int, str] = {}
    if jpath.exists():
        existing = Journal.open(jpath)
        try:
            meta = existing.meta()
            if meta.get("plan_sha256") != hashlib.sha256(data).hexdigest():
                raise JournalError(
                    f"{jpath}: the journal was started for another version of {plan_path} (plan "
                    "sha256 differs); make a new plan, or give another --journal"
                )
            known = {n: r.status for n, r in existing.steps().items()}
        finally:
            existing.close()
        if options.apply and not options.resume:
            counts = ", ".join(f"{n} {s}" for s, n in _counts(known).items())
            raise JournalError(
                f"{jpath}: a journal of this plan exists ({counts}): continue it with --resume, "
                "roll it back with 'dormant remediate rollback', or give another --journal"
            )
    elif options.resume:
        raise JournalError(f"{jpath}: no journal to resume")
    applier_session = session
    if options.apply:
        if jpath.exists():
            journal = Journal.open(jpath)
        else:
            who_account = _account_of(session)
            journal = Journal.create(
                jpath,
                plan_json=data.decode("utf-8"),
                plan_bytes=data,
                plan_path=str(plan_path),
                steps=[s.to_json() for s in plan.steps],
                created_at=iso(clock()),
                account_id=who_account,
            )
        journal.lock()
        journal.on_commit = on_journal
    try:
        applier = Applier(
            applier_session,
            plan,
            policy,
            clock=clock,
            echo=echo,
            options=options,
            journal=journal,
            known=known,
            sleep=sleep,
        )
        result = applier.run()
    finally:
        if journal is not None:
            journal.close()
    return result, jpath


def _account_of(session) -> str:
    from .apply import identity

    return str(identity(session)["Account"])


def _counts(statuses: dict[int, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in statuses.values():
        out[s] = out.get(s, 0) + 1
    return dict(sorted(out.items()))


def rollback_journal(
    session,
    journal_path: str,
    *,
    options: RollbackOptions,
    clock: Callable[[], dt.datetime],
    echo: Callable[[str], None],
) -> Result:
    journal = Journal.open(journal_path)
    try:
        if options.apply:
            journal.lock()
        return Rollbacker(session, journal, clock=clock, echo=echo, options=options).run()
    finally:
        journal.close()


def summary_line(result: Result, *, dry_run: bool, verb: str = "apply") -> str:
    counts: dict[str, int] = {}
    for o in result.outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no steps"
    tail = " (dry run: nothing changed; add --apply to make the calls)" if dry_run else ""
    return f"dormant: {verb}: {parts}{tail}"


def load_plan_or_journal(path: str) -> tuple[str, Any]:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    head = p.read_bytes()[:16]
    if head.startswith(b"SQLite format 3"):
        return "journal", Journal.open(p)
    plan, _, _ = plan_mod.read(p)
    return "plan", plan


__all__ = [
    "DormantError",
    "apply_plan",
    "load_plan_or_journal",
    "make_plan",
    "policy_for_apply",
    "rollback_journal",
    "summary_line",
]
