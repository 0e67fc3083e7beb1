"""IAM Access Analyzer unused-access findings, where an unused-access analyzer exists.

AWS's own unused-access analysis (a paid feature) finds roles, access keys and passwords not
used, and permissions not used, within the analyzer's ``unusedAccessAge``. dormant reads those
findings as one more source of evidence, beside its own: ``ListAnalyzers`` (every type, then
kept: ``ACCOUNT_UNUSED_ACCESS`` and ``ORGANIZATION_UNUSED_ACCESS``), ``ListFindingsV2`` per
analyzer (the v1 ``ListFindings`` does not return unused-access findings) and ``GetFindingV2``
per finding for its details (every page of ``findingDetails``).

Raw layout::

    {"region": "us-east-1",
     "analyzers": [<ListAnalyzers item>, ...],
     "findings": {"<analyzer arn>": [<ListFindingsV2 item>, ...]},
     "details": {"<finding id>": <GetFindingV2 response, findingDetails of every page>}}

With no unused-access analyzer the source is ``skipped`` and ``raw["analyzers"]`` shows what
exists, so an auditor can see why there is nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .base import CollectContext, SourceError, SourceResult, SourceStatus, jsonable

NAME = "access_analyzer"
UNUSED_TYPES = frozenset({"ACCOUNT_UNUSED_ACCESS", "ORGANIZATION_UNUSED_ACCESS"})
FINDING_TYPES = frozenset(
    {"UnusedIAMRole", "UnusedIAMUserAccessKey", "UnusedIAMUserPassword", "UnusedPermission"}
)


def collect(
    ctx: CollectContext,
    *,
    region: str | None = None,
    statuses: Sequence[str] | None = ("ACTIVE",),
    with_details: bool = True,
) -> SourceResult:
    """Read the unused-access findings of every unused-access analyzer in ``region``.

    ``statuses``: finding statuses to list (``ACTIVE``, ``ARCHIVED``, ``RESOLVED``); None lists
    all. ``with_details``: call GetFindingV2 for each finding (needed for the unused actions and
    last-access dates).
    """
    result = SourceResult(name=NAME, started_at=ctx.now_iso())
    client = ctx.client("accessanalyzer", region)
    result.raw = {
        "region": region or ctx.session.region,
        "analyzers": [],
        "findings": {},
        "details": {},
    }
    try:
        analyzers = _pages(client, "list_analyzers", "analyzers", {})
    except Exception as exc:  # noqa: BLE001 - recorded; the scan goes on without this source
        result.errors.append(SourceError.from_exception("ListAnalyzers", exc))
        result.finished_at = ctx.now_iso()
        result.settle(1)
        return result
    result.raw["analyzers"] = analyzers
    unused = [a for a in analyzers if a.get("type") in UNUSED_TYPES]
    if not unused:
        result.status = SourceStatus.SKIPPED
        result.finished_at = ctx.now_iso()
        return result

    attempted = {"ListAnalyzers": 1, "ListFindingsV2": 0, "GetFindingV2": 0}
    params_filter: dict[str, Any] = {}
    if statuses:
        params_filter = {"status": {"eq": list(statuses)}}
    finding_ids: list[tuple[str, str]] = []
    for analyzer in unused:
        arn = analyzer["arn"]
        attempted["ListFindingsV2"] += 1
        if analyzer.get("status") not in (None, "ACTIVE"):
            result.errors.append(
                SourceError(
                    "ListFindingsV2",
                    "AnalyzerNotActive",
                    f"analyzer status is {analyzer.get('status')}",
                    arn,
                )
            )
            continue
        params: dict[str, Any] = {"analyzerArn": arn}
        if params_filter:
            params["filter"] = params_filter
        try:
            findings = _pages(client, "list_findings_v2", "findings", params)
        except Exception as exc:  # noqa: BLE001
            result.errors.append(SourceError.from_exception("ListFindingsV2", exc, arn))
            continue
        result.raw["findings"][arn] = findings
        finding_ids.extend((arn, f["id"]) for f in findings)

    if with_details and finding_ids:
        attempted["GetFindingV2"] += len(finding_ids)

        def detail(item: tuple[str, str]) -> tuple[str, dict[str, Any] | None, SourceError | None]:
            analyzer_arn, finding_id = item
            if ctx.cancel.is_set():
                return (
                    finding_id,
                    None,
                    SourceError("GetFindingV2", "Cancelled", "cancelled", finding_id),
                )
            try:
                return finding_id, _finding(client, analyzer_arn, finding_id), None
            except Exception as exc:  # noqa: BLE001
                return finding_id, None, SourceError.from_exception("GetFindingV2", exc, finding_id)

        for finding_id, data, error in ctx.map(detail, finding_ids):
            if error is not None:
                result.errors.append(error)
            else:
                result.raw["details"][finding_id] = data
            ctx.progress(NAME, 1, len(finding_ids))
    result.finished_at = ctx.now_iso()
    result.settle({op: n for op, n in attempted.items() if n})
    return result


def _pages(client: Any, method: str, key: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    paginator = client.get_paginator(method)
    for page in paginator.paginate(**params):
        out.extend(jsonable(page.get(key) or []))
    return out


def _finding(client: Any, analyzer_arn: str, finding_id: str) -> dict[str, Any]:
    """GetFindingV2 with every page of ``findingDetails`` merged into the first response."""
    response = jsonable(client.get_finding_v2(analyzerArn=analyzer_arn, id=finding_id))
    token = response.pop("nextToken", None)
    while token:
        page = jsonable(
            client.get_finding_v2(analyzerArn=analyzer_arn, id=finding_id, nextToken=token)
        )
        response.setdefault("findingDetails", []).extend(page.get("findingDetails") or [])
        token = page.get("nextToken")
    return response


# --------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class UnusedAction:
    """One unused action of an UnusedPermission finding."""

    action: str
    """The action as Access Analyzer names it (``s3:PutObject``)."""
    last_accessed: dt.datetime | None
    """When it was last used, if ever in the tracking period."""


@dataclass(frozen=True)
class FindingDetail:
    """One entry of a finding's ``findingDetails``."""

    kind: str
    """The detail's key: ``unusedPermissionDetails``, ``unusedIamUserAccessKeyDetails``,
    ``unusedIamRoleDetails``, ``unusedIamUserPasswordDetails`` (or another, kept as is)."""
    last_accessed: dt.datetime | None
    """When the role, key, password or service was last used, if ever."""
    service_namespace: str | None
    """For unused permissions: the service prefix."""
    access_key_id: str | None
    """For an unused access key: its id."""
    actions: tuple[UnusedAction, ...]
    """For unused permissions: the unused actions listed (empty when the whole service is
    unused or the service is not tracked at action level)."""


