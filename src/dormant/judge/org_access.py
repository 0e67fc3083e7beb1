"""Which services an organization root, OU or account does not use: verdicts and a suggested SCP.

Pure: no I/O, no clock, no boto3. The same reports, threshold and ``as_of`` give the same result.

Per service of a complete organization access report:

- ``used``: a principal of the entity's accounts tried it within the threshold.
- ``unused``: the last attempt is older than the threshold.
- ``never-used``: no attempt in the tracking period (AWS: at least 400 days), which covers the
  threshold.
- ``insufficient-evidence``: the tracking period is shorter than the threshold, or the report
  cannot be trusted whole (see below).

A report that FAILED, timed out, could not be read to its last page, or lists fewer services than
it says the SCPs allow, gives no verdict but ``insufficient-evidence``, never ``unused``; so does a
report on an SCP (``--policy-id``) that is attached neither to the entity nor under it, for which
AWS lists the services with no data at all.

The recommendation for an entity with unused services is a *suggested* SCP ``Deny`` of those
service namespaces, labelled as a suggestion to review: Access Advisor's organization data
covers only IAM-authenticated access within its tracking period. The management account gets
none: SCPs do not restrict it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model import Verdict
from ..sources.org_access import (
    OUTCOME_COMPLETED,
    Entity,
    JobError,
    OrgAccessReport,
    Organization,
    PolicyInfo,
)
from ..timeutil import iso, iso_or_none

SCHEMA_VERSION = "1.0"
"""The version of docs/schema/org-access-report.v1.json this module writes."""

TRACKING_DAYS = 400
"""AWS reports service last accessed data for at least the trailing 400 days."""
LAG_HOURS = 4
"""Recent activity usually appears within four hours."""
SCP_MAX_CHARACTERS = 5120
"""AWS Organizations' maximum size of an SCP document."""
SCP_SID = "DormantDenyUnusedServices"

STATUS_COMPLETE = "complete"
STATUS_NO_POLICY_DATA = "no-data-for-policy"

SUGGESTION_LABEL = (
    "Suggestion to review, not a verdict: these services show no IAM-authenticated use by the "
    "entity's accounts within the threshold, according to IAM Access Advisor's organization "
    "report. Review it with the account owners and test it on a non-production OU before "
    "attaching it."
)

CAVEATS = (
    "Access Advisor's organization data counts only authenticated requests made by the root "
    "user, IAM users and IAM roles of the entity's accounts; it does not see unauthenticated "
    "requests. SCPs do not restrict service-linked roles or the management account.",
    f"It covers the tracking period only: AWS reports activity for at least the last "
    f"{TRACKING_DAYS} days (less in a Region that began tracking within the last year), and "
    f"recent activity usually appears within {LAG_HOURS} hours.",
    "Attempts count, denied ones too: a service shown as used may have been refused.",
    "A Deny also blocks future and emergency use of these services in every account it applies "
    "to; keep a way to lift it.",
)

NOTES = (
    *CAVEATS[:2],
    "A root or OU report excludes the management account: SCPs do not restrict it. A report on "
    "the management account lists every service and its own activity only.",
)


