"""Apply a plan: a dry run by default; with ``apply=True`` every change goes through the journal.

Before each step, whatever the plan says:

1. the step must be for the account of the credentials;
2. the principal must not be excluded or allow-listed by the *current* policy file (read with
   its current tags): such a step is refused, with the rule (a plan made before the exception,
   or edited by hand, cannot touch it);
3. the state must still be what the plan was made from (the key still active, the document
   still the one rewritten, the role's policies still those listed): else the step is skipped;
4. the evidence is read again (GetAccessKeyLastUsed, GetRole's RoleLastUsed, GetUser's
   PasswordLastUsed, a new Access Advisor report for the services a permission step removes):
   a use after the plan's evidence skips the step, saying when;
5. a document dormant writes must grant nothing the old one did not.

Irreversible steps wait for ``allow_irreversible``; ``max_actions`` bounds the steps changed in
one run; both leave the rest ``pending`` for a later ``--resume``. The first failed call stops
the run (the journal says which): ``--resume`` retries it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from ...policy import Policy
from ...sources import access_advisor
from ...sources.aws import DENIED_CODES, AccountSession, error_message
from ...sources.base import CollectContext
from ...timeutil import iso, parse_time, parse_time_or_none
from . import narrower
from .calls import Call, Reader, canonical
from .journal import APPLY, Journal
from .plan import DEACTIVATED_TAG, QUARANTINE_DOCUMENT, QUARANTINE_TAG, Kind, Plan, Step
from .runner import Runner, StepFailed

TOLERANCE = dt.timedelta(seconds=1)
"""Last-use times are compared with this slack: sources round differently."""


@dataclass(frozen=True)
class Options:
    apply: bool = False
    """False: a dry run (reads only, nothing journaled)."""
    resume: bool = False
    allow_irreversible: bool = False
    max_actions: int | None = None
    advisor_timeout: float = 120.0
    """Seconds to wait for an Access Advisor job re-checking a permission step."""


@dataclass
class Outcome:
    step: int
    kind: str
    summary: str
    status: str
    """``done``, ``skipped``, ``refused``, ``failed``, ``held`` (left pending),
    ``would-apply`` (dry run), or the journal's status for a step an earlier run finished."""
    reason: str = ""
    calls: list[str] = field(default_factory=list)


@dataclass
class Result:
    outcomes: list[Outcome]
    caller_arn: str
    account_id: str

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok(self) -> bool:
        return not any(o.status in ("refused", "failed") for o in self.outcomes)


class Skip(Exception):
    """The step is not applied; the message says why."""


class CheckFailed(Exception):
    """A check could not be made (a read was denied): the step stays pending, the run stops."""


class Refuse(Exception):
    """The step must never be applied as it stands (protected principal, another account, a
    document that widens access)."""


def identity(session: AccountSession) -> dict[str, Any]:
    try:
        return session.client("sts").get_caller_identity()
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        from ...errors import DormantError

        raise DormantError(f"cannot identify the account (sts:GetCallerIdentity): {exc}") from None


def _later(live: Any, planned: str | None) -> bool:
    """True when ``live`` (a time) is a use after ``planned`` (the plan's evidence)."""
    live_t = parse_time_or_none(live)
    if live_t is None:
        return False
    planned_t = parse_time_or_none(planned)
    return planned_t is None or live_t > planned_t + TOLERANCE


