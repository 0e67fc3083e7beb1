"""Access Advisor: when each principal last used each service, and each tracked action.

IAM answers this with a job: ``GenerateServiceLastAccessedDetails`` starts it and returns a
``JobId``; ``GetServiceLastAccessedDetails`` is polled until the job is ``COMPLETED`` (or
``FAILED``) and then read page by page (``Marker``/``IsTruncated``);
``GetServiceLastAccessedDetailsWithEntities`` lists, for a group or a policy, which users and
roles used one service.

:func:`collect` runs those jobs for thousands of principals at once. Jobs are small state
machines (generate, poll, read further pages, read entities) in a window of ``max_in_flight``
started-and-unfinished jobs, stepped by a pool of ``concurrency`` callers; a job waiting for its
next poll, or backing off after Throttling, holds no thread. So the window decides how many
reports AWS builds at once and the pool how many calls are in flight. A job's id is read with
the client that created it: AWS lets only the principal (and, for a role, the session) that
generated a report read it. Polling backs off (0.5 s, x1.6, at most 10 s); Throttling ("Rate
exceeded") that outlasts botocore's own retries is retried later with exponential backoff; a job
that fails, or is still in progress after ``job_timeout`` seconds, is recorded against its ARN
and the scan goes on. Each principal gets exactly one Generate call per scan: a job is never
restarted, because a second Generate costs quota and proves nothing new.

:func:`parse` turns the raw responses into :class:`AccessAdvisorReport` records. It is pure: a
saved snapshot re-parses with the same code.

Raw layout (``SourceResult.raw``)::

    {"granularity": "ACTION_LEVEL",
     "jobs": {"<arn>": {"outcome": "completed" | "failed" | "timeout" | "error" | "cancelled",
                        "requested_at": "<ISO>", "finished_at": "<ISO>",
                        "error": {"code": ..., "message": ...} | None,
                        "GenerateServiceLastAccessedDetails": {"JobId": ...},
                        "GetServiceLastAccessedDetails": [<page>, ...],
                        "GetServiceLastAccessedDetailsWithEntities": {"<namespace>": [<page>]}}}}

Only the pages of the finished job are kept (not every ``IN_PROGRESS`` poll), so a snapshot of
two thousand roles stays readable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from .base import CollectContext, SourceError, SourceResult, is_denied, is_throttled, jsonable

NAME = "access_advisor"

GENERATE = "GenerateServiceLastAccessedDetails"
GET = "GetServiceLastAccessedDetails"
GET_ENTITIES = "GetServiceLastAccessedDetailsWithEntities"

DEFAULT_MAX_IN_FLIGHT = 200
"""Jobs started and not yet read, at most. A job spends most of its life waiting for AWS to
build the report (a second or two), so the window must hold about (calls per second) x (job
life) / (calls per job) jobs to keep the callers busy: 16 callers at 50 ms make 320 calls/s,
about 100 jobs/s, each alive for 1.5 s."""

DEFAULT_CONCURRENCY = 16
"""Calls in flight at once, at least. The calls are small and latency-bound; IAM's rate limit
is the real ceiling, and botocore's adaptive limiter plus our backoff ride it out."""

DEFAULT_JOB_TIMEOUT = 300.0
POLL_FIRST = 0.5
"""Seconds before the first poll of a job; jobs of small principals finish in about a second."""
POLL_FACTOR = 1.6
POLL_MAX = 10.0
THROTTLE_FIRST = 1.0
THROTTLE_MAX = 30.0
THROTTLE_ATTEMPTS = 8
"""Attempts of one call that keeps answering Throttling, on top of botocore's own retries."""

OUTCOME_COMPLETED = "completed"
OUTCOME_FAILED = "failed"
OUTCOME_TIMEOUT = "timeout"
OUTCOME_ERROR = "error"
OUTCOME_CANCELLED = "cancelled"

ENTITY_ARN_KINDS = frozenset({"group", "policy"})
"""ARN resource types for which GetServiceLastAccessedDetailsWithEntities tells something the
main report does not (which members or attached entities used the service)."""


