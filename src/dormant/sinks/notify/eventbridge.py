"""Amazon EventBridge: one event per new finding, for rules that route them (a ticket, a chat
channel, an automatic deactivation).

Each event has source ``dormant``, detail-type ``dormant finding`` and as detail the finding's
JSON (as in the JSON report), the run id and where the report is. PutEvents takes ten entries
a call; entries it rejects (``FailedEntryCount``) are counted and named in the outcome.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import botocore.exceptions

from ...model import Finding
from ...sources.aws import error_message
from . import SinkOutcome

SOURCE = "dormant"
DETAIL_TYPE = "dormant finding"
BATCH = 10
"""PutEvents takes at most 10 entries a call."""
MAX_ENTRY_BYTES = 256 * 1024


def entry(f: Finding, *, bus: str, run_id: str, report_url: str | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"run_id": run_id, "report": report_url, "finding": f.to_json()}
    text = json.dumps(detail)
    if len(text.encode()) > MAX_ENTRY_BYTES - 4096:
        detail["finding"]["evidence"] = []
        detail["finding"]["evidence_omitted"] = "too large for an event: see the report"
        text = json.dumps(detail)
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": text,
        "Resources": [f.principal_arn],
        "EventBusName": bus,
    }


def publish(
    client: Any,
    findings: Sequence[Finding],
    *,
    bus: str,
    run_id: str,
    report_url: str | None = None,
) -> SinkOutcome:
    if not findings:
        return SinkOutcome("eventbridge", "skipped", "no new finding")
    entries = [entry(f, bus=bus, run_id=run_id, report_url=report_url) for f in findings]
    sent, failed = 0, []
    try:
        for i in range(0, len(entries), BATCH):
            batch = entries[i : i + BATCH]
            resp = client.put_events(Entries=batch)
            for f, result in zip(findings[i : i + BATCH], resp.get("Entries") or [], strict=False):
                if result.get("ErrorCode"):
                    failed.append(f"{f.id}: {result['ErrorCode']}: {result.get('ErrorMessage')}")
                else:
                    sent += 1
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        return SinkOutcome(
            "eventbridge",
            "failed",
            f"stopped after {sent} of {len(entries)} events",
            error_message(exc),
            {"sent": sent, "failed": len(entries) - sent},
        )
    counts = {"sent": sent, "failed": len(failed)}
    if failed:
        return SinkOutcome(
            "eventbridge",
            "partial",
            f"{sent} of {len(entries)} events put on bus {bus}",
            f"{len(failed)} rejected, first {failed[0]}",
            counts,
        )
    return SinkOutcome("eventbridge", "ok", f"{sent} events put on bus {bus}", counts=counts)
