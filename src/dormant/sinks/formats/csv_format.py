"""CSV: one row per finding (excluded ones too, with their rule), for spreadsheets.

Every row names its account: ``account_id`` (the first column) and, at the end, ``account_name``
and ``ou_path`` (the account's place in the organization, with ``--org``; empty otherwise), so
the rows of an organization scan can be filtered and pivoted by account.

Cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return; IAM names may start with + = - @) get a leading apostrophe, as OWASP advises.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from ...model import AccountInfo, Finding, Report

COLUMNS = (
    "account_id",
    "type",
    "verdict",
    "principal_type",
    "principal_name",
    "principal_arn",
    "access_key_id",
    "key_slot",
    "service",
    "action",
    "last_used",
    "created",
    "days_unused",
    "threshold_days",
    "reason",
    "excluded_by",
    "recommendation",
    "commands",
    "finding_id",
    "scope",
    "access_analyzer",
    "policy_diff",
    "account_name",
    "ou_path",
)
"""Columns added later go at the end, so a spreadsheet built on the old ones keeps working."""


def _safe(value: Any) -> str:
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def _row(f: Finding, account: AccountInfo | None) -> list[str]:
    rec = f.recommendation
    values = {
        **f.to_json(),
        "finding_id": f.id,
        "recommendation": rec.summary if rec else "",
        "commands": " && ".join(rec.commands) if rec else "",
        "access_analyzer": f.details.get("access_analyzer"),
        "policy_diff": f.details.get("policy_diff"),
        "account_name": account.account_name if account else None,
        "ou_path": account.ou_path if account else None,
    }
    return [_safe(values.get(c)) for c in COLUMNS]


def render(report: Report, **_: Any) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    accounts = {a.account_id: a for a in report.accounts}
    for f in (*report.findings, *report.excluded):
        writer.writerow(_row(f, accounts.get(f.account_id)))
    return out.getvalue()
