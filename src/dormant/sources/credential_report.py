"""The IAM credential report: collect (generate, poll, get) and parse.

The report is one CSV row per user plus ``<root_account>``. It is regenerated at most every four
hours, so its ``GeneratedTime`` is kept and a user created after it is never judged from it.
Columns are read by header name, never by position: AWS has added columns before.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from ..errors import InputError
from ..timeutil import iso, parse_time
from .aws import error_code
from .base import CollectContext, SourceError, SourceResult

NAME = "credential_report"

ROOT_USER = "<root_account>"

NOT_APPLICABLE = "N/A"
NO_INFORMATION = "no_information"
NOT_SUPPORTED = "not_supported"
SPECIAL_VALUES = frozenset({NOT_APPLICABLE, NO_INFORMATION, NOT_SUPPORTED})

REQUIRED_COLUMNS = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
)
"""Without these the report cannot say whether a credential is unused."""

OPTIONAL_COLUMNS = (
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
)


@dataclass(frozen=True)
class TimeField:
    """A credential report time cell: a time, or one of AWS's special values."""

    raw: str
    """The cell verbatim."""
    time: dt.datetime | None
    """The time, where the cell holds one."""

    @property
    def special(self) -> str | None:
        return None if self.time else self.raw


@dataclass(frozen=True)
class KeySlot:
    """``access_key_N_*``: the report's view of one access key slot."""

    slot: int
    """1 or 2. Slots are not key ids: match them to keys by ``last_rotated`` (the key's
    creation time)."""
    active: bool | None
    last_rotated: TimeField
    last_used: TimeField
    last_used_region: str | None
    last_used_service: str | None


@dataclass(frozen=True)
class CertSlot:
    slot: int
    active: bool | None
    last_rotated: TimeField


@dataclass(frozen=True)
class ReportRow:
    """One user (or the root user) in the credential report."""

    line: int
    """The CSV line this row came from (the header is line 1)."""
    user: str
    arn: str
    is_root: bool
    user_creation_time: dt.datetime | None
    password_enabled: bool | None
    """True/False; None for ``not_supported`` (the root user)."""
    password_last_used: TimeField
    password_last_changed: TimeField | None
    mfa_active: bool | None
    keys: tuple[KeySlot, ...]
    certs: tuple[CertSlot, ...]

    @property
    def account_id(self) -> str:
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 4 else ""


@dataclass(frozen=True)
class CredentialReport:
    generated_time: dt.datetime | None
    """When AWS generated the report; None for a bare CSV whose time is not known."""
    rows: tuple[ReportRow, ...]
    extra_columns: tuple[str, ...] = ()
    """Columns this version of dormant does not know; kept in the raw CSV, ignored here."""
    origin: str = "GetCredentialReport"

    @property
    def root(self) -> ReportRow | None:
        return next((r for r in self.rows if r.is_root), None)

    def user(self, arn_or_name: str) -> ReportRow | None:
        for r in self.rows:
            if not r.is_root and (r.arn == arn_or_name or r.user == arn_or_name):
                return r
        return None

    @property
    def latest_time(self) -> dt.datetime | None:
        """The latest time written anywhere in the report: a lower bound of its generation."""
        times: list[dt.datetime] = []
        for r in self.rows:
            if r.user_creation_time:
                times.append(r.user_creation_time)
            for f in (r.password_last_used, r.password_last_changed):
                if f and f.time:
                    times.append(f.time)
            for k in r.keys:
                times.extend(t.time for t in (k.last_rotated, k.last_used) if t.time)
        return max(times) if times else None


# --------------------------------------------------------------------------------- parse


def _bool(value: str, where: str) -> bool | None:
    v = value.strip().lower()
    if v == "true":
        return True
    if v == "false":
        return False
    if v in ("not_supported", "n/a", ""):
        return None
    raise InputError(f"{where}: expected true or false, got {value!r}")


def _time(value: str, where: str) -> TimeField:
    v = value.strip()
    if v in SPECIAL_VALUES or v == "":
        return TimeField(raw=v, time=None)
    try:
        return TimeField(raw=v, time=parse_time(v))
    except ValueError:
        raise InputError(
            f"{where}: expected an ISO-8601 time or one of N/A, no_information, "
            f"not_supported, got {value!r}"
        ) from None


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip()
    return None if v in ("", NOT_APPLICABLE) else v


