"""UnusedPermission: what a role's or user's identity policies grant and Access Advisor shows
unused, and the least-privilege rewrite of those policies. Pure: no clock, no I/O (package data
aside).

Who is judged. Roles and users: the principals that use permissions, and the ones IAM Access
Analyzer reports unused permissions for. A user's permissions include its groups' policies.
Groups and customer-managed policies get no findings of their own (they would repeat their
members' findings), but their own Access Advisor reports decide how *they* are rewritten: a
policy shared by several principals loses only what none of them used.

Not judged one by one: a principal whose own finding already says it is unused (UnusedIAMRole,
InactiveIAMUser: unused or never-used), because the remedy is to remove the principal, not to trim
it; a principal younger than the threshold, because nothing it was granted can have gone unused
that long (as for credentials); an excluded principal (service-linked, IAM Identity Center,
policy exclusions, allow-list), which gets one excluded finding instead of one per service.

Granularity (``Finding.scope``), per principal and service namespace:

- ``service``: the service's LastAuthenticated is absent or older than the threshold, and no
  granted action of it is used: one finding for every granted action Access Advisor can judge
  (``details["actions"]`` lists them with their last access).
- ``action``: the service is used, but a granted action it tracks at action level is not: one
  finding per such action.
- ``untracked``: the granted actions of the service that the evidence cannot judge
  (``iam:PassRole``, S3 object-level actions, actions with no action-level data in a used service,
  services missing from the report, grants younger than the threshold), grouped in one
  insufficient-evidence finding, so a large account is not flooded and nothing is dropped.
- ``principal``: every permission of a principal whose Access Advisor job failed, timed out or
  was denied (insufficient-evidence), or of an excluded principal.

Each finding names what grants it (``details["granted_by"]``: policy, kind, statement, group).
Where Access Analyzer findings were read, ``details["access_analyzer"]`` says whether Access
Analyzer agrees: ``agrees``, ``disagrees`` or ``no finding`` (see :func:`_compare`).

One finding per principal (its first removable one in report order, ``details["least_privilege"]
is True``) carries the principal's least-privilege rewrite: ``details["policy_diff"]`` (unified
diffs) and ``details["recommended_policies"]`` (the documents, in JSON).

IAM does not date inline policy changes or policy attachments: a grant is taken to be as old as
the principal (and, for a group's policies, the group). A customer-managed policy's grant is
dated by its retained versions: the earliest version from which every later version up to the
default one grants the action. A grant younger than the threshold is never unused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..iam.catalog import ActionCatalog, load_catalog, split_action
from ..iam.evaluate import Decision, decide
from ..iam.policy import PolicyDocument, PolicyError, parse_policy
from ..iam.rewrite import PolicyInput, PolicyKind, PolicyRewrite, rewrite_policies, unified_diff
from ..iam.usage import (
    GrantedPermission,
    Level,
    PermissionVerdict,
    TrackingFacts,
    UsageEvidence,
    judge_granted,
    load_tracking,
)
from ..iam.usage import Verdict as PVerdict
from ..model import Finding, FindingType, Observation, PrincipalType, Recommendation, Verdict
from ..policy import Policy
from ..sources import access_advisor, access_analyzer, authorization
from ..sources.access_advisor import AccessAdvisorReport
from ..sources.base import SourceStatus
from ..timeutil import iso, iso_or_none, parse_time_or_none, whole_days
from .common import ROLE_TRACKING_DAYS, usage_verdict
from .view import AccountView

FTYPE = FindingType.UNUSED_PERMISSION
AWS_MANAGED = ":aws:policy/"

SCOPE_SERVICE = "service"
SCOPE_ACTION = "action"
SCOPE_UNTRACKED = "untracked"
SCOPE_PRINCIPAL = "principal"

AGREES, DISAGREES, NO_FINDING = "agrees", "disagrees", "no finding"
UNKNOWN = "unknown (Access Analyzer finding details not read)"


# --------------------------------------------------------------------------------------------
# Principals and their policies


@dataclass(frozen=True)
class AppliedPolicy:
    """One identity policy that applies to a principal."""

    key: str
    """Unique within the account: the managed policy's ARN, or ``<owner ARN>#<name>`` inline."""
    name: str
    kind: PolicyKind
    arn: str | None
    """The managed policy's ARN; None inline."""
    owner: str
    """The role, user or group ARN it is inline in or attached to."""
    via_group: str | None
    """For a user: the group it comes through."""
    document: Mapping[str, Any] | None = field(hash=False)
    """The document in force; None when the evidence lacks it (a managed policy not listed)."""
    detail: Mapping[str, Any] | None = field(default=None, hash=False)
    """The managed policy's GetAccountAuthorizationDetails entry (versions, dates)."""

    def label(self) -> dict[str, Any]:
        return {
            "policy": self.name,
            "type": str(self.kind),
            "arn": self.arn,
            "attached_to": self.owner,
            "via_group": self.via_group,
        }


@dataclass(frozen=True)
class Principal:
    arn: str
    name: str
    type: PrincipalType
    path: str
    created: dt.datetime | None
    tags: Mapping[str, str] = field(hash=False)
    policies: tuple[AppliedPolicy, ...]
    groups: tuple[tuple[str, dt.datetime | None], ...] = ()
    """For a user: (group ARN, group CreateDate) of each group."""