@dataclass(eq=False)
class _Job:
    """One principal's job, stepped one call at a time by the scheduler (hashed by identity)."""

    arn: str
    with_entities: bool
    entry: dict[str, Any] = field(default_factory=dict)
    error: SourceError | None = None
    phase: str = "generate"
    job_id: str | None = None
    started: dt.datetime | None = None
    due: dt.datetime | None = None
    delay: float = POLL_FIRST
    marker: str | None = None
    namespaces: list[str] = field(default_factory=list)
    throttled: int = 0
    throttle_delay: float = THROTTLE_FIRST
    done: bool = False
    ops: set[str] = field(default_factory=set)
    """The API operations tried for this job (for coverage: per operation, how many principals
    it was tried for and failed for)."""


def collect(
    ctx: CollectContext,
    arns: list[str],
    *,
    with_entities_for: Iterable[str] = (),
    job_timeout: float = DEFAULT_JOB_TIMEOUT,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    concurrency: int | None = None,
    granularity: str = "ACTION_LEVEL",
) -> SourceResult:
    """Run one Access Advisor job per ARN and read its report.

    ``arns``: roles, users, groups and managed policies, each at most once (duplicates are
    dropped, order kept). ``with_entities_for``: group and policy ARNs among ``arns`` for which
    to also read, per service that was used, the entities that used it. ``job_timeout``: seconds
    (by ``ctx.clock``) after which a job still in progress is given up. ``max_in_flight``: jobs
    started and not yet finished, at most. ``concurrency``: calls in flight at once (default:
    ``ctx.concurrency``, at least :data:`DEFAULT_CONCURRENCY`). Sleeps go through ``ctx.sleep``;
    ``ctx.cancel`` stops the scan early, keeping what was read.
    """
    result = SourceResult(name=NAME, started_at=ctx.now_iso())
    wanted = list(dict.fromkeys(arns))
    entities_for = {a for a in with_entities_for if _arn_kind(a) in ENTITY_ARN_KINDS}
    result.raw = {"granularity": granularity, "jobs": {}}
    if not wanted:
        result.finished_at = ctx.now_iso()
        result.settle(0)
        return result
    calls = max(1, concurrency or max(ctx.concurrency, DEFAULT_CONCURRENCY))
    window = max(1, max_in_flight)
    client = ctx.client("iam")
    jobs = _schedule(ctx, client, wanted, entities_for, granularity, job_timeout, window, calls)
    attempted: dict[str, int] = {}
    for arn in wanted:
        job = jobs[arn]
        job.entry.setdefault("finished_at", ctx.now_iso())
        if job.error is not None:
            job.entry["error"] = {"code": job.error.code, "message": job.error.message}
            result.errors.append(job.error)
        for op in job.ops | ({job.error.operation} if job.error else set()):
            attempted[op] = attempted.get(op, 0) + 1
        result.raw["jobs"][arn] = job.entry
    result.finished_at = ctx.now_iso()
    # Per operation: the principals it was tried for, so that a job polled ten times counts once
    # and an operation that failed for every principal it was tried for reads as such.
    result.settle(attempted)
    return result


