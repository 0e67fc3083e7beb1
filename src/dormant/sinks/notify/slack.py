"""Slack: a message through an incoming webhook.

The webhook URL is a secret (anyone holding it can post to the channel). It is read at run time
from Secrets Manager or an SSM SecureString, never from an environment variable, and never
appears in a log, an error or the run's result: errors name the HTTP status and Slack's error
text (``no_service``, ``invalid_payload``...), not the URL.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions

from ...errors import DormantError
from ...sources.aws import error_message
from . import Notice, SinkOutcome
from .message import slack_text

TIMEOUT_S = 10


class WebhookError(DormantError):
    """The webhook URL cannot be read or is not a webhook URL. The message holds no URL."""


def _check_url(url: str, where: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    loopback = False
    try:
        loopback = ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        loopback = parts.hostname == "localhost"
    if parts.scheme == "https" or (parts.scheme == "http" and loopback):
        if parts.hostname:
            return url
    raise WebhookError(f"{where}: does not hold an https:// webhook URL")


def _from_text(text: str, where: str) -> str:
    text = text.strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            raise WebhookError(f"{where}: neither a URL nor valid JSON") from None
        text = str(doc.get("webhook_url") or doc.get("url") or "")
        if not text:
            raise WebhookError(f"{where}: the JSON has no 'webhook_url' key")
    return _check_url(text, where)


def webhook_from_secret(client: Any, secret_id: str) -> str:
    """The URL from a Secrets Manager secret: the URL itself, or JSON with ``webhook_url``."""
    where = f"Secrets Manager secret {secret_id}"
    try:
        resp = client.get_secret_value(SecretId=secret_id)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise WebhookError(f"{where}: {error_message(exc)}") from None
    return _from_text(resp.get("SecretString") or "", where)


def webhook_from_parameter(client: Any, name: str) -> str:
    """The URL from an SSM parameter (a SecureString, decrypted)."""
    where = f"SSM parameter {name}"
    try:
        resp = client.get_parameter(Name=name, WithDecryption=True)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise WebhookError(f"{where}: {error_message(exc)}") from None
    return _from_text(resp["Parameter"].get("Value") or "", where)


def post(url: str, payload: dict[str, Any], timeout: float = TIMEOUT_S) -> None:
    """POST the payload; raise :class:`WebhookError` (without the URL) unless Slack says ok."""
    data = json.dumps(payload).encode()
    req = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - checked URL
            resp.read()
    except urllib.error.HTTPError as exc:
        body = exc.read(200).decode("utf-8", "replace").strip()
        raise WebhookError(f"Slack answered HTTP {exc.code}: {body or exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WebhookError(f"Slack could not be reached: {type(reason).__name__}") from None


def send(url: str, notice: Notice, *, max_listed: int = 20) -> SinkOutcome:
    try:
        post(url, {"text": slack_text(notice, max_listed)})
    except WebhookError as exc:
        return SinkOutcome("slack", "failed", "not posted", str(exc))
    return SinkOutcome("slack", "ok", "posted to the webhook's channel")
