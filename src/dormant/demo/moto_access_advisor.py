"""Access Advisor for moto: the three job APIs moto lacks, answered from seeded data.

moto 5.2 does not implement ``GenerateServiceLastAccessedDetails``,
``GetServiceLastAccessedDetails`` or ``GetServiceLastAccessedDetailsWithEntities`` (its server
answers HTTP 500). :func:`install` adds them as methods of ``moto.iam.responses.IamResponse``,
in this process: decorator mode (``mock_aws``) and ``ThreadedMotoServer`` both see them; a
separate ``moto_server`` process does not.

The answers go through moto's own model-driven serializer, so the XML has exactly the shape of
IAM's service model and botocore parses it as it parses AWS's.

What is emulated, and how:

- A job answers ``IN_PROGRESS`` to its first ``in_progress_polls`` Get calls (per job), then
  ``COMPLETED`` with the seeded services, or ``FAILED`` with an ``Error`` for an ARN marked by
  :func:`fail_job`.
- A JobId can be read only with the access key that generated it (AWS ties a report to the
  principal, and for a role to the session, that generated it); any other key gets
  ``NoSuchEntity``.
- ``MaxItems``/``Marker`` paginate the services (``page_size`` sets a default page).
- ``SERVICE_LEVEL`` jobs drop ``TrackedActionsLastAccessed``; ``ACTION_LEVEL`` ones keep it.
- A share of calls (``throttle_share``) answers ``Throttling: Rate exceeded`` (HTTP 400), and
  every call can be slowed by ``latency`` seconds, for benchmarks.
- An ARN with no seeded report is answered from *usage* (:func:`record_use`), as AWS builds its
  reports: the services its identity policies grant now (inline and managed policies of the
  role, the user with its groups, the group, or the managed policy itself, read from moto's IAM
  backend and expanded with dormant's action catalog), each with the latest recorded use. A
  role's or user's report speaks of its own use; a group's of its members' and a policy's of
  every role, user and group member it is attached to, restricted to what the group or policy
  grants. With no recorded use the services are listed with no ``LastAuthenticated``.
- Action-level data (``TrackedActionsLastAccessed``) is given for every service but those in
  ``Settings.service_level_only``, and only when one of the service's tracked actions was used
  (AWS: the field "is null if ... the principal did not use the tracked actions"): then it lists
  every granted tracked action, with ``LastAccessedTime`` where used. ``iam:PassRole`` and S3
  object-level actions are never listed (AWS does not track them). AWS tracks about 200 service
  prefixes at action level; which ones is AWS's list, not the emulation's: the services left at
  service level by default (:data:`SERVICE_LEVEL_ONLY`) are chosen to exercise a used service
  without action-level data, not because AWS lacks it for them.
- :func:`slow_job` keeps one ARN's jobs ``IN_PROGRESS`` for a number of polls (a job that times
  out); :func:`fail_job` makes them end ``FAILED``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from . import moto_iam_shared

_LOCK = threading.RLock()
_INSTALLED = False

TRACKING_DAYS = 400
"""Access Advisor reports use within the trailing 400 days only."""

SERVICE_LEVEL_ONLY = frozenset({"athena", "dynamodb"})
"""The services the emulation reports at service level only (see the module docstring)."""


@dataclasses.dataclass
class Settings:
    """How the emulation behaves; change with :func:`configure`."""

    in_progress_polls: int = 1
    """Get calls per job that answer IN_PROGRESS before the job completes."""
    throttle_share: float = 0.0
    """Share (0..1) of calls that answer Throttling."""
    throttle_seed: int = 0
    """Seed of the throttling draw, so a run is repeatable."""
    latency: float = 0.0
    """Seconds every call sleeps before answering (an injected network latency)."""
    page_size: int | None = None
    """Default MaxItems of GetServiceLastAccessedDetails(WithEntities); None: one page."""
    check_caller: bool = True
    """Answer NoSuchEntity when a JobId is read with another access key than its creator's."""
    service_level_only: frozenset[str] = dataclasses.field(
        default_factory=lambda: SERVICE_LEVEL_ONLY
    )
    """Services whose reports built from use carry no action-level data."""


