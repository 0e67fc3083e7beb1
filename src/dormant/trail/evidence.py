"""The CloudTrail evidence contract: what ``dormant trail scan`` finds, as frozen dataclasses.

This module uses the standard library only, so the core (and AWS Lambda) can read saved evidence
without the ``trail`` extra. Its JSON form is documented by ``docs/schema/trail-evidence.v1.json``.
Every list is sorted, so the same events give the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1
"""Bumped when a field changes meaning or disappears; new optional fields do not bump it."""

MAX_ERRORS = 1000
"""At most this many errors are listed (the first by file and record); ``errors_total``
counts them all."""


@dataclass(frozen=True, slots=True)
class TrailError:
    """A file or record that could not be used."""

    file: str
    """The local path or ``s3://`` URI (``lookup-events:<region>`` for the API)."""
    record: int | None
    """The record's position in the file from 0, or None for an error about the whole file."""
    message: str
    """One line saying what was wrong; never a value from the event."""


@dataclass(frozen=True, slots=True)
class TimeRange:
    """The earliest and latest event time among the events used."""

    start: str | None = None
    """ISO-8601 UTC, or None when no event was used."""
    end: str | None = None
    """ISO-8601 UTC, or None when no event was used."""


@dataclass(frozen=True, slots=True)
class RoleCaller:
    """Who assumed a role, and how often."""

    caller: str
    """The caller: a principal ARN (the role behind a session, the user behind a federation
    token), ``account:<id>`` for another account seen only from the role's side, the service
    name (``ec2.amazonaws.com``) for an AWS service, or ``<provider>:<subject>`` for SAML and
    web identity."""
    kind: str
    """The caller's CloudTrail identity type: ``IAMUser``, ``AssumedRole``, ``AWSAccount``,
    ``AWSService``, ``SAMLUser``, ``WebIdentityUser``, ..."""
    last_seen: str
    """The latest successful assumption by this caller, ISO-8601 UTC."""
    count: int
    """Successful assumptions by this caller."""
    identity_provider: str | None = None
    """SAML provider ARN or web identity provider, for federated callers."""
    subject: str | None = None
    """The federated subject (user name), for federated callers."""


@dataclass(frozen=True, slots=True)
class RoleAssumption:
    """A role that was the target of successful AssumeRole, AssumeRoleWithSAML or
    AssumeRoleWithWebIdentity calls."""

    role_arn: str
    """The assumed role's ARN, as the request named it."""
    last_assumed: str
    """The latest successful assumption, ISO-8601 UTC."""
    count: int
    """Successful assumptions; a cross-account assumption logged in both accounts counts once."""
    callers: tuple[RoleCaller, ...] = ()
    """Who assumed it, sorted by caller then kind."""


@dataclass(frozen=True, slots=True)
class ActionUse:
    """One API action a principal called."""

    event_source: str
    """The CloudTrail ``eventSource``, such as ``s3.amazonaws.com``."""
    event_name: str
    """The CloudTrail ``eventName``, such as ``ListObjects``."""
    iam_action: str | None
    """The IAM action it maps to (``s3:ListBucket``), or None where no IAM action applies."""
    last_seen: str | None
    """The latest successful call, ISO-8601 UTC; None when every call was denied."""
    count: int
    """Successful calls."""
    denied: int
    """Calls that failed (an ``errorCode``, or a failed console login)."""
    last_denied: str | None = None
    """The latest failed call, ISO-8601 UTC."""


@dataclass(frozen=True, slots=True)
class PrincipalActivity:
    """Everything one principal did."""

    principal_arn: str
    """The IAM user, root, or role ARN (the session issuer of an assumed-role session; the user
    behind a federation token)."""
    identity_types: tuple[str, ...]
    """The CloudTrail identity types its events came with, sorted."""
    last_seen: str
    """Its latest event, successful or not (a denied call still proves the credentials are
    in use), ISO-8601 UTC."""
    count: int
    """All its events."""
    actions: tuple[ActionUse, ...] = ()
    """Per (event_source, event_name), sorted."""


@dataclass(frozen=True, slots=True)
class AccessKeyUse:
    """A long-term access key (``AKIA``) seen signing requests."""

    access_key_id: str
    """The key id (never a secret: the secret is never logged)."""
    principal_arn: str
    """The IAM user or root it belongs to."""
    last_seen: str
    """Its latest use, ISO-8601 UTC."""
    count: int
    """Events signed with it."""


@dataclass(frozen=True, slots=True)
class ConsoleLoginUse:
    """Successful console sign-ins by an IAM user or root: the password's last use."""

    user_arn: str
    """The user (or root) ARN."""
    last_seen: str
    """The latest successful sign-in, ISO-8601 UTC."""
    count: int
    """Successful sign-ins."""


