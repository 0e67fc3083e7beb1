"""Fault injection for the emulator, per account: latency, throttling, denied actions, and
AssumeRole denied for a role.

An organization scan must finish every account it can while one account is slow, throttles or
denies a call. This module makes moto answer like such an account, in this process (decorator
mode and ``ThreadedMotoServer``): :func:`install` wraps moto's ``BaseResponse.call_action``, which
every IAM, STS and Organizations request goes through once moto knows the calling account (from
the access key: an assumed role's credentials map to the role's account). dormant's own
Access Analyzer handler (:mod:`.moto_access_analyzer`) asks :func:`intercept` itself.

What a fault looks like on the wire, as AWS answers it:

- **Throttling**: HTTP 400 ``Throttling`` / "Rate exceeded" in IAM's and STS's
  ``<ErrorResponse>`` XML; ``TooManyRequestsException`` for Organizations (JSON);
  ``ThrottlingException`` (HTTP 429) for REST-JSON services. botocore retries all three.
- **Denied**: HTTP 403 ``AccessDenied`` with AWS's message for a service control policy's
  explicit deny (JSON services: ``AccessDeniedException``).
- **AssumeRole denied**: HTTP 403 ``AccessDenied`` "User: ... is not authorized to perform:
  sts:AssumeRole on resource: <role ARN>".

Throttling is deterministic: with a share ``s``, call ``n`` of the account (counted from 0, over
the actions the rule covers) is throttled when ``floor((n + 1) * s) > floor(n * s)``, so exactly
that share of calls is throttled, evenly spread, and a retried call is a new call.

Latency sleeps in the request's own thread, outside every lock, so the threaded server answers
slow calls side by side. :func:`reset` (called by the emulator's ``reset()``) forgets every
fault and every count.

Actions are named ``prefix:Operation`` with the API's operation name (``iam:ListUsers``,
``sts:AssumeRole``, ``organizations:ListAccounts``, ``access-analyzer:ListFindingsV2``); a rule
may use ``*`` wildcards and matches case-insensitively, as IAM does.
"""

from __future__ import annotations

import fnmatch
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

ANY_ACCOUNT = "*"
"""The account id that makes :func:`set_latency` apply to every account."""

_LOCK = threading.Lock()
_INSTALLED = False


@dataclass
class _Throttle:
    share: float
    actions: tuple[str, ...] | None
    count: int = 0


@dataclass
class _State:
    latency: dict[str, float] = field(default_factory=dict)
    throttles: dict[str, _Throttle] = field(default_factory=dict)
    denied: dict[str, tuple[str, ...]] = field(default_factory=dict)
    denied_roles: set[str] = field(default_factory=set)
    calls: Counter = field(default_factory=Counter)
    """(account, action) -> calls answered, faults included."""
    faults: Counter = field(default_factory=Counter)
    """(account, action, kind) -> faults injected; kind is throttled, denied or assume-denied."""
    in_flight: int = 0
    peak_in_flight: int = 0
    """The most requests sleeping their latency at once (shows that latency does not serialize)."""


_STATE = _State()


@dataclass(frozen=True)
class Fault:
    """An error to answer instead of the call."""

    kind: str
    """``throttled``, ``denied`` or ``assume-denied``."""
    status: int
    code: str
    message: str


# ------------------------------------------------------------------------------ the API


def set_latency(seconds: float, account_id: str = ANY_ACCOUNT) -> None:
    """Every call answered for ``account_id`` (or every account) first waits ``seconds``. An
    account's own latency wins over the one for every account; 0 removes it."""
    if seconds < 0:
        raise ValueError("latency must be >= 0")
    with _LOCK:
        if seconds:
            _STATE.latency[account_id] = float(seconds)
        else:
            _STATE.latency.pop(account_id, None)


def throttle(account_id: str, share: float, actions: Iterable[str] | None = None) -> None:
    """Answer ``share`` (0..1) of the account's calls (of ``actions`` only, when given) with
    the service's throttling error. 0 removes the rule; 1 throttles every call."""
    if not 0 <= share <= 1:
        raise ValueError("share must be between 0 and 1")
    with _LOCK:
        if share:
            _STATE.throttles[account_id] = _Throttle(
                share, tuple(a.lower() for a in actions) if actions is not None else None
            )
        else:
            _STATE.throttles.pop(account_id, None)


