"""CloudTrail evidence: readers for every shape and place CloudTrail data lives, a streaming
local engine, DuckDB for SQL over the evidence, and Athena for an organization's trail.

Importing this package imports nothing heavy: the core (which runs in AWS Lambda without the
``trail`` extra) may import it freely. ``scan`` and the engines load msgspec, isal, DuckDB and
sqlglot when they are first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .evidence import SCHEMA_VERSION, TrailEvidence

if TYPE_CHECKING:  # pragma: no cover
    from .api import scan

__all__ = ["SCHEMA_VERSION", "TrailEvidence", "scan"]


def __getattr__(name: str) -> Any:
    if name == "scan":
        from .api import scan

        return scan
    raise AttributeError(name)