def _schedule(
    ctx: CollectContext,
    client: Any,
    arns: list[str],
    entities_for: set[str],
    granularity: str,
    job_timeout: float,
    window: int,
    calls: int,
) -> dict[str, _Job]:
    """Step every job to its end: at most ``window`` jobs started and unfinished, at most
    ``calls`` calls running. A job waiting for its next poll holds no thread."""
    pending = iter(arns)
    jobs: dict[str, _Job] = {}
    active: list[_Job] = []
    running: dict[Future[None], _Job] = {}
    total = len(arns)
    exhausted = False
    with ThreadPoolExecutor(max_workers=calls, thread_name_prefix="dormant-aa") as pool:
        while True:
            cancelled = ctx.cancel.is_set()
            while not cancelled and not exhausted and len(active) < window:
                arn = next(pending, None)
                if arn is None:
                    exhausted = True
                    break
                job = _Job(arn, arn in entities_for, due=ctx.wait_clock())
                job.entry = {"outcome": OUTCOME_ERROR, "requested_at": ctx.now_iso(), "error": None}
                jobs[arn] = job
                active.append(job)
            busy = set(running.values())
            if cancelled:
                for job in active:
                    if job not in busy and not job.done:
                        err = SourceError(
                            _operation(job), "Cancelled", "scan cancelled during the job", job.arn
                        )
                        _finish(job, OUTCOME_CANCELLED, err)
            now = ctx.wait_clock()
            for job in active:
                if len(running) >= calls:
                    break
                if job.done or job in busy or job.due is None or job.due > now:
                    continue
                running[pool.submit(_step, ctx, client, job, granularity, job_timeout)] = job
                busy.add(job)
            finished = [j for j in active if j.done and j not in busy]
            for job in finished:
                active.remove(job)
                job.entry["finished_at"] = ctx.now_iso()
                ctx.progress(NAME, 1, total)
            if not active and (exhausted or ctx.cancel.is_set()):
                break
            if running:
                done, _ = wait(running, timeout=0.05, return_when=FIRST_COMPLETED)
                for future in done:
                    running.pop(future)
                    future.result()
                continue
            if finished:
                continue
            upcoming = [j.due for j in active if not j.done and j.due is not None]
            if upcoming:
                ctx.pause(max(0.0, (min(upcoming) - ctx.wait_clock()).total_seconds()))
    for arn in arns:
        if arn not in jobs:
            job = _Job(arn, False)
            job.entry = {"outcome": OUTCOME_CANCELLED, "requested_at": None, "error": None}
            job.error = SourceError(GENERATE, "Cancelled", "scan cancelled before the job", arn)
            jobs[arn] = job
    return jobs


def _operation(job: _Job) -> str:
    return {"generate": GENERATE, "entities": GET_ENTITIES}.get(job.phase, GET)


def _finish(job: _Job, outcome: str, error: SourceError | None = None) -> None:
    job.entry["outcome"] = outcome
    job.error = error
    job.done = True
    job.due = None


def _step(ctx: CollectContext, client: Any, job: _Job, granularity: str, timeout: float) -> None:
    """Make the job's next call and move it on. Never raises: errors end the job."""
    operation = _operation(job)
    job.ops.add(operation)
    try:
        if job.phase == "generate":
            answer = client.generate_service_last_accessed_details(
                Arn=job.arn, Granularity=granularity
            )
            job.entry[GENERATE] = jsonable(answer)
            job.job_id = answer["JobId"]
            job.started = ctx.wait_clock()
            job.phase = "poll"
            job.due = job.started + dt.timedelta(seconds=job.delay)
        elif job.phase == "poll":
            answer = client.get_service_last_accessed_details(JobId=job.job_id)
            _on_first_page(ctx, job, answer, timeout)
        elif job.phase == "page":
            answer = client.get_service_last_accessed_details(JobId=job.job_id, Marker=job.marker)
            job.entry[GET].append(jsonable(answer))
            _after_page(ctx, job, answer)
        else:
            namespace = job.namespaces[0]
            kwargs: dict[str, Any] = {"JobId": job.job_id, "ServiceNamespace": namespace}
            if job.marker:
                kwargs["Marker"] = job.marker
            answer = client.get_service_last_accessed_details_with_entities(**kwargs)
            pages = job.entry.setdefault(GET_ENTITIES, {}).setdefault(namespace, [])
            pages.append(jsonable(answer))
            if answer.get("IsTruncated") and answer.get("Marker"):
                job.marker = answer["Marker"]
            else:
                job.marker = None
                job.namespaces.pop(0)
                if not job.namespaces:
                    _finish(job, OUTCOME_COMPLETED)
                    return
            job.due = ctx.wait_clock()
        job.throttled = 0
        job.throttle_delay = THROTTLE_FIRST
    except Exception as exc:  # noqa: BLE001 - recorded per ARN; the scan goes on
        if is_throttled(exc) and not is_denied(exc) and job.throttled + 1 < THROTTLE_ATTEMPTS:
            # Rate exceeded even after botocore's own retries: try this call again later,
            # without holding a thread while waiting.
            job.throttled += 1
            job.due = ctx.wait_clock() + dt.timedelta(seconds=job.throttle_delay)
            job.throttle_delay = min(THROTTLE_MAX, job.throttle_delay * 2)
            return
        # A report already read stays "completed": only the entity detail is missing then.
        outcome = OUTCOME_COMPLETED if job.phase == "entities" else OUTCOME_ERROR
        _finish(job, outcome, SourceError.from_exception(operation, exc, job.arn))