@dataclass(frozen=True)
class ServiceVerdict:
    """The verdict on one service of one entity."""

    namespace: str
    """The service prefix, such as ``s3``."""
    name: str
    """The service's name."""
    verdict: Verdict
    """used, unused, never-used or insufficient-evidence."""
    last_authenticated: dt.datetime | None
    """The last attempt the report shows, if any."""
    days_since: int | None
    """Whole days from that attempt to ``as_of``."""
    region: str | None
    """The Region of the last attempt."""
    last_entity_path: str | None
    """The entity path of the account that made the last attempt."""
    total_authenticated_entities: int | None
    """How many accounts tried the service in the tracking period."""
    reason: str
    """One sentence an auditor can check against the report."""

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "verdict": str(self.verdict),
            "last_authenticated": iso_or_none(self.last_authenticated),
            "days_since_last_authenticated": self.days_since,
            "region": self.region,
            "last_entity_path": self.last_entity_path,
            "total_authenticated_entities": self.total_authenticated_entities,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ScpSuggestion:
    """A suggested SCP that denies the services an entity did not use."""

    namespaces: tuple[str, ...]
    """The service prefixes to deny, sorted: exactly the entity's unused and never-used ones."""
    scope: str
    """Who the Deny would restrict, once attached to the entity."""
    warnings: tuple[str, ...]
    """Such as: the document is larger than AWS allows an SCP to be."""

    @property
    def document(self) -> dict[str, Any]:
        """The SCP document (JSON-ready)."""
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": SCP_SID,
                    "Effect": "Deny",
                    "Action": [f"{ns}:*" for ns in self.namespaces],
                    "Resource": "*",
                }
            ],
        }

    @property
    def characters(self) -> int:
        """The document's size without whitespace, as AWS counts it against its limit."""
        return len(json.dumps(self.document, separators=(",", ":")))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "scp-deny",
            "label": SUGGESTION_LABEL,
            "namespaces": list(self.namespaces),
            "scope": self.scope,
            "policy_document": self.document,
            "policy_characters": self.characters,
            "caveats": list(CAVEATS),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class EntityResult:
    """One entity: its report's evidence, the verdict per service, and the suggestion."""

    entity: Entity
    report: OrgAccessReport
    status: str
    """``complete``, ``no-data-for-policy``, or the report's outcome (``failed``, ``timeout``,
    ``error``, ``incomplete``, ``cancelled``)."""
    error: JobError | None
    """Why there is no verdict but insufficient-evidence, if so."""
    services: tuple[ServiceVerdict, ...]
    recommendation: ScpSuggestion | None
    no_recommendation_reason: str | None
    warnings: tuple[str, ...]

    def count(self, verdict: Verdict) -> int:
        return sum(1 for s in self.services if s.verdict == verdict)

    @property
    def unused(self) -> tuple[ServiceVerdict, ...]:
        """The unused and never-used services."""
        return tuple(s for s in self.services if s.verdict in (Verdict.UNUSED, Verdict.NEVER_USED))

    @property
    def complete(self) -> bool:
        return self.status == STATUS_COMPLETE

    def to_json(self) -> dict[str, Any]:
        r = self.report
        return {
            "entity": self.entity.to_json(),
            "status": self.status,
            "error": None
            if self.error is None
            else {
                "operation": self.error.operation,
                "code": self.error.code,
                "message": self.error.message,
            },
            "evidence": {
                "source": "iam:GetOrganizationsAccessReport",
                "job_id": r.job_id,
                "job_status": r.job_status,
                "job_creation_date": iso_or_none(r.job_creation_date),
                "job_completion_date": iso_or_none(r.job_completion_date),
                "number_of_services_accessible": r.number_of_services_accessible,
                "number_of_services_not_accessed": r.number_of_services_not_accessed,
                "services_listed": len(r.details),
                "pages": r.pages,
                "polls": r.polls,
            },
            "summary": _summary(self.services),
            "services": [s.to_json() for s in self.services],
            "recommendation": None
            if self.recommendation is None
            else self.recommendation.to_json(),
            "no_recommendation_reason": self.no_recommendation_reason,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class OrgAccessResult:
    """The whole report: every entity asked for, complete or not."""

    organization: Organization
    policy: PolicyInfo | None
    threshold_days: int
    as_of: dt.datetime
    entities: tuple[EntityResult, ...]
    warnings: tuple[str, ...] = ()
    tool_version: str = ""

    @property
    def unused_count(self) -> int:
        return sum(len(e.unused) for e in self.entities)

    @property
    def incomplete(self) -> tuple[EntityResult, ...]:
        return tuple(e for e in self.entities if not e.complete)

    def to_json(self) -> dict[str, Any]:
        services = [s for e in self.entities for s in e.services]
        summary = {
            "entities": len(self.entities),
            "complete": sum(1 for e in self.entities if e.complete),
            "not_complete": len(self.incomplete),
            **_summary(services),
        }
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "org-access-report",
            "tool": {"name": "dormant", "version": self.tool_version},
            "as_of": iso(self.as_of),
            "organization": self.organization.to_json(),
            "policy": None if self.policy is None else self.policy.to_json(),
            "threshold_days": self.threshold_days,
            "tracking": {
                "period_days": TRACKING_DAYS,
                "lag_hours": LAG_HOURS,
                "notes": list(NOTES),
            },
            "summary": summary,
            "entities": [e.to_json() for e in self.entities],
            "warnings": list(self.warnings),
        }


