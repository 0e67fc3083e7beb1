"""Notification sinks: SNS, Slack, Security Hub, EventBridge.

Each sink takes what a run has to say and returns a :class:`SinkOutcome`; none raises for an
AWS or network error, so one failing sink never stops another. None of them judges: what is new,
due a reminder or resolved was decided before (``automation.state``), and a :class:`Notice`
carries it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...model import AccountInfo, Finding


@dataclass(frozen=True)
class SinkOutcome:
    """What one sink did in one run."""

    sink: str
    """``s3``, ``state``, ``sns``, ``slack``, ``securityhub`` or ``eventbridge``."""
    status: str
    """``ok``; ``partial`` (some items failed); ``failed``; ``skipped`` (not configured, or
    nothing to send)."""
    detail: str = ""
    """One line for a person: what was done, or why not."""
    error: str | None = None
    """The AWS error code and message (never a secret), when it failed."""
    counts: dict[str, int] = field(default_factory=dict)
    """What was sent, imported, failed..., by name."""

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "partial")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "detail": self.detail}
        if self.error:
            out["error"] = self.error
        if self.counts:
            out["counts"] = dict(self.counts)
        return out


@dataclass(frozen=True)
class ResolvedItem:
    """A finding the previous run reported and this run does not."""

    finding_id: str
    type: str
    principal_name: str
    principal_arn: str
    access_key_id: str | None
    reason: str


@dataclass(frozen=True)
class Notice:
    """What one run has to tell people; the input of the SNS and Slack messages."""

    run_id: str
    as_of: str
    """The evaluation time of the report, ISO-8601 UTC."""
    accounts: tuple[AccountInfo, ...]
    open: tuple[Finding, ...]
    """Every finding of this run."""
    new: tuple[Finding, ...] = ()
    """Not told before: first seen now, or an earlier notification was not delivered."""
    reminders: tuple[Finding, ...] = ()
    """Told before, still open past the reminder interval."""
    resolved: tuple[ResolvedItem, ...] = ()
    digest: bool = False
    """A digest lists every open finding, not only what changed."""
    reminder_days: int = 7
    first_seen: dict[str, str] = field(default_factory=dict)
    """When each open finding was first seen, by finding id."""
    partial: str | None = None
    """Why the run is partial (collection stopped early); None for a complete run."""
    gaps: tuple[str, ...] = ()
    """Sources not fully read: ``account/source: status (error codes)``."""
    problems: tuple[str, ...] = ()
    """What went wrong before the notice was sent (reports not saved...)."""
    report_url: str | None = None
    """``s3://`` URI of the report."""
    console_url: str | None = None
    """The S3 console page of this run's reports."""
    other_reports: tuple[str, ...] = ()
    """File names of the run's other reports and the evidence bundle."""
    remediation: tuple[str, ...] = ()
    """What the run changed by itself (``AUTO_DEACTIVATE_KEYS``): one line per key."""
    remediation_journal: str | None = None
    """``s3://`` URI of the journal of those changes (rollback reads it)."""

    @property
    def has_news(self) -> bool:
        return bool(self.new or self.reminders)
