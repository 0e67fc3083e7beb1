"""What a run returns, saves as run.json and logs: its result, one line per sink, and its
metrics."""

from __future__ import annotations

from typing import Any

from ..model import Report
from ..sinks.formats.json_format import summary
from ..sinks.notify import SinkOutcome
from .dispatch import RunInfo, gaps
from .logs import Log
from .state import Changes


def summarize(
    info: RunInfo,
    report: Report,
    changes: Changes,
    outcomes: dict[str, SinkOutcome],
    *,
    keys: dict[str, str],
    report_key: str | None,
    digest: bool,
    tell: bool,
    delivered: bool,
    partial: str | None,
    snapshot_digest: str | None,
    remediation: dict[str, Any] | None = None,
    org: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run's result, JSON-able: ``status`` is ``ok``, ``degraded`` (a sink failed) or
    ``partial`` (collection stopped early). An organization scan adds ``org``: how many
    accounts, which were scanned and which were not."""
    failed = sorted(n for n, o in outcomes.items() if o.failed)
    s = summary(report)
    extra = {"org": org} if org is not None else {}
    return {
        "run_id": info.run_id,
        "account_id": info.account_id,
        "as_of": report.as_of,
        "status": "partial" if partial else ("degraded" if failed else "ok"),
        "partial": bool(partial),
        "partial_reason": partial,
        "counts": {
            "findings": s["findings"],
            "by_type": s["by_type"],
            "by_verdict": s["by_verdict"],
            "excluded": s["excluded"],
            "new": len(changes.new),
            "not_yet_notified": len(changes.unsent),
            "reminded": len(changes.due),
            "resolved": len(changes.resolved),
            "unchanged": len(changes.quiet),
        },
        "new": [f.id for f in changes.new],
        "reminded": [f.id for f in changes.due],
        "resolved": [r.tracked.id for r in changes.resolved],
        "notification": {"needed": tell, "digest": digest, "delivered": delivered},
        "sinks": {n: o.to_json() for n, o in outcomes.items()},
        "failed_sinks": failed,
        "coverage_gaps": list(gaps(report)),
        "warnings": list(report.warnings),
        "snapshot_digest": snapshot_digest,
        "remediation": remediation,
        "report": {
            "bucket": info.layout.bucket,
            "prefix": info.run_prefix,
            "url": info.layout.uri(report_key) if report_key else None,
            "keys": dict(keys),
        },
        **extra,
    }


def log_run(log: Log, result: dict[str, Any], outcomes: dict[str, SinkOutcome]) -> None:
    """One line per sink (ERROR when it failed), the metrics, and ``run.finished``."""
    for name, outcome in outcomes.items():
        level = log.error if outcome.failed else log.info
        fields = {k: v for k, v in outcome.to_json().items() if k != "detail"}
        level(f"sink.{name}", outcome.detail, **fields)
    failures = len(result["failed_sinks"])
    partial = 1 if result["partial"] else 0
    counts = result["counts"]
    log.metrics(
        {
            "Findings": counts["findings"],
            "NewFindings": counts["new"],
            "ResolvedFindings": counts["resolved"],
            "PartialRun": partial,
            "SinkFailures": failures,
            "RunProblems": failures + partial,
        },
        {"AccountId": result["account_id"]},
    )
    log.info(
        "run.finished",
        result["status"],
        status=result["status"],
        partial=result["partial"],
        counts=counts,
    )
