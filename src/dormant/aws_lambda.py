"""The scheduled entry point: ``dormant.aws_lambda.handler`` (AWS Lambda, Python 3.12).

Thin, as the CLI is: it reads the settings from the environment (``automation.config``),
builds a session from the function's role, and runs ``automation.run.run``, which scans through
the same pipeline as ``dormant scan``. It returns the run's result (JSON), logs structured JSON
lines, and raises only when the run cannot happen at all (bad settings, no identity, an
unreadable policy file), so that Lambda counts an error and the alarm fires.

The event is the schedule's and is ignored, except ``{"digest": true}``, which sends the
digest now (for a first try after deploying).
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