@dataclasses.dataclass
class _Job:
    job_id: str
    account_id: str
    arn: str
    granularity: str
    creator: str
    created: dt.datetime
    polls: int = 0
    completed: dt.datetime | None = None


@dataclasses.dataclass
class _State:
    settings: Settings = dataclasses.field(default_factory=Settings)
    seeded: dict[tuple[str, str], list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    entities: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = dataclasses.field(
        default_factory=dict
    )
    failing: dict[tuple[str, str], tuple[str, str]] = dataclasses.field(default_factory=dict)
    usage: dict[tuple[str, str], dict[str, dict[str, dt.datetime]]] = dataclasses.field(
        default_factory=dict
    )
    """Per (account, role or user ARN): ``{"services": {ns: when}, "actions": {action: when}}``."""
    slow: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    jobs: dict[str, _Job] = dataclasses.field(default_factory=dict)
    calls: Counter = dataclasses.field(default_factory=Counter)
    generate_per_arn: Counter = dataclasses.field(default_factory=Counter)
    rng: random.Random = dataclasses.field(default_factory=lambda: random.Random(0))


_STATE = _State()


# ------------------------------------------------------------------------------------------
# The public API


def install() -> None:
    """Add the three operations to moto's IAM responses. Safe to call more than once."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        from moto.iam.responses import IamResponse

        IamResponse.generate_service_last_accessed_details = _generate  # type: ignore[attr-defined]
        IamResponse.get_service_last_accessed_details = _get  # type: ignore[attr-defined]
        IamResponse.get_service_last_accessed_details_with_entities = _get_entities  # type: ignore[attr-defined]
        _INSTALLED = True


def configure(**changes: Any) -> Settings:
    """Change :class:`Settings` fields by name; returns the settings now in force."""
    with _LOCK:
        for key, value in changes.items():
            if not hasattr(_STATE.settings, key):
                raise TypeError(f"no setting {key!r}")
            setattr(_STATE.settings, key, value)
        if "throttle_seed" in changes:
            _STATE.rng = random.Random(_STATE.settings.throttle_seed)
        return dataclasses.replace(_STATE.settings)


def reset() -> None:
    """Forget seeded data, jobs, counters and settings (``install`` stays in force)."""
    global _STATE
    with _LOCK:
        _STATE = _State()


def seed(
    account_id: str,
    arn: str,
    services: Iterable[Mapping[str, Any]] = (),
    *,
    entities: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
) -> None:
    """Set the report of ``arn`` in ``account_id``.

    ``services`` are ``ServiceLastAccessed`` entries in AWS's own shape: ``ServiceNamespace``,
    ``ServiceName``, optional ``LastAuthenticated`` (datetime or ISO string),
    ``LastAuthenticatedEntity``, ``LastAuthenticatedRegion``, ``TotalAuthenticatedEntities`` and
    ``TrackedActionsLastAccessed`` (``ActionName``, ``LastAccessedTime``, ...). ``entities``
    maps a service namespace to ``EntityDetails`` entries (``EntityInfo``, ``LastAuthenticated``)
    for GetServiceLastAccessedDetailsWithEntities.
    """
    with _LOCK:
        _STATE.seeded[(account_id, arn)] = [_normalise(dict(s)) for s in services]
        if entities is not None:
            _STATE.entities[(account_id, arn)] = {
                ns: [_normalise(dict(e)) for e in items] for ns, items in entities.items()
            }


def fail_job(
    account_id: str,
    arn: str,
    code: str = "InternalFailure",
    message: str = "The report could not be generated.",
) -> None:
    """Make every job for ``arn`` end FAILED with this ``Error``."""
    with _LOCK:
        _STATE.failing[(account_id, arn)] = (code, message)


def record_use(
    account_id: str,
    arn: str,
    *,
    services: Mapping[str, Any] | None = None,
    actions: Mapping[str, Any] | None = None,
) -> None:
    """Record that role or user ``arn`` last used these services and actions (datetimes or ISO
    strings; ``s3:CreateBucket`` style action names). A used action also counts as a use of its
    service. Reports of ARNs without a :func:`seed`-ed report are built from this."""

    def when(value: Any) -> dt.datetime:
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

    with _LOCK:
        record = _STATE.usage.setdefault((account_id, arn), {"services": {}, "actions": {}})
        for ns, value in (services or {}).items():
            record["services"][ns.lower()] = when(value)
        for action, value in (actions or {}).items():
            record["actions"][action.lower()] = when(value)


def slow_job(account_id: str, arn: str, polls: int) -> None:
    """Make jobs for ``arn`` answer IN_PROGRESS to their first ``polls`` Get calls."""
    with _LOCK:
        _STATE.slow[(account_id, arn)] = polls


def stats() -> dict[str, Any]:
    """Calls answered per operation (throttled ones included), Generate calls per ARN, and
    throttled answers."""
    with _LOCK:
        return {
            "calls": dict(_STATE.calls),
            "generate_per_arn": dict(_STATE.generate_per_arn),
            "jobs": len(_STATE.jobs),
        }


# ------------------------------------------------------------------------------------------
# The handlers (bound as IamResponse methods)


def _generate(self: Any) -> Any:
    from moto.core.responses import ActionResult

    if (throttled := _enter(self, "GenerateServiceLastAccessedDetails")) is not None:
        return throttled
    arn = self._get_param("Arn")
    granularity = self._get_param("Granularity") or "SERVICE_LEVEL"
    if granularity not in ("SERVICE_LEVEL", "ACTION_LEVEL"):
        _raise("InvalidInput", f"Invalid Granularity: {granularity}")
    account = self.current_account
    _check_target(self, arn)
    job = _Job(
        job_id=str(uuid.uuid4()),
        account_id=account,
        arn=arn,
        granularity=granularity,
        creator=self.get_access_key(),
        created=_now(),
    )
    with _LOCK:
        _STATE.jobs[job.job_id] = job
        _STATE.generate_per_arn[(account, arn)] += 1
    return ActionResult({"JobId": job.job_id})


def _get(self: Any) -> Any:
    from moto.core.responses import ActionResult

    if (throttled := _enter(self, "GetServiceLastAccessedDetails")) is not None:
        return throttled
    job = _job_for(self)
    result = _status(job)
    if result["JobStatus"] != "COMPLETED":
        return ActionResult(result)
    services = _services_for(self, job)
    page, marker = _page(services, self._get_param("Marker"), self._get_param("MaxItems"))
    result["JobType"] = job.granularity
    result["ServicesLastAccessed"] = page
    result["IsTruncated"] = marker is not None
    if marker is not None:
        result["Marker"] = marker
    return ActionResult(result)


def _get_entities(self: Any) -> Any:
    from moto.core.responses import ActionResult

    if (throttled := _enter(self, "GetServiceLastAccessedDetailsWithEntities")) is not None:
        return throttled
    job = _job_for(self)
    namespace = self._get_param("ServiceNamespace")
    result = _status(job)
    if result["JobStatus"] != "COMPLETED":
        return ActionResult(result)
    with _LOCK:
        listed = list(_STATE.entities.get((job.account_id, job.arn), {}).get(namespace, []))
    page, marker = _page(listed, self._get_param("Marker"), self._get_param("MaxItems"))
    result["EntityDetailsList"] = page
    result["IsTruncated"] = marker is not None
    if marker is not None:
        result["Marker"] = marker
    return ActionResult(result)


# ------------------------------------------------------------------------------------------
# Helpers


def _enter(self: Any, operation: str) -> tuple[str, dict[str, Any]] | None:
    """Count the call, sleep the injected latency; for a throttled call, the answer to send."""
    with _LOCK:
        settings = _STATE.settings
        _STATE.calls[operation] += 1
        throttled = settings.throttle_share > 0 and _STATE.rng.random() < settings.throttle_share
        if throttled:
            _STATE.calls["Throttled"] += 1
    if settings.latency > 0:
        time.sleep(settings.latency)
    if not throttled:
        return None
    return moto_iam_shared.throttled()


_raise = moto_iam_shared.raise_error


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _check_target(self: Any, arn: str) -> None:
    """NoSuchEntity for a malformed ARN or a role, user, group or local policy moto lacks."""
    parts = (arn or "").split(":", 5)
    if len(parts) < 6 or parts[2] != "iam":
        _raise("InvalidInput", f"ARN {arn} is not valid.")
    kind, _, rest = parts[5].partition("/")
    name = rest.rsplit("/", 1)[-1]
    backend = self.backend
    try:
        if kind == "role":
            backend.get_role(name)
        elif kind == "user":
            backend.get_user(name)
        elif kind == "group":
            backend.get_group(name)
        elif kind == "policy" and parts[4] != "aws":
            backend.get_policy(arn)
    except Exception:  # noqa: BLE001 - moto's own NotFound exceptions vary by entity
        _raise("NoSuchEntity", f"The entity {arn} does not exist.")


def _job_for(self: Any) -> _Job:
    job_id = self._get_param("JobId")
    with _LOCK:
        job = _STATE.jobs.get(job_id)
        settings = _STATE.settings
    if job is None or job.account_id != self.current_account:
        _raise("NoSuchEntity", f"The job with id {job_id} cannot be found.")
    if settings.check_caller and job.creator != self.get_access_key():
        _raise("NoSuchEntity", f"The job with id {job_id} cannot be found.")
    return job  # type: ignore[return-value]


def _status(job: _Job) -> dict[str, Any]:
    """Advance the job by one poll and answer its status part."""
    with _LOCK:
        failing = _STATE.failing.get((job.account_id, job.arn))
        if job.completed is None:
            job.polls += 1
            polls = _STATE.slow.get((job.account_id, job.arn), _STATE.settings.in_progress_polls)
            if job.polls > polls:
                job.completed = _now()
        completed = job.completed
    result: dict[str, Any] = {"JobCreationDate": job.created}
    if completed is None:
        result["JobStatus"] = "IN_PROGRESS"
        result["IsTruncated"] = False
        return result
    result["JobCompletionDate"] = completed
    if failing:
        result["JobStatus"] = "FAILED"
        result["ServicesLastAccessed"] = []
        result["EntityDetailsList"] = []
        result["Error"] = {"Code": failing[0], "Message": failing[1]}
        return result
    result["JobStatus"] = "COMPLETED"
    return result


def _services_for(self: Any, job: _Job) -> list[dict[str, Any]]:
    with _LOCK:
        seeded = _STATE.seeded.get((job.account_id, job.arn))
    if seeded is None:
        services = _derived_services(self.backend, job.account_id, job.arn)
    else:
        services = [dict(s) for s in seeded]
    if job.granularity != "ACTION_LEVEL":
        for s in services:
            s.pop("TrackedActionsLastAccessed", None)
    return services


def _page(
    items: list[dict[str, Any]], marker: str | None, max_items: Any
) -> tuple[list[dict[str, Any]], str | None]:
    return moto_iam_shared.page(items, marker, max_items, _STATE.settings.page_size or len(items))


def _normalise(entry: dict[str, Any]) -> dict[str, Any]:
    """ISO strings to datetimes, so moto's serializer writes them as AWS does."""
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if isinstance(value, str) and key in {"LastAuthenticated", "LastAccessedTime"}:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif isinstance(value, list):
            value = [_normalise(dict(v)) if isinstance(v, Mapping) else v for v in value]
        elif isinstance(value, Mapping):
            value = _normalise(dict(value))
        out[key] = value
    return out


def _derived_services(backend: Any, account_id: str, arn: str) -> list[dict[str, Any]]:
    """The report AWS would build for ``arn`` from its grants and the recorded use."""
    from ..iam.catalog import load_catalog, split_action
    from ..iam.evaluate import granted_actions
    from ..iam.policy import PolicyError, parse_policy
    from ..iam.usage import load_tracking

    catalog = load_catalog()
    never = load_tracking().never_tracked
    policies = {}
    for i, doc in enumerate(_documents_for(backend, arn)):
        try:
            policies[str(i)] = parse_policy(doc)
        except PolicyError:
            continue
    granted: dict[str, list[str]] = {}
    for action in granted_actions(policies, catalog):
        granted.setdefault(split_action(action)[0], []).append(action)
    users = _users_behind(backend, arn)
    window = _now() - dt.timedelta(days=TRACKING_DAYS)
    with _LOCK:
        records = {}
        for u in users:
            record = _STATE.usage.get((account_id, u))
            if record:
                # AWS reports only the trailing 400 days.
                records[u] = {
                    part: {k: v for k, v in times.items() if v >= window}
                    for part, times in record.items()
                }
    out = []
    for ns in sorted(granted):
        entry: dict[str, Any] = {
            "ServiceNamespace": ns,
            "ServiceName": catalog.service_name(ns) or ns,
        }
        last: tuple[dt.datetime, str] | None = None
        who: set[str] = set()
        tracked: dict[str, tuple[dt.datetime, str] | None] = {}
        for action in granted[ns]:
            if action.lower() not in never and not catalog.is_s3_object_action(action):
                tracked[action] = None
        for user, record in records.items():
            if not record:
                continue
            times = [record["services"].get(ns)] + [
                t for a, t in record["actions"].items() if split_action(a)[0] == ns
            ]
            times = [t for t in times if t is not None]
            if not times:
                continue
            who.add(user)
            best = max(times)
            if last is None or best > last[0]:
                last = (best, user)
            for action in tracked:
                used = record["actions"].get(action.lower())
                if used is not None and (tracked[action] is None or used > tracked[action][0]):
                    tracked[action] = (used, user)
        entry["TotalAuthenticatedEntities"] = len(who)
        if last is not None:
            entry["LastAuthenticated"] = last[0]
            entry["LastAuthenticatedEntity"] = last[1]
            entry["LastAuthenticatedRegion"] = "us-east-1"
        action_level = ns not in _STATE.settings.service_level_only
        if action_level and any(v is not None for v in tracked.values()):
            entry["TrackedActionsLastAccessed"] = [
                {"ActionName": split_action(a)[1]}
                if v is None
                else {
                    "ActionName": split_action(a)[1],
                    "LastAccessedTime": v[0],
                    "LastAccessedEntity": v[1],
                    "LastAccessedRegion": "us-east-1",
                }
                for a, v in sorted(tracked.items())
            ]
        out.append(entry)
    return out


def _users_behind(backend: Any, arn: str) -> list[str]:
    """The roles and users whose use a report of ``arn`` speaks of: itself for a role or user,
    the members of a group, every role, user and group member a policy is attached to."""
    kind = arn.split(":", 5)[-1].split("/", 1)[0]
    if kind in ("role", "user"):
        return [arn]
    if kind == "group":
        name = arn.rsplit("/", 1)[-1]
        try:
            return [u.arn for u in backend.get_group(name).users]
        except Exception:  # noqa: BLE001 - a vanished group has no members
            return []
    out: list[str] = []
    for role in backend.roles.values():
        if arn in role.managed_policies:
            out.append(role.arn)
    for user in backend.users.values():
        if arn in user.managed_policies:
            out.append(user.arn)
    for group in backend.groups.values():
        if arn in group.managed_policies:
            out.extend(u.arn for u in group.users)
    return sorted(set(out))


def _documents_for(backend: Any, arn: str) -> list[Any]:
    parts = arn.split(":", 5)
    kind, _, rest = parts[5].partition("/")
    name = rest.rsplit("/", 1)[-1]
    docs: list[Any] = []

    def default_document(pol: Any) -> Any:
        for version in getattr(pol, "versions", []):
            if version.is_default_version:
                return version.document
        return None

    def managed(policies: Any) -> None:
        for pol in (policies or {}).values():
            docs.append(default_document(pol))

    try:
        if kind == "role":
            role = backend.get_role(name)
            docs.extend(role.policies.values())
            managed(role.managed_policies)
        elif kind == "user":
            user = backend.get_user(name)
            docs.extend(user.policies.values())
            managed(user.managed_policies)
            for group in backend.get_groups_for_user(name):
                docs.extend(group.policies.values())
                managed(group.managed_policies)
        elif kind == "group":
            group = backend.get_group(name)
            docs.extend(group.policies.values())
            managed(group.managed_policies)
        elif kind == "policy":
            docs.append(default_document(backend.get_policy(arn)))
    except Exception:  # noqa: BLE001 - a vanished entity grants nothing
        return []
    return [d for d in docs if d]


__all__ = [
    "SERVICE_LEVEL_ONLY",
    "Settings",
    "configure",
    "fail_job",
    "install",
    "record_use",
    "reset",
    "seed",
    "slow_job",
    "stats",
]
