"""Decode CloudTrail data in every shape it arrives in, into typed records of only the fields
the evidence needs.

Shapes: ``{"Records": [...]}`` log files (gzipped or not, told by the gzip magic bytes, not the
name), bare JSON arrays, JSON lines, single events, EventBridge envelopes (the event under
``detail``) and LookupEvents results (``{"Events": [...]}`` with the event as a JSON string in
``CloudTrailEvent``).

The fast path decodes a whole file into :class:`Item` structs in one call of msgspec, which skips
every field that is not declared here. A file that does not fit the types (one odd record) is
decoded again record by record, so one bad record costs that record only. ``requestParameters``,
``responseElements`` and ``resources`` stay :class:`msgspec.Raw` (unparsed bytes) and are decoded
only for the few events that need them (AssumeRole*, ConsoleLogin); the credentials that
AssumeRole responses carry are never decoded.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

Time = Annotated[dt.datetime, msgspec.Meta(tz=True)]
"""An RFC 3339 time with a zone; a time without one is not guessed at."""


class SessionIssuer(msgspec.Struct, gc=False, frozen=True):
    """``userIdentity.sessionContext.sessionIssuer``: who issued temporary credentials."""

    type: str | None = None
    """``Role`` or ``IAMUser``."""
    arn: str | None = None
    """The role's (or the federating user's) ARN, with its path."""


class SessionContext(msgspec.Struct, gc=False, frozen=True):
    """``userIdentity.sessionContext``; only the issuer is needed."""

    sessionIssuer: SessionIssuer | None = None
    """The role or user behind the session."""


class UserIdentity(msgspec.Struct, gc=False, frozen=True):
    """The fields of ``userIdentity`` that attribute an event to a principal."""

    type: str | None = None
    """``IAMUser``, ``Root``, ``AssumedRole``, ``FederatedUser``, ``AWSAccount``, ..."""
    arn: str | None = None
    """The caller's ARN (a session ARN for assumed roles)."""
    accountId: str | None = None
    """The caller's account."""
    accessKeyId: str | None = None
    """The access key that signed the request (AKIA long-term, ASIA temporary)."""
    principalId: str | None = None
    """The unique id of the caller."""
    userName: str | None = None
    """The user name; the subject for SAML and web identity callers."""
    invokedBy: str | None = None
    """The AWS service that made the request, for ``AWSService`` identities."""
    identityProvider: str | None = None
    """The identity provider, for ``SAMLUser`` and ``WebIdentityUser`` identities."""
    sessionContext: SessionContext | None = None
    """The session's issuer, for temporary credentials."""


class Event(msgspec.Struct, gc=False, frozen=True):
    """One CloudTrail event, only the fields the evidence needs."""

    eventTime: Time | None = None
    """When the request was made."""
    timestamp: Time | None = msgspec.field(default=None, name="@timestamp")
    """Logstash's copy of the time, used only where ``eventTime`` is absent."""
    eventSource: str | None = None
    """The service endpoint, such as ``s3.amazonaws.com``."""
    eventName: str | None = None
    """The API operation, such as ``ListObjects``."""
    errorCode: str | None = None
    """Set when the call failed (AccessDenied and so on)."""
    awsRegion: str | None = None
    """The region the request was made to."""
    recipientAccountId: str | None = None
    """The account that received the event (whose log it is)."""
    sharedEventID: str | None = None
    """Ties the copies of a cross-account event logged in each account."""
    userIdentity: UserIdentity | None = None
    """Who made the request."""
    requestParameters: msgspec.Raw = msgspec.Raw()
    """Unparsed; decoded for AssumeRole* events only."""
    responseElements: msgspec.Raw = msgspec.Raw()
    """Unparsed; only ``ConsoleLogin`` is ever read from it (never the credentials)."""
    resources: msgspec.Raw = msgspec.Raw()
    """Unparsed; decoded for AssumeRole* events that lack ``requestParameters.roleArn``."""


class Item(Event, gc=False, frozen=True):
    """An element of any CloudTrail shape: an event, or a wrapper holding one."""

    detail: Event | None = None
    """The event of an EventBridge envelope."""
    CloudTrailEvent: str | None = None
    """The event of a LookupEvents result, as JSON text."""


