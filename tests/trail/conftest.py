"""Shared fixtures of the CloudTrail tests: the shared real data, a moto server, and moto's
missing CloudTrail LookupEvents."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (the parent of tests/)."""
DATA = ROOT.parent / "shared" / "data"
"""The shared real AWS data (see ../shared/data/README.md)."""

SAMPLES = {
    "stratus": DATA / "stratus-detonation-logs",
    "otrf": DATA / "otrf-aws",
    "panther": DATA / "panther-cloudtrail-test-events" / "events_only.jsonl",
    "awsdocs": DATA / "awsdocs-iam-examples",
    "malformed": DATA / "aws-cloudtrail-processing-library-fixtures",
    "eventbridge": DATA / "custodian-placebo-iam" / "eventbridge-wrapped-cloudtrail",
}
"""Every shared sample of CloudTrail, by a short name."""

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert DATA.is_dir(), f"the shared data is missing: {DATA}"
    return DATA


@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials, so nothing can reach a real account."""
    for k, v in FAKE_ENV.items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on loopback; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    install_lookup_events()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def endpoint(moto_server, aws_env) -> Iterator[str]:
    """The moto endpoint, reset before each test."""
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    ).read()
    LOOKUP_EVENTS.clear()
    LOOKUP_CALLS.clear()
    yield moto_server


def client(endpoint: str, service: str, region: str = "us-east-1"):
    import boto3

    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# moto implements no CloudTrail LookupEvents: this one serves LOOKUP_EVENTS[region] in the
# documented response shape (Events with EventTime as epoch seconds and CloudTrailEvent as JSON
# text), MaxResults per page and an opaque NextToken; botocore parses it, so a wrong shape fails.

LOOKUP_EVENTS: dict[str, list[dict]] = {}
"""Region -> CloudTrail events (dicts) that LookupEvents returns, newest first."""
LOOKUP_CALLS: list[dict] = []
"""Every LookupEvents request's parameters, in order."""


def _lookup_events(self):
    import datetime as dt

    params = json.loads(self.body or "{}")
    LOOKUP_CALLS.append({"region": self.region, **params})
    events = LOOKUP_EVENTS.get(self.region, [])

    def epoch(text: str) -> float:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    start, end = params.get("StartTime"), params.get("EndTime")
    if start is not None:
        events = [e for e in events if epoch(e["eventTime"]) >= float(start)]
    if end is not None:
        events = [e for e in events if epoch(e["eventTime"]) <= float(end)]
    offset = int(params.get("NextToken") or 0)
    size = int(params.get("MaxResults") or 50)
    page = events[offset : offset + size]
    body: dict = {
        "Events": [
            {
                "EventId": e.get("eventID", f"id-{offset + i}"),
                "EventName": e.get("eventName"),
                "ReadOnly": "true",
                "EventTime": epoch(e["eventTime"]),
                "EventSource": e.get("eventSource"),
                "Username": (e.get("userIdentity") or {}).get("userName", "unknown"),
                "Resources": [],
                "CloudTrailEvent": json.dumps(e),
            }
            for i, e in enumerate(page)
        ]
    }
    if offset + size < len(events):
        body["NextToken"] = str(offset + size)
    return json.dumps(body)


def install_lookup_events() -> None:
    from moto.cloudtrail.responses import CloudTrailResponse

    CloudTrailResponse.lookup_events = _lookup_events


def write_gz(path: Path, records: list[dict]) -> Path:
    """A CloudTrail log file: ``{"Records": [...]}`` gzipped."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    return path


def event(
    name: str = "GetUser",
    source: str = "iam.amazonaws.com",
    time: str = "2026-01-02T03:04:05Z",
    identity: dict | None = None,
    **extra,
) -> dict:
    """A CloudTrail event by an IAM user, unless ``identity`` says otherwise."""
    ev = {
        "eventVersion": "1.08",
        "userIdentity": identity
        or {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": "arn:aws:iam::111111111111:user/alice",
            "accountId": "111111111111",
            "accessKeyId": "AKIAALICE0000000001",
            "userName": "alice",
        },
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "recipientAccountId": "111111111111",
    }
    ev.update(extra)
    return ev


def user(name: str, account: str = "111111111111", key: str | None = None) -> dict:
    return {
        "type": "IAMUser",
        "principalId": f"AIDA{name.upper()}",
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": key or f"AKIA{name.upper():0<16}",
        "userName": name,
    }


def role_session(role: str, account: str = "111111111111", session: str = "s1") -> dict:
    return {
        "type": "AssumedRole",
        "principalId": f"AROA{role.upper()}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": "ASIATEMPORARY000001",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": f"AROA{role.upper()}",
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {"mfaAuthenticated": "false", "creationDate": "2026-01-01T00:00:00Z"},
        },
    }