def _summary(services: list[ServiceVerdict] | tuple[ServiceVerdict, ...]) -> dict[str, int]:
    return {
        "used": sum(1 for s in services if s.verdict == Verdict.USED),
        "unused": sum(1 for s in services if s.verdict == Verdict.UNUSED),
        "never_used": sum(1 for s in services if s.verdict == Verdict.NEVER_USED),
        "insufficient_evidence": sum(
            1 for s in services if s.verdict == Verdict.INSUFFICIENT_EVIDENCE
        ),
    }


def judge(
    organization: Organization,
    entities: list[Entity],
    reports: Mapping[str, OrgAccessReport],
    *,
    threshold_days: int,
    as_of: dt.datetime,
    policy: PolicyInfo | None = None,
    warnings: tuple[str, ...] = (),
    tool_version: str = "",
) -> OrgAccessResult:
    """The verdicts for every entity, in the order given. An entity without a report (never
    asked) is judged as a report that was not read."""
    if threshold_days < 1:
        raise ValueError(f"threshold_days must be at least 1, got {threshold_days}")
    results = []
    for entity in entities:
        report = reports.get(entity.path) or OrgAccessReport(
            entity_path=entity.path,
            policy_id=policy.id if policy else None,
            outcome="error",
            job_id=None,
            job_status=None,
            job_creation_date=None,
            job_completion_date=None,
            number_of_services_accessible=None,
            number_of_services_not_accessed=None,
            details=(),
            pages=0,
            polls=0,
            error=JobError("GenerateOrganizationsAccessReport", "NotRequested", "no report"),
        )
        results.append(_judge_entity(organization, entity, report, threshold_days, as_of, policy))
    return OrgAccessResult(
        organization=organization,
        policy=policy,
        threshold_days=threshold_days,
        as_of=as_of,
        entities=tuple(results),
        warnings=tuple(warnings),
        tool_version=tool_version,
    )


def _judge_entity(
    org: Organization,
    entity: Entity,
    report: OrgAccessReport,
    threshold_days: int,
    as_of: dt.datetime,
    policy: PolicyInfo | None,
) -> EntityResult:
    warnings: list[str] = []
    accessible = report.number_of_services_accessible
    listed = len(report.details)
    error = None
    status = STATUS_COMPLETE
    if not report.complete:
        status = report.outcome if report.outcome != OUTCOME_COMPLETED else "incomplete"
        error = report.error or JobError("GetOrganizationsAccessReport", "NoReport", status)
    elif accessible is not None and listed < accessible:
        # Pages missing (AWS says IAM may return fewer items than asked, even when more exist):
        # a service not read could be the one that was used.
        status = "incomplete"
        error = JobError(
            "GetOrganizationsAccessReport",
            "ServicesMissing",
            f"the report lists {listed} services but says {accessible} are accessible",
        )
    if error is not None:
        return EntityResult(
            entity=entity,
            report=report,
            status=status,
            error=error,
            services=(),
            recommendation=None,
            no_recommendation_reason=(
                f"no complete report to judge ({error.code}): nothing is claimed unused for "
                "this entity"
            ),
            warnings=(),
        )
    not_accessed = report.number_of_services_not_accessed
    no_data = None
    if accessible is not None and listed > accessible:
        warnings.append(f"the report lists {listed} services but says {accessible} are accessible")
    blank = sum(1 for d in report.details if d.last_authenticated is None)
    if not_accessed is not None and blank != not_accessed:
        warnings.append(
            f"the report lists {blank} services with no access but counts {not_accessed}"
        )
    if (
        policy is not None
        and not entity.management_account
        and not policy.attached_at_or_below(entity.path)
    ):
        status = STATUS_NO_POLICY_DATA
        no_data = (
            f"SCP {policy.id} is attached neither to {entity.path} nor under it: AWS lists the "
            "services it allows with no data"
        )
    services = tuple(_judge_service(d, threshold_days, as_of, no_data) for d in report.details)
    recommendation = None
    reason = None
    unused = sorted(
        {s.namespace for s in services if s.verdict in (Verdict.UNUSED, Verdict.NEVER_USED)}
    )
    if no_data is not None:
        reason = no_data
    elif entity.management_account:
        reason = (
            "SCPs do not restrict the management account: AWS lists every service for it, and "
            "no SCP can deny them"
        )
    elif not unused:
        reason = (
            f"every service the report lists was used within {threshold_days} days, or the "
            "evidence cannot say"
        )
    else:
        suggestion_warnings = []
        recommendation = ScpSuggestion(
            namespaces=tuple(unused),
            scope=_scope(org, entity, policy),
            warnings=(),
        )
        if recommendation.characters > SCP_MAX_CHARACTERS:
            suggestion_warnings.append(
                f"the document is {recommendation.characters} characters; AWS allows an SCP "
                f"{SCP_MAX_CHARACTERS}: split it into several SCPs"
            )
            recommendation = ScpSuggestion(
                recommendation.namespaces, recommendation.scope, tuple(suggestion_warnings)
            )
    return EntityResult(
        entity=entity,
        report=report,
        status=status,
        error=error,
        services=services,
        recommendation=recommendation,
        no_recommendation_reason=reason,
        warnings=tuple(warnings),
    )


