"""CloudTrail as a source of the scan: who still uses each role, key, password and action.

The raw data kept in the snapshot is the aggregated evidence of ``dormant.trail`` (its JSON
contract, docs/schema/trail-evidence.v1.json), with the sources read and the window: the
events themselves stay in the trail, where an auditor can read them again with the same command.

CloudTrail only ever adds uses: a credential missing from the trail is not thereby unused (the
trail may not cover every region, data events, or the whole threshold), so the judge takes the
latest use across all sources and never reads absence from here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..timeutil import iso
from ..trail.evidence import TrailEvidence
from .base import CollectContext, SourceError, SourceResult, SourceStatus

NAME = "cloudtrail"
OPERATION = "ReadCloudTrail"


def collect(
    ctx: CollectContext,
    sources: list[str],
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    workers: int | None = None,
    s3_session: Any = None,
) -> SourceResult:
    """Read ``sources`` (local paths, ``s3://`` URIs, ``lookup-events``) for this account.

    ``s3_session`` (an AccountSession) reads the ``s3://`` sources; default: the account's own.
    An organization scan passes the scanning principal's, since an organization trail's bucket
    is in one (log-archive) account that the member role may not read; ``lookup-events`` always
    asks the account's own CloudTrail."""
    result = SourceResult(name=NAME, started_at=ctx.now_iso())
    result.raw = {
        "sources": list(sources),
        "start": iso(start) if start else None,
        "end": iso(end) if end else None,
    }
    ctx.progress("cloudtrail", 0, 1)
    try:
        from ..trail import scan
    except ImportError as exc:  # pragma: no cover - the extra is in every test environment
        result.errors.append(
            SourceError(
                OPERATION,
                "MissingExtra",
                f"CloudTrail needs the trail extra: pip install 'dormant[trail]' ({exc})",
            )
        )
        result.settle({OPERATION: 1})
        result.finished_at = ctx.now_iso()
        return result
    try:
        evidence = scan(
            sources,
            accounts=[ctx.account_id],
            start=start,
            end=end,
            workers=workers,
            session=ctx.session,
            s3_client=s3_session.client("s3") if s3_session is not None else None,
        )
    except Exception as exc:  # noqa: BLE001 - a source that cannot be read is a coverage gap
        result.errors.append(SourceError.from_exception(OPERATION, exc))
        result.settle({OPERATION: 1})
        result.finished_at = ctx.now_iso()
        return result
    result.raw["evidence"] = evidence.to_dict()
    for err in evidence.errors:
        where = err.file if err.record is None else f"{err.file} record {err.record}"
        result.errors.append(SourceError(OPERATION, "UnreadableInput", err.message, where))
    if evidence.errors_total:
        # Some files or records could not be used; the rest was read.
        result.status = SourceStatus.PARTIAL
        result.operations = {
            OPERATION: {
                "calls": evidence.files_read + evidence.errors_total,
                "errors": evidence.errors_total,
                "status": "partial",
            }
        }
    else:
        result.settle({OPERATION: max(1, evidence.files_read)})
    result.finished_at = ctx.now_iso()
    ctx.progress("cloudtrail", 1, 1)
    return result


def parse_raw(raw: dict[str, Any]) -> TrailEvidence | None:
    data = raw.get("evidence")
    return None if data is None else TrailEvidence.from_json(data)
