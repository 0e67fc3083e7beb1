"""Shared helpers for the Access Advisor, IAM policy and Access Analyzer tests.

- :func:`moto_server` starts one in-process ``ThreadedMotoServer`` (port 0) for the session and
  installs dormant's Access Advisor emulation in it.
- :func:`load_placebo` reads Cloud Custodian's placebo recordings (``{"status_code", "data"}``,
  datetimes as ``{"__class__": "datetime", ...}``).
- :class:`FakeClock` is a clock and a sleep in one: sleeping advances the clock, so tests that
  poll and back off run instantly and deterministically.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import pathlib
import threading
from typing import Any

import boto3
import botocore.config
import pytest

from dormant.sources.aws import AccountSession
from dormant.sources.base import CollectContext

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
ACCOUNT = "123456789012"
REGION = "us-east-1"


def shared_data(*parts: str) -> pathlib.Path:
    """A path under the shared real-data folder; skips the test when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path


def _placebo_hook(obj: dict[str, Any]) -> Any:
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
    return obj


def load_placebo(path: pathlib.Path) -> tuple[int, dict[str, Any]]:
    """``(status_code, data)`` of one placebo recording, datetimes as aware datetimes."""
    record = json.loads(path.read_text(), object_hook=_placebo_hook)
    return int(record["status_code"]), record["data"]


class FakeClock:
    """``clock()`` and ``sleep(s)`` sharing one fake time; thread-safe."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> dt.datetime:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += dt.timedelta(seconds=seconds)


class _Server:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        from dormant.demo import moto_access_advisor

        moto_access_advisor.install()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def reset(self) -> None:
        import urllib.request

        from dormant.demo import moto_access_advisor

        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(req).read()
        moto_access_advisor.reset()


_SERVER: _Server | None = None
_SERVER_LOCK = threading.Lock()


def moto_server() -> _Server:
    """The session's moto server (started on first use), state reset by the caller."""
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None:
            _SERVER = _Server()
        return _SERVER


def boto_session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


def client(
    service: str, url: str, *, retries: int = 1, key: str = "testing", secret: str = "testing"
) -> Any:
    """A boto3 client on the moto server; no botocore retries unless asked, so tests see
    throttling themselves."""
    return boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION
    ).client(
        service,
        endpoint_url=url,
        # total_max_attempts counts the first try; botocore's "max_attempts" would add retries.
        config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": retries}),
    )


def account_session(url: str, *, retries: int = 1) -> AccountSession:
    """An AccountSession on the moto server whose IAM client does not retry by itself."""
    session = AccountSession(session=boto_session(), endpoint_url=url, max_attempts=retries)
    session._clients[("iam", None)] = client("iam", url, retries=retries)  # noqa: SLF001
    return session


def context(url: str, clock: FakeClock | None = None, **kwargs: Any) -> CollectContext:
    clock = clock or FakeClock()
    return CollectContext(
        session=account_session(url),
        account_id=ACCOUNT,
        clock=clock.clock,
        sleep=clock.sleep,
        **kwargs,
    )


def day(text: str) -> dt.datetime:
    """An aware UTC datetime from ``YYYY-MM-DD`` (or a full ISO time)."""
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def fresh_server() -> _Server:
    """The moto server with IAM and the Access Advisor emulation reset (wrap it in a fixture)."""
    srv = moto_server()
    srv.reset()
    return srv


POLICY_S3_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "ec2:Describe*"], "Resource": "*"}],
    }
)


def make_role(iam: Any, name: str, policy: str = POLICY_S3_EC2) -> str:
    """A role with one inline policy; returns its ARN."""
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy)
    return role["Arn"]


def s3_service(arn: str, *, used: str | None = "2026-11-01T00:00:00Z", actions: Any = ()) -> dict:
    """A seeded ServiceLastAccessed entry for S3."""
    entry: dict[str, Any] = {
        "ServiceNamespace": "s3",
        "ServiceName": "Amazon S3",
        "TotalAuthenticatedEntities": 1 if used else 0,
    }
    if used:
        entry.update(
            LastAuthenticated=used, LastAuthenticatedEntity=arn, LastAuthenticatedRegion=REGION
        )
    if actions is not None:
        entry["TrackedActionsLastAccessed"] = [
            {"ActionName": name}
            if when is None
            else {
                "ActionName": name,
                "LastAccessedTime": when,
                "LastAccessedEntity": arn,
                "LastAccessedRegion": REGION,
            }
            for name, when in actions
        ]
    return entry
