"""One scheduled run: scan the account through the one pipeline, save the evidence and the
reports to S3, compare with the previous run, and notify only about what people need to hear.

Order, and what a failure at each step does:

1. Identify the account and read the policy file: a failure here is fatal (the function errors,
   the alarm fires), because scanning with the wrong policy would page people wrongly.
2. Read the previous state: if it cannot be read, every finding counts as new, the run says so,
   and the state is not overwritten.
3. Collect under the time budget (a partial run if it runs out), write the bundle, judge.
   With ``ORG=true`` every member account (``automation.orgscan``: each finished account is
   saved as it completes, and the next run resumes an unfinished scan); the fan-out's report
   step passes a ``collector`` that reads back what the account steps saved.
4. Save the bundle and every report format to S3; compare with the previous state.
5. Sinks, each on its own: SNS and Slack (only when something is new, due a reminder, on the
   digest day, or the run is partial), Security Hub, EventBridge. One failing never stops the
   others; each outcome is in the result and the logs.
6. Save the new state (``last_notified`` only for what was delivered) and the run's result.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import pipeline
from ..collect import identify
from ..policy import Policy, parse_policy
from ..sinks.notify import SinkOutcome
from ..snapshot import Snapshot
from ..sources.aws import AccountSession
from ..timeutil import iso
from . import artifacts, store
from .budget import Watchdog
from .config import Settings
from .dispatch import RunInfo, build_notice, delivered, dispatch
from .logs import Log
from .result import log_run, summarize
from .state import State, StateError, advance, compare


@dataclass
class Collected:
    """What the collection step gives the rest of the run."""

    snapshot: Snapshot
    partial: str | None = None
    """Why the run is partial; None when everything was collected."""
    problems: list[str] = field(default_factory=list)
    org: dict[str, Any] | None = None
    """The organization scan's accounts (the result's ``org`` block)."""


@dataclass(frozen=True)
class CollectRequest:
    """What a collector is given."""

    session: AccountSession
    settings: Settings
    identity: dict[str, Any]
    info: RunInfo
    s3: Any
    clock: Callable[[], dt.datetime]
    remaining_ms: Callable[[], int]
    log: Log


Collector = Callable[[CollectRequest], Collected]


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
    """The snapshot of the function's own account, and why it is partial (None when complete)."""
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


def collect_request(req: CollectRequest) -> Collected:
    """The default collector: the organization (``ORG=true``) or the function's own account."""
    if req.settings.org:
        from .orgscan import collect_in_one_run

        got = collect_in_one_run(
            req.session,
            req.settings,
            req.identity,
            layout=req.info.layout,
            run_id=req.info.run_id,
            run_prefix=req.info.run_prefix,
            s3=req.s3,
            clock=req.clock,
            remaining_ms=req.remaining_ms,
            log=req.log,
        )
        return Collected(got.snapshot, got.partial, got.problems, got.summary)
    snap, partial = collect(
        req.session, req.settings, req.identity, clock=req.clock, remaining_ms=req.remaining_ms
    )
    return Collected(snap, partial)


def _read_state(
    s3: Any, layout: store.Layout, log: Log
) -> tuple[State | None, str | None, str | None]:
    """(previous state, its ETag, why it could not be read)."""
    try:
        previous, etag = store.load_state(s3, layout)
        return previous, etag, None
    except (store.StoreError, StateError) as exc:
        log.error("state.unreadable", str(exc))
        return None, None, str(exc)


def _digest_due(settings: Settings, previous: State | None, now: dt.datetime, forced: bool) -> bool:
    """The digest is due on its weekday (UTC), once that day, or when asked for."""
    if forced:
        return True
    if settings.digest_weekday is None or now.weekday() != settings.digest_weekday:
        return False
    return previous is None or previous.last_digest_on != now.date().isoformat()


def _save_state(
    s3: Any, layout: store.Layout, state: State, etag: str | None, state_error: str | None
) -> SinkOutcome:
    if state_error is not None:
        return SinkOutcome(
            "state",
            "failed",
            "not saved, so as not to overwrite a state it could not read",
            state_error,
        )
    try:
        store.save_state(s3, layout, state, etag)
    except store.StoreError as exc:
        return SinkOutcome("state", "failed", "not saved", str(exc))
    return SinkOutcome(
        "state",
        "ok",
        f"{len(state.findings)} open findings saved to {layout.uri(layout.state_key)}",
    )


def _remediate(session, s3, layout, info, report, snap, policy, saved, partial, *, clock, log):
    """The automatic key deactivation (``AUTO_DEACTIVATE_KEYS``): never on a partial run, nor
    when the run's files could not be saved (the journal goes beside them)."""
    from ..sinks.notify import SinkOutcome
    from .remediate import AutoRemediation, deactivate_unused_keys

    if partial:
        return AutoRemediation(
            SinkOutcome("remediation", "skipped", "partial run: nothing deactivated")
        )
    if saved.outcome.status == "failed":
        return AutoRemediation(
            SinkOutcome(
                "remediation", "skipped", "the run's files could not be saved: nothing deactivated"
            )
        )
    return deactivate_unused_keys(
        session,
        s3,
        layout,
        info.run_prefix,
        report=report,
        snapshot=snap,
        policy=policy,
        clock=clock,
        log=log,
    )


