"""Where the scheduled scan keeps things in S3, and the S3 and SSM reads it needs.

Layout under the bucket's prefix::

    <prefix>/state.json                                  what the last run knew
    <prefix>/YYYY/MM/DD/<run-id>/evidence.zip           the evidence bundle
    <prefix>/YYYY/MM/DD/<run-id>/report.{json,csv,md,html}
    <prefix>/YYYY/MM/DD/<run-id>/run.json               the run's result

state.json is written with a conditional put (If-Match on the ETag it was read with, or
If-None-Match for the first one), so two overlapping runs cannot silently overwrite each other:
the second one's write fails and says so. A botocore too old for conditional puts (before
late 2024) writes it unconditionally rather than not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import botocore.exceptions

from ..errors import DormantError
from ..sources.aws import error_code, error_message
from .state import State

EXTENSIONS = {"json": "json", "csv": "csv", "markdown": "md", "html": "html"}
CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "zip": "application/zip",
    "txt": "text/plain; charset=utf-8",
}
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
CONFLICT_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})


class StoreError(DormantError):
    """An S3 or SSM read or write failed; the message has the AWS error, never a secret."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Layout:
    """The keys of one deployment's objects."""

    bucket: str
    prefix: str
    """Without slashes at either end; '' for the bucket's top."""

    def _key(self, rest: str) -> str:
        return f"{self.prefix}/{rest}" if self.prefix else rest

    @property
    def state_key(self) -> str:
        return self._key("state.json")

    def run_prefix(self, when: dt.datetime, run_id: str) -> str:
        return self._key(f"{when:%Y/%m/%d}/{run_id}/")

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def console_url(self, key_prefix: str, region: str, partition: str) -> str | None:
        """The S3 console page of a prefix (commercial partition only)."""
        if partition != "aws":
            return None
        return (
            f"https://s3.console.aws.amazon.com/s3/buckets/{self.bucket}"
            f"?region={region}&prefix={quote(key_prefix)}"
        )


def report_name(fmt: str) -> str:
    return f"report.{EXTENSIONS.get(fmt, fmt)}"


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")


def _fail(what: str, exc: BaseException) -> StoreError:
    return StoreError(f"{what}: {error_message(exc)}", error_code(exc))


def put(client: Any, bucket: str, key: str, body: bytes) -> None:
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type(key))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise _fail(f"s3://{bucket}/{key}: cannot write", exc) from None


def get(client: Any, bucket: str, key: str) -> tuple[bytes, str] | None:
    """(body, ETag), or None when there is no such object."""
    try:
        resp = client.get_object(Bucket=bucket, Key=key)
        return resp["Body"].read(), resp.get("ETag", "")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        if error_code(exc) in MISSING_CODES:
            return None
        raise _fail(f"s3://{bucket}/{key}: cannot read", exc) from None


def load_state(client: Any, layout: Layout) -> tuple[State | None, str | None]:
    """The previous state and its ETag; (None, None) on the first run."""
    got = get(client, layout.bucket, layout.state_key)
    if got is None:
        return None, None
    data, etag = got
    return State.from_bytes(data, layout.uri(layout.state_key)), etag


def save_state(client: Any, layout: Layout, state: State, etag: str | None) -> None:
    """Write the state only if nobody else wrote it since it was read."""
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    request = {
        "Bucket": layout.bucket,
        "Key": layout.state_key,
        "Body": state.to_bytes(),
        "ContentType": "application/json",
    }
    try:
        try:
            client.put_object(**request, **condition)
        except botocore.exceptions.ParamValidationError:
            client.put_object(**request)  # this botocore has no conditional puts
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        if error_code(exc) in CONFLICT_CODES:
            raise StoreError(
                f"{layout.uri(layout.state_key)}: changed by another run since this run read "
                "it; this run's state was not saved (its notifications may repeat)",
                error_code(exc),
            ) from None
        raise _fail(f"{layout.uri(layout.state_key)}: cannot write", exc) from None


def read_s3_uri(client: Any, uri: str) -> str:
    """The text of an object given as ``s3://bucket/key``."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    got = get(client, bucket, key)
    if got is None:
        raise StoreError(f"{uri}: no such object", "NoSuchKey")
    try:
        return got[0].decode("utf-8")
    except UnicodeDecodeError:
        raise StoreError(f"{uri}: not UTF-8 text", "InvalidText") from None


def read_parameter(client: Any, name: str) -> str:
    """The value of an SSM parameter (decrypted when it is a SecureString)."""
    try:
        return client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise _fail(f"SSM parameter {name}: cannot read", exc) from None
