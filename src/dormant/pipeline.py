"""The one pipeline every entry point runs: collect -> snapshot -> judge.

The CLI, the demo and the Lambda handler all call these, so none of them holds logic another
lacks. Sinks (formats, notifications) come after, chosen by the entry point.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .judge import judge
from .model import Report
from .policy import Policy
from .snapshot import Snapshot
from .sources.aws import AccountSession
from .timeutil import parse_time


@dataclass(frozen=True)
class ScanResult:
    snapshot: Snapshot
    report: Report


def collect_snapshot(
    session: AccountSession,
    *,
    clock: Callable[[], dt.datetime],
    **options: Any,
) -> Snapshot:
    """Read the evidence of the session's account (options as :func:`collect.collect_account`)."""
    from .collect import collect

    snap = collect(session, clock=clock, **options)
    if snap.digest is None:
        snap.digest = snap.manifest()[1]
    return snap


def judge_snapshot(snapshot: Snapshot, policy: Policy, as_of: dt.datetime | None = None) -> Report:
    """Judge a snapshot, by default as of when it was collected."""
    return judge(snapshot, policy, as_of or parse_time(snapshot.created_at))


def scan(
    session: AccountSession,
    policy: Policy,
    *,
    clock: Callable[[], dt.datetime],
    **options: Any,
) -> ScanResult:
    snap = collect_snapshot(session, clock=clock, **options)
    return ScanResult(snapshot=snap, report=judge_snapshot(snap, policy))