def _on_first_page(ctx: CollectContext, job: _Job, answer: dict[str, Any], timeout: float) -> None:
    status = answer.get("JobStatus")
    if status == "IN_PROGRESS":
        elapsed = (ctx.wait_clock() - job.started).total_seconds() if job.started else 0.0
        if elapsed >= timeout:
            msg = f"job {job.job_id} still IN_PROGRESS after {timeout:g}s"
            _finish(job, OUTCOME_TIMEOUT, SourceError(GET, "JobTimeout", msg, job.arn))
            return
        job.delay = min(POLL_MAX, job.delay * POLL_FACTOR, max(0.0, timeout - elapsed))
        job.due = ctx.wait_clock() + dt.timedelta(seconds=job.delay)
        return
    job.entry[GET] = [jsonable(answer)]
    if status == "FAILED":
        err = answer.get("Error") or {}
        code = str(err.get("Code") or "JobFailed")
        message = str(err.get("Message") or "Access Advisor job failed")
        _finish(job, OUTCOME_FAILED, SourceError(GET, code, f"{code}: {message}", job.arn))
        return
    _after_page(ctx, job, answer)


def _after_page(ctx: CollectContext, job: _Job, answer: dict[str, Any]) -> None:
    if answer.get("IsTruncated") and answer.get("Marker"):
        job.phase = "page"
        job.marker = answer["Marker"]
        job.due = ctx.wait_clock()
        return
    job.marker = None
    if job.with_entities:
        job.namespaces = [
            s["ServiceNamespace"]
            for page in job.entry[GET]
            for s in page.get("ServicesLastAccessed") or []
            if s.get("ServiceNamespace") and s.get("LastAuthenticated")
        ]
    if job.namespaces:
        job.phase = "entities"
        job.due = ctx.wait_clock()
        return
    _finish(job, OUTCOME_COMPLETED)


def _arn_kind(arn: str) -> str:
    """``role``, ``user``, ``group``, ``policy`` (or another resource type) of an IAM ARN."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return ""
    return parts[5].split("/", 1)[0]


# --------------------------------------------------------------------------------------------
# Records and the pure parser


@dataclass(frozen=True)
class ActionLastAccessed:
    """One tracked action of a service, as Access Advisor reports it."""

    action: str
    """The full action name, ``service:Action`` (AWS sends the name without the prefix)."""
    last_accessed: dt.datetime | None
    """When an authenticated request last tried this action in the tracking period (UTC), or
    None: the action is tracked and granted, and was not tried in the tracking period."""
    entity: str | None
    """The ARN of the user or role that last tried it, where reported."""
    region: str | None
    """The Region the last attempt came from, where reported."""


@dataclass(frozen=True)
class ServiceLastAccessed:
    """One service that the principal's identity policies allow, and its last use."""

    namespace: str
    """The service prefix, such as ``s3``."""
    name: str
    """The service's display name, such as ``Amazon S3``."""
    last_authenticated: dt.datetime | None
    """When an authenticated request last tried this service in the tracking period (UTC), or
    None if it was not tried. Attempts count, successful or not."""
    last_authenticated_entity: str | None
    """The ARN of the user or role that made that last attempt."""
    last_authenticated_region: str | None
    """The Region of that last attempt."""
    total_authenticated_entities: int | None
    """How many entities tried this service in the tracking period (users/roles for groups and
    policies; 0 or 1 for a user or role)."""
    tracked_actions: tuple[ActionLastAccessed, ...] | None
    """The service's tracked actions that the policies grant, with their last use; None when the
    report has no action-level data for the service (service-level job, or a service or grant
    that Access Advisor does not track at action level)."""

    def action(self, name: str) -> ActionLastAccessed | None:
        """The tracked action named ``name`` (``Action`` or ``service:Action``, any case)."""
        wanted = name.split(":", 1)[-1].lower()
        for item in self.tracked_actions or ():
            if item.action.split(":", 1)[1].lower() == wanted:
                return item
        return None


