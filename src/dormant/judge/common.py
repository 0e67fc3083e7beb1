"""The one rule every usage verdict follows, and the facts about IAM's tracking it rests on.

Pure: no I/O, no clock. ``as_of`` is always passed in.
"""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass

from ..model import Observation, Verdict
from ..timeutil import UTC, iso, whole_days

PASSWORD_TRACKING_START = dt.datetime(2014, 10, 20, tzinfo=UTC)
"""IAM records console password use since 2014-10-20 (IAM User Guide, credential report)."""
ACCESS_KEY_TRACKING_START = dt.datetime(2015, 4, 22, tzinfo=UTC)
"""IAM records access key use since 2015-04-22 (IAM User Guide, credential report)."""
ROLE_TRACKING_DAYS = 400
"""RoleLastUsed and Access Advisor cover the trailing 400 days (IAM User Guide)."""
ACCESS_ADVISOR_LAG = dt.timedelta(hours=4)
"""Access Advisor and last-used data can lag about 4 hours behind use."""


@dataclass(frozen=True)
class Usage:
    """A usage verdict with the figures behind it."""

    verdict: Verdict
    is_finding: bool
    """False for used credentials and for never-used ones younger than the threshold."""
    last_used: dt.datetime | None
    days_unused: int | None
    reason: str


def _day(value: dt.datetime) -> str:
    return value.date().isoformat()


def usage_verdict(
    *,
    noun: str,
    last_used: dt.datetime | None,
    created: dt.datetime | None,
    as_of: dt.datetime,
    threshold_days: int,
    tracking_start: dt.datetime | None = None,
    window_days: int | None = None,
) -> Usage:
    """Judge one credential or role.

    - With a recorded use: unused when it is more than ``threshold_days`` before ``as_of``.
    - With none: never-used counts from ``created``, if that is inside what the evidence covers
      (after ``tracking_start`` and within ``window_days`` of ``as_of``); a credential younger
      than the threshold is not a finding. If it was created before the evidence begins, it is
      unused for at least as long as the evidence covers, when that exceeds the threshold, and
      otherwise the evidence is insufficient.
    """
    threshold = dt.timedelta(days=threshold_days)
    if last_used is not None:
        if last_used > as_of:
            return Usage(
                Verdict.USED,
                False,
                last_used,
                0,
                f"{noun} used on {_day(last_used)}, after the evaluation time",
            )
        idle = as_of - last_used
        days = whole_days(idle)
        if idle > threshold:
            return Usage(
                Verdict.UNUSED,
                True,
                last_used,
                days,
                f"{noun} last used {days} days ago ({_day(last_used)}), more than the "
                f"{threshold_days}-day threshold",
            )
        return Usage(
            Verdict.USED,
            False,
            last_used,
            days,
            f"{noun} used {days} days ago ({_day(last_used)}), within the {threshold_days}-day "
            "threshold",
        )

    if created is None:
        return Usage(
            Verdict.INSUFFICIENT_EVIDENCE,
            True,
            None,
            None,
            f"no use of the {noun} is recorded and its creation date is not known",
        )
    starts = []
    if tracking_start is not None:
        starts.append((tracking_start, f"IAM began tracking on {_day(tracking_start)}"))
    if window_days is not None:
        starts.append(
            (as_of - dt.timedelta(days=window_days), f"IAM tracks only the last {window_days} days")
        )
    cover_start, cover_why = max(starts, key=lambda s: s[0]) if starts else (None, "")
    if created > as_of:
        return Usage(
            Verdict.NEVER_USED,
            False,
            None,
            0,
            f"{noun} created on {_day(created)}, after the evaluation time",
        )
    if cover_start is None or created >= cover_start:
        age = as_of - created
        days = whole_days(age)
        if age > threshold:
            return Usage(
                Verdict.NEVER_USED,
                True,
                None,
                days,
                f"{noun} never used since it was created {days} days ago ({_day(created)})",
            )
        return Usage(
            Verdict.NEVER_USED,
            False,
            None,
            days,
            f"{noun} not used yet, created {days} days ago ({_day(created)}), within the "
            f"{threshold_days}-day threshold",
        )
    observed = as_of - cover_start
    days = whole_days(observed)
    if observed > threshold:
        return Usage(
            Verdict.UNUSED,
            True,
            None,
            days,
            f"{noun} created {_day(created)}, no use recorded in the {days} days the evidence "
            f"covers ({cover_why})",
        )
    return Usage(
        Verdict.INSUFFICIENT_EVIDENCE,
        True,
        None,
        None,
        f"no use of the {noun} is recorded, but the evidence covers only {days} days "
        f"({cover_why}), less than the {threshold_days}-day threshold",
    )


def latest(
    observations: list[tuple[dt.datetime | None, Observation]],
    *,
    not_before: dt.datetime | None = None,
) -> tuple[dt.datetime | None, list[Observation]]:
    """The latest time among several sources' values; every observation is kept.

    A use recorded before ``not_before`` (the credential's creation) belongs to an earlier
    credential of the same name, such as a deleted and re-created console password: it is kept
    in the evidence with a note and does not count as use of this one.
    """
    best: dt.datetime | None = None
    kept: list[Observation] = []
    for when, obs in observations:
        if (
            when is not None
            and not_before is not None
            and when < not_before - dt.timedelta(seconds=1)
        ):
            kept.append(
                Observation(
                    obs.source,
                    obs.field,
                    obs.value,
                    obs.read_at,
                    obs.data_as_of,
                    note=(
                        "predates the current credential's creation "
                        f"({iso(not_before)}): not counted"
                    ),
                )
            )
            continue
        kept.append(obs)
        if when is not None and (best is None or when > best):
            best = when
    return best, kept


def q(value: str) -> str:
    """Shell-quote one argument of a suggested command."""
    return shlex.quote(value)


def trail_only_usage(
    noun: str,
    trail_last: dt.datetime | None,
    *,
    as_of: dt.datetime,
    threshold_days: int,
    why: str,
) -> Usage:
    """A verdict when CloudTrail is the only source of use that could be read.

    CloudTrail can prove use, never its absence: a trail may miss regions, data events or part
    of the threshold. A recent use is ``used``; anything else is insufficient evidence.
    """
    if trail_last is not None and as_of - trail_last <= dt.timedelta(days=threshold_days):
        days = whole_days(as_of - trail_last)
        return Usage(
            Verdict.USED,
            False,
            trail_last,
            days,
            f"{noun} used {days} days ago ({_day(trail_last)}) by CloudTrail; {why}",
        )
    seen = f"; CloudTrail last saw it on {_day(trail_last)}" if trail_last else ""
    return Usage(Verdict.INSUFFICIENT_EVIDENCE, True, trail_last, None, f"{why}{seen}")
