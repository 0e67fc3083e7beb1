"""Roll back from a journal: undo the steps apply changed, newest first.

For each step (or only ``--step N``):

1. calls left in doubt by a crash (``intent``) are settled first: AWS is asked whether each took
   effect, and the journal records the answer;
2. the state must still be what apply left: every call that took effect must still be in effect
   (the key still inactive, the document still the one written, the role still gone). Where
   someone changed it since, the step is refused, naming what differs, unless ``force``;
3. the undo calls (each call's inverse, from what the journal saved just before it) are made in
   reverse order, journaled like apply's: intent before, done after, so an interrupted rollback
   continues where it stopped when run again.

A step with an irreversible call that took effect (a deleted key or password) cannot be undone:
rollback says so and leaves it. Without ``apply`` it is a dry run that prints the undo calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import botocore.exceptions

from ...sources.aws import AccountSession, error_message
from ...timeutil import iso
from .apply import Outcome, Result, identity
from .calls import Call, Irreversible, Reader, operation
from .journal import APPLY, ROLLBACK, CallRow, Journal
from .runner import Runner, StepFailed, latest_rows

UNDOABLE = ("started", "failed", "done", "rolling-back", "rollback-refused", "rollback-failed")


@dataclass(frozen=True)
class RollbackOptions:
    apply: bool = False
    force: bool = False
    step: int | None = None


class Rollbacker:
    def __init__(
        self,
        session: AccountSession,
        journal: Journal,
        *,
        clock: Callable[[], dt.datetime],
        echo: Callable[[str], None],
        options: RollbackOptions,
    ) -> None:
        self.journal = journal
        self.clock = clock
        self.echo = echo
        self.options = options
        who = identity(session)
        self.account_id = str(who["Account"])
        self.caller_arn = str(who.get("Arn") or "")
        partition = self.caller_arn.split(":")[1] if self.caller_arn.count(":") >= 2 else "aws"
        self.reader = Reader(session.client("iam"), self.account_id, partition or "aws")

    def now(self) -> str:
        return iso(self.clock())

    def run(self) -> Result:
        from ...errors import DormantError

        meta = self.journal.meta()
        if meta.get("account_id") and meta["account_id"] != self.account_id:
            raise DormantError(
                f"{self.journal.path}: the journal is for account {meta['account_id']}; these "
                f"credentials are for {self.account_id}"
            )
        rows = self.journal.steps()
        if self.options.step is not None and self.options.step not in rows:
            raise DormantError(f"--step {self.options.step}: the journal has no such step")
        if self.options.apply:
            self.journal.start_run(
                "rollback",
                self.now(),
                self.caller_arn,
                {"force": self.options.force, "step": self.options.step},
            )
        outcomes = []
        for number in sorted(rows, reverse=True):
            if self.options.step is not None and number != self.options.step:
                continue
            outcomes.append(self._step(number, rows[number]))
        result = Result(outcomes, self.caller_arn, self.account_id)
        if self.options.apply:
            self.journal.finish_run(self.now(), "ok" if result.ok else "problems")
        return result

    def _out(self, row, status: str, reason: str = "", calls: list[str] | None = None) -> Outcome:
        self.echo(f"step {row.step} {row.kind}: {row.principal_arn}")
        for line in calls or []:
            self.echo(f"    {line}")
        self.echo(f"  -> {status}" + (f": {reason}" if reason else ""))
        return Outcome(row.step, row.kind, row.principal_arn, status, reason, calls or [])

    def _settle(self, rows: list[CallRow]) -> list[tuple[CallRow, object]]:
        """The apply calls in effect, in order; intents left by a crash are settled (in the
        journal, unless this is a dry run)."""
        out = []
        for _, row in sorted(latest_rows(rows).items()):
            if row.state == "done":
                out.append((row, row.response))
            elif row.state == "intent":
                effect = operation(row.operation).check(self.reader, row.params, row.response)
                if self.options.apply:
                    if effect.in_effect:
                        self.journal.call_done(
                            row.id, self.now(), effect.response, "found in effect by rollback"
                        )
                    else:
                        self.journal.forget_intent(
                            row.id, self.now(), f"not in effect: {effect.actual}"
                        )
                if effect.in_effect:
                    out.append((row, effect.response or row.response))
        return out

    def _step(self, number: int, row) -> Outcome:
        try:
            return self._undo(number, row)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            reason = f"cannot read the state to check: {error_message(exc)}"
            if self.options.apply:
                self.journal.set_step(number, "rollback-failed", self.now(), reason=reason)
            return self._out(row, "failed", reason)

    def _undo(self, number: int, row) -> Outcome:
        if row.status == "rolled-back":
            return self._out(row, "rolled-back", "rolled back by an earlier run")
        if row.status not in UNDOABLE:
            return self._out(row, "nothing-to-undo", f"the step is {row.status}")
        effective = self._settle(self.journal.calls(number, APPLY))
        if not effective:
            if self.options.apply:
                self.journal.set_step(
                    number, "rolled-back", self.now(), reason="no call had taken effect"
                )
            return self._out(row, "rolled-back", "no call had taken effect")
        for call_row, response in effective:
            try:
                operation(call_row.operation).undo(call_row.params, response, call_row.before)
            except Irreversible as exc:
                return self._out(row, "irreversible", f"{call_row.operation}: {exc}")
        # An interrupted (or failed) rollback continues without checking the state again:
        # its own undo calls changed it.
        resumed = row.status in ("rolling-back", "rollback-failed") and bool(
            self.journal.calls(number, ROLLBACK)
        )
        if not resumed:
            changed = []
            for call_row, response in effective:
                effect = operation(call_row.operation).check(self.reader, call_row.params, response)
                if not effect.in_effect:
                    changed.append(
                        f"{Call(call_row.operation, call_row.params).text(80)}: now {effect.actual}"
                    )
            if changed and not self.options.force:
                reason = "changed since apply (use --force to roll back anyway): " + "; ".join(
                    changed
                )
                if self.options.apply:
                    self.journal.set_step(number, "rollback-refused", self.now(), reason=reason)
                return self._out(row, "refused", reason)
        undo: list[Call] = []
        for call_row, response in reversed(effective):
            undo.extend(
                operation(call_row.operation).undo(call_row.params, response, call_row.before)
            )
        texts = [c.text(120) for c in undo]
        if not self.options.apply:
            return self._out(row, "would-undo", "dry run: nothing changed", texts)
        self.journal.set_step(number, "rolling-back", self.now())
        runner = Runner(self.reader, self.journal, self.clock, self.echo)
        try:
            runner.run(number, ROLLBACK, undo)
        except StepFailed as exc:
            self.journal.set_step(number, "rollback-failed", self.now(), reason=str(exc))
            return self._out(row, "failed", str(exc), texts)
        self.journal.set_step(number, "rolled-back", self.now())
        return self._out(row, "rolled-back", "", texts)
