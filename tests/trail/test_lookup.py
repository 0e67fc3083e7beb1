"""The LookupEvents API source (moto server, with LookupEvents added in conftest) and its rate
limiter (a fake clock: no test waits on the wall clock)."""

from __future__ import annotations

import pytest

from dormant.trail import scan
from dormant.trail.lookup import RateLimiter
from dormant.trail.sources import LookupEventsSource

from . import conftest
from .conftest import client, event, role_session


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_calls_at_the_rate():
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(5):
        limiter.acquire()
        stamps.append(clock.now)
    assert stamps == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])


def test_rate_limiter_does_not_wait_when_calls_are_slow():
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.acquire()
        clock.now += 1.0
    assert clock.slept == []


def _events(n: int) -> list[dict]:
    out = []
    for i in range(n):
        minute = f"{i % 60:02d}"
        out.append(
            event(time=f"2026-11-20T10:{minute}:00Z", eventID=f"e{i}")
            if i % 2
            else event(
                "DescribeInstances",
                "ec2.amazonaws.com",
                time=f"2026-11-20T11:{minute}:00Z",
                identity=role_session("app"),
            )
        )
    return out


def test_lookup_events_pages_through_every_event_rate_limited(endpoint):
    conftest.LOOKUP_EVENTS["us-east-1"] = _events(120)
    clock = FakeClock()

    def limiter(rate):
        return RateLimiter(rate, clock=clock, sleep=clock.sleep)

    src = LookupEventsSource(client=client(endpoint, "cloudtrail"), limiter_factory=limiter)
    ev = scan([src], workers=1)
    assert ev.events_read == 120 and ev.errors == ()
    assert ev.files_read == 3  # 50 + 50 + 20
    assert ev.principal("arn:aws:iam::111111111111:role/app").count == 60
    assert ev.principal("arn:aws:iam::111111111111:user/alice").count == 60
    assert len(conftest.LOOKUP_CALLS) == 3
    assert conftest.LOOKUP_CALLS[1]["NextToken"] == "50"
    assert sum(clock.slept) == pytest.approx(1.0)  # 3 calls at 2 a second


def test_lookup_events_by_name_with_a_session_per_region(endpoint):
    from dormant.sources.aws import build_session

    conftest.LOOKUP_EVENTS["us-east-1"] = _events(3)
    conftest.LOOKUP_EVENTS["eu-west-1"] = _events(2)
    session = build_session(region="us-east-1", endpoint_url=endpoint)
    ev = scan(["lookup-events"], session=session, regions=["us-east-1", "eu-west-1"], workers=1)
    assert ev.events_read == 5
    assert {c["region"] for c in conftest.LOOKUP_CALLS} == {"us-east-1", "eu-west-1"}


def test_lookup_events_passes_the_time_window(endpoint):
    conftest.LOOKUP_EVENTS["us-east-1"] = _events(4)
    ev = scan(
        ["lookup-events"],
        cloudtrail_client=client(endpoint, "cloudtrail"),
        start="2026-11-20",
        end="2026-11-20",
        workers=1,
    )
    call = conftest.LOOKUP_CALLS[0]
    assert "StartTime" in call and "EndTime" in call
    assert ev.events_read == 4


def test_lookup_events_failure_is_an_error_for_that_region(endpoint):
    conftest.LOOKUP_EVENTS["us-east-1"] = _events(1)
    import boto3
    import botocore.config

    bad = boto3.client(  # nothing listens on port 9
        "cloudtrail",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    src = LookupEventsSource(client=bad)
    good = LookupEventsSource(client=client(endpoint, "cloudtrail"))
    ev = scan([src, good], workers=1)
    assert ev.events_read == 1
    assert ev.errors[0].file == "lookup-events:us-east-1"
