"""Sessions and clients: the only place that knows how dormant reaches AWS.

Everything that talks to AWS gets its clients from an :class:`AccountSession`. It carries the
boto3 session, the endpoint (``--endpoint-url`` or ``AWS_ENDPOINT_URL``, which boto3 also reads
by itself), and one botocore ``Config`` with adaptive retries, so throttling is retried the same
way in every source. :func:`assume_role_session` derives a session for another account, which
the organization scan uses for each member account.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from .. import __version__

DEFAULT_MAX_ATTEMPTS = 10
"""botocore's adaptive mode retries throttling with a client-side rate limiter; 10 attempts
rides out IAM's "Rate exceeded" bursts on large accounts without hiding a real outage."""

DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthorizationError",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
    }
)
"""Error codes that mean "this identity may not read this", as opposed to a fault."""

THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "LimitExceededException",
        "LimitExceeded",
        "RequestThrottled",
        "SlowDown",
    }
)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore error, or the exception's class name."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__


def error_message(exc: BaseException) -> str:
    """A one-line message for an AWS error, without request ids or credentials."""
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        msg = str(err.get("Message") or "").strip()
        return f"{err.get('Code', 'ClientError')}: {msg}" if msg else str(err.get("Code"))
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def is_denied(exc: BaseException) -> bool:
    return error_code(exc) in DENIED_CODES


def is_throttled(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLE_CODES


def client_config(max_attempts: int = DEFAULT_MAX_ATTEMPTS, max_pool: int = 32):
    return botocore.config.Config(
        retries={"mode": "adaptive", "max_attempts": max_attempts},
        user_agent_extra=f"dormant/{__version__}",
        max_pool_connections=max_pool,
        connect_timeout=10,
        read_timeout=60,
    )


@dataclass
class AccountSession:
    """A boto3 session for one account, with dormant's client settings.

    Clients are cached per (service, region): boto3 clients are thread-safe, sessions are not,
    so worker threads share the clients made here under a lock.
    """

    session: boto3.session.Session
    endpoint_url: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_pool: int = 32
    _clients: dict[tuple[str, str | None], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def region(self) -> str:
        return self.session.region_name or "us-east-1"

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region)
        with self._lock:
            cached = self._clients.get(key)
            if cached is None:
                kwargs: dict[str, Any] = {
                    "config": client_config(self.max_attempts, self.max_pool),
                    "region_name": region or self.region,
                }
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                cached = self.session.client(service, **kwargs)
                self._clients[key] = cached
            return cached


def build_session(
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    credentials: dict[str, str] | None = None,
) -> AccountSession:
    """A session from the standard credential chain (or from explicit ``credentials``, as the
    demo uses for its emulator).

    ``AWS_PROFILE``, ``AWS_REGION``/``AWS_DEFAULT_REGION`` and ``AWS_ENDPOINT_URL`` are read by
    boto3 itself, as the AWS CLI reads them; the explicit arguments win over them.
    """
    if credentials:
        session = boto3.session.Session(region_name=region or "us-east-1", **credentials)
    else:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    return AccountSession(session=session, endpoint_url=endpoint_url, max_attempts=max_attempts)


def assume_role_session(
    base: AccountSession,
    role_arn: str,
    session_name: str = "dormant",
    external_id: str | None = None,
    duration_seconds: int = 3600,
) -> AccountSession:
    """A session in another account, through sts:AssumeRole from ``base``.

    The credentials refresh themselves before they expire, so a long scan of a large account
    does not fail half-way.
    """
    from botocore.credentials import RefreshableCredentials, create_assume_role_refresher
    from botocore.session import Session as CoreSession

    sts = base.client("sts")
    params: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": session_name,
        "DurationSeconds": duration_seconds,
    }
    if external_id:
        params["ExternalId"] = external_id
    refresher = create_assume_role_refresher(sts, params)
    # Fail now, with the AssumeRole error, rather than at the first call of a source.
    first = refresher()
    creds = RefreshableCredentials.create_from_metadata(
        metadata=first, refresh_using=refresher, method="assume-role"
    )
    core = CoreSession()
    core._credentials = creds  # noqa: SLF001 - botocore has no public setter for this
    base_core = getattr(base.session, "_session", None)
    if base_core is not None:
        # One loader for every member's session: each service model and the endpoint data are
        # read once per scan, not once per account (a tenth of a second of CPU each).
        core.register_component("data_loader", base_core.get_component("data_loader"))
    session = boto3.session.Session(botocore_session=core, region_name=base.region)
    return AccountSession(
        session=session,
        endpoint_url=base.endpoint_url,
        max_attempts=base.max_attempts,
        max_pool=base.max_pool,
    )
