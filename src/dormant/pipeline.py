"""The one pipeline every entry point runs: collect -> snapshot -> judge.

The CLI, the demo and the Lambda handler all call these, so none of them holds logic another
lacks. Sinks (formats, notifications) come after, chosen by the entry point.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
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


def collect_org_snapshot(
    base: AccountSession,
    *,
    clock: Callable[[], dt.datetime],
    settings: Any = None,
    accounts: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    ous: Iterable[str] | None = None,
    members: list[Any] | None = None,
    **options: Any,
) -> Snapshot:
    """Read every member account of the organization into one snapshot.

    ``base`` is the session of the management account or of a delegated administrator;
    ``settings`` an :class:`dormant.org.OrgSettings`; ``accounts``, ``exclude`` and ``ous``
    narrow the accounts listed (unless ``members`` is given); the other options are those of
    :func:`dormant.org.collect_organization` (``options``, ``progress``, ``cancel``,
    ``checkpoint``, ``resume``, ``target``). Raises :class:`dormant.org.OrgScanInterrupted` when
    stopped before every account is done."""
    from .org import OrgSettings, collect_organization, list_member_accounts

    if members is None:
        members = list_member_accounts(base, accounts=accounts, exclude=exclude, ous=ous)
    return collect_organization(
        base, clock=clock, settings=settings or OrgSettings(), members=members, **options
    )


def scan_org(
    base: AccountSession,
    policy: Policy,
    *,
    clock: Callable[[], dt.datetime],
    **options: Any,
) -> ScanResult:
    """:func:`collect_org_snapshot`, then judge: one report for the whole organization."""
    snap = collect_org_snapshot(base, clock=clock, **options)
    return ScanResult(snapshot=snap, report=judge_snapshot(snap, policy))
