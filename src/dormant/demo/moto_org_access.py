"""Organizations Access Advisor for moto: the two job APIs moto lacks, answered from its own
Organizations model and seeded use.

moto 5.2 implements AWS Organizations (roots, OUs, accounts, SCPs and their attachments) but not
IAM's ``GenerateOrganizationsAccessReport`` / ``GetOrganizationsAccessReport`` (its server answers
HTTP 500). :func:`install` adds both as methods of ``moto.iam.responses.IamResponse``, in this
process (decorator mode and ``ThreadedMotoServer``; not a separate ``moto_server`` process). The
answers go through moto's model-driven serializer, so their XML has exactly the shape of IAM's
service model and botocore parses them as it parses AWS's.

What AWS documents, and the emulation does:

- Only the organization's management account may generate and read these reports. AWS documents
  the requirement but not the error a member account gets: the emulation answers
  ``AccessDenied``.
- ``EntityPath`` is ``o-.../r-...[/ou-...]*[/<account id>]``. A path that does not name an
  entity of the caller's organization, through its real parents, is answered ``InvalidInput``
  (the emulation's choice; AWS does not document it).
- A report lists the services that the SCPs applying to the entity allow (the SCPs attached to
  the entity and to each of its parents: a service must be allowed at every level, and an
  unconditional ``Deny`` of ``service:*`` removes it). For each service: the most recent
  authenticated access in the tracking period (400 days) by any account in the entity's subtree,
  the Region and the account's entity path of that access, and how many accounts accessed it.
  The management account is excluded from root and OU reports (SCPs do not restrict it); a report
  on the management account itself lists every service, with its own data only, and ignores a
  policy id.
- With ``OrganizationsPolicyId``: the services that SCP allows; an account counts only when the
  SCP is attached to the entity, to the account, or to an OU between them (AWS: "If the SCP is not
  attached to the OU or one of its children, the report will return a list of services with no
  data").
- A job answers ``IN_PROGRESS`` to its first ``in_progress_polls`` Get calls, then ``COMPLETED``
  (its data frozen at that moment, so pages agree) or ``FAILED`` with ``ErrorDetails`` for a path
  marked by :func:`fail_report` (:func:`fail_pages` breaks the later pages instead).
  ``MaxItems`` defaults to 100, as AWS documents; ``Marker`` continues. A JobId is readable
  from the account that generated it only (``NoSuchEntity``).
- ``max_concurrent_jobs`` (off by default) answers ``ReportGenerationLimitExceeded`` (HTTP 409)
  to a Generate while that many jobs of the account are in progress; :func:`throttle` makes the
  next calls answer ``Throttling``.

Seeding: :func:`record_use` per account and service; the universe of services an ``*`` allows is
:func:`configure` ``services`` (default: every service used, plus :data:`DEFAULT_SERVICES`).
:func:`seed_report` sets an entity's report verbatim (``AccessDetails`` in AWS's own shape),
bypassing the derivation. Service names come from dormant's action catalog.

Also, for faithful errors under moto's IAM enforcement: moto answers a denied Organizations call
with an XML ``AccessDenied`` body, which botocore cannot read for a JSON service (the error code
becomes "403"). :func:`install` makes it answer as AWS does: JSON ``AccessDeniedException``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from . import moto_iam_shared

_LOCK = threading.RLock()
_INSTALLED = False

TRACKING_DAYS = 400
"""AWS reports access in the trailing 400 days."""

DEFAULT_PAGE = 100
"""GetOrganizationsAccessReport's documented default MaxItems."""

DEFAULT_SERVICES = (
    "cloudtrail",
    "dynamodb",
    "ec2",
    "iam",
    "kms",
    "lambda",
    "s3",
    "sns",
    "sqs",
    "sts",
)
"""Services an ``Action: "*"`` SCP allows when :func:`configure` names none."""