class Applier:
    def __init__(
        self,
        session: AccountSession,
        plan: Plan,
        policy: Policy,
        *,
        clock: Callable[[], dt.datetime],
        echo: Callable[[str], None],
        options: Options,
        journal: Journal | None = None,
        known: dict[int, str] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.session = session
        self.sleep = sleep
        """How to wait between polls of an Access Advisor job (default: time.sleep)."""
        self.known = known or {}
        """For a dry run: the statuses an existing journal records, so finished steps show so."""
        self.plan = plan
        self.policy = policy
        self.clock = clock
        self.echo = echo
        self.options = options
        self.journal = journal
        who = identity(session)
        self.account_id = str(who["Account"])
        self.caller_arn = str(who.get("Arn") or "")
        partition = self.caller_arn.split(":")[1] if self.caller_arn.count(":") >= 2 else "aws"
        self.reader = Reader(session.client("iam"), self.account_id, partition or "aws")
        self._advisor: dict[str, Any] = {}

    def now(self) -> str:
        return iso(self.clock())

    # -------------------------------------------------------------------------------- run

    def run(self) -> Result:
        journal = self.journal
        rows = journal.steps() if journal else {}
        changed = 0
        outcomes: list[Outcome] = []
        if journal is not None:
            journal.start_run(
                "resume" if self.options.resume else "apply",
                self.now(),
                self.caller_arn,
                {
                    "allow_irreversible": self.options.allow_irreversible,
                    "max_actions": self.options.max_actions,
                },
            )
        stopped = False
        for step in self.plan.steps:
            row = rows.get(step.number)
            status = row.status if row else self.known.get(step.number, "pending")
            if status not in ("pending", "started", "failed"):
                outcomes.append(self._brief(step, status, "finished by an earlier run"))
                continue
            if stopped:
                outcomes.append(
                    self._brief(step, "held", "not reached: the run stopped at a failed step")
                )
                continue
            limit = self.options.max_actions
            if status == "pending" and limit is not None and changed >= limit:
                outcomes.append(
                    self._brief(step, "held", f"beyond --max-actions {limit}: left for a later run")
                )
                continue
            outcome = self._step(step, resumed=status in ("started", "failed"))
            outcomes.append(outcome)
            if outcome.status in ("done", "would-apply"):
                changed += 1
            if outcome.status == "failed":
                stopped = True
        result = Result(outcomes, self.caller_arn, self.account_id)
        if journal is not None:
            journal.finish_run(self.now(), "ok" if result.ok else "problems")
        return result

    def _brief(self, step: Step, status: str, reason: str) -> Outcome:
        self.echo(f"step {step.number} {step.kind}: {step.summary}")
        self.echo(f"  -> {status}: {reason}")
        return Outcome(step.number, str(step.kind), step.summary, status, reason)

    def _report(self, step: Step, outcome: Outcome) -> Outcome:
        self.echo(f"step {step.number} {step.kind}: {step.summary}")
        for line in outcome.calls:
            self.echo(f"    {line}")
        self.echo(f"  -> {outcome.status}" + (f": {outcome.reason}" if outcome.reason else ""))
        return outcome

    def _step(self, step: Step, *, resumed: bool) -> Outcome:
        def out(status: str, reason: str = "", calls: list[str] | None = None) -> Outcome:
            return self._report(
                step,
                Outcome(step.number, str(step.kind), step.summary, status, reason, calls or []),
            )

        journal = self.journal
        if resumed and journal is None:
            return out("held", "interrupted in an earlier run: apply --resume finishes it")
        if resumed and journal is not None:
            row = journal.steps()[step.number]
            calls = journal.calls(step.number, APPLY)
            if row.status == "started" or any(c.state in ("done", "intent") for c in calls):
                # Half made: finish it (what the checks would read is what it changed).
                applied_at = row.applied_at or self.now()
                return self._make(step, applied_at, out, saved=None, started=True)
            # It failed before anything took effect: check it again like a new one.
        if step.irreversible and not self.options.allow_irreversible:
            return out("held", "irreversible: apply it with --allow-irreversible")
        try:
            saved = self._checks(step)
        except (
            botocore.exceptions.ClientError,
            botocore.exceptions.BotoCoreError,
            CheckFailed,
        ) as exc:
            # Nothing was made: the step stays pending, and the run stops here.
            why = str(exc) if isinstance(exc, CheckFailed) else error_message(exc)
            reason = f"cannot check the step: {why}"
            if journal is not None:
                journal.set_step(step.number, "pending", self.now(), reason=reason)
            return out("failed", reason)
        except Refuse as exc:
            if journal is not None:
                journal.set_step(step.number, "refused", self.now(), reason=str(exc))
            return out("refused", str(exc))
        except Skip as exc:
            if journal is not None:
                journal.set_step(step.number, "skipped", self.now(), reason=str(exc))
            return out("skipped", str(exc))
        applied_at = self.now()
        if journal is None:
            calls = [c.text() for c in self._resolved(step, applied_at)]
            return out("would-apply", "dry run: nothing changed", calls)
        return self._make(step, applied_at, out, saved=saved, started=False)

    def _resolved(self, step: Step, applied_at: str) -> list[Call]:
        day = parse_time(applied_at).strftime("%Y%m%d")
        values = {"{applied_at}": applied_at, "{applied_day}": day}
        return [c.resolved(values) for c in step.calls]

    def _make(self, step: Step, applied_at: str, out, *, saved: Any, started: bool) -> Outcome:
        journal = self.journal
        assert journal is not None
        if not started:
            journal.set_step(
                step.number, "started", self.now(), applied_at=applied_at, saved=saved or {}
            )
        calls = self._resolved(step, applied_at)
        runner = Runner(self.reader, journal, self.clock, self.echo)
        try:
            made = runner.run(step.number, APPLY, calls)
        except StepFailed as exc:
            journal.set_step(step.number, "failed", self.now(), reason=str(exc))
            return out("failed", str(exc), [c.text(120) for c in calls])
        journal.set_step(step.number, "done", self.now())
        lines = [m.call.text(120) + (f"   ({m.note})" if m.note else "") for m in made]
        return out("done", "resumed after an interruption" if started else "", lines)

    # ----------------------------------------------------------------------------- checks

    def _checks(self, step: Step) -> Any:
        if step.account_id != self.account_id:
            raise Refuse(
                f"the step is for account {step.account_id}; these credentials are for "
                f"{self.account_id}"
            )
        tags = (
            self.reader.user_tags(step.principal_name)
            if step.principal_type == "user"
            else self.reader.role_tags(step.principal_name)
        )
        if tags is None:
            raise Skip(f"{step.principal_type} {step.principal_name} no longer exists")
        rule = self.policy.protection(
            step.finding_type, step.principal_arn, tags, self.clock().date()
        )
        if rule:
            raise Refuse(f"the principal is protected by the policy file: {rule}")
        check = {
            Kind.DEACTIVATE_KEY: self._deactivate_key,
            Kind.DELETE_KEY: self._delete_key,
            Kind.QUARANTINE_ROLE: self._quarantine_role,
            Kind.DELETE_ROLE: self._delete_role,
            Kind.DELETE_LOGIN_PROFILE: self._delete_login_profile,
        }.get(step.kind, self._permission)
        return check(step, tags)

    def _key(self, step: Step) -> dict[str, Any]:
        keys = self.reader.access_keys(step.principal_name)
        key = (keys or {}).get(step.expect.get("access_key_id", ""))
        if key is None:
            raise Skip(f"access key {step.expect.get('access_key_id')} no longer exists")
        return key

    def _deactivate_key(self, step: Step, tags: dict[str, str]) -> Any:
        key = self._key(step)
        if key.get("Status") != "Active":
            raise Skip(f"the key is {key.get('Status')} already")
        last = self.reader.key_last_used(key["AccessKeyId"])
        if _later(last, step.expect.get("last_used")):
            raise Skip(
                f"the key was used on {iso(parse_time(last))}, after the plan's evidence (last "
                f"use {step.expect.get('last_used') or 'none'})"
            )
        return {
            "key": {"AccessKeyId": key["AccessKeyId"], "Status": key["Status"]},
            "last_used": iso(parse_time(last)) if last else None,
        }

    def _delete_key(self, step: Step, tags: dict[str, str]) -> Any:
        key = self._key(step)
        kid = key["AccessKeyId"]
        if key.get("Status") != "Inactive":
            raise Skip("the key was reactivated since dormant deactivated it")
        stamp = tags.get(DEACTIVATED_TAG + kid)
        if stamp != step.expect.get("deactivated_at"):
            raise Skip(
                f"the user's tag {DEACTIVATED_TAG}{kid} is {stamp!r}, not "
                f"{step.expect.get('deactivated_at')!r} as planned"
            )
        since = parse_time(stamp)
        days = int(
            step.expect.get("delete_after_days") or self.policy.remediation.delete_keys_after_days
        )
        if self.clock() < since + dt.timedelta(days=days):
            raise Skip(f"deactivated on {stamp[:10]}: not {days} days ago yet")
        last = self.reader.key_last_used(kid)
        if _later(last, stamp):
            raise Skip(f"the key was used on {iso(parse_time(last))}, after it was deactivated")
        return {"key": {"AccessKeyId": kid, "Status": "Inactive"}, "deactivated_at": stamp}

    def _role_record(self, step: Step) -> dict[str, Any]:
        role = self.reader.role(step.principal_name)
        if role is None:
            raise Skip(f"role {step.principal_name} no longer exists")
        return role

    def _quarantine_role(self, step: Step, tags: dict[str, str]) -> Any:
        role = self._role_record(step)
        if QUARANTINE_TAG in tags:
            raise Skip(f"the role is quarantined already (since {tags[QUARANTINE_TAG]})")
        last = (role.get("RoleLastUsed") or {}).get("LastUsedDate")
        if _later(last, step.expect.get("last_used")):
            raise Skip(
                f"the role was used on {iso(parse_time(last))}, after the plan's evidence (last "
                f"use {step.expect.get('last_used') or 'none'})"
            )
        return {"role_last_used": iso(parse_time(last)) if last else None}

    def _delete_role(self, step: Step, tags: dict[str, str]) -> Any:
        backup = self.reader.role_backup(step.principal_name)
        if backup is None:
            raise Skip(f"role {step.principal_name} no longer exists")
        e = step.expect
        stamp = tags.get(QUARANTINE_TAG)
        if stamp != e.get("quarantined_at"):
            raise Skip(
                f"the role's {QUARANTINE_TAG} tag is {stamp!r}, not {e.get('quarantined_at')!r}"
            )
        days = int(e.get("delete_after_days") or self.policy.remediation.delete_roles_after_days)
        since = parse_time(stamp)
        if self.clock() < since + dt.timedelta(days=days):
            raise Skip(f"quarantined on {stamp[:10]}: not {days} days ago yet")
        guard = backup["inline_policies"].get(e.get("quarantine_policy"))
        if guard != canonical(QUARANTINE_DOCUMENT):
            raise Skip("the quarantine policy was removed or changed: someone lifted it")
        found = {
            "inline_policies": sorted(backup["inline_policies"]),
            "attached_policies": sorted(backup["attached_policies"]),
            "instance_profiles": sorted(backup["instance_profiles"]),
        }
        for key, value in found.items():
            if value != sorted(e.get(key) or []):
                raise Skip(f"the role's {key.replace('_', ' ')} changed since the plan: {value}")
        role = self.reader.role(step.principal_name) or {}
        last = (role.get("RoleLastUsed") or {}).get("LastUsedDate")
        if _later(last, stamp):
            raise Skip(f"the role was used on {iso(parse_time(last))}, after it was quarantined")
        return {"role": backup}

    def _delete_login_profile(self, step: Step, tags: dict[str, str]) -> Any:
        user = self.reader.user(step.principal_name) or {}
        last = user.get("PasswordLastUsed")
        if _later(last, step.expect.get("last_used")):
            raise Skip(
                f"the password was used on {iso(parse_time(last))}, after the plan's evidence "
                f"(last use {step.expect.get('last_used') or 'none'})"
            )
        if not self.reader.login_profile(step.principal_name):
            raise Skip("the user has no login profile any more")
        return {"password_last_used": iso(parse_time(last)) if last else None}

    # Permissions ---------------------------------------------------------------------------

    def _permission(self, step: Step, tags: dict[str, str]) -> Any:
        e = step.expect
        kind = step.principal_type
        name = step.principal_name
        original = e.get("document")
        for call in step.calls:
            doc = call.params.get("PolicyDocument")
            if doc is not None and original is not None:
                wider = narrower.problems(original, doc)
                if wider:
                    raise Refuse("the new document grants more than the old: " + "; ".join(wider))
        if step.kind in (Kind.PUT_INLINE, Kind.DELETE_INLINE):
            live = self.reader.inline_policy(kind, name, e["policy_name"])
            if live != original:
                raise Skip(f"inline policy {e['policy_name']} changed since the plan")
            saved: dict[str, Any] = {"document": live}
        else:
            arn = e["policy_arn"]
            if arn not in (self.reader.attached(kind, name) or set()):
                raise Skip(f"{arn} is no longer attached to {name}")
            versions = self.reader.policy_versions(arn) or []
            default = next((v for v in versions if v["IsDefaultVersion"]), None)
            saved = {"versions": versions}
            if step.kind is Kind.NEW_VERSION:
                pol = self.reader.policy(arn) or {}
                if int(pol.get("AttachmentCount") or 0) != 1:
                    raise Skip(f"{arn} is attached to {pol.get('AttachmentCount')} principals now")
                if default is None or default["VersionId"] != e.get("default_version_id"):
                    raise Skip(f"{arn}'s default version changed since the plan")
                if sorted(v["VersionId"] for v in versions) != sorted(e.get("versions") or []):
                    raise Skip(f"{arn}'s versions changed since the plan")
            if step.kind in (Kind.NEW_VERSION, Kind.REPLACE_AWS_MANAGED):
                if default is None or default["Document"] != original:
                    raise Skip(f"{arn}'s document changed since the plan")
            if step.kind is Kind.REPLACE_AWS_MANAGED:
                if self.reader.policy(e["replacement_arn"]) is not None:
                    raise Skip(f"{e['replacement_arn']} exists already")
        self._advisor_check(step)
        return saved

    def _advisor_check(self, step: Step) -> None:
        adv = step.expect.get("advisor") or {}
        arn = adv.get("arn")
        if not arn:
            return
        report = self._advisor.get(arn)
        if report is None:
            ctx = CollectContext(
                session=self.session,
                account_id=self.account_id,
                clock=self.clock,
                concurrency=1,
                sleep=self.sleep,  # type: ignore[arg-type]
            )
            result = access_advisor.collect(
                ctx, [arn], job_timeout=self.options.advisor_timeout, concurrency=1
            )
            report = access_advisor.parse(result.raw).get(arn)
            self._advisor[arn] = report
        if report is None or not report.complete:
            error = report.error if report is not None else None
            if error is not None and error.code in DENIED_CODES:
                raise CheckFailed(f"Access Advisor: {error.code}: {error.message}")
            why = error.message if error else "no report"
            raise Skip(f"Access Advisor could not confirm the non-use now ({why})")
        for ns, planned in sorted((adv.get("services") or {}).items()):
            svc = report.service(ns)
            live = svc.last_authenticated if svc else None
            if _later(live, planned):
                raise Skip(
                    f"service {ns} was used on {iso(live)}, after the plan's evidence "
                    f"({planned or 'no use'})"
                )
        for action, planned in sorted((adv.get("actions") or {}).items()):
            svc = report.service(action.split(":", 1)[0])
            item = svc.action(action) if svc else None
            live = item.last_accessed if item else None
            if _later(live, planned):
                raise Skip(f"{action} was used on {iso(live)}, after the plan's evidence")
