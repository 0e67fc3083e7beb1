"""The Python API the core calls: :func:`scan` turns CloudTrail sources into evidence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from .aggregate import Filters
from .evidence import TrailEvidence
from .layout import Prune
from .sources import LocalSource, LookupEventsSource, S3Source, Source

LOOKUP_EVENTS = "lookup-events"
"""The source name that means the LookupEvents API."""

TimeLike = dt.datetime | dt.date | str | None


def parse_time(value: TimeLike, *, end: bool = False) -> dt.datetime | None:
    """An aware UTC datetime from a date, a datetime or ISO-8601 text.

    A date (no time of day) given as an ``end`` means the end of that day, so ``--end
    2026-01-31`` includes the 31st. A time without a zone is UTC.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            value = dt.date.fromisoformat(text)
        else:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if not isinstance(value, dt.datetime):
        day = value + dt.timedelta(days=1) if end else value
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def make_filters(
    accounts: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
) -> tuple[Filters, Prune]:
    """The per-record filters and the key-name pruning they imply."""
    accts = frozenset(accounts) if accounts else None
    regs = frozenset(regions) if regions else None
    t0 = parse_time(start)
    t1 = parse_time(end, end=True)
    filters = Filters(accounts=accts, regions=regs, start=t0, end=t1)
    prune = Prune(
        accounts=accts,
        regions=regs,
        start=t0.date() if t0 else None,
        end=(t1 - dt.timedelta(microseconds=1)).date() if t1 else None,
    )
    return filters, prune


def resolve_sources(
    sources: Iterable[str | Source],
    *,
    session: Any = None,
    s3_client: Any = None,
    cloudtrail_client: Any = None,
    regions: Iterable[str] | None = None,
) -> list[Source]:
    """Source objects for paths, ``s3://`` URIs and ``lookup-events``.

    ``session`` is an :class:`~dormant.sources.aws.AccountSession` (one is built from the
    standard credential chain when S3 or the API is named and none is given); ``s3_client`` and
    ``cloudtrail_client`` are boto3 clients that override it.
    """
    out: list[Source] = []
    for src in sources:
        if not isinstance(src, str):
            out.append(src)
        elif src.startswith("s3://"):
            session = session or (None if s3_client else _default_session())
            out.append(S3Source.from_uri(src, s3_client or session))
        elif src == LOOKUP_EVENTS:
            session = session or (None if cloudtrail_client else _default_session())
            out.append(
                LookupEventsSource(
                    client=cloudtrail_client or session,
                    regions=tuple(regions or ()) if cloudtrail_client is None else (),
                )
            )
        else:
            out.append(LocalSource(src))
    return out


def _default_session():
    from ..sources.aws import build_session

    return build_session()


def iter_units(sources: list[Source], prune: Prune) -> Iterator[tuple]:
    """Every source's units; a source that cannot be listed (no such bucket, access denied)
    becomes an error unit, and the other sources are still read."""
    for src in sources:
        try:
            yield from src.units(prune)
        except Exception as exc:  # noqa: BLE001 - reported in the evidence, not raised
            from ..sources.aws import error_message

            yield ("error", src.describe(), f"cannot list: {error_message(exc)}")


def scan(
    sources: Iterable[str | Source],
    *,
    accounts: Iterable[str] | None = None,
    regions: Iterable[str] | None = None,
    start: TimeLike = None,
    end: TimeLike = None,
    workers: int | None = None,
    session: Any = None,
    s3_client: Any = None,
    cloudtrail_client: Any = None,
) -> TrailEvidence:
    """Read CloudTrail from ``sources`` with the local engine and return the evidence.

    ``sources`` are local files or folders, ``s3://bucket/prefix`` URIs, ``"lookup-events"``,
    or :class:`~dormant.trail.sources.Source` objects. ``accounts``, ``regions``, ``start`` and
    ``end`` prune files by key name and filter records; ``start`` is inclusive, ``end``
    exclusive (a date as ``end`` includes that day). ``workers`` defaults to every core.
    """
    from . import engine

    filters, prune = make_filters(accounts, regions, start, end)
    resolved = resolve_sources(
        sources,
        session=session,
        s3_client=s3_client,
        cloudtrail_client=cloudtrail_client,
        regions=regions,
    )
    partial = engine.run(iter_units(resolved, prune), filters, workers)
    return partial.evidence()