@dataclasses.dataclass
class Settings:
    """How the emulation behaves; change with :func:`configure`."""

    in_progress_polls: int = 1
    """Get calls per job that answer IN_PROGRESS before the job completes."""
    services: tuple[str, ...] | None = None
    """Every service namespace an ``*`` SCP allows; None: the services used, plus
    :data:`DEFAULT_SERVICES`."""
    max_concurrent_jobs: int | None = None
    """Jobs in progress per account beyond which Generate answers ReportGenerationLimitExceeded."""


@dataclasses.dataclass
class _Job:
    job_id: str
    account_id: str
    path: str
    policy_id: str | None
    created: dt.datetime
    polls: int = 0
    completed: dt.datetime | None = None
    details: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    error: tuple[str, str] | None = None


@dataclasses.dataclass
class _State:
    settings: Settings = dataclasses.field(default_factory=Settings)
    usage: dict[str, dict[str, tuple[dt.datetime, str]]] = dataclasses.field(default_factory=dict)
    """Per account id: ``{namespace: (last access, region)}``."""
    seeded: dict[tuple[str, str | None], list[dict[str, Any]]] = dataclasses.field(
        default_factory=dict
    )
    failing: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    broken_pages: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    slow: dict[str, int] = dataclasses.field(default_factory=dict)
    throttle_next: int = 0
    jobs: dict[str, _Job] = dataclasses.field(default_factory=dict)
    calls: Counter = dataclasses.field(default_factory=Counter)


_STATE = _State()


# ------------------------------------------------------------------------------------------
# The public API


def install() -> None:
    """Add the two operations to moto's IAM responses, and AWS's JSON error to a denied
    Organizations call. Safe to call more than once."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        from moto.iam.responses import IamResponse
        from moto.organizations.responses import OrganizationsResponse

        IamResponse.generate_organizations_access_report = _generate  # type: ignore[attr-defined]
        IamResponse.get_organizations_access_report = _get  # type: ignore[attr-defined]
        original = OrganizationsResponse._authenticate_and_authorize_normal_action

        def authorize(self: Any, resource: str = "*") -> None:
            from moto.core.exceptions import JsonRESTError, _RESTError

            try:
                original(self, resource)
            except _RESTError as exc:
                if isinstance(exc, JsonRESTError) or exc.error_type != "AccessDenied":
                    raise
                raise JsonRESTError("AccessDeniedException", exc.message) from None

        OrganizationsResponse._authenticate_and_authorize_normal_action = authorize  # type: ignore[method-assign]
        _INSTALLED = True


def configure(**changes: Any) -> Settings:
    """Change :class:`Settings` fields by name; returns the settings now in force."""
    with _LOCK:
        for key, value in changes.items():
            if not hasattr(_STATE.settings, key):
                raise TypeError(f"no setting {key!r}")
            if key == "services" and value is not None:
                value = tuple(sorted({v.lower() for v in value}))
            setattr(_STATE.settings, key, value)
        return dataclasses.replace(_STATE.settings)


def reset() -> None:
    """Forget seeded use, reports, jobs and settings (``install`` stays in force); also moto's
    record of which accounts belong to which organization, which its own reset keeps."""
    global _STATE
    with _LOCK:
        _STATE = _State()
    try:
        from moto.organizations.models import organizations_backends

        organizations_backends.master_accounts.clear()
    except (ImportError, AttributeError):  # pragma: no cover - another moto layout
        pass


def record_use(account_id: str, services: Mapping[str, Any], *, region: str = "us-east-1") -> None:
    """Record that principals of ``account_id`` last accessed these services (namespace to a
    datetime or ISO string) from ``region``."""
    with _LOCK:
        record = _STATE.usage.setdefault(account_id, {})
        for ns, when in services.items():
            record[ns.lower()] = (_when(when), region)


def seed_report(
    entity_path: str,
    access_details: Iterable[Mapping[str, Any]],
    *,
    policy_id: str | None = None,
) -> None:
    """Set the report of ``entity_path`` (for ``policy_id``, or without one) verbatim:
    ``AccessDetail`` entries in AWS's shape (``ServiceName``, ``ServiceNamespace``, optional
    ``Region``, ``EntityPath``, ``LastAuthenticatedTime`` as datetime or ISO string,
    ``TotalAuthenticatedEntities``)."""
    with _LOCK:
        _STATE.seeded[(entity_path, policy_id)] = [_normalise(dict(d)) for d in access_details]


def fail_report(
    entity_path: str,
    code: str = "InternalFailure",
    message: str = "The report could not be generated.",
) -> None:
    """Make every job for ``entity_path`` end FAILED with these ``ErrorDetails``."""
    with _LOCK:
        _STATE.failing[entity_path] = (code, message)


def fail_pages(
    entity_path: str,
    code: str = "ServiceFailure",
    message: str = "The request processing has failed because of an unknown error.",
) -> None:
    """Make every Get of a later page (a call with a ``Marker``) of ``entity_path``'s reports
    answer this error: IAM's ``ServiceFailure`` (HTTP 500) by default."""
    with _LOCK:
        _STATE.broken_pages[entity_path] = (code, message)


