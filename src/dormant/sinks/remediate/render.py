"""Plans and journals for a person to review: plain text, every call shown."""

from __future__ import annotations

import textwrap

from .journal import APPLY, ROLLBACK, Journal
from .plan import Plan, Step


def _wrap(text: str, indent: str, width: int, more: str | None = None) -> list[str]:
    lines = textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=more if more is not None else indent,
        break_on_hyphens=False,
    )
    return lines or [indent]


def _step_lines(step: Step, width: int, document_chars: int) -> list[str]:
    out = [f"{step.number:>4}. {step.kind}  {step.summary}"]
    out += _wrap(f"why: {step.reason}", "        ", width)
    for call in step.calls:
        out += _wrap(call.text(document_chars), "        $ ", width, "            ")
    for note in step.notes:
        out += _wrap(f"note: {note}", "        ", width)
    out += _wrap(f"rollback: {step.rollback}", "        ", width)
    if step.finding_ids:
        out.append(f"        findings: {', '.join(step.finding_ids)}")
    return out


def plan_text(plan: Plan, *, width: int = 100, document_chars: int = 0) -> str:
    """The whole plan: reversible steps, irreversible ones apart, findings without a step."""
    reversible = [s for s in plan.steps if not s.irreversible]
    irreversible = [s for s in plan.steps if s.irreversible]
    src = plan.source
    out = [
        f"dormant remediation plan: {len(plan.steps)} step(s) ({len(reversible)} reversible, "
        f"{len(irreversible)} irreversible); {len(plan.no_step)} finding(s) without a step",
        f"made {plan.created_at} from {src.get('kind')} {src.get('path')} (evidence as of "
        f"{plan.as_of}); account(s) {', '.join(plan.account_ids) or '-'}",
        f"deletes keys {plan.settings.get('delete_keys_after_days')} days after deactivation and "
        f"roles {plan.settings.get('delete_roles_after_days')} days after quarantine",
        "",
        "Placeholders: {applied_at} and {applied_day} become the time the step is applied.",
        "",
        "Steps (apply makes these calls, in this order, each journaled first):",
    ]
    if not reversible:
        out.append("    none")
    for s in reversible:
        out += _step_lines(s, width, document_chars)
    out += ["", "Irreversible steps (apply needs --allow-irreversible; rollback cannot undo them):"]
    if not irreversible:
        out.append("    none")
    for s in irreversible:
        out += _step_lines(s, width, document_chars)
    out += ["", "No automatic step:"]
    if not plan.no_step:
        out.append("    none")
    for n in plan.no_step:
        what = f" {n.access_key_id}" if n.access_key_id else ""
        what += f" ({n.service})" if n.service else ""
        out += _wrap(
            f"- {n.finding_type}{what} of {n.principal_arn}"
            + (f" [{n.verdict}]" if n.verdict else "")
            + f": {n.reason}",
            "    ",
            width,
        )
    if plan.notes:
        out += ["", "Notes:"]
        for note in plan.notes:
            out += _wrap(f"- {note}", "    ", width)
    return "\n".join(out) + "\n"


def journal_text(journal: Journal, *, width: int = 100) -> str:
    """Every step's status, and every call apply and rollback made, with its state."""
    meta = journal.meta()
    out = [
        f"dormant remediation journal {journal.path}",
        f"plan {meta.get('plan_path')} (sha256 {meta.get('plan_sha256')}); account "
        f"{meta.get('account_id')}; created {meta.get('created_at')}",
        "",
        "Runs:",
    ]
    for run in journal.runs():
        out.append(
            f"    {run['run_id']}. {run['command']} {run['started_at']} .. "
            f"{run['finished_at'] or '(interrupted)'} by {run['caller_arn']}: "
            f"{run['outcome'] or 'unfinished'}"
        )
    out += ["", "Steps:"]
    for number, row in journal.steps().items():
        out.append(f"{number:>4}. {row.kind} {row.principal_arn}: {row.status}")
        if row.reason:
            out += _wrap(row.reason, "        ", width)
        for phase in (APPLY, ROLLBACK):
            for call in journal.calls(number, phase):
                from .calls import Call

                text = Call(call.operation, call.params).text(80)
                out += _wrap(f"{phase} {call.seq}: {text} [{call.state}]", "        ", width)
    return "\n".join(out) + "\n"