@dataclass(frozen=True, slots=True)
class TrailEvidence:
    """What CloudTrail says about who used what, with what could not be read."""

    schema_version: int = SCHEMA_VERSION
    """The contract's version."""
    events_read: int = 0
    """Records read from the sources (after pruning files by key name)."""
    events_skipped: int = 0
    """Records that could not be used: no usable time, no identity, an unknown identity type,
    undecodable."""
    events_filtered: int = 0
    """Records outside the account, region or time filter."""
    files_read: int = 0
    """Files, objects or API pages read."""
    errors: tuple[TrailError, ...] = ()
    """The first errors by file and record, at most ``MAX_ERRORS``."""
    errors_total: int = 0
    """All errors, listed or not."""
    time_range: TimeRange = field(default_factory=TimeRange)
    """The span of the events used."""
    role_assumptions: tuple[RoleAssumption, ...] = ()
    """Sorted by role ARN."""
    principal_activity: tuple[PrincipalActivity, ...] = ()
    """Sorted by principal ARN."""
    access_keys: tuple[AccessKeyUse, ...] = ()
    """Sorted by key id, then principal ARN."""
    console_logins: tuple[ConsoleLoginUse, ...] = ()
    """Sorted by user ARN."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        """The JSON form, indented by 2; the same evidence gives the same text."""
        return self.to_json_bytes().decode("utf-8")

    def write_json(self, fh) -> None:
        """Write :meth:`to_json_bytes` to a binary file, holding as few copies as possible."""
        try:
            import msgspec
        except ImportError:
            fh.write(self.to_json_bytes())
            return
        raw = msgspec.json.encode(self)
        out = msgspec.json.format(raw, indent=2)
        del raw
        fh.write(out)
        fh.write(b"\n")

    def to_json_bytes(self) -> bytes:
        """:meth:`to_json` as UTF-8 bytes, without the copies a ``str`` costs (the evidence of
        a large account is tens of megabytes). msgspec (in the trail extra) writes it fast;
        without it the standard library writes the same bytes."""
        try:
            import msgspec
        except ImportError:
            text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
            return text.encode("utf-8")
        out = msgspec.json.format(msgspec.json.encode(self), indent=2)
        return out + b"\n"

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> TrailEvidence:
        if not isinstance(data, dict):
            data = json.loads(data)
        return cls(
            schema_version=data["schema_version"],
            events_read=data["events_read"],
            events_skipped=data["events_skipped"],
            events_filtered=data.get("events_filtered", 0),
            files_read=data.get("files_read", 0),
            errors=tuple(TrailError(**e) for e in data.get("errors", ())),
            errors_total=data.get("errors_total", len(data.get("errors", ()))),
            time_range=TimeRange(**data.get("time_range", {})),
            role_assumptions=tuple(
                RoleAssumption(
                    role_arn=r["role_arn"],
                    last_assumed=r["last_assumed"],
                    count=r["count"],
                    callers=tuple(RoleCaller(**c) for c in r.get("callers", ())),
                )
                for r in data.get("role_assumptions", ())
            ),
            principal_activity=tuple(
                PrincipalActivity(
                    principal_arn=p["principal_arn"],
                    identity_types=tuple(p.get("identity_types", ())),
                    last_seen=p["last_seen"],
                    count=p["count"],
                    actions=tuple(ActionUse(**a) for a in p.get("actions", ())),
                )
                for p in data.get("principal_activity", ())
            ),
            access_keys=tuple(AccessKeyUse(**k) for k in data.get("access_keys", ())),
            console_logins=tuple(ConsoleLoginUse(**c) for c in data.get("console_logins", ())),
        )

    # Look-ups the core's judgement needs.

    def role(self, role_arn: str) -> RoleAssumption | None:
        """The assumptions of one role, or None."""
        return next((r for r in self.role_assumptions if r.role_arn == role_arn), None)

    def principal(self, principal_arn: str) -> PrincipalActivity | None:
        """The activity of one principal, or None."""
        return next((p for p in self.principal_activity if p.principal_arn == principal_arn), None)

    def access_key(self, access_key_id: str) -> AccessKeyUse | None:
        """The latest use of one access key (over every principal it was seen with), or None."""
        uses = [k for k in self.access_keys if k.access_key_id == access_key_id]
        return max(uses, key=lambda k: k.last_seen) if uses else None

    def console_login(self, user_arn: str) -> ConsoleLoginUse | None:
        """The successful console sign-ins of one user, or None."""
        return next((c for c in self.console_logins if c.user_arn == user_arn), None)
