"""Hand a run's findings to the sinks: what to tell people (a :class:`Notice` for SNS and
Slack), and the Security Hub and EventBridge syncs. Each sink runs on its own: a failure, even
an unexpected exception, becomes its outcome and the next sink still runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..model import Report
from ..sinks.formats.asff import Target
from ..sinks.notify import Notice, ResolvedItem, SinkOutcome, eventbridge, securityhub, slack, sns
from ..sources.aws import AccountSession
from .config import Settings
from .logs import Log
from .state import Changes
from .store import Layout

SINK_MAX_ATTEMPTS = 3
"""Retries for the sinks' calls: they run in the time reserve, after collection, so a
throttled or unreachable service must fail in seconds, not ride out ten backoffs."""

QUIET = "nothing new, no reminder due, not the digest day"


@dataclass(frozen=True)
class RunInfo:
    """Who, where and which run: fixed when the run starts."""

    run_id: str
    account_id: str
    partition: str
    region: str
    layout: Layout
    run_prefix: str
    """The key prefix of this run's files, ``<prefix>/YYYY/MM/DD/<run-id>/``."""


def gaps(report: Report) -> tuple[str, ...]:
    """Sources not fully read: ``account/source: status (error codes)``."""
    out = []
    for c in report.coverage:
        if c.status in ("read", "skipped"):
            continue
        codes = sorted({e.get("code", "") for e in c.errors})
        out.append(f"{c.account_id}/{c.source}: {c.status} ({', '.join(codes)})")
    return tuple(out)


def build_notice(
    info: RunInfo,
    report: Report,
    changes: Changes,
    *,
    settings: Settings,
    digest: bool,
    first_seen: dict[str, str],
    partial: str | None,
    problems: tuple[str, ...],
    report_key: str | None,
    others: tuple[str, ...],
    remediation=None,
) -> Notice:
    report_url = info.layout.uri(report_key) if report_key else None
    return Notice(
        run_id=info.run_id,
        as_of=report.as_of,
        accounts=report.accounts,
        open=report.findings,
        new=changes.new + changes.unsent,
        reminders=changes.due,
        resolved=tuple(
            ResolvedItem(
                r.tracked.id,
                r.tracked.type,
                r.tracked.principal_name,
                r.tracked.principal_arn,
                r.tracked.access_key_id,
                r.reason,
            )
            for r in changes.resolved
        ),
        digest=digest,
        reminder_days=settings.reminder_days,
        first_seen=first_seen,
        partial=partial,
        gaps=gaps(report),
        problems=problems,
        report_url=report_url,
        console_url=info.layout.console_url(info.run_prefix, info.region, info.partition)
        if report_url
        else None,
        other_reports=others,
        remediation=_remediation_lines(remediation),
        remediation_journal=remediation.journal_uri if remediation else None,
    )


def _remediation_lines(remediation) -> tuple[str, ...]:
    if remediation is None:
        return ()
    out = []
    for item in remediation.items:
        if item.status == "done":
            out.append(f"deactivated access key {item.access_key_id} of {item.user}")
        else:
            out.append(
                f"did not deactivate access key {item.access_key_id} of {item.user} "
                f"({item.status}: {item.reason})"
            )
    if remediation.outcome.failed and not remediation.items:
        out.append(f"automatic deactivation failed: {remediation.outcome.error}")
    return tuple(out)


