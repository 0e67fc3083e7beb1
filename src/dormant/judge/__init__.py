"""judge(snapshot, policy, as_of) -> Report. Pure: no I/O, no clock, no boto3.

Same snapshot + same policy + same ``as_of`` = the same report, byte for byte once formatted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch

from ..model import (
    AccountInfo,
    CoverageEntry,
    ExceptionStatus,
    Finding,
    FindingType,
    PrincipalType,
    Report,
    RoleAssumptionSummary,
    Verdict,
)
from ..org import ASSUME_ROLE
from ..policy import IDENTITY_CENTER_PATH, SERVICE_LINKED_PATH, Policy
from ..snapshot import AccountEvidence, Snapshot
from ..sources import (
    access_advisor,
    access_analyzer,
    access_keys,
    account,
    authorization,
    credential_report,
    other_credentials,
    users,
)
from ..sources.base import SourceError, SourceResult
from ..timeutil import iso
from . import view as view_mod
from .credentials import judge_users
from .permissions import Judgement, PolicyPlan, Principal, judge_permissions, principals
from .roles import MAX_CALLERS, judge_roles
from .root import judge_root

AFFECTS = {
    account.NAME: "account name; root access keys when the credential report is missing",
    credential_report.NAME: "root user findings; second source of password and key last use",
    users.NAME: "console passwords (PasswordLastUsed, GetLoginProfile)",
    authorization.NAME: "roles (RoleLastUsed), user tags, policies",
    access_keys.NAME: "access keys (per key id) and their last use",
    other_credentials.NAME: "inactive users (SSH keys, service-specific credentials, certificates)",
    access_advisor.NAME: "unused permissions (UnusedPermission) of the principals whose job did "
    "not complete; role last use (service LastAuthenticated)",
    access_analyzer.NAME: "the comparison with Access Analyzer's unused-access findings",
    "cloudtrail": "later uses of roles, keys, passwords and actions, and who assumed each role "
    "(CloudTrail only adds uses: a gap here never makes anything unused)",
    ASSUME_ROLE: "everything in the account: it could not be reached, so nothing in it was judged",
}

COMPLETE, INCOMPLETE, NOT_SCANNED = "complete", "incomplete", "not-scanned"
_GAP = ("partial", "denied", "failed")


def _gap_line(name: str, res: SourceResult) -> str:
    """One line for people: the source, its status, and each failing operation with its error
    code, count and (first) message."""
    groups: dict[tuple[str, str], list[SourceError]] = {}
    for e in res.errors:
        groups.setdefault((e.operation, e.code), []).append(e)
    parts = []
    for (operation, code), errs in sorted(groups.items()):
        calls = res.operations.get(operation, {}).get("calls")
        count = f" ({len(errs)} of {calls} calls)" if calls and calls > 1 else ""
        message = errs[0].message
        if message.startswith(f"{code}: "):
            message = message[len(code) + 2 :]
        message = message if len(message) <= 240 else message[:239] + "…"
        parts.append(f"{operation} {code}{count}: {message}" if message else f"{operation} {code}")
    return f"{name} {res.status}" + (f": {'; '.join(parts)}" if parts else "")


def scan_status(evidence: AccountEvidence) -> tuple[str, tuple[str, ...]]:
    """How fully the account was scanned, and one line per gap.

    ``not-scanned``: an organization member that could not be reached (its ``assume-role``
    source failed: nothing else was read), or an account none of whose users and roles could be
    listed; ``incomplete``: a source was partial, denied or
    failed; else ``complete``. A source turned off (skipped) is not a gap."""
    gaps = tuple(
        _gap_line(name, res)
        for name, res in sorted(evidence.sources.items())
        if str(res.status) in _GAP
    )
    reached = evidence.sources.get(ASSUME_ROLE)
    if reached is not None and str(reached.status) != "read":
        return NOT_SCANNED, gaps
    identity = [evidence.sources[n] for n in IDENTITY_SOURCES if n in evidence.sources]
    if identity and not any(str(r.status) in ("read", "partial") for r in identity):
        # Reached, but denied every list of its users and roles (a member role deployed
        # without the read-only policy, an SCP): nothing in it can be judged, and a gate must
        # not pass on it as if it had been read.
        return NOT_SCANNED, (
            *gaps,
            "no list of the account's users and roles could be read (ListUsers, "
            "GetAccountAuthorizationDetails, the credential report): nothing in it was judged",
        )
    return (INCOMPLETE if gaps else COMPLETE), gaps


IDENTITY_SOURCES = (credential_report.NAME, users.NAME, authorization.NAME)
"""The sources that list an account's users and roles: with none of them read, nothing in the
account can be judged."""


_UNUSED = (Verdict.UNUSED, Verdict.NEVER_USED)


def _exclusion_rule(policy: Policy, f: Finding, path: str | None) -> str | None:
    return _principal_rule(policy, f.principal_type, f.principal_arn, path)


def _principal_rule(
    policy: Policy, principal_type: PrincipalType, arn: str, path: str | None
) -> str | None:
    ex = policy.exclusions
    if principal_type == PrincipalType.ROLE and path:
        if ex.service_linked_roles and path.startswith(SERVICE_LINKED_PATH):
            return f"service-linked role (path {SERVICE_LINKED_PATH}): managed by an AWS service"
        if ex.identity_center_roles and path.startswith(IDENTITY_CENTER_PATH):
            return f"IAM Identity Center role (path {IDENTITY_CENTER_PATH}): managed by AWS"
    for pattern in ex.arns:
        if fnmatch.fnmatchcase(arn, pattern):
            return f"policy exclusion: ARN matches {pattern}"
    for prefix in ex.paths:
        if path and path.startswith(prefix):
            return f"policy exclusion: path {prefix}"
    return None


def _principal_meta(v: view_mod.AccountView) -> dict[str, tuple[str, dict[str, str]]]:
    """Path and tags by principal ARN."""
    meta: dict[str, tuple[str, dict[str, str]]] = {}
    for u in v.user_facts.values():
        meta[u.arn] = (u.path, u.tags)
    for r in v.details.roles.values():
        meta[r.arn] = (r.path, r.tags)
    return meta


def _judge_account(
    v: view_mod.AccountView, policy: Policy, as_of: dt.datetime, all_plans: bool = False
) -> tuple[list[Finding], dict[str, int], Judgement]:
    """Every finding of one account (before exclusions), what was assessed, and the
    least-privilege plans of its principals."""
    today = as_of.date()
    account_findings: list[Finding] = []
    user_findings, counts = judge_users(v, policy, as_of)
    account_findings.extend(user_findings)
    role_findings, role_counts = judge_roles(v, policy, as_of)
    account_findings.extend(role_findings)
    account_findings.extend(judge_root(v, policy, as_of))

    def excluded_principal(p: Principal) -> bool:
        if _principal_rule(policy, p.type, p.arn, p.path) is not None:
            return True
        return any(
            e.expires >= today and e.matches(str(FindingType.UNUSED_PERMISSION), p.arn, p.tags)
            for e in policy.allow
        )

    unused = {
        f.principal_arn: str(f.type)
        for f in account_findings
        if f.type in (FindingType.UNUSED_ROLE, FindingType.INACTIVE_USER) and f.verdict in _UNUSED
    }
    permissions = judge_permissions(
        v,
        policy,
        as_of,
        excluded=excluded_principal,
        unused_principals=unused,
        all_plans=all_plans,
    )
    account_findings = [
        dataclasses.replace(
            f, details={**f.details, "permissions": permissions.skipped[f.principal_arn]}
        )
        if unused.get(f.principal_arn) == str(f.type)
        and f.verdict in _UNUSED
        and f.principal_arn in permissions.skipped
        else f
        for f in account_findings
    ]
    account_findings.extend(permissions.findings)
    return account_findings, {**counts, **role_counts, **permissions.counts}, permissions


@dataclasses.dataclass(frozen=True)
class PrincipalPlan:
    """The least-privilege recommendation for one role or user."""

    account_id: str
    principal: Principal
    plans: tuple[PolicyPlan, ...]
    """The plan of every policy that applies to it (changed or not); empty when skipped."""
    skipped: str | None
    """Why its permissions were not judged (unused, excluded, too young), else None."""

    @property
    def changed(self) -> tuple[PolicyPlan, ...]:
        return tuple(p for p in self.plans if p.changed)


def least_privilege(snapshot: Snapshot, policy: Policy, as_of: dt.datetime) -> list[PrincipalPlan]:
    """The least-privilege plans of every role and user with policies, account by account:
    the same judgement as :func:`judge`, kept as plans rather than findings. Pure."""
    out: list[PrincipalPlan] = []
    for evidence in sorted(snapshot.accounts, key=lambda a: a.account_id):
        v = view_mod.build(evidence)
        _, _, permissions = _judge_account(v, policy, as_of, all_plans=True)
        if v.advisor is None or not v.details.read:
            continue
        for principal in principals(v):
            if not principal.policies:
                continue
            out.append(
                PrincipalPlan(
                    evidence.account_id,
                    principal,
                    tuple(permissions.plans.get(principal.arn, ())),
                    permissions.skipped.get(principal.arn),
                )
            )
    return out


def judge(snapshot: Snapshot, policy: Policy, as_of: dt.datetime) -> Report:
    findings: list[Finding] = []
    excluded: list[Finding] = []
    coverage: list[CoverageEntry] = []
    infos: list[AccountInfo] = []
    assessed: dict[str, int] = {}
    warnings: list[str] = list(snapshot.notes)
    matched: dict[int, list[str]] = {i: [] for i in range(len(policy.allow))}
    today = as_of.date()
    role_rows: list[RoleAssumptionSummary] = []

    for evidence in sorted(snapshot.accounts, key=lambda a: a.account_id):
        v = view_mod.build(evidence)
        status, gaps = scan_status(evidence)
        infos.append(
            AccountInfo(
                account_id=evidence.account_id,
                account_name=evidence.account_name,
                collected_at=evidence.collected_at,
                scanner_arn=evidence.scanner_arn,
                credential_report_generated_at=(
                    iso(v.report.generated_time)
                    if v.report is not None and v.report.generated_time
                    else None
                ),
                scan_status=status,
                scan_gaps=gaps,
                ou_path=evidence.ou_path,
            )
        )
        for name, res in sorted(evidence.sources.items()):
            coverage.append(
                CoverageEntry(
                    account_id=evidence.account_id,
                    source=name,
                    status=str(res.status),
                    read_at=res.finished_at,
                    errors=tuple(e.to_json() for e in res.errors),
                    affects=AFFECTS.get(name, ""),
                    operations=dict(sorted(res.operations.items())),
                )
            )
        if status == NOT_SCANNED:
            name = f" ({evidence.account_name})" if evidence.account_name else ""
            warnings.append(
                f"account {evidence.account_id}{name} was not scanned: "
                f"{'; '.join(gaps)}; nothing in it was judged"
            )
            continue
        if authorization.NAME not in evidence.sources:
            warnings.append(
                f"account {evidence.account_id}: roles were not judged: the evidence has no "
                "role data (a credential report lists users only)"
            )
        if v.report is not None and v.report.extra_columns:
            warnings.append(
                f"account {evidence.account_id}: the credential report has columns this "
                f"version does not know ({', '.join(v.report.extra_columns)}); they were ignored"
            )
        account_findings, counts, _ = _judge_account(v, policy, as_of)
        for k, n in counts.items():
            assessed[k] = assessed.get(k, 0) + n
        if v.trail is not None:
            if v.trail.events_read == 0:
                warnings.append(
                    f"account {evidence.account_id}: the CloudTrail sources held no event of "
                    "this account (check the prefix, the account and the time window)"
                )
            role_rows.extend(_role_assumptions(v, account_findings))

        meta = _principal_meta(v)
        for f in account_findings:
            path, tags = meta.get(f.principal_arn, (None, {}))
            if tags:
                # The principal's tags travel with the finding: owners, teams, tickets.
                f = dataclasses.replace(
                    f, details={**f.details, "tags": dict(sorted(tags.items()))}
                )
            rule = _exclusion_rule(policy, f, path)
            if rule is None:
                for i, entry in enumerate(policy.allow):
                    if entry.matches(str(f.type), f.principal_arn, tags):
                        matched[i].append(f.id)
                        if entry.expires >= today:
                            rule = (
                                f"allow-list: {entry.pattern} (owner {entry.owner}; "
                                f"{entry.reason}; expires {entry.expires.isoformat()})"
                            )
                            break
            if rule is not None:
                excluded.append(dataclasses.replace(f, verdict=Verdict.EXCLUDED, excluded_by=rule))
            else:
                findings.append(f)

    exceptions = []
    for i, entry in enumerate(policy.allow):
        expired = entry.expires < today
        exceptions.append(
            ExceptionStatus(
                pattern=entry.pattern,
                owner=entry.owner,
                reason=entry.reason,
                expires=entry.expires.isoformat(),
                expired=expired,
                matched=tuple(sorted(set(matched[i]))),
            )
        )
        if expired:
            warnings.append(
                f"allow-list entry {entry.pattern} (owner {entry.owner}) expired on "
                f"{entry.expires.isoformat()}: it no longer excludes anything"
                + (
                    f"; {len(set(matched[i]))} finding(s) it covered are reported"
                    if matched[i]
                    else ""
                )
            )
    return Report(
        as_of=iso(as_of),
        accounts=tuple(infos),
        findings=tuple(sorted(findings, key=Finding.sort_key)),
        excluded=tuple(sorted(excluded, key=Finding.sort_key)),
        coverage=tuple(coverage),
        exceptions=tuple(exceptions),
        thresholds={str(k): v for k, v in sorted(policy.thresholds.items())},
        policy_source=policy.source,
        snapshot_digest=snapshot.digest,
        warnings=tuple(warnings),
        assessed=dict(sorted(assessed.items())),
        role_assumptions=tuple(_settle_role_rows(role_rows, excluded)),
    )


def _role_assumptions(
    v: view_mod.AccountView, account_findings: list[Finding]
) -> list[RoleAssumptionSummary]:
    """Every role of the account that CloudTrail shows assumed, with its callers."""
    by_role = {f.principal_arn: f for f in account_findings if f.type == FindingType.UNUSED_ROLE}
    rows = []
    for role in sorted(v.details.roles.values(), key=lambda r: r.arn):
        assumed = v.trail_role(role.arn)
        if assumed is None:
            continue
        finding = by_role.get(role.arn)
        callers = sorted(assumed.callers, key=lambda c: (c.last_seen, c.caller), reverse=True)
        rows.append(
            RoleAssumptionSummary(
                account_id=v.account_id,
                role_arn=role.arn,
                role_name=role.name,
                last_assumed=assumed.last_assumed,
                count=assumed.count,
                callers=tuple(
                    {"caller": c.caller, "kind": c.kind, "last_seen": c.last_seen, "count": c.count}
                    for c in callers[:MAX_CALLERS]
                ),
                verdict=str(finding.verdict) if finding else str(Verdict.USED),
                finding_id=finding.id if finding else None,
            )
        )
    return rows


def _settle_role_rows(
    rows: list[RoleAssumptionSummary], excluded: list[Finding]
) -> list[RoleAssumptionSummary]:
    gone = {f.id for f in excluded}
    return [
        dataclasses.replace(r, verdict=str(Verdict.EXCLUDED)) if r.finding_id in gone else r
        for r in rows
    ]