@dataclass(frozen=True)
class EntityLastAccessed:
    """A user or role that could use a group's or policy's permissions for one service."""

    arn: str
    """The entity's ARN."""
    name: str
    """The entity's name."""
    type: str
    """``USER``, ``ROLE`` or ``GROUP``."""
    id: str
    """The entity's unique id (AIDA..., AROA...)."""
    path: str | None
    """The entity's path, where reported."""
    last_authenticated: dt.datetime | None
    """When this entity last tried the service in the tracking period, or None."""


@dataclass(frozen=True)
class ServiceEntities:
    """The entities reported for one service of a group or policy report."""

    namespace: str
    """The service prefix asked about."""
    entities: tuple[EntityLastAccessed, ...]
    """Every entity listed, in the order AWS sent them (most recent access first)."""


@dataclass(frozen=True)
class JobError:
    """Why a job gave no report."""

    code: str
    """AWS's error code for a FAILED job, or ours: ``JobTimeout``, ``Cancelled``, or the code
    of the call that failed (``AccessDenied``, ``NoSuchEntity``, ``Throttling``)."""
    message: str
    """A one-line explanation."""


@dataclass(frozen=True)
class AccessAdvisorReport:
    """The Access Advisor report of one principal or policy."""

    arn: str
    """The role, user, group or policy the job was run for."""
    outcome: str
    """``completed``, ``failed`` (JobStatus FAILED), ``timeout``, ``error`` (a call failed) or
    ``cancelled``. Only ``completed`` reports carry evidence."""
    job_id: str | None
    """The JobId Generate returned, if it returned."""
    job_status: str | None
    """The last JobStatus read: ``COMPLETED``, ``FAILED``, ``IN_PROGRESS`` or None."""
    job_type: str | None
    """``SERVICE_LEVEL`` or ``ACTION_LEVEL`` as AWS reports it (older reports omit it)."""
    job_creation_date: dt.datetime | None
    """When AWS started the job (UTC)."""
    job_completion_date: dt.datetime | None
    """When AWS finished the job (UTC): the evidence is as of this time, less AWS's usual lag
    of about four hours."""
    services: tuple[ServiceLastAccessed, ...]
    """Every service the report lists, across all pages, in AWS's order."""
    entities: tuple[ServiceEntities, ...]
    """For group and policy reports read with entities: per used service, who used it."""
    error: JobError | None
    """Why there is no report (``outcome`` other than ``completed``), or what part of a
    completed one could not be read (the entities of a group or policy); else None."""

    @property
    def complete(self) -> bool:
        """True when the job completed and every page was read."""
        return self.outcome == OUTCOME_COMPLETED and self.job_status == "COMPLETED"

    def service(self, namespace: str) -> ServiceLastAccessed | None:
        """The entry of service ``namespace`` (case-insensitive), or None if not listed."""
        ns = namespace.lower()
        for item in self.services:
            if item.namespace.lower() == ns:
                return item
        return None

    @property
    def action_level(self) -> bool:
        """True when at least one service carries action-level data."""
        return any(s.tracked_actions is not None for s in self.services)


def parse(raw: Mapping[str, Any]) -> dict[str, AccessAdvisorReport]:
    """Reports by ARN from :func:`collect`'s raw responses (or a snapshot of them).

    Times may be ISO-8601 strings or datetime objects (boto3's own responses); both become
    timezone-aware UTC datetimes.
    """
    jobs = raw.get("jobs") or {}
    return {arn: parse_job(arn, entry) for arn, entry in jobs.items()}


def parse_job(arn: str, entry: Mapping[str, Any]) -> AccessAdvisorReport:
    """One ARN's report from its raw entry (see the module docstring for the layout)."""
    generated = entry.get(GENERATE) or {}
    pages = list(entry.get(GET) or [])
    last = pages[-1] if pages else {}
    first = pages[0] if pages else {}
    services = tuple(
        _service(s)
        for page in pages
        for s in (page.get("ServicesLastAccessed") or [])
        if isinstance(s, Mapping)
    )
    entities = tuple(
        ServiceEntities(
            namespace=ns,
            entities=tuple(
                _entity(e) for page in ns_pages for e in (page.get("EntityDetailsList") or [])
            ),
        )
        for ns, ns_pages in sorted((entry.get(GET_ENTITIES) or {}).items())
    )
    status = last.get("JobStatus")
    outcome = entry.get("outcome") or _outcome_from_status(status)
    error: JobError | None = None
    err = entry.get("error")
    if err:
        error = JobError(code=str(err.get("code")), message=str(err.get("message")))
    elif status == "FAILED":
        aws_err = last.get("Error") or {}
        error = JobError(
            code=str(aws_err.get("Code") or "JobFailed"),
            message=str(aws_err.get("Message") or "Access Advisor job failed"),
        )
    return AccessAdvisorReport(
        arn=arn,
        outcome=outcome,
        job_id=generated.get("JobId") or entry.get("JobId"),
        job_status=status,
        job_type=first.get("JobType"),
        job_creation_date=_time(first.get("JobCreationDate")),
        job_completion_date=_time(last.get("JobCompletionDate")),
        services=services,
        entities=entities,
        error=error,
    )


