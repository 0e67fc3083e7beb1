"""The Access Advisor parser on real recorded reports and documented shapes."""

from __future__ import annotations

import json
import re
import urllib.parse

from aa_support import day, load_placebo, shared_data

from dormant.sources.access_advisor import job_entry, parse, parse_job
from dormant.sources.base import jsonable

USER = "arn:aws:iam::644160558196:user/kapil"


def _custodian_entry():
    folder = shared_data("custodian-placebo-iam", "test_iam_user_usage")
    _, generate = load_placebo(folder / "iam.GenerateServiceLastAccessedDetails_1.json")
    _, in_progress = load_placebo(folder / "iam.GetServiceLastAccessedDetails_1.json")
    _, completed = load_placebo(folder / "iam.GetServiceLastAccessedDetails_2.json")
    return generate, in_progress, completed


def test_custodian_recorded_report_parses_every_service_with_datetime_objects():
    generate, _, completed = _custodian_entry()
    report = parse_job(USER, job_entry(generate, [completed]))

    assert report.complete
    assert report.job_id == "74b4bb8f-ef21-ed9c-7273-1114908d4198"
    assert report.job_creation_date == day("2019-03-13T12:56:11.074000")
    assert report.job_completion_date == day("2019-03-13T12:56:11.192000")
    assert len(report.services) == 168
    used = [s for s in report.services if s.last_authenticated is not None]
    assert len(used) == 98
    acm = report.service("acm")
    assert acm.name == "AWS Certificate Manager"
    assert acm.last_authenticated == day("2019-02-08T14:55:00")
    assert acm.last_authenticated_entity == USER
    assert acm.total_authenticated_entities == 1
    a4b = report.service("A4B")
    assert a4b.last_authenticated is None and a4b.total_authenticated_entities == 0
    # A SERVICE_LEVEL report of 2019: no action-level data anywhere.
    assert not report.action_level
    assert all(s.tracked_actions is None for s in report.services)


def test_custodian_report_reparses_identically_from_iso_strings():
    generate, _, completed = _custodian_entry()
    from_objects = parse_job(USER, job_entry(generate, [completed]))
    snapshot = json.loads(json.dumps(jsonable({"jobs": {USER: job_entry(generate, [completed])}})))
    from_strings = parse(snapshot)[USER]
    assert from_strings == from_objects


def test_in_progress_poll_alone_is_not_evidence():
    generate, in_progress, _ = _custodian_entry()
    report = parse_job(USER, job_entry(generate, [in_progress]))
    assert report.job_status == "IN_PROGRESS"
    assert not report.complete
    assert report.services == ()


def _cloudmapper_reports():
    folder = shared_data("cloudmapper-demo-iam")
    gen_dir = folder / "iam-generate-service-last-accessed-details"
    get_dir = folder / "iam-get-service-last-accessed-details"
    raw = {"jobs": {}}
    for path in sorted(gen_dir.iterdir()):
        arn = urllib.parse.unquote(path.name)
        generate = json.loads(path.read_text())
        pages = [json.loads((get_dir / generate["JobId"]).read_text())]
        raw["jobs"][arn] = job_entry(generate, pages)
    return parse(raw)


def test_cloudmapper_per_role_reports_follow_the_job_flow():
    reports = _cloudmapper_reports()
    assert set(reports) == {
        "arn:aws:iam::123456789012:role/bad_role",
        "arn:aws:iam::123456789012:role/exfiller",
        "arn:aws:iam::123456789012:role/level3",
        "arn:aws:iam::123456789012:role/service-role/level1",
    }
    for arn, report in reports.items():
        assert report.complete, arn
        assert report.job_id.startswith("a2b53fd9-88bc-d0b5-1b9a-af9c4af2237")
        (logs,) = report.services
        assert logs.namespace == "logs"
        assert logs.last_authenticated == day("2019-04-15T04:19:00")
        assert report.job_creation_date == day("2019-05-03T21:56:43.001")
        assert report.job_completion_date == day("2019-05-03T21:56:43.085")
    level3 = reports["arn:aws:iam::123456789012:role/level3"].service("logs")
    assert level3.last_authenticated_entity == "arn:aws:iam::123456789012:role/level3"
    # Hand-made demo data: exfiller's report names level1 as the last entity. The parser keeps
    # what the file says; it does not "correct" evidence.
    exfiller = reports["arn:aws:iam::123456789012:role/exfiller"].service("logs")
    assert exfiller.last_authenticated_entity.endswith("role/service-role/level1")


