"""What every source shares: the collection context, the result it returns, and its errors.

A source reads evidence and never judges. It returns a :class:`SourceResult` that holds the raw
API responses (JSON-ready: datetimes as ISO-8601 strings, ResponseMetadata dropped), when they
were read, and what could not be read. Parsing raw responses into records is a separate, pure
function of each source module, so ``dormant analyze`` re-parses a saved snapshot with exactly
the code that a live scan uses.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import botocore.exceptions

from ..timeutil import iso
from .aws import AccountSession, error_code, error_message, is_denied, is_throttled

T = TypeVar("T")
R = TypeVar("R")


class SourceStatus(StrEnum):
    """How much of a source was read."""

    READ = "read"
    """Everything the source asked for was answered."""
    PARTIAL = "partial"
    """Some calls were answered and some were not; ``errors`` names the rest."""
    DENIED = "denied"
    """The identity may not call the source's API at all (AccessDenied and its kin)."""
    FAILED = "failed"
    """The source could not be read for another reason (throttled past retries, a job failed)."""
    SKIPPED = "skipped"
    """The source was not asked for (an option turned it off) or does not apply."""


@dataclass(frozen=True)
class SourceError:
    """One call that could not be answered."""

    operation: str
    """The API operation, such as ``GetLoginProfile``."""
    code: str
    """The AWS error code, such as ``AccessDenied``, or an exception class name."""
    message: str
    """A one-line message, with no credential in it."""
    target: str | None = None
    """What the call was about (a user name, a key id, a role ARN), where it was about one."""

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "code": self.code,
            "message": self.message,
            "target": self.target,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceError:
        return cls(
            operation=data["operation"],
            code=data["code"],
            message=data["message"],
            target=data.get("target"),
        )

    @classmethod
    def from_exception(cls, operation: str, exc: BaseException, target: str | None = None):
        return cls(operation, error_code(exc), error_message(exc), target)

    @property
    def denied(self) -> bool:
        from .aws import DENIED_CODES

        return self.code in DENIED_CODES


@dataclass
class SourceResult:
    """What one source read from one account."""

    name: str
    """The source's name, such as ``credential_report``; also its file name in a snapshot."""
    status: SourceStatus = SourceStatus.READ
    started_at: str | None = None
    """When collection started, ISO-8601 UTC."""
    finished_at: str | None = None
    """When the last response was read, ISO-8601 UTC."""
    raw: dict[str, Any] = field(default_factory=dict)
    """The API responses as AWS sent them, JSON-ready."""
    errors: list[SourceError] = field(default_factory=list)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per API operation: ``calls``, ``errors`` and ``status`` (read, partial, denied, failed)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "operations": self.operations,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "errors": [e.to_json() for e in self.errors],
            "raw": self.raw,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceResult:
        return cls(
            name=data["name"],
            status=SourceStatus(data["status"]),
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            raw=data.get("raw") or {},
            errors=[SourceError.from_json(e) for e in data.get("errors") or []],
            operations=data.get("operations") or {},
        )

    def settle(self, attempted: int | dict[str, int]) -> None:
        """Set ``status`` and ``operations`` from the errors, given the calls attempted per
        operation (or a total, for a source of one operation).

        An operation whose every call was denied makes the source ``denied``; one whose every
        call failed otherwise makes it ``failed``; some calls failing makes it ``partial``.
        """
        if isinstance(attempted, int):
            ops = {e.operation for e in self.errors} or {"calls"}
            attempts = {op: attempted if len(ops) == 1 else 0 for op in ops}
        else:
            attempts = dict(attempted)
        operations: dict[str, dict[str, Any]] = {}
        rank = {"read": 0, "partial": 1, "failed": 2, "denied": 3}
        worst = "read"
        for op in sorted(set(attempts) | {e.operation for e in self.errors}):
            errs = [e for e in self.errors if e.operation == op]
            calls = max(attempts.get(op, 0), len(errs))
            if not errs:
                status = "read"
            elif len(errs) < calls:
                status = "partial"
            elif all(e.denied for e in errs):
                status = "denied"
            else:
                status = "failed"
            operations[op] = {"calls": calls, "errors": len(errs), "status": status}
            if rank[status] > rank[worst]:
                worst = status
        self.operations = operations
        self.status = SourceStatus(worst)


