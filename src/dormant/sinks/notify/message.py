"""The words of a notification: a plain-text e-mail (SNS) and a Slack message, from a
:class:`Notice`. Pure.

Both say, in this order: what happened (new, reminders, resolved, or a digest), whether the run
is partial, counts by type, the most urgent findings with what to do, what was resolved,
what could not be read, and where the full report is.
"""

from __future__ import annotations

from collections import Counter

from ...model import Finding, Verdict
from ..labels import label, title, urgency
from . import Notice

SUBJECT_MAX = 99
"""SNS subjects must be under 100 characters."""


def _accounts(n: Notice) -> str:
    if len(n.accounts) == 1:
        a = n.accounts[0]
        return a.account_id + (f" ({a.account_name})" if a.account_name else "")
    return f"{len(n.accounts)} accounts"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def headline(n: Notice) -> str:
    """One sentence: what this notification is about."""
    deactivated = sum(1 for line in n.remediation if line.startswith("deactivated "))
    if n.digest:
        what = f"weekly digest: {_plural(len(n.open), 'open finding')}"
        if n.new:
            what += f", {len(n.new)} new"
    else:
        parts = []
        if n.new:
            parts.append(f"{len(n.new)} new")
        if n.reminders:
            parts.append(_plural(len(n.reminders), "reminder"))
        if n.resolved:
            parts.append(f"{len(n.resolved)} resolved")
        what = ", ".join(parts) if parts else "nothing new"
    if deactivated:
        what += f"; {_plural(deactivated, 'key')} deactivated"
    return f"{what} in {_accounts(n)}"


def subject(n: Notice) -> str:
    """The e-mail subject: ASCII, one line, under 100 characters."""
    text = ("[PARTIAL] " if n.partial else "") + "dormant: " + headline(n)
    text = text.encode("ascii", "replace").decode("ascii")
    text = " ".join(text.split())
    if len(text) > SUBJECT_MAX:
        text = text[: SUBJECT_MAX - 3].rstrip() + "..."
    return text


def _day(value: str | None) -> str:
    return value[:10] if value else "never"


def _state_line(f: Finding) -> str:
    """The verdict and the dates behind it, in a few words."""
    days = f"{f.days_unused} days" if f.days_unused is not None else "unknown days"
    if f.verdict == Verdict.INSUFFICIENT_EVIDENCE:
        return "insufficient evidence: a person must check it"
    if f.verdict == Verdict.NEVER_USED:
        return f"never used since created {_day(f.created)} ({days}; threshold {f.threshold_days})"
    if f.last_used:
        return (
            f"{f.verdict}: last used {_day(f.last_used)} ({days} ago; threshold {f.threshold_days})"
        )
    return f"{f.verdict}: no recorded use (threshold {f.threshold_days})"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _by_type(findings: tuple[Finding, ...]) -> list[tuple[str, int]]:
    return sorted(Counter(str(f.type) for f in findings).items())


def _top(findings: tuple[Finding, ...], limit: int) -> tuple[list[Finding], int]:
    ranked = sorted(findings, key=urgency)
    return ranked[:limit], max(0, len(ranked) - limit)


# ------------------------------------------------------------------------ plain text


def _text_finding(f: Finding, n: Notice, since: bool) -> list[str]:
    lines = [f"  [{label(f)}] {title(f)}", f"      {_state_line(f)}"]
    if since and f.id in n.first_seen:
        lines[-1] += f"; reported since {_day(n.first_seen[f.id])}"
    lines.append(f"      {f.principal_arn}")
    lines.append(f"      Why: {_clip(f.reason, 300)}")
    if f.recommendation:
        lines.append(f"      What to do: {_clip(f.recommendation.summary, 300)}")
    return lines


