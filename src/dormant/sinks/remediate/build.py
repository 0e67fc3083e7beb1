"""Make a remediation plan from findings (and, where the step needs it, the evidence bundle).
Pure: no clock (``created_at`` is passed in), no AWS.

One step per finding, by type:

- ``UnusedIAMUserAccessKey``: deactivate the key, recording when on the user (tag
  ``dormant:deactivated:<key id>``). A later plan, from a later snapshot, deletes a key that tag
  says dormant deactivated at least ``delete_keys_after_days`` ago, that is still inactive and
  was not used since (irreversible: needs ``--allow-irreversible``).
- ``UnusedIAMRole``: quarantine it (a deny-all inline policy ``dormant-quarantine-YYYYMMDD`` and
  the tag ``dormant:quarantined``). A later plan deletes a role quarantined at least
  ``delete_roles_after_days`` ago whose quarantine policy is still in place and that was not used
  since; apply saves the whole role in the journal first.
- ``UnusedIAMUserPassword``: delete the login profile (irreversible).
- ``UnusedPermission``: the least-privilege rewrite of the principal's policies
  (:mod:`.permissions`).
- Everything else, insufficient evidence and excluded findings: no step, with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...judge import view as view_mod
from ...model import Finding, FindingType, Verdict
from ...policy import Policy
from ...snapshot import Snapshot
from ...timeutil import iso, parse_time, parse_time_or_none
from .calls import Call, canonical, document_text
from .plan import (
    DEACTIVATED_TAG,
    QUARANTINE_DOCUMENT,
    QUARANTINE_POLICY,
    QUARANTINE_TAG,
    ROLLBACK_TEXT,
    Kind,
    NoStep,
    Plan,
    Step,
)

NO_STEP_REASONS: Mapping[str, str] = {
    str(FindingType.INACTIVE_USER): "no automatic step: the user's unused credentials have "
    "their own steps; deleting the user is left to a person",
    str(FindingType.ROOT_ACCESS_KEY_PRESENT): "no automatic step: the root user's keys can be "
    "deleted only by signing in as root",
    str(FindingType.ROOT_RECENTLY_USED): "no automatic step: root use is for a person to review",
    str(FindingType.UNROTATED_ACCESS_KEY): "no automatic step: rotating a key needs its owner to "
    "switch to a new key first",
}


@dataclass
class _Draft:
    kind: Kind
    finding_type: str
    finding_ids: tuple[str, ...]
    account_id: str
    principal_arn: str
    principal_name: str
    principal_type: str
    summary: str
    reason: str
    calls: list[Call]
    expect: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def irreversible(self) -> bool:
        return self.kind in (Kind.DELETE_KEY, Kind.DELETE_LOGIN_PROFILE)


def _no_step(f: Finding, reason: str) -> NoStep:
    return NoStep(
        finding_type=str(f.type),
        account_id=f.account_id,
        principal_arn=f.principal_arn,
        principal_name=f.principal_name,
        reason=reason,
        finding_id=f.id,
        verdict=str(f.verdict),
        access_key_id=f.access_key_id,
        service=f.service,
    )


def _tag_time(value: str | None) -> dt.datetime | None:
    try:
        return parse_time_or_none(value)
    except ValueError:
        return None


@dataclass
class _Context:
    """What the evidence bundle tells about one account (None parts when there is none)."""

    view: view_mod.AccountView | None

    def user_tags(self, arn: str, finding: Finding | None = None) -> dict[str, str]:
        if self.view is not None:
            facts = self.view.user_facts.get(arn)
            if facts is not None:
                return dict(facts.tags)
        return dict((finding.details.get("tags") if finding else None) or {})

    def role(self, arn: str):
        if self.view is None or not self.view.details.read:
            return None
        return self.view.details.roles.get(arn)

    def role_tags(self, arn: str, finding: Finding | None = None) -> dict[str, str]:
        role = self.role(arn)
        if role is not None:
            return dict(role.tags)
        return dict((finding.details.get("tags") if finding else None) or {})


class Builder:
    def __init__(
        self,
        *,
        policy: Policy,
        as_of: dt.datetime,
        snapshot: Snapshot | None,
    ) -> None:
        self.policy = policy
        self.as_of = as_of
        self.snapshot = snapshot
        self.settings = policy.remediation
        self.drafts: list[_Draft] = []
        self.no_step: list[NoStep] = []
        self.notes: list[str] = []
        self.contexts: dict[str, _Context] = {}
        if snapshot is not None:
            for evidence in snapshot.accounts:
                self.contexts[evidence.account_id] = _Context(view_mod.build(evidence))

    def context(self, account_id: str) -> _Context:
        return self.contexts.get(account_id) or _Context(None)

    # ---------------------------------------------------------------------------- findings

    def add_findings(self, findings: Sequence[Finding], excluded: Sequence[Finding]) -> None:
        permissions: list[Finding] = []
        for f in findings:
            if f.type == FindingType.UNUSED_PERMISSION:
                permissions.append(f)
                continue
            if f.verdict == Verdict.INSUFFICIENT_EVIDENCE:
                self.no_step.append(
                    _no_step(
                        f,
                        "insufficient evidence: dormant changes nothing it cannot prove "
                        "unused; a person must decide",
                    )
                )
                continue
            if f.verdict not in (Verdict.UNUSED, Verdict.NEVER_USED):
                self.no_step.append(
                    _no_step(f, NO_STEP_REASONS.get(str(f.type), "no automatic step"))
                )
                continue
            if f.type == FindingType.UNUSED_ACCESS_KEY:
                self._key(f)
            elif f.type == FindingType.UNUSED_ROLE:
                self._role(f)
            elif f.type == FindingType.UNUSED_PASSWORD:
                self._password(f)
            else:
                self.no_step.append(
                    _no_step(f, NO_STEP_REASONS.get(str(f.type), "no automatic step"))
                )
        for f in excluded:
            self.no_step.append(_no_step(f, f"excluded: {f.excluded_by or 'by a rule'}"))
        if permissions:
            from .permissions import permission_drafts

            drafts, skipped, notes = permission_drafts(
                permissions,
                contexts={k: c.view for k, c in self.contexts.items()},
                policy=self.policy,
                as_of=self.as_of,
            )
            self.drafts.extend(drafts)
            self.no_step.extend(skipped)
            self.notes.extend(notes)

    def _protected(self, ftype: str, arn: str, tags: dict[str, str]) -> str | None:
        return self.policy.protection(ftype, arn, tags, self.as_of.date())

    def _key(self, f: Finding) -> None:
        if not f.access_key_id:
            self.no_step.append(
                _no_step(
                    f,
                    "the key's id is not known (only the credential report's slot): scan "
                    "with iam:ListAccessKeys",
                )
            )
            return
        ctx = self.context(f.account_id)
        tags = ctx.user_tags(f.principal_arn, f)
        rule = self._protected(str(f.type), f.principal_arn, tags)
        if rule:
            self.no_step.append(_no_step(f, f"excluded: {rule}"))
            return
        notes = []
        if ctx.view is not None:
            key = ctx.view.keys.keys.get(f.access_key_id)
            if key is not None and key.status != "Active":
                self.no_step.append(_no_step(f, f"the key is already {key.status}"))
                return
        earlier = tags.get(DEACTIVATED_TAG + f.access_key_id)
        if earlier:
            notes.append(
                f"dormant deactivated this key on {earlier[:10]} and someone reactivated it; "
                "deactivating it again restarts the wait before deletion"
            )
        tag = {"Key": DEACTIVATED_TAG + f.access_key_id, "Value": "{applied_at}"}
        self.drafts.append(
            _Draft(
                kind=Kind.DEACTIVATE_KEY,
                finding_type=str(f.type),
                finding_ids=(f.id,),
                account_id=f.account_id,
                principal_arn=f.principal_arn,
                principal_name=f.principal_name,
                principal_type="user",
                summary=f"deactivate access key {f.access_key_id} of user {f.principal_name}",
                reason=f.reason,
                calls=[
                    Call("TagUser", {"UserName": f.principal_name, "Tags": [tag]}),
                    Call(
                        "UpdateAccessKey",
                        {
                            "UserName": f.principal_name,
                            "AccessKeyId": f.access_key_id,
                            "Status": "Inactive",
                        },
                    ),
                ],
                expect={
                    "access_key_id": f.access_key_id,
                    "status": "Active",
                    "last_used": f.last_used,
                },
                notes=notes
                + [
                    f"the tag records when dormant deactivated it; a later plan deletes the key "
                    f"after {self.settings.delete_keys_after_days} days if nobody reactivated "
                    "or used it"
                ],
            )
        )

    def _role(self, f: Finding) -> None:
        ctx = self.context(f.account_id)
        tags = ctx.role_tags(f.principal_arn, f)
        rule = self._protected(str(f.type), f.principal_arn, tags)
        if rule:
            self.no_step.append(_no_step(f, f"excluded: {rule}"))
            return
        quarantined = tags.get(QUARANTINE_TAG)
        if quarantined is None:
            self._quarantine(f)
            return
        since = _tag_time(quarantined)
        if since is None:
            self.no_step.append(
                _no_step(
                    f,
                    f"the role's {QUARANTINE_TAG} tag holds {quarantined!r}, not a time: "
                    "a person must look",
                )
            )
            return
        record = ctx.role(f.principal_arn)
        if record is None:
            self.no_step.append(
                _no_step(
                    f,
                    f"quarantined by dormant on {quarantined[:10]}; deleting it needs the "
                    "evidence bundle (plan from a snapshot) to list what the role holds",
                )
            )
            return
        inline = {
            p["PolicyName"]: p.get("PolicyDocument")
            for p in record.detail.get("RolePolicyList") or []
        }
        guard = [
            n
            for n, doc in inline.items()
            if n.startswith(QUARANTINE_POLICY) and canonical(doc) == canonical(QUARANTINE_DOCUMENT)
        ]
        if not guard:
            self.no_step.append(
                _no_step(
                    f,
                    f"quarantined by dormant on {quarantined[:10]}, but the quarantine policy "
                    "is gone: someone lifted it, so dormant leaves the role alone (remove the "
                    f"{QUARANTINE_TAG} tag to have it quarantined again)",
                )
            )
            return
        if record.last_used is not None and record.last_used > since:
            self.no_step.append(
                _no_step(
                    f,
                    f"used on {iso(record.last_used)}, after dormant quarantined it on "
                    f"{quarantined[:10]}: a person must decide",
                )
            )
            return
        wait = self.settings.delete_roles_after_days
        due = since + dt.timedelta(days=wait)
        if self.as_of < due:
            self.no_step.append(
                _no_step(
                    f,
                    f"quarantined by dormant on {quarantined[:10]}; deleted by a plan made "
                    f"from {iso(due)[:10]} on ({wait} days of quarantine)",
                )
            )
            return
        self._delete_role(f, record, sorted(inline), guard[0], quarantined)

    def _quarantine(self, f: Finding) -> None:
        self.drafts.append(
            _Draft(
                kind=Kind.QUARANTINE_ROLE,
                finding_type=str(f.type),
                finding_ids=(f.id,),
                account_id=f.account_id,
                principal_arn=f.principal_arn,
                principal_name=f.principal_name,
                principal_type="role",
                summary=f"quarantine role {f.principal_name} (deny-all inline policy)",
                reason=f.reason,
                calls=[
                    Call(
                        "PutRolePolicy",
                        {
                            "RoleName": f.principal_name,
                            "PolicyName": QUARANTINE_POLICY + "-{applied_day}",
                            "PolicyDocument": document_text(QUARANTINE_DOCUMENT),
                        },
                    ),
                    Call(
                        "TagRole",
                        {
                            "RoleName": f.principal_name,
                            "Tags": [{"Key": QUARANTINE_TAG, "Value": "{applied_at}"}],
                        },
                    ),
                ],
                expect={"last_used": f.last_used, "quarantined": False},
                notes=[
                    "sessions of the role are denied every action; a later plan deletes the role "
                    f"after {self.settings.delete_roles_after_days} days of quarantine if nobody "
                    "used it or lifted the quarantine"
                ],
            )
        )

    def _delete_role(self, f: Finding, record, inline: list[str], guard: str, since: str) -> None:
        detail = record.detail
        profiles = sorted(p["InstanceProfileName"] for p in detail.get("InstanceProfileList") or [])
        attached = sorted(p["PolicyArn"] for p in detail.get("AttachedManagedPolicies") or [])
        name = f.principal_name
        calls = [Call("DetachRolePolicy", {"RoleName": name, "PolicyArn": a}) for a in attached]
        calls += [
            Call("DeleteRolePolicy", {"RoleName": name, "PolicyName": n})
            for n in inline
            if n != guard
        ]
        calls += [
            Call("RemoveRoleFromInstanceProfile", {"InstanceProfileName": p, "RoleName": name})
            for p in profiles
        ]
        calls.append(Call("DeleteRolePolicy", {"RoleName": name, "PolicyName": guard}))
        calls.append(Call("DeleteRole", {"RoleName": name}))
        notes = [
            "apply saves the whole role in the journal before the first call: trust policy, "
            "description, maximum session duration, permissions boundary, tags, inline and "
            "attached policies, instance profiles",
            "the quarantine policy goes last, so the role stays denied until it is deleted",
        ]
        if profiles:
            notes.append(
                "the instance profiles are kept (empty): rollback puts the role back in them"
            )
        self.drafts.append(
            _Draft(
                kind=Kind.DELETE_ROLE,
                finding_type=str(f.type),
                finding_ids=(f.id,),
                account_id=f.account_id,
                principal_arn=f.principal_arn,
                principal_name=name,
                principal_type="role",
                summary=f"delete role {name}, quarantined by dormant on {since[:10]}",
                reason=f"{f.reason}; quarantined since {since}",
                calls=calls,
                expect={
                    "quarantined_at": since,
                    "quarantine_policy": guard,
                    "inline_policies": inline,
                    "attached_policies": attached,
                    "instance_profiles": profiles,
                    "last_used": f.last_used,
                    "delete_after_days": self.settings.delete_roles_after_days,
                },
                notes=notes,
            )
        )

    def _password(self, f: Finding) -> None:
        ctx = self.context(f.account_id)
        rule = self._protected(str(f.type), f.principal_arn, ctx.user_tags(f.principal_arn, f))
        if rule:
            self.no_step.append(_no_step(f, f"excluded: {rule}"))
            return
        self.drafts.append(
            _Draft(
                kind=Kind.DELETE_LOGIN_PROFILE,
                finding_type=str(f.type),
                finding_ids=(f.id,),
                account_id=f.account_id,
                principal_arn=f.principal_arn,
                principal_name=f.principal_name,
                principal_type="user",
                summary=f"delete the console password (login profile) of user {f.principal_name}",
                reason=f.reason,
                calls=[Call("DeleteLoginProfile", {"UserName": f.principal_name})],
                expect={"last_used": f.last_used},
                notes=[
                    "irreversible: the password is gone; the user needs a new one from an "
                    "administrator"
                ],
            )
        )

    # ---------------------------------------------------------------------------- follow-ups

    def add_key_deletions(self) -> None:
        """Keys dormant deactivated long enough ago (from the evidence bundle's keys and tags)."""
        wait = self.settings.delete_keys_after_days
        for account_id, ctx in sorted(self.contexts.items()):
            view = ctx.view
            if view is None:
                continue
            for arn, user in view.user_facts.items():
                for key in view.keys.for_user(user.name):
                    stamp = user.tags.get(DEACTIVATED_TAG + key.access_key_id)
                    if stamp is None:
                        continue
                    self._key_deletion(account_id, arn, user, key, stamp, wait)
        if not self.contexts:
            self.notes.append(
                "made from a report: deleting keys dormant deactivated earlier needs the evidence "
                "bundle (the report lists active keys only): plan from a snapshot for those"
            )

    def add_quarantine_notes(self, findings: Sequence[Finding]) -> None:
        """Roles dormant quarantined that are no longer unused findings: someone used them (or
        they are now excluded). The quarantine still denies them everything: a person decides."""
        unused = {f.principal_arn for f in findings if f.type == FindingType.UNUSED_ROLE}
        for account_id, ctx in sorted(self.contexts.items()):
            if ctx.view is None or not ctx.view.details.read:
                continue
            for arn, role in sorted(ctx.view.details.roles.items()):
                stamp = role.tags.get(QUARANTINE_TAG)
                if stamp is None or arn in unused:
                    continue
                last = iso(role.last_used) if role.last_used else "no recorded use"
                self.no_step.append(
                    NoStep(
                        finding_type=str(FindingType.UNUSED_ROLE),
                        account_id=account_id,
                        principal_arn=arn,
                        principal_name=role.name,
                        reason=f"quarantined by dormant on {stamp[:10]} but no longer an unused "
                        f"role (last use: {last}): its quarantine policy still denies it "
                        "everything; a person must lift it (roll back the quarantine) or delete "
                        "the role",
                    )
                )

    def _key_deletion(self, account_id, arn, user, key, stamp: str, wait: int) -> None:
        ftype = str(FindingType.UNUSED_ACCESS_KEY)

        def skip(reason: str) -> None:
            self.no_step.append(
                NoStep(
                    finding_type=ftype,
                    account_id=account_id,
                    principal_arn=arn,
                    principal_name=user.name,
                    reason=reason,
                    access_key_id=key.access_key_id,
                )
            )

        if key.status == "Active":
            return  # reactivated: an ordinary finding again, if unused
        since = _tag_time(stamp)
        if since is None:
            skip(f"the tag {DEACTIVATED_TAG}{key.access_key_id} holds {stamp!r}, not a time")
            return
        rule = self._protected(ftype, arn, user.tags)
        if rule:
            skip(f"excluded: {rule}")
            return
        last = key.last_used.last_used if key.last_used else None
        if last is not None and last > since:
            skip(
                f"used on {iso(last)}, after dormant deactivated it on {stamp[:10]}: a person "
                "must decide"
            )
            return
        due = since + dt.timedelta(days=wait)
        if self.as_of < due:
            skip(
                f"deactivated by dormant on {stamp[:10]}; deleted by a plan made from "
                f"{iso(due)[:10]} on ({wait} days)"
            )
            return
        name = user.name
        self.drafts.append(
            _Draft(
                kind=Kind.DELETE_KEY,
                finding_type=ftype,
                finding_ids=(),
                account_id=account_id,
                principal_arn=arn,
                principal_name=name,
                principal_type="user",
                summary=f"delete access key {key.access_key_id} of user {name}, deactivated by "
                f"dormant on {stamp[:10]}",
                reason=f"deactivated by dormant on {stamp} ({(self.as_of - since).days} days "
                f"before {iso(self.as_of)}), still inactive, not used since",
                calls=[
                    Call("DeleteAccessKey", {"UserName": name, "AccessKeyId": key.access_key_id}),
                    Call(
                        "UntagUser",
                        {"UserName": name, "TagKeys": [DEACTIVATED_TAG + key.access_key_id]},
                    ),
                ],
                expect={
                    "access_key_id": key.access_key_id,
                    "status": "Inactive",
                    "deactivated_at": stamp,
                    "last_used": iso(last) if last else None,
                    "delete_after_days": wait,
                },
                notes=[
                    "irreversible: a deleted key cannot be restored; its owner would need a new key"
                ],
            )
        )

    # ---------------------------------------------------------------------------------- plan

    def plan(
        self, *, created_at: str, source: Mapping[str, Any], account_ids: Sequence[str]
    ) -> Plan:
        # Reversible steps first, irreversible ones listed apart at the end; each group by
        # account, kind order of a retirement (permissions, credentials, roles), principal.
        order = {k: i for i, k in enumerate(Kind)}
        drafts = sorted(
            self.drafts,
            key=lambda d: (d.irreversible, d.account_id, order[d.kind], d.principal_arn, d.summary),
        )
        steps = tuple(
            Step(
                number=i,
                kind=d.kind,
                finding_type=d.finding_type,
                finding_ids=d.finding_ids,
                account_id=d.account_id,
                principal_arn=d.principal_arn,
                principal_name=d.principal_name,
                principal_type=d.principal_type,
                summary=d.summary,
                reason=d.reason,
                irreversible=d.irreversible,
                rollback=ROLLBACK_TEXT[d.kind],
                calls=tuple(d.calls),
                expect=d.expect,
                notes=tuple(d.notes),
            )
            for i, d in enumerate(drafts, 1)
        )
        no_step = tuple(
            sorted(
                self.no_step,
                key=lambda n: (
                    n.account_id,
                    n.finding_type,
                    n.principal_arn,
                    n.access_key_id or "",
                    n.service or "",
                    n.finding_id or "",
                ),
            )
        )
        return Plan(
            created_at=created_at,
            as_of=iso(self.as_of),
            account_ids=tuple(account_ids),
            source=dict(source),
            settings={
                "delete_keys_after_days": self.settings.delete_keys_after_days,
                "delete_roles_after_days": self.settings.delete_roles_after_days,
                "policy_source": self.policy.source,
                "thresholds": {str(k): v for k, v in sorted(self.policy.thresholds.items())},
            },
            steps=steps,
            no_step=no_step,
            notes=tuple(self.notes),
        )


def build_plan(
    findings: Sequence[Finding],
    excluded: Sequence[Finding],
    *,
    policy: Policy,
    as_of: str | dt.datetime,
    created_at: str,
    snapshot: Snapshot | None,
    source: Mapping[str, Any],
    account_ids: Sequence[str],
) -> Plan:
    """The plan for these findings (``excluded`` ones are listed with their rule)."""
    builder = Builder(policy=policy, as_of=parse_time(as_of), snapshot=snapshot)
    builder.add_findings(findings, excluded)
    builder.add_key_deletions()
    builder.add_quarantine_notes([*findings, *excluded])
    return builder.plan(created_at=created_at, source=source, account_ids=account_ids)