def run(
    settings: Settings,
    session: AccountSession,
    *,
    clock: Callable[[], dt.datetime],
    remaining_ms: Callable[[], int],
    request_id: str | None,
    log: Log,
    force_digest: bool = False,
    collector: Collector | None = None,
    run_id: str | None = None,
    started: dt.datetime | None = None,
) -> dict[str, Any]:
    """One scheduled run; returns its result (JSON-able, secrets scrubbed).

    ``collector`` replaces the collection step (the organization fan-out's report step), and
    ``run_id`` and ``started`` continue a run that an earlier step began."""
    start = started or clock()
    run_id = run_id or new_run_id(start, request_id)
    log.bind(run_id=run_id)
    identity = identify(session)
    account_id = identity["Account"]
    log.bind(account_id=account_id)
    log.info("run.started", bucket=settings.bucket, prefix=settings.prefix)
    policy = load_policy(session, settings)
    layout = store.Layout(settings.bucket, settings.prefix)
    info = RunInfo(
        run_id=run_id,
        account_id=account_id,
        partition=str(identity.get("Arn", "arn:aws:")).split(":")[1] or "aws",
        region=session.region,
        layout=layout,
        run_prefix=layout.run_prefix(start, run_id),
    )
    s3 = session.client("s3")
    previous, etag, state_error = _read_state(s3, layout, log)
    problems = []
    if state_error:
        problems.append(f"previous state not read, so every finding counts as new: {state_error}")

    collected = (collector or collect_request)(
        CollectRequest(session, settings, identity, info, s3, clock, remaining_ms, log)
    )
    snap, partial = collected.snapshot, collected.partial
    problems += collected.problems
    if partial:
        log.warning("run.partial", partial)
    evidence = artifacts.evidence_zip(snap)
    report = pipeline.judge_snapshot(snap, policy)
    now = clock()

    saved = artifacts.save(s3, layout, info.run_prefix, artifacts.files(report, evidence))
    outcomes: dict[str, SinkOutcome] = {"s3": saved.outcome}
    if saved.outcome.failed:
        problems.append(f"reports not all saved to S3: {saved.outcome.error}")

    remediation = None
    if settings.auto_deactivate_keys:
        remediation = _remediate(
            session, s3, layout, info, report, snap, policy, saved, partial, clock=clock, log=log
        )
        outcomes["remediation"] = remediation.outcome
        if remediation.outcome.failed:
            problems.append(f"automatic key deactivation: {remediation.outcome.error}")

    changes = compare(
        previous, report, now=now, reminder_days=settings.reminder_days, partial=bool(partial)
    )
    digest = _digest_due(settings, previous, now, force_digest)
    first_seen = {
        f.id: previous.findings[f.id].first_seen
        for f in report.findings
        if previous and f.id in previous.findings
    }
    notice = build_notice(
        info,
        report,
        changes,
        settings=settings,
        digest=digest,
        first_seen=first_seen,
        partial=partial,
        problems=tuple(problems),
        report_key=saved.report_key,
        others=saved.others(),
        remediation=remediation,
    )
    acted = bool(remediation and remediation.items)
    tell = bool(changes.to_tell) or digest or partial is not None or acted
    outcomes.update(
        dispatch(
            settings,
            session,
            info,
            report,
            changes,
            notice,
            tell=tell,
            now=iso(now),
            first_seen=first_seen,
            partial=bool(partial),
            log=log,
        )
    )
    told = delivered(outcomes)
    new_state = advance(
        previous,
        report,
        changes,
        now=now,
        run_id=run_id,
        notified=[f.id for f in (report.findings if digest else changes.to_tell)] if told else [],
        digest_delivered=digest and told,
    )
    outcomes["state"] = _save_state(s3, layout, new_state, etag, state_error)

    result = log.scrub(
        summarize(
            info,
            report,
            changes,
            outcomes,
            keys=saved.keys,
            report_key=saved.report_key,
            digest=digest,
            tell=tell,
            delivered=told,
            partial=partial,
            snapshot_digest=snap.digest,
            remediation=remediation.to_json() if remediation else None,
            org=collected.org,
        )
    )
    if saved.outcome.status != "failed":
        key = info.run_prefix + "run.json"
        try:
            body = (json.dumps(result, indent=1, sort_keys=True) + "\n").encode()
            store.put(s3, layout.bucket, key, body)
            result["report"]["keys"]["run.json"] = key
        except store.StoreError as exc:
            log.error("run.result_not_saved", str(exc))
    log_run(log, result, outcomes)
    return result
