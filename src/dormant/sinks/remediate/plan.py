"""The remediation plan: a versioned JSON document listing, per finding, the step dormant would
take and the exact AWS API calls it would make, or why it takes none.

The plan is a sink's output like a report: made offline from findings and evidence, reviewed by
a person, then applied by ``dormant remediate apply``. Its schema is
``docs/schema/remediation-plan.v1.json``; :func:`read` checks a plan (hand-edited ones too)
before anything uses it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import botocore.session
import botocore.validate

from ... import __version__
from ...errors import InputError
from .calls import OPERATIONS, Call

FORMAT = "dormant-remediation-plan"
SCHEMA_VERSION = 1

DEACTIVATED_TAG = "dormant:deactivated:"
"""Prefix of the user tag dormant sets when it deactivates a key: the key id follows, the value
is when (ISO-8601 UTC). A later plan deletes the key when the tag is old enough, the key is
still inactive and was not used since."""
QUARANTINE_TAG = "dormant:quarantined"
"""The role tag dormant sets when it quarantines a role; the value is when (ISO-8601 UTC)."""
QUARANTINE_POLICY = "dormant-quarantine"
"""Prefix of the deny-all inline policy's name; the day of the quarantine follows
(``dormant-quarantine-20261129``)."""
QUARANTINE_DOCUMENT: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "DormantQuarantineDenyAll", "Effect": "Deny", "Action": "*", "Resource": "*"}
    ],
}
"""Denies every action to the role's sessions (an explicit Deny beats any Allow)."""
REPLACEMENT_PATH = "/dormant/"
"""Path of the customer-managed policies dormant creates to replace AWS-managed ones."""


class Kind(StrEnum):
    """What a step does."""

    DEACTIVATE_KEY = "deactivate-access-key"
    DELETE_KEY = "delete-access-key"
    QUARANTINE_ROLE = "quarantine-role"
    DELETE_ROLE = "delete-role"
    DELETE_LOGIN_PROFILE = "delete-login-profile"
    PUT_INLINE = "put-inline-policy"
    DELETE_INLINE = "delete-inline-policy"
    NEW_VERSION = "create-policy-version"
    DETACH = "detach-policy"
    REPLACE_AWS_MANAGED = "replace-aws-managed"


KIND_OPERATIONS: Mapping[Kind, frozenset[str]] = {
    Kind.DEACTIVATE_KEY: frozenset({"TagUser", "UpdateAccessKey"}),
    Kind.DELETE_KEY: frozenset({"DeleteAccessKey", "UntagUser"}),
    Kind.QUARANTINE_ROLE: frozenset({"PutRolePolicy", "TagRole"}),
    Kind.DELETE_ROLE: frozenset(
        {"RemoveRoleFromInstanceProfile", "DetachRolePolicy", "DeleteRolePolicy", "DeleteRole"}
    ),
    Kind.DELETE_LOGIN_PROFILE: frozenset({"DeleteLoginProfile"}),
    Kind.PUT_INLINE: frozenset({"PutRolePolicy", "PutUserPolicy"}),
    Kind.DELETE_INLINE: frozenset({"DeleteRolePolicy", "DeleteUserPolicy"}),
    Kind.NEW_VERSION: frozenset({"DeletePolicyVersion", "CreatePolicyVersion"}),
    Kind.DETACH: frozenset({"DetachRolePolicy", "DetachUserPolicy"}),
    Kind.REPLACE_AWS_MANAGED: frozenset(
        {
            "CreatePolicy",
            "AttachRolePolicy",
            "AttachUserPolicy",
            "DetachRolePolicy",
            "DetachUserPolicy",
        }
    ),
}
"""The only calls a step of each kind may make: a hand-edited plan that asks for another is
refused."""

