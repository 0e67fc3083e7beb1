"""One account's evidence, parsed and cross-referenced for the judge.

Built from a snapshot's raw source results with the sources' own parsers, so a saved bundle is
judged exactly as a live scan is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..model import Observation
from ..snapshot import AccountEvidence
from ..sources import (
    access_advisor,
    access_analyzer,
    access_keys,
    account,
    authorization,
    cloudtrail,
    credential_report,
    other_credentials,
)
from ..sources import users as users_source
from ..sources.base import SourceResult, SourceStatus
from ..timeutil import iso, parse_time
from ..trail.evidence import PrincipalActivity, RoleAssumption, TrailEvidence

ACCOUNT_ROOT = "arn:aws:iam::{account}:root"


@dataclass(frozen=True)
class UserFacts:
    """What every source says about one user's identity (not their credentials)."""

    arn: str
    name: str
    path: str
    created: dt.datetime | None
    tags: dict[str, str]


@dataclass
class AccountView:
    account_id: str
    account_name: str | None
    sources: dict[str, SourceResult]
    report: credential_report.CredentialReport | None
    users: users_source.Users
    keys: access_keys.AccessKeys
    other: other_credentials.OtherCredentials | None
    details: authorization.AuthorizationDetails
    facts: account.AccountFacts
    user_facts: dict[str, UserFacts] = field(default_factory=dict)
    advisor: dict[str, access_advisor.AccessAdvisorReport] | None = None
    """Access Advisor reports by ARN; None when the source was not collected or was skipped
    (then permissions are not judged)."""
    analyzer: list[access_analyzer.UnusedAccessFinding] | None = None
    """Access Analyzer's unused-access findings; None unless some analyzer's findings were
    listed, so that "no finding" is said only where findings were read."""

    trail: TrailEvidence | None = None
    """CloudTrail's evidence, when the scan read a trail. It only ever adds uses."""
    _trail_roles: dict[str, RoleAssumption] = field(default_factory=dict, repr=False)
    _trail_principals: dict[str, PrincipalActivity] = field(default_factory=dict, repr=False)

    def _index_trail(self) -> None:
        if self.trail is None:
            return
        # IAM names are unique per account whatever their case and path, while CloudTrail
        # writes a role's ARN as the caller or the session issuer spelled it: match by name.
        for r in self.trail.role_assumptions:
            self._trail_roles[principal_key(r.role_arn)] = r
        for p in self.trail.principal_activity:
            self._trail_principals[principal_key(p.principal_arn)] = p

    def trail_role(self, role_arn: str) -> RoleAssumption | None:
        """Successful assumptions of a role, by CloudTrail."""
        return self._trail_roles.get(principal_key(role_arn))

    def trail_principal(self, arn: str) -> PrincipalActivity | None:
        """Everything a user, role (its sessions) or root did, by CloudTrail."""
        return self._trail_principals.get(principal_key(arn))

    def trail_obs(self, field_name: str, value: str | None, note: str | None = None) -> Observation:
        end = self.trail.time_range.end if self.trail else None
        return Observation(
            "cloudtrail",
            field_name,
            value,
            self.read_at(cloudtrail.NAME),
            data_as_of=end,
            note=note,
        )

    def trail_actions(self, arn: str) -> dict[str, dt.datetime]:
        """IAM actions the principal called successfully, with the latest call: uses of its
        permissions that Access Advisor may not see."""
        activity = self.trail_principal(arn)
        out: dict[str, dt.datetime] = {}
        for a in activity.actions if activity else ():
            if a.iam_action and a.last_seen:
                when = parse_time(a.last_seen)
                key = a.iam_action.lower()
                if key not in out or when > out[key]:
                    out[key] = when
        return out

    def advisor_report(self, arn: str) -> access_advisor.AccessAdvisorReport | None:
        return (self.advisor or {}).get(arn)

    def status(self, name: str) -> SourceStatus:
        res = self.sources.get(name)
        return res.status if res else SourceStatus.SKIPPED

    def read_at(self, name: str) -> str | None:
        res = self.sources.get(name)
        return res.finished_at if res else None

    def source_error(self, name: str) -> str:
        res = self.sources.get(name)
        if res is None:
            return f"{name} was not collected"
        if res.errors:
            return res.errors[0].message
        return f"{name}: {res.status}"

    def obs(self, source: str, operation: str, field_name: str, value, note=None) -> Observation:
        """An observation stamped with when ``source`` was read."""
        if isinstance(value, dt.datetime):
            value = iso(value)
        return Observation(operation, field_name, value, self.read_at(source), note=note)

    def report_obs(self, field_name: str, value: str, note: str | None = None) -> Observation:
        gen = self.report.generated_time if self.report else None
        return Observation(
            "credential_report",
            field_name,
            value,
            self.read_at(credential_report.NAME),
            data_as_of=iso(gen) if gen else None,
            note=note,
        )

    def report_row_for(self, user: UserFacts) -> credential_report.ReportRow | None:
        """The report's row for a user, if the report can speak for them: a report generated
        before the user existed cannot, nor one whose row belongs to an earlier user of the
        same name."""
        if self.report is None:
            return None
        row = self.report.user(user.arn)
        if row is None:
            return None
        gen = self.report.generated_time
        if gen is not None and user.created is not None and user.created > gen:
            return None
        if (
            user.created is not None
            and row.user_creation_time is not None
            and abs((row.user_creation_time - user.created).total_seconds()) > 1
        ):
            return None
        return row


