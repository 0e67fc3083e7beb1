"""dormant's moto emulation of the Access Advisor job APIs, through boto3 over HTTP.

botocore parses every answer with IAM's service model, so a wrong shape fails here."""

from __future__ import annotations

import botocore.exceptions
import pytest
from aa_support import ACCOUNT, client, fresh_server, make_role, s3_service

from dormant.demo import moto_access_advisor as emu


@pytest.fixture
def server():
    return fresh_server()


def _poll(iam, job_id, **kwargs):
    for _ in range(10):
        answer = iam.get_service_last_accessed_details(JobId=job_id, **kwargs)
        if answer["JobStatus"] != "IN_PROGRESS":
            return answer
    raise AssertionError("job never finished")


def test_job_goes_in_progress_then_completed_with_action_level_data(server):
    iam = client("iam", server.url)
    role = make_role(iam, "app")
    emu.seed(
        ACCOUNT,
        role,
        [
            s3_service(
                role, actions=[("CreateBucket", "2026-11-02T03:04:05Z"), ("DeleteBucket", None)]
            )
        ],
    )
    emu.configure(in_progress_polls=2)
    job = iam.generate_service_last_accessed_details(Arn=role, Granularity="ACTION_LEVEL")["JobId"]

    first = iam.get_service_last_accessed_details(JobId=job)
    assert first["JobStatus"] == "IN_PROGRESS"
    assert "ServicesLastAccessed" not in first and "JobCompletionDate" not in first
    assert iam.get_service_last_accessed_details(JobId=job)["JobStatus"] == "IN_PROGRESS"
    done = iam.get_service_last_accessed_details(JobId=job)
    assert done["JobStatus"] == "COMPLETED" and done["JobType"] == "ACTION_LEVEL"
    assert done["IsTruncated"] is False and "JobCompletionDate" in done
    (s3,) = done["ServicesLastAccessed"]
    assert s3["ServiceNamespace"] == "s3" and s3["LastAuthenticatedRegion"] == "us-east-1"
    created, deleted = s3["TrackedActionsLastAccessed"]
    assert created["ActionName"] == "CreateBucket"
    assert created["LastAccessedTime"].isoformat().startswith("2026-11-02T03:04:05")
    assert deleted == {"ActionName": "DeleteBucket"}


def test_service_level_job_has_no_action_data(server):
    iam = client("iam", server.url)
    role = make_role(iam, "app")
    emu.seed(ACCOUNT, role, [s3_service(role, actions=[("CreateBucket", None)])])
    job = iam.generate_service_last_accessed_details(Arn=role)["JobId"]
    done = _poll(iam, job)
    assert done["JobType"] == "SERVICE_LEVEL"
    assert "TrackedActionsLastAccessed" not in done["ServicesLastAccessed"][0]


def test_failed_job_answers_error(server):
    iam = client("iam", server.url)
    role = make_role(iam, "broken")
    emu.fail_job(ACCOUNT, role, "InternalFailure", "nope")
    job = iam.generate_service_last_accessed_details(Arn=role, Granularity="ACTION_LEVEL")["JobId"]
    done = _poll(iam, job)
    assert done["JobStatus"] == "FAILED"
    assert done["Error"] == {"Code": "InternalFailure", "Message": "nope"}
    assert done["ServicesLastAccessed"] == []


def test_marker_pages_through_services(server):
    iam = client("iam", server.url)
    role = make_role(iam, "app")
    emu.seed(
        ACCOUNT,
        role,
        [
            {"ServiceNamespace": f"s{i}", "ServiceName": f"S{i}", "TotalAuthenticatedEntities": 0}
            for i in range(5)
        ],
    )
    job = iam.generate_service_last_accessed_details(Arn=role)["JobId"]
    page = _poll(iam, job, MaxItems=2)
    seen = [s["ServiceNamespace"] for s in page["ServicesLastAccessed"]]
    while page["IsTruncated"]:
        page = iam.get_service_last_accessed_details(JobId=job, MaxItems=2, Marker=page["Marker"])
        seen += [s["ServiceNamespace"] for s in page["ServicesLastAccessed"]]
    assert seen == [f"s{i}" for i in range(5)]


def test_with_entities_shape(server):
    iam = client("iam", server.url)
    group = iam.create_group(GroupName="devs")["Group"]["Arn"]
    info = {
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/bob",
        "Name": "bob",
        "Type": "USER",
        "Id": "AIDABOB",
        "Path": "/",
    }
    emu.seed(
        ACCOUNT,
        group,
        [s3_service(group, actions=None)],
        entities={"s3": [{"EntityInfo": info, "LastAuthenticated": "2026-11-03T00:00:00Z"}]},
    )
    job = iam.generate_service_last_accessed_details(Arn=group)["JobId"]
    _poll(iam, job)
    answer = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="s3")
    assert answer["JobStatus"] == "COMPLETED"
    (entity,) = answer["EntityDetailsList"]
    assert entity["EntityInfo"] == info
    empty = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="ec2")
    assert empty["EntityDetailsList"] == []


def test_job_id_is_readable_only_by_its_creator(server):
    iam = client("iam", server.url)
    role = make_role(iam, "app")
    job = iam.generate_service_last_accessed_details(Arn=role)["JobId"]
    stranger = client("iam", server.url, key="AKIAOTHERKEY00000000")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        stranger.get_service_last_accessed_details(JobId=job)
    assert err.value.response["Error"]["Code"] == "NoSuchEntity"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_throttling_answers_rate_exceeded(server):
    iam = client("iam", server.url)
    role = make_role(iam, "app")
    emu.configure(throttle_share=1.0)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        iam.generate_service_last_accessed_details(Arn=role)
    assert err.value.response["Error"] == {
        "Code": "Throttling",
        "Message": "Rate exceeded",
        "Type": "Sender",
    }
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert emu.stats()["generate_per_arn"] == {}


def test_install_is_idempotent():
    from moto.iam.responses import IamResponse

    emu.install()
    method = IamResponse.get_service_last_accessed_details
    emu.install()
    assert IamResponse.get_service_last_accessed_details is method
