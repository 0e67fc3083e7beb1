"""Structured logs: one JSON object a line on standard output, which Lambda sends to CloudWatch
Logs, where Logs Insights can query the fields.

Secrets never reach a log: a value registered with :meth:`Log.secret` (the Slack webhook URL)
is replaced by ``[redacted]`` in every line, and in anything passed through :meth:`Log.scrub`
(the run's result, before it is returned or saved). Metrics go out in CloudWatch's embedded
metric format, so they need no API call and no permission.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from ..timeutil import iso

REDACTED = "[redacted]"
METRICS_NAMESPACE = "dormant"


class Log:
    """Structured log lines with a fixed context (run id, account) in each."""

    def __init__(
        self,
        clock: Callable[[], dt.datetime],
        stream: IO[str] | None = None,
        **context: Any,
    ) -> None:
        self._clock = clock
        self._stream = stream
        self._context = dict(context)
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def secret(self, value: str | None) -> None:
        """Never write ``value`` (nor its JSON-escaped form) in a log line or a scrubbed
        object."""
        if value and len(value) >= 4:
            with self._lock:
                self._secrets.add(value)
                self._secrets.add(json.dumps(value)[1:-1])

    def bind(self, **context: Any) -> None:
        """Add fields to every later line (the account id once it is known)."""
        self._context.update(context)

    def _redact_text(self, text: str) -> str:
        for s in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(s, REDACTED)
        return text

    def scrub(self, obj: Any) -> Any:
        """A copy of a JSON-able object with every registered secret redacted."""
        if not self._secrets:
            return obj
        return json.loads(self._redact_text(json.dumps(obj)))

    def _write(self, record: dict[str, Any]) -> None:
        line = self._redact_text(json.dumps(record, default=str, ensure_ascii=False))
        stream = self._stream or sys.stdout
        with self._lock:
            stream.write(line + "\n")
            stream.flush()

    def log(self, level: str, event: str, message: str = "", **fields: Any) -> None:
        record = {"time": iso(self._clock()), "level": level, "event": event}
        if message:
            record["message"] = message
        record.update(self._context)
        record.update(fields)
        self._write(record)

    def info(self, event: str, message: str = "", **fields: Any) -> None:
        self.log("INFO", event, message, **fields)

    def warning(self, event: str, message: str = "", **fields: Any) -> None:
        self.log("WARNING", event, message, **fields)

    def error(self, event: str, message: str = "", **fields: Any) -> None:
        self.log("ERROR", event, message, **fields)

    def metrics(self, values: dict[str, float], dimensions: dict[str, str]) -> None:
        """One line in CloudWatch's embedded metric format (namespace ``dormant``)."""
        when = self._clock()
        record: dict[str, Any] = {
            "_aws": {
                "Timestamp": int(when.timestamp() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": METRICS_NAMESPACE,
                        "Dimensions": [sorted(dimensions)],
                        "Metrics": [{"Name": k, "Unit": "Count"} for k in sorted(values)],
                    }
                ],
            },
            "event": "run.metrics",
            **dimensions,
            **values,
        }
        self._write(record)
