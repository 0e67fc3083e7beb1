"""The HTML audit report: one self-contained file an auditor can open anywhere.

- Nothing is fetched when it is viewed: styles and the small script are inline, charts are
  inline SVG drawn here from the data, and a Content-Security-Policy forbids every fetch and
  allows only the inline style and script whose SHA-256 hashes it names. So a value that slipped
  through escaping could still neither run a script nor load anything.
- Everything that comes from AWS (names, ARNs, tags, policy text, error messages) is text:
  Jinja2 autoescapes every value, and the chart code builds numbers and labels, never markup.
- Print-friendly: a print stylesheet drops the controls and shows every finding's evidence, so
  the printed or PDF copy can be filed as audit evidence. It names the evidence bundle's
  manifest hash, ``as_of`` and the tool version.
- Deterministic: the same report (and history) gives the same bytes; no rendering time.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

from ... import __version__
from ...model import Finding, Report, Verdict
from ...timeutil import parse_time
from . import accounts as accounts_mod
from . import charts
from .json_format import summary

CREDENTIAL_REPORT_MAX_AGE = dt.timedelta(hours=4)
"""AWS regenerates the credential report at most every 4 hours: older than that is stale."""


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@functools.cache
def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dormant.sinks.formats", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def _duration(delta: dt.timedelta) -> str:
    """A short human duration: ``0 min``, ``3 h 12 min``, ``5 d 4 h``."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def _age(when: str | None, as_of: dt.datetime) -> dict[str, Any] | None:
    """How long before ``as_of`` something was current."""
    if not when:
        return None
    delta = as_of - parse_time(when)
    text = _duration(delta)
    return {
        "when": when,
        "text": f"{text} before as_of" if delta >= dt.timedelta(0) else f"{text} after as_of",
        "seconds": int(delta.total_seconds()),
    }


def _subject(f: Finding) -> str:
    if f.access_key_id:
        return f.access_key_id
    if f.key_slot:
        return f"key slot {f.key_slot}"
    return f.action or f.service or ""


def _detail_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


_SPECIAL_DETAILS = ("tags", "assumed_by", "policy_diff")


def _diff_lines(text: str) -> list[dict[str, str]]:
    lines = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        lines.append({"kind": kind, "text": line})
    return lines


def _finding(f: Finding, account_labels: dict[str, str]) -> dict[str, Any]:
    details = f.details or {}
    tags = details.get("tags") if isinstance(details.get("tags"), dict) else {}
    assumed = details.get("assumed_by")
    assumed_by = (
        [
            {
                "caller": str(a.get("caller", "")),
                "kind": str(a.get("kind", "")),
                "last_seen": str(a.get("last_seen") or ""),
                "count": a.get("count", ""),
            }
            for a in assumed
            if isinstance(a, dict)
        ]
        if isinstance(assumed, list)
        else []
    )
    diff = details.get("policy_diff")
    subject = _subject(f)
    search = " ".join(
        x
        for x in (
            f.principal_name,
            f.principal_arn,
            subject,
            f.account_id,
            account_labels.get(f.account_id, ""),
            str(f.type),
            str(f.verdict),
            f.reason,
            " ".join(f"{k}={v}" for k, v in tags.items()),
        )
        if x
    ).casefold()
    return {
        "f": f,
        "id": f.id,
        "type": str(f.type),
        "verdict": str(f.verdict),
        "subject": subject,
        "last_day": f.last_used[:10] if f.last_used else "",
        "search": search,
        "tags": sorted((str(k), str(v)) for k, v in tags.items()),
        "assumed_by": assumed_by,
        "policy_diff": _diff_lines(diff) if isinstance(diff, str) and diff else [],
        "other_details": [
            (str(k), _detail_value(v))
            for k, v in sorted(details.items())
            if k not in _SPECIAL_DETAILS and v not in (None, "", [], {})
        ],
        "account_label": account_labels.get(f.account_id, f.account_id),
    }


