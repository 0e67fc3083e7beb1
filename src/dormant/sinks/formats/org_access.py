"""Formats of the organization access report (``dormant org access-report``): table, json,
markdown and csv. None judges anything; the JSON is the contract documented by
docs/schema/org-access-report.v1.json."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from ...judge.org_access import SUGGESTION_LABEL, EntityResult, OrgAccessResult
from ...model import Verdict

FORMAT_NAMES = ("table", "json", "markdown", "csv")

CSV_COLUMNS = (
    "entity_path",
    "entity_kind",
    "entity_id",
    "entity_name",
    "status",
    "namespace",
    "service_name",
    "verdict",
    "last_authenticated",
    "days_since_last_authenticated",
    "region",
    "last_entity_path",
    "total_authenticated_entities",
    "job_completion_date",
    "threshold_days",
    "reason",
)


def render(result: OrgAccessResult, fmt: str) -> str:
    try:
        fn = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}") from None
    return fn(result)


def render_json(result: OrgAccessResult) -> str:
    return json.dumps(result.to_json(), indent=2, sort_keys=False) + "\n"


def _label(e: EntityResult) -> str:
    name = f" ({e.entity.name})" if e.entity.name else ""
    return f"{e.entity.kind} {e.entity.id}{name}"


def _day(value: str | None) -> str:
    return value[:10] if value else "never"


def _not_used(e: EntityResult) -> list[dict[str, Any]]:
    doc = e.to_json()
    return [s for s in doc["services"] if s["verdict"] != str(Verdict.USED)]


def _scp_text(e: EntityResult) -> str:
    assert e.recommendation is not None
    return json.dumps(e.recommendation.document, indent=2)


def render_table(result: OrgAccessResult) -> str:
    out = io.StringIO()
    doc = result.to_json()
    org = doc["organization"]
    policy = f", SCP {doc['policy']['id']}" if doc["policy"] else ""
    out.write(
        f"Organization {org['id']} (management account {org['management_account_id']}{policy}), "
        f"threshold {doc['threshold_days']} days, as of {doc['as_of']}\n"
    )
    for e in result.entities:
        d = e.to_json()
        ev = d["evidence"]
        s = d["summary"]
        out.write(f"\n{_label(e)}  {e.entity.path}\n")
        if not e.complete:
            err = d["error"]
            cause = f": {err['code']}: {err['message']}" if err else ""
            out.write(f"  status: {e.status}{cause}\n  {d['no_recommendation_reason']}\n")
            if e.status == "no-data-for-policy":
                out.write(f"  ({len(e.services)} services listed, all insufficient-evidence)\n")
            continue
        out.write(
            f"  report {ev['job_id']} completed {ev['job_completion_date']}: "
            f"{ev['number_of_services_accessible']} services allowed, "
            f"{ev['number_of_services_not_accessed']} not accessed in the tracking period\n"
            f"  used {s['used']}, unused {s['unused']}, never used {s['never_used']}, "
            f"insufficient evidence {s['insufficient_evidence']}\n"
        )
        rows = _not_used(e)
        if rows:
            width = max(len(r["namespace"]) for r in rows)
            vwidth = max(len(r["verdict"]) for r in rows)
            for r in rows:
                out.write(
                    f"    {r['namespace']:<{width}}  {r['verdict']:<{vwidth}}  "
                    f"{_day(r['last_authenticated']):<10}  {r['name']}\n"
                )
        for w in e.warnings:
            out.write(f"  warning: {w}\n")
        if e.recommendation is not None:
            n = len(e.recommendation.namespaces)
            out.write(f"  Suggested SCP, a suggestion to review: deny these {n} services\n")
            for line in _scp_text(e).splitlines():
                out.write(f"    {line}\n")
        elif e.no_recommendation_reason:
            out.write(f"  no SCP suggestion: {e.no_recommendation_reason}\n")
    total = doc["summary"]
    out.write(
        f"\n{total['entities']} entities, {total['not_complete']} without a complete report; "
        f"{total['unused'] + total['never_used']} unused services found.\n"
    )
    if any(e.recommendation for e in result.entities):
        out.write(f"{SUGGESTION_LABEL}\n")
    for w in result.warnings:
        out.write(f"warning: {w}\n")
    return out.getvalue()


def _md(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def render_markdown(result: OrgAccessResult) -> str:
    doc = result.to_json()
    org = doc["organization"]
    lines = [
        "# Organization access report",
        "",
        f"Organization `{org['id']}`, management account `{org['management_account_id']}`"
        + (f", SCP `{doc['policy']['id']}`" if doc["policy"] else "")
        + f"; threshold {doc['threshold_days']} days; as of {doc['as_of']}.",
        "",
    ]
    for note in doc["tracking"]["notes"]:
        lines.append(f"> {note}")
    for e in result.entities:
        d = e.to_json()
        ev = d["evidence"]
        lines += ["", f"## {_md(_label(e))}", "", f"Entity path: `{e.entity.path}`", ""]
        if not e.complete:
            err = d["error"]
            cause = f" ({_md(err['code'])}: {_md(err['message'])})" if err else ""
            lines.append(f"**Status: {e.status}**{cause}. {_md(d['no_recommendation_reason'])}")
            continue
        lines += [
            f"Report `{ev['job_id']}` completed {ev['job_completion_date']}: "
            f"{ev['number_of_services_accessible']} services allowed, "
            f"{ev['number_of_services_not_accessed']} not accessed.",
            "",
            "| Service | Name | Verdict | Last attempt | Days | From |",
            "|---|---|---|---|---|---|",
        ]
        for s in d["services"]:
            days = s["days_since_last_authenticated"]
            lines.append(
                f"| `{_md(s['namespace'])}` | {_md(s['name'])} | {s['verdict']} | "
                f"{_day(s['last_authenticated'])} | {'' if days is None else days} | "
                f"{_md(s['last_entity_path'])} |"
            )
        for w in e.warnings:
            lines += ["", f"Warning: {_md(w)}"]
        if e.recommendation is not None:
            rec = d["recommendation"]
            lines += [
                "",
                f"**Suggested SCP** ({_md(rec['label'])})",
                "",
                _md(rec["scope"]),
                "",
                "```json",
                _scp_text(e),
                "```",
            ]
            for w in rec["warnings"]:
                lines.append(f"- Warning: {_md(w)}")
        elif e.no_recommendation_reason:
            lines += ["", f"No SCP suggestion: {_md(e.no_recommendation_reason)}."]
    if result.warnings:
        lines += ["", "## Warnings", ""]
        lines += [f"- {_md(w)}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def render_csv(result: OrgAccessResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in result.entities:
        d = e.to_json()
        base = {
            "entity_path": e.entity.path,
            "entity_kind": e.entity.kind,
            "entity_id": e.entity.id,
            "entity_name": e.entity.name,
            "status": e.status,
            "job_completion_date": d["evidence"]["job_completion_date"],
            "threshold_days": result.threshold_days,
        }
        if not d["services"]:
            err = d["error"]
            reason = f"{err['code']}: {err['message']}" if err else d["no_recommendation_reason"]
            row = dict(base, reason=reason)
            writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS])
            continue
        for s in d["services"]:
            row = dict(
                base,
                namespace=s["namespace"],
                service_name=s["name"],
                verdict=s["verdict"],
                last_authenticated=s["last_authenticated"],
                days_since_last_authenticated=s["days_since_last_authenticated"],
                region=s["region"],
                last_entity_path=s["last_entity_path"],
                total_authenticated_entities=s["total_authenticated_entities"],
                reason=s["reason"],
            )
            writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS])
    return out.getvalue()


FORMATS: dict[str, Callable[[OrgAccessResult], str]] = {
    "table": render_table,
    "json": render_json,
    "markdown": render_markdown,
    "csv": render_csv,
}


__all__ = ["CSV_COLUMNS", "FORMATS", "FORMAT_NAMES", "render"]
