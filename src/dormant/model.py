"""Verdicts, evidence and findings: the vocabulary every part of dormant speaks.

Findings are frozen and carry their evidence: each source's value, when it was read, the
threshold applied and why the verdict is what it is. Sinks only present them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """Exactly one per credential, role or permission."""

    USED = "used"
    """Used within the threshold."""
    UNUSED = "unused"
    """Last used longer ago than the threshold, or not used in all the time the evidence covers
    (which is longer than the threshold)."""
    NEVER_USED = "never-used"
    """No use recorded since it was created, and it was created after tracking began."""
    INSUFFICIENT_EVIDENCE = "insufficient-evidence"
    """The evidence cannot support a verdict: a source was denied or failed, or tracking does not
    reach back far enough. Never reported as unused, never dropped."""
    EXCLUDED = "excluded"
    """Excluded by a rule (default exclusion or allow-list entry), named in ``excluded_by``."""


class FindingType(StrEnum):
    """Named as AWS IAM Access Analyzer names them, where it has a name."""

    UNUSED_PASSWORD = "UnusedIAMUserPassword"
    UNUSED_ACCESS_KEY = "UnusedIAMUserAccessKey"
    UNUSED_ROLE = "UnusedIAMRole"
    UNUSED_PERMISSION = "UnusedPermission"
    UNROTATED_ACCESS_KEY = "UnrotatedIAMUserAccessKey"
    ROOT_ACCESS_KEY_PRESENT = "RootAccessKeyPresent"
    ROOT_RECENTLY_USED = "RootRecentlyUsed"
    INACTIVE_USER = "InactiveIAMUser"


USAGE_TYPES = frozenset(
    {
        FindingType.UNUSED_PASSWORD,
        FindingType.UNUSED_ACCESS_KEY,
        FindingType.UNUSED_ROLE,
        FindingType.UNUSED_PERMISSION,
        FindingType.INACTIVE_USER,
    }
)
"""Types whose finding means "not used": their verdict is unused, never-used or
insufficient-evidence. The other types are findings whatever the usage verdict."""


class PrincipalType(StrEnum):
    USER = "user"
    ROLE = "role"
    ROOT = "root"
    GROUP = "group"
    POLICY = "policy"


@dataclass(frozen=True)
class Observation:
    """One value one source gave about one thing."""

    source: str
    """Where the value comes from: an API operation (``GetAccessKeyLastUsed``), the
    ``credential_report`` or ``cloudtrail``."""
    field: str
    """The field that holds the value, as the source names it."""
    value: str | None
    """The value as the source gave it (times as ISO-8601 UTC; the credential report's
    ``N/A``, ``no_information`` and ``not_supported`` kept verbatim); null where absent."""
    read_at: str | None
    """When dormant read it, ISO-8601 UTC."""
    data_as_of: str | None = None
    """When the source's data was current, where it differs from ``read_at`` (the credential
    report's GeneratedTime)."""
    note: str | None = None
    """How dormant read the value, where that is not obvious."""

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "field": self.field,
            "value": self.value,
            "read_at": self.read_at,
            "data_as_of": self.data_as_of,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Observation:
        return cls(
            source=d["source"],
            field=d["field"],
            value=d.get("value"),
            read_at=d.get("read_at"),
            data_as_of=d.get("data_as_of"),
            note=d.get("note"),
        )


@dataclass(frozen=True)
class Recommendation:
    """What to do about a finding."""

    summary: str
    """One sentence for a person."""
    commands: tuple[str, ...] = ()
    """AWS CLI commands that carry it out, in order, arguments shell-quoted."""

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary, "commands": list(self.commands)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Recommendation:
        return cls(summary=d["summary"], commands=tuple(d.get("commands") or ()))