def slow_report(entity_path: str, polls: int) -> None:
    """Make jobs for ``entity_path`` answer IN_PROGRESS to their first ``polls`` Get calls."""
    with _LOCK:
        _STATE.slow[entity_path] = polls


def throttle(calls: int) -> None:
    """Make the next ``calls`` Generate or Get calls answer ``Throttling: Rate exceeded``."""
    with _LOCK:
        _STATE.throttle_next = calls


def stats() -> dict[str, Any]:
    """Calls answered per operation (throttled and limited ones counted too) and jobs made."""
    with _LOCK:
        return {"calls": dict(_STATE.calls), "jobs": len(_STATE.jobs)}


# ------------------------------------------------------------------------------------------
# The handlers (bound as IamResponse methods)


def _generate(self: Any) -> Any:
    from moto.core.responses import ActionResult

    if (throttled := _enter("GenerateOrganizationsAccessReport")) is not None:
        return throttled
    account = self.current_account
    org = _org_of(account)
    path = self._get_param("EntityPath") or ""
    policy_id = self._get_param("OrganizationsPolicyId")
    _resolve(org, path)
    if policy_id:
        try:
            org.get_policy_by_id(policy_id)
        except Exception:  # noqa: BLE001 - moto's PolicyNotFoundException
            _raise("InvalidInput", f"The policy {policy_id} does not exist.")
    with _LOCK:
        limit = _STATE.settings.max_concurrent_jobs
        running = sum(
            1 for j in _STATE.jobs.values() if j.account_id == account and j.completed is None
        )
        if limit is not None and running >= limit:
            _STATE.calls["ReportGenerationLimitExceeded"] += 1
            _raise(
                "ReportGenerationLimitExceeded",
                "The request failed because the maximum number of concurrent requests for this "
                "account are already running.",
            )
        job = _Job(str(uuid.uuid4()), account, path, policy_id or None, _now())
        _STATE.jobs[job.job_id] = job
    return ActionResult({"JobId": job.job_id})


def _get(self: Any) -> Any:
    from moto.core.responses import ActionResult

    if (throttled := _enter("GetOrganizationsAccessReport")) is not None:
        return throttled
    job_id = self._get_param("JobId")
    with _LOCK:
        job = _STATE.jobs.get(job_id)
    if job is None or job.account_id != self.current_account:
        _raise("NoSuchEntity", f"The job with id {job_id} cannot be found.")
    with _LOCK:
        if job.completed is None:
            job.polls += 1
            polls = _STATE.slow.get(job.path, _STATE.settings.in_progress_polls)
            if job.polls > polls:
                job.completed = _now()
                failing = _STATE.failing.get(job.path)
                if failing:
                    job.error = failing
                else:
                    job.details = _report(_org_of(job.account_id), job.path, job.policy_id)
    result: dict[str, Any] = {"JobCreationDate": job.created}
    if job.completed is None:
        result["JobStatus"] = "IN_PROGRESS"
        return ActionResult(result)
    result["JobCompletionDate"] = job.completed
    if job.error is not None:
        result["JobStatus"] = "FAILED"
        result["ErrorDetails"] = {"Code": job.error[0], "Message": job.error[1]}
        return ActionResult(result)
    marker = self._get_param("Marker")
    with _LOCK:
        broken = _STATE.broken_pages.get(job.path)
    if marker and broken:
        _raise(*broken)
    result["JobStatus"] = "COMPLETED"
    result["NumberOfServicesAccessible"] = len(job.details)
    result["NumberOfServicesNotAccessed"] = sum(
        1 for d in job.details if d.get("LastAuthenticatedTime") is None
    )
    page, marker = _page(job.details, marker, self._get_param("MaxItems"))
    result["AccessDetails"] = page
    result["IsTruncated"] = marker is not None
    if marker is not None:
        result["Marker"] = marker
    return ActionResult(result)


