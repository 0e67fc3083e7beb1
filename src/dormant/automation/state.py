"""What the scheduled scan remembers between runs, and what changed since the last one.

The state is a small JSON document (``state.json`` beside the reports): per open finding id,
when it was first seen and when people were last told about it. From it and a new report,
:func:`compare` says what is new, what is due a reminder, what is quiet, and what was resolved
(reported last time, not now). Pure: the caller gives the time.

A partial run (collection stopped early) resolves nothing: a finding it did not see may simply
not have been read.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import DormantError
from ..model import Finding, Report
from ..timeutil import iso, parse_time

FORMAT = "dormant-lambda-state"
VERSION = 1


class StateError(DormantError):
    """The state document cannot be read as a dormant state."""


@dataclass(frozen=True)
class Tracked:
    """One open finding as the state remembers it. Ids and ARNs only: never a secret."""

    id: str
    """The finding's stable id (:attr:`dormant.model.Finding.id`)."""
    type: str
    account_id: str
    principal_arn: str
    principal_name: str
    access_key_id: str | None
    verdict: str
    """The verdict when it was last seen."""
    first_seen: str
    """When a run first reported it, ISO-8601 UTC."""
    last_seen: str
    """When a run last reported it."""
    last_notified: str | None = None
    """When a notification about it was last delivered (by SNS or Slack); null when none was
    delivered yet, so the next run tells people again."""

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "account_id": self.account_id,
            "principal_arn": self.principal_arn,
            "principal_name": self.principal_name,
            "access_key_id": self.access_key_id,
            "verdict": self.verdict,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "last_notified": self.last_notified,
        }

    @classmethod
    def from_json(cls, fid: str, d: dict[str, Any]) -> Tracked:
        return cls(
            id=fid,
            type=d["type"],
            account_id=d["account_id"],
            principal_arn=d["principal_arn"],
            principal_name=d.get("principal_name") or d["principal_arn"].rsplit("/", 1)[-1],
            access_key_id=d.get("access_key_id"),
            verdict=d["verdict"],
            first_seen=d["first_seen"],
            last_seen=d.get("last_seen") or d["first_seen"],
            last_notified=d.get("last_notified"),
        )

    @classmethod
    def of(cls, f: Finding, now: str) -> Tracked:
        return cls(
            id=f.id,
            type=str(f.type),
            account_id=f.account_id,
            principal_arn=f.principal_arn,
            principal_name=f.principal_name,
            access_key_id=f.access_key_id,
            verdict=str(f.verdict),
            first_seen=now,
            last_seen=now,
        )


@dataclass(frozen=True)
class State:
    """Every open finding by id, and what the last run did."""

    findings: dict[str, Tracked] = field(default_factory=dict)
    last_run_id: str | None = None
    updated_at: str | None = None
    last_digest_on: str | None = None
    """The UTC date (YYYY-MM-DD) a digest was last delivered, so a rerun that day sends none."""

    def to_bytes(self) -> bytes:
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "updated_at": self.updated_at,
            "last_run_id": self.last_run_id,
            "last_digest_on": self.last_digest_on,
            "findings": {k: self.findings[k].to_json() for k in sorted(self.findings)},
        }
        return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> State:
        try:
            doc = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StateError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise StateError(f"{where}: not a dormant state document")
        if doc.get("version", 0) > VERSION:
            raise StateError(
                f"{where}: state version {doc.get('version')} is newer than this dormant reads"
            )
        try:
            findings = {k: Tracked.from_json(k, v) for k, v in (doc.get("findings") or {}).items()}
        except (KeyError, TypeError, AttributeError) as exc:
            raise StateError(f"{where}: a finding lacks {exc}") from None
        return cls(
            findings=findings,
            last_run_id=doc.get("last_run_id"),
            updated_at=doc.get("updated_at"),
            last_digest_on=doc.get("last_digest_on"),
        )


@dataclass(frozen=True)
class Resolved:
    """A finding the previous run reported and this one does not."""

    tracked: Tracked
    reason: str
    """Why it is gone, as far as the report can say."""


@dataclass(frozen=True)
class Changes:
    """This run's findings, sorted by what people should be told about them."""

    new: tuple[Finding, ...] = ()
    """First seen in this run."""
    unsent: tuple[Finding, ...] = ()
    """Seen before, but no notification about them was delivered yet."""
    due: tuple[Finding, ...] = ()
    """Notified before, longer ago than the reminder interval."""
    quiet: tuple[Finding, ...] = ()
    """Notified recently: nothing to say."""
    resolved: tuple[Resolved, ...] = ()
    kept: tuple[Tracked, ...] = ()
    """In the state but not seen by a partial run: kept as they were, not resolved."""

    @property
    def to_tell(self) -> tuple[Finding, ...]:
        """What an alert is about: new, unsent and reminders."""
        return self.new + self.unsent + self.due


def _due(last: str, now: dt.datetime, reminder_days: int) -> bool:
    if reminder_days <= 0:
        return False
    return now - parse_time(last) >= dt.timedelta(days=reminder_days)


def compare(
    previous: State | None,
    report: Report,
    *,
    now: dt.datetime,
    reminder_days: int,
    partial: bool,
) -> Changes:
    """Sort the report's findings against the previous state."""
    prev = previous.findings if previous else {}
    new, unsent, due, quiet = [], [], [], []
    current = {f.id for f in report.findings}
    for f in report.findings:
        seen = prev.get(f.id)
        if seen is None:
            new.append(f)
        elif seen.last_notified is None:
            unsent.append(f)
        elif _due(seen.last_notified, now, reminder_days):
            due.append(f)
        else:
            quiet.append(f)
    excluded = {f.id: f.excluded_by for f in report.excluded}
    # An account this run could not read (an organization member whose role could not be
    # assumed, or none of whose users and roles could be listed) says nothing about its
    # earlier findings: they are kept open, never resolved.
    unread = {a.account_id for a in report.accounts if a.scan_status == "not-scanned"}
    resolved, kept = [], []
    for fid in sorted(set(prev) - current):
        if partial or prev[fid].account_id in unread:
            kept.append(prev[fid])
            continue
        rule = excluded.get(fid)
        reason = (
            f"now excluded ({rule})"
            if rule
            else "no longer reported: used again, removed, or deactivated"
        )
        resolved.append(Resolved(prev[fid], reason))
    return Changes(
        new=tuple(new),
        unsent=tuple(unsent),
        due=tuple(due),
        quiet=tuple(quiet),
        resolved=tuple(resolved),
        kept=tuple(kept),
    )


def advance(
    previous: State | None,
    report: Report,
    changes: Changes,
    *,
    now: dt.datetime,
    run_id: str,
    notified: Iterable[str] = (),
    digest_delivered: bool = False,
) -> State:
    """The state after this run: every open finding (seen now, or kept by a partial run), with
    ``last_notified`` set to ``now`` for the ids whose notification was delivered."""
    stamp = iso(now)
    prev = previous.findings if previous else {}
    told = set(notified)
    findings: dict[str, Tracked] = {}
    for f in report.findings:
        old = prev.get(f.id)
        t = Tracked.of(f, stamp)
        if old is not None:
            t = replace(t, first_seen=old.first_seen, last_notified=old.last_notified)
        if f.id in told:
            t = replace(t, last_notified=stamp)
        findings[f.id] = t
    for t in changes.kept:
        findings[t.id] = t
    return State(
        findings=findings,
        last_run_id=run_id,
        updated_at=stamp,
        last_digest_on=now.date().isoformat()
        if digest_delivered
        else (previous.last_digest_on if previous else None),
    )
