"""CloudTrail identity types, and who stands behind an event's identity."""

from __future__ import annotations

PRINCIPAL_TYPES = frozenset({"IAMUser", "Root", "AssumedRole", "FederatedUser"})
"""Identity types that are, or stand for, a principal of an IAM account."""

OTHER_TYPES = frozenset(
    {
        "AWSAccount",
        "AWSService",
        "SAMLUser",
        "WebIdentityUser",
        "IdentityCenterUser",
        "Directory",
        "Role",
        "Unknown",
    }
)
"""Identity types CloudTrail documents that are not an IAM principal of their own: read and
counted, used as callers of role assumptions, but not listed in ``principal_activity``."""

CROSS_ACCOUNT_CALLER_TYPES = frozenset({"IAMUser", "Root", "AssumedRole", "FederatedUser"})


def issuer_from_session_arn(arn: str | None) -> str | None:
    """The role behind ``arn:aws:sts::<acct>:assumed-role/<role>/<session>`` when the event
    has no ``sessionIssuer`` (the role's path is not in the session ARN, so it is lost)."""
    if not arn or ":assumed-role/" not in arn:
        return None
    head, _, rest = arn.partition(":assumed-role/")
    parts = head.split(":")
    if len(parts) < 5 or not rest:
        return None
    role = rest.split("/", 1)[0]
    return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"


def resolve_principal(raw: str | None) -> str | None:
    """The principal an event's raw principal field stands for: an IAM ARN as it is; a
    session ARN (logged without its ``sessionIssuer``) resolved to its role; None for a
    federated-user session whose user is not logged."""
    if raw and ":sts::" in raw:
        return issuer_from_session_arn(raw)
    return raw
