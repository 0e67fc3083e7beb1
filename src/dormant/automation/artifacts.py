"""A run's files in S3: the evidence bundle and every report format, under the run's prefix."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import snapshot as snapshot_mod
from ..model import Report
from ..sinks.formats import FORMATS, render
from ..sinks.notify import SinkOutcome
from ..snapshot import Snapshot
from . import store

SKIPPED_FORMATS = frozenset({"table"})
"""Formats not saved to S3: the table is for a terminal."""

PREFERRED_REPORT = ("html", "markdown", "json")
"""The report a notification links to: the first of these that was saved."""


@dataclass(frozen=True)
class Saved:
    """What was written for one run."""

    outcome: SinkOutcome
    keys: dict[str, str] = field(default_factory=dict)
    """S3 key of each file written, by file name."""

    @property
    def report_key(self) -> str | None:
        """The key of the report people are pointed to, if one was saved."""
        for fmt in PREFERRED_REPORT:
            name = store.report_name(fmt)
            if name in self.keys:
                return self.keys[name]
        return None

    def others(self) -> tuple[str, ...]:
        """The names of the other files, beside the report."""
        main = self.report_key
        return tuple(sorted(n for n, k in self.keys.items() if k != main))


def evidence_zip(snap: Snapshot) -> bytes:
    """The bundle as a zip (written atomically in a temporary directory); sets its digest."""
    with tempfile.TemporaryDirectory(prefix="dormant-") as tmp:
        path = Path(tmp) / "evidence.zip"
        snapshot_mod.write(snap, path)
        return path.read_bytes()


def files(report: Report, evidence: bytes) -> dict[str, bytes]:
    """Every file of a run, by name: the bundle and each report format that FORMATS holds."""
    out = {"evidence.zip": evidence}
    for fmt in FORMATS:
        if fmt not in SKIPPED_FORMATS:
            out[store.report_name(fmt)] = render(report, fmt).encode("utf-8")
    return out


def save(client: Any, layout: store.Layout, run_prefix: str, contents: dict[str, bytes]) -> Saved:
    """Write every file, each on its own: one refused write does not stop the others."""
    keys, errors = {}, []
    for name, body in contents.items():
        key = run_prefix + name
        try:
            store.put(client, layout.bucket, key, body)
            keys[name] = key
        except store.StoreError as exc:
            errors.append(str(exc))
    status = "ok" if not errors else ("partial" if keys else "failed")
    error = None
    if errors:
        more = f" (and {len(errors) - 2} more)" if len(errors) > 2 else ""
        error = "; ".join(errors[:2]) + more
    outcome = SinkOutcome(
        "s3",
        status,
        f"{len(keys)} of {len(contents)} files written under {layout.uri(run_prefix)}",
        error,
        {"written": len(keys), "failed": len(errors)},
    )
    return Saved(outcome, keys)
