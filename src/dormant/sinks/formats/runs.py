"""``dormant history`` and ``dormant diff``: the recorded runs, and what changed between two."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ...history import Change, Diff, Run

RUN_FORMATS = ("table", "json")


def _console(buf: io.StringIO, width: int) -> Console:
    return Console(
        file=buf,
        width=width,
        force_terminal=False,
        no_color=True,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )


def _verdicts(run: Run) -> str:
    return ", ".join(f"{n} {v}" for v, n in run.counts.get("by_verdict", {}).items())


def render_runs(runs: Sequence[Run], fmt: str, *, width: int = 160, **_: Any) -> str:
    if fmt == "json":
        return json.dumps({"runs": [r.to_json() for r in runs]}, indent=2) + "\n"
    buf = io.StringIO()
    console = _console(buf, width)
    if not runs:
        console.print("No recorded runs.")
        return buf.getvalue()
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    t.add_column("Run", justify="right")
    t.add_column("Recorded at", no_wrap=True)
    t.add_column("As of", no_wrap=True)
    t.add_column("Command")
    t.add_column("Accounts", overflow="fold")
    t.add_column("Findings", justify="right")
    t.add_column("Excluded", justify="right")
    t.add_column("Verdicts", overflow="fold")
    t.add_column("Evidence", no_wrap=True)
    for r in runs:
        t.add_row(
            str(r.run_id),
            escape(r.recorded_at[:19]),
            escape(r.as_of[:19]),
            escape(r.command),
            escape(", ".join(r.accounts)),
            str(r.findings),
            str(r.excluded),
            escape(_verdicts(r)),
            escape((r.snapshot_digest or "")[:12]),
        )
    console.print(t)
    return buf.getvalue()


def _changes_table(changes: Sequence[Change], *, note: bool) -> Table:
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    t.add_column("Account", no_wrap=True)
    t.add_column("Type", no_wrap=True)
    t.add_column("Principal", overflow="fold", max_width=40)
    t.add_column("Credential", no_wrap=True)
    t.add_column("Verdict", no_wrap=True)
    t.add_column("Days", justify="right")
    if note:
        t.add_column("Note")
    for c in changes:
        rec = c.current
        if c.before and c.after and c.before.verdict != c.after.verdict:
            verdict = f"{c.before.verdict} → {c.after.verdict}"
        else:
            verdict = rec.verdict
        row = [
            rec.account_id,
            escape(rec.type),
            escape(rec.principal_name),
            escape(rec.access_key_id or ""),
            escape(verdict),
            "" if rec.days_unused is None else str(rec.days_unused),
        ]
        if note:
            row.append(escape(c.note or ""))
        t.add_row(*row)
    return t


def render_diff(diff: Diff, fmt: str, *, width: int = 160, **_: Any) -> str:
    if fmt == "json":
        return json.dumps(diff.to_json(), indent=2) + "\n"
    buf = io.StringIO()
    console = _console(buf, width)
    a, b = diff.before, diff.after
    console.print(
        f"Run {a.run_id} (as of {escape(a.as_of)}) → run {b.run_id} (as of {escape(b.as_of)}); "
        f"accounts {escape(', '.join(diff.accounts))}"
    )
    console.print(
        f"{len(diff.new)} new, {len(diff.resolved)} resolved, {len(diff.recurring)} recurring"
    )
    for title, changes, note in (
        ("New", diff.new, False),
        ("Resolved", diff.resolved, True),
        ("Recurring", diff.recurring, False),
    ):
        console.print()
        console.print(f"[bold]{title}[/] ({len(changes)})")
        if changes:
            console.print(_changes_table(changes, note=note))
    return buf.getvalue()
