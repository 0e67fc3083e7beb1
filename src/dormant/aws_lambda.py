"""The scheduled entry point: ``dormant.aws_lambda.handler`` (AWS Lambda, Python 3.12).

Thin, as the CLI is: it reads the settings from the environment (``automation.config``),
builds a session from the function's role, and runs ``automation.run.run``, which scans through
the same pipeline as ``dormant scan``. It returns the run's result (JSON), logs structured JSON
lines, and raises only when the run cannot happen at all (bad settings, no identity, an
unreadable policy file), so that Lambda counts an error and the alarm fires.

The event is the schedule's and is ignored, except ``{"digest": true}``, which sends the
digest now (for a first try after deploying). With ``ORG=true`` the same handler scans every
account of the organization in one run (``automation.orgscan``).

For organizations too large for one run, the template's ``OrgMode=fan-out`` state machine
chains three more handlers: ``org_list_handler`` (the member accounts, written where its
Distributed Map reads them), ``org_account_handler`` (one account per invocation: assume its
role, collect, save the evidence; a failure to reach or read the account is data, not an
error) and ``org_report_handler`` (the snapshot from what was saved, then judge, reports, state
and notifications exactly as ``handler`` does).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from typing import IO, Any

NO_BUDGET_MS = 15 * 60 * 1000
"""The time left when there is no Lambda context (a local call): Lambda's longest timeout."""


def now() -> dt.datetime:
    """The clock of the scheduled scan (this entry point, like the CLI, owns the clock)."""
    return dt.datetime.now(dt.UTC)


def handler(
    event: Mapping[str, Any] | None,
    context: Any,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    env: Mapping[str, str] | None = None,
    stream: IO[str] | None = None,
) -> dict[str, Any]:
    """Lambda calls ``handler(event, context)``; tests also pass a clock, an environment and a
    stream for the logs."""
    from .automation.config import Settings
    from .automation.logs import Log
    from .automation.run import run
    from .errors import DormantError
    from .sources.aws import build_session

    clock = clock or now
    env = os.environ if env is None else env
    log = Log(clock, stream, function=getattr(context, "function_name", None) or "local")
    remaining = getattr(context, "get_remaining_time_in_millis", None) or (lambda: NO_BUDGET_MS)
    try:
        settings = Settings.from_env(env)
        session = build_session(region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"))
        return run(
            settings,
            session,
            clock=clock,
            remaining_ms=remaining,
            request_id=getattr(context, "aws_request_id", None),
            log=log,
            force_digest=isinstance(event, Mapping) and event.get("digest") is True,
        )
    except DormantError as exc:
        log.error("run.failed", str(exc), error=type(exc).__name__)
        raise
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        log.error("run.crashed", f"{type(exc).__name__}: {first}", error=type(exc).__name__)
        raise


def _invocation(context: Any, clock, env, stream):
    from .automation.logs import Log

    clock = clock or now
    env = os.environ if env is None else env
    log = Log(clock, stream, function=getattr(context, "function_name", None) or "local")
    remaining = getattr(context, "get_remaining_time_in_millis", None) or (lambda: NO_BUDGET_MS)
    return clock, env, log, remaining


def _guarded(log: Any, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Log why a step failed, then let Lambda (and the state machine's retries) see it."""
    from .errors import DormantError

    try:
        return fn()
    except DormantError as exc:
        log.error("run.failed", str(exc), error=type(exc).__name__)
        raise
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        log.error("run.crashed", f"{type(exc).__name__}: {first}", error=type(exc).__name__)
        raise


def _org_step(env: Mapping[str, str]) -> tuple[Any, Any]:
    """A fan-out step's settings (ORG=true required) and the session of the function's role."""
    from .automation.config import ConfigError, Settings
    from .sources.aws import build_session

    settings = Settings.from_env(env)
    if not settings.org:
        raise ConfigError("ORG: the organization fan-out's steps need ORG=true")
    return settings, build_session(region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"))


def org_list_handler(
    event: Mapping[str, Any] | None,
    context: Any,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    env: Mapping[str, str] | None = None,
    stream: IO[str] | None = None,
) -> dict[str, Any]:
    """Step 1 of the fan-out: list the member accounts (ORG_ACCOUNTS, ORG_EXCLUDE_ACCOUNTS,
    ORG_OUS narrow them) into ``<run prefix>members.json``; returns the run's identity, the
    bucket and the key, which the state machine passes on. The event may carry the execution's
    ``execution`` name and ``started_at`` time, from which the run id is made."""
    clock, env, log, _ = _invocation(context, clock, env, stream)

    def step() -> dict[str, Any]:
        from .automation import store
        from .automation.orgscan import list_step
        from .automation.run import new_run_id
        from .collect import identify
        from .timeutil import parse_time

        settings, session = _org_step(env)
        event_ = event if isinstance(event, Mapping) else {}
        try:
            started = parse_time(event_["started_at"]) if event_.get("started_at") else clock()
        except ValueError:
            started = clock()
        run_id = new_run_id(started, str(event_.get("execution") or "") or None)
        log.bind(run_id=run_id)
        identity = identify(session)
        log.bind(account_id=identity["Account"])
        return list_step(
            session,
            settings,
            identity,
            layout=store.Layout(settings.bucket, settings.prefix),
            run_id=run_id,
            started=started,
            log=log,
        )

    return _guarded(log, step)


def org_account_handler(
    event: Mapping[str, Any] | None,
    context: Any,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    env: Mapping[str, str] | None = None,
    stream: IO[str] | None = None,
) -> dict[str, Any]:
    """Step 2 of the fan-out, one Distributed Map item ``{"member": {...}, "run": {...}}``:
    scan that account (assume ORG_ROLE_NAME in it) and save its evidence under the run's prefix.
    Returns the account id, its scan status and the key. Raises only when the evidence cannot be
    saved or the event is not the state machine's."""
    clock, env, log, remaining = _invocation(context, clock, env, stream)

    def step() -> dict[str, Any]:
        from .automation.orgscan import account_step

        settings, session = _org_step(env)
        return account_step(session, settings, event, clock=clock, remaining_ms=remaining, log=log)

    return _guarded(log, step)


def org_report_handler(
    event: Mapping[str, Any] | None,
    context: Any,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    env: Mapping[str, str] | None = None,
    stream: IO[str] | None = None,
) -> dict[str, Any]:
    """Step 3 of the fan-out: the snapshot of every account the Map saved (those it did not are
    named as not scanned), then the same run as ``handler``: reports, state, notifications.
    Returns the run's result."""
    clock, env, log, remaining = _invocation(context, clock, env, stream)

    def step() -> dict[str, Any]:
        from .automation.orgscan import assemble, run_from_event
        from .automation.run import Collected, run
        from .timeutil import parse_time

        settings, session = _org_step(env)
        run_info = run_from_event(event)

        def collector(req: Any) -> Any:
            got = assemble(
                req.session,
                req.settings,
                event,
                layout=req.info.layout,
                s3=req.s3,
                clock=req.clock,
                log=req.log,
            )
            return Collected(got.snapshot, got.partial, got.problems, got.summary)

        return run(
            settings,
            session,
            clock=clock,
            remaining_ms=remaining,
            request_id=getattr(context, "aws_request_id", None),
            log=log,
            collector=collector,
            run_id=run_info["run_id"],
            started=parse_time(run_info["started_at"]),
        )

    return _guarded(log, step)