def deny(account_id: str, *actions: str) -> None:
    """Answer AccessDenied (an SCP's explicit deny) to these actions in the account."""
    with _LOCK:
        _STATE.denied[account_id] = _STATE.denied.get(account_id, ()) + tuple(
            a.lower() for a in actions
        )


def deny_assume_role(role_arn: str) -> None:
    """Answer AccessDenied to every sts:AssumeRole of this role (its trust policy does not
    trust the caller, or an SCP denies it)."""
    with _LOCK:
        _STATE.denied_roles.add(role_arn)


def calls(account_id: str | None = None) -> Counter:
    """Calls answered (faults included), by action, for one account or summed over all."""
    out: Counter = Counter()
    with _LOCK:
        for (acct, action), n in _STATE.calls.items():
            if account_id is None or acct == account_id:
                out[action] += n
    return out


def faults(account_id: str | None = None) -> Counter:
    """Faults injected, by (action, kind), for one account or summed over all."""
    out: Counter = Counter()
    with _LOCK:
        for (acct, action, kind), n in _STATE.faults.items():
            if account_id is None or acct == account_id:
                out[(action, kind)] += n
    return out


def peak_in_flight() -> int:
    """The most calls that were waiting their injected latency at the same time."""
    with _LOCK:
        return _STATE.peak_in_flight


def reset() -> None:
    """Forget every fault, count and peak."""
    global _STATE
    with _LOCK:
        _STATE = _State()


# ------------------------------------------------------------------------- the decision


def _matches(action: str, patterns: Iterable[str]) -> bool:
    low = action.lower()
    return any(fnmatch.fnmatchcase(low, p) for p in patterns)


