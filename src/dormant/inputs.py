"""What ``dormant analyze`` accepts: an evidence bundle (directory or .zip), or a credential
report as an auditor receives it (the CSV from the console, or the JSON of
``aws iam get-credential-report``)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from pathlib import Path

from . import snapshot as snapshot_mod
from .errors import InputError
from .snapshot import AccountEvidence, Snapshot
from .sources import credential_report
from .sources.base import SourceResult, SourceStatus
from .timeutil import iso, parse_time

# The console names its download like status_reports_2026-11-29T08_45_59+00_00.csv.
_CONSOLE_NAME = re.compile(
    r"(\d{4}-\d{2}-\d{2})T(\d{2})[_:](\d{2})[_:](\d{2})(?:([+-]\d{2})[_:](\d{2})|Z)?"
)


def _time_from_name(name: str) -> dt.datetime | None:
    m = _CONSOLE_NAME.search(name)
    if not m:
        return None
    date, hh, mm, ss, oh, om = m.groups()
    offset = f"{oh}:{om}" if oh else "+00:00"
    try:
        return parse_time(f"{date}T{hh}:{mm}:{ss}{offset}")
    except ValueError:
        return None


def _read_report_file(path: Path) -> tuple[str, str | None]:
    """(CSV text, GeneratedTime or None) from a CSV file or the CLI's JSON output."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        try:
            doc = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(doc, dict) or "Content" not in doc:
            raise InputError(
                f"{path}: expected the output of 'aws iam get-credential-report' "
                "(an object with Content and GeneratedTime)"
            )
        content = doc["Content"]
        if not isinstance(content, str):
            raise InputError(f"{path}: Content: expected text")
        if not content.lstrip().startswith("user,"):
            try:
                content = base64.b64decode(content, validate=True).decode("utf-8-sig")
            except (binascii.Error, UnicodeDecodeError):
                raise InputError(
                    f"{path}: Content: neither CSV text nor base64 of a CSV report"
                ) from None
        return content, doc.get("GeneratedTime")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); expected a CSV") from None


def load_credential_report(
    path: Path, generated_at: str | None = None
) -> tuple[Snapshot, dt.datetime]:
    content, gen_text = _read_report_file(path)
    where = str(path)
    if generated_at:
        gen_text = generated_at
    report = credential_report.parse(content, gen_text, origin=f"file:{path.name}", where=where)
    notes: list[str] = []
    generated = report.generated_time or _time_from_name(path.name)
    if generated is None:
        generated = report.latest_time
        if generated is None:
            raise InputError(f"{where}: the report holds no time at all; pass --generated-at")
        notes.append(
            f"{path.name}: the report's generation time is not known; judged as of the latest "
            f"time it contains ({iso(generated)}), so nothing after that is assumed; pass "
            "--generated-at to set it"
        )
    accounts = sorted({r.account_id for r in report.rows})
    if len(accounts) != 1:
        raise InputError(
            f"{where}: expected the rows of one account, found {len(accounts)} "
            f"({', '.join(accounts) or 'none'})"
        )
    raw = {
        "Content": content,
        "GeneratedTime": iso(generated),
        "ReportFormat": "text/csv",
        "Origin": f"file:{path.name}",
    }
    result = SourceResult(
        name=credential_report.NAME,
        status=SourceStatus.READ,
        started_at=iso(generated),
        finished_at=iso(generated),
        raw=raw,
    )
    evidence = AccountEvidence(
        account_id=accounts[0],
        collected_at=iso(generated),
        sources={credential_report.NAME: result},
    )
    snap = Snapshot(
        created_at=iso(generated),
        accounts=[evidence],
        origin="credential-report-file",
        notes=notes,
    )
    snap.digest = snap.manifest()[1]
    return snap, generated


def load_evidence(
    path: str | Path, generated_at: str | None = None
) -> tuple[Snapshot, dt.datetime]:
    """A snapshot and the time to judge it as of, by default."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or directory")
    if snapshot_mod.is_snapshot(p):
        snap = snapshot_mod.read(p)
        return snap, parse_time(snap.created_at)
    if p.is_dir():
        if (p / "progress.json").is_file():
            raise InputError(
                f"{p}: the checkpoint of an interrupted organization scan, not a snapshot; "
                f"continue the scan with --resume {p}"
            )
        raise InputError(
            f"{p}: a directory without {snapshot_mod.MANIFEST}: not a dormant snapshot"
        )
    if p.suffix.lower() == ".zip":
        raise InputError(f"{p}: a zip without {snapshot_mod.MANIFEST}: not a dormant snapshot")
    return load_credential_report(p, generated_at)
