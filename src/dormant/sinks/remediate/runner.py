"""Make a step's calls with the journal: intent before each call (synced to disk), done after.

Shared by apply and rollback. A step's calls are a fixed list; the journal may already hold
some of them from an interrupted run. For each call, the latest journal row decides:

- ``done``: skip it;
- ``intent`` (written, then the process died): ask AWS whether its effect is in place; if so
  mark it done, else mark it ``not-made`` and make it;
- none, ``failed`` or ``not-made``: read what its undo needs, write the intent, make it.

An error code the operation tolerates (``NoSuchEntity`` for a delete) is confirmed with the
operation's check; any other error fails the call and stops the step.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from ...sources.aws import error_message
from ...sources.base import jsonable
from ...timeutil import iso
from .calls import Call, Reader, error_code, operation
from .journal import CallRow, Journal

CRASH_ENV = "DORMANT_REMEDIATE_CRASH"
"""Fault injection for tests: ``STEP`` (or ``STEP:after``) makes apply SIGKILL itself after step
STEP's last call was made and before the journal marks it done; ``STEP:before`` right after the
intent of its first call is journaled, before the call is made. Never set it elsewhere."""


class StepFailed(Exception):
    """A call failed: the step stops, the journal says which call and why."""


@dataclass(frozen=True)
class Made:
    """A call that ran (or was found in effect), for the run's output."""

    call: Call
    note: str


def crash_point() -> tuple[int, str] | None:
    value = os.environ.get(CRASH_ENV, "").strip()
    if not value:
        return None
    step, _, where = value.partition(":")
    return int(step), (where or "after")


def _crash(step: int, where: str) -> None:
    point = crash_point()
    if point == (step, where):
        os.kill(os.getpid(), signal.SIGKILL)


def latest_rows(rows: list[CallRow]) -> dict[int, CallRow]:
    out: dict[int, CallRow] = {}
    for row in rows:
        out[row.seq] = row  # rows come ordered by (seq, id): the last one wins
    return out


class Runner:
    def __init__(
        self,
        reader: Reader,
        journal: Journal,
        clock: Callable[[], dt.datetime],
        echo: Callable[[str], None],
    ) -> None:
        self.reader = reader
        self.journal = journal
        self.clock = clock
        self.echo = echo

    def now(self) -> str:
        return iso(self.clock())

    def _read(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """A read for the journal's sake; a failure stops the step (nothing made yet)."""
        try:
            return fn(*args)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise StepFailed(f"cannot read {what}: {error_message(exc)}") from None

    def run(self, step: int, phase: str, calls: list[Call]) -> list[Made]:
        """Make ``calls`` of ``step`` in ``phase``, resuming where the journal left off."""
        rows = latest_rows(self.journal.calls(step, phase))
        made: list[Made] = []
        for seq, call in enumerate(calls, 1):
            op = operation(call.operation)
            row = rows.get(seq)
            if row is not None and row.operation != call.operation:
                raise StepFailed(
                    f"the journal's call {seq} is {row.operation}, not {call.operation}: the "
                    "journal does not belong to this plan"
                )
            if row is not None and row.state == "done":
                continue
            if row is not None and row.state == "intent":
                effect = self._read(
                    f"whether {call.action} took effect",
                    op.check,
                    self.reader,
                    row.params,
                    row.response,
                )
                if effect.in_effect:
                    self.journal.call_done(
                        row.id, self.now(), effect.response, "found in effect after an interruption"
                    )
                    made.append(Made(call, "found in effect after an interruption"))
                    continue
                self.journal.forget_intent(row.id, self.now(), f"not in effect: {effect.actual}")
            before = self._read(
                f"the state before {call.action}", op.before, self.reader, call.params
            )
            call_id = self.journal.intent(
                step, phase, seq, call.operation, dict(call.params), before, self.now()
            )
            if phase == "apply" and seq == 1:
                _crash(step, "before")
            try:
                response = jsonable(self.reader.call(call))
                note = ""
            except botocore.exceptions.ClientError as exc:
                # AWS answered: the call was refused and changed nothing, unless the error
                # means its effect is there already (confirmed by reading).
                code = error_code(exc)
                effect = None
                if code in op.tolerated:
                    effect = self._read(
                        f"whether {call.action} took effect",
                        op.check,
                        self.reader,
                        call.params,
                        None,
                    )
                if effect is None or not effect.in_effect:
                    message = error_message(exc)
                    self.journal.call_failed(call_id, self.now(), message)
                    raise StepFailed(f"{call.action} failed: {message}") from None
                response, note = effect.response, f"{code}: already in effect"
            except botocore.exceptions.BotoCoreError as exc:
                # No answer (connection lost, timeout): the call may or may not have been made.
                # The intent stays; --resume or rollback asks AWS before doing anything else.
                raise StepFailed(
                    f"{call.action}: no answer ({error_message(exc)}); whether it took effect is "
                    "checked by --resume or rollback"
                ) from None
            if phase == "apply" and seq == len(calls):
                _crash(step, "after")
            self.journal.call_done(call_id, self.now(), response, note or None)
            made.append(Made(call, note))
        return made