def guarded(name: str, fn: Callable[[], SinkOutcome]) -> SinkOutcome:
    """A sink's outcome; an unexpected exception becomes a failed outcome."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - one sink must never stop another
        return SinkOutcome(name, "failed", "unexpected error", f"{type(exc).__name__}: {exc}")


def _slack(session: AccountSession, settings: Settings, notice: Notice, log: Log) -> SinkOutcome:
    try:
        if settings.slack_secret:
            url = slack.webhook_from_secret(session.client("secretsmanager"), settings.slack_secret)
        else:
            url = slack.webhook_from_parameter(session.client("ssm"), settings.slack_parameter)
    except slack.WebhookError as exc:
        return SinkOutcome("slack", "failed", "webhook URL not read", str(exc))
    log.secret(url)  # from now on, never in a log line or the result
    return slack.send(url, notice, max_listed=settings.max_listed)


def dispatch(
    settings: Settings,
    session: AccountSession,
    info: RunInfo,
    report: Report,
    changes: Changes,
    notice: Notice,
    *,
    tell: bool,
    now: str,
    first_seen: dict[str, str],
    partial: bool,
    log: Log,
) -> dict[str, SinkOutcome]:
    """Run every configured sink; their outcomes by name. SNS and Slack send only if
    ``tell``; Security Hub resolves nothing on a partial run."""
    sinks = AccountSession(
        session.session, endpoint_url=session.endpoint_url, max_attempts=SINK_MAX_ATTEMPTS
    )
    out: dict[str, SinkOutcome] = {}
    if settings.topic_arn:
        topic = settings.topic_arn
        out["sns"] = (
            guarded(
                "sns",
                lambda: sns.publish(
                    sinks.client("sns"), topic, notice, max_listed=settings.max_listed
                ),
            )
            if tell
            else SinkOutcome("sns", "skipped", QUIET)
        )
    if settings.slack_secret or settings.slack_parameter:
        out["slack"] = (
            guarded("slack", lambda: _slack(sinks, settings, notice, log))
            if tell
            else SinkOutcome("slack", "skipped", QUIET)
        )
    if settings.security_hub:
        target = Target(info.partition, info.region, info.account_id)
        own, others = own_account_findings(report, info.account_id)
        not_scanned = {a.account_id for a in report.accounts if a.scan_status == "not-scanned"}
        out["securityhub"] = guarded(
            "securityhub",
            lambda: _limited(
                securityhub.sync(
                    sinks.client("securityhub"),
                    target,
                    own,
                    first_seen={**first_seen, **{f.id: now for f in changes.new}},
                    now=now,
                    # Nothing is resolved from a run that did not read this account.
                    resolve=not partial and info.account_id not in not_scanned,
                    run_id=info.run_id,
                    report_url=notice.report_url,
                ),
                others,
            ),
        )
    if settings.eventbridge:
        out["eventbridge"] = guarded(
            "eventbridge",
            lambda: eventbridge.publish(
                sinks.client("events"),
                changes.new,
                bus=settings.event_bus,
                run_id=info.run_id,
                report_url=notice.report_url,
            ),
        )
    return out


def own_account_findings(report: Report, account_id: str) -> tuple[tuple, dict[str, int]]:
    """The findings of the function's own account, and how many each other account has.

    Security Hub takes a finding imported under an account's own product (``product/<account>/
    default``) only from that account: BatchImportFindings requires the finding's
    ``AwsAccountId`` to be the caller's, administrator account or not; only an allow-listed
    partner integration may import for other accounts. So an organization scan imports the
    findings of the account the function runs in, and the others stay in the reports (and the
    EventBridge events, which a member account's own automation can import)."""
    own = tuple(f for f in report.findings if f.account_id == account_id)
    others: dict[str, int] = {}
    for f in report.findings:
        if f.account_id != account_id:
            others[f.account_id] = others.get(f.account_id, 0) + 1
    return own, others


def _limited(outcome: SinkOutcome, others: dict[str, int]) -> SinkOutcome:
    """The Security Hub outcome, saying which accounts' findings were not imported."""
    if not others:
        return outcome
    count = sum(others.values())
    detail = (
        f"{outcome.detail}; {count} findings of {len(others)} other accounts not imported "
        "(Security Hub accepts an account's own findings only from that account; they are in "
        "the report)"
    )
    return SinkOutcome(
        outcome.sink,
        outcome.status,
        detail,
        outcome.error,
        {**outcome.counts, "not_imported": count, "other_accounts": len(others)},
    )


def delivered(outcomes: dict[str, SinkOutcome]) -> bool:
    """Whether a channel that tells people (SNS or Slack) delivered this run's notice."""
    return any(outcomes[s].status == "ok" for s in ("sns", "slack") if s in outcomes)
