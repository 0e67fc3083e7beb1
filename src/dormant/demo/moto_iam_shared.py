"""What dormant's IAM extensions of moto share: IAM's throttling answer, IAM's errors, and
IAM's Marker pagination. Used by :mod:`.moto_access_advisor` (service last accessed details)
and :mod:`.moto_org_access` (organizations access reports)."""

from __future__ import annotations

import base64
import uuid
from typing import Any


def throttled() -> tuple[str, dict[str, Any]]:
    """IAM's "Rate exceeded" (HTTP 400). IAM's model has no Throttling error shape, so the XML
    is written as AWS sends it; botocore retries it."""
    body = (
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
        f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return body, {"status": 400, "Content-Type": "text/xml"}


def raise_error(code: str, message: str) -> None:
    """Raise an IAM error, serialized with IAM's error model (NoSuchEntity: 404,
    ReportGenerationLimitExceeded: 409, codes the model lacks: 400); AccessDenied as moto's own
    enforcement answers it (IAM's XML error, HTTP 403)."""
    from moto.iam.exceptions import IAMException

    if code == "AccessDenied":
        from moto.core.exceptions import _RESTError

        denied = _RESTError("AccessDenied", message)
        denied.code = 403
        raise denied
    raise IAMException(code, message)


def page(
    items: list[dict[str, Any]], marker: str | None, max_items: Any, default_size: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``items`` from an opaque ``marker`` (as IAM's are): the page and the next
    marker, None on the last page."""
    start = 0
    if marker:
        try:
            start = int(base64.b64decode(marker).decode("ascii"))
        except ValueError:
            raise_error("InvalidInput", "Invalid Marker")
    end = start + (int(max_items) if max_items else max(default_size, 1))
    next_marker = base64.b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], next_marker