@dataclass(frozen=True)
class Finding:
    """One judged thing: a credential, a role, a user, a permission."""

    type: FindingType
    account_id: str
    """The 12-digit account the principal lives in."""
    principal_arn: str
    principal_name: str
    principal_type: PrincipalType
    verdict: Verdict
    reason: str
    """Why the verdict is what it is, in one sentence a person can check against the
    evidence."""
    threshold_days: int
    """The threshold applied, in days."""
    last_used: str | None = None
    """The latest use across every source, ISO-8601 UTC; null when none is recorded."""
    created: str | None = None
    """When the credential or role was created, ISO-8601 UTC."""
    days_unused: int | None = None
    """Whole days from ``last_used`` (or, with no recorded use, from the start of what the
    evidence covers) to ``as_of``; null where it cannot be known."""
    access_key_id: str | None = None
    """For key findings: the key id (never a secret; AWS shows it in the console)."""
    key_slot: int | None = None
    """For key findings known only from the credential report: its slot (1 or 2)."""
    service: str | None = None
    """For permission findings: the service namespace."""
    action: str | None = None
    """For action-level permission findings: the action."""
    scope: str | None = None
    """For permission findings, what the finding covers (part of its identity): ``service``
    (every granted action of a wholly unused service), ``action`` (one unused action of a used
    service), ``untracked`` (the granted actions of one service that the evidence cannot judge)
    or ``principal`` (every permission of the principal, when none could be judged). Null for
    the other types."""
    excluded_by: str | None = None
    """For excluded ones: the rule that excluded it."""
    evidence: tuple[Observation, ...] = ()
    recommendation: Recommendation | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """Type-specific extras (who assumed a role, the policies that grant a permission)."""

    @property
    def id(self) -> str:
        """Stable across runs: the same thing gets the same id, whatever its verdict."""
        subject = self.access_key_id or (f"slot{self.key_slot}" if self.key_slot else "")
        parts = [
            str(self.type),
            self.account_id,
            self.principal_arn,
            subject,
            self.service or "",
            self.action or "",
        ]
        if self.scope:
            # Only permission findings have one: the ids of every other type stay as they were.
            parts.append(self.scope)
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]

    def sort_key(self) -> tuple:
        return (
            self.account_id,
            str(self.type),
            self.principal_arn,
            self.access_key_id or "",
            self.key_slot or 0,
            self.service or "",
            self.action or "",
            self.scope or "",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": str(self.type),
            "account_id": self.account_id,
            "principal_arn": self.principal_arn,
            "principal_name": self.principal_name,
            "principal_type": str(self.principal_type),
            "access_key_id": self.access_key_id,
            "key_slot": self.key_slot,
            "service": self.service,
            "action": self.action,
            "scope": self.scope,
            "verdict": str(self.verdict),
            "reason": self.reason,
            "last_used": self.last_used,
            "created": self.created,
            "days_unused": self.days_unused,
            "threshold_days": self.threshold_days,
            "excluded_by": self.excluded_by,
            "evidence": [o.to_json() for o in self.evidence],
            "recommendation": self.recommendation.to_json() if self.recommendation else None,
            "details": self.details,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Finding:
        rec = d.get("recommendation")
        return cls(
            type=FindingType(d["type"]),
            account_id=d["account_id"],
            principal_arn=d["principal_arn"],
            principal_name=d["principal_name"],
            principal_type=PrincipalType(d["principal_type"]),
            verdict=Verdict(d["verdict"]),
            reason=d["reason"],
            threshold_days=d["threshold_days"],
            last_used=d.get("last_used"),
            created=d.get("created"),
            days_unused=d.get("days_unused"),
            access_key_id=d.get("access_key_id"),
            key_slot=d.get("key_slot"),
            service=d.get("service"),
            action=d.get("action"),
            scope=d.get("scope"),
            excluded_by=d.get("excluded_by"),
            evidence=tuple(Observation.from_json(o) for o in d.get("evidence") or ()),
            recommendation=Recommendation.from_json(rec) if rec else None,
            details=d.get("details") or {},
        )


@dataclass(frozen=True)
class CoverageEntry:
    """How one source fared in one account."""

    account_id: str
    source: str
    status: str
    """``read``, ``partial``, ``denied``, ``failed`` or ``skipped``."""
    read_at: str | None
    errors: tuple[dict[str, Any], ...] = ()
    """Each with ``operation``, ``code``, ``message`` and ``target``."""
    affects: str = ""
    """What depends on this source, for a reader deciding whether a gap matters."""
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per API operation: ``calls``, ``errors``, ``status``."""

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "source": self.source,
            "status": self.status,
            "read_at": self.read_at,
            "operations": self.operations,
            "errors": list(self.errors),
            "affects": self.affects,
        }


@dataclass(frozen=True)
class ExceptionStatus:
    """An allow-list entry of the policy file and what it did in this run."""

    pattern: str
    """The ARN pattern or ``tag:Key=Value`` the entry matches."""
    owner: str
    reason: str
    expires: str
    """ISO date."""
    expired: bool
    matched: tuple[str, ...] = ()
    """Ids of the findings it excluded (or, when expired, would have excluded)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "owner": self.owner,
            "reason": self.reason,
            "expires": self.expires,
            "status": "expired" if self.expired else "active",
            "matched": list(self.matched),
        }


