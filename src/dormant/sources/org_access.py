"""Organization-level Access Advisor: which services the accounts of a root, OU or account used.

IAM answers with a job, from the organization's management account only:
``GenerateOrganizationsAccessReport`` takes an entity path (``o-.../r-...[/ou-...][/<account>]``)
and optionally an SCP's id, and returns a ``JobId``; ``GetOrganizationsAccessReport`` is polled
until the job is ``COMPLETED`` or ``FAILED``, then read page by page (``Marker``/``IsTruncated``,
``MaxItems`` up to 1,000, AWS's default 100). Each ``AccessDetail`` names a service the SCPs
allow, and, when a principal of the entity's accounts tried it in the tracking period, when
(``LastAuthenticatedTime``), from which Region and which account (``EntityPath``), and how many
accounts did (``TotalAuthenticatedEntities``).

This module:

- :class:`OrgResolver` checks the caller (``sts:GetCallerIdentity``) against the organization
  (``organizations:DescribeOrganization``: only its management account may ask), finds the root
  (``ListRoots``; SCPs must be enabled on it) and builds the entity path of an OU or account from
  its parents (``ListParents``). With an SCP id it reads the policy (``DescribePolicy``) and where
  it is attached (``ListTargetsForPolicy``). Names (``DescribeOrganizationalUnit``,
  ``DescribeAccount``) are read where allowed, for display only.
- :func:`collect` runs one job per entity: all are generated up front (AWS builds them side by
  side), then each is polled with backoff (1 s, x1.6, at most 15 s) until it completes, fails or
  outlives ``job_timeout``. Throttling that outlasts botocore's adaptive retries, and
  ``ReportGenerationLimitExceeded`` (too many reports in progress), are retried later with
  backoff. One thread: the calls are few, and a job waiting holds nothing.
- :func:`parse` turns the raw answers into :class:`OrgAccessReport` records. It is pure, so saved
  evidence re-parses with the same code. A report is complete only when the job COMPLETED and
  every page was read; anything else carries an error and no data to judge.

Raw layout (``SourceResult.raw``)::

    {"policy_id": "p-..." | None, "max_items": 100 | None,
     "jobs": {"<entity path>": {"outcome": "completed" | "failed" | "timeout" | "error" |
                                           "incomplete" | "cancelled",
                                "requested_at": ISO, "finished_at": ISO, "polls": n,
                                "error": {"operation", "code", "message"} | None,
                                "GenerateOrganizationsAccessReport": {"JobId": ...},
                                "GetOrganizationsAccessReport": [<page>, ...]}}}
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import DormantError, InputError
from .aws import AccountSession, error_code, error_message
from .base import CollectContext, SourceError, SourceResult, is_denied, is_throttled, jsonable

NAME = "org_access"

GENERATE = "GenerateOrganizationsAccessReport"
GET = "GetOrganizationsAccessReport"

DEFAULT_JOB_TIMEOUT = 600.0
"""Seconds a job may stay IN_PROGRESS (or wait to start) before it is given up."""
POLL_FIRST = 1.0
"""Seconds before the first poll of a job."""
POLL_FACTOR = 1.6
POLL_MAX = 15.0
RETRY_FIRST = 1.0
"""First wait after Throttling (beyond botocore's retries) or ReportGenerationLimitExceeded."""
RETRY_MAX = 30.0
THROTTLE_ATTEMPTS = 8
"""Attempts of one call that keeps answering Throttling, on top of botocore's own retries."""

OUTCOME_COMPLETED = "completed"
OUTCOME_FAILED = "failed"
OUTCOME_TIMEOUT = "timeout"
OUTCOME_ERROR = "error"
OUTCOME_INCOMPLETE = "incomplete"
OUTCOME_CANCELLED = "cancelled"

SCP_TYPE = "SERVICE_CONTROL_POLICY"

ENTITY_PATH_RE = re.compile(
    r"^o-[0-9a-z]{10,32}/r-[0-9a-z]{4,32}(/ou-[0-9a-z]{4,32}-[0-9a-z]{8,32})*(/\d{12})?$"
)
"""An entity path: IAM's pattern (``^o-[0-9a-z]{10,32}\\/r-[0-9a-z]{4,32}[0-9a-z-\\/]*``), made
exact: OUs, then at most one account."""
OU_ID_RE = re.compile(r"^ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}$")
ACCOUNT_ID_RE = re.compile(r"^\d{12}$")
POLICY_ID_RE = re.compile(r"^p-[0-9a-zA-Z_]{8,128}$")

POLICY_FILE = "deploy/org-scanner-policy.json"
POLICY_SID = "DormantOrganizationsAccessReport"


class OrgAccessError(DormantError):
    """The organization cannot be asked: not in one, not its management account, SCPs off, a
    call denied. The message says what, and what to do."""


# --------------------------------------------------------------------------------------------
# The organization and its entities


@dataclass(frozen=True)
class Organization:
    """The organization the caller manages."""

    id: str
    """``o-...``."""
    management_account_id: str
    """The management account: the only one that may generate these reports."""
    root_id: str
    """``r-...``: the organization's root."""
    root_name: str | None
    """The root's name (``Root``)."""
    caller_account_id: str
    """The account of the credentials in use (equal to ``management_account_id``)."""
    caller_arn: str | None
    """The caller's ARN, as sts:GetCallerIdentity tells it."""

    @property
    def root_path(self) -> str:
        return f"{self.id}/{self.root_id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "management_account_id": self.management_account_id,
            "root_id": self.root_id,
            "root_name": self.root_name,
            "caller_account_id": self.caller_account_id,
            "caller_arn": self.caller_arn,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Organization:
        return cls(
            id=data["id"],
            management_account_id=data["management_account_id"],
            root_id=data["root_id"],
            root_name=data.get("root_name"),
            caller_account_id=data["caller_account_id"],
            caller_arn=data.get("caller_arn"),
        )


@dataclass(frozen=True)
class Entity:
    """A root, OU or account, by its entity path."""

    kind: str
    """``root``, ``ou`` or ``account``."""
    id: str
    """``r-...``, ``ou-...`` or the 12-digit account id."""
    path: str
    """``o-.../r-...[/ou-...]*[/<account id>]``."""
    name: str | None = None
    """The root's, OU's or account's name, where it could be read."""
    management_account: bool = False
    """True for the management account itself, which SCPs do not restrict."""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "path": self.path,
            "name": self.name,
            "management_account": self.management_account,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entity:
        return cls(
            kind=data["kind"],
            id=data["id"],
            path=data["path"],
            name=data.get("name"),
            management_account=bool(data.get("management_account")),
        )


@dataclass(frozen=True)
class PolicyInfo:
    """The SCP a policy report is about, and where it is attached."""

    id: str
    """``p-...``."""
    name: str | None
    """Its name."""
    aws_managed: bool
    """True for AWS's ``FullAWSAccess``."""
    target_paths: tuple[str, ...]
    """The entity path of every root, OU and account it is attached to."""

    def attached_at_or_below(self, path: str) -> bool:
        """True when the SCP is attached to ``path`` or to an entity under it: otherwise AWS
        reports the services it allows with no data at all."""
        return any(t == path or t.startswith(path + "/") for t in self.target_paths)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "aws_managed": self.aws_managed,
            "target_paths": list(self.target_paths),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyInfo:
        return cls(
            id=data["id"],
            name=data.get("name"),
            aws_managed=bool(data.get("aws_managed")),
            target_paths=tuple(data.get("target_paths") or ()),
        )


def _needs(action: str) -> str:
    return f"the scanning principal needs {action} (statement {POLICY_SID} of {POLICY_FILE})"


class OrgResolver:
    """Reads the organization through one session of its management account, and builds
    entity paths. ``ListParents`` answers are cached, so shared ancestors cost one call."""

    def __init__(self, session: AccountSession) -> None:
        self.session = session
        self.org_client = session.client("organizations")
        self._parents: dict[str, tuple[str, str]] = {}
        self.warnings: list[str] = []
        """What could not be read but does not stop the report (names)."""

    def _call(self, action: str, fn: Callable[[], Any], context: str = "") -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - every AWS error becomes one clear line
            raise _explain(action, exc, context) from None

    def organization(self) -> Organization:
        """The organization, checked: the caller is its management account and SCPs are on."""
        sts = self.session.client("sts")
        who = self._call("sts:GetCallerIdentity", sts.get_caller_identity)
        caller = str(who["Account"])
        try:
            desc = self.org_client.describe_organization()["Organization"]
        except Exception as exc:  # noqa: BLE001
            if error_code(exc) == "AWSOrganizationsNotInUseException":
                raise OrgAccessError(
                    f"account {caller} is not in an AWS Organization: organization access "
                    "reports need one (run this from its management account)"
                ) from None
            raise _explain("organizations:DescribeOrganization", exc) from None
        management = str(desc["MasterAccountId"])
        org_id = str(desc["Id"])
        if caller != management:
            raise OrgAccessError(
                f"account {caller} is a member of organization {org_id}, not its management "
                f"account {management}: AWS lets only the management account generate "
                "organization access reports (iam:GenerateOrganizationsAccessReport). Run with "
                f"credentials of account {management} (for example --profile with a role there)"
            )
        roots = self._call("organizations:ListRoots", lambda: self._all("list_roots", "Roots"))
        if not roots:
            raise OrgAccessError(f"organization {org_id} has no root (ListRoots answered none)")
        root = roots[0]
        enabled = any(
            t.get("Type") == SCP_TYPE and t.get("Status") == "ENABLED"
            for t in root.get("PolicyTypes") or []
        )
        if not enabled:
            raise OrgAccessError(
                f"service control policies are not enabled on root {root['Id']} of "
                f"{org_id}: AWS reports organization access only where SCPs are enabled "
                f"(aws organizations enable-policy-type --root-id {root['Id']} "
                "--policy-type SERVICE_CONTROL_POLICY)"
            )
        return Organization(
            id=org_id,
            management_account_id=management,
            root_id=str(root["Id"]),
            root_name=root.get("Name"),
            caller_account_id=caller,
            caller_arn=who.get("Arn"),
        )

    def _all(self, method: str, key: str, **params: Any) -> list[dict[str, Any]]:
        paginator = self.org_client.get_paginator(method)
        out: list[dict[str, Any]] = []
        for page in paginator.paginate(**params):
            out.extend(page.get(key) or [])
        return out

    def _parent(self, child_id: str, what: str) -> tuple[str, str]:
        cached = self._parents.get(child_id)
        if cached is not None:
            return cached
        try:
            parents = self._all("list_parents", "Parents", ChildId=child_id)
        except Exception as exc:  # noqa: BLE001
            if error_code(exc) in (
                "ChildNotFoundException",
                "AccountNotFoundException",
                "OrganizationalUnitNotFoundException",
                "ParentNotFoundException",
            ):
                raise InputError(
                    f"{what}: not found in the organization ({error_message(exc)})"
                ) from None
            raise _explain("organizations:ListParents", exc, what) from None
        if not parents:
            raise InputError(f"{what}: the organization lists no parent for {child_id}")
        found = (str(parents[0]["Id"]), str(parents[0]["Type"]))
        self._parents[child_id] = found
        return found

    def path_of(self, org: Organization, child_id: str, what: str) -> str:
        """The entity path of an OU or account, built from its chain of parents."""
        chain = [child_id]
        current = child_id
        for _ in range(32):  # AWS nests OUs five deep at most; this only stops a loop
            parent_id, parent_type = self._parent(current, what)
            if parent_type == "ROOT":
                if parent_id != org.root_id:
                    raise InputError(f"{what}: under root {parent_id}, not {org.root_id}")
                return "/".join([org.id, org.root_id, *reversed(chain)])
            chain.append(parent_id)
            current = parent_id
        raise InputError(f"{what}: its parents do not reach the root")

    def _name(self, action: str, fn: Callable[[], Any]) -> str | None:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - names are for display only
            warning = f"names not read: {action} answered {error_message(exc)}"
            if warning not in self.warnings:
                self.warnings.append(warning)
            return None

    def entities(
        self,
        org: Organization,
        *,
        root: bool = False,
        ous: Iterable[str] = (),
        accounts: Iterable[str] = (),
        paths: Iterable[str] = (),
        names: bool = True,
    ) -> list[Entity]:
        """The entities asked for, in the order asked (root, OUs, accounts, paths), each once.
        None asked for: the root."""
        ous, accounts, paths = list(ous), list(accounts), list(paths)
        out: list[Entity] = []
        if root or not (ous or accounts or paths):
            out.append(Entity("root", org.root_id, org.root_path, org.root_name))
        for ou in ous:
            if not OU_ID_RE.match(ou):
                raise InputError(f"--ou {ou!r}: not an OU id (ou-xxxx-yyyyyyyy)")
            path = self.path_of(org, ou, f"--ou {ou}")
            name = None
            if names:
                name = self._name(
                    "organizations:DescribeOrganizationalUnit",
                    lambda ou=ou: self.org_client.describe_organizational_unit(
                        OrganizationalUnitId=ou
                    )["OrganizationalUnit"].get("Name"),
                )
            out.append(Entity("ou", ou, path, name))
        for account in accounts:
            if not ACCOUNT_ID_RE.match(account):
                raise InputError(f"--account {account!r}: not a 12-digit account id")
            path = self.path_of(org, account, f"--account {account}")
            name = None
            if names:
                name = self._name(
                    "organizations:DescribeAccount",
                    lambda a=account: self.org_client.describe_account(AccountId=a)["Account"].get(
                        "Name"
                    ),
                )
            out.append(Entity("account", account, path, name, account == org.management_account_id))
        for path in paths:
            out.append(entity_from_path(org, path))
        unique: dict[str, Entity] = {}
        for entity in out:
            unique.setdefault(entity.path, entity)
        return list(unique.values())

    def policy(self, org: Organization, policy_id: str) -> PolicyInfo:
        """The SCP ``policy_id`` and the entity paths it is attached to."""
        if not POLICY_ID_RE.match(policy_id):
            raise InputError(f"--policy-id {policy_id!r}: not a policy id (p-xxxxxxxx)")
        try:
            summary = self.org_client.describe_policy(PolicyId=policy_id)["Policy"]["PolicySummary"]
        except Exception as exc:  # noqa: BLE001
            if error_code(exc) == "PolicyNotFoundException":
                raise InputError(
                    f"--policy-id {policy_id}: no such policy in organization {org.id}"
                ) from None
            raise _explain("organizations:DescribePolicy", exc) from None
        if summary.get("Type") != SCP_TYPE:
            raise InputError(
                f"--policy-id {policy_id}: a {summary.get('Type')}, not a service control "
                "policy; organization access reports speak of SCPs only"
            )
        targets = self._call(
            "organizations:ListTargetsForPolicy",
            lambda: self._all("list_targets_for_policy", "Targets", PolicyId=policy_id),
        )
        paths = []
        for target in targets:
            kind, tid = target.get("Type"), str(target.get("TargetId"))
            if kind == "ROOT":
                paths.append(f"{org.id}/{tid}")
            else:
                paths.append(self.path_of(org, tid, f"target {tid} of {policy_id}"))
        return PolicyInfo(
            id=policy_id,
            name=summary.get("Name"),
            aws_managed=bool(summary.get("AwsManaged")),
            target_paths=tuple(sorted(paths)),
        )


def _explain(action: str, exc: BaseException, context: str = "") -> OrgAccessError:
    """One line for a failed call: denied (and which permission is missing), or failed."""
    where = f"{context}: " if context else ""
    if is_denied(exc):
        return OrgAccessError(
            f"{where}{action} was denied ({error_message(exc)}); {_needs(action)}"
        )
    return OrgAccessError(f"{where}{action} failed: {error_message(exc)}")


def entity_from_path(org: Organization, path: str) -> Entity:
    """An entity from a path given as is (``--entity-path``), checked against the organization
    and the path pattern; no call is made."""
    if not ENTITY_PATH_RE.match(path):
        raise InputError(
            f"--entity-path {path!r}: not an entity path (o-xxxxxxxxxx/r-xxxx[/ou-xxxx-xxxxxxxx]"
            "...[/123456789012])"
        )
    if not path.startswith(org.root_path):
        raise InputError(f"--entity-path {path}: not under the root {org.root_path}")
    last = path.rsplit("/", 1)[-1]
    if last.startswith("r-"):
        return Entity("root", last, path, org.root_name)
    if last.startswith("ou-"):
        return Entity("ou", last, path)
    return Entity("account", last, path, None, last == org.management_account_id)


# --------------------------------------------------------------------------------------------
# The jobs


@dataclass(eq=False)
class _Job:
    path: str
    entry: dict[str, Any]
    due: dt.datetime
    phase: str = "generate"
    job_id: str | None = None
    first_try: dt.datetime | None = None
    started: dt.datetime | None = None
    delay: float = POLL_FIRST
    marker: str | None = None
    retries: int = 0
    retry_delay: float = RETRY_FIRST
    done: bool = False
    error: SourceError | None = None
    ops: set[str] = field(default_factory=set)


def collect(
    ctx: CollectContext,
    entity_paths: Iterable[str],
    *,
    policy_id: str | None = None,
    job_timeout: float = DEFAULT_JOB_TIMEOUT,
    max_items: int | None = None,
) -> SourceResult:
    """One organization access report per entity path, read to its last page.

    ``policy_id``: report on what that SCP allows. ``job_timeout``: seconds (by
    ``ctx.wait_clock``) a job may wait to start or stay in progress. ``max_items``: page size
    (1 to 1,000; AWS's default, 100, when None). Waits go through ``ctx.pause``; ``ctx.cancel``
    stops early, keeping what was read. Never raises for an AWS error: each is recorded against
    its entity path."""
    result = SourceResult(name=NAME, started_at=ctx.now_iso())
    paths = list(dict.fromkeys(entity_paths))
    result.raw = {"policy_id": policy_id, "max_items": max_items, "jobs": {}}
    client = ctx.client("iam")
    now = ctx.wait_clock()
    jobs = [
        _Job(
            path,
            {"outcome": OUTCOME_ERROR, "requested_at": ctx.now_iso(), "polls": 0, "error": None},
            due=now,
            delay=POLL_FIRST,
            retry_delay=RETRY_FIRST,
        )
        for path in paths
    ]
    active = list(jobs)
    while active:
        if ctx.cancel.is_set():
            for job in active:
                _finish(job, OUTCOME_CANCELLED, SourceError(_op(job), "Cancelled", "cancelled"))
            break
        now = ctx.wait_clock()
        ready = [j for j in active if j.due <= now]
        if not ready:
            ctx.pause(max(0.0, (min(j.due for j in active) - now).total_seconds()))
            continue
        for job in ready:
            _step(ctx, client, job, policy_id, job_timeout, max_items)
            if job.done:
                job.entry["finished_at"] = ctx.now_iso()
                active.remove(job)
                ctx.progress(NAME, 1, len(jobs))
    attempted: dict[str, int] = {}
    for job in jobs:
        job.entry.setdefault("finished_at", ctx.now_iso())
        if job.error is not None:
            job.entry["error"] = {
                "operation": job.error.operation,
                "code": job.error.code,
                "message": job.error.message,
            }
            result.errors.append(job.error)
        for op in job.ops:
            attempted[op] = attempted.get(op, 0) + 1
        result.raw["jobs"][job.path] = job.entry
    result.finished_at = ctx.now_iso()
    result.settle(attempted)
    return result


def _op(job: _Job) -> str:
    return GENERATE if job.phase == "generate" else GET


def _finish(job: _Job, outcome: str, error: SourceError | None = None) -> None:
    job.entry["outcome"] = outcome
    if error is not None and error.target is None:
        error = SourceError(error.operation, error.code, error.message, job.path)
    job.error = error
    job.done = True


def _step(
    ctx: CollectContext,
    client: Any,
    job: _Job,
    policy_id: str | None,
    timeout: float,
    max_items: int | None,
) -> None:
    """Make the job's next call and move it on. Never raises: an error ends the job."""
    operation = _op(job)
    job.ops.add(operation)
    now = ctx.wait_clock()
    try:
        if job.phase == "generate":
            if job.first_try is None:
                job.first_try = now
            params: dict[str, Any] = {"EntityPath": job.path}
            if policy_id:
                params["OrganizationsPolicyId"] = policy_id
            answer = client.generate_organizations_access_report(**params)
            job.entry[GENERATE] = jsonable(answer)
            job.job_id = answer["JobId"]
            job.started = ctx.wait_clock()
            job.phase = "poll"
            job.due = job.started + dt.timedelta(seconds=job.delay)
        else:
            params = {"JobId": job.job_id}
            if max_items:
                params["MaxItems"] = max_items
            if job.phase == "page":
                params["Marker"] = job.marker
            else:
                job.entry["polls"] += 1
            answer = client.get_organizations_access_report(**params)
            _on_answer(ctx, job, jsonable(answer), timeout)
        job.retries = 0
        job.retry_delay = RETRY_FIRST  # read now, so that a test may shorten it
    except Exception as exc:  # noqa: BLE001 - recorded per entity; the others go on
        code = error_code(exc)
        limited = code == "ReportGenerationLimitExceeded"
        if limited and job.first_try is not None:
            waited = (now - job.first_try).total_seconds()
            if waited < timeout:
                job.due = now + dt.timedelta(seconds=min(job.retry_delay, timeout - waited))
                job.retry_delay = min(RETRY_MAX, job.retry_delay * 2)
                return
            msg = f"{error_message(exc)} (still refused after {timeout:g}s)"
            _finish(job, OUTCOME_TIMEOUT, SourceError(operation, code, msg))
            return
        if is_throttled(exc) and not is_denied(exc) and job.retries + 1 < THROTTLE_ATTEMPTS:
            job.retries += 1
            job.due = now + dt.timedelta(seconds=job.retry_delay)
            job.retry_delay = min(RETRY_MAX, job.retry_delay * 2)
            return
        _finish(job, OUTCOME_ERROR, SourceError.from_exception(operation, exc))


def _on_answer(ctx: CollectContext, job: _Job, answer: dict[str, Any], timeout: float) -> None:
    status = answer.get("JobStatus")
    if job.phase == "poll" and status == "IN_PROGRESS":
        elapsed = (ctx.wait_clock() - job.started).total_seconds() if job.started else 0.0
        if elapsed >= timeout:
            msg = f"job {job.job_id} still IN_PROGRESS after {timeout:g}s"
            _finish(job, OUTCOME_TIMEOUT, SourceError(GET, "JobTimeout", msg))
            return
        job.delay = min(POLL_MAX, job.delay * POLL_FACTOR)
        job.due = ctx.wait_clock() + dt.timedelta(seconds=min(job.delay, timeout - elapsed))
        return
    job.entry.setdefault(GET, []).append(answer)
    if status == "FAILED":
        err = answer.get("ErrorDetails") or {}
        code = str(err.get("Code") or "JobFailed")
        message = str(err.get("Message") or "the report job failed")
        _finish(job, OUTCOME_FAILED, SourceError(GET, code, message))
        return
    if status != "COMPLETED":
        msg = f"job {job.job_id} answered JobStatus {status!r} while its pages were read"
        _finish(job, OUTCOME_ERROR, SourceError(GET, "UnexpectedJobStatus", msg))
        return
    if answer.get("IsTruncated"):
        if answer.get("Marker"):
            job.phase = "page"
            job.marker = answer["Marker"]
            job.due = ctx.wait_clock()
            return
        msg = "IsTruncated without a Marker: the rest of the report cannot be read"
        _finish(job, OUTCOME_INCOMPLETE, SourceError(GET, "TruncatedWithoutMarker", msg))
        return
    _finish(job, OUTCOME_COMPLETED)


# --------------------------------------------------------------------------------------------
# Records and the pure parser


@dataclass(frozen=True)
class AccessDetail:
    """One service of an organization access report."""

    namespace: str
    """The service prefix, such as ``s3``."""
    name: str
    """The service's name, such as ``Amazon S3``."""
    last_authenticated: dt.datetime | None
    """When an authenticated principal of the entity's accounts last tried the service (UTC), or
    None: none did within the tracking period. Attempts count, denied ones too."""
    region: str | None
    """The Region of that last attempt."""
    entity_path: str | None
    """The entity path of the account that made it."""
    total_authenticated_entities: int | None
    """How many accounts of the entity tried the service in the tracking period."""


@dataclass(frozen=True)
class JobError:
    """Why a report carries no data to judge."""

    operation: str
    """The call that failed, or that answered the failure."""
    code: str
    """AWS's code (``ErrorDetails.Code`` of a FAILED job, ``AccessDenied``, ...) or ours:
    ``JobTimeout``, ``TruncatedWithoutMarker``, ``Cancelled``."""
    message: str
    """One line."""


@dataclass(frozen=True)
class OrgAccessReport:
    """The organization access report of one entity path."""

    entity_path: str
    policy_id: str | None
    """The SCP the report is about, or None (every SCP that applies)."""
    outcome: str
    """``completed``, ``failed``, ``timeout``, ``error``, ``incomplete`` or ``cancelled``."""
    job_id: str | None
    job_status: str | None
    """The last JobStatus read."""
    job_creation_date: dt.datetime | None
    job_completion_date: dt.datetime | None
    """When AWS finished the report: the evidence is as of then (less AWS's usual lag of about
    four hours)."""
    number_of_services_accessible: int | None
    """How many services the applicable SCPs allow, as AWS counts them."""
    number_of_services_not_accessed: int | None
    """How many of them no principal tried, as AWS counts them."""
    details: tuple[AccessDetail, ...]
    """Every service on every page read, in AWS's order."""
    pages: int
    """Pages of the completed report read."""
    polls: int
    """Get calls made while the job was in progress (the first page included)."""
    error: JobError | None
    """Why the report cannot be judged (any outcome but ``completed``)."""

    @property
    def complete(self) -> bool:
        """The job completed and every page was read."""
        return self.outcome == OUTCOME_COMPLETED and self.job_status == "COMPLETED"


def parse(raw: Mapping[str, Any]) -> dict[str, OrgAccessReport]:
    """Reports by entity path from :func:`collect`'s raw answers (or saved evidence)."""
    policy_id = raw.get("policy_id")
    return {
        path: parse_job(path, entry, policy_id) for path, entry in (raw.get("jobs") or {}).items()
    }


def parse_job(path: str, entry: Mapping[str, Any], policy_id: str | None = None) -> OrgAccessReport:
    pages = [p for p in entry.get(GET) or [] if isinstance(p, Mapping)]
    first = pages[0] if pages else {}
    last = pages[-1] if pages else {}
    status = last.get("JobStatus")
    outcome = str(entry.get("outcome") or _outcome_from_status(status))
    error = None
    err = entry.get("error")
    if err:
        error = JobError(str(err.get("operation") or GET), str(err["code"]), str(err["message"]))
    elif outcome != OUTCOME_COMPLETED:
        error = JobError(GET, "NoReport", f"the report was not read ({outcome})")
    details = tuple(
        _detail(d) for p in pages for d in (p.get("AccessDetails") or []) if isinstance(d, Mapping)
    )
    return OrgAccessReport(
        entity_path=path,
        policy_id=policy_id,
        outcome=outcome,
        job_id=(entry.get(GENERATE) or {}).get("JobId"),
        job_status=status,
        job_creation_date=_time(first.get("JobCreationDate")),
        job_completion_date=_time(last.get("JobCompletionDate")),
        number_of_services_accessible=_int(first.get("NumberOfServicesAccessible")),
        number_of_services_not_accessed=_int(first.get("NumberOfServicesNotAccessed")),
        details=details,
        pages=len(pages) if status == "COMPLETED" else 0,
        polls=int(entry.get("polls") or 0),
        error=error,
    )


def _outcome_from_status(status: str | None) -> str:
    return {
        "COMPLETED": OUTCOME_COMPLETED,
        "FAILED": OUTCOME_FAILED,
        "IN_PROGRESS": OUTCOME_TIMEOUT,
    }.get(status or "", OUTCOME_ERROR)


def _detail(data: Mapping[str, Any]) -> AccessDetail:
    namespace = str(data.get("ServiceNamespace") or "")
    return AccessDetail(
        namespace=namespace,
        name=str(data.get("ServiceName") or namespace),
        last_authenticated=_time(data.get("LastAuthenticatedTime")),
        region=data.get("Region"),
        entity_path=data.get("EntityPath"),
        total_authenticated_entities=_int(data.get("TotalAuthenticatedEntities")),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _time(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    from ..timeutil import parse_time

    return parse_time(value)


__all__ = [
    "NAME",
    "AccessDetail",
    "Entity",
    "JobError",
    "OrgAccessError",
    "OrgAccessReport",
    "OrgResolver",
    "Organization",
    "PolicyInfo",
    "collect",
    "entity_from_path",
    "parse",
    "parse_job",
]
