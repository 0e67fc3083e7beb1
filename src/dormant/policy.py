"""The policy file: thresholds per finding type, exclusions, and an allow-list with owners and
expiry dates. One TOML file, validated, with errors that name the file and the field.

    [thresholds]
    default = 90                     # every type not named below
    UnusedIAMUserAccessKey = 45
    UnrotatedIAMUserAccessKey = 90
    RootRecentlyUsed = 30            # root use within this many days is a finding

    [cloudtrail]
    sources = ["s3://org-trail-bucket/AWSLogs/"]   # added to --trail

    [exclusions]
    service_linked_roles = true      # roles under /aws-service-role/
    identity_center_roles = true     # roles under /aws-reserved/
    arns = ["arn:aws:iam::*:role/OrganizationAccountAccessRole"]
    paths = ["/break-glass/"]

    [[allow]]
    arn = "arn:aws:iam::111122223333:user/legacy-*"     # or: tag = "dormant:exempt=true"
    owner = "platform-team@example.com"
    reason = "Vendor integration, rotates yearly (TICKET-123)"
    expires = 2027-03-31
    types = ["UnusedIAMUserAccessKey"]                   # optional: all types when absent

    [remediation]                    # dormant remediate (and the Lambda's auto-deactivation)
    delete_keys_after_days = 30      # delete a key dormant deactivated at least this long ago
    delete_roles_after_days = 30     # delete a role dormant quarantined at least this long ago
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import InputError
from .model import FindingType

DEFAULT_THRESHOLD_DAYS = 90
"""IAM Access Analyzer's default unused-access age."""

CIS_PRESET = {
    FindingType.UNUSED_PASSWORD: 45,
    FindingType.UNUSED_ACCESS_KEY: 45,
    FindingType.INACTIVE_USER: 45,
    FindingType.UNROTATED_ACCESS_KEY: 90,
}
"""CIS AWS Foundations Benchmark: credentials unused for 45 days or more are disabled (1.12);
access keys are rotated every 90 days or less (1.14)."""

SERVICE_LINKED_PATH = "/aws-service-role/"
IDENTITY_CENTER_PATH = "/aws-reserved/"

_TYPE_NAMES = [str(t) for t in FindingType]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Exclusions(_Strict):
    service_linked_roles: bool = True
    """Exclude roles under ``/aws-service-role/``: AWS owns them; delete them through the
    service that made them."""
    identity_center_roles: bool = True
    """Exclude roles under ``/aws-reserved/``: IAM Identity Center manages them."""
    arns: tuple[str, ...] = ()
    """ARN patterns (``*`` and ``?`` wildcards) excluded from every finding."""
    paths: tuple[str, ...] = ()
    """IAM path prefixes excluded from every finding."""


class AllowEntry(_Strict):
    arn: str | None = None
    """ARN pattern, ``*`` and ``?`` wildcards."""
    tag: str | None = None
    """``Key=Value`` (or ``Key`` for any value) on the user or role."""
    owner: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    expires: dt.date
    types: tuple[str, ...] = ()
    """Finding types it covers; every type when empty."""

    @model_validator(mode="after")
    def _one_matcher(self) -> AllowEntry:
        if bool(self.arn) == bool(self.tag):
            raise ValueError("give exactly one of 'arn' or 'tag'")
        return self

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for t in value:
            if t not in _TYPE_NAMES:
                raise ValueError(f"unknown finding type {t!r}; expected one of {_TYPE_NAMES}")
        return value

    @property
    def pattern(self) -> str:
        return self.arn if self.arn else f"tag:{self.tag}"

    def matches(self, finding_type: str, arn: str, tags: dict[str, str]) -> bool:
        if self.types and finding_type not in self.types:
            return False
        if self.arn:
            return fnmatch.fnmatchcase(arn, self.arn)
        key, sep, value = (self.tag or "").partition("=")
        if key not in tags:
            return False
        return not sep or tags[key] == value


class CloudTrailSettings(_Strict):
    sources: tuple[str, ...] = ()
    """Where CloudTrail evidence comes from for ``scan``: local paths, ``s3://`` prefixes in
    CloudTrail's layout, or ``lookup-events``; added to ``--trail``."""
    start: dt.datetime | None = None
    """Read events from this time on (a TOML date-time); default: everything the sources hold."""

    @field_validator("start")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


DEFAULT_DELETE_AFTER_DAYS = 30
"""How long a key stays deactivated, or a role quarantined, before dormant deletes it."""


class Remediation(_Strict):
    delete_keys_after_days: int = Field(default=DEFAULT_DELETE_AFTER_DAYS, ge=1, le=3650)
    """A later ``dormant remediate plan`` deletes an access key that dormant deactivated at
    least this many days ago and that nobody reactivated or used since."""
    delete_roles_after_days: int = Field(default=DEFAULT_DELETE_AFTER_DAYS, ge=1, le=3650)
    """A later plan deletes a role that dormant quarantined at least this many days ago, whose
    quarantine policy is still in place and that nobody used since."""