# ------------------------------------------------------------------------------------------
# The model: entity paths, SCPs, and the report


def _org_of(account_id: str) -> Any:
    """The organizations backend of the organization ``account_id`` manages."""
    from moto.organizations.models import organizations_backends

    backend = organizations_backends[account_id]["aws"]
    if backend.org is None:
        _raise(
            "AccessDenied",
            "Only the management account of an organization can generate and read "
            "organizations access reports.",
        )
    return backend


def _resolve(org: Any, path: str) -> list[Any]:
    """The root, OUs and account that ``path`` names, root first; InvalidInput otherwise."""
    parts = path.split("/")
    if len(parts) < 2 or parts[0] != org.org.id:
        _raise("InvalidInput", f"The entity path {path} is not in organization {org.org.id}.")
    nodes: list[Any] = []
    for i, part in enumerate(parts[1:]):
        node = None
        if i == 0:
            node = next((ou for ou in org.ou if ou.id == part and ou.type == "ROOT"), None)
        elif part.startswith("ou-"):
            node = next((ou for ou in org.ou if ou.id == part), None)
        elif i == len(parts) - 2:
            node = next((a for a in org.accounts if a.id == part), None)
        if node is None or (nodes and node.parent_id != nodes[-1].id):
            _raise("InvalidInput", f"The entity path {path} does not name an entity.")
        nodes.append(node)
    return nodes


def _subtree_accounts(org: Any, nodes: list[Any]) -> list[tuple[Any, list[Any]]]:
    """Each account under the last node, with its chain of nodes from that node down."""
    last = nodes[-1]
    if getattr(last, "type", "") == "ACCOUNT":
        return [(last, [last])]
    out: list[tuple[Any, list[Any]]] = []

    def walk(node: Any, chain: list[Any]) -> None:
        for account in org.accounts:
            if account.parent_id == node.id:
                out.append((account, [*chain, account]))
        for ou in org.ou:
            if getattr(ou, "parent_id", None) == node.id and ou.type != "ROOT":
                walk(ou, [*chain, ou])

    walk(last, [last])
    return out


def _attached(org: Any, node_id: str) -> list[Any]:
    return [
        p for p in org.policies if p.type == "SERVICE_CONTROL_POLICY" and node_id in _targets(p)
    ]


def _targets(policy: Any) -> set[str]:
    return {getattr(t, "id", t) for t in getattr(policy, "attachments", [])}


def _effects(policy: Any, universe: list[str]) -> tuple[set[str], set[str]]:
    """The services of ``universe`` that ``policy`` allows, and those it denies wholly (an
    unconditional ``Deny`` of ``service:*``)."""
    try:
        doc = json.loads(policy.content)
    except (TypeError, ValueError):
        return set(), set()
    statements = doc.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    allowed: set[str] = set()
    denied: set[str] = set()
    for st in statements:
        actions = st.get("Action") or []
        if isinstance(actions, str):
            actions = [actions]
        for action in actions:
            prefix, _, name = action.lower().partition(":")
            matched = {ns for ns in universe if fnmatch.fnmatchcase(ns, prefix)}
            if st.get("Effect") == "Allow":
                allowed |= matched
            elif st.get("Effect") == "Deny" and name in ("*", "") and not st.get("Condition"):
                denied |= matched
    return allowed, denied


