"""One scheduled run: scan the account through the one pipeline, save the evidence and the
reports to S3, compare with the previous run, and notify only about what people need to hear.

Order, and what a failure at each step does:

1. Identify the account and read the policy file: a failure here is fatal (the function errors,
   the alarm fires), because scanning with the wrong policy would page people wrongly.
2. Read the previous state: if it cannot be read, every finding counts as new, the run says so,
   and the state is not overwritten.
3. Collect under the time budget (a partial run if it runs out), write the bundle, judge.
4. Save the bundle and every report format to S3; compare with the previous state.
5. Sinks, each on its own: SNS and Slack (only when something is new, due a reminder, on the
   digest day, or the run is partial), Security Hub, EventBridge. One failing never stops the
   others; each outcome is in the result and the logs.
6. Save the new state (``last_notified`` only for what was delivered) and the run's result.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import pipeline
from .. import snapshot as snapshot_mod
from ..collect import identify
from ..errors import DormantError
from ..model import Report
from ..policy import Policy, parse_policy
from ..sinks.formats import FORMATS, render
from ..sinks.formats.asff import Target
from ..sinks.formats.json_format import summary
from ..sinks.notify import Notice, ResolvedItem, SinkOutcome, eventbridge, securityhub, slack, sns
from ..snapshot import Snapshot
from ..sources.aws import AccountSession
from ..timeutil import iso
from . import store
from .budget import Watchdog
from .config import Settings
from .logs import Log
from .state import Changes, State, StateError, advance, compare

SINK_MAX_ATTEMPTS = 3
"""Retries for the sinks' calls: they run within the time reserve, after collection, so a
throttled or unreachable service must fail in seconds, not ride out ten backoffs."""

SKIPPED_FORMATS = frozenset({"table"})
"""Formats not saved to S3: the table is for a terminal."""

PREFERRED_REPORT = ("html", "markdown", "json")
"""The report a notification links to, the first of these that was saved."""


class NotSupportedError(DormantError):
    """A setting asks for something this version cannot do yet."""


def new_run_id(start: dt.datetime, request_id: str | None) -> str:
    """Sortable and unique: ``20261129T060000Z-1a2b3c4d`` (the Lambda request id's start)."""
    suffix = (request_id or uuid.uuid4().hex).replace("-", "")[:8]
    return f"{start:%Y%m%dT%H%M%SZ}-{suffix}"


# -------------------------------------------------------------------------------- steps


def load_policy(session: AccountSession, settings: Settings) -> Policy:
    """The policy file from S3 or SSM (the CLI's format), with the env's overrides."""
    file, source = None, None
    if settings.policy_s3_uri:
        source = settings.policy_s3_uri
        text = store.read_s3_uri(session.client("s3"), source)
        file = parse_policy(text, source)
    elif settings.policy_ssm_parameter:
        source = f"ssm:{settings.policy_ssm_parameter}"
        text = store.read_parameter(session.client("ssm"), settings.policy_ssm_parameter)
        file = parse_policy(text, source)
    return Policy(file, source=source, cis=settings.cis, threshold_days=settings.threshold_days)


def collect(
    session: AccountSession,
    settings: Settings,
    identity: dict[str, Any],
    *,
    clock: Callable[[], dt.datetime],
    remaining_ms: Callable[[], int],
) -> tuple[Snapshot, str | None]:
    """The snapshot, and why it is partial (None when complete).

    The organization scan plugs in here: with ``ORG=true`` it will collect every member account
    (``sources.aws.assume_role_session``) into one snapshot; until then it is refused.
    """
    if settings.org:
        raise NotSupportedError(
            "ORG=true: scanning every account of an organization is not supported yet; "
            "unset ORG to scan this function's own account"
        )
    with Watchdog(remaining_ms, settings.time_reserve_seconds) as dog:
        snap = pipeline.collect_snapshot(
            session,
            clock=clock,
            concurrency=settings.concurrency,
            cancel=dog.cancel,
            identity=identity,
        )
    partial = dog.describe() if dog.fired else None
    if partial:
        snap.notes.append(f"partial run: {partial}")
        snap.digest = None
    return snap, partial


def evidence_zip(snap: Snapshot) -> bytes:
    """The bundle as a zip (written atomically in a temporary directory); sets its digest."""
    with tempfile.TemporaryDirectory(prefix="dormant-") as tmp:
        path = Path(tmp) / "evidence.zip"
        snapshot_mod.write(snap, path)
        return path.read_bytes()


def artifacts(report: Report, evidence: bytes) -> dict[str, bytes]:
    """Every file of a run, by name: the bundle and each report format."""
    files = {"evidence.zip": evidence}
    for fmt in FORMATS:
        if fmt not in SKIPPED_FORMATS:
            files[store.report_name(fmt)] = render(report, fmt).encode("utf-8")
    return files


def save_artifacts(
    client: Any, layout: store.Layout, run_prefix: str, files: dict[str, bytes]
) -> tuple[SinkOutcome, dict[str, str]]:
    """Write every file; the outcome and the keys written, by name."""
    keys, errors = {}, []
    for name, body in files.items():
        key = run_prefix + name
        try:
            store.put(client, layout.bucket, key, body)
            keys[name] = key
        except store.StoreError as exc:
            errors.append(str(exc))
    if not errors:
        status = "ok"
    else:
        status = "partial" if keys else "failed"
    return (
        SinkOutcome(
            "s3",
            status,
            f"{len(keys)} of {len(files)} files written under {layout.uri(run_prefix)}",
            "; ".join(errors[:2]) + (f" (and {len(errors) - 2} more)" if len(errors) > 2 else "")
            if errors
            else None,
            {"written": len(keys), "failed": len(errors)},
        ),
        keys,
    )


def _gaps(report: Report) -> tuple[str, ...]:
    out = []
    for c in report.coverage:
        if c.status in ("read", "skipped"):
            continue
        codes = sorted({e.get("code", "") for e in c.errors})
        out.append(f"{c.account_id}/{c.source}: {c.status} ({', '.join(codes)})")
    return tuple(out)


def _guarded(name: str, fn: Callable[[], SinkOutcome]) -> SinkOutcome:
    """A sink's outcome; an unexpected exception becomes a failed outcome, so the next sink
    still runs."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - one sink must never stop another
        return SinkOutcome(name, "failed", "unexpected error", f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------------- run


def run(
    settings: Settings,
    session: AccountSession,
    *,
    clock: Callable[[], dt.datetime],
    remaining_ms: Callable[[], int],
    request_id: str | None,
    log: Log,
    force_digest: bool = False,
) -> dict[str, Any]:
    """One scheduled run; returns its result (JSON-able, secrets scrubbed)."""
    start = clock()
    run_id = new_run_id(start, request_id)
    log.bind(run_id=run_id)
    identity = identify(session)
    account_id = identity["Account"]
    partition = str(identity.get("Arn", "arn:aws:")).split(":")[1] or "aws"
    log.bind(account_id=account_id)
    log.info("run.started", bucket=settings.bucket, prefix=settings.prefix)
    policy = load_policy(session, settings)

    s3 = session.client("s3")
    layout = store.Layout(settings.bucket, settings.prefix)
    outcomes: dict[str, SinkOutcome] = {}
    problems: list[str] = []
    previous: State | None = None
    etag: str | None = None
    state_error: str | None = None
    try:
        previous, etag = store.load_state(s3, layout)
    except (store.StoreError, StateError) as exc:
        state_error = str(exc)
        problems.append(f"previous state not read, so every finding counts as new: {exc}")
        log.error("state.unreadable", state_error)

    snap, partial = collect(session, settings, identity, clock=clock, remaining_ms=remaining_ms)
    if partial:
        log.warning("run.partial", partial)
    evidence = evidence_zip(snap)
    report = pipeline.judge_snapshot(snap, policy)
    now = clock()
    stamp = iso(now)

    run_prefix = layout.run_prefix(start, run_id)
    outcomes["s3"], keys = save_artifacts(s3, layout, run_prefix, artifacts(report, evidence))
    if outcomes["s3"].failed:
        problems.append(f"reports not all saved to S3: {outcomes['s3'].error}")
    report_key = next(
        (keys[store.report_name(f)] for f in PREFERRED_REPORT if store.report_name(f) in keys),
        None,
    )
    report_url = layout.uri(report_key) if report_key else None

    changes: Changes = compare(
        previous, report, now=now, reminder_days=settings.reminder_days, partial=bool(partial)
    )
    digest = force_digest or (
        settings.digest_weekday is not None
        and now.weekday() == settings.digest_weekday
        and (previous is None or previous.last_digest_on != now.date().isoformat())
    )
    first_seen = {f.id: t.first_seen for f in report.findings if (t := _tracked(previous, f.id))}
    notice = Notice(
        run_id=run_id,
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
        gaps=_gaps(report),
        problems=tuple(problems),
        report_url=report_url,
        console_url=layout.console_url(run_prefix, session.region, partition)
        if report_url
        else None,
        other_reports=tuple(sorted(n for n in keys if keys[n] != report_key)),
    )
    should_tell = bool(changes.to_tell) or digest or partial is not None
    quiet = "nothing new, no reminder due, not the digest day"
    sinks = AccountSession(
        session.session, endpoint_url=session.endpoint_url, max_attempts=SINK_MAX_ATTEMPTS
    )

    if settings.topic_arn:
        outcomes["sns"] = (
            _guarded(
                "sns",
                lambda: sns.publish(
                    sinks.client("sns"),
                    settings.topic_arn,
                    notice,
                    max_listed=settings.max_listed,
                ),
            )
            if should_tell
            else SinkOutcome("sns", "skipped", quiet)
        )
    if settings.slack_secret or settings.slack_parameter:
        outcomes["slack"] = (
            _guarded("slack", lambda: _slack(sinks, settings, notice, log))
            if should_tell
            else SinkOutcome("slack", "skipped", quiet)
        )
    if settings.security_hub:
        target = Target(partition, session.region, account_id)
        outcomes["securityhub"] = _guarded(
            "securityhub",
            lambda: securityhub.sync(
                sinks.client("securityhub"),
                target,
                report.findings,
                first_seen={**first_seen, **{f.id: stamp for f in changes.new}},
                now=stamp,
                resolve=not partial,
                run_id=run_id,
                report_url=report_url,
            ),
        )
    if settings.eventbridge:
        outcomes["eventbridge"] = _guarded(
            "eventbridge",
            lambda: eventbridge.publish(
                sinks.client("events"),
                changes.new,
                bus=settings.event_bus,
                run_id=run_id,
                report_url=report_url,
            ),
        )

    delivered = any(outcomes[s].status == "ok" for s in ("sns", "slack") if s in outcomes)
    told = [f.id for f in (report.findings if digest else changes.to_tell)] if delivered else []
    new_state = advance(
        previous,
        report,
        changes,
        now=now,
        run_id=run_id,
        notified=told,
        digest_delivered=digest and delivered,
    )
    if state_error is not None:
        outcomes["state"] = SinkOutcome(
            "state",
            "failed",
            "not saved, so as not to overwrite a state it could not read",
            state_error,
        )
    else:
        try:
            store.save_state(s3, layout, new_state, etag)
            outcomes["state"] = SinkOutcome(
                "state",
                "ok",
                f"{len(new_state.findings)} open findings saved to {layout.uri(layout.state_key)}",
            )
        except store.StoreError as exc:
            outcomes["state"] = SinkOutcome("state", "failed", "not saved", str(exc))

    result = _result(
        run_id=run_id,
        account_id=account_id,
        report=report,
        changes=changes,
        digest=digest,
        delivered=delivered,
        should_tell=should_tell,
        partial=partial,
        outcomes=outcomes,
        layout=layout,
        run_prefix=run_prefix,
        keys=keys,
        report_url=report_url,
        snapshot_digest=snap.digest,
    )
    result = log.scrub(result)
    if outcomes["s3"].status != "failed":
        try:
            store.put(s3, layout.bucket, run_prefix + "run.json", _json_bytes(result))
            result["report"]["keys"]["run.json"] = run_prefix + "run.json"
        except store.StoreError as exc:
            log.error("run.result_not_saved", str(exc))
    for name, outcome in outcomes.items():
        level = log.error if outcome.failed else log.info
        fields = {k: v for k, v in outcome.to_json().items() if k != "detail"}
        level(f"sink.{name}", outcome.detail, **fields)
    failures = sum(1 for o in outcomes.values() if o.failed)
    log.metrics(
        {
            "Findings": len(report.findings),
            "NewFindings": len(changes.new),
            "ResolvedFindings": len(changes.resolved),
            "PartialRun": 1 if partial else 0,
            "SinkFailures": failures,
            "RunProblems": failures + (1 if partial else 0),
        },
        {"AccountId": account_id},
    )
    log.info(
        "run.finished",
        result["status"],
        status=result["status"],
        partial=bool(partial),
        counts=result["counts"],
    )
    return result


def _tracked(previous: State | None, fid: str):
    return previous.findings.get(fid) if previous else None


def _slack(session: AccountSession, settings: Settings, notice: Notice, log: Log) -> SinkOutcome:
    try:
        if settings.slack_secret:
            url = slack.webhook_from_secret(session.client("secretsmanager"), settings.slack_secret)
        else:
            url = slack.webhook_from_parameter(session.client("ssm"), settings.slack_parameter)
    except slack.WebhookError as exc:
        return SinkOutcome("slack", "failed", "webhook URL not read", str(exc))
    log.secret(url)
    return slack.send(url, notice, max_listed=settings.max_listed)


def _json_bytes(obj: Any) -> bytes:
    import json

    return (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()


def _result(
    *,
    run_id: str,
    account_id: str,
    report: Report,
    changes: Changes,
    digest: bool,
    delivered: bool,
    should_tell: bool,
    partial: str | None,
    outcomes: dict[str, SinkOutcome],
    layout: store.Layout,
    run_prefix: str,
    keys: dict[str, str],
    report_url: str | None,
    snapshot_digest: str | None,
) -> dict[str, Any]:
    failed = sorted(n for n, o in outcomes.items() if o.failed)
    status = "partial" if partial else ("degraded" if failed else "ok")
    s = summary(report)
    return {
        "run_id": run_id,
        "account_id": account_id,
        "as_of": report.as_of,
        "status": status,
        "partial": bool(partial),
        "partial_reason": partial,
        "counts": {
            "findings": s["findings"],
            "by_type": s["by_type"],
            "by_verdict": s["by_verdict"],
            "excluded": s["excluded"],
            "new": len(changes.new),
            "not_yet_notified": len(changes.unsent),
            "reminded": len(changes.due),
            "resolved": len(changes.resolved),
            "unchanged": len(changes.quiet),
        },
        "new": [f.id for f in changes.new],
        "reminded": [f.id for f in changes.due],
        "resolved": [r.tracked.id for r in changes.resolved],
        "notification": {
            "needed": should_tell,
            "digest": digest,
            "delivered": delivered,
        },
        "sinks": {n: o.to_json() for n, o in outcomes.items()},
        "failed_sinks": failed,
        "coverage_gaps": list(_gaps(report)),
        "warnings": list(report.warnings),
        "snapshot_digest": snapshot_digest,
        "report": {
            "bucket": layout.bucket,
            "prefix": run_prefix,
            "url": report_url,
            "keys": dict(keys),
        },
    }
