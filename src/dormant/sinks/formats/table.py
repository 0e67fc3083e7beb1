"""The human table: findings per account, then what was excluded, then coverage gaps."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.rule import Rule
from rich.table import Table

from ...model import Finding, Report, Verdict
from . import accounts
from .accounts import gaps_summary

VERDICT_STYLE = {
    Verdict.UNUSED: "bold red",
    Verdict.NEVER_USED: "bold red",
    Verdict.USED: "yellow",
    Verdict.INSUFFICIENT_EVIDENCE: "magenta",
    Verdict.EXCLUDED: "dim",
}


def _day(value: str | None) -> str:
    return value[:10] if value else "never"


def _subject(f: Finding) -> str:
    if f.access_key_id:
        return f.access_key_id
    if f.key_slot:
        return f"key slot {f.key_slot}"
    return permission_subject(f)


def permission_subject(f: Finding) -> str:
    """What a permission finding is about, in a few words: ``sqs (all 20 granted)``,
    ``s3:CreateBucket``, ``s3 (1 not judged)``, ``(every permission)``."""
    n = len(f.details.get("actions") or ())
    if f.scope == "service":
        return f"{f.service} (all {n} granted)"
    if f.scope == "untracked":
        return f"{f.service} ({n} not judged)"
    if f.scope == "principal":
        return "(every permission)"
    return f.action or f.service or ""


MAX_ACTION_ROWS = 4
"""Action findings of one principal, service and verdict shown before the rest are counted in
one row (the JSON report lists every one)."""


def _collapsed(findings: list[Finding]) -> list[Finding | str]:
    """Findings in order, with long runs of action findings of one principal, service and
    verdict cut to :data:`MAX_ACTION_ROWS` and a row saying how many more there are."""
    out: list[Finding | str] = []
    runs: dict[tuple, int] = {}
    for f in findings:
        if f.scope != "action":
            out.append(f)
            continue
        key = (f.principal_arn, f.service, f.verdict)
        runs[key] = runs.get(key, 0) + 1
        total = sum(
            1
            for g in findings
            if g.scope == "action" and (g.principal_arn, g.service, g.verdict) == key
        )
        if runs[key] <= MAX_ACTION_ROWS or total <= MAX_ACTION_ROWS + 1:
            out.append(f)
        elif runs[key] == MAX_ACTION_ROWS + 1:
            out.append(
                f"{f.principal_name}\t... and {total - MAX_ACTION_ROWS} more {f.verdict} "
                f"{f.service} actions (every one is in the JSON report)"
            )
    return out


def _findings_table(findings: list[Finding]) -> Table:
    with_subject = any(_subject(f) for f in findings)
    permissions = any(f.scope for f in findings)
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    t.add_column("Principal", overflow="fold", max_width=40)
    if with_subject:
        t.add_column(
            "Permission" if permissions else "Credential", overflow="fold", no_wrap=not permissions
        )
    t.add_column("Verdict", no_wrap=True)
    t.add_column("Last used", no_wrap=True)
    t.add_column("Days", justify="right")
    t.add_column("Why", overflow="fold", ratio=1)
    for f in _collapsed(findings):
        if isinstance(f, str):
            name, text = f.split("\t", 1)
            t.add_row(escape(name), *([""] if with_subject else []), "", "", "", escape(text))
            continue
        last = (
            _day(f.last_used) if f.last_used or f.verdict != Verdict.INSUFFICIENT_EVIDENCE else "?"
        )
        row = [escape(f.principal_name)]
        if with_subject:
            row.append(escape(_subject(f)))
        why = f.reason
        if "access_analyzer" in f.details:
            why += f" [Access Analyzer: {f.details['access_analyzer']}]"
        row += [
            f"[{VERDICT_STYLE.get(f.verdict, '')}]{escape(str(f.verdict))}[/]",
            last,
            "" if f.days_unused is None else str(f.days_unused),
            escape(why),
        ]
        t.add_row(*row)
    return t


def least_privilege_lines(findings: list[Finding]) -> list[str]:
    """One line per policy change recommended, from the findings that carry them."""
    lines = []
    for f in findings:
        for rec in f.details.get("recommended_policies") or ():
            lines.append(
                f"{f.principal_name}: {rec['type']} policy {rec['policy']}: "
                f"{rec['recommendation']} ({len(rec['removed'])} action(s) removed)"
            )
    return lines


def callers_text(callers, limit: int = 3) -> str:
    """The most recent callers of a role, for one table cell."""
    shown = [f"{c['caller']} ({c['count']}×, {c['last_seen'][:10]})" for c in callers[:limit]]
    more = len(callers) - limit
    return "; ".join(shown) + (f"; +{more} more" if more > 0 else "")


def _assumptions_table(rows) -> Table:
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    t.add_column("Role", overflow="fold", max_width=40)
    t.add_column("Verdict", no_wrap=True)
    t.add_column("Last assumed", no_wrap=True)
    t.add_column("Times", justify="right")
    t.add_column("Assumed by (most recent first)", overflow="fold", ratio=1)
    for r in rows:
        style = VERDICT_STYLE.get(Verdict(r.verdict), "")
        t.add_row(
            escape(r.role_name),
            f"[{style}]{escape(r.verdict)}[/]",
            r.last_assumed[:10],
            str(r.count),
            escape(callers_text(r.callers)),
        )
    return t


STATUS_STYLE = {
    "complete": "",
    "incomplete": "magenta",
    "not-scanned": "bold white on red",
}
"""How each account scan status is shown; ``not-scanned`` stands out (and is upper-cased, so
it stands out without colour too)."""


def _status_cell(status: str) -> str:
    text = accounts.status_label(status)
    if status == "not-scanned":
        text = text.upper()
    style = STATUS_STYLE.get(status, "")
    return f"[{style}]{escape(text)}[/]" if style else escape(text)


def _status_summary(report: Report) -> str:
    return ", ".join(
        f"{n} {accounts.status_label(s)}" for s, n in accounts.status_counts(report).items()
    )


def _accounts_table(groups: list[accounts.AccountGroup]) -> Table:
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    t.add_column("Account", no_wrap=True)
    t.add_column("Name", overflow="fold", max_width=50)
    t.add_column("OU", overflow="fold", max_width=40)
    t.add_column("Status", no_wrap=True)
    t.add_column("Findings", justify="right")
    t.add_column("Gaps", overflow="fold", ratio=1)
    for g in groups:
        t.add_row(
            g.account_id,
            escape(g.info.account_name or ""),
            escape(g.info.ou_path or ""),
            _status_cell(g.status),
            str(len(g.findings)),
            escape(gaps_summary(g.info.scan_gaps)),
        )
    return t


def _account_body(console: Console, g: accounts.AccountGroup, *, show_gaps: bool = True) -> None:
    """An account's findings by type, who assumes its roles, what was excluded and what was not
    fully read."""
    mine = list(g.findings)
    for ftype in sorted({str(f.type) for f in mine}):
        group = [f for f in mine if str(f.type) == ftype]
        limits = sorted({f.threshold_days for f in group})
        console.print()
        console.print(
            f"  [bold]{escape(ftype)}[/] ({len(group)}; threshold "
            f"{'/'.join(str(d) for d in limits)} days)"
        )
        console.print(_findings_table(group))
        changes = least_privilege_lines(group)
        if changes:
            console.print(
                "  [bold]Least privilege[/] (the diffs are in the JSON report's "
                "details.policy_diff; `dormant recommend` writes the documents and commands):"
            )
            for line in changes:
                console.print(f"    {escape(line)}")
    assumed = g.role_assumptions
    if assumed:
        console.print()
        console.print(f"  [bold]Who assumes each role[/] (CloudTrail; {len(assumed)} role(s))")
        console.print(_assumptions_table(assumed))
    ex = g.excluded
    if ex:
        rules = Counter(f.excluded_by or "" for f in ex)
        console.print(f"Excluded ({len(ex)}):")
        for rule, n in sorted(rules.items()):
            console.print(f"  {n} × {escape(rule)}")
    if g.gaps and show_gaps:
        console.print(
            "[magenta]Not fully read[/] (what depends on these is "
            "insufficient-evidence, never unused):"
        )
        for c in g.gaps:
            first = c.errors[0] if c.errors else {}
            more = f" (+{len(c.errors) - 1} more)" if len(c.errors) > 1 else ""
            target = f" [{first.get('target')}]" if first.get("target") else ""
            console.print(
                f"  {escape(c.source)}: {escape(c.status)} — "
                f"{escape(str(first.get('operation', '')))}{escape(target)}: "
                f"{escape(str(first.get('message', '')))}{more}"
            )


def render(report: Report, *, color: bool = False, width: int = 160, **_: Any) -> str:
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
    values = set(report.thresholds.values())
    limits = (
        f"{values.pop()} days for every type"
        if len(values) == 1
        else ", ".join(f"{k} {v}d" for k, v in sorted(report.thresholds.items()))
    )
    console.print(
        f"[bold]dormant[/] report as of {escape(report.as_of)}, "
        f"{len(report.accounts)} account(s); thresholds: {escape(limits)}"
    )
    multi = accounts.is_multi(report)
    if multi:
        groups = accounts.groups(report)
        console.print()
        console.print(f"[bold]Accounts[/] ({_status_summary(report)})")
        console.print(_accounts_table(groups))
        for g in groups:
            console.print()
            console.print(Rule(f"[bold]{escape(accounts.heading(g.info))}[/]", align="left"))
            if g.status == "not-scanned":
                console.print(
                    f"{_status_cell(g.status)}: {len(g.findings)} finding(s); "
                    "what could not be read:"
                )
                for line in g.info.scan_gaps or ("(no reason recorded)",):
                    console.print(f"  {escape(line)}")
            else:
                console.print(f"{len(g.findings)} finding(s); scan {_status_cell(g.status)}")
            _account_body(console, g, show_gaps=g.status != "not-scanned")
    else:
        for acct in report.accounts:
            g = accounts.group(report, acct)
            console.print()
            console.print(
                f"[bold]Account {escape(accounts.label(acct))}[/]: {len(g.findings)} finding(s)"
            )
            _account_body(console, g)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}")
    by_verdict = Counter(str(f.verdict) for f in report.findings)
    assessed = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in report.assessed.items())
    console.print()
    console.print(
        f"{len(report.findings)} finding(s)"
        + (
            f" ({', '.join(f'{n} {v}' for v, n in sorted(by_verdict.items()))})"
            if by_verdict
            else ""
        )
        + f", {len(report.excluded)} excluded; assessed {assessed or 'nothing'}."
    )
    if multi:
        console.print(f"{len(report.accounts)} account(s): {_status_summary(report)}.")
    if report.snapshot_digest:
        console.print(f"Evidence: snapshot manifest sha256 {report.snapshot_digest}")
    return buf.getvalue()
