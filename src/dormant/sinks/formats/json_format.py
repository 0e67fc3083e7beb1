"""The JSON report: a versioned contract, documented by docs/schema/report.v1.json.

Compatible changes (a new optional field) keep the major version; anything else bumps it.
"""

from __future__ import annotations

import json
from typing import Any

from ... import __version__
from ...model import Report, Verdict

SCHEMA_VERSION = "1.3"
"""1.3: accounts have ``scan_status``, ``scan_gaps`` and ``ou_path`` (the organization scan);
the summary has ``accounts_not_scanned``. 1.2: ``role_assumptions`` (who assumed each role, by
CloudTrail). 1.1: findings have ``scope`` (UnusedPermission) and ``details.tags``; accounts have
``credential_report_generated_at``."""


def summary(report: Report) -> dict[str, Any]:
    by_type: dict[str, int] = {}
    by_verdict: dict[str, int] = {}
    for f in report.findings:
        by_type[str(f.type)] = by_type.get(str(f.type), 0) + 1
        by_verdict[str(f.verdict)] = by_verdict.get(str(f.verdict), 0) + 1
    incomplete = sorted(
        {c.account_id for c in report.coverage if c.status not in ("read", "skipped")}
    )
    return {
        "findings": len(report.findings),
        "excluded": len(report.excluded),
        "by_type": dict(sorted(by_type.items())),
        "by_verdict": dict(sorted(by_verdict.items())),
        "insufficient_evidence": by_verdict.get(str(Verdict.INSUFFICIENT_EVIDENCE), 0),
        "accounts_not_fully_read": incomplete,
        "accounts_not_scanned": [
            a.account_id for a in report.accounts if a.scan_status == "not-scanned"
        ],
        "assessed": report.assessed,
    }


def to_document(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dormant", "version": __version__},
        "as_of": report.as_of,
        "account_ids": report.account_ids,
        "accounts": [a.to_json() for a in report.accounts],
        "snapshot_digest": report.snapshot_digest,
        "policy": {"source": report.policy_source, "thresholds": report.thresholds},
        "summary": summary(report),
        "coverage": [c.to_json() for c in report.coverage],
        "warnings": list(report.warnings),
        "exceptions": [e.to_json() for e in report.exceptions],
        "findings": [f.to_json() for f in report.findings],
        "excluded": [f.to_json() for f in report.excluded],
        "role_assumptions": [r.to_json() for r in report.role_assumptions],
    }


def render(report: Report, **_: Any) -> str:
    return json.dumps(to_document(report), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
