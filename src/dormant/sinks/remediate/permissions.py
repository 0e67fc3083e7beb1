"""UnusedPermission steps: apply the least-privilege rewrite of a principal's policies.

Built on :func:`dormant.iam.rewrite.rewrite_policies` and the evidence bundle itself (the
principal's policies from GetAccountAuthorizationDetails, its Access Advisor report), not on the
layout of the findings' details. The findings decide *what may go*: an action is removed only
when an ``unused`` or ``never-used`` UnusedPermission finding of that principal covers it (its
service, or the action itself); anything else the rewrite would drop is kept. So the plan never
removes more than the report calls unused, and never more than the evidence shows unused.

Per policy of a role or user (one step each):

- inline: replaced by the rewritten document (``PutRolePolicy``/``PutUserPolicy``), or deleted
  when nothing is left; apply saves the old text in the journal first;
- customer-managed, attached to this principal only: a new default version
  (``CreatePolicyVersion``; at the five-version limit the oldest non-default version is deleted
  first, its text saved); the old default stays as a non-default version; or detached when
  nothing is left;
- AWS-managed: a new customer-managed policy (path ``/dormant/``) with the rewritten document is
  created and attached, then the AWS-managed one is detached; or just detached.

No step (with the reason) for: a customer-managed policy attached to other principals too (a
shared policy is for a person, with its own Access Advisor report), policies that reach the
principal through a group, documents that would need splitting for size, principals without a
completed Access Advisor report in the bundle, and plans made without the bundle.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ...iam.catalog import split_action
from ...iam.rewrite import PolicyInput, PolicyKind, Recommendation, rewrite_policies
from ...iam.usage import UsageEvidence
from ...judge.view import AccountView
from ...model import Finding, FindingType, Verdict
from ...policy import Policy
from ...sources import access_advisor
from ...timeutil import iso, iso_or_none
from .calls import Call, canonical, document_text
from .plan import REPLACEMENT_PATH, Kind, NoStep

AWS_MANAGED = ":aws:policy/"


def _no(f: Finding, reason: str) -> NoStep:
    return NoStep(
        finding_type=str(f.type),
        account_id=f.account_id,
        principal_arn=f.principal_arn,
        principal_name=f.principal_name,
        reason=reason,
        finding_id=f.id,
        verdict=str(f.verdict),
        service=f.service,
    )


def _covered(findings: Sequence[Finding]) -> tuple[set[str], set[str]]:
    """(services, actions), lower case, that removable findings call unused."""
    services: set[str] = set()
    actions: set[str] = set()
    for f in findings:
        if f.verdict not in (Verdict.UNUSED, Verdict.NEVER_USED) or not f.service:
            continue
        if f.action:
            action = f.action if ":" in f.action else f"{f.service}:{f.action}"
            actions.add(action.lower())
        else:
            services.add(f.service.lower())
    return services, actions


def _is_covered(action: str, services: set[str], actions: set[str]) -> bool:
    return action.lower() in actions or split_action(action)[0].lower() in services


def _managed_document(detail: Mapping[str, Any]) -> Any:
    default = detail.get("DefaultVersionId")
    for v in detail.get("PolicyVersionList") or []:
        if v.get("VersionId") == default or v.get("IsDefaultVersion"):
            return v.get("Document")
    return None


def _attached_to(view: AccountView, arn: str) -> list[str]:
    """Every role, user and group ARN the managed policy is attached to."""
    out = []
    for role in view.details.roles.values():
        if any(p.get("PolicyArn") == arn for p in role.detail.get("AttachedManagedPolicies") or []):
            out.append(role.arn)
    for user in view.details.users.values():
        if any(p.get("PolicyArn") == arn for p in user.detail.get("AttachedManagedPolicies") or []):
            out.append(user.arn)
    for garn, group in view.details.groups.items():
        if any(p.get("PolicyArn") == arn for p in group.get("AttachedManagedPolicies") or []):
            out.append(garn)
    return sorted(out)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9+=,.@_-]", "_", text)[:128]


def _oldest_non_default(versions: Sequence[Mapping[str, Any]]) -> str | None:
    candidates = [v for v in versions if not v.get("IsDefaultVersion")]
    if not candidates:
        return None

    def key(v: Mapping[str, Any]) -> tuple[str, int]:
        digits = "".join(ch for ch in str(v.get("VersionId"))[1:] if ch.isdigit())
        return (str(v.get("CreateDate") or ""), int(digits) if digits else 0)

    return str(min(candidates, key=key)["VersionId"])


def _advisor_expect(
    arn: str, evidence: UsageEvidence, removed: Sequence[str], report
) -> dict[str, Any]:
    # A removal that rests on action-level data is re-checked at action level (the service of
    # a used service's unused action is used every day); one that rests on service-level data
    # (the whole service unused) is re-checked at service level.
    tracked = {a.lower() for a in removed if a.lower() in evidence.actions}
    services = sorted({split_action(a)[0].lower() for a in removed if a.lower() not in tracked})
    return {
        "arn": arn,
        "job_completed": iso_or_none(report.job_completion_date) if report else None,
        "services": {s: iso_or_none(evidence.services.get(s)) for s in services},
        "actions": {
            a.lower(): iso_or_none(evidence.actions.get(a.lower()))
            for a in removed
            if a.lower() in evidence.actions
        },
    }


def permission_drafts(
    findings: Sequence[Finding],
    *,
    contexts: Mapping[str, AccountView | None],
    policy: Policy,
    as_of: dt.datetime,
) -> tuple[list, list[NoStep], list[str]]:
    """Drafts of the UnusedPermission steps, the findings left without one, and notes."""
    from .build import _Draft

    drafts: list[_Draft] = []
    skipped: list[NoStep] = []
    notes: list[str] = []
    threshold = dt.timedelta(days=policy.threshold(FindingType.UNUSED_PERMISSION))
    by_principal: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.verdict == Verdict.INSUFFICIENT_EVIDENCE:
            skipped.append(_no(f, "insufficient evidence: the permission stays"))
            continue
        if f.verdict not in (Verdict.UNUSED, Verdict.NEVER_USED):
            skipped.append(_no(f, "no automatic step"))
            continue
        by_principal.setdefault((f.account_id, f.principal_arn), []).append(f)

    for (account_id, arn), group in sorted(by_principal.items()):
        view = contexts.get(account_id)
        ids = tuple(sorted({f.id for f in group}))

        def skip_all(reason: str, group=group) -> None:
            skipped.extend(_no(f, reason) for f in group)

        if view is None or not view.details.read:
            skip_all(
                "the least-privilege rewrite needs the evidence bundle (the principal's policies "
                "and Access Advisor report): plan from a snapshot"
            )
            continue
        kind = "role" if ":role/" in arn else "user" if ":user/" in arn else None
        record = (
            (view.details.roles if kind == "role" else view.details.users).get(arn)
            if kind
            else None
        )
        if record is None:
            skip_all("not a role or user of the evidence bundle")
            continue
        rule = policy.protection(
            str(FindingType.UNUSED_PERMISSION), arn, dict(record.tags), as_of.date()
        )
        if rule:
            skip_all(f"excluded: {rule}")
            continue
        advisor = view.sources.get(access_advisor.NAME)
        reports = access_advisor.parse(advisor.raw) if advisor is not None else {}
        report = reports.get(arn)
        if report is None or not report.complete:
            skip_all("no completed Access Advisor report for the principal in the evidence bundle")
            continue
        evidence = UsageEvidence.from_report(report)
        services, actions = _covered(group)
        detail = record.detail
        inputs: list[PolicyInput] = []
        inline_key = "RolePolicyList" if kind == "role" else "UserPolicyList"
        inline_kind = PolicyKind.INLINE_ROLE if kind == "role" else PolicyKind.INLINE_USER
        for item in detail.get(inline_key) or []:
            inputs.append(
                PolicyInput(
                    item["PolicyName"], inline_kind, item.get("PolicyDocument") or {}, owner=arn
                )
            )
        for item in detail.get("AttachedManagedPolicies") or []:
            parn = item["PolicyArn"]
            pdetail = view.details.policies.get(parn)
            doc = _managed_document(pdetail) if pdetail else None
            if doc is None:
                notes.append(
                    f"{arn}: managed policy {parn} is not in the evidence bundle: not rewritten"
                )
                continue
            pkind = PolicyKind.AWS_MANAGED if AWS_MANAGED in parn else PolicyKind.MANAGED
            inputs.append(
                PolicyInput(
                    item.get("PolicyName") or parn.rsplit("/", 1)[-1],
                    pkind,
                    doc,
                    arn=parn,
                    owner=arn,
                )
            )
        if kind == "user" and detail.get("GroupList"):
            notes.append(
                f"{arn}: policies of its groups ({', '.join(detail['GroupList'])}) are shared with "
                "the other members and are not rewritten"
            )
        if not inputs:
            skip_all("the principal has no policy of its own to rewrite")
            continue
        made = 0
        covered: set[str] = set()
        for pol in inputs:
            draft, reason = _policy_step(
                pol,
                kind=kind,
                principal=record,
                view=view,
                evidence=evidence,
                report=report,
                services=services,
                actions=actions,
                threshold=threshold,
                as_of=as_of,
                policy=policy,
                account_id=account_id,
                finding_ids=ids,
            )
            if draft is not None:
                # The step remedies the findings about what it removes.
                removed = draft.expect.get("removed_actions") or []
                draft.finding_ids = tuple(f.id for f in group if _about(f, removed))
                covered.update(draft.finding_ids)
                drafts.append(draft)
                made += 1
            elif reason:
                notes.append(f"{arn}: policy {pol.name}: {reason}")
        see = ": see the plan's notes" if any(n.startswith(arn) for n in notes) else ""
        if not made:
            skip_all("no policy of the principal can be narrowed automatically" + see)
            continue
        for f in group:
            if f.id not in covered:
                skipped.append(
                    _no(
                        f,
                        "no automatic step: what grants it is not a policy dormant narrows here "
                        "(a group's, a shared one, or one kept for another reason)" + see,
                    )
                )
    return drafts, skipped, notes


def _about(f: Finding, removed: Sequence[str]) -> bool:
    """Whether finding ``f`` speaks of one of the ``removed`` actions."""
    for action in removed:
        prefix = split_action(action)[0].lower()
        if f.action:
            wanted = f.action if ":" in f.action else f"{f.service}:{f.action}"
            if wanted.lower() == action.lower():
                return True
        elif (f.service or "").lower() == prefix:
            return True
    return False


def _policy_step(
    pol: PolicyInput,
    *,
    kind: str,
    principal,
    view: AccountView,
    evidence: UsageEvidence,
    report,
    services: set[str],
    actions: set[str],
    threshold: dt.timedelta,
    as_of: dt.datetime,
    policy: Policy,
    account_id: str,
    finding_ids: tuple[str, ...],
):
    from .build import _Draft

    if pol.kind is PolicyKind.MANAGED:
        holders = _attached_to(view, pol.arn or "")
        others = [h for h in holders if h != principal.arn]
        if others:
            return None, (
                f"customer-managed policy shared with {len(others)} other principal(s) "
                f"({', '.join(others[:3])}): change it by hand, with its own Access Advisor report"
            )
    plan = rewrite_policies([pol], evidence, threshold=threshold, as_of=as_of)
    rewrite = plan.policies[0]
    uncovered = [a for a in rewrite.removed if not _is_covered(a, services, actions)]
    if uncovered:
        # The findings do not call these unused: keep them (treated as used at as_of).
        evidence2 = evidence.with_observed(dict.fromkeys(uncovered, as_of))
        rewrite = rewrite_policies([pol], evidence2, threshold=threshold, as_of=as_of).policies[0]
    if not rewrite.changed:
        return None, None
    if len(rewrite.documents) > 1:
        return None, "the narrowed document needs splitting for IAM's size limit: change it by hand"
    removed = list(rewrite.removed)
    name = principal.name
    noun = "Role" if kind == "role" else "User"
    key = "RoleName" if kind == "role" else "UserName"
    original = canonical(rewrite.original)
    advisor = _advisor_expect(report.arn, evidence, removed, report)
    new_doc = document_text(rewrite.documents[0]) if rewrite.documents else None
    base = {
        "policy_name": pol.name,
        "policy_arn": pol.arn,
        "policy_kind": str(pol.kind),
        "document": original,
        "new_document": canonical(new_doc) if new_doc else None,
        "removed_actions": removed,
        "kept_insufficient_evidence": list(rewrite.kept_insufficient),
        "advisor": advisor,
    }
    notes = [n for n in rewrite.notes if "customer-managed policy: if it is attached" not in n]
    if removed:
        shown = ", ".join(removed[:8]) + (
            f" and {len(removed) - 8} more" if len(removed) > 8 else ""
        )
        notes.insert(0, f"removes {len(removed)} action(s): {shown}")
    common = dict(
        finding_type=str(FindingType.UNUSED_PERMISSION),
        finding_ids=finding_ids,
        account_id=account_id,
        principal_arn=principal.arn,
        principal_name=name,
        principal_type=kind,
        reason=f"Access Advisor (job completed {advisor['job_completed'] or 'unknown'}) shows "
        f"{len(removed)} granted action(s) unused for more than {threshold.days} days",
        notes=notes,
    )
    rec = rewrite.recommendation
    if rec is Recommendation.PUT_INLINE:
        return _Draft(
            kind=Kind.PUT_INLINE,
            summary=f"narrow inline policy {pol.name} of {kind} {name}",
            calls=[
                Call(
                    f"Put{noun}Policy",
                    {key: name, "PolicyName": pol.name, "PolicyDocument": new_doc},
                )
            ],
            expect=base,
            **common,
        ), None
    if rec is Recommendation.DELETE_INLINE:
        return _Draft(
            kind=Kind.DELETE_INLINE,
            summary=f"delete inline policy {pol.name} of {kind} {name} (nothing it grants is used)",
            calls=[Call(f"Delete{noun}Policy", {key: name, "PolicyName": pol.name})],
            expect=base,
            **common,
        ), None
    if rec is Recommendation.NEW_VERSION:
        pdetail = view.details.policies.get(pol.arn or "") or {}
        versions = [
            {
                "VersionId": v.get("VersionId"),
                "IsDefaultVersion": bool(v.get("IsDefaultVersion")),
                "CreateDate": v.get("CreateDate"),
            }
            for v in pdetail.get("PolicyVersionList") or []
        ]
        calls = []
        if len(versions) >= 5:
            oldest = _oldest_non_default(versions)
            if oldest is None:
                return None, "five versions and none of them can be deleted"
            calls.append(Call("DeletePolicyVersion", {"PolicyArn": pol.arn, "VersionId": oldest}))
            common["notes"] = [
                *notes,
                f"the policy has five versions (IAM's limit): the oldest non-default one, "
                f"{oldest}, is deleted first, its document saved in the journal",
            ]
        calls.append(
            Call(
                "CreatePolicyVersion",
                {"PolicyArn": pol.arn, "PolicyDocument": new_doc, "SetAsDefault": True},
            )
        )
        return _Draft(
            kind=Kind.NEW_VERSION,
            summary=f"new default version of customer-managed policy {pol.name} ({kind} {name})",
            calls=calls,
            expect={
                **base,
                "default_version_id": pdetail.get("DefaultVersionId"),
                "versions": [v["VersionId"] for v in versions],
                "attached_to": [principal.arn],
            },
            **common,
        ), None
    if rec is Recommendation.DETACH:
        return _Draft(
            kind=Kind.DETACH,
            summary=f"detach {pol.arn} from {kind} {name} (nothing it grants is used)",
            calls=[Call(f"Detach{noun}Policy", {key: name, "PolicyArn": pol.arn})],
            expect=base,
            **common,
        ), None
    if rec is Recommendation.REPLACE_AWS_MANAGED:
        new_name = _safe_name(f"dormant-{name}-{pol.name}")
        partition = principal.arn.split(":")[1] or "aws"
        new_arn = f"arn:{partition}:iam::{account_id}:policy{REPLACEMENT_PATH}{new_name}"
        if view.details.policies.get(new_arn):
            return None, f"a policy named {new_arn} exists already"
        description = (
            f"dormant: least-privilege replacement of {pol.arn} for {principal.arn}, from "
            f"evidence as of {iso(as_of)}"
        )[:1000]
        return _Draft(
            kind=Kind.REPLACE_AWS_MANAGED,
            summary=f"replace AWS-managed {pol.name} on {kind} {name} with customer-managed "
            f"{new_name}",
            calls=[
                Call(
                    "CreatePolicy",
                    {
                        "PolicyName": new_name,
                        "Path": REPLACEMENT_PATH,
                        "PolicyDocument": new_doc,
                        "Description": description,
                    },
                ),
                Call(f"Attach{noun}Policy", {key: name, "PolicyArn": new_arn}),
                Call(f"Detach{noun}Policy", {key: name, "PolicyArn": pol.arn}),
            ],
            expect={**base, "replacement_arn": new_arn},
            **common,
        ), None
    return None, f"recommendation {rec} has no automatic step"