def _managed_document(detail: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if not detail:
        return None
    default = detail.get("DefaultVersionId")
    for version in detail.get("PolicyVersionList") or []:
        if version.get("IsDefaultVersion") or version.get("VersionId") == default:
            doc = version.get("Document")
            return doc if isinstance(doc, Mapping) else _loads(doc)
    return None


def _loads(doc: Any) -> Mapping[str, Any] | None:
    from ..iam.policy import load_document

    try:
        return load_document(doc) if doc is not None else None
    except PolicyError:
        return None


def _attached(
    items: list[Mapping[str, Any]] | None,
    owner: str,
    via: str | None,
    details: authorization.AuthorizationDetails,
) -> list[AppliedPolicy]:
    out = []
    for item in items or []:
        arn = item.get("PolicyArn") or ""
        detail = details.policies.get(arn)
        out.append(
            AppliedPolicy(
                key=arn,
                name=item.get("PolicyName") or arn.rsplit("/", 1)[-1],
                kind=PolicyKind.AWS_MANAGED if AWS_MANAGED in arn else PolicyKind.MANAGED,
                arn=arn,
                owner=owner,
                via_group=via,
                document=_managed_document(detail),
                detail=detail,
            )
        )
    return out


def _inline(
    items: list[Mapping[str, Any]] | None, kind: PolicyKind, owner: str, via: str | None
) -> list[AppliedPolicy]:
    return [
        AppliedPolicy(
            key=f"{owner}#{item.get('PolicyName')}",
            name=str(item.get("PolicyName")),
            kind=kind,
            arn=None,
            owner=owner,
            via_group=via,
            document=_loads(item.get("PolicyDocument")),
        )
        for item in items or []
    ]


def principals(view: AccountView) -> list[Principal]:
    """Every role and user of the authorization details, with the policies that apply."""
    details = view.details
    groups_by_name = {g.get("GroupName"): g for g in details.groups.values()}
    out: list[Principal] = []
    for role in details.roles.values():
        d = role.detail
        policies = _inline(d.get("RolePolicyList"), PolicyKind.INLINE_ROLE, role.arn, None)
        policies += _attached(d.get("AttachedManagedPolicies"), role.arn, None, details)
        out.append(
            Principal(
                role.arn,
                role.name,
                PrincipalType.ROLE,
                role.path,
                role.created,
                role.tags,
                tuple(policies),
            )
        )
    for user in details.users.values():
        d = user.detail
        policies = _inline(d.get("UserPolicyList"), PolicyKind.INLINE_USER, user.arn, None)
        policies += _attached(d.get("AttachedManagedPolicies"), user.arn, None, details)
        groups = []
        for name in user.groups:
            g = groups_by_name.get(name)
            if g is None:
                continue
            garn = g["Arn"]
            groups.append((garn, parse_time_or_none(g.get("CreateDate"))))
            policies += _inline(g.get("GroupPolicyList"), PolicyKind.INLINE_GROUP, garn, name)
            policies += _attached(g.get("AttachedManagedPolicies"), garn, name, details)
        out.append(
            Principal(
                user.arn,
                user.name,
                PrincipalType.USER,
                user.path,
                user.created,
                user.tags,
                tuple(policies),
                tuple(groups),
            )
        )
    return sorted(out, key=lambda p: p.arn)


# --------------------------------------------------------------------------------------------
# When was an action granted?


@functools.lru_cache(maxsize=4096)
def _parsed(doc_json: str) -> PolicyDocument | None:
    try:
        return parse_policy(json.loads(doc_json))
    except (PolicyError, ValueError):
        return None


def _doc_of(document: Any) -> PolicyDocument | None:
    """The parsed document (cached by content), or None when it is not a readable policy."""
    doc = document if isinstance(document, Mapping) else _loads(document)
    if doc is None:
        return None
    return _parsed(json.dumps(doc, sort_keys=True))


def _version_number(version_id: str | None) -> int | None:
    if version_id and version_id[:1] in "vV" and version_id[1:].isdigit():
        return int(version_id[1:])
    return None


def managed_grant_since(detail: Mapping[str, Any], action: str) -> dt.datetime | None:
    """Since when the customer-managed policy has granted ``action``, as far as its retained
    versions tell: the CreateDate of the earliest version from which every later version, up to
    the default one, grants it. Versions are taken to have become the default in the order they
    were created; when the default is not the newest, or a version in between was deleted, the
    run stops there. None when the default version is not in the evidence."""
    versions = []
    default = None
    for v in detail.get("PolicyVersionList") or []:
        number = _version_number(v.get("VersionId"))
        created = parse_time_or_none(v.get("CreateDate"))
        entry = (number, created, v.get("Document"))
        versions.append(entry)
        if v.get("IsDefaultVersion") or v.get("VersionId") == detail.get("DefaultVersionId"):
            default = entry
    if default is None:
        return None
    since = default[1]
    numbers = [v[0] for v in versions]
    if default[0] is None or None in numbers or default[0] != max(numbers):
        return since
    by_number = {v[0]: v for v in versions}
    n = default[0] - 1
    while n in by_number:
        _, created, document = by_number[n]
        parsed = _doc_of(document)
        if parsed is None or created is None:
            break
        if not decide({"v": parsed}, action).allowed:
            break
        since = created
        n -= 1
    return since


def _later(*values: dt.datetime | None) -> dt.datetime | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def grant_since(
    policies: Mapping[str, AppliedPolicy],
    decision: Decision,
    floor: Callable[[AppliedPolicy], dt.datetime | None],
) -> dt.datetime | None:
    """The earliest date since which some grant of the action has existed (see the module
    docstring); None when nothing dates it. ``floor(policy)``: the date the grant cannot predate
    (the principal's or the group's creation)."""
    dates = []
    for g in decision.grants:
        pol = policies.get(g.policy)
        if pol is None:
            continue
        since = floor(pol)
        if pol.kind is PolicyKind.MANAGED and pol.detail:
            since = _later(since, managed_grant_since(pol.detail, decision.action))
        dates.append(since)
    if not dates or any(d is None for d in dates):
        return None
    return min(d for d in dates if d is not None)


ON_BEHALF_ACTIONS = frozenset(
    {
        "kms:decrypt",
        "kms:encrypt",
        "kms:generatedatakey",
        "kms:generatedatakeywithoutplaintext",
        "kms:generatedatakeypair",
        "kms:generatedatakeypairwithoutplaintext",
        "kms:reencryptfrom",
        "kms:reencryptto",
        "kms:describekey",
        "kms:creategrant",
    }
)
"""Actions AWS services call on a principal's behalf through forward access sessions (S3, SQS,
SNS, DynamoDB or Secrets Manager decrypting and encrypting with a KMS key). The IAM User Guide
says Access Advisor reports attempts made through the console, the SDKs and the command line; it
does not say whether those calls count, so Access Advisor alone never makes these unused: the
principal may use them every day without calling KMS itself."""


def _younger_grant(
    since: dt.datetime | None, cutoff: dt.datetime, verdict: PermissionVerdict
) -> PermissionVerdict:
    """The verdict, made insufficient-evidence when Access Advisor alone cannot support a
    removable one: the grant is younger than the threshold, or the action is one services call
    on the principal's behalf (:data:`ON_BEHALF_ACTIONS`)."""
    if not verdict.verdict.removable:
        return verdict
    if verdict.action.lower() in ON_BEHALF_ACTIONS:
        return PermissionVerdict(
            verdict.action,
            PVerdict.INSUFFICIENT,
            Level.NONE,
            verdict.last_used,
            "services call it on the principal's behalf (forward access sessions), which Access "
            "Advisor may not count",
        )
    if since is None or since <= cutoff:
        return verdict
    return PermissionVerdict(
        verdict.action,
        PVerdict.INSUFFICIENT,
        Level.NONE,
        verdict.last_used,
        f"granted only since {since.date().isoformat()}, within the threshold: the evidence "
        "cannot show it unused for that long",
    )


# --------------------------------------------------------------------------------------------
# Access Analyzer


@dataclass(frozen=True)
class _AAView:
    """Access Analyzer's ACTIVE UnusedPermission findings of one principal."""

    findings: tuple[access_analyzer.UnusedAccessFinding, ...]

    @property
    def read(self) -> bool:
        return all(f.details is not None for f in self.findings)

    def unused(self) -> dict[str, set[str] | None]:
        """Per service: the unused actions it lists (lower case), or None for the whole service."""
        out: dict[str, set[str] | None] = {}
        for f in self.findings:
            for d in f.details or ():
                if d.kind != "unusedPermissionDetails" or not d.service_namespace:
                    continue
                ns = d.service_namespace.lower()
                actions = {a.action.lower() for a in d.actions}
                if not actions:
                    out[ns] = None
                elif ns not in out or out[ns] is not None:
                    out[ns] = (out.get(ns) or set()) | actions
        return out

    def summary(self, analyzers: Mapping[str, int | None]) -> dict[str, Any]:
        first = self.findings[0]
        return {
            "id": first.id,
            "analyzer": first.analyzer_arn,
            "unused_access_age_days": analyzers.get(first.analyzer_arn),
            "analyzed_at": iso_or_none(first.analyzed_at),
        }


def _aa_index(view: AccountView) -> tuple[dict[str, _AAView], dict[str, int | None]] | None:
    if view.analyzer is None:
        return None
    by: dict[str, list[access_analyzer.UnusedAccessFinding]] = {}
    for f in view.analyzer:
        if f.finding_type == "UnusedPermission" and f.status == "ACTIVE" and f.resource:
            by.setdefault(f.resource, []).append(f)
    ages: dict[str, int | None] = {}
    res = view.sources.get(access_analyzer.NAME)
    for a in access_analyzer.unused_analyzers(res.raw if res else {}):
        age = ((a.get("configuration") or {}).get("unusedAccess") or {}).get("unusedAccessAge")
        ages[a.get("arn", "")] = None if age is None else int(age)
    return {k: _AAView(tuple(v)) for k, v in by.items()}, ages


def _compare(aa: _AAView | None, verdict: Verdict, service: str | None, actions: list[str]) -> str:
    """Does Access Analyzer report these permissions unused, as dormant does?

    For an unused or never-used finding: ``agrees`` when Access Analyzer lists the service (for
    a service finding) or the action or its whole service (for an action finding), ``disagrees``
    when its finding for the principal does not. For an insufficient-evidence finding, which
    dormant never removes: ``disagrees`` when Access Analyzer lists any of its actions (or the
    service) as unused, else ``agrees``. ``no finding``: Access Analyzer has no UnusedPermission
    finding for the principal."""
    if aa is None:
        return NO_FINDING
    if not aa.read:
        return UNKNOWN
    unused = aa.unused()
    if service is None:
        listed = bool(unused)
    elif service.lower() not in unused:
        listed = False
    else:
        listed_actions = unused[service.lower()]
        if listed_actions is None or not actions:
            listed = True
        else:
            listed = any(a.lower() in listed_actions for a in actions)
    if verdict in (Verdict.UNUSED, Verdict.NEVER_USED):
        return AGREES if listed else DISAGREES
    return DISAGREES if listed else AGREES


# --------------------------------------------------------------------------------------------
# Least privilege


@dataclass(frozen=True)
class PolicyPlan:
    """The recommended change to one policy of a principal."""

    policy: AppliedPolicy
    judged_with: str
    """The ARN whose Access Advisor report judged it: the principal for its inline and
    AWS-managed policies, the group for a group's, the policy itself for a customer-managed one
    (so a shared policy keeps what any of its principals used)."""
    rewrite: PolicyRewrite | None
    """None when that report is missing or did not complete: the policy is kept as it is."""
    note: str | None = None

    @property
    def changed(self) -> bool:
        return self.rewrite is not None and self.rewrite.changed

    def to_json(self) -> dict[str, Any]:
        r = self.rewrite
        return {
            **self.policy.label(),
            "judged_with": self.judged_with,
            "recommendation": str(r.recommendation) if r else "keep",
            "removed": list(r.removed) if r else [],
            # Keys sorted: the same evidence read live or from a bundle gives the same bytes.
            "documents": [json.loads(json.dumps(d, sort_keys=True)) for d in r.documents]
            if r and r.changed
            else [],
            "notes": ([self.note] if self.note else []) + (list(r.notes) if r else []),
        }


@dataclass
class Judgement:
    """What judging one account's permissions yields: findings, counts, and the plans that
    ``dormant recommend`` writes out."""

    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    plans: dict[str, list[PolicyPlan]] = field(default_factory=dict)
    """By principal ARN: the plan of every policy that applies to it (changed or not)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Principal ARN -> why its permissions were not judged one by one."""


class _Context:
    def __init__(self, view: AccountView, policy: Policy, as_of: dt.datetime) -> None:
        self.view = view
        self.as_of = as_of
        self.days = policy.threshold(FTYPE)
        self.threshold = dt.timedelta(days=self.days)
        self.cutoff = as_of - self.threshold
        self.catalog: ActionCatalog = load_catalog()
        self.tracking: TrackingFacts = load_tracking()
        self.read_at = view.read_at(access_advisor.NAME)
        self.rewrites: dict[tuple[str, tuple[str, ...]], dict[str, PolicyRewrite] | None] = {}
        self.group_created = {
            g["Arn"]: parse_time_or_none(g.get("CreateDate")) for g in view.details.groups.values()
        }

    def report(self, arn: str) -> AccessAdvisorReport | None:
        return self.view.advisor_report(arn)

    def floor(self, principal: Principal) -> Callable[[AppliedPolicy], dt.datetime | None]:
        def f(pol: AppliedPolicy) -> dt.datetime | None:
            if pol.via_group:
                return _later(principal.created, self.group_created.get(pol.owner))
            return principal.created

        return f

    def adjust(
        self, policies: Mapping[str, AppliedPolicy], floor: Callable
    ) -> Callable[[str, PermissionVerdict], PermissionVerdict]:
        parsed = {k: p for k, p in policies.items()}
        docs = {k: _doc_of(p.document) for k, p in parsed.items() if p.document is not None}
        docs = {k: d for k, d in docs.items() if d is not None}

        def adjust(action: str, verdict: PermissionVerdict) -> PermissionVerdict:
            if not verdict.verdict.removable:
                return verdict
            since = grant_since(parsed, decide(docs, action), floor)
            return _younger_grant(since, self.cutoff, verdict)

        return adjust

    def rewrite(
        self, judged_with: str, pols: list[AppliedPolicy], floor: Callable
    ) -> dict[str, PolicyRewrite] | None:
        key = (judged_with, tuple(p.key for p in pols))
        if key in self.rewrites:
            return self.rewrites[key]
        report = self.report(judged_with)
        result: dict[str, PolicyRewrite] | None = None
        if report is not None and report.complete:
            inputs = [
                PolicyInput(p.name, p.kind, p.document, arn=p.arn, owner=p.owner)
                for p in pols
                if p.document is not None
            ]
            try:
                plan = rewrite_policies(
                    inputs,
                    UsageEvidence.from_report(report).with_observed(
                        self.view.trail_actions(judged_with)
                    ),
                    threshold=self.threshold,
                    as_of=self.as_of,
                    catalog=self.catalog,
                    tracking=self.tracking,
                    adjust=self.adjust({p.key: p for p in pols}, floor),
                )
            except PolicyError:
                # A document IAM would not accept cannot be rewritten: keep it as it is.
                plan = None
            if plan is not None:
                result = {p.key: r for p, r in zip(pols, plan.policies, strict=True)}
        self.rewrites[key] = result
        return result


def plan_principal(ctx: _Context, principal: Principal) -> list[PolicyPlan]:
    """The least-privilege plan of every policy that applies to ``principal``."""
    groups: dict[str, list[AppliedPolicy]] = {}
    for pol in principal.policies:
        if pol.document is None:
            continue
        if pol.kind is PolicyKind.MANAGED:
            judged_with = pol.arn or pol.key
        elif pol.via_group:
            judged_with = pol.owner
        else:
            judged_with = principal.arn
        groups.setdefault(judged_with, []).append(pol)
    plans: list[PolicyPlan] = []
    for judged_with, pols in groups.items():
        if judged_with == principal.arn:
            floor = ctx.floor(principal)
        else:
            created = ctx.group_created.get(judged_with)

            def floor(pol: AppliedPolicy, created=created) -> dt.datetime | None:
                return created

        rewrites = ctx.rewrite(judged_with, pols, floor)
        for pol in pols:
            if rewrites is None:
                report = ctx.report(judged_with)
                if report is None:
                    why = "no Access Advisor report"
                elif not report.complete:
                    why = f"its Access Advisor job did not complete ({report.outcome})"
                else:
                    why = "a policy document could not be read"
                plans.append(PolicyPlan(pol, judged_with, None, f"kept as is: {why}"))
            else:
                plans.append(PolicyPlan(pol, judged_with, rewrites[pol.key]))
    missing = [p for p in principal.policies if p.document is None]
    for pol in missing:
        plans.append(
            PolicyPlan(pol, principal.arn, None, "kept as is: its document is not in the evidence")
        )
    return plans


def diff_text(plans: list[PolicyPlan]) -> str:
    """The unified diffs of every changed policy, each under a one-line header."""
    parts = []
    for plan in plans:
        if not plan.changed or plan.rewrite is None:
            continue
        r = plan.rewrite
        where = plan.policy.arn or f"inline in {plan.policy.owner}"
        parts.append(
            f"# {plan.policy.kind} policy {plan.policy.name} ({where}): {r.recommendation}; "
            f"judged with the Access Advisor report of {plan.judged_with}\n"
        )
        parts.append(unified_diff(r) or "(deleted: nothing in it is used)\n")
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# Findings


def _granted_by(decisions: list[Decision], policies: Mapping[str, AppliedPolicy]) -> list[dict]:
    seen: dict[tuple, dict[str, Any]] = {}
    for d in decisions:
        for g in d.grants:
            pol = policies.get(g.policy)
            if pol is None:
                continue
            statement = g.sid if g.sid else f"#{g.statement_index}"
            key = (pol.key, statement)
            if key not in seen:
                seen[key] = {**pol.label(), "statement": statement, "conditional": g.conditional}
    return [seen[k] for k in sorted(seen)]


def _action_usage(ctx: _Context, principal: Principal, policies, p: GrantedPermission):
    """The usage verdict of one removable action, with the rules every usage verdict follows:
    no use in a window that starts after the grant is never-used, no use in a window the grant
    predates is unused for as long as the window covers."""
    v = p.verdict
    since = grant_since(policies, p.decision, ctx.floor(principal))
    start = None
    if v.level is Level.ACTION:
        began = ctx.tracking.action_tracking_began(split_action(p.action)[0])
        start = dt.datetime.combine(began, dt.time(), tzinfo=dt.UTC)
    return usage_verdict(
        noun=f"permission {p.action}",
        last_used=v.last_used,
        created=since or principal.created,
        as_of=ctx.as_of,
        threshold_days=ctx.days,
        tracking_start=start,
        window_days=ROLE_TRACKING_DAYS,
    )


def _why(usage: Any, subject: str, threshold_days: int, created: dt.datetime | None) -> str:
    """A short reason for an unused or never-used permission."""
    if usage.verdict is Verdict.UNUSED and usage.last_used is not None:
        return (
            f"{subject} last used {usage.days_unused} days ago "
            f"({usage.last_used.date().isoformat()}), more than the {threshold_days}-day threshold"
        )
    if usage.verdict is Verdict.UNUSED:
        return f"{subject} not used in the {usage.days_unused} days Access Advisor covers"
    if usage.verdict is Verdict.NEVER_USED and created is not None:
        return (
            f"{subject} never used since granted {usage.days_unused} days ago "
            f"({created.date().isoformat()})"
        )
    return usage.reason


def _action_entry(p: GrantedPermission, usage=None) -> dict[str, Any]:
    return {
        "action": p.action,
        "verdict": str(usage.verdict) if usage is not None else str(p.verdict.verdict),
        "last_accessed": iso_or_none(p.verdict.last_used),
        "basis": str(p.verdict.level),
        "reason": usage.reason if usage is not None else p.verdict.reason,
    }


def _obs(ctx: _Context, report: AccessAdvisorReport, field_name: str, value, note=None):
    if isinstance(value, dt.datetime):
        value = iso(value)
    return Observation(
        access_advisor.GET,
        field_name,
        value,
        ctx.read_at,
        data_as_of=iso_or_none(report.job_completion_date),
        note=note,
    )


def _base(principal: Principal, ctx: _Context, **kw: Any) -> Finding:
    return Finding(
        type=FTYPE,
        account_id=ctx.view.account_id,
        principal_arn=principal.arn,
        principal_name=principal.name,
        principal_type=principal.type,
        threshold_days=ctx.days,
        created=iso_or_none(principal.created),
        **kw,
    )


def _principal_finding(
    principal: Principal, ctx: _Context, reason: str, evidence: tuple[Observation, ...]
) -> Finding:
    return _base(
        principal,
        ctx,
        verdict=Verdict.INSUFFICIENT_EVIDENCE,
        reason=reason,
        scope=SCOPE_PRINCIPAL,
        evidence=evidence,
        recommendation=Recommendation(
            "Keep these permissions until a completed Access Advisor report (or another source "
            "of use) can judge them; scan again.",
            (
                f"aws iam generate-service-last-accessed-details --arn {principal.arn} "
                "--granularity ACTION_LEVEL",
            ),
        ),
        details={
            "scope": SCOPE_PRINCIPAL,
            "granted_by": [p.label() for p in principal.policies],
        },
    )


def judge_principal(
    ctx: _Context, principal: Principal, aa: tuple[dict[str, _AAView], dict] | None
) -> list[Finding]:
    report = ctx.report(principal.arn)
    if report is None or not report.complete:
        if report is None:
            why = "no Access Advisor job was run for it"
            evidence: tuple[Observation, ...] = ()
        else:
            err = report.error.message if report.error else report.outcome
            why = f"its Access Advisor job {report.outcome.upper()}: {err}"
            evidence = (
                Observation(
                    access_advisor.GET,
                    "JobStatus",
                    report.job_status or report.outcome,
                    ctx.read_at,
                    note=err,
                ),
            )
        f = _principal_finding(principal, ctx, f"no permission can be judged: {why}", evidence)
        if aa is not None:
            f.details["access_analyzer"] = _compare(aa[0].get(principal.arn), f.verdict, None, [])
        return [f]

    policies = {p.key: p for p in principal.policies if p.document is not None}
    docs = {k: _doc_of(p.document) for k, p in policies.items()}
    unreadable = sorted(k for k, d in docs.items() if d is None)
    docs = {k: d for k, d in docs.items() if d is not None}
    if not docs:
        return []
    # CloudTrail's successful calls are uses too (never evidence of non-use).
    evidence = UsageEvidence.from_report(report).with_observed(
        ctx.view.trail_actions(principal.arn)
    )
    granted = judge_granted(
        docs,
        evidence,
        threshold=ctx.threshold,
        as_of=ctx.as_of,
        catalog=ctx.catalog,
        tracking=ctx.tracking,
    )
    floor = ctx.floor(principal)
    by_service: dict[str, list[GrantedPermission]] = {}
    for action, perm in granted.items():
        since = grant_since(policies, perm.decision, floor)
        adjusted = _younger_grant(since, ctx.cutoff, perm.verdict)
        if adjusted is not perm.verdict:
            perm = GrantedPermission(perm.action, perm.decision, adjusted)
        by_service.setdefault(split_action(action)[0], []).append(perm)

    aa_view = aa[0].get(principal.arn) if aa is not None else None
    findings: list[Finding] = []
    for ns in sorted(by_service):
        findings.extend(_service_findings(ctx, principal, report, ns, by_service[ns], policies))
    if aa is not None:
        for f in findings:
            acts = [a["action"] for a in f.details.get("actions", [])] or (
                [f.action] if f.action else []
            )
            f.details["access_analyzer"] = _compare(aa_view, f.verdict, f.service, acts)
            if aa_view is not None:
                f.details["access_analyzer_finding"] = aa_view.summary(aa[1])
    if unreadable:
        for f in findings:
            f.details["unreadable_policies"] = unreadable
    return findings


def _service_findings(
    ctx: _Context,
    principal: Principal,
    report: AccessAdvisorReport,
    ns: str,
    perms: list[GrantedPermission],
    policies: Mapping[str, AppliedPolicy],
) -> list[Finding]:
    svc = report.service(ns)
    last = svc.last_authenticated if svc else None
    name = (svc.name if svc else None) or ctx.catalog.service_name(ns) or ns
    used = [p for p in perms if p.verdict.verdict is PVerdict.USED]
    removable = [p for p in perms if p.verdict.verdict.removable]
    unknown = [p for p in perms if p.verdict.verdict is PVerdict.INSUFFICIENT]
    svc_field = f"ServicesLastAccessed[{ns}].LastAuthenticated"
    svc_obs = _obs(
        ctx,
        report,
        svc_field,
        last,
        None if svc else f"service {ns} is not in the principal's Access Advisor report",
    )
    out: list[Finding] = []
    service_unused = svc is not None and not used and (last is None or last < ctx.cutoff)
    if removable and service_unused:
        dates = [grant_since(policies, p.decision, ctx.floor(principal)) for p in removable]
        since = min((d for d in dates if d is not None), default=None)
        usage = usage_verdict(
            noun=f"permission to {ns}",
            last_used=last,
            created=since or principal.created,
            as_of=ctx.as_of,
            threshold_days=ctx.days,
            window_days=ROLE_TRACKING_DAYS,
        )
        if usage.is_finding and usage.verdict in (Verdict.UNUSED, Verdict.NEVER_USED):
            out.append(
                _base(
                    principal,
                    ctx,
                    verdict=usage.verdict,
                    reason=_why(
                        usage, f"{name} ({len(removable)} granted action(s))", ctx.days, since
                    ),
                    last_used=iso_or_none(last),
                    days_unused=usage.days_unused,
                    service=ns,
                    scope=SCOPE_SERVICE,
                    evidence=(svc_obs,),
                    details={
                        "scope": SCOPE_SERVICE,
                        "service_name": name,
                        "granted_by": _granted_by([p.decision for p in removable], policies),
                        "actions": [
                            _action_entry(p, _action_usage(ctx, principal, policies, p))
                            for p in removable
                        ],
                    },
                )
            )
        else:
            unknown = unknown + [
                GrantedPermission(
                    p.action,
                    p.decision,
                    PermissionVerdict(
                        p.action, PVerdict.INSUFFICIENT, Level.NONE, None, usage.reason
                    ),
                )
                for p in removable
            ]
        removable = []
    for p in removable:
        out.append(_action_finding(ctx, principal, report, ns, name, p, policies, svc_obs))
    if unknown:
        out.append(_untracked_finding(ctx, principal, ns, name, last, unknown, policies, svc_obs))
    return out


def _action_finding(ctx, principal, report, ns, name, p: GrantedPermission, policies, svc_obs):
    v = p.verdict
    action_name = p.action.split(":", 1)[1]
    usage = _action_usage(ctx, principal, policies, p)
    since = grant_since(policies, p.decision, ctx.floor(principal)) or principal.created
    verdict = usage.verdict if usage.is_finding else Verdict.INSUFFICIENT_EVIDENCE
    basis = "tracked at action level" if v.level is Level.ACTION else "judged by its service"
    return _base(
        principal,
        ctx,
        verdict=verdict,
        reason=f"{_why(usage, p.action, ctx.days, since)} ({basis}; {ns} itself is used)",
        last_used=iso_or_none(v.last_used),
        days_unused=usage.days_unused,
        service=ns,
        action=p.action,
        scope=SCOPE_ACTION,
        evidence=(
            svc_obs,
            _obs(
                ctx,
                report,
                f"ServicesLastAccessed[{ns}].TrackedActionsLastAccessed[{action_name}]"
                ".LastAccessedTime",
                v.last_used,
                None if v.last_used else "listed as tracked, with no access in the tracking period",
            ),
        ),
        details={
            "scope": SCOPE_ACTION,
            "service_name": name,
            "granted_by": _granted_by([p.decision], policies),
        },
    )


def _untracked_finding(ctx, principal, ns, name, last, unknown, policies, svc_obs):
    reasons: dict[str, list[str]] = {}
    for p in unknown:
        reasons.setdefault(_reason_class(p.verdict.reason), []).append(p.action)

    def examples(acts: list[str]) -> str:
        more = f" and {len(acts) - 3} more" if len(acts) > 3 else ""
        return ", ".join(sorted(acts)[:3]) + more

    summary = "; ".join(f"{why} ({examples(acts)})" for why, acts in sorted(reasons.items()))
    return _base(
        principal,
        ctx,
        verdict=Verdict.INSUFFICIENT_EVIDENCE,
        reason=f"{len(unknown)} granted action(s) of {name} cannot be judged: {summary}",
        last_used=iso_or_none(last),
        days_unused=None if last is None else whole_days(ctx.as_of - last),
        service=ns,
        scope=SCOPE_UNTRACKED,
        evidence=(svc_obs,),
        recommendation=Recommendation(
            "Keep them: Access Advisor cannot show whether they are used. CloudTrail (data "
            "events for S3 objects; the calls that pass a role for iam:PassRole) can.",
            (),
        ),
        details={
            "scope": SCOPE_UNTRACKED,
            "service_name": name,
            "granted_by": _granted_by([p.decision for p in unknown], policies),
            "actions": [_action_entry(p) for p in sorted(unknown, key=lambda p: p.action)],
        },
    )


def _reason_class(reason: str) -> str:
    """A short, stable label for why an action cannot be judged, to group them."""
    if "never tracked" in reason:
        return "never tracked by Access Advisor"
    if "S3 object-level" in reason:
        return "S3 object-level (data events), never in Access Advisor"
    if "no action-level data" in reason:
        return "the service is used, Access Advisor has no action-level data for them"
    if "not in the Access Advisor report" in reason:
        return "the service is not in the Access Advisor report"
    if "granted only since" in reason:
        return "granted within the threshold"
    if "on the principal's behalf" in reason:
        return "services call them on the principal's behalf, which Access Advisor may not count"
    if "tracking" in reason and "began" in reason:
        return "action tracking began after the threshold's cut-off"
    return reason


# --------------------------------------------------------------------------------------------
# Entry point


def _recommendation(principal: Principal, finding: Finding, plans: list[PolicyPlan]) -> str:
    actions = [a["action"] for a in finding.details.get("actions", [])] or [finding.action]
    removed = {a for p in plans if p.rewrite is not None for a in p.rewrite.removed}
    kept = [a for a in actions if a and a not in removed]
    what = "this unused permission" if finding.action else f"the unused {finding.service} actions"
    if not kept:
        return (
            f"Remove {what}: the least-privilege rewrite of {principal.name}'s policies does "
            "(see details.policy_diff on its least-privilege finding, or run `dormant recommend` "
            "for the documents and commands)."
        )
    return (
        f"Remove {what} from {principal.name}: {len(kept)} of them stay in the recommended "
        "policies because a shared policy that grants them (customer-managed, or a group's) "
        "was used for them by another principal; detach that policy from this principal and "
        "attach a narrower one, or accept."
    )


def _wildcards(ctx: _Context, why: str) -> list[Finding]:
    """One insufficient-evidence finding per kind of principal, when none can be judged."""
    out = []
    for kind in (PrincipalType.ROLE, PrincipalType.USER):
        star = Principal(
            f"arn:aws:iam::{ctx.view.account_id}:{kind}/*", "*", kind, "/", None, {}, ()
        )
        out.append(_principal_finding(star, ctx, f"no permission can be judged: {why}", ()))
    return out


def judge_permissions(
    view: AccountView,
    policy: Policy,
    as_of: dt.datetime,
    *,
    excluded: Callable[[Principal], bool],
    unused_principals: Mapping[str, str],
    all_plans: bool = False,
) -> Judgement:
    """UnusedPermission findings of one account, and the least-privilege plans.

    ``excluded(principal)``: True when a rule excludes the principal's UnusedPermission
    findings. ``unused_principals``: ARN -> the finding type that already reports the principal
    unused (its permissions are not judged one by one). ``all_plans``: plan every judged
    principal (for ``dormant recommend``), not only those with something to remove (which is
    all the findings need).
    """
    out = Judgement()
    if authorization.NAME not in view.sources or access_advisor.NAME not in view.sources:
        return out  # not collected (a bare credential report, an older bundle): out of scope
    ctx = _Context(view, policy, as_of)
    if view.advisor is None and view.details.read:
        return out  # turned off (--no-access-advisor): coverage says it was skipped
    if not view.details.read:
        why = view.source_error(authorization.NAME)
        out.findings = _wildcards(ctx, f"GetAccountAuthorizationDetails was not read ({why})")
        return out
    if view.status(access_advisor.NAME) in (SourceStatus.DENIED, SourceStatus.FAILED) and not any(
        r.complete for r in (view.advisor or {}).values()
    ):
        why = view.source_error(access_advisor.NAME)
        out.findings = _wildcards(ctx, f"no Access Advisor job completed ({why})")
        return out
    aa = _aa_index(view)
    judged = 0
    for principal in principals(view):
        if not principal.policies:
            continue
        if excluded(principal):
            reason = "permissions of an excluded principal are not judged"
            out.findings.append(_principal_finding(principal, ctx, reason, ()))
            out.skipped[principal.arn] = "excluded"
            continue
        if principal.arn in unused_principals:
            out.skipped[principal.arn] = (
                f"the {principal.type} itself is unused ({unused_principals[principal.arn]}): "
                "remove it rather than trim its permissions"
            )
            continue
        if principal.created is not None and principal.created > ctx.cutoff:
            out.skipped[principal.arn] = (
                f"created {principal.created.date().isoformat()}, within the {ctx.days}-day "
                "threshold: too young for a permission to have gone unused that long"
            )
            continue
        judged += 1
        findings = judge_principal(ctx, principal, aa)
        removable = sorted(
            (f for f in findings if f.verdict in (Verdict.UNUSED, Verdict.NEVER_USED)),
            key=Finding.sort_key,
        )
        plans = plan_principal(ctx, principal) if removable or all_plans else []
        out.plans[principal.arn] = plans
        carrier = removable[0] if removable and any(p.changed for p in plans) else None
        for f in findings:
            if f.verdict not in (Verdict.UNUSED, Verdict.NEVER_USED):
                out.findings.append(f)
                continue
            details = dict(f.details)
            if f is carrier:
                details["least_privilege"] = True
                details["policy_diff"] = diff_text(plans)
                details["recommended_policies"] = [p.to_json() for p in plans if p.changed]
            out.findings.append(
                dataclasses.replace(
                    f,
                    recommendation=Recommendation(_recommendation(principal, f, plans), ()),
                    details=details,
                )
            )
    out.counts = {"permission_sets": judged}
    return out


__all__ = [
    "AppliedPolicy",
    "Judgement",
    "PolicyPlan",
    "Principal",
    "diff_text",
    "judge_permissions",
    "managed_grant_since",
    "plan_principal",
    "principals",
]
