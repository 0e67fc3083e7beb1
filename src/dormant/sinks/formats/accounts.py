"""What every human format shows about the accounts of a report: a label, a heading, the scan
status in words, and the findings grouped by account.

A report of one account keeps its formats' single-account layout; with several (an organization
scan), they show an accounts summary first and a section per account, sorted by account id.
Nothing here judges: the status and gaps are the judge's (``AccountInfo.scan_status``,
``scan_gaps``, ``ou_path``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...model import AccountInfo, CoverageEntry, Finding, Report, RoleAssumptionSummary

STATUS_LABELS = {
    "complete": "complete",
    "incomplete": "incomplete",
    "not-scanned": "not scanned",
}
"""``AccountInfo.scan_status`` in words."""


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def label(info: AccountInfo) -> str:
    """``123456789012 (payments-prod)``, or the id alone when the name is not known."""
    return info.account_id + (f" ({info.account_name})" if info.account_name else "")


def heading(info: AccountInfo) -> str:
    """``123456789012 (payments-prod) · Root/Prod``: the label and, when known, the OU path."""
    return label(info) + (f" · {info.ou_path}" if info.ou_path else "")


def is_multi(report: Report) -> bool:
    """Whether the report covers more than one account (and so groups by account)."""
    return len(infos(report)) > 1


def infos(report: Report) -> list[AccountInfo]:
    """The report's accounts sorted by id, with any account that only findings name (a report
    put together by hand) added, unnamed."""
    known = {a.account_id: a for a in report.accounts}
    for f in (*report.findings, *report.excluded):
        if f.account_id not in known:
            known[f.account_id] = AccountInfo(f.account_id, None, None, None)
    return [known[k] for k in sorted(known)]


@dataclass(frozen=True)
class AccountGroup:
    """One account and what the report holds about it."""

    info: AccountInfo
    findings: tuple[Finding, ...]
    excluded: tuple[Finding, ...]
    gaps: tuple[CoverageEntry, ...]
    """Its sources that were not fully read (status other than read and skipped)."""
    role_assumptions: tuple[RoleAssumptionSummary, ...]

    @property
    def account_id(self) -> str:
        return self.info.account_id

    @property
    def status(self) -> str:
        return self.info.scan_status

    @property
    def status_label(self) -> str:
        return status_label(self.info.scan_status)


def group(report: Report, info: AccountInfo) -> AccountGroup:
    """One account and what the report holds about it, in the report's order."""
    return _grouped(report, [info])[0]


def groups(report: Report) -> list[AccountGroup]:
    """Every account of the report, sorted by id."""
    return _grouped(report, infos(report))


def _grouped(report: Report, wanted: list[AccountInfo]) -> list[AccountGroup]:
    # One pass over each list: an organization's report can hold hundreds of accounts.
    buckets: dict[str, dict[str, list]] = {
        a.account_id: {"findings": [], "excluded": [], "gaps": [], "roles": []} for a in wanted
    }

    def add(kind: str, account_id: str, item: object) -> None:
        if account_id in buckets:
            buckets[account_id][kind].append(item)

    for f in report.findings:
        add("findings", f.account_id, f)
    for f in report.excluded:
        add("excluded", f.account_id, f)
    for c in report.coverage:
        if c.status not in ("read", "skipped"):
            add("gaps", c.account_id, c)
    for r in report.role_assumptions:
        add("roles", r.account_id, r)
    return [
        AccountGroup(
            info=a,
            findings=tuple(buckets[a.account_id]["findings"]),
            excluded=tuple(buckets[a.account_id]["excluded"]),
            gaps=tuple(buckets[a.account_id]["gaps"]),
            role_assumptions=tuple(buckets[a.account_id]["roles"]),
        )
        for a in wanted
    ]


def status_counts(report: Report) -> dict[str, int]:
    """How many accounts have each scan status, in the order complete, incomplete, not
    scanned (statuses no account has left out)."""
    out: dict[str, int] = {}
    for status in (*STATUS_LABELS, *sorted({a.scan_status for a in report.accounts})):
        n = sum(1 for a in report.accounts if a.scan_status == status)
        if n:
            out[status] = n
    return out


GAP_CHARS = 100
"""How much of an account's first gap a summary row shows (its section shows them all)."""


def gaps_summary(gaps: tuple[str, ...] | list[str]) -> str:
    """An account's gaps in one cell: the first, cut to :data:`GAP_CHARS`, and how many more."""
    if not gaps:
        return ""
    first = gaps[0] if len(gaps[0]) <= GAP_CHARS else gaps[0][: GAP_CHARS - 1] + "…"
    return first + (f" (+{len(gaps) - 1} more)" if len(gaps) > 1 else "")
