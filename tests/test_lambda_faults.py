"""Faults: the function runs as an identity holding exactly the template's execution role
(moto's IAM enforcement on), first whole, then without its S3 or SNS statements, and in an
account without Security Hub. Each fault is in the result and the logs; the other sinks still
run; no secret is written anywhere."""

from __future__ import annotations

import json

import pytest
from lambda_support import SlackCapture, create_function_user, role_policies, setup, unzip_all

from dormant.sinks.formats.asff import Target
from dormant.sinks.notify.securityhub import sync


@pytest.fixture
def slack():
    capture = SlackCapture()
    yield capture
    capture.close()


def _as_function(emulator, now, monkeypatch, slack, drop: tuple[str, ...] = ()):
    """Everything set up, then enforcement on, running as the role (less ``drop``)."""
    s = setup(emulator, now, monkeypatch)
    emulator.client("securityhub").enable_security_hub()
    emulator.client("secretsmanager").create_secret(
        Name="dormant/slack", SecretString=slack.url + "/services/T1/B1/f4ultT0k3n"
    )
    s.env.update(
        {"SECURITY_HUB": "true", "EVENTBRIDGE": "true", "SLACK_WEBHOOK_SECRET": "dormant/slack"}
    )
    creds = create_function_user(
        emulator, role_policies(topic_arn=s.topic_arn, policy_s3_uri=""), drop
    )
    for k, v in creds.items():
        monkeypatch.setenv(k, v)
    emulator.set_auth(0)
    return s, creds["AWS_SECRET_ACCESS_KEY"]


def _logged(s, sink: str) -> dict:
    return next(ln for ln in s.logs[-1] if ln["event"] == f"sink.{sink}")


def _no_secrets(s, result, *secrets: str) -> None:
    emulator = s.emulator
    emulator.set_auth(None)
    everything = json.dumps([result, s.logs, s.messages()])
    for name, data in s.objects().items():
        files = unzip_all(data) if name.endswith(".zip") else {name: data}
        everything += "".join(v.decode("utf-8", "replace") for v in files.values())
    for secret in secrets:
        assert secret not in everything


def test_the_template_role_is_enough_for_every_sink(emulator, now, monkeypatch, slack):
    s, secret_key = _as_function(emulator, now, monkeypatch, slack)
    result = s.run(now)
    assert result["status"] == "ok", json.dumps(result["sinks"], indent=1)
    assert {n: o["status"] for n, o in result["sinks"].items()} == {
        "s3": "ok",
        "sns": "ok",
        "slack": "ok",
        "securityhub": "ok",
        "eventbridge": "ok",
        "state": "ok",
    }
    assert result["coverage_gaps"] == [], "the read-only policy covers the scan"
    assert len(slack.posts) == 1
    _no_secrets(s, result, secret_key, "f4ultT0k3n")


def test_s3_denied_is_reported_and_the_other_sinks_still_run(emulator, now, monkeypatch, slack):
    s, secret_key = _as_function(
        emulator, now, monkeypatch, slack, drop=("ReportsAndState", "TellMissingStateFromDenied")
    )
    result = s.run(now)
    assert result["status"] == "degraded"
    assert result["sinks"]["s3"]["status"] == "failed"
    assert "AccessDenied" in result["sinks"]["s3"]["error"]
    assert result["sinks"]["state"]["status"] == "failed"
    assert "AccessDenied" in result["sinks"]["state"]["error"]
    assert result["report"]["keys"] == {} and result["report"]["url"] is None
    for other in ("sns", "slack", "securityhub", "eventbridge"):
        assert result["sinks"][other]["status"] == "ok", (other, result["sinks"][other])
    assert set(result["failed_sinks"]) == {"s3", "state"}

    logged = _logged(s, "s3")
    assert logged["level"] == "ERROR" and "AccessDenied" in logged["error"]
    assert next(ln for ln in s.logs[-1] if ln["event"] == "state.unreadable")["level"] == "ERROR"
    metrics = next(ln for ln in s.logs[-1] if ln["event"] == "run.metrics")
    assert metrics["SinkFailures"] == 2

    # The notice still goes out, and says the reports were not saved.
    emulator.set_auth(None)
    [msg] = s.messages()
    assert "reports not all saved to S3" in msg["Message"]
    assert "The reports of this run were not saved" in msg["Message"]
    assert list(s.objects()) == []
    _no_secrets(s, result, secret_key, "f4ultT0k3n")


