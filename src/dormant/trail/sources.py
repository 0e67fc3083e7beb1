"""Where CloudTrail data comes from: local files and folders, S3 prefixes, the LookupEvents API.

A source yields *units*: picklable descriptions of one file's worth of data that the engine
hands to a worker process. A local file is sent as its path (the worker reads it); an S3 object
or an API page is fetched here, as bytes, and sent whole. Nothing is written to disk, and the
number of units in flight is bounded by the engine, so memory does not grow with the corpus.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import layout
from .layout import Prune

Unit = tuple
"""``("file", path)`` or ``("bytes", name, data)``."""


class Source(Protocol):
    """Something that yields units of CloudTrail data."""

    def describe(self) -> str:
        """A one-line name, as errors and the evidence name it."""

    def units(self, prune: Prune) -> Iterator[Unit]:
        """Units worth reading under ``prune``."""


@dataclass(frozen=True)
class LocalSource:
    """A local file (read whatever its name) or folder (walked, in CloudTrail's layout or not)."""

    path: str
    """A file or folder."""

    def describe(self) -> str:
        return self.path

    def units(self, prune: Prune) -> Iterator[Unit]:
        if not os.path.isdir(self.path):
            yield ("file", self.path)
            return
        for root, dirs, files in os.walk(self.path):
            parts = root.split(os.sep)
            dirs[:] = sorted(d for d in dirs if layout.keep_dir([*parts, d], prune))
            for name in sorted(files):
                path = os.path.join(root, name)
                if layout.in_layout(path):
                    if layout.keep_key(path.replace(os.sep, "/"), prune):
                        yield ("file", path)
                elif name.endswith(layout.DATA_SUFFIXES):
                    yield ("file", path)


def s3_client_of(aws: Any, service: str = "s3", region: str | None = None) -> Any:
    """A client from an :class:`~dormant.sources.aws.AccountSession`, or the client itself."""
    if hasattr(aws, "client") and not hasattr(aws, "meta"):
        return aws.client(service, region) if region else aws.client(service)
    return aws


@dataclass(frozen=True)
class S3Source:
    """Objects under an ``s3://bucket/prefix``, listed with pruning by key name.

    Folders of the layout are listed with a delimiter so that pruned accounts and regions are
    never listed; each region's days are listed from the first wanted day (``StartAfter``) and
    the listing stops after the last.
    """

    bucket: str
    """The bucket name."""
    prefix: str
    """The key prefix (may be empty, a folder ending in ``/``, or one object's key)."""
    client: Any = field(compare=False, repr=False)
    """A boto3 S3 client, or an ``AccountSession``."""
    fetch_threads: int = 8
    """Objects downloaded at once."""

    @classmethod
    def from_uri(cls, uri: str, client: Any) -> S3Source:
        rest = uri[len("s3://") :]
        bucket, _, prefix = rest.partition("/")
        return cls(bucket=bucket, prefix=prefix, client=s3_client_of(client))

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def keys(self, prune: Prune) -> Iterator[str]:
        """Keys worth reading, in listing order."""
        yield from self._walk(self.prefix, prune)

    def _walk(self, prefix: str, prune: Prune) -> Iterator[str]:
        depth = _layout_depth(prefix)
        if depth is not None and depth >= REGION_DEPTH:
            yield from self._list_days(prefix, prune, exact_region=depth == REGION_DEPTH)
            return
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            for obj in page.get("Contents") or ():
                key = obj["Key"]
                if _wanted(key, prune):
                    yield key
            for cp in page.get("CommonPrefixes") or ():
                sub = cp["Prefix"]
                if layout.keep_dir(sub.rstrip("/").split("/"), prune):
                    yield from self._walk(sub, prune)

    def _list_days(self, prefix: str, prune: Prune, exact_region: bool) -> Iterator[str]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        base = prefix if prefix.endswith("/") else prefix + "/"
        if exact_region and prune.start is not None:
            params["StartAfter"] = base + layout.day_prefix(prune.start)[:-1]
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(**params):
            for obj in page.get("Contents") or ():
                key = obj["Key"]
                info = layout.parse_key(key)
                if exact_region and info is not None and prune.end and info.day > prune.end:
                    return
                if _wanted(key, prune):
                    yield key

    def units(self, prune: Prune) -> Iterator[Unit]:
        def fetch(key: str) -> Unit:
            name = f"s3://{self.bucket}/{key}"
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
                try:
                    return ("bytes", name, body.read())
                finally:
                    body.close()
            except Exception as exc:  # noqa: BLE001 - reported per object, the rest goes on
                from ..sources.aws import error_message

                return ("error", name, f"cannot read: {error_message(exc)}")

        yield from _bounded_map(fetch, self.keys(prune), self.fetch_threads)


REGION_DEPTH = 2
"""The depth of ``<account>/CloudTrail/<region>/``, where each day's keys follow in order."""


def _wanted(key: str, prune: Prune) -> bool:
    if layout.in_layout(key):
        return layout.keep_key(key, prune)
    return key.endswith(layout.DATA_SUFFIXES)


def _layout_depth(prefix: str) -> int | None:
    """How deep a folder prefix (ending in ``/``) is inside the layout: 0 at the account, 1 at
    ``CloudTrail/``, 2 at the region, ...; None outside it, above the account, or for a prefix
    that ends mid-name."""
    if not prefix.endswith("/"):
        return None
    parts = prefix[:-1].split("/")
    try:
        i = parts.index("AWSLogs")
    except ValueError:
        return None
    rest = parts[i + 1 :]
    if rest and layout.ORG_RE.match(rest[0]):
        rest = rest[1:]
    if not rest or not layout.ACCOUNT_RE.match(rest[0]):
        return None
    return len(rest) - 1


def _bounded_map(fn, items: Iterator, threads: int) -> Iterator:
    """``fn`` over ``items`` in a thread pool, with at most ``2 * threads`` results pending."""
    from collections import deque

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dormant-s3") as ex:
        pending: deque = deque()
        for item in items:
            pending.append(ex.submit(fn, item))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@dataclass(frozen=True)
class LookupEventsSource:
    """The CloudTrail LookupEvents API: the last 90 days of management events of the account
    the credentials belong to, one region at a time, rate limited (AWS allows about 2 calls a
    second per account per region)."""

    client: Any = field(compare=False, repr=False)
    """An ``AccountSession`` (a client per region) or one boto3 CloudTrail client."""
    regions: tuple[str, ...] = ()
    """Regions to read; empty for the client's (or session's) own region."""
    rate: float = 2.0
    """Calls a second per region."""
    limiter_factory: Any = field(default=None, compare=False, repr=False)
    """Makes the rate limiter for a region; tests pass one with a fake clock."""

    def describe(self) -> str:
        return "lookup-events"

    def units(self, prune: Prune) -> Iterator[Unit]:
        from .lookup import RateLimiter, lookup_pages

        regions = self.regions or (None,)
        for region in regions:
            client = s3_client_of(self.client, "cloudtrail", region)
            name_region = region or client.meta.region_name
            limiter = (self.limiter_factory or RateLimiter)(self.rate)
            start = _aware(prune.start)
            end = _aware(prune.end, next_day=True)
            try:
                for n, page in enumerate(lookup_pages(client, start, end, limiter)):
                    events = [{"CloudTrailEvent": e.get("CloudTrailEvent")} for e in page]
                    data = json.dumps({"Events": events}).encode()
                    yield ("bytes", f"lookup-events:{name_region}:page-{n}", data)
            except Exception as exc:  # noqa: BLE001 - reported, other regions go on
                from ..sources.aws import error_message

                yield ("error", f"lookup-events:{name_region}", error_message(exc))


def _aware(day, next_day: bool = False):
    import datetime as dt

    if day is None:
        return None
    if next_day:
        day = day + dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
