"""CloudTrail's S3 key layout, to prune files by account, region and date before reading them.

A trail delivers to ``[prefix/]AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>``; an
organization trail to ``[prefix/]AWSLogs/<o-id>/<account>/CloudTrail/...``. Digest and Insights
files sit beside (``CloudTrail-Digest``, ``CloudTrail-Insight``) and are never read. The same
rules prune local folders laid out the same way.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

ACCOUNT_RE = re.compile(r"^\d{12}$")
ORG_RE = re.compile(r"^o-[a-z0-9]{10,32}$")

DATA_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz")
"""Files read when walking a folder; a file named explicitly is read whatever its name."""


@dataclass(frozen=True)
class Prune:
    """What to keep, judged from key names alone."""

    accounts: frozenset[str] | None = None
    """Account ids to keep, or None for all."""
    regions: frozenset[str] | None = None
    """Regions to keep, or None for all."""
    start: dt.date | None = None
    """The first day to keep (UTC), or None."""
    end: dt.date | None = None
    """The last day to keep (UTC, inclusive), or None."""

    def keep_account(self, account: str) -> bool:
        return self.accounts is None or account in self.accounts

    def keep_region(self, region: str) -> bool:
        return self.regions is None or region in self.regions

    def keep_day(self, day: dt.date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def keep_month(self, year: int, month: int) -> bool:
        first = dt.date(year, month, 1)
        nxt = dt.date(year + month // 12, month % 12 + 1, 1)
        return (self.start is None or nxt > self.start) and (self.end is None or first <= self.end)

    def keep_year(self, year: int) -> bool:
        return (self.start is None or year >= self.start.year) and (
            self.end is None or year <= self.end.year
        )


@dataclass(frozen=True)
class KeyInfo:
    """Where a key sits in the layout."""

    account: str
    """The 12-digit account id."""
    region: str
    """The region name."""
    day: dt.date
    """The day the file's events belong to (UTC)."""


def parse_key(key: str) -> KeyInfo | None:
    """The account, region and day of a CloudTrail log key, or None outside the layout."""
    parts = key.split("/")
    try:
        i = parts.index("AWSLogs")
    except ValueError:
        return None
    rest = parts[i + 1 :]
    if rest and ORG_RE.match(rest[0]):
        rest = rest[1:]
    if len(rest) < 7 or rest[1] != "CloudTrail" or not ACCOUNT_RE.match(rest[0]):
        return None
    try:
        day = dt.date(int(rest[3]), int(rest[4]), int(rest[5]))
    except ValueError:
        return None
    return KeyInfo(account=rest[0], region=rest[2], day=day)


def in_layout(key: str) -> bool:
    """Whether the key has an ``AWSLogs`` segment (and so is judged by the layout)."""
    return "AWSLogs" in key.split("/")


def keep_key(key: str, prune: Prune) -> bool:
    """Whether a key is worth reading: outside the layout always; inside, only log files of
    the wanted accounts, regions and days."""
    if not in_layout(key):
        return True
    info = parse_key(key)
    if info is None:
        return False
    return (
        prune.keep_account(info.account)
        and prune.keep_region(info.region)
        and prune.keep_day(info.day)
    )


def keep_dir(parts: list[str], prune: Prune) -> bool:
    """Whether a folder (path segments, the last one being the folder) may hold wanted logs.

    Used while walking, so that a pruned account, region, year or month is never listed.
    """
    try:
        i = parts.index("AWSLogs")
    except ValueError:
        return True
    rest = parts[i + 1 :]
    if rest and ORG_RE.match(rest[0]):
        rest = rest[1:]
    if not rest:
        return True
    if not ACCOUNT_RE.match(rest[0]) or not prune.keep_account(rest[0]):
        return False
    if len(rest) >= 2 and rest[1] != "CloudTrail":
        return False
    if len(rest) >= 3 and not prune.keep_region(rest[2]):
        return False
    try:
        if len(rest) >= 4 and not prune.keep_year(int(rest[3])):
            return False
        if len(rest) >= 5 and not prune.keep_month(int(rest[3]), int(rest[4])):
            return False
        if len(rest) >= 6 and not prune.keep_day(dt.date(int(rest[3]), int(rest[4]), int(rest[5]))):
            return False
    except ValueError:
        return False
    return True


def day_prefix(day: dt.date) -> str:
    """``YYYY/MM/DD/``, the tail of a day's prefix."""
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}/"