def _cli_output(name: str) -> dict:
    text = shared_data("awscli-iam-examples", name).read_text()
    block = text.split("Output::", 1)[1]
    start = block.index("{")
    depth = 0
    for i, ch in enumerate(block[start:], start):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth == 0:
            return json.loads(block[start : i + 1])
    raise AssertionError("no JSON in example")


def test_with_entities_documented_example_parses():
    page = _cli_output("iam__get-service-last-accessed-details-with-entities.rst")
    completed = {
        "JobStatus": "COMPLETED",
        "JobCreationDate": page["JobCreationDate"],
        "JobCompletionDate": page["JobCompletionDate"],
        "ServicesLastAccessed": [
            {
                "ServiceName": "AWS Lambda",
                "ServiceNamespace": "lambda",
                "LastAuthenticated": "2019-09-30T23:02:00Z",
                "TotalAuthenticatedEntities": 2,
            }
        ],
    }
    arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    report = parse_job(arn, job_entry({"JobId": "x"}, [completed], {"lambda": [page]}))
    (lam,) = report.entities
    assert lam.namespace == "lambda"
    assert [e.name for e in lam.entities] == ["admin", "developer"]
    assert lam.entities[0].type == "USER" and lam.entities[0].path == "/"
    assert lam.entities[1].last_authenticated == day("2019-09-16T19:34:00")


def test_failed_job_carries_aws_error():
    failed = {
        "JobStatus": "FAILED",
        "JobCreationDate": "2026-11-29T10:00:00Z",
        "JobCompletionDate": "2026-11-29T10:00:01Z",
        "ServicesLastAccessed": [],
        "Error": {"Code": "InternalFailure", "Message": "boom"},
    }
    report = parse_job("arn:aws:iam::1:role/r", job_entry({"JobId": "j"}, [failed]))
    assert report.outcome == "failed"
    assert not report.complete
    assert report.error.code == "InternalFailure" and report.error.message == "boom"


def test_action_level_names_get_the_service_prefix():
    page = {
        "JobStatus": "COMPLETED",
        "JobType": "ACTION_LEVEL",
        "JobCreationDate": "2026-11-29T10:00:00Z",
        "JobCompletionDate": "2026-11-29T10:00:01Z",
        "ServicesLastAccessed": [
            {
                "ServiceNamespace": "s3",
                "ServiceName": "Amazon S3",
                "LastAuthenticated": "2026-11-01T00:00:00+00:00",
                "LastAuthenticatedRegion": "eu-west-1",
                "TrackedActionsLastAccessed": [
                    {"ActionName": "ListAllMyBuckets", "LastAccessedTime": "2026-11-01T00:00:00Z"},
                    {"ActionName": "CreateBucket"},
                ],
            }
        ],
    }
    report = parse_job("arn:aws:iam::1:role/r", job_entry({"JobId": "j"}, [page]))
    s3 = report.service("s3")
    assert report.action_level and report.job_type == "ACTION_LEVEL"
    assert [a.action for a in s3.tracked_actions] == ["s3:ListAllMyBuckets", "s3:CreateBucket"]
    assert s3.action("LISTALLMYBUCKETS").last_accessed == day("2026-11-01")
    assert s3.action("s3:CreateBucket").last_accessed is None
    assert s3.last_authenticated_region == "eu-west-1"
    assert re.fullmatch(r"s3:\w+", s3.tracked_actions[0].action)
