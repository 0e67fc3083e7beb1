"""The local engine: every core of one machine, streaming, memory bounded by the largest file.

Worker processes each keep one :class:`~dormant.trail.aggregate.Partial` for all the units they
are given and send it back at the end. The parent lists (and, for S3 and the API, fetches)
units into a bounded queue, reads units itself whenever the queue is full (it is one of the
workers), and merges one partial per worker. With one worker (or few units) everything runs in
this process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from collections.abc import Iterable, Iterator

from .aggregate import Filters, Partial, no_gc
from .records import FileError, decode, decompress

INLINE_BELOW = 4
"""Fewer units than this are read in this process: a pool would cost more than it saves."""
FILE_BATCH = 8
"""Local files per task (their paths are tiny; the worker reads them)."""
QUEUE_BATCHES = 16
"""Tasks queued ahead of the workers; bounds the memory of queued S3 objects."""


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def load_unit(unit: tuple) -> tuple[list, list] | str:
    """The decoded items of one unit and its bad records, or why the unit cannot be read.

    Never raises for bad input: every engine reports a bad file the same way."""
    kind, name = unit[0], unit[1]
    if kind == "error":
        return unit[2]
    try:
        if kind == "file":
            with open(name, "rb") as fh:
                data = fh.read()
        else:
            data = unit[2]
        return decode(decompress(data))
    except FileError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    except MemoryError:
        return "too large to decode in memory"


def read_unit(partial: Partial, unit: tuple) -> None:
    """Read one unit into ``partial``; a bad file is an error, never an exception."""
    loaded = load_unit(unit)
    if isinstance(loaded, str):
        partial.file_error(unit[1], loaded)
        return
    items, bad = loaded
    partial.add(unit[1], items, {e.index: e.message for e in bad} if bad else None)


def run(units: Iterable[tuple], filters: Filters, workers: int | None = None) -> Partial:
    """Aggregate every unit with ``workers`` processes (default: every core)."""
    workers = workers or default_workers()
    it = iter(units)
    head: list[tuple] = []
    for unit in it:
        head.append(unit)
        if len(head) >= INLINE_BELOW:
            break
    if workers <= 1 or len(head) < INLINE_BELOW:
        partial = Partial(filters=filters)
        with no_gc():
            for unit in head:
                read_unit(partial, unit)
            for unit in it:
                read_unit(partial, unit)
        return partial
    return _run_pool(_chain(head, it), filters, workers)


def _chain(head: list, rest: Iterator) -> Iterator:
    yield from head
    yield from rest


def _batches(units: Iterator[tuple]) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for unit in units:
        batch.append(unit)
        if unit[0] != "file" or len(batch) >= FILE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _worker(tasks, results, filters: Filters) -> None:
    import gc

    gc.disable()  # see aggregate.no_gc: a worker's aggregates hold no cycles
    partial = Partial(filters=filters)
    while True:
        batch = tasks.get()
        if batch is None:
            break
        for unit in batch:
            try:
                read_unit(partial, unit)
            except Exception as exc:  # noqa: BLE001 - a bug must not hang the pool
                partial.file_error(unit[1], f"internal error: {type(exc).__name__}: {exc}")
    partial.fold()
    results.put(partial)


def _context():
    """``fork`` (instant: nothing to import again) while this process runs no other thread, as
    with local files; ``spawn`` otherwise (S3 downloads run in threads, and forking a process
    with threads can copy a held lock)."""
    import threading

    if threading.active_count() == 1 and "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    return mp.get_context("spawn")


def _run_pool(units: Iterator[tuple], filters: Filters, workers: int) -> Partial:
    """``workers - 1`` worker processes, and this process as the last worker: it lists and
    queues units, and reads one itself whenever the queue is full, so no core waits idle and
    one interpreter fewer is in memory."""
    ctx = _context()
    tasks = ctx.Queue(maxsize=QUEUE_BATCHES)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(tasks, results, filters), daemon=True)
        for _ in range(workers - 1)
    ]
    for p in procs:
        p.start()
    merged = Partial(filters=filters)
    try:
        with no_gc():
            for batch in _batches(units):
                while True:
                    try:
                        tasks.put_nowait(batch)
                        break
                    except queue.Full:
                        _check(procs)
                        if not batch:
                            break
                        read_unit(merged, batch.pop())
            for _ in procs:
                _put(tasks, None, procs)
            for _ in procs:
                merged.merge(_get(results, procs))
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    return merged


def _put(q, item, procs) -> None:
    while True:
        try:
            q.put(item, timeout=1)
            return
        except queue.Full:
            _check(procs)


def _get(q, procs) -> Partial:
    while True:
        try:
            return q.get(timeout=1)
        except queue.Empty:
            _check(procs)


def _check(procs) -> None:
    dead = [p for p in procs if p.exitcode not in (None, 0)]
    if dead:
        raise RuntimeError(f"a trail worker process died (exit code {dead[0].exitcode})")