def email_body(n: Notice, max_listed: int) -> str:
    """The plain-text message: readable in any mail client, no markup."""
    out = [f"dormant: {headline(n)}.", ""]
    if n.partial:
        out += [
            "PARTIAL RUN: " + n.partial + ". What was read is saved and judged; findings "
            "that depend on what was not read are insufficient-evidence, and nothing was "
            "marked resolved.",
            "",
        ]
    out.append(f"Evaluated as of {n.as_of}; run {n.run_id}.")
    out.append("")
    if n.open:
        out.append(f"Open findings by type ({len(n.open)} in all):")
        out += [f"  {t:<28} {c:>5}" for t, c in _by_type(n.open)]
    else:
        out.append("No open findings.")
    out.append("")
    sections = []
    if n.digest:
        sections.append(("Every open finding, most urgent first", n.open, True))
    else:
        if n.new:
            sections.append(("New", n.new, False))
        if n.reminders:
            heading = f"Still open, {n.reminder_days}+ days after the last notice"
            sections.append((heading, n.reminders, True))
    for heading, findings, since in sections:
        top, rest = _top(findings, max_listed)
        out.append(f"{heading} ({len(findings)}):")
        for f in top:
            out += _text_finding(f, n, since)
        if rest:
            out.append(f"  ... and {rest} more in the report.")
        out.append("")
    if n.resolved:
        out.append(f"Resolved since the last run ({len(n.resolved)}):")
        for r in n.resolved[:max_listed]:
            what = f" {r.access_key_id}" if r.access_key_id else ""
            out.append(f"  {r.type}{what} of {r.principal_name}: {r.reason}")
        if len(n.resolved) > max_listed:
            out.append(f"  ... and {len(n.resolved) - max_listed} more.")
        out.append("")
    if n.remediation:
        out.append("Changed by dormant in this run (AUTO_DEACTIVATE_KEYS is on):")
        out += [f"  {line}" for line in n.remediation]
        if n.remediation_journal:
            out.append(f"  journal: {n.remediation_journal}")
            out.append(
                "  undo: download it and run: dormant remediate rollback journal.sqlite --apply"
            )
        out.append("")
    if n.gaps:
        out.append("Not fully read (what depends on it is insufficient-evidence):")
        out += [f"  {g}" for g in n.gaps]
        out.append("")
    if n.problems:
        out.append("Problems in this run:")
        out += [f"  {p}" for p in n.problems]
        out.append("")
    if n.report_url:
        out.append(f"Report: {n.report_url}")
        if n.other_reports:
            out.append(f"  beside it: {', '.join(n.other_reports)}")
        if n.console_url:
            out.append(f"  in the S3 console: {n.console_url}")
    else:
        out.append("The reports of this run were not saved (see the problems above).")
    return "\n".join(out).rstrip() + "\n"


def email(n: Notice, max_listed: int, max_bytes: int) -> tuple[str, str]:
    """(subject, body) with the body under ``max_bytes`` UTF-8 bytes: fewer findings are
    listed until it fits."""
    limit = max_listed
    while True:
        body = email_body(n, limit)
        if len(body.encode()) <= max_bytes or limit == 0:
            break
        limit //= 2
    data = body.encode()
    if len(data) > max_bytes:  # pathological: cut the text itself
        body = data[: max_bytes - 64].decode("utf-8", "ignore") + "\n[cut to fit]\n"
    return subject(n), body


# ---------------------------------------------------------------------------- slack


def _esc(text: str) -> str:
    """Slack's three control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(n: Notice, max_listed: int) -> str:
    """A Slack message in mrkdwn, for an incoming webhook's ``text``."""
    out = [f"*dormant*: {_esc(headline(n))}"]
    if n.partial:
        out.append(f":warning: *Partial run*: {_esc(n.partial)}. Nothing was marked resolved.")
    if n.open:
        counts = ", ".join(f"{t} {c}" for t, c in _by_type(n.open))
        out.append(f"Open: {len(n.open)} ({_esc(counts)})")
    findings = n.open if n.digest else n.new + n.reminders
    top, rest = _top(findings, max_listed)
    new, reminded = {f.id for f in n.new}, {f.id for f in n.reminders}
    for f in top:
        tag = "reminder" if f.id in reminded else ("new" if f.id in new else "open")
        out.append(
            f"• `{label(f)}` {_esc(title(f))} — {_esc(_state_line(f))} ({tag})"
            + (
                f"\n      _{_esc(_clip(f.recommendation.summary, 200))}_"
                if f.recommendation
                else ""
            )
        )
    if rest:
        out.append(f"… and {rest} more in the report")
    if n.resolved:
        out.append(f"Resolved since the last run: {len(n.resolved)}")
    if n.remediation:
        out.append("Changed by dormant (AUTO_DEACTIVATE_KEYS): " + _esc("; ".join(n.remediation)))
        if n.remediation_journal:
            out.append(f"Journal (for dormant remediate rollback): {_esc(n.remediation_journal)}")
    if n.gaps:
        out.append("Not fully read: " + _esc("; ".join(n.gaps)))
    if n.problems:
        out.append("Problems: " + _esc("; ".join(n.problems)))
    if n.console_url:
        out.append(f"<{n.console_url}|Open the reports> ({_esc(n.report_url or '')})")
    elif n.report_url:
        out.append(f"Report: {_esc(n.report_url)}")
    text = "\n".join(out)
    return text if len(text) <= 39_000 else text[:38_990] + "\n…"