def _scope(org: Organization, entity: Entity, policy: PolicyInfo | None) -> str:
    if entity.kind == "root":
        who = (
            f"every member account of organization {org.id} (the management account excepted: "
            "SCPs do not restrict it)"
        )
    elif entity.kind == "ou":
        label = f"{entity.name} ({entity.id})" if entity.name else entity.id
        who = f"every account in OU {label} and in the OUs under it"
    else:
        label = f"{entity.name} ({entity.id})" if entity.name else entity.id
        who = f"account {label}"
    text = f"Attached to {entity.path}, it would restrict {who}."
    if policy is not None:
        text += (
            f" The report speaks of the accounts SCP {policy.id} applies to there: alternatively, "
            f"remove these services from what {policy.id} allows."
        )
    return text


def _judge_service(
    detail: Any, threshold_days: int, as_of: dt.datetime, no_data: str | None
) -> ServiceVerdict:
    last = detail.last_authenticated
    days = None if last is None else max(0, (as_of - last) // dt.timedelta(days=1))
    if no_data is not None:
        verdict, reason = Verdict.INSUFFICIENT_EVIDENCE, no_data
    elif last is not None:
        where = f" from {detail.entity_path}" if detail.entity_path else ""
        if as_of - last <= dt.timedelta(days=threshold_days):
            verdict = Verdict.USED
            reason = f"last attempted {days} days ago{where}, within {threshold_days} days"
        else:
            verdict = Verdict.UNUSED
            reason = (
                f"last attempted {days} days ago{where}, longer ago than the threshold of "
                f"{threshold_days} days"
            )
    elif threshold_days > TRACKING_DAYS:
        verdict = Verdict.INSUFFICIENT_EVIDENCE
        reason = (
            f"no attempt in the tracking period ({TRACKING_DAYS} days), which is shorter than "
            f"the threshold of {threshold_days} days"
        )
    else:
        verdict = Verdict.NEVER_USED
        reason = (
            f"no principal of the entity's accounts attempted it in the tracking period (at "
            f"least {TRACKING_DAYS} days)"
        )
    return ServiceVerdict(
        namespace=detail.namespace,
        name=detail.name,
        verdict=verdict,
        last_authenticated=last,
        days_since=days,
        region=detail.region,
        last_entity_path=detail.entity_path,
        total_authenticated_entities=detail.total_authenticated_entities,
        reason=reason,
    )


__all__ = [
    "CAVEATS",
    "SCHEMA_VERSION",
    "SUGGESTION_LABEL",
    "EntityResult",
    "OrgAccessResult",
    "ScpSuggestion",
    "ServiceVerdict",
    "judge",
]