def intercept(
    account_id: str,
    action: str,
    *,
    caller: Callable[[], str | None] | None = None,
    role_arn: str | None = None,
) -> Fault | None:
    """Count the call, sleep the account's latency, and return the fault to answer, if any.

    ``caller`` returns the calling identity's ARN (for the AccessDenied message; asked only
    when a call is denied); ``role_arn`` is the role of an sts:AssumeRole call."""
    state = _STATE
    with _LOCK:
        state.calls[(account_id, action)] += 1
        latency = state.latency.get(account_id, state.latency.get(ANY_ACCOUNT, 0.0))
        kind: str | None = None
        if role_arn is not None and role_arn in state.denied_roles:
            kind = "assume-denied"
        rule = state.throttles.get(account_id)
        if kind is None and rule is not None:
            if rule.actions is None or _matches(action, rule.actions):
                n = rule.count
                rule.count += 1
                if math.floor((n + 1) * rule.share) > math.floor(n * rule.share):
                    kind = "throttled"
        if kind is None and _matches(action, state.denied.get(account_id, ())):
            kind = "denied"
        if kind is not None:
            state.faults[(account_id, action, kind)] += 1
        if latency:
            state.in_flight += 1
            state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
    fault: Fault | None = None
    if kind == "throttled":
        fault = Fault(kind, 400, "Throttling", "Rate exceeded")
    elif kind is not None:
        who = (caller() if caller else None) or f"arn:aws:iam::{account_id}:root"
        if kind == "assume-denied":
            message = (
                f"User: {who} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            )
        else:
            message = (
                f"User: {who} is not authorized to perform: {action} with an explicit deny in "
                "a service control policy"
            )
        fault = Fault(kind, 403, "AccessDenied", message)
        if latency:
            state.in_flight += 1
            state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
    if latency:
        try:
            time.sleep(latency)
        finally:
            with _LOCK:
                state.in_flight -= 1
    return fault


# ------------------------------------------------------------------------- the answers

_THROTTLE_CODES = {"json": "TooManyRequestsException", "rest-json": "ThrottlingException"}
_THROTTLE_MESSAGES = {
    "json": "You have sent too many requests in too short a period of time. The quota helps "
    "protect against denial-of-service attacks. Try again later.",
}


def shape(fault: Fault, protocol: str) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of the fault in the service's protocol."""
    if protocol not in ("json", "rest-json"):
        return fault.status, fault.code, fault.message
    if fault.kind == "throttled":
        return (
            429 if protocol == "rest-json" else 400,
            _THROTTLE_CODES[protocol],
            _THROTTLE_MESSAGES.get(protocol, fault.message),
        )
    return (403 if protocol == "rest-json" else 400), "AccessDeniedException", fault.message


def render(fault: Fault, protocol: str, xml_namespace: str | None) -> tuple[int, dict, str]:
    """(status, headers, body) of the fault as the service's protocol answers errors."""
    import json
    from xml.sax.saxutils import escape

    request_id = str(uuid.uuid4())
    status, code, message = shape(fault, protocol)
    if protocol == "json":
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}
        return status, headers, json.dumps({"__type": code, "Message": message})
    if protocol == "rest-json":
        headers = {
            "Content-Type": "application/json",
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": code,
        }
        return status, headers, json.dumps({"message": message})
    ns = f' xmlns="{xml_namespace}"' if xml_namespace else ""
    body = (
        f"<ErrorResponse{ns}><Error><Type>Sender</Type><Code>{code}</Code>"
        f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId>"
        "</ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body


# -------------------------------------------------------------------------- the patch

_MODELS: dict[str, tuple[str, str | None, str]] = {}


def _model(service: str) -> tuple[str, str | None, str]:
    """(IAM action prefix, XML namespace, protocol) of a moto service, cached."""
    cached = _MODELS.get(service)
    if cached is None:
        from moto.core.utils import get_service_model

        meta = get_service_model(service).metadata
        cached = (
            str(meta.get("signingName") or meta.get("endpointPrefix") or service),
            meta.get("xmlNamespace"),
            str(meta.get("protocol")),
        )
        _MODELS[service] = cached
    return cached


def _protocol(default: str, content_type: str) -> str:
    """The protocol of the request, as AWS answers errors in it (JSON bodies for JSON requests,
    XML for form-encoded ones)."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype.startswith("application/x-amz-json"):
        return "json"
    if ctype.startswith("application/x-www-form-urlencoded"):
        return "query" if default in ("query", "ec2") or default.startswith("rest-") else default
    return default


def _caller_arn(response: Any) -> str | None:
    """The ARN of the identity that signed the request, as AWS names it in AccessDenied."""
    try:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        account = response.current_account
        key = response.get_access_key()
        assumed = sts_backends[account]["aws"].get_assumed_role_from_access_key(key)
        if assumed is not None:
            return assumed.arn
        user = iam_backends[account]["aws"].get_user_from_access_key_id(key)
        if user is not None:
            return user.arn
    except Exception:  # noqa: BLE001 - only the message's wording depends on it
        return None
    return None


def install() -> None:
    """Wrap moto's ``BaseResponse.call_action`` once per process. Idempotent."""
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return
        from moto.core.responses import BaseResponse

        original = BaseResponse.call_action

        def call_action(self: Any) -> Any:
            service = getattr(self, "boto3_service_name", None)
            if not service or service == "moto_api":
                return original(self)
            try:
                operation = self._get_action()
                prefix, namespace, default = _model(service)
            except Exception:  # noqa: BLE001 - not a modelled AWS call: leave it to moto
                return original(self)
            if not operation:
                return original(self)
            action = f"{prefix}:{operation}"
            role_arn = None
            if action == "sts:AssumeRole":
                role_arn = self._get_param("RoleArn")
            fault = intercept(
                self.current_account,
                action,
                caller=lambda: _caller_arn(self),
                role_arn=role_arn,
            )
            if fault is None:
                return original(self)
            protocol = _protocol(default, str(self.headers.get("Content-Type") or ""))
            status, headers, body = render(fault, protocol, namespace)
            return status, {**self.response_headers, **headers}, body

        BaseResponse.call_action = call_action  # type: ignore[method-assign]
        _INSTALLED = True
