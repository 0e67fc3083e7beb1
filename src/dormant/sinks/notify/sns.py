"""Amazon SNS: the e-mail-friendly summary, published to a topic (e-mail subscribers get it as
plain text; other subscribers get the same text)."""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from ...sources.aws import error_message
from . import Notice, SinkOutcome
from .message import email

MAX_BYTES = 256 * 1024
"""SNS's limit for a message, subject and attributes included."""
_HEADROOM = 1024


def publish(client: Any, topic_arn: str, notice: Notice, *, max_listed: int = 20) -> SinkOutcome:
    """Publish the notice; an AWS error becomes a failed outcome, never an exception."""
    subject, body = email(notice, max_listed, MAX_BYTES - _HEADROOM)
    try:
        resp = client.publish(TopicArn=topic_arn, Subject=subject, Message=body)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        return SinkOutcome("sns", "failed", f"not published to {topic_arn}", error_message(exc))
    return SinkOutcome(
        "sns",
        "ok",
        f"published to {topic_arn} (message {resp.get('MessageId')}): {subject}",
        counts={"bytes": len(body.encode())},
    )
