"""Read Cloud Custodian's placebo recordings (real boto3 responses) from the shared data:
``{"status_code": N, "data": <response>}`` with datetimes as ``{"__class__": "datetime", ...}``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if obj.get("__class__") == "datetime":
            return dt.datetime(
                obj["year"],
                obj["month"],
                obj["day"],
                obj.get("hour", 0),
                obj.get("minute", 0),
                obj.get("second", 0),
                obj.get("microsecond", 0),
                tzinfo=dt.UTC,
            )
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def load(path: Path) -> tuple[int, dict[str, Any]]:
    doc = json.loads(path.read_text())
    return doc["status_code"], _decode(doc["data"])


def recordings(root: Path, operation: str) -> list[tuple[Path, int, dict[str, Any]]]:
    """Every recording of ``iam.<operation>_N.json`` under ``root``, sorted."""
    out = []
    for p in sorted(root.glob(f"*/iam.{operation}_*.json")):
        code, data = load(p)
        out.append((p, code, data))
    return out