class Top(Item, gc=False, frozen=True):
    """A whole JSON object file: a log file, a LookupEvents result or one item."""

    Records: list[Event] | None = None
    """A CloudTrail log file's events."""
    Events: list[Item] | None = None
    """A LookupEvents result's events."""


class RawTop(msgspec.Struct, frozen=True):
    """A JSON object file with its records left undecoded, for the record-by-record path."""

    Records: list[msgspec.Raw] | None = None
    """A log file's records, each undecoded."""
    Events: list[msgspec.Raw] | None = None
    """A LookupEvents result's events, each undecoded."""


class AssumeParams(msgspec.Struct, frozen=True):
    """The ``requestParameters`` of AssumeRole* that name the target and provider."""

    roleArn: str | None = None
    """The role to assume."""
    principalArn: str | None = None
    """The SAML provider (AssumeRoleWithSAML)."""


class Resource(msgspec.Struct, frozen=True):
    """One entry of ``resources``."""

    ARN: str | None = None
    """The resource's ARN."""
    type: str | None = None
    """The resource type, such as ``AWS::IAM::Role``."""


class ConsoleLoginResponse(msgspec.Struct, frozen=True):
    """``responseElements`` of ConsoleLogin: only the outcome."""

    ConsoleLogin: str | None = None
    """``Success`` or ``Failure``."""


_TOP = msgspec.json.Decoder(Top)
_ARRAY = msgspec.json.Decoder(list[Item])
_ITEM = msgspec.json.Decoder(Item)
_EVENT = msgspec.json.Decoder(Event)
_RAW_TOP = msgspec.json.Decoder(RawTop)
_RAW_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_ANY = msgspec.json.Decoder()
_ASSUME = msgspec.json.Decoder(AssumeParams | None)
_RESOURCES = msgspec.json.Decoder(list[Resource] | None)
_CONSOLE = msgspec.json.Decoder(ConsoleLoginResponse | None)

GZIP_MAGIC = b"\x1f\x8b"


class FileError(Exception):
    """A whole file (or the rest of it) could not be read."""


class RecordError(msgspec.Struct, frozen=True):
    """One record that could not be decoded."""

    index: int
    """The record's position in its file, from 0 (array element, or non-blank line)."""
    message: str
    """What was wrong, without the record's values."""


