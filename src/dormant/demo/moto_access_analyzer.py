"""IAM Access Analyzer for moto: the three read APIs dormant uses, answered from seeded data.

moto 5.2 has no Access Analyzer at all: its server cannot even route a request signed for
``access-analyzer``. :func:`install` puts a small handler in front of moto's dispatcher, in this
process (``ThreadedMotoServer``; not a separate ``moto_server`` process, nor decorator mode), for
requests whose SigV4 credential scope names ``access-analyzer``:

- ``ListAnalyzers`` (``GET /analyzer``, ``type`` filter, ``maxResults``/``nextToken``),
- ``ListFindingsV2`` (``POST /findingv2``: ``analyzerArn``, a ``status`` ``eq`` filter,
  ``maxResults``/``nextToken``),
- ``GetFindingV2`` (``GET /findingv2/{id}?analyzerArn=``, ``findingDetails`` paged by
  ``maxResults``/``nextToken``).

Answers are JSON in the service model's REST-JSON shapes, errors as AWS sends them (HTTP status,
``x-amzn-ErrorType``, ``{"message"}``): ``ResourceNotFoundException`` for an unknown analyzer or
finding.

IAM enforcement (``/moto-api/reset-auth``) applies as to moto's own services: once it is on, the
caller's policies must allow the action, which is ``access-analyzer:ListAnalyzers``,
``access-analyzer:ListFindings`` for ListFindingsV2 and ``access-analyzer:GetFinding`` for
GetFindingV2 (AWS's documented mapping), else ``AccessDeniedException`` (403); an unknown access
key gets ``UnrecognizedClientException``. The signature itself is not checked.

Seed with :func:`create_analyzer` and :func:`add_finding`; :func:`reset` forgets everything.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from . import faults

_LOCK = threading.RLock()
_INSTALLED = False
_ANALYZERS: dict[tuple[str, str], list[dict[str, Any]]] = {}
"""Per (account, region): ListAnalyzers items."""
_FINDINGS: dict[str, list[dict[str, Any]]] = {}
"""Per analyzer ARN: full GetFindingV2 answers (with ``findingDetails``)."""

_IAM_ACTION = {
    "ListAnalyzers": "ListAnalyzers",
    "ListFindingsV2": "ListFindings",
    "GetFindingV2": "GetFinding",
}


def install() -> None:
    """Answer Access Analyzer requests in this process's moto servers. Idempotent."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        original = DomainDispatcherApplication.__call__

        def dispatch(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
            if _signing_service(environ) == "access-analyzer":
                return _handle(environ, start_response)
            return original(self, environ, start_response)

        DomainDispatcherApplication.__call__ = dispatch  # type: ignore[method-assign]
        _INSTALLED = True


def reset() -> None:
    with _LOCK:
        _ANALYZERS.clear()
        _FINDINGS.clear()


def _iso(value: dt.datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_analyzer(
    account_id: str,
    region: str = "us-east-1",
    name: str = "unused-access",
    type: str = "ACCOUNT_UNUSED_ACCESS",  # noqa: A002 - AWS's own field name
    unused_access_age: int = 90,
    created: dt.datetime | None = None,
) -> str:
    """Create an analyzer; returns its ARN."""
    arn = f"arn:aws:access-analyzer:{region}:{account_id}:analyzer/{name}"
    item: dict[str, Any] = {
        "arn": arn,
        "name": name,
        "type": type,
        "createdAt": _iso(created or dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
        "status": "ACTIVE",
    }
    if type in ("ACCOUNT_UNUSED_ACCESS", "ORGANIZATION_UNUSED_ACCESS"):
        item["configuration"] = {"unusedAccess": {"unusedAccessAge": unused_access_age}}
    with _LOCK:
        _ANALYZERS.setdefault((account_id, region), []).append(item)
        _FINDINGS.setdefault(arn, [])
    return arn


def add_finding(
    analyzer_arn: str,
    finding_type: str,
    resource: str,
    details: Iterable[Mapping[str, Any]] = (),
    *,
    status: str = "ACTIVE",
    analyzed_at: dt.datetime | None = None,
) -> str:
    """Add a finding; ``details`` are ``findingDetails`` entries in AWS's shape, such as
    ``{"unusedPermissionDetails": {"serviceNamespace": "s3", "actions": [...]}}`` (datetimes
    become ISO strings). Returns the finding id."""
    account = analyzer_arn.split(":")[4]
    when = _iso(analyzed_at or dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    finding = {
        "id": str(uuid.uuid4()),
        "resource": resource,
        "resourceType": "AWS::IAM::Role" if ":role/" in resource else "AWS::IAM::User",
        "resourceOwnerAccount": account,
        "status": status,
        "createdAt": when,
        "updatedAt": when,
        "analyzedAt": when,
        "findingType": finding_type,
        "findingDetails": [json.loads(json.dumps(dict(d), default=_iso)) for d in details],
    }
    with _LOCK:
        _FINDINGS.setdefault(analyzer_arn, []).append(finding)
    return finding["id"]


# ------------------------------------------------------------------------------------------
# The handler


def _signing_service(environ: Mapping[str, Any]) -> str | None:
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    if "Credential=" not in auth:
        return None
    scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return scope[3] if len(scope) >= 5 else None


def _credential(environ: Mapping[str, Any]) -> tuple[str, str]:
    """(access key id, region) from the SigV4 credential scope."""
    scope = environ["HTTP_AUTHORIZATION"].split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return scope[0], scope[2]


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _respond(start_response: Any, status: int, body: dict[str, Any], code: str | None = None):
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    headers.append(("x-amzn-RequestId", str(uuid.uuid4())))
    if code:
        headers.append(("x-amzn-ErrorType", code))
    reason = {
        200: "OK",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        429: "Too Many Requests",
    }.get(status, "")
    start_response(f"{status} {reason}", headers)
    return [data]


def _handle(environ: dict[str, Any], start_response: Any) -> Any:
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "")
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    try:
        if method == "GET" and path.rstrip("/") == "/analyzer":
            operation = "ListAnalyzers"
        elif method == "POST" and path.rstrip("/") == "/findingv2":
            operation = "ListFindingsV2"
        elif method == "GET" and path.startswith("/findingv2/"):
            operation = "GetFindingV2"
        else:
            raise _Error(404, "ResourceNotFoundException", f"no such operation: {method} {path}")
        account, region = _authorize(environ, method, path, body, operation)
        fault = faults.intercept(account, f"access-analyzer:{operation}")
        if fault is not None:
            raise _Error(*faults.shape(fault, "rest-json"))
        params = json.loads(body or b"{}") if method == "POST" else {}
        if operation == "ListAnalyzers":
            answer = _list_analyzers(account, region, query)
        elif operation == "ListFindingsV2":
            answer = _list_findings(account, region, params)
        else:
            finding_id = urllib.parse.unquote(path.split("/findingv2/", 1)[1])
            answer = _get_finding(account, region, finding_id, query)
    except _Error as exc:
        return _respond(start_response, exc.status, {"message": exc.message}, exc.code)
    return _respond(start_response, 200, answer)


def _authorize(
    environ: Mapping[str, Any], method: str, path: str, body: bytes, operation: str
) -> tuple[str, str]:
    """The caller's account and region; raises AccessDenied as moto's enforcement would."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequest
    from moto.iam.models import get_account_id_from

    key, region = _credential(environ)
    account = get_account_id_from(key)
    with _LOCK:
        enforce = ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
        if not enforce:
            ActionAuthenticatorMixin.request_count += 1
    if not enforce:
        return account, region
    headers = {"Authorization": environ["HTTP_AUTHORIZATION"]}
    if environ.get("HTTP_X_AMZ_SECURITY_TOKEN"):
        # Temporary credentials (an assumed role): moto authorizes them with the role's policies.
        headers["X-Amz-Security-Token"] = environ["HTTP_X_AMZ_SECURITY_TOKEN"]
    try:
        request = IAMRequest(
            account_id=account,
            method=method,
            path=path,
            data={},
            body=body,
            headers=headers,
            action=_IAM_ACTION[operation],
        )
        request.check_action_permitted("*")
    except Exception as exc:  # noqa: BLE001 - moto's auth errors, answered in this API's terms
        code = getattr(exc, "code", "") or type(exc).__name__
        if code == "InvalidClientTokenId":
            raise _Error(
                403, "UnrecognizedClientException", "The security token is invalid."
            ) from None
        raise _Error(
            403,
            "AccessDeniedException",
            f"User is not authorized to perform: access-analyzer:{_IAM_ACTION[operation]}",
        ) from None
    return account, region


def _page(items: list[Any], token: str | None, max_results: Any) -> tuple[list[Any], str | None]:
    start = int(token) if token else 0
    size = int(max_results) if max_results else 100
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _first(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _list_analyzers(account: str, region: str, query: Mapping[str, list[str]]) -> dict[str, Any]:
    with _LOCK:
        analyzers = list(_ANALYZERS.get((account, region), []))
    wanted = _first(query, "type")
    if wanted:
        analyzers = [a for a in analyzers if a["type"] == wanted]
    page, token = _page(analyzers, _first(query, "nextToken"), _first(query, "maxResults"))
    answer: dict[str, Any] = {"analyzers": page}
    if token:
        answer["nextToken"] = token
    return answer


def _findings_of(account: str, region: str, analyzer_arn: str | None) -> list[dict[str, Any]]:
    with _LOCK:
        known = {a["arn"] for a in _ANALYZERS.get((account, region), [])}
        if not analyzer_arn or analyzer_arn not in known:
            raise _Error(404, "ResourceNotFoundException", f"Analyzer {analyzer_arn} not found")
        return list(_FINDINGS.get(analyzer_arn, []))


def _list_findings(account: str, region: str, params: Mapping[str, Any]) -> dict[str, Any]:
    findings = _findings_of(account, region, params.get("analyzerArn"))
    status = ((params.get("filter") or {}).get("status") or {}).get("eq")
    if status:
        findings = [f for f in findings if f["status"] in status]
    page, token = _page(findings, params.get("nextToken"), params.get("maxResults"))
    summaries = [{k: v for k, v in f.items() if k != "findingDetails"} for f in page]
    answer: dict[str, Any] = {"findings": summaries}
    if token:
        answer["nextToken"] = token
    return answer


def _get_finding(
    account: str, region: str, finding_id: str, query: Mapping[str, list[str]]
) -> dict[str, Any]:
    findings = _findings_of(account, region, _first(query, "analyzerArn"))
    found = next((f for f in findings if f["id"] == finding_id), None)
    if found is None:
        raise _Error(404, "ResourceNotFoundException", f"Finding {finding_id} not found")
    details, token = _page(
        list(found["findingDetails"]), _first(query, "nextToken"), _first(query, "maxResults")
    )
    answer = {**found, "findingDetails": details}
    if token:
        answer["nextToken"] = token
    return answer


__all__ = ["add_finding", "create_analyzer", "install", "reset"]
