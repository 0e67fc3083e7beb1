"""Words and ranks for findings that every sink shares: a short title per finding type, what
a finding is about, and how urgent it is (the order of a notification's list, the ASFF
severity label)."""

from __future__ import annotations

from ..model import Finding, FindingType, PrincipalType, Verdict

LABELS = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL")
"""Security Hub's severity labels, most urgent first."""

BY_TYPE = {
    FindingType.ROOT_ACCESS_KEY_PRESENT: "CRITICAL",
    FindingType.ROOT_RECENTLY_USED: "HIGH",
    FindingType.UNUSED_ACCESS_KEY: "MEDIUM",
    FindingType.UNROTATED_ACCESS_KEY: "MEDIUM",
    FindingType.UNUSED_PASSWORD: "MEDIUM",
    FindingType.INACTIVE_USER: "LOW",
    FindingType.UNUSED_ROLE: "LOW",
    FindingType.UNUSED_PERMISSION: "LOW",
}
"""A root access key is what CIS calls critical; root use is high; a standing credential
nobody uses (password, access key, old key) is medium; a principal or permission nobody uses
is low."""


def label(f: Finding) -> str:
    """The severity label of a finding; ``INFORMATIONAL`` when the evidence cannot support a
    verdict (it asks a person to look, not to act)."""
    if f.verdict == Verdict.INSUFFICIENT_EVIDENCE:
        return "INFORMATIONAL"
    return BY_TYPE.get(f.type, "LOW")


def urgency(f: Finding) -> tuple:
    """Sort key: most urgent first, then longest unused, then a stable order."""
    return (LABELS.index(label(f)), -(f.days_unused or 0), f.sort_key())


TITLES = {
    FindingType.UNUSED_PASSWORD: "Unused console password",
    FindingType.UNUSED_ACCESS_KEY: "Unused access key",
    FindingType.UNUSED_ROLE: "Unused IAM role",
    FindingType.UNUSED_PERMISSION: "Unused permission",
    FindingType.UNROTATED_ACCESS_KEY: "Access key not rotated",
    FindingType.ROOT_ACCESS_KEY_PRESENT: "Root user has an access key",
    FindingType.ROOT_RECENTLY_USED: "Root user used recently",
    FindingType.INACTIVE_USER: "Inactive IAM user",
}


def title(f: Finding) -> str:
    """One line: what and whose, e.g. ``Unused access key AKIA... of alice``."""
    base = TITLES.get(f.type, str(f.type))
    what = subject(f)
    if f.principal_type == PrincipalType.ROOT:
        return f"{base} {what}".strip()
    who = f.principal_name
    if what:
        return f"{base} {what} of {who}"
    return f"{base}: {who}"


def subject(f: Finding) -> str:
    """The credential or permission a finding is about, beyond its principal ('' if none)."""
    if f.access_key_id:
        return f.access_key_id
    if f.key_slot:
        return f"(key slot {f.key_slot})"
    if f.action:
        return f.action
    return f.service or ""