def job_entry(
    generate: Mapping[str, Any] | None,
    pages: list[Mapping[str, Any]],
    entities: Mapping[str, list[Mapping[str, Any]]] | None = None,
) -> dict[str, Any]:
    """A raw entry built from responses read elsewhere (``aws iam`` output, recordings), so
    that :func:`parse_job` reads them exactly as it reads a live scan's."""
    status = (pages[-1].get("JobStatus") if pages else None) or None
    entry: dict[str, Any] = {
        "outcome": _outcome_from_status(status),
        "error": None,
        GENERATE: jsonable(dict(generate or {})),
        GET: [jsonable(dict(p)) for p in pages],
    }
    if entities:
        entry[GET_ENTITIES] = {ns: [jsonable(dict(p)) for p in ps] for ns, ps in entities.items()}
    return entry


def _outcome_from_status(status: str | None) -> str:
    if status == "COMPLETED":
        return OUTCOME_COMPLETED
    if status == "FAILED":
        return OUTCOME_FAILED
    if status == "IN_PROGRESS":
        return OUTCOME_TIMEOUT
    return OUTCOME_ERROR


def _service(data: Mapping[str, Any]) -> ServiceLastAccessed:
    namespace = str(data.get("ServiceNamespace") or "")
    tracked = data.get("TrackedActionsLastAccessed")
    actions: tuple[ActionLastAccessed, ...] | None = None
    if tracked is not None:
        actions = tuple(_action(namespace, a) for a in tracked if isinstance(a, Mapping))
    total = data.get("TotalAuthenticatedEntities")
    return ServiceLastAccessed(
        namespace=namespace,
        name=str(data.get("ServiceName") or namespace),
        last_authenticated=_time(data.get("LastAuthenticated")),
        last_authenticated_entity=data.get("LastAuthenticatedEntity"),
        last_authenticated_region=data.get("LastAuthenticatedRegion"),
        total_authenticated_entities=None if total is None else int(total),
        tracked_actions=actions,
    )


def _action(namespace: str, data: Mapping[str, Any]) -> ActionLastAccessed:
    name = str(data.get("ActionName") or "")
    if ":" not in name:
        name = f"{namespace}:{name}"
    return ActionLastAccessed(
        action=name,
        last_accessed=_time(data.get("LastAccessedTime")),
        entity=data.get("LastAccessedEntity"),
        region=data.get("LastAccessedRegion"),
    )


def _entity(data: Mapping[str, Any]) -> EntityLastAccessed:
    info = data.get("EntityInfo") or {}
    return EntityLastAccessed(
        arn=str(info.get("Arn") or ""),
        name=str(info.get("Name") or ""),
        type=str(info.get("Type") or ""),
        id=str(info.get("Id") or ""),
        path=info.get("Path"),
        last_authenticated=_time(data.get("LastAuthenticated")),
    )


def _time(value: Any) -> dt.datetime | None:
    """A UTC datetime from an ISO-8601 string or a datetime; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        result = dt.datetime.fromisoformat(text)
    else:
        raise ValueError(f"not a time: {value!r}")
    if result.tzinfo is None:
        result = result.replace(tzinfo=dt.UTC)
    return result.astimezone(dt.UTC)


__all__ = [
    "NAME",
    "AccessAdvisorReport",
    "ActionLastAccessed",
    "EntityLastAccessed",
    "JobError",
    "ServiceEntities",
    "ServiceLastAccessed",
    "collect",
    "job_entry",
    "parse",
    "parse_job",
]
