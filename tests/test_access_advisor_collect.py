"""The Access Advisor source against the moto server (with dormant's emulation), over HTTP."""

from __future__ import annotations

import json

import pytest
from aa_support import (
    ACCOUNT,
    FakeClock,
    client,
    context,
    fresh_server,
    make_role,
    s3_service,
)

from dormant.demo import moto_access_advisor as emu
from dormant.sources import access_advisor as aa
from dormant.sources.base import SourceResult, SourceStatus


@pytest.fixture
def server():
    return fresh_server()


def _jobs_per_arn() -> dict[str, int]:
    return {arn: n for (_, arn), n in emu.stats()["generate_per_arn"].items()}


def test_every_kind_of_principal_is_read_once_with_action_level_data(server):
    iam = client("iam", server.url)
    role = make_role(iam, "app")
    user = iam.create_user(UserName="alice")["User"]["Arn"]
    group = iam.create_group(GroupName="devs")["Group"]["Arn"]
    policy = iam.create_policy(
        PolicyName="readonly",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    for arn in (role, user, group, policy):
        emu.seed(
            ACCOUNT,
            arn,
            [
                s3_service(
                    arn,
                    actions=[("ListAllMyBuckets", "2026-11-20T00:00:00Z"), ("CreateBucket", None)],
                )
            ],
        )

    result = aa.collect(context(server.url), [role, user, group, policy, role])

    assert result.name == "access_advisor"
    assert result.status == SourceStatus.READ and result.errors == []
    assert _jobs_per_arn() == {role: 1, user: 1, group: 1, policy: 1}
    reports = aa.parse(result.raw)
    assert set(reports) == {role, user, group, policy}
    for arn, report in reports.items():
        assert report.complete, arn
        assert report.job_type == "ACTION_LEVEL"
        s3 = report.service("s3")
        assert (
            s3.action("ListAllMyBuckets").last_accessed.isoformat() == "2026-11-20T00:00:00+00:00"
        )
        assert s3.action("CreateBucket").last_accessed is None


def test_unseeded_role_lists_granted_services_with_no_use(server):
    iam = client("iam", server.url)
    role = make_role(iam, "quiet")
    report = aa.parse(aa.collect(context(server.url), [role]).raw)[role]
    assert report.complete
    assert [s.namespace for s in report.services] == ["ec2", "s3"]
    assert all(s.last_authenticated is None for s in report.services)


def test_all_pages_are_read(server):
    iam = client("iam", server.url)
    role = make_role(iam, "many")
    services = [
        {
            "ServiceNamespace": f"svc{i}",
            "ServiceName": f"Service {i}",
            "TotalAuthenticatedEntities": 0,
        }
        for i in range(7)
    ]
    emu.seed(ACCOUNT, role, services)
    emu.configure(page_size=3)
    result = aa.collect(context(server.url), [role])
    assert len(result.raw["jobs"][role]["GetServiceLastAccessedDetails"]) == 3
    report = aa.parse(result.raw)[role]
    assert [s.namespace for s in report.services] == [f"svc{i}" for i in range(7)]


def test_failed_job_is_recorded_against_its_arn_and_the_scan_goes_on(server):
    iam = client("iam", server.url)
    good, bad = make_role(iam, "good"), make_role(iam, "bad")
    emu.fail_job(ACCOUNT, bad, "InternalFailure", "could not build the report")

    result = aa.collect(context(server.url), [good, bad])

    assert result.status == SourceStatus.PARTIAL
    (error,) = result.errors
    assert error.target == bad and error.code == "InternalFailure"
    assert error.operation == "GetServiceLastAccessedDetails"
    reports = aa.parse(result.raw)
    assert reports[good].complete
    assert reports[bad].outcome == "failed" and reports[bad].error.code == "InternalFailure"
    assert _jobs_per_arn() == {good: 1, bad: 1}


def test_job_that_never_finishes_times_out_by_the_context_clock(server):
    iam = client("iam", server.url)
    slow = make_role(iam, "slow")
    emu.configure(in_progress_polls=10_000)
    clock = FakeClock()
    start = clock.now

    result = aa.collect(context(server.url, clock), [slow], job_timeout=60)

    (error,) = result.errors
    assert error.code == "JobTimeout" and error.target == slow
    assert result.status == SourceStatus.FAILED
    assert aa.parse(result.raw)[slow].outcome == "timeout"
    waited = (clock.now - start).total_seconds()
    assert 60 <= waited <= 60 + aa.POLL_MAX
    assert _jobs_per_arn() == {slow: 1}  # never restarted


def test_throttling_beyond_botocore_is_retried_with_backoff(server):
    iam = client("iam", server.url)
    arns = [make_role(iam, f"r{i}") for i in range(12)]
    emu.configure(throttle_share=0.4, throttle_seed=7)
    clock = FakeClock()

    start = clock.now

    result = aa.collect(context(server.url, clock), arns, max_in_flight=4)

    assert result.errors == []
    assert emu.stats()["calls"]["Throttled"] > 0
    # Throttled calls were put off by the backoff (fake time), not retried at once.
    assert (clock.now - start).total_seconds() >= aa.THROTTLE_FIRST
    assert _jobs_per_arn() == {arn: 1 for arn in arns}
    assert all(r.complete for r in aa.parse(result.raw).values())


def test_entities_are_read_for_groups_and_policies_only_where_asked(server):
    iam = client("iam", server.url)
    role = make_role(iam, "app")
    group = iam.create_group(GroupName="devs")["Group"]["Arn"]
    other = iam.create_group(GroupName="ops")["Group"]["Arn"]
    entity = {
        "EntityInfo": {
            "Arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
            "Name": "alice",
            "Type": "USER",
            "Id": "AIDAEXAMPLE",
            "Path": "/",
        },
        "LastAuthenticated": "2026-11-20T00:00:00Z",
    }
    for arn in (role, group, other):
        emu.seed(ACCOUNT, arn, [s3_service(arn, actions=None)], entities={"s3": [entity]})

    result = aa.collect(context(server.url), [role, group, other], with_entities_for=[group, role])

    reports = aa.parse(result.raw)
    (s3,) = reports[group].entities
    assert s3.namespace == "s3" and [e.name for e in s3.entities] == ["alice"]
    assert reports[other].entities == ()  # not asked
    assert reports[role].entities == ()  # asked, but roles have no entity detail to give
    assert emu.stats()["calls"]["GetServiceLastAccessedDetailsWithEntities"] == 1


def test_missing_principal_is_an_error_for_that_arn_only(server):
    iam = client("iam", server.url)
    role = make_role(iam, "real")
    ghost = f"arn:aws:iam::{ACCOUNT}:role/ghost"
    result = aa.collect(context(server.url), [role, ghost])
    (error,) = result.errors
    assert error.target == ghost and error.code == "NoSuchEntity"
    assert error.operation == "GenerateServiceLastAccessedDetails"
    assert aa.parse(result.raw)[ghost].outcome == "error"


def test_cancel_keeps_what_was_read_and_names_the_rest(server):
    iam = client("iam", server.url)
    arns = [make_role(iam, f"c{i}") for i in range(5)]
    ctx = context(server.url)

    def progress(task, advance, total):
        ctx.cancel.set()  # stop after the first principal

    ctx.progress = progress
    result = aa.collect(ctx, arns, max_in_flight=1)

    reports = aa.parse(result.raw)
    assert reports[arns[0]].complete
    cancelled = [e.target for e in result.errors if e.code == "Cancelled"]
    assert cancelled == arns[1:]
    assert set(_jobs_per_arn()) == {arns[0]}


def test_raw_survives_a_snapshot_round_trip(server):
    iam = client("iam", server.url)
    role = make_role(iam, "snap")
    emu.seed(ACCOUNT, role, [s3_service(role, actions=[("CreateBucket", None)])])
    result = aa.collect(context(server.url), [role])
    again = SourceResult.from_json(json.loads(json.dumps(result.to_json())))
    assert aa.parse(again.raw) == aa.parse(result.raw)


def test_no_arns_reads_nothing(server):
    result = aa.collect(context(server.url), [])
    assert result.status == SourceStatus.READ and result.raw["jobs"] == {}
    assert emu.stats()["calls"] == {}


def test_a_frozen_clock_cannot_make_the_wait_loop_forever(server):
    """A caller may freeze the clock (the Lambda's tests do): waits then count the time
    actually slept, so jobs that answer IN_PROGRESS still complete, and time out when they
    never do."""
    import datetime as dt

    from aa_support import account_session

    from dormant.sources.base import CollectContext

    iam = client("iam", server.url)
    role = make_role(iam, "frozen")
    emu.seed(ACCOUNT, role, [s3_service(role, actions=[("ListAllMyBuckets", None)])])
    frozen = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)

    def collect(polls: int) -> tuple[SourceResult, list[float]]:
        emu.configure(in_progress_polls=polls)
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            if len(slept) > 500:  # a scheduler that loops would sleep forever
                raise AssertionError("the scheduler looped on a frozen clock")

        ctx = CollectContext(
            session=account_session(server.url),
            account_id=ACCOUNT,
            clock=lambda: frozen,
            sleep=sleep,
        )
        return aa.collect(ctx, [role], job_timeout=60), slept

    result, slept = collect(2)
    assert result.raw["jobs"][role]["outcome"] == "completed" and slept
    result, slept = collect(10_000)
    assert result.raw["jobs"][role]["outcome"] == "timeout"
    assert 60 <= sum(slept) < 200
