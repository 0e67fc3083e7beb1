"""Times: one way to read them, one way to write them.

AWS hands out times in several spellings (``2016-11-16T14:10:34+00:00`` in the credential report,
datetimes in boto3, ``2026-01-02T03:04:05Z`` in CloudTrail). dormant keeps every time timezone-
aware in UTC and writes it as ISO-8601 with a ``Z``.
"""

from __future__ import annotations

import datetime as dt

UTC = dt.UTC
DAY = dt.timedelta(days=1)


def iso(value: dt.datetime) -> str:
    """ISO-8601 UTC with a ``Z``; microseconds only where present."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso_or_none(value: dt.datetime | None) -> str | None:
    return None if value is None else iso(value)


def parse_time(value: object) -> dt.datetime:
    """A datetime from an ISO-8601 string or a datetime; naive values are taken as UTC.

    Raises ``ValueError`` with the offending text when it is not a time.
    """
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty time")
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            result = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an ISO-8601 time: {value!r}") from None
    else:
        raise ValueError(f"not a time: {value!r}")
    if result.tzinfo is None:
        result = result.replace(tzinfo=UTC)
    return result.astimezone(UTC)


def parse_time_or_none(value: object) -> dt.datetime | None:
    if value is None or value == "":
        return None
    return parse_time(value)


def whole_days(delta: dt.timedelta) -> int:
    """Completed days in ``delta`` (negative deltas count as 0)."""
    return max(0, delta // DAY)