class PolicyFile(_Strict):
    thresholds: dict[str, int] = Field(default_factory=dict)
    cloudtrail: CloudTrailSettings = Field(default_factory=CloudTrailSettings)
    exclusions: Exclusions = Field(default_factory=Exclusions)
    allow: tuple[AllowEntry, ...] = ()
    remediation: Remediation = Field(default_factory=Remediation)

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: dict[str, int]) -> dict[str, int]:
        for key, days in value.items():
            if key != "default" and key not in _TYPE_NAMES:
                raise ValueError(
                    f"unknown finding type {key!r}; expected 'default' or one of {_TYPE_NAMES}"
                )
            if days < 1:
                raise ValueError(f"{key}: expected a whole number of days of at least 1")
        return value


class Policy:
    """Thresholds and rules as the judge applies them."""

    def __init__(
        self,
        file: PolicyFile | None = None,
        *,
        source: str | None = None,
        cis: bool = False,
        threshold_days: int | None = None,
    ) -> None:
        self.file = file or PolicyFile()
        self.source = source
        self.cis = cis
        self.threshold_override = threshold_days
        base = dict.fromkeys(FindingType, DEFAULT_THRESHOLD_DAYS)
        default = self.file.thresholds.get("default")
        if default is not None:
            base = dict.fromkeys(FindingType, default)
        for name, days in self.file.thresholds.items():
            if name != "default":
                base[FindingType(name)] = days
        if cis:
            base.update(CIS_PRESET)
        if threshold_days is not None:
            base = dict.fromkeys(FindingType, threshold_days)
        self.thresholds: dict[FindingType, int] = base

    def threshold(self, finding_type: FindingType) -> int:
        return self.thresholds[finding_type]

    @property
    def exclusions(self) -> Exclusions:
        return self.file.exclusions

    @property
    def allow(self) -> tuple[AllowEntry, ...]:
        return self.file.allow

    @property
    def remediation(self) -> Remediation:
        return self.file.remediation

    def protection(
        self,
        finding_type: str,
        arn: str,
        tags: dict[str, str],
        today: dt.date,
        path: str | None = None,
    ) -> str | None:
        """The rule that keeps remediation away from this principal, or None.

        The default exclusions (service-linked and IAM Identity Center roles), the policy's
        exclusions by ARN and path, and every allow-list entry that has not expired. The judge
        applies the same rules to findings; remediation applies them again, at plan and at apply
        time, to what it is about to change.
        """
        path = path if path is not None else principal_path(arn)
        ex = self.exclusions
        if ":role/" in arn:
            if ex.service_linked_roles and path.startswith(SERVICE_LINKED_PATH):
                return (
                    f"service-linked role (path {SERVICE_LINKED_PATH}): managed by an AWS service"
                )
            if ex.identity_center_roles and path.startswith(IDENTITY_CENTER_PATH):
                return f"IAM Identity Center role (path {IDENTITY_CENTER_PATH}): managed by AWS"
        for pattern in ex.arns:
            if fnmatch.fnmatchcase(arn, pattern):
                return f"policy exclusion: ARN matches {pattern}"
        for prefix in ex.paths:
            if path.startswith(prefix):
                return f"policy exclusion: path {prefix}"
        for entry in self.allow:
            if entry.expires >= today and entry.matches(finding_type, arn, tags):
                return (
                    f"allow-list: {entry.pattern} (owner {entry.owner}; {entry.reason}; "
                    f"expires {entry.expires.isoformat()})"
                )
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "cis": self.cis,
            "threshold_days_override": self.threshold_override,
            "thresholds": {str(k): v for k, v in sorted(self.thresholds.items())},
        }


def principal_path(arn: str) -> str:
    """The IAM path of a user, role or group from its ARN (``/`` when it has none)."""
    resource = arn.split(":", 5)[-1] if arn.count(":") >= 5 else arn
    parts = resource.split("/")
    if len(parts) <= 2:
        return "/"
    return "/" + "/".join(parts[1:-1]) + "/"


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def parse_policy(text: str, where: str) -> PolicyFile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already says "(at line N, column M)".
        raise InputError(f"{where}: not valid TOML: {exc}") from None
    try:
        return PolicyFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _loc(tuple(p for p in err["loc"] if p not in ("function-after",)))
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        extra = ""
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif got is not None and not isinstance(got, dict | list):
            extra = f" (got {got!r})"
        more = f" and {len(exc.errors()) - 1} more error(s)" if len(exc.errors()) > 1 else ""
        raise InputError(f"{where}: {loc}: {msg}{extra}{more}") from None


def load_policy(
    path: str | Path | None,
    *,
    cis: bool = False,
    threshold_days: int | None = None,
) -> Policy:
    file = None
    source = None
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{p}: cannot read the policy file ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise InputError(f"{p}: not UTF-8 text; expected a TOML policy file") from None
        file = parse_policy(text, str(p))
        source = str(p)
    if threshold_days is not None and threshold_days < 1:
        raise InputError(f"--threshold-days: expected at least 1, got {threshold_days}")
    return Policy(file, source=source, cis=cis, threshold_days=threshold_days)
