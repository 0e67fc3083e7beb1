"""Make moto's Security Hub answer as AWS documents it, where dormant's sink depends on it.

moto 5.2 accepts BatchImportFindings and GetFindings in an account where Security Hub is not
enabled, ignores GetFindings' filters, lets an import overwrite the customer's workflow fields,
and has no BatchUpdateFindings. AWS:

- answers ``InvalidAccessException`` ("not subscribed to AWS Security Hub") to finding
  operations in an account and Region where it is not enabled;
- lets BatchImportFindings create a finding with a workflow status, but never update
  ``Workflow``, ``Note``, ``UserDefinedFields`` or ``VerificationState`` of an existing one
  (BatchUpdateFindings does that), and resets the workflow status to ``NEW`` when a finding's
  ``RecordState`` goes from ``ARCHIVED`` back to ``ACTIVE``;
- filters GetFindings (``EQUALS``, ``PREFIX``, ``NOT_EQUALS`` string filters here).

:func:`install` patches moto's response class in-process (ThreadedMotoServer or ``mock_aws``),
before the first Security Hub request; it is idempotent.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from moto.core.exceptions import ServiceException
from moto.securityhub import responses as sh_responses
from moto.securityhub import urls as sh_urls
from moto.securityhub.models import Finding

_lock = threading.Lock()
_installed = False

CUSTOMER_FIELDS = ("Workflow", "WorkflowState", "Note", "UserDefinedFields", "VerificationState")
"""Fields BatchImportFindings may set on creation only."""

_FILTER_FIELDS = {
    "Id": ("Id",),
    "ProductArn": ("ProductArn",),
    "GeneratorId": ("GeneratorId",),
    "AwsAccountId": ("AwsAccountId",),
    "RecordState": ("RecordState",),
    "WorkflowStatus": ("Workflow", "Status"),
}


class InvalidAccessException(ServiceException):
    code = "InvalidAccessException"


def _require_enabled(backend: Any) -> None:
    if not backend.enabled:
        raise InvalidAccessException(
            f"Account {backend.account_id} is not subscribed to AWS Security Hub"
        )


def _body(response: Any) -> dict[str, Any]:
    raw = response.body
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return json.loads(raw) if raw else {}


def _value(finding: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = finding
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _matches(finding: dict[str, Any], filters: dict[str, Any]) -> bool:
    for name, conditions in (filters or {}).items():
        path = _FILTER_FIELDS.get(name)
        if path is None:
            continue  # not emulated: do not filter on it
        value = _value(finding, path)
        for cond in conditions:
            wanted, comparison = cond.get("Value"), cond.get("Comparison", "EQUALS")
            if comparison == "EQUALS" and value != wanted:
                return False
            if comparison == "NOT_EQUALS" and value == wanted:
                return False
            if comparison == "PREFIX" and not str(value or "").startswith(wanted):
                return False
    return True


def _batch_import_findings(self: Any) -> str:
    backend = self.securityhub_backend
    _require_enabled(backend)
    failed: list[dict[str, str]] = []
    success = 0
    for data in _body(self).get("Findings", []):
        fid = data.get("Id", "")
        if data.get("AwsAccountId") != backend.account_id:
            failed.append(
                {
                    "Id": fid,
                    "ErrorCode": "AccessDeniedException",
                    "ErrorMessage": "AwsAccountId does not match the calling account",
                }
            )
            continue
        if not data.get("Resources"):
            failed.append(
                {
                    "Id": fid,
                    "ErrorCode": "InvalidInput",
                    "ErrorMessage": "Finding must contain at least one resource",
                }
            )
            continue
        data = dict(data)
        data.setdefault("RecordState", "ACTIVE")
        existing = next((f for f in backend.findings if f.id == fid), None)
        if existing is None:
            data.setdefault("Workflow", {"Status": "NEW"})
            data.setdefault("WorkflowState", "NEW")
            backend.findings.append(Finding(fid, data))
        else:
            old = existing.data
            kept = {k: old[k] for k in CUSTOMER_FIELDS if k in old}
            reopened = old.get("RecordState") == "ARCHIVED" and data["RecordState"] == "ACTIVE"
            new = {k: v for k, v in data.items() if k not in CUSTOMER_FIELDS}
            new.update(kept)
            if reopened:
                new["Workflow"] = {"Status": "NEW"}
                new["WorkflowState"] = "NEW"
            existing.data = new
        success += 1
    return json.dumps(
        {"FailedCount": len(failed), "SuccessCount": success, "FailedFindings": failed}
    )


def _get_findings(self: Any) -> str:
    backend = self.securityhub_backend
    _require_enabled(backend)
    params = _body(self)
    found = [f.data for f in backend.findings if _matches(f.data, params.get("Filters") or {})]
    size = int(params.get("MaxResults") or 100)
    start = int(params.get("NextToken") or 0)
    page = found[start : start + size]
    out: dict[str, Any] = {"Findings": page}
    if start + size < len(found):
        out["NextToken"] = str(start + size)
    return json.dumps(out)


def _batch_update_findings(self: Any) -> str:
    backend = self.securityhub_backend
    _require_enabled(backend)
    params = _body(self)
    processed, unprocessed = [], []
    for ident in params.get("FindingIdentifiers", []):
        finding = next(
            (
                f
                for f in backend.findings
                if f.id == ident.get("Id") and f.data.get("ProductArn") == ident.get("ProductArn")
            ),
            None,
        )
        if finding is None:
            unprocessed.append(
                {
                    "FindingIdentifier": ident,
                    "ErrorCode": "FindingNotFound",
                    "ErrorMessage": "Finding Not Found",
                }
            )
            continue
        for key in ("Workflow", "Note", "UserDefinedFields", "VerificationState"):
            if key in params:
                finding.data[key] = params[key]
        if "Workflow" in params:
            finding.data["WorkflowState"] = params["Workflow"].get("Status", "NEW")
        processed.append(ident)
    return json.dumps({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        cls = sh_responses.SecurityHubResponse
        cls.batch_import_findings = _batch_import_findings
        cls.get_findings = _get_findings
        cls.batch_update_findings = _batch_update_findings
        sh_urls.url_paths.setdefault("{0}/findings/batchupdate$", cls.dispatch)
        _installed = True