def build(evidence: AccountEvidence) -> AccountView:
    src = evidence.sources
    where = f"account {evidence.account_id}"

    def raw(name: str) -> dict:
        res = src.get(name)
        return res.raw if res else {}

    report = credential_report.parse_raw(
        raw(credential_report.NAME), where=f"{where}: credential report"
    )
    users = users_source.parse_raw(raw(users_source.NAME))
    key_errors = src[access_keys.NAME].errors if access_keys.NAME in src else []
    keys = access_keys.parse_raw(raw(access_keys.NAME), key_errors)
    other = (
        other_credentials.parse_raw(raw(other_credentials.NAME))
        if other_credentials.NAME in src
        else None
    )
    details = authorization.parse_raw(raw(authorization.NAME))
    facts = account.parse_raw(raw(account.NAME))
    view = AccountView(
        account_id=evidence.account_id,
        account_name=evidence.account_name,
        sources=src,
        report=report,
        users=users,
        keys=keys,
        other=other,
        details=details,
        facts=facts,
    )
    # The user universe: ListUsers, GetAccountAuthorizationDetails and the report, so that a
    # denied call never hides a user.
    facts_by_arn: dict[str, UserFacts] = {}
    for u in users.users.values():
        facts_by_arn[u.arn] = UserFacts(u.arn, u.name, u.path, u.created, {})
    for u in details.users.values():
        prev = facts_by_arn.get(u.arn)
        facts_by_arn[u.arn] = UserFacts(
            u.arn,
            u.name,
            u.path,
            prev.created if prev and prev.created else u.created,
            u.tags,
        )
    if report is not None:
        for r in report.rows:
            if r.is_root or r.arn in facts_by_arn:
                continue
            if users.listed or details.read:
                # The listing is authoritative: a report row it lacks is a user deleted since
                # the report was generated.
                continue
            path = "/" + "/".join(r.arn.split(":user/", 1)[-1].split("/")[:-1])
            facts_by_arn[r.arn] = UserFacts(
                r.arn, r.user, path.rstrip("/") + "/", r.user_creation_time, {}
            )
    view.user_facts = dict(sorted(facts_by_arn.items()))
    advisor = src.get(access_advisor.NAME)
    if advisor is not None and advisor.status != SourceStatus.SKIPPED:
        view.advisor = access_advisor.parse(advisor.raw)
    analyzer = src.get(access_analyzer.NAME)
    if analyzer is not None and analyzer.status != SourceStatus.SKIPPED:
        if analyzer.raw.get("findings"):
            view.analyzer = access_analyzer.parse(analyzer.raw)
    trail = src.get(cloudtrail.NAME)
    if trail is not None:
        view.trail = cloudtrail.parse_raw(trail.raw)
        view._index_trail()
    return view


def principal_key(arn: str) -> str:
    """``account/kind/name`` of a user, role or root ARN, case-folded, path dropped; a role
    session ARN (``arn:aws:sts::A:assumed-role/R/S``) keys as its role."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return arn.casefold()
    account_id, resource = parts[4], parts[5]
    if resource == "root":
        return f"{account_id}/root"
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        return f"{account_id}/role/{rest.split('/', 1)[0].casefold()}"
    return f"{account_id}/{kind}/{rest.rsplit('/', 1)[-1].casefold()}"