def parse(
    content: str | bytes,
    generated_time: object = None,
    *,
    origin: str = "GetCredentialReport",
    where: str = "credential report",
) -> CredentialReport:
    """Parse the report's CSV text. ``where`` names it in error messages (a file path).

    Raises :class:`InputError` naming the line and column of the first bad cell.
    """
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
    content = content.lstrip("\ufeff")
    if not content.strip():
        raise InputError(f"{where}: empty, expected a CSV header starting with 'user,arn'")
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        raise InputError(f"{where}: line 1: not CSV ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{where}: line 1: missing column(s) {', '.join(missing)}; "
            "expected an IAM credential report header"
        )
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise InputError(f"{where}: line 1: duplicate column(s) {', '.join(dupes)}")
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    extra = tuple(h for h in header if h not in known)
    gen = None
    if generated_time not in (None, ""):
        try:
            gen = parse_time(generated_time)
        except ValueError as exc:
            raise InputError(f"{where}: GeneratedTime: {exc}") from None

    rows: list[ReportRow] = []
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(f"{where}: line {reader.line_num}: not valid CSV ({exc})") from None
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise InputError(
                f"{where}: line {line}: {len(cells)} cells, expected {len(header)} "
                "(one per header column)"
            )
        rec = dict(zip(header, cells, strict=True))

        def cell(col: str, _rec=rec, _line=line):
            return _rec.get(col), f"{where}: line {_line}, column {col}"

        user = rec["user"].strip()
        arn = rec["arn"].strip()
        if not user or not arn.startswith("arn:"):
            raise InputError(f"{where}: line {line}: expected a user name and an ARN")
        created = _time(*cell("user_creation_time"))
        keys = []
        for n in (1, 2):
            p = f"access_key_{n}_"
            keys.append(
                KeySlot(
                    slot=n,
                    active=_bool(*cell(p + "active")),
                    last_rotated=_time(*cell(p + "last_rotated")),
                    last_used=_time(*cell(p + "last_used_date")),
                    last_used_region=_text(rec.get(p + "last_used_region")),
                    last_used_service=_text(rec.get(p + "last_used_service")),
                )
            )
        certs = []
        for n in (1, 2):
            p = f"cert_{n}_"
            if p + "active" in rec:
                certs.append(
                    CertSlot(
                        slot=n,
                        active=_bool(*cell(p + "active")),
                        last_rotated=_time(rec.get(p + "last_rotated") or "N/A", cell(p)[1]),
                    )
                )
        rows.append(
            ReportRow(
                line=line,
                user=user,
                arn=arn,
                is_root=user == ROOT_USER,
                user_creation_time=created.time,
                password_enabled=_bool(*cell("password_enabled")),
                password_last_used=_time(*cell("password_last_used")),
                password_last_changed=(
                    _time(*cell("password_last_changed"))
                    if "password_last_changed" in rec
                    else None
                ),
                mfa_active=_bool(*cell("mfa_active")) if "mfa_active" in rec else None,
                keys=tuple(keys),
                certs=tuple(certs),
            )
        )
    return CredentialReport(
        generated_time=gen, rows=tuple(rows), extra_columns=extra, origin=origin
    )


def parse_raw(raw: dict[str, Any], where: str = "credential report") -> CredentialReport | None:
    """The report from a snapshot's raw source data, or None when it was not read."""
    content = raw.get("Content")
    if content is None:
        return None
    return parse(
        content,
        raw.get("GeneratedTime"),
        origin=raw.get("Origin", "GetCredentialReport"),
        where=where,
    )


# ------------------------------------------------------------------------------- collect

# States that GenerateCredentialReport answers, and errors that mean "wait and ask again".
_RETRY_CODES = frozenset(
    {
        "ReportInProgress",
        "LimitExceeded",
        "LimitExceededException",
        "Throttling",
        "ThrottlingException",
        "ServiceFailure",
    }
)


def collect(ctx: CollectContext) -> SourceResult:
    """Generate the report, wait for it with backoff, and read it.

    GenerateCredentialReport answers STARTED (or COMPLETE when a report under four hours old
    exists); GetCredentialReport then answers ReportInProgress until it is ready. A report that
    stays ReportNotPresent, or has expired, is generated again. Throttling and LimitExceeded
    are waited out. Options (``ctx.options``): ``credential_report_timeout`` seconds (300).
    """
    result = SourceResult(name=NAME, started_at=ctx.now_iso())
    iam = ctx.client("iam")
    timeout = float(ctx.options.get("credential_report_timeout", 300))
    deadline = ctx.wait_clock() + dt.timedelta(seconds=timeout)
    delay = 1.0
    need_generate = True
    not_present = 0
    ctx.progress("credential report", 0, 1)
    while True:
        if ctx.cancel.is_set():
            result.errors.append(SourceError("GetCredentialReport", "Cancelled", "scan cancelled"))
            break
        operation = "GenerateCredentialReport" if need_generate else "GetCredentialReport"
        try:
            if need_generate:
                iam.generate_credential_report()
                need_generate = False
                not_present = 0
                continue  # ask for it at once: a recent report is ready immediately
            resp = iam.get_credential_report()
            content = resp["Content"]
            text = content if isinstance(content, str) else bytes(content).decode("utf-8-sig")
            result.raw = {
                "Content": text,
                "GeneratedTime": iso(resp["GeneratedTime"]),
                "ReportFormat": resp.get("ReportFormat", "text/csv"),
            }
            break
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code == "ReportExpired":
                need_generate = True
            elif code == "ReportNotPresent":
                not_present += 1
                need_generate = not_present >= 3
            elif code not in _RETRY_CODES:
                result.errors.append(SourceError.from_exception(operation, exc))
                break
        except botocore.exceptions.BotoCoreError as exc:
            result.errors.append(SourceError.from_exception(operation, exc))
            break
        if ctx.wait_clock() >= deadline:
            result.errors.append(
                SourceError(
                    "GetCredentialReport",
                    "Timeout",
                    f"the report was not ready after {timeout:.0f} s",
                )
            )
            break
        ctx.pause(delay)
        delay = min(delay * 2, 15.0)
    result.settle({"GenerateCredentialReport": 1, "GetCredentialReport": 1})
    result.finished_at = ctx.now_iso()
    ctx.progress("credential report", 1, 1)
    return result
