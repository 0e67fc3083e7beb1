"""Least-privilege recommendations as files and text: the sink of ``dormant recommend``.

It presents what the judge planned (:func:`dormant.judge.least_privilege`); it decides nothing
and calls no AWS API. Layout of the output directory::

    recommendations.json                 every principal: its policies, what to do, files, commands
    commands.sh                          every command, once, in order (dormant runs none)
    <account>/<role|user|group>-<name>/  rewritten inline policies, AWS-managed replacements
    <account>/policy-<name>/             new versions of customer-managed policies

A shared policy (a group's, a customer-managed one) is written once, however many principals it
applies to: a second ``create-policy-version`` would make a second version.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

from ..iam.rewrite import Recommendation as Action
from ..iam.rewrite import RewritePlan, WrittenDocument, write_documents
from ..judge import PrincipalPlan
from ..judge.permissions import PolicyPlan, diff_text
from ..timeutil import iso

INDEX = "recommendations.json"
COMMANDS = "commands.sh"


@dataclass
class Written:
    """What :func:`write` wrote."""

    root: pathlib.Path
    files: dict[tuple[str, ...], list[WrittenDocument]] = field(default_factory=dict)
    """By policy (and, unless a new version, attachment): the documents and their commands."""
    commands: list[str] = field(default_factory=list)
    principals: int = 0
    """Principals with at least one policy to change."""

    @property
    def policies(self) -> int:
        return len(self.files)


def _folder(plan: PolicyPlan) -> tuple[tuple[str, ...], str]:
    pol = plan.policy
    if plan.rewrite is not None and plan.rewrite.recommendation is Action.NEW_VERSION:
        return (pol.key,), f"policy-{pol.name}"
    resource = pol.owner.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    return (pol.key, pol.owner), f"{kind}-{rest.rsplit('/', 1)[-1]}"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9+=,.@_-]", "_", text)[:128]


def _commands(written: list[WrittenDocument], account_id: str) -> list[str]:
    return [c.replace("ACCOUNT_ID", account_id) for w in written for c in w.commands]


def write(
    plans: list[PrincipalPlan],
    out: pathlib.Path | str,
    *,
    as_of: dt.datetime,
    threshold_days: int,
) -> Written:
    """Write every changed policy's documents, the commands and the index under ``out``."""
    root = pathlib.Path(out)
    root.mkdir(parents=True, exist_ok=True)
    written = Written(root)
    index: list[dict[str, Any]] = []
    for pp in plans:
        entry: dict[str, Any] = {
            "account_id": pp.account_id,
            "principal_arn": pp.principal.arn,
            "principal_name": pp.principal.name,
            "principal_type": str(pp.principal.type),
            "skipped": pp.skipped,
            "policies": [],
        }
        if pp.changed:
            written.principals += 1
        for plan in pp.plans:
            item = plan.to_json()
            if plan.changed and plan.rewrite is not None:
                key, folder = _folder(plan)
                if key not in written.files:
                    threshold = dt.timedelta(days=threshold_days)
                    rp = RewritePlan(as_of, threshold, (plan.rewrite,), {}, ())
                    docs = write_documents(rp, root / pp.account_id / _safe(folder))
                    written.files[key] = docs
                    written.commands.extend(_commands(docs, pp.account_id))
                docs = written.files[key]
                item["files"] = [str(d.path) for d in docs if d.path.suffix == ".json"]
                item["commands"] = _commands(docs, pp.account_id)
            entry["policies"].append(item)
        index.append(entry)
    doc = {
        "as_of": iso(as_of),
        "threshold_days": threshold_days,
        "principals": index,
    }
    (root / INDEX).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    script = [
        "#!/bin/sh",
        "# dormant's least-privilege recommendations: review each change, then run the lines",
        "# you agree with, from the directory dormant recommend was run in. dormant runs none.",
        "set -eu",
        *dict.fromkeys(written.commands),
    ]
    (root / COMMANDS).write_text("\n".join(script) + "\n", encoding="utf-8")
    return written


def render_text(plans: list[PrincipalPlan], written: Written, *, diffs: bool = True) -> str:
    """A readable account of the recommendations: per principal, each change, its files and
    commands, and its diff; then the principals left alone and why."""
    lines: list[str] = []
    unchanged = 0
    for pp in plans:
        if pp.skipped:
            continue
        changed = pp.changed
        if not changed:
            unchanged += 1
            continue
        lines.append(f"{pp.principal.type} {pp.principal.name} ({pp.principal.arn})")
        for plan in changed:
            r = plan.rewrite
            assert r is not None
            key, _ = _folder(plan)
            docs = written.files.get(key, [])
            lines.append(
                f"  {plan.policy.kind} policy {plan.policy.name}: {r.recommendation}, "
                f"{len(r.removed)} action(s) removed, {len(r.kept_insufficient)} kept that the "
                f"evidence cannot judge (judged with the Access Advisor report of "
                f"{plan.judged_with})"
            )
            for note in r.notes:
                lines.append(f"    note: {note}")
            for d in docs:
                if d.path.suffix == ".json":
                    lines.append(f"    file: {d.path}")
            for c in _commands(docs, pp.account_id):
                lines.append(f"    $ {c}")
        if diffs:
            lines.extend("    " + line for line in diff_text(list(changed)).splitlines())
        lines.append("")
    kept = [
        (pp, p) for pp in plans if not pp.skipped for p in pp.plans if p.rewrite is None and p.note
    ]
    if kept:
        lines.append("Kept as they are (the evidence cannot judge them):")
        for pp, p in kept:
            lines.append(f"  {pp.principal.type} {pp.principal.name}: {p.policy.name}: {p.note}")
        lines.append("")
    skipped = [pp for pp in plans if pp.skipped]
    if skipped:
        lines.append("Not trimmed:")
        for pp in skipped:
            lines.append(f"  {pp.principal.type} {pp.principal.name}: {pp.skipped}")
        lines.append("")
    lines.append(
        f"{written.principals} principal(s) with permissions to remove, {written.policies} "
        f"policy change(s); {unchanged} principal(s) with nothing the evidence allows removing. "
        f"Files and commands in {written.root}/ ({COMMANDS}, {INDEX})."
    )
    return "\n".join(lines) + "\n"


__all__ = ["COMMANDS", "INDEX", "Written", "render_text", "write"]