ROLLBACK_TEXT: Mapping[Kind, str] = {
    Kind.DEACTIVATE_KEY: "reactivate the key (UpdateAccessKey Active) and restore the user's tag",
    Kind.DELETE_KEY: "none: a deleted access key cannot be restored (its secret is gone)",
    Kind.QUARANTINE_ROLE: "delete the quarantine policy and restore the role's tag",
    Kind.DELETE_ROLE: "recreate the role from the journal's copy (trust policy, description, "
    "maximum session, permissions boundary, tags), then its inline and attached policies and "
    "instance profiles; AWS gives it a new RoleId and CreateDate, and its last-used data is lost",
    Kind.DELETE_LOGIN_PROFILE: "none: a deleted console password cannot be restored",
    Kind.PUT_INLINE: "put the saved text of the inline policy back",
    Kind.DELETE_INLINE: "put the saved text of the inline policy back",
    Kind.NEW_VERSION: "make the previous default version the default again and delete the new "
    "version; a version deleted to make room is recreated from the journal (with a new id)",
    Kind.DETACH: "attach the policy again",
    Kind.REPLACE_AWS_MANAGED: "attach the AWS-managed policy again, detach and delete the "
    "policy dormant created",
}


@dataclass(frozen=True)
class Step:
    """One change, for one finding (or a follow-up of an earlier change), as exact calls."""

    number: int
    """1, 2, 3... in the order apply takes them."""
    kind: Kind
    finding_type: str
    """The finding type it remedies."""
    finding_ids: tuple[str, ...]
    """The findings it remedies (empty for a follow-up: deleting what dormant deactivated)."""
    account_id: str
    principal_arn: str
    principal_name: str
    principal_type: str
    """``user`` or ``role``."""
    summary: str
    """One line for a person."""
    reason: str
    """Why: the finding's reason, or what makes the follow-up due."""
    irreversible: bool
    """True when rollback cannot undo it; apply needs ``--allow-irreversible``."""
    rollback: str
    """What rollback does for this step."""
    calls: tuple[Call, ...]
    """The API calls, in order (placeholders ``{applied_at}``, ``{applied_day}``)."""
    expect: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """What apply checks first: the state the plan was made from and the evidence of non-use
    (kind-specific; see docs/remediation.md)."""
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.number,
            "kind": str(self.kind),
            "finding_type": self.finding_type,
            "finding_ids": list(self.finding_ids),
            "account_id": self.account_id,
            "principal_arn": self.principal_arn,
            "principal_name": self.principal_name,
            "principal_type": self.principal_type,
            "summary": self.summary,
            "reason": self.reason,
            "irreversible": self.irreversible,
            "rollback": self.rollback,
            "calls": [c.to_json() for c in self.calls],
            "expect": dict(self.expect),
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Step:
        return cls(
            number=int(d["step"]),
            kind=Kind(d["kind"]),
            finding_type=str(d["finding_type"]),
            finding_ids=tuple(d.get("finding_ids") or ()),
            account_id=str(d["account_id"]),
            principal_arn=str(d["principal_arn"]),
            principal_name=str(d["principal_name"]),
            principal_type=str(d["principal_type"]),
            summary=str(d.get("summary") or ""),
            reason=str(d.get("reason") or ""),
            irreversible=bool(d.get("irreversible")),
            rollback=str(d.get("rollback") or ""),
            calls=tuple(Call.from_json(c) for c in d["calls"]),
            expect=dict(d.get("expect") or {}),
            notes=tuple(d.get("notes") or ()),
        )


@dataclass(frozen=True)
class NoStep:
    """A finding (or a pending follow-up) that gets no automatic step, and why."""

    finding_type: str
    account_id: str
    principal_arn: str
    principal_name: str
    reason: str
    finding_id: str | None = None
    verdict: str | None = None
    access_key_id: str | None = None
    service: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "finding_id": self.finding_id,
            "finding_type": self.finding_type,
            "verdict": self.verdict,
            "account_id": self.account_id,
            "principal_arn": self.principal_arn,
            "principal_name": self.principal_name,
            "access_key_id": self.access_key_id,
            "service": self.service,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> NoStep:
        return cls(
            finding_type=str(d["finding_type"]),
            account_id=str(d["account_id"]),
            principal_arn=str(d["principal_arn"]),
            principal_name=str(d["principal_name"]),
            reason=str(d["reason"]),
            finding_id=d.get("finding_id"),
            verdict=d.get("verdict"),
            access_key_id=d.get("access_key_id"),
            service=d.get("service"),
        )