def test_sns_denied_is_reported_and_the_other_sinks_still_run(emulator, now, monkeypatch, slack):
    s, secret_key = _as_function(emulator, now, monkeypatch, slack, drop=("Notify",))
    result = s.run(now)
    assert result["status"] == "degraded"
    assert result["sinks"]["sns"]["status"] == "failed"
    assert "AccessDenied" in result["sinks"]["sns"]["error"]
    assert result["failed_sinks"] == ["sns"]
    assert result["sinks"]["slack"]["status"] == "ok"
    assert result["sinks"]["securityhub"]["status"] == "ok"
    assert result["sinks"]["s3"]["status"] == "ok"
    # Slack delivered, so the findings count as told.
    assert result["notification"]["delivered"] is True
    assert _logged(s, "sns")["level"] == "ERROR"
    _no_secrets(s, result, secret_key, "f4ultT0k3n")


def test_no_channel_delivered_means_tell_again_next_run(emulator, now, monkeypatch, slack):
    s, _ = _as_function(emulator, now, monkeypatch, slack, drop=("Notify", "SlackWebhookSecret"))
    first = s.run(now)
    assert first["sinks"]["slack"]["status"] == "failed"
    assert "AccessDenied" in first["sinks"]["slack"]["error"]
    assert first["notification"]["delivered"] is False
    emulator.set_auth(None)
    state = json.loads(s.objects()["dormant/state.json"])
    assert all(t["last_notified"] is None for t in state["findings"].values())
    emulator.set_auth(0)
    second = s.run(now)
    assert second["counts"]["not_yet_notified"] == 6 and second["counts"]["new"] == 0


def test_security_hub_not_enabled_is_reported(emulator, now, monkeypatch):
    s = setup(emulator, now, monkeypatch)
    s.env.update({"SECURITY_HUB": "true", "EVENTBRIDGE": "true"})
    result = s.run(now)
    hub = result["sinks"]["securityhub"]
    assert hub["status"] == "failed"
    assert "Security Hub is not enabled in account 123456789012, Region us-east-1" in hub["detail"]
    assert "InvalidAccessException" in hub["error"]
    assert result["sinks"]["sns"]["status"] == "ok"
    assert result["sinks"]["eventbridge"]["status"] == "ok"
    assert result["sinks"]["s3"]["status"] == "ok"
    assert result["failed_sinks"] == ["securityhub"]
    logged = _logged(s, "securityhub")
    assert logged["level"] == "ERROR" and "InvalidAccessException" in logged["error"]
    assert len(s.messages()) == 1


class _FakeHub:
    """A Security Hub client that records its calls and fails what it is told to."""

    def __init__(self, fail_ids=(), active=()):
        self.imports: list[list[dict]] = []
        self.updates: list[list[dict]] = []
        self.fail_ids = set(fail_ids)
        self.active = list(active)

    def batch_import_findings(self, Findings):  # noqa: N803 - boto3's names
        self.imports.append(Findings)
        failed = [
            {"Id": f["Id"], "ErrorCode": "InvalidInput", "ErrorMessage": "bad"}
            for f in Findings
            if f["Id"] in self.fail_ids
        ]
        return {"SuccessCount": len(Findings) - len(failed), "FailedFindings": failed}

    def get_paginator(self, name):
        hub = self

        class Pages:
            def paginate(self, **kwargs):
                for i in range(0, len(hub.active), 100):
                    yield {"Findings": hub.active[i : i + 100]}

        return Pages()

    def batch_update_findings(self, FindingIdentifiers, Workflow, Note):  # noqa: N803
        self.updates.append(FindingIdentifiers)
        return {"ProcessedFindings": FindingIdentifiers, "UnprocessedFindings": []}