def _allowed_by(policy: Any, universe: list[str]) -> set[str]:
    allowed, denied = _effects(policy, universe)
    return allowed - denied


def _universe() -> list[str]:
    with _LOCK:
        if _STATE.settings.services is not None:
            return list(_STATE.settings.services)
        used = {ns for record in _STATE.usage.values() for ns in record}
    return sorted(used | set(DEFAULT_SERVICES))


def _report(org: Any, path: str, policy_id: str | None) -> list[dict[str, Any]]:
    with _LOCK:
        seeded = _STATE.seeded.get((path, policy_id))
    if seeded is not None:
        return [dict(d) for d in seeded]
    nodes = _resolve(org, path)
    universe = _universe()
    management = org.org.master_account_id
    last = nodes[-1]
    if getattr(last, "id", None) == management and getattr(last, "type", "") == "ACCOUNT":
        services = set(universe)
        counted = [(last, path)]
    elif policy_id:
        policy = org.get_policy_by_id(policy_id)
        services = _allowed_by(policy, universe)
        counted = [
            (account, _path_of(path, chain))
            for account, chain in _subtree_accounts(org, nodes)
            if account.id != management and any(n.id in _targets(policy) for n in chain)
        ]
    else:
        # A service must be allowed at every level, and denied at none.
        services = set(universe)
        for node in nodes:
            level: set[str] = set()
            for policy in _attached(org, node.id):
                allowed, denied = _effects(policy, universe)
                level |= allowed
                services -= denied
            services &= level
        counted = [
            (account, _path_of(path, chain))
            for account, chain in _subtree_accounts(org, nodes)
            if account.id != management
        ]
    from ..iam.catalog import load_catalog

    catalog = load_catalog()
    window = _now() - dt.timedelta(days=TRACKING_DAYS)
    details = []
    for ns in sorted(services):
        entry: dict[str, Any] = {
            "ServiceName": catalog.service_name(ns) or ns,
            "ServiceNamespace": ns,
        }
        uses = []
        with _LOCK:
            for account, account_path in counted:
                use = _STATE.usage.get(account.id, {}).get(ns)
                if use is not None and use[0] >= window:
                    uses.append((use[0], use[1], account_path))
        if uses:
            when, region, who = max(uses)
            entry.update(LastAuthenticatedTime=when, Region=region, EntityPath=who)
        entry["TotalAuthenticatedEntities"] = len(uses)
        details.append(entry)
    return details


def _path_of(path: str, chain: list[Any]) -> str:
    """The entity path of the last node of ``chain`` (which starts at the entity of ``path``)."""
    return "/".join([path, *(n.id for n in chain[1:])])


# ------------------------------------------------------------------------------------------
# Helpers


def _enter(operation: str) -> tuple[str, dict[str, Any]] | None:
    """Count the call; for a throttled call, the answer to send (IAM's XML, HTTP 400)."""
    with _LOCK:
        _STATE.calls[operation] += 1
        if _STATE.throttle_next <= 0:
            return None
        _STATE.throttle_next -= 1
        _STATE.calls["Throttled"] += 1
    return moto_iam_shared.throttled()


_raise = moto_iam_shared.raise_error


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _when(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _normalise(entry: dict[str, Any]) -> dict[str, Any]:
    if isinstance(entry.get("LastAuthenticatedTime"), str):
        entry["LastAuthenticatedTime"] = _when(entry["LastAuthenticatedTime"])
    return entry


def _page(
    items: list[dict[str, Any]], marker: str | None, max_items: Any
) -> tuple[list[dict[str, Any]], str | None]:
    return moto_iam_shared.page(items, marker, max_items, DEFAULT_PAGE)


__all__ = [
    "DEFAULT_SERVICES",
    "Settings",
    "configure",
    "fail_pages",
    "fail_report",
    "install",
    "record_use",
    "reset",
    "seed_report",
    "slow_report",
    "stats",
    "throttle",
]