class Cancelled(botocore.exceptions.BotoCoreError):
    """An API call that was not made because collection was cancelled (a time budget ran
    out). Sources record it like any other failed call: code ``Cancelled``."""

    fmt = "not called: collection was cancelled before this call (time budget)"


def _refuse_calls_when_cancelled(client: Any, cancel: threading.Event) -> None:
    """Make ``client`` raise :class:`Cancelled` before any call once ``cancel`` is set.

    Clients are cached and shared per session, so the hook is registered once per client and
    reads the event of the latest context that asked for the client.
    """
    client._dormant_cancel = cancel  # noqa: SLF001 - our own attribute on the client

    def refuse(**_: Any) -> None:
        event = getattr(client, "_dormant_cancel", None)
        if event is not None and event.is_set():
            raise Cancelled()

    client.meta.events.register("before-call", refuse, unique_id="dormant-cancel")


ProgressFn = Callable[[str, int, int | None], None]
"""``progress(task, advance, total)``: a source reports its progress; the CLI draws it."""


def _no_progress(task: str, advance: int, total: int | None) -> None:
    return None


@dataclass
class CollectContext:
    """Everything a source needs to read one account."""

    session: AccountSession
    account_id: str
    clock: Callable[[], dt.datetime]
    """Returns the current time (UTC). Sources stamp what they read with it; tests fix it."""
    concurrency: int = 8
    """Calls in flight at once within this account."""
    progress: ProgressFn = _no_progress
    options: dict[str, Any] = field(default_factory=dict)
    """Source-specific options (timeouts, poll intervals), by name."""
    sleep: Callable[[float], None] = field(default=None)  # type: ignore[assignment]
    cancel: threading.Event = field(default_factory=threading.Event)
    """Set to ask every source to stop early and keep what it has. Once it is set, every API
    call made through :meth:`client` fails at once with :class:`Cancelled` (a botocore error,
    which every source already records per call), so no source needs its own checks."""

    def __post_init__(self) -> None:
        import time

        self._slots = threading.BoundedSemaphore(max(1, self.concurrency))
        self._start_clock = self.clock()
        self._start_mono = time.monotonic()
        self._slept = 0.0
        if self.sleep is None:
            import time

            self.sleep = time.sleep

    def wait_clock(self) -> dt.datetime:
        """The time to schedule waits and timeouts by: ``clock``, but never behind the time
        actually spent (real time, or the sleeps taken through ``sleep``), so a clock that
        tests freeze can never make a wait loop forever."""
        import time

        spent = max(time.monotonic() - self._start_mono, self._slept)
        return max(self.clock(), self._start_clock + dt.timedelta(seconds=spent))

    def pause(self, seconds: float) -> None:
        """Sleep through ``sleep``, counting the time for :meth:`wait_clock`."""
        self._slept += max(0.0, seconds)
        self.sleep(seconds)

    def now_iso(self) -> str:
        return iso(self.clock())

    def client(self, service: str, region: str | None = None) -> Any:
        client = self.session.client(service, region)
        _refuse_calls_when_cancelled(client, self.cancel)
        return client

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``fn`` over ``items``, results in input order.

        Sources run side by side and each maps over its items, so one semaphore per context
        bounds the tasks in flight across all of them to ``concurrency``.
        """
        items = list(items)
        if self.concurrency <= 1 or len(items) <= 1:
            yield from map(fn, items)
            return

        def bounded(item: T) -> R:
            with self._slots:
                return fn(item)

        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="dormant") as ex:
            yield from ex.map(bounded, items)


def jsonable(value: Any) -> Any:
    """A boto3 response made JSON-ready: datetimes to ISO-8601, bytes to base64 text,
    ``ResponseMetadata`` (request ids, retry counts) dropped because it is not evidence and
    changes from run to run."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def paginate(client: Any, operation: str, result_keys: Iterable[str], **params: Any) -> dict:
    """Every page of a paginated call, merged: lists under ``result_keys`` concatenated."""
    keys = list(result_keys)
    merged: dict[str, Any] = {k: [] for k in keys}
    paginator = client.get_paginator(operation)
    for page in paginator.paginate(**params):
        page = jsonable(page)
        for k in keys:
            merged[k].extend(page.get(k) or [])
    return merged


__all__ = [
    "Cancelled",
    "CollectContext",
    "SourceError",
    "SourceResult",
    "SourceStatus",
    "is_denied",
    "is_throttled",
    "iso",
    "jsonable",
    "paginate",
]