def _findings(n: int):
    from dormant.model import Finding, FindingType, PrincipalType, Verdict

    return [
        Finding(
            type=FindingType.UNUSED_ROLE,
            account_id="123456789012",
            principal_arn=f"arn:aws:iam::123456789012:role/r{i}",
            principal_name=f"r{i}",
            principal_type=PrincipalType.ROLE,
            verdict=Verdict.UNUSED,
            reason="role last used 400 days ago",
            threshold_days=90,
        )
        for i in range(n)
    ]


def test_security_hub_batches_of_100_and_failed_findings_counted():
    from dormant.sinks.formats.asff import finding_id

    findings = _findings(250)
    target = Target("aws", "us-east-1", "123456789012")
    stale = [
        {
            "Id": f"dormant/123456789012/UnusedIAMRole/old{i}",
            "ProductArn": target.product_arn,
            "GeneratorId": "dormant/UnusedIAMRole",
            "AwsAccountId": "123456789012",
            "RecordState": "ACTIVE",
            "ProductFields": {"aws/securityhub/FindingId": "x", "dormant/Type": "UnusedIAMRole"},
        }
        for i in range(120)
    ]
    hub = _FakeHub(fail_ids={finding_id(findings[3])}, active=stale)
    out = sync(
        hub,
        target,
        findings,
        first_seen={},
        now="2026-11-29T00:00:00Z",
        resolve=True,
        run_id="r",
    )
    assert [len(b) for b in hub.imports] == [100, 100, 50, 100, 20]
    assert out.status == "partial" and out.counts["import_failed"] == 1
    assert "1 failed, first dormant/123456789012/UnusedIAMRole/" in out.error
    assert [len(b) for b in hub.updates] == [100, 20]
    archived = hub.imports[3][0]
    assert archived["RecordState"] == "ARCHIVED"
    assert archived["ProductFields"] == {"dormant/Type": "UnusedIAMRole"}
    assert out.counts["archived"] == 120 and out.counts["resolved"] == 120

    # A partial run imports and resolves nothing.
    quiet = _FakeHub(active=stale)
    out = sync(quiet, target, findings[:5], first_seen={}, now="t", resolve=False, run_id="r")
    assert [len(b) for b in quiet.imports] == [5] and quiet.updates == []


def test_eventbridge_batches_of_10_and_rejected_entries_counted():
    from dormant.sinks.notify.eventbridge import publish

    calls = []

    class Events:
        def put_events(self, Entries):  # noqa: N803
            calls.append(Entries)
            results = [{"EventId": "e"} for _ in Entries]
            if len(calls) == 2:
                results[0] = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
            return {"FailedEntryCount": 1 if len(calls) == 2 else 0, "Entries": results}

    out = publish(Events(), _findings(25), bus="default", run_id="r")
    assert [len(c) for c in calls] == [10, 10, 5]
    assert all(e["DetailType"] == "dormant finding" for c in calls for e in c)
    assert out.status == "partial" and out.counts == {"sent": 24, "failed": 1}
    assert "InternalFailure" in out.error


def test_sns_message_fits_and_subject_is_short():
    from dormant.model import AccountInfo
    from dormant.sinks.notify import Notice
    from dormant.sinks.notify.message import email
    from dormant.sinks.notify.sns import MAX_BYTES

    many = _findings(4000)
    notice = Notice(
        run_id="r",
        as_of="2026-11-29T00:00:00Z",
        accounts=(AccountInfo("123456789012", "a" * 200 + "é", None, None),),
        open=tuple(many),
        new=tuple(many),
        digest=True,
    )
    subject, body = email(notice, max_listed=100_000, max_bytes=MAX_BYTES - 1024)
    assert len(body.encode()) <= MAX_BYTES - 1024
    assert "... and" in body and "more in the report" in body
    assert len(subject) < 100 and subject.isascii() and "\n" not in subject
