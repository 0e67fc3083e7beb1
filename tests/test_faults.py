"""The emulator's fault injection (dormant.demo.faults): per account, a deterministic share of
throttled calls that botocore retries, denied actions and denied AssumeRole shaped as AWS
answers them, latency that does not serialize the threaded server, and reset()."""

from __future__ import annotations

import threading

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from dormant.demo import faults
from dormant.demo.server import DEFAULT_ACCOUNT

MEMBER = "210987654321"


def _client(emulator, service: str, *, retries: int = 1, account_id: str | None = None):
    client = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(
        service,
        endpoint_url=emulator.endpoint_url,
        config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": retries}),
    )
    if account_id:

        def to_account(request, **_) -> None:
            request.headers["x-moto-account-id"] = account_id

        client.meta.events.register("before-sign", to_account)
    return client


def test_a_share_of_calls_is_throttled_as_iam_answers_it(emulator):
    faults.throttle(MEMBER, 0.25)
    iam = _client(emulator, "iam", account_id=MEMBER)
    errors = []
    for _ in range(8):
        try:
            iam.list_users()
        except ClientError as exc:
            errors.append(exc)
    assert len(errors) == 2  # exactly a quarter, deterministically
    err = errors[0].response
    assert err["Error"]["Code"] == "Throttling"
    assert err["Error"]["Message"] == "Rate exceeded"
    assert err["Error"]["Type"] == "Sender"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Other accounts are not throttled.
    other = _client(emulator, "iam")
    for _ in range(8):
        other.list_users()
    assert faults.faults(MEMBER) == {("iam:ListUsers", "throttled"): 2}
    assert faults.calls(MEMBER)["iam:ListUsers"] == 8
    assert faults.calls(DEFAULT_ACCOUNT)["iam:ListUsers"] == 8


def test_botocore_retries_the_throttled_call(emulator):
    faults.throttle(MEMBER, 0.5)
    iam = _client(emulator, "iam", retries=3, account_id=MEMBER)
    answers = [iam.list_users()["ResponseMetadata"]["RetryAttempts"] for _ in range(3)]
    # Calls 1 and 3 of the account are throttled: the 2nd and 3rd list_users are each retried once.
    assert answers == [0, 1, 1]


def test_throttling_restricted_to_actions(emulator):
    faults.throttle(MEMBER, 1.0, actions=["iam:GetAccountSummary"])
    iam = _client(emulator, "iam", account_id=MEMBER)
    iam.list_users()
    with pytest.raises(ClientError) as exc:
        iam.get_account_summary()
    assert exc.value.response["Error"]["Code"] == "Throttling"


def test_organizations_throttles_with_its_own_json_error(emulator):
    _client(emulator, "organizations").create_organization(FeatureSet="ALL")
    faults.throttle(DEFAULT_ACCOUNT, 1.0, actions=["organizations:*"])
    with pytest.raises(ClientError) as exc:
        _client(emulator, "organizations").list_accounts()
    assert exc.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_denied_action_answers_access_denied_in_that_account_only(emulator):
    faults.deny(MEMBER, "iam:ListUsers")
    iam = _client(emulator, "iam", account_id=MEMBER)
    with pytest.raises(ClientError) as exc:
        iam.list_users()
    err = exc.value.response
    assert err["Error"]["Code"] == "AccessDenied"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "iam:ListUsers" in err["Error"]["Message"]
    assert "service control policy" in err["Error"]["Message"]
    iam.list_roles()  # another action of the same account
    _client(emulator, "iam").list_users()  # the same action in another account


def test_access_analyzer_faults(emulator):
    faults.deny(DEFAULT_ACCOUNT, "access-analyzer:ListAnalyzers")
    aa = _client(emulator, "accessanalyzer")
    with pytest.raises(ClientError) as exc:
        aa.list_analyzers(type="ACCOUNT_UNUSED_ACCESS")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    faults.reset()
    faults.throttle(DEFAULT_ACCOUNT, 1.0)
    with pytest.raises(ClientError) as exc:
        aa.list_analyzers(type="ACCOUNT_UNUSED_ACCESS")
    assert exc.value.response["Error"]["Code"] == "ThrottlingException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_assume_role_denied_for_one_role(emulator):
    denied = f"arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole"
    faults.deny_assume_role(denied)
    sts = _client(emulator, "sts")
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=denied, RoleSessionName="dormant")
    err = exc.value.response["Error"]
    assert err["Code"] == "AccessDenied"
    assert err["Message"].endswith(f"sts:AssumeRole on resource: {denied}")
    other = "arn:aws:iam::333333333333:role/OrganizationAccountAccessRole"
    assert sts.assume_role(RoleArn=other, RoleSessionName="dormant")["Credentials"]


def test_latency_does_not_serialize_the_server(emulator):
    faults.set_latency(0.5, MEMBER)
    barrier = threading.Barrier(8)

    def call() -> None:
        iam = _client(emulator, "iam", account_id=MEMBER)
        barrier.wait()
        iam.list_users()

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert faults.calls(MEMBER)["iam:ListUsers"] == 8
    # Several calls slept their latency at the same time: sleeping holds no lock.
    assert faults.peak_in_flight() >= 4
    # The latency is the member's only.
    _client(emulator, "iam").list_users()
    assert faults.peak_in_flight() >= 4


def test_reset_forgets_every_fault(emulator):
    faults.deny(MEMBER, "iam:*")
    faults.throttle(MEMBER, 1.0)
    faults.set_latency(0.2)
    emulator.reset()
    iam = _client(emulator, "iam", account_id=MEMBER)
    iam.list_users()
    assert faults.faults() == {}
    assert faults.calls() == {"iam:ListUsers": 1}
