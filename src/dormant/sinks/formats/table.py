"""The human table: findings per account, then what was excluded, then coverage gaps."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ...model import Finding, Report, Verdict

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
    if f.action:
        return f.action
    if f.service:
        return f.service
    return ""


def _findings_table(findings: list[Finding]) -> Table:
    with_subject = any(_subject(f) for f in findings)
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    t.add_column("Principal", overflow="fold", max_width=40)
    if with_subject:
        t.add_column("Credential", overflow="fold", no_wrap=True)
    t.add_column("Verdict", no_wrap=True)
    t.add_column("Last used", no_wrap=True)
    t.add_column("Days", justify="right")
    t.add_column("Why", overflow="fold", ratio=1)
    for f in findings:
        last = (
            _day(f.last_used) if f.last_used or f.verdict != Verdict.INSUFFICIENT_EVIDENCE else "?"
        )
        row = [escape(f.principal_name)]
        if with_subject:
            row.append(escape(_subject(f)))
        row += [
            f"[{VERDICT_STYLE.get(f.verdict, '')}]{escape(str(f.verdict))}[/]",
            last,
            "" if f.days_unused is None else str(f.days_unused),
            escape(f.reason),
        ]
        t.add_row(*row)
    return t


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
    for acct in report.accounts:
        mine = [f for f in report.findings if f.account_id == acct.account_id]
        label = acct.account_id + (f" ({acct.account_name})" if acct.account_name else "")
        console.print()
        console.print(f"[bold]Account {escape(label)}[/]: {len(mine)} finding(s)")
        for ftype in sorted({str(f.type) for f in mine}):
            group = [f for f in mine if str(f.type) == ftype]
            limits = sorted({f.threshold_days for f in group})
            console.print()
            console.print(
                f"  [bold]{escape(ftype)}[/] ({len(group)}; threshold "
                f"{'/'.join(str(d) for d in limits)} days)"
            )
            console.print(_findings_table(group))
        ex = [f for f in report.excluded if f.account_id == acct.account_id]
        if ex:
            rules = Counter(f.excluded_by or "" for f in ex)
            console.print(f"Excluded ({len(ex)}):")
            for rule, n in sorted(rules.items()):
                console.print(f"  {n} × {escape(rule)}")
        gaps = [
            c
            for c in report.coverage
            if c.account_id == acct.account_id and c.status not in ("read", "skipped")
        ]
        if gaps:
            console.print(
                "[magenta]Not fully read[/] (what depends on these is "
                "insufficient-evidence, never unused):"
            )
            for c in gaps:
                first = c.errors[0] if c.errors else {}
                more = f" (+{len(c.errors) - 1} more)" if len(c.errors) > 1 else ""
                target = f" [{first.get('target')}]" if first.get("target") else ""
                console.print(
                    f"  {escape(c.source)}: {escape(c.status)} — "
                    f"{escape(str(first.get('operation', '')))}{escape(target)}: "
                    f"{escape(str(first.get('message', '')))}{more}"
                )
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
    if report.snapshot_digest:
        console.print(f"Evidence: snapshot manifest sha256 {report.snapshot_digest}")
    return buf.getvalue()