def decompress(data: bytes) -> bytes:
    """Gunzip ``data`` when it starts with the gzip magic bytes (python-isal when present)."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        from isal import igzip as gzip
    except ImportError:  # pragma: no cover - isal is in the trail extra
        import gzip
    try:
        return gzip.decompress(data)
    except EOFError as exc:
        raise FileError(f"truncated gzip ({exc})") from None
    except Exception as exc:  # BadGzipFile, zlib errors
        raise FileError(f"bad gzip: {exc}") from None


def decode(data: bytes) -> tuple[list[Item] | list[Event], list[RecordError]]:
    """Every item of one file's (decompressed) bytes, and the records that failed.

    The ``Records`` of a log file come back as plain :class:`Event` (they are never wrapped,
    and the narrower type decodes faster); other shapes as :class:`Item`, to be unwrapped.
    Raises :class:`FileError` when the file is not JSON in any CloudTrail shape.
    """
    if _first_char(data) == ord("{") and b'"Records"' in data[:4096]:
        try:
            top = _TOP.decode(data)
        except msgspec.DecodeError:
            pass
        else:
            if top.Records is not None:
                return top.Records, []
    return _decode_any(data)


def _decode_any(data: bytes) -> tuple[list[Item], list[RecordError]]:
    start = _first_char(data)
    if start is None:
        return [], []
    if start == ord("["):
        try:
            return _ARRAY.decode(data), []
        except msgspec.ValidationError:
            return _records_one_by_one(_decode_raw(_RAW_ARRAY, data))
        except msgspec.DecodeError as exc:
            raise FileError(f"not valid JSON: {exc}") from None
    if start != ord("{"):
        raise FileError("not JSON: the file does not start with '{' or '['")
    try:
        top = _TOP.decode(data)
    except msgspec.ValidationError:
        return _object_one_by_one(data)
    except msgspec.DecodeError as exc:
        if "trailing characters" in str(exc):
            return _lines(data)
        raise FileError(f"not valid JSON: {exc}") from None
    if top.Records is not None:
        return top.Records, []  # type: ignore[return-value] - Events are Items without wrappers
    if top.Events is not None:
        return top.Events, []
    return [top], []


def _first_char(data: bytes) -> int | None:
    for i in range(min(len(data), 4096)):
        c = data[i]
        if c not in b" \t\r\n\xef\xbb\xbf":
            return c
    return None if not data.strip() else ord("?")


def _decode_raw(decoder: msgspec.json.Decoder, data: bytes):
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise FileError(f"not valid JSON: {exc}") from None


def _object_one_by_one(data: bytes) -> tuple[list[Item], list[RecordError]]:
    raw = _decode_raw(_RAW_TOP, data)
    if raw.Records is not None:
        return _records_one_by_one(raw.Records)
    if raw.Events is not None:
        return _records_one_by_one(raw.Events)
    return _records_one_by_one([msgspec.Raw(data)])


def _records_one_by_one(raws: list) -> tuple[list[Item], list[RecordError]]:
    items: list[Item] = []
    errors: list[RecordError] = []
    for i, raw in enumerate(raws):
        try:
            items.append(_ITEM.decode(raw))
        except msgspec.DecodeError as exc:
            items.append(Item())  # keeps positions: a record with no identity is skipped later
            errors.append(RecordError(i, describe_bad_record(raw, exc)))
    return items, errors


def _lines(data: bytes) -> tuple[list[Item], list[RecordError]]:
    try:
        return _ITEM.decode_lines(data), []
    except msgspec.DecodeError:
        pass
    items: list[Item] = []
    errors: list[RecordError] = []
    index = 0
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            items.append(_ITEM.decode(line))
        except msgspec.DecodeError as exc:
            items.append(Item())
            errors.append(RecordError(index, describe_bad_record(line, exc)))
        index += 1
    return items, errors


def describe_bad_record(raw, exc: Exception) -> str:
    """A one-line reason a record failed typed decoding, naming fields, never values."""
    try:
        value = _ANY.decode(raw)
    except msgspec.DecodeError as err:
        return f"record is not valid JSON: {err}"
    if not isinstance(value, dict):
        return f"record is a JSON {type(value).__name__}, not an object"
    text = str(exc)
    if "eventTime" in text or "@timestamp" in text:
        t = value.get("eventTime", value.get("@timestamp"))
        if isinstance(t, str):
            try:
                parsed = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
            except ValueError:
                return "no usable time: eventTime is not an ISO-8601 time"
            if parsed.tzinfo is None:
                return "no usable time: eventTime has no time zone (not guessed)"
        return "no usable time: eventTime is not an RFC 3339 time with a zone"
    return f"record has a field of the wrong type: {text}"


def unwrap(item: Item | Event) -> Event | None:
    """The event inside an envelope or LookupEvents result, or the item itself.

    Returns None when a LookupEvents ``CloudTrailEvent`` text is not a decodable event.
    """
    if type(item) is Event:
        return item
    if item.detail is not None:
        return item.detail
    text = item.CloudTrailEvent
    if text is not None:
        try:
            return _EVENT.decode(text)
        except msgspec.DecodeError:
            return None
    return item


def assume_params(ev: Event) -> AssumeParams | None:
    """``roleArn`` and ``principalArn`` of an AssumeRole* request, leniently."""
    if not ev.requestParameters:
        return None
    try:
        return _ASSUME.decode(ev.requestParameters)
    except msgspec.DecodeError:
        return None


def role_resources(ev: Event) -> list[str]:
    """ARNs of ``resources`` entries of type ``AWS::IAM::Role``."""
    if not ev.resources:
        return []
    try:
        res = _RESOURCES.decode(ev.resources) or []
    except msgspec.DecodeError:
        return []
    return [r.ARN for r in res if r.type == "AWS::IAM::Role" and r.ARN]


def console_login_result(ev: Event) -> str | None:
    """``responseElements.ConsoleLogin`` (``Success`` or ``Failure``), or None."""
    if not ev.responseElements:
        return None
    try:
        resp = _CONSOLE.decode(ev.responseElements)
    except msgspec.DecodeError:
        return None
    return resp.ConsoleLogin if resp is not None else None
