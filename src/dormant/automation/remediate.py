"""The scheduled run's automatic remediation: deactivate unused access keys, when enabled.

With ``AUTO_DEACTIVATE_KEYS=true`` (off by default; the template's ``AutoDeactivateKeys``
parameter, which also grants the role ``iam:UpdateAccessKey``, ``iam:TagUser`` and
``iam:GetUser`` on users, and nothing else of IAM's writes), each complete run plans from its
own evidence and findings exactly as ``dormant remediate plan`` does, keeps only the
``deactivate-access-key`` steps, and applies them through the same engine as
``dormant remediate apply --apply``: each step re-checked (allow-list and exclusions of the run's
policy file, the key still active, no use since the evidence), journaled before each call.

The plan and the journal are written under the run's prefix in the report bucket
(``remediation/plan.json``, ``remediation/journal.sqlite``); the journal is copied there after
every commit, so the copy in S3 is never behind an AWS call by more than that call. Undo from a
workstation: download the journal and run ``dormant remediate rollback journal.sqlite --apply``.

Nothing else is ever automatic: deleting keys, quarantining roles, changing policies stay with
``dormant remediate``. A partial run remediates nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model import Report
from ..policy import Policy
from ..sinks.notify import SinkOutcome
from ..sinks.remediate.apply import Applier, Options
from ..sinks.remediate.build import build_plan
from ..sinks.remediate.journal import Journal
from ..sinks.remediate.plan import Kind
from ..snapshot import Snapshot
from ..sources.aws import AccountSession
from ..timeutil import iso
from . import store
from .logs import Log


@dataclass(frozen=True)
class Deactivation:
    """One key the run deactivated, or did not and why."""

    user: str
    access_key_id: str
    status: str
    """``done``, ``skipped``, ``refused``, ``failed`` or ``held``."""
    reason: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AutoRemediation:
    outcome: SinkOutcome
    items: tuple[Deactivation, ...] = ()
    plan_key: str | None = None
    journal_key: str | None = None
    journal_uri: str | None = None
    lines: tuple[str, ...] = field(default=())

    @property
    def deactivated(self) -> tuple[Deactivation, ...]:
        return tuple(i for i in self.items if i.status == "done")

    def to_json(self) -> dict[str, Any]:
        return {
            **self.outcome.to_json(),
            "plan_key": self.plan_key,
            "journal_key": self.journal_key,
            "keys": [i.to_json() for i in self.items],
        }


def deactivate_unused_keys(
    session: AccountSession,
    s3: Any,
    layout: store.Layout,
    run_prefix: str,
    *,
    report: Report,
    snapshot: Snapshot,
    policy: Policy,
    clock: Callable[[], dt.datetime],
    log: Log,
) -> AutoRemediation:
    """Plan and apply the key deactivations of this run; never raises."""
    try:
        return _run(session, s3, layout, run_prefix, report, snapshot, policy, clock, log)
    except Exception as exc:  # noqa: BLE001 - the scan's result must survive a remediation fault
        return AutoRemediation(
            SinkOutcome(
                "remediation", "failed", "keys not deactivated", f"{type(exc).__name__}: {exc}"
            )
        )


def _run(session, s3, layout, run_prefix, report, snapshot, policy, clock, log) -> AutoRemediation:
    plan = build_plan(
        report.findings,
        report.excluded,
        policy=policy,
        as_of=report.as_of,
        created_at=iso(clock()),
        snapshot=snapshot,
        source={
            "kind": "snapshot",
            "path": layout.uri(run_prefix + "evidence.zip"),
            "snapshot_digest": snapshot.digest,
        },
        account_ids=report.account_ids,
    )
    steps = tuple(s for s in plan.steps if s.kind is Kind.DEACTIVATE_KEY)
    plan = dataclasses.replace(
        plan,
        steps=steps,
        notes=(
            *plan.notes,
            "automatic: only the deactivate-access-key steps (AUTO_DEACTIVATE_KEYS)",
        ),
    )
    if not steps:
        return AutoRemediation(SinkOutcome("remediation", "skipped", "no unused active access key"))
    plan_key = run_prefix + "remediation/plan.json"
    journal_key = run_prefix + "remediation/journal.sqlite"
    data = plan.dumps().encode()
    store.put(s3, layout.bucket, plan_key, data)
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dormant-remediation-") as tmp:
        path = Path(tmp) / "journal.sqlite"
        journal = Journal.create(
            path,
            plan_json=data.decode(),
            plan_bytes=data,
            plan_path=layout.uri(plan_key),
            steps=[s.to_json() for s in steps],
            created_at=iso(clock()),
            account_id=report.account_ids[0] if report.account_ids else "",
        )

        def upload(j: Journal) -> None:
            # The S3 copy is brought up to date after every commit: before each AWS call.
            store.put(s3, layout.bucket, journal_key, path.read_bytes())

        journal.on_commit = upload
        try:
            upload(journal)
            result = Applier(
                session,
                plan,
                policy,
                clock=clock,
                echo=lines.append,
                options=Options(apply=True),
                journal=journal,
            ).run()
        finally:
            journal.close()
        upload(journal)
    items = tuple(
        Deactivation(
            user=step.principal_name,
            access_key_id=str(step.expect.get("access_key_id")),
            status=o.status,
            reason=o.reason,
        )
        for step, o in zip(steps, result.outcomes, strict=True)
    )
    done = sum(1 for i in items if i.status == "done")
    for item in items:
        (log.info if item.status in ("done", "skipped", "held") else log.error)(
            "remediation.key", item.reason or item.status, **item.to_json()
        )
    status = "ok" if result.ok else "partial"
    return AutoRemediation(
        SinkOutcome(
            "remediation",
            status,
            f"{done} of {len(items)} unused access key(s) deactivated; journal "
            f"{layout.uri(journal_key)}",
            None
            if result.ok
            else "; ".join(i.reason for i in items if i.status in ("failed", "refused")),
            {"deactivated": done, "steps": len(items)},
        ),
        items=items,
        plan_key=plan_key,
        journal_key=journal_key,
        journal_uri=layout.uri(journal_key),
        lines=tuple(lines),
    )