@dataclass(frozen=True)
class Plan:
    created_at: str
    """When the plan was made."""
    as_of: str
    """The evaluation time of the findings it was made from."""
    account_ids: tuple[str, ...]
    source: Mapping[str, Any] = field(hash=False)
    """What it was made from: ``kind`` (``snapshot`` or ``report``), ``path``,
    ``snapshot_digest``."""
    settings: Mapping[str, Any] = field(hash=False)
    """The policy file's ``[remediation]`` settings and thresholds it was made with."""
    steps: tuple[Step, ...]
    no_step: tuple[NoStep, ...]
    notes: tuple[str, ...] = ()
    tool_version: str = __version__

    @property
    def steps_digest(self) -> str:
        """SHA-256 of the steps as dormant wrote them: apply says when a plan was edited."""
        text = json.dumps([s.to_json() for s in self.steps], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def step(self, number: int) -> Step:
        for s in self.steps:
            if s.number == number:
                return s
        raise KeyError(number)

    def to_json(self) -> dict[str, Any]:
        reversible = [s for s in self.steps if not s.irreversible]
        return {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "tool_version": self.tool_version,
            "created_at": self.created_at,
            "as_of": self.as_of,
            "account_ids": list(self.account_ids),
            "source": dict(self.source),
            "settings": dict(self.settings),
            "summary": {
                "steps": len(self.steps),
                "reversible": len(reversible),
                "irreversible": len(self.steps) - len(reversible),
                "by_kind": _count(str(s.kind) for s in self.steps),
                "no_step": len(self.no_step),
            },
            "steps_sha256": self.steps_digest,
            "steps": [s.to_json() for s in self.steps],
            "no_step": [n.to_json() for n in self.no_step],
            "notes": list(self.notes),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def _count(items: Sequence[str] | Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items()))


# ----------------------------------------------------------------------------- validation

_IAM_MODEL = None


def _iam_model():
    global _IAM_MODEL
    if _IAM_MODEL is None:
        _IAM_MODEL = botocore.session.get_session().get_service_model("iam")
    return _IAM_MODEL


NAME_PARAMS = {"user": "UserName", "role": "RoleName"}


def check_step(step: Step) -> list[str]:
    """What is wrong with a step (empty when nothing): calls its kind does not make, calls on
    another principal than the step's, parameters AWS would reject."""
    problems = []
    allowed = KIND_OPERATIONS[step.kind]
    if step.principal_type not in NAME_PARAMS:
        problems.append(f"principal_type {step.principal_type!r}: expected user or role")
        return problems
    if not step.calls:
        problems.append("no calls")
    name_param = NAME_PARAMS[step.principal_type]
    other = {"user": "RoleName", "role": "UserName"}[step.principal_type]
    model = _iam_model()
    for i, call in enumerate(step.calls, 1):
        where = f"call {i} ({call.operation})"
        if call.service != "iam" or call.operation not in OPERATIONS:
            problems.append(f"{where}: dormant does not make this call")
            continue
        if call.operation not in allowed:
            problems.append(f"{where}: a {step.kind} step does not make this call")
        if name_param in call.params and call.params[name_param] != step.principal_name:
            problems.append(
                f"{where}: {name_param} {call.params[name_param]!r} is not the step's principal "
                f"{step.principal_name!r}"
            )
        if other in call.params:
            problems.append(f"{where}: {other} does not belong in a {step.principal_type} step")
        placeholder_free = Call(call.operation, call.params).resolved(
            {"{applied_at}": "2000-01-01T00:00:00Z", "{applied_day}": "20000101"}
        )
        try:
            shape = model.operation_model(call.operation).input_shape
            report = botocore.validate.ParamValidator().validate(
                dict(placeholder_free.params), shape
            )
        except Exception as exc:  # noqa: BLE001 - reported as a problem of the plan
            problems.append(f"{where}: {exc}")
            continue
        if report.has_errors():
            problems.append(f"{where}: {report.generate_report().splitlines()[-1].strip()}")
    if step.principal_name != step.principal_arn.rsplit("/", 1)[-1]:
        problems.append("principal_name does not match principal_arn")
    if not problems:
        problems += _consistent(step)
    return problems


def _consistent(step: Step) -> list[str]:
    """The calls do what the step's kind says, on what its ``expect`` names: a hand edit cannot
    turn a quarantine into a grant, or a narrowing of one policy into a change of another."""
    from .calls import canonical

    e = step.expect
    out: list[str] = []

    def want(call: Call, key: str, value: Any) -> None:
        if call.params.get(key) != value:
            out.append(f"{call.operation} {key} {call.params.get(key)!r}: expected {value!r}")

    for call in step.calls:
        op, p = call.operation, call.params
        if op == "UpdateAccessKey":
            want(call, "Status", "Inactive")
        if op in ("UpdateAccessKey", "DeleteAccessKey"):
            want(call, "AccessKeyId", e.get("access_key_id"))
        if op in ("TagUser", "TagRole"):
            keys = [t.get("Key", "") for t in p.get("Tags") or []]
            wanted = (
                [DEACTIVATED_TAG + str(e.get("access_key_id"))]
                if op == "TagUser"
                else [QUARANTINE_TAG]
            )
            if keys != wanted:
                out.append(f"{op} may set only {wanted}, not {keys}")
        if op == "UntagUser" and p.get("TagKeys") != [
            DEACTIVATED_TAG + str(e.get("access_key_id"))
        ]:
            out.append(f"UntagUser may remove only the key's {DEACTIVATED_TAG} tag")
        if step.kind is Kind.QUARANTINE_ROLE and op == "PutRolePolicy":
            if canonical(p.get("PolicyDocument")) != canonical(QUARANTINE_DOCUMENT):
                out.append("the quarantine policy must be dormant's deny-all document")
            if not str(p.get("PolicyName", "")).startswith(QUARANTINE_POLICY):
                out.append(f"the quarantine policy's name must start with {QUARANTINE_POLICY}")
        if step.kind in (Kind.PUT_INLINE, Kind.DELETE_INLINE):
            want(call, "PolicyName", e.get("policy_name"))
        if step.kind in (Kind.NEW_VERSION, Kind.DETACH):
            want(call, "PolicyArn", e.get("policy_arn"))
        if step.kind is Kind.REPLACE_AWS_MANAGED:
            replacement = str(e.get("replacement_arn") or "")
            if op == "CreatePolicy":
                made = f"{p.get('Path') or '/'}{p.get('PolicyName')}"
                if not replacement.endswith(f":policy{made}") or p.get("Path") != REPLACEMENT_PATH:
                    out.append(f"CreatePolicy makes {made}, not {replacement}")
            elif op.startswith("Attach"):
                want(call, "PolicyArn", replacement)
            elif op.startswith("Detach"):
                want(call, "PolicyArn", e.get("policy_arn"))
    return out


def from_json(doc: Any, where: str) -> Plan:
    """A plan from its JSON, checked; errors name ``where`` and the field."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{where}: not a dormant remediation plan (format {FORMAT!r} expected)")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InputError(
            f"{where}: plan schema version {version!r}; this dormant reads version "
            f"{SCHEMA_VERSION} (make the plan again with this version)"
        )
    try:
        steps = tuple(Step.from_json(s) for s in doc.get("steps") or [])
        no_step = tuple(NoStep.from_json(n) for n in doc.get("no_step") or [])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: a step is malformed ({type(exc).__name__}: {exc})") from None
    numbers = [s.number for s in steps]
    if len(set(numbers)) != len(numbers):
        raise InputError(f"{where}: step numbers repeat")
    for s in steps:
        problems = check_step(s)
        if problems:
            raise InputError(f"{where}: step {s.number} ({s.kind}): {'; '.join(problems)}")
    try:
        return Plan(
            created_at=str(doc["created_at"]),
            as_of=str(doc["as_of"]),
            account_ids=tuple(doc.get("account_ids") or ()),
            source=dict(doc.get("source") or {}),
            settings=dict(doc.get("settings") or {}),
            steps=steps,
            no_step=no_step,
            notes=tuple(doc.get("notes") or ()),
            tool_version=str(doc.get("tool_version") or ""),
        )
    except KeyError as exc:
        raise InputError(f"{where}: missing {exc.args[0]!r}") from None


def read(path: str | Path) -> tuple[Plan, dict[str, Any], bytes]:
    """(plan, its JSON, its bytes) from a file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read the plan ({exc.strerror})") from None
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not valid JSON ({exc})") from None
    return from_json(doc, str(p)), doc, data