def context(report: Report, history: Sequence[Any] | None = None) -> dict[str, Any]:
    """Everything the template shows, computed from the report (and the history trend)."""
    as_of = parse_time(report.as_of)
    account_labels = {
        a.account_id: a.account_id + (f" ({a.account_name})" if a.account_name else "")
        for a in report.accounts
    }
    for f in (*report.findings, *report.excluded):
        account_labels.setdefault(f.account_id, f.account_id)
    accounts = []
    for a in sorted(report.accounts, key=lambda a: a.account_id):
        report_age = _age(a.credential_report_generated_at, as_of)
        accounts.append(
            {
                "a": a,
                "label": account_labels[a.account_id],
                "evidence_age": _age(a.collected_at, as_of),
                "report_age": report_age,
                "report_stale": bool(
                    report_age and report_age["seconds"] > CREDENTIAL_REPORT_MAX_AGE.total_seconds()
                ),
                "findings": sum(1 for f in report.findings if f.account_id == a.account_id),
                "excluded": sum(1 for f in report.excluded if f.account_id == a.account_id),
            }
        )
    summ = summary(report)
    by_verdict = [
        (str(v), summ["by_verdict"].get(str(v), 0))
        for v in charts.VERDICT_ORDER
        if summ["by_verdict"].get(str(v))
    ]
    gaps = [c for c in report.coverage if c.status not in ("read", "skipped")]
    names = {f.id: f for f in (*report.findings, *report.excluded)}
    open_ids = {f.id for f in report.findings}
    exceptions = [
        {
            "e": e,
            "matched": [
                {
                    "id": fid,
                    "name": names[fid].principal_name if fid in names else fid,
                    "type": str(names[fid].type) if fid in names else "",
                    "open": fid in open_ids,
                }
                for fid in e.matched
            ],
        }
        for e in report.exceptions
    ]
    multi = accounts_mod.is_multi(report)
    ordered = report.findings
    if multi:
        # Grouped by account (the report's order within each), so every account's findings
        # follow its heading.
        ordered = tuple(sorted(report.findings, key=lambda f: f.account_id))
    findings = [_finding(f, account_labels) for f in ordered]
    account_groups = [
        {
            "g": g,
            "id": g.account_id,
            "name": g.info.account_name or "",
            "ou": g.info.ou_path or "",
            "label": accounts_mod.label(g.info),
            "heading": accounts_mod.heading(g.info),
            "status": g.status,
            "status_label": g.status_label,
            "gaps": list(g.info.scan_gaps),
            "findings": len(g.findings),
            "excluded": len(g.excluded),
        }
        for g in accounts_mod.groups(report)
    ]
    per_account = charts.stacked_bars(
        [
            (account_labels[a], [f for f in report.findings if f.account_id == a])
            for a in dict.fromkeys([*report.account_ids, *(f.account_id for f in report.findings)])
        ]
    )
    per_type = charts.stacked_bars(
        [
            (t, [f for f in report.findings if str(f.type) == t])
            for t in sorted({str(f.type) for f in report.findings})
        ]
    )
    return {
        "report": report,
        "version": __version__,
        "summary": summ,
        "by_verdict": by_verdict,
        "by_type": sorted(summ["by_type"].items()),
        "accounts": accounts,
        "multi": multi,
        "account_groups": account_groups,
        "groups_by_id": {a["id"]: a for a in account_groups},
        "not_scanned": [a for a in account_groups if a["status"] == "not-scanned"],
        "status_counts": [
            (s, accounts_mod.status_label(s), n)
            for s, n in accounts_mod.status_counts(report).items()
        ],
        "gaps": gaps,
        "coverage": report.coverage,
        "exceptions": exceptions,
        "expired": sum(1 for e in report.exceptions if e.expired),
        "findings": findings,
        "excluded": [_finding(f, account_labels) for f in report.excluded],
        "types": sorted({x["type"] for x in findings}),
        "verdicts": [
            str(v) for v in charts.VERDICT_ORDER if any(x["f"].verdict == v for x in findings)
        ],
        "account_options": sorted(
            {(f.account_id, account_labels[f.account_id]) for f in report.findings}
        ),
        "histograms": charts.histograms(report.findings),
        "timeline": charts.timeline(report.findings, report.as_of),
        "per_account": per_account,
        "per_type": per_type,
        "trend": charts.trend(list(history or ()), account_labels),
        "history_on": history is not None,
        "thresholds": sorted(report.thresholds.items()),
        "insufficient": Verdict.INSUFFICIENT_EVIDENCE,
    }


def render(report: Report, *, history: Sequence[Any] | None = None, **_: Any) -> str:
    """The report as one HTML document.

    ``history``: the trend of open findings over past runs of the report's accounts, oldest
    first (``dormant.history.TrendPoint``: ``run_id``, ``as_of``, ``counts`` by account); None
    when history is off, which the report says.
    """
    css = _asset("report.css")
    js = _asset("report.js")
    csp = (
        "default-src 'none'; "
        f"style-src {_csp_hash(css)}; "
        f"script-src {_csp_hash(js)}; "
        "img-src 'none'; font-src 'none'; connect-src 'none'; media-src 'none'; "
        "object-src 'none'; frame-src 'none'; worker-src 'none'; manifest-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )
    template = _environment().get_template("report.html.j2")
    return template.render(csp=csp, css=css, js=js, **context(report, history))
