"""Markdown: for a pull request comment, a ticket or a wiki page."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from ...model import Finding, Report
from . import accounts
from .table import callers_text, permission_subject


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # Escape what would break a table cell or be read as markup.
    for ch in ("\\", "|", "`", "*", "_", "<", ">", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ")


def _subject(f: Finding) -> str:
    return f.access_key_id or (f"slot {f.key_slot}" if f.key_slot else "") or permission_subject(f)


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _least_privilege(report: Report) -> list[str]:
    carriers = [f for f in report.findings if f.details.get("policy_diff")]
    if not carriers:
        return []
    lines = [
        "",
        "## Least-privilege recommendations",
        "",
        "Per principal, the rewrite of its policies that drops what the evidence shows unused "
        "and keeps what it cannot judge (`dormant recommend` writes the documents and commands).",
    ]
    for f in carriers:
        diff = f.details["policy_diff"]
        fence = _fence(diff)
        lines += ["", f"### {_cell(f.principal_name)} ({_cell(f.principal_arn)})", ""]
        for rec in f.details.get("recommended_policies") or ():
            lines.append(
                f"- {_cell(rec['type'])} policy {_cell(rec['policy'])}: "
                f"{_cell(rec['recommendation'])}, {len(rec['removed'])} action(s) removed"
            )
        lines += ["", f"{fence}diff", diff.rstrip("\n"), fence]
    return lines


FINDING_COLUMNS = ("Type", "Principal", "Subject", "Verdict", "Last used", "Days", "Limit", "Why")
FINDING_ALIGN = ("---", "---", "---", "---", "---", "---:", "---:", "---")


def _row(values) -> str:
    return "| " + " | ".join(_cell(v) for v in values) + " |"


def _findings_table(findings, *, with_account: bool) -> list[str]:
    """The findings as one table; ``with_account`` adds the account id as the first column."""
    columns = (("Account",) if with_account else ()) + FINDING_COLUMNS
    align = (("---",) if with_account else ()) + FINDING_ALIGN
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join(align) + " |"]
    for f in findings:
        values = (
            f.type,
            f.principal_name,
            _subject(f),
            f.verdict,
            (f.last_used or "never")[:10],
            f.days_unused,
            f.threshold_days,
            f.reason
            + (
                f" (Access Analyzer: {f.details['access_analyzer']})"
                if "access_analyzer" in f.details
                else ""
            ),
        )
        lines.append(_row(((f.account_id,) if with_account else ()) + values))
    if not findings:
        lines.append("| " + "| " * (len(columns) - 1) + "no findings |")
    return lines


def _status(status: str) -> str:
    text = accounts.status_label(status)
    return f"**{text}**" if status != "complete" else text


def _by_account(report: Report) -> list[str]:
    """The accounts summary table, then a section per account (sorted by id)."""
    groups = accounts.groups(report)
    lines = [
        "## Accounts",
        "",
        "| Account | Name | OU | Status | Findings | Gaps |",
        "| --- | --- | --- | --- | ---: | --- |",
    ]
    for g in groups:
        lines.append(
            "| "
            + " | ".join(
                (
                    _cell(g.account_id),
                    _cell(g.info.account_name),
                    _cell(g.info.ou_path),
                    _status(g.status),
                    str(len(g.findings)),
                    _cell(accounts.gaps_summary(g.info.scan_gaps)),
                )
            )
            + " |"
        )
    for g in groups:
        lines += ["", f"## {_cell(accounts.heading(g.info))}", ""]
        if g.status == "not-scanned":
            lines.append(
                f"{_status(g.status)}: {len(g.findings)} finding(s); what could not be read:"
            )
            lines.append("")
            lines += [f"- {_cell(line)}" for line in g.info.scan_gaps or ("no reason recorded",)]
            lines.append("")
        else:
            lines += [f"{len(g.findings)} finding(s); scan {_status(g.status)}.", ""]
        if g.findings:
            lines += _findings_table(g.findings, with_account=False)
    return lines


def render(report: Report, **_: Any) -> str:
    multi = accounts.is_multi(report)
    if multi:
        statuses = ", ".join(
            f"{n} {accounts.status_label(s)}" for s, n in accounts.status_counts(report).items()
        )
        intro = f"As of {report.as_of}; {len(report.accounts)} accounts: {statuses}."
    else:
        intro = (
            f"As of {report.as_of}; accounts: "
            + ", ".join(
                f"{a.account_id}" + (f" ({_cell(a.account_name)})" if a.account_name else "")
                for a in report.accounts
            )
            + "."
        )
    lines = ["# dormant report", "", intro, ""]
    by_type = Counter(str(f.type) for f in report.findings)
    if by_type:
        lines += ["| Finding type | Count |", "| --- | ---: |"]
        lines += [f"| {t} | {n} |" for t, n in sorted(by_type.items())]
        lines.append("")
    if multi:
        lines += _by_account(report)
    else:
        lines += _findings_table(report.findings, with_account=True)
    lines += _least_privilege(report)
    if report.role_assumptions:
        lines += [
            "",
            "**Who assumes each role** (CloudTrail):",
            "",
            "| Account | Role | Verdict | Last assumed | Times | Assumed by |",
            "| --- | --- | --- | --- | ---: | --- |",
        ]
        for r in report.role_assumptions:
            lines.append(
                "| "
                + " | ".join(
                    _cell(v)
                    for v in (
                        r.account_id,
                        r.role_name,
                        r.verdict,
                        r.last_assumed[:10],
                        r.count,
                        callers_text(r.callers),
                    )
                )
                + " |"
            )
    if report.excluded:
        lines += ["", f"**Excluded ({len(report.excluded)}):**", ""]
        for rule, n in sorted(Counter(f.excluded_by or "" for f in report.excluded).items()):
            lines.append(f"- {n} × {_cell(rule)}")
    gaps = [c for c in report.coverage if c.status not in ("read", "skipped")]
    if gaps:
        lines += ["", "**Not fully read** (what depends on these is insufficient-evidence):", ""]
        for c in gaps:
            first = c.errors[0] if c.errors else {}
            lines.append(
                f"- {c.account_id} {_cell(c.source)}: {c.status}: "
                f"{_cell(first.get('operation'))} {_cell(first.get('message'))}"
            )
    if report.warnings:
        lines += ["", "**Warnings:**", ""]
        lines += [f"- {_cell(w)}" for w in report.warnings]
    if report.snapshot_digest:
        lines += ["", f"Evidence: snapshot manifest sha256 `{report.snapshot_digest}`"]
    return "\n".join(lines) + "\n"