@dataclass(frozen=True)
class AccountInfo:
    account_id: str
    account_name: str | None
    collected_at: str | None
    scanner_arn: str | None
    """The identity that collected the evidence."""
    credential_report_generated_at: str | None = None
    """The credential report's GeneratedTime, ISO-8601 UTC: how fresh its data is, which can be
    up to 4 hours older than ``collected_at``. Null when no report was read."""
    scan_status: str = "complete"
    """``complete``; ``incomplete`` (scanned, but a source was denied or failed); or
    ``not-scanned`` (an organization member that could not be reached at all, e.g. AssumeRole
    denied). Set by the judge from the account's coverage."""
    scan_gaps: tuple[str, ...] = ()
    """One line per gap that made the account incomplete or not scanned, for people."""
    ou_path: str | None = None
    """The account's place in the organization (``Root/Prod/Payments``), when scanned with
    --org."""

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "account_name": self.account_name,
            "collected_at": self.collected_at,
            "scanner_arn": self.scanner_arn,
            "credential_report_generated_at": self.credential_report_generated_at,
            "scan_status": self.scan_status,
            "scan_gaps": list(self.scan_gaps),
            "ou_path": self.ou_path,
        }


@dataclass(frozen=True)
class RoleAssumptionSummary:
    """A role that CloudTrail shows being assumed, with who assumed it."""

    account_id: str
    role_arn: str
    role_name: str
    last_assumed: str
    """The latest successful AssumeRole* event, ISO-8601 UTC."""
    count: int
    callers: tuple[dict[str, Any], ...]
    """Each: ``caller``, ``kind``, ``last_seen``, ``count``; most recent first."""
    verdict: str
    """The role's verdict: ``used`` unless it has an UnusedIAMRole finding (or is excluded)."""
    finding_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "role_arn": self.role_arn,
            "role_name": self.role_name,
            "last_assumed": self.last_assumed,
            "count": self.count,
            "callers": list(self.callers),
            "verdict": self.verdict,
            "finding_id": self.finding_id,
        }


@dataclass(frozen=True)
class Report:
    """The judgement of one snapshot: what every sink presents."""

    as_of: str
    accounts: tuple[AccountInfo, ...]
    findings: tuple[Finding, ...]
    """Every finding that needs a person: unused, never-used, insufficient-evidence, and the
    root and rotation findings. Sorted."""
    excluded: tuple[Finding, ...]
    """What a rule excluded, with the rule."""
    coverage: tuple[CoverageEntry, ...]
    exceptions: tuple[ExceptionStatus, ...]
    thresholds: dict[str, int]
    policy_source: str | None
    snapshot_digest: str | None
    """The SHA-256 of the snapshot's manifest, so a report names the evidence it judged."""
    warnings: tuple[str, ...] = ()
    assessed: dict[str, int] = field(default_factory=dict)
    """How many things were judged, by kind (users, access keys, roles...), verdict ``used``
    included, so a clean report still shows what it looked at."""
    role_assumptions: tuple[RoleAssumptionSummary, ...] = ()
    """Who assumed each role, by CloudTrail, used roles included; empty without a trail."""

    @property
    def account_ids(self) -> list[str]:
        return [a.account_id for a in self.accounts]
