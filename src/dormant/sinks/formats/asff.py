"""AWS Security Finding Format (ASFF): a dormant finding as Security Hub imports it.

Pure: no I/O, no clock. The caller supplies the times (when the finding was first seen, the
time of this run) and where it is imported (partition, Region, account), because ASFF needs
them and a report does not hold them.

Ids are stable: ``dormant/<account>/<type>/<finding id>``, so a rerun updates the finding in
Security Hub instead of adding a duplicate. Severity and types are also set under
``FindingProviderFields``, where a finding provider may update them after creation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...model import Finding, FindingType, PrincipalType, Verdict
from ..labels import label, title

SCHEMA_VERSION = "2018-10-08"
GENERATOR_PREFIX = "dormant/"
"""Every dormant finding's GeneratorId starts with this, so dormant finds its own findings."""

_BEST_PRACTICES = "Software and Configuration Checks/AWS Security Best Practices"
TYPES = {
    FindingType.UNUSED_PASSWORD: f"{_BEST_PRACTICES}/Unused Credentials",
    FindingType.UNUSED_ACCESS_KEY: f"{_BEST_PRACTICES}/Unused Credentials",
    FindingType.INACTIVE_USER: f"{_BEST_PRACTICES}/Unused Credentials",
    FindingType.UNUSED_ROLE: f"{_BEST_PRACTICES}/Unused Access",
    FindingType.UNUSED_PERMISSION: f"{_BEST_PRACTICES}/Unused Access",
    FindingType.UNROTATED_ACCESS_KEY: f"{_BEST_PRACTICES}/Credential Rotation",
    FindingType.ROOT_ACCESS_KEY_PRESENT: f"{_BEST_PRACTICES}/Root User",
    FindingType.ROOT_RECENTLY_USED: f"{_BEST_PRACTICES}/Root User",
}
"""ASFF ``namespace/category/classifier`` per finding type."""

TITLE_MAX = 256
DESCRIPTION_MAX = 1024
RECOMMENDATION_MAX = 512


@dataclass(frozen=True)
class Target:
    """Where the findings are imported."""

    partition: str
    """``aws``, ``aws-cn``, ``aws-us-gov``."""
    region: str
    """The Region of the Security Hub the findings go to."""
    account_id: str
    """The account that imports them (it must be the findings' account)."""

    @property
    def product_arn(self) -> str:
        """The account's own default product: what an account uses for its own findings."""
        return (
            f"arn:{self.partition}:securityhub:{self.region}:{self.account_id}:"
            f"product/{self.account_id}/default"
        )


def finding_id(f: Finding) -> str:
    return f"dormant/{f.account_id}/{f.type}/{f.id}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _resources(f: Finding, target: Target) -> list[dict[str, Any]]:
    common = {"Partition": target.partition, "Region": target.region}
    if f.principal_type == PrincipalType.ROOT:
        return [{"Type": "AwsAccount", "Id": f"AWS::::Account:{f.account_id}", **common}]
    resources = []
    if f.access_key_id:
        resources.append(
            {
                "Type": "AwsIamAccessKey",
                "Id": f"AWS::IAM::AccessKey:{f.access_key_id}",
                **common,
                "Details": {
                    "AwsIamAccessKey": {
                        "PrincipalName": f.principal_name,
                        "PrincipalType": "IAMUser",
                        "AccountId": f.account_id,
                        "AccessKeyId": f.access_key_id,
                    }
                },
            }
        )
    kind = {PrincipalType.USER: "AwsIamUser", PrincipalType.ROLE: "AwsIamRole"}.get(
        f.principal_type, "Other"
    )
    resources.append({"Type": kind, "Id": f.principal_arn, **common})
    return resources


def to_asff(
    f: Finding,
    target: Target,
    *,
    first_seen: str,
    now: str,
    report_url: str | None = None,
) -> dict[str, Any]:
    """One finding in ASFF, active, as of ``now`` (ISO-8601 UTC)."""
    severity = label(f)
    types = [TYPES.get(f.type, f"{_BEST_PRACTICES}/Unused Access")]
    description = f.reason
    if f.verdict != Verdict.INSUFFICIENT_EVIDENCE:
        description += f" Threshold: {f.threshold_days} days."
    product_fields = {
        "dormant/FindingId": f.id,
        "dormant/Type": str(f.type),
        "dormant/Verdict": str(f.verdict),
        "dormant/ThresholdDays": str(f.threshold_days),
    }
    if f.last_used:
        product_fields["dormant/LastUsed"] = f.last_used
    if f.days_unused is not None:
        product_fields["dormant/DaysUnused"] = str(f.days_unused)
    if report_url:
        product_fields["dormant/Report"] = report_url
    out: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(f),
        "ProductArn": target.product_arn,
        "GeneratorId": f"{GENERATOR_PREFIX}{f.type}",
        "AwsAccountId": f.account_id,
        "Types": types,
        "CreatedAt": first_seen,
        "UpdatedAt": now,
        "FirstObservedAt": first_seen,
        "LastObservedAt": now,
        "Severity": {"Label": severity},
        "FindingProviderFields": {"Severity": {"Label": severity}, "Types": types},
        "Title": _clip(title(f), TITLE_MAX),
        "Description": _clip(description, DESCRIPTION_MAX),
        "ProductName": "dormant",
        "CompanyName": "dormant",
        "ProductFields": product_fields,
        "Resources": _resources(f, target),
        "RecordState": "ACTIVE",
    }
    if f.recommendation:
        out["Remediation"] = {
            "Recommendation": {"Text": _clip(f.recommendation.summary, RECOMMENDATION_MAX)}
        }
    return out


IMPORTABLE = (
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "Types",
    "CreatedAt",
    "FirstObservedAt",
    "LastObservedAt",
    "Severity",
    "FindingProviderFields",
    "Title",
    "Description",
    "ProductName",
    "CompanyName",
    "ProductFields",
    "Resources",
    "Remediation",
)
"""The fields of a finding read back from Security Hub that dormant imports again to archive
it (the rest are Security Hub's own or the customer's)."""


def archived(existing: dict[str, Any], *, now: str) -> dict[str, Any]:
    """A finding read back from Security Hub (GetFindings), as an update that archives it."""
    out = {k: existing[k] for k in IMPORTABLE if k in existing}
    fields = out.get("ProductFields") or {}
    # Security Hub adds its own "aws/..." fields when it stores a finding; they are not ours.
    out["ProductFields"] = {k: v for k, v in fields.items() if not k.startswith("aws/")}
    out["UpdatedAt"] = now
    out["RecordState"] = "ARCHIVED"
    return out