@dataclass(frozen=True)
class UnusedAccessFinding:
    """An Access Analyzer unused-access finding."""

    id: str
    """The finding id."""
    analyzer_arn: str
    """The analyzer that produced it."""
    finding_type: str | None
    """``UnusedIAMRole``, ``UnusedIAMUserAccessKey``, ``UnusedIAMUserPassword`` or
    ``UnusedPermission``."""
    resource: str | None
    """The ARN of the role or user the finding is about."""
    resource_type: str
    """``AWS::IAM::Role`` or ``AWS::IAM::User``."""
    resource_owner_account: str
    """The account that owns the resource."""
    status: str
    """``ACTIVE``, ``ARCHIVED`` or ``RESOLVED``."""
    created_at: dt.datetime | None
    """When the finding was created."""
    updated_at: dt.datetime | None
    """When it last changed."""
    analyzed_at: dt.datetime | None
    """When the resource was last analyzed: the evidence is as of then."""
    error: str | None
    """An analysis error Access Analyzer reports for the finding, if any."""
    details: tuple[FindingDetail, ...] | None
    """The details from GetFindingV2, or None when they were not read."""

    @property
    def last_accessed(self) -> dt.datetime | None:
        """The latest ``last_accessed`` among the details, if any."""
        times = [d.last_accessed for d in self.details or () if d.last_accessed]
        return max(times) if times else None


def parse(raw: Mapping[str, Any]) -> list[UnusedAccessFinding]:
    """Every finding of the raw responses, sorted by analyzer and id. Pure."""
    details = raw.get("details") or {}
    out: list[UnusedAccessFinding] = []
    for analyzer_arn, findings in sorted((raw.get("findings") or {}).items()):
        for item in findings:
            fid = str(item["id"])
            full = details.get(fid)
            source = {**item, **(full or {})}
            out.append(
                UnusedAccessFinding(
                    id=fid,
                    analyzer_arn=analyzer_arn,
                    finding_type=source.get("findingType"),
                    resource=source.get("resource"),
                    resource_type=str(source.get("resourceType") or ""),
                    resource_owner_account=str(source.get("resourceOwnerAccount") or ""),
                    status=str(source.get("status") or ""),
                    created_at=_time(source.get("createdAt")),
                    updated_at=_time(source.get("updatedAt")),
                    analyzed_at=_time(source.get("analyzedAt")),
                    error=source.get("error"),
                    details=None
                    if full is None
                    else tuple(_detail(d) for d in full.get("findingDetails") or []),
                )
            )
    return sorted(out, key=lambda f: (f.analyzer_arn, f.id))


def unused_analyzers(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The unused-access analyzers listed in ``raw`` (with their ``unusedAccessAge``)."""
    return [a for a in raw.get("analyzers") or [] if a.get("type") in UNUSED_TYPES]


def _detail(data: Mapping[str, Any]) -> FindingDetail:
    kind, body = next(iter(data.items())) if data else ("", {})
    body = body or {}
    return FindingDetail(
        kind=kind,
        last_accessed=_time(body.get("lastAccessed")),
        service_namespace=body.get("serviceNamespace"),
        access_key_id=body.get("accessKeyId"),
        actions=tuple(
            UnusedAction(action=str(a.get("action")), last_accessed=_time(a.get("lastAccessed")))
            for a in body.get("actions") or []
        ),
    )


def _time(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        result = value
    else:
        text = str(value).strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        result = dt.datetime.fromisoformat(text)
    if result.tzinfo is None:
        result = result.replace(tzinfo=dt.UTC)
    return result.astimezone(dt.UTC)


__all__ = [
    "FINDING_TYPES",
    "NAME",
    "UNUSED_TYPES",
    "FindingDetail",
    "UnusedAccessFinding",
    "UnusedAction",
    "collect",
    "parse",
    "unused_analyzers",
]
