"""AWS Security Hub: dormant's findings as the account's own findings (ASFF).

Every run imports every open finding with BatchImportFindings (batches of 100), under stable
ids, so a rerun updates a finding instead of adding another. A complete run then resolves what
is gone: it reads dormant's active findings back (GetFindings), archives those this run no
longer reports (``RecordState`` ``ARCHIVED``, by BatchImportFindings, as a finding provider
does) and sets their workflow status to ``RESOLVED`` (BatchUpdateFindings, since a provider may
not change the workflow of an existing finding by import). Reading them back, rather than
trusting the run's state file, also resolves findings that an earlier failed run left active.
A finding that comes back is imported ``ACTIVE`` again, and Security Hub sets it ``NEW``.

Failed findings (``FailedFindings``, ``UnprocessedFindings``) are counted and named in the
outcome; Security Hub not enabled in the account and Region is a failed outcome that says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import botocore.exceptions

from ...model import Finding
from ...sources.aws import error_code, error_message
from ..formats.asff import GENERATOR_PREFIX, Target, archived, finding_id, to_asff
from . import SinkOutcome

BATCH = 100
"""BatchImportFindings and BatchUpdateFindings take at most 100 findings a call."""

NOT_ENABLED_CODES = frozenset({"InvalidAccessException"})


def _batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _import(client: Any, findings: Sequence[dict[str, Any]]) -> tuple[int, list[dict]]:
    """Import in batches; (imported, failed findings). Raises botocore errors."""
    ok, failed = 0, []
    for batch in _batches(findings):
        resp = client.batch_import_findings(Findings=list(batch))
        ok += int(resp.get("SuccessCount", 0))
        failed += resp.get("FailedFindings") or []
    return ok, failed


def _active(client: Any, target: Target) -> list[dict[str, Any]]:
    """dormant's active findings in this account and Region."""
    filters = {
        "ProductArn": [{"Value": target.product_arn, "Comparison": "EQUALS"}],
        "GeneratorId": [{"Value": GENERATOR_PREFIX, "Comparison": "PREFIX"}],
        "AwsAccountId": [{"Value": target.account_id, "Comparison": "EQUALS"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
    }
    out = []
    for page in client.get_paginator("get_findings").paginate(
        Filters=filters, PaginationConfig={"PageSize": 100}
    ):
        for f in page.get("Findings") or []:
            # Filter again: the filters above are the contract, this is the guarantee.
            if (
                f.get("ProductArn") == target.product_arn
                and str(f.get("GeneratorId", "")).startswith(GENERATOR_PREFIX)
                and f.get("AwsAccountId") == target.account_id
                and f.get("RecordState", "ACTIVE") == "ACTIVE"
            ):
                out.append(f)
    return out


def _resolve_workflow(client: Any, target: Target, ids: Sequence[str], note: str) -> list[dict]:
    """Set the workflow status of ``ids`` to RESOLVED; the unprocessed ones."""
    unprocessed: list[dict] = []
    for batch in _batches(ids):
        resp = client.batch_update_findings(
            FindingIdentifiers=[{"Id": i, "ProductArn": target.product_arn} for i in batch],
            Workflow={"Status": "RESOLVED"},
            Note={"Text": note[:512], "UpdatedBy": "dormant"},
        )
        unprocessed += resp.get("UnprocessedFindings") or []
    return unprocessed


def _failure_text(failed: Sequence[dict]) -> str:
    first = failed[0]
    ident = first.get("Id") or (first.get("FindingIdentifier") or {}).get("Id")
    return f"{len(failed)} failed, first {ident}: {first.get('ErrorCode')}: " + str(
        first.get("ErrorMessage", "")
    )


def sync(
    client: Any,
    target: Target,
    findings: Sequence[Finding],
    *,
    first_seen: Mapping[str, str],
    now: str,
    resolve: bool,
    run_id: str,
    report_url: str | None = None,
) -> SinkOutcome:
    """Import the open findings and (when ``resolve``) resolve the ones that are gone."""
    docs = [
        to_asff(f, target, first_seen=first_seen.get(f.id, now), now=now, report_url=report_url)
        for f in findings
    ]
    counts = {"imported": 0, "import_failed": 0, "archived": 0, "resolved": 0}
    errors: list[str] = []
    try:
        counts["imported"], failed = _import(client, docs)
        counts["import_failed"] = len(failed)
        if failed:
            errors.append("BatchImportFindings: " + _failure_text(failed))
        if resolve:
            current = {finding_id(f) for f in findings}
            stale = [f for f in _active(client, target) if f.get("Id") not in current]
            if stale:
                archived_ok, archive_failed = _import(client, [archived(f, now=now) for f in stale])
                counts["archived"] = archived_ok
                if archive_failed:
                    errors.append("archiving: " + _failure_text(archive_failed))
                failed_ids = {x.get("Id") for x in archive_failed}
                ids = [f["Id"] for f in stale if f["Id"] not in failed_ids]
                unprocessed = _resolve_workflow(
                    client,
                    target,
                    ids,
                    f"dormant run {run_id} no longer reports this finding: resolved.",
                )
                counts["resolved"] = len(ids) - len(unprocessed)
                if unprocessed:
                    errors.append("BatchUpdateFindings: " + _failure_text(unprocessed))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        if error_code(exc) in NOT_ENABLED_CODES:
            return SinkOutcome(
                "securityhub",
                "failed",
                f"Security Hub is not enabled in account {target.account_id}, Region "
                f"{target.region}: enable it, or set SECURITY_HUB=false",
                error_message(exc),
                counts,
            )
        return SinkOutcome(
            "securityhub", "failed", "Security Hub sync stopped", error_message(exc), counts
        )
    detail = (
        f"{counts['imported']} imported, {counts['archived']} archived and "
        f"{counts['resolved']} resolved" + ("" if resolve else " (partial run: nothing resolved)")
    )
    return SinkOutcome(
        "securityhub",
        "partial" if errors else "ok",
        detail,
        "; ".join(errors) or None,
        counts,
    )
