"""IAM roles: unused when neither RoleLastUsed nor any other source shows use within the
threshold. IAM tracks role use for the trailing 400 days only.

A role's last use is the latest of RoleLastUsed and, where its Access Advisor report completed,
every service's LastAuthenticated (an authenticated attempt to use a service is a use of the
role); every one of those values is kept in the evidence."""

from __future__ import annotations

import datetime as dt

from ..model import Finding, FindingType, Observation, PrincipalType, Recommendation, Verdict
from ..policy import Policy
from ..sources import access_advisor, authorization
from ..timeutil import iso_or_none, parse_time
from .common import ROLE_TRACKING_DAYS, latest, q, usage_verdict
from .view import AccountView


def _recommendation(name: str) -> Recommendation:
    return Recommendation(
        "Quarantine the role (attach a deny-all inline policy) and delete it after a waiting "
        "period if nothing breaks; save its trust and permission policies first.",
        (
            f"aws iam get-role --role-name {q(name)}",
            f"aws iam put-role-policy --role-name {q(name)} --policy-name dormant-quarantine "
            '--policy-document \'{"Version":"2012-10-17","Statement":[{"Effect":'
            '"Deny","Action":"*","Resource":"*"}]}\'',
            f"aws iam delete-role --role-name {q(name)}",
        ),
    )


def _advisor_uses(view: AccountView, arn: str) -> list[tuple[dt.datetime | None, Observation]]:
    """Each service's LastAuthenticated from the role's Access Advisor report, as uses."""
    report = view.advisor_report(arn)
    if report is None:
        return []
    read_at = view.read_at(access_advisor.NAME)
    completed = iso_or_none(report.job_completion_date)
    if not report.complete:
        why = report.error.message if report.error else report.outcome
        return [
            (
                None,
                Observation(
                    access_advisor.GET,
                    "JobStatus",
                    report.job_status or report.outcome,
                    read_at,
                    note=f"no Access Advisor report ({why}): only RoleLastUsed is counted",
                ),
            )
        ]
    used = [s for s in report.services if s.last_authenticated is not None]
    if not used:
        return [
            (
                None,
                Observation(
                    access_advisor.GET,
                    "ServicesLastAccessed[].LastAuthenticated",
                    None,
                    read_at,
                    data_as_of=completed,
                    note=f"none of the {len(report.services)} allowed services was used in the "
                    "tracked 400 days",
                ),
            )
        ]
    return [
        (
            s.last_authenticated,
            Observation(
                access_advisor.GET,
                f"ServicesLastAccessed[{s.namespace}].LastAuthenticated",
                iso_or_none(s.last_authenticated),
                read_at,
                data_as_of=completed,
            ),
        )
        for s in sorted(used, key=lambda s: s.namespace)
    ]


def judge_roles(
    view: AccountView, policy: Policy, as_of: dt.datetime
) -> tuple[list[Finding], dict[str, int]]:
    ftype = FindingType.UNUSED_ROLE
    threshold = policy.threshold(ftype)
    findings: list[Finding] = []
    if authorization.NAME not in view.sources:
        return findings, {"roles": 0}  # not collected (a bare credential report): out of scope
    if not view.details.read:
        why = view.source_error(authorization.NAME)
        findings.append(
            Finding(
                type=ftype,
                account_id=view.account_id,
                principal_arn=f"arn:aws:iam::{view.account_id}:role/*",
                principal_name="*",
                principal_type=PrincipalType.ROLE,
                verdict=Verdict.INSUFFICIENT_EVIDENCE,
                reason=f"roles could not be listed: GetAccountAuthorizationDetails failed ({why})",
                threshold_days=threshold,
                evidence=(
                    Observation(
                        "GetAccountAuthorizationDetails",
                        "Error",
                        why,
                        view.read_at(authorization.NAME),
                    ),
                ),
                recommendation=Recommendation(
                    "Grant iam:GetAccountAuthorizationDetails to the scanner and scan again.",
                    ("aws iam get-account-authorization-details --filter Role",),
                ),
            )
        )
        return findings, {"roles": 0}
    for role in view.details.roles.values():
        uses = [
            (
                role.last_used,
                view.obs(
                    authorization.NAME,
                    "GetAccountAuthorizationDetails",
                    "RoleLastUsed.LastUsedDate",
                    role.last_used,
                    note=None if role.last_used else "absent: no use in the tracked 400 days",
                ),
            )
        ]
        uses.extend(_advisor_uses(view, role.arn))
        uses.extend(trail_role_uses(view, role.arn))
        last, evidence = latest(uses, not_before=role.created)
        evidence.insert(
            0,
            view.obs(
                authorization.NAME, "GetAccountAuthorizationDetails", "CreateDate", role.created
            ),
        )
        usage = usage_verdict(
            noun="role",
            last_used=last,
            created=role.created,
            as_of=as_of,
            threshold_days=threshold,
            window_days=ROLE_TRACKING_DAYS,
        )
        if not usage.is_finding:
            continue
        findings.append(
            Finding(
                type=ftype,
                account_id=view.account_id,
                principal_arn=role.arn,
                principal_name=role.name,
                principal_type=PrincipalType.ROLE,
                verdict=usage.verdict,
                reason=usage.reason,
                threshold_days=threshold,
                last_used=iso_or_none(usage.last_used),
                created=iso_or_none(role.created),
                days_unused=usage.days_unused,
                evidence=tuple(evidence),
                recommendation=_recommendation(role.name),
                details={
                    "path": role.path,
                    "last_used_region": role.last_used_region,
                    **assumed_by(view, role.arn),
                },
            )
        )
    return findings, {"roles": len(view.details.roles)}


MAX_CALLERS = 50
"""Callers listed per role, most recent first; ``callers_total`` counts them all."""


def trail_role_uses(view: AccountView, role_arn: str) -> list:
    """CloudTrail's evidence of a role's use: its last successful assumption, and the last
    event of its sessions (a session can outlive the assumption by hours)."""
    out = []
    assumed = view.trail_role(role_arn)
    if assumed is not None:
        out.append(
            (
                parse_time(assumed.last_assumed),
                view.trail_obs(
                    "role_assumptions.last_assumed",
                    assumed.last_assumed,
                    note=f"{assumed.count} successful AssumeRole* event(s)",
                ),
            )
        )
    activity = view.trail_principal(role_arn)
    if activity is not None:
        out.append(
            (
                parse_time(activity.last_seen),
                view.trail_obs(
                    "principal_activity.last_seen",
                    activity.last_seen,
                    note=f"{activity.count} event(s) by its sessions",
                ),
            )
        )
    return out


def assumed_by(view: AccountView, role_arn: str) -> dict:
    """``assumed_by``: who assumed the role, by CloudTrail; empty without a trail."""
    if view.trail is None:
        return {}
    assumed = view.trail_role(role_arn)
    callers = sorted(
        assumed.callers if assumed else (), key=lambda c: (c.last_seen, c.caller), reverse=True
    )
    return {
        "assumed_by": [
            {"caller": c.caller, "kind": c.kind, "last_seen": c.last_seen, "count": c.count}
            for c in callers[:MAX_CALLERS]
        ],
        "callers_total": len(callers),
        "trail_time_range": {
            "start": view.trail.time_range.start,
            "end": view.trail.time_range.end,
        },
    }
