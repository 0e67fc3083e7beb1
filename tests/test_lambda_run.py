"""The scheduled scan, end to end: the Lambda handler, invoked in-process against the emulator
over HTTP, writes the evidence and the reports to S3, notifies through SNS (read back through
an SQS subscription) only about what is new or due, keeps Security Hub in step, puts an
EventBridge event per new finding, and says clearly when a run is partial."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from lambda_support import (
    BUCKET,
    Context,
    SlackCapture,
    finding_ids,
    run_files,
    setup,
    unzip_all,
    use_key,
)

from dormant import snapshot as snapshot_mod
from dormant.automation.config import ConfigError
from dormant.errors import InputError
from dormant.sinks.formats import FORMATS

DAY = dt.timedelta(days=1)


def test_first_run_saves_everything_and_notifies(emulator, now, monkeypatch, tmp_path):
    s = setup(emulator, now, monkeypatch)
    result = s.run(now)
    json.dumps(result)  # JSON-able, as Lambda returns it

    run_id = result["run_id"]
    assert result["status"] == "ok" and result["partial"] is False
    prefix = f"dormant/{now:%Y/%m/%d}/{run_id}/"
    assert result["report"]["prefix"] == prefix
    objects = s.objects()
    files = run_files(objects, run_id)
    expected = {"evidence.zip", "run.json"} | {
        {"json": "report.json", "csv": "report.csv", "markdown": "report.md"}.get(f, f"report.{f}")
        for f in FORMATS
        if f != "table"
    }
    assert set(files) == expected
    assert all(k.startswith(prefix) or k == "dormant/state.json" for k in objects)
    assert set(result["report"]["keys"].values()) == {prefix + n for n in expected}

    # The bundle is a valid, verifiable evidence bundle.
    (tmp_path / "evidence.zip").write_bytes(files["evidence.zip"])
    snap = snapshot_mod.read(tmp_path / "evidence.zip")
    assert snap.digest == result["snapshot_digest"]

    report = json.loads(files["report.json"])
    found = {(f["type"], f["principal_name"]) for f in report["findings"]}
    assert found == {
        ("UnusedIAMUserAccessKey", "alice"),
        ("UnrotatedIAMUserAccessKey", "alice"),
        ("InactiveIAMUser", "alice"),
        ("UnusedIAMUserPassword", "bob"),
        ("InactiveIAMUser", "bob"),
        ("UnusedIAMRole", "old-role"),
    }
    assert sorted(result["new"]) == sorted(f["id"] for f in report["findings"])
    assert result["counts"]["new"] == 6 and result["counts"]["by_type"]["InactiveIAMUser"] == 2
    assert b"alice" in files["report.csv"] and b"# dormant report" in files["report.md"]
    assert json.loads(files["run.json"])["run_id"] == run_id

    # One e-mail-friendly message: counts by type, the findings with what to do, the report.
    [msg] = s.messages()
    subject, body = msg["Subject"], msg["Message"]
    assert subject == "dormant: 6 new in 123456789012"
    assert len(subject) < 100
    assert "InactiveIAMUser                  2" in body
    assert "[MEDIUM] Unused access key AKIA" in body and "of alice" in body
    assert "What to do: Deactivate the access key" in body
    report_key = result["report"]["url"].removeprefix(f"s3://{BUCKET}/")
    assert f"Report: s3://{BUCKET}/{report_key}" in body
    assert "https://s3.console.aws.amazon.com/s3/buckets/" in body

    state = json.loads(objects["dormant/state.json"])
    assert set(state["findings"]) == set(result["new"])
    assert all(t["last_notified"] == result["as_of"] for t in state["findings"].values())

    # The logs: one JSON object a line, the run's context in each.
    lines = s.logs[0]
    assert {ln["event"] for ln in lines} >= {"run.started", "sink.sns", "run.finished"}
    assert all(ln.get("run_id") == run_id for ln in lines if ln["event"] != "run.metrics")
    metrics = next(ln for ln in lines if ln["event"] == "run.metrics")
    assert metrics["NewFindings"] == 6 and metrics["RunProblems"] == 0
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "dormant"


def test_no_second_notification_then_a_reminder_after_the_interval(emulator, now, monkeypatch):
    s = setup(emulator, now, monkeypatch)
    first = s.run(now)
    assert len(s.messages()) == 1

    second = s.run(now + DAY)
    assert s.messages() == [], "an unchanged finding must not notify again"
    assert second["counts"]["new"] == 0 and second["counts"]["unchanged"] == 6
    assert second["sinks"]["sns"]["status"] == "skipped"
    assert second["notification"] == {"needed": False, "digest": False, "delivered": False}

    # bob's password gets used: what he had is resolved, and the message, when one is sent,
    # says so; nothing is sent for it alone.
    from dormant.demo import moto_ext

    moto_ext.backend("123456789012").get_user("bob").password_last_used = now
    third = s.run(now + 2 * DAY)
    assert s.messages() == []
    assert sorted(third["resolved"]) == sorted(_ids_of(s, first, "bob"))
    assert third["sinks"]["sns"]["status"] == "skipped"

    # Seven days after the first notice: a reminder for what is still open.
    fourth = s.run(now + 7 * DAY)
    [msg] = s.messages()
    assert msg["Subject"] == "dormant: 4 reminders in 123456789012"
    assert "Still open, 7+ days after the last notice (4):" in msg["Message"]
    assert "reported since" in msg["Message"]
    assert fourth["counts"]["reminded"] == 4 and fourth["counts"]["new"] == 0

    # ...and not again the next day.
    s.run(now + 8 * DAY)
    assert s.messages() == []


def _ids_of(s, result, name: str) -> set[str]:
    files = run_files(s.objects(), result["run_id"])
    return finding_ids(files["report.json"], name=name)


def test_weekly_digest(emulator, now, monkeypatch):
    s = setup(emulator, now, monkeypatch)
    digest_day = now + DAY
    weekday = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[digest_day.weekday()]
    s.env["DIGEST_WEEKDAY"] = weekday
    s.run(now)
    assert len(s.messages()) == 1

    result = s.run(digest_day)
    [msg] = s.messages()
    assert result["notification"]["digest"] is True
    assert msg["Subject"] == "dormant: weekly digest: 6 open findings in 123456789012"
    assert "Every open finding, most urgent first (6):" in msg["Message"]

    s.run(digest_day + dt.timedelta(hours=2))
    assert s.messages() == [], "one digest a day, however often the function runs"

    # The digest was a notice about every finding: reminders fall due a week after it.
    s.env["DIGEST_WEEKDAY"] = ""
    s.run(digest_day + 7 * DAY - dt.timedelta(hours=1))
    assert s.messages() == []
    s.run(digest_day + 7 * DAY)
    assert [m["Subject"] for m in s.messages()] == ["dormant: 6 reminders in 123456789012"]


def test_security_hub_findings_imported_then_resolved_on_rerun(emulator, now, monkeypatch):
    s = setup(emulator, now, monkeypatch)
    emulator.client("securityhub").enable_security_hub()
    s.env["SECURITY_HUB"] = "true"
    first = s.run(now)
    assert first["sinks"]["securityhub"]["counts"]["imported"] == 6
    imported = {f["Id"]: f for f in s.securityhub()}
    assert len(imported) == 6
    one = next(f for f in imported.values() if f["GeneratorId"].endswith("UnusedIAMUserAccessKey"))
    assert one["ProductArn"] == (
        "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
    )
    assert one["Severity"]["Label"] == "MEDIUM" and one["Workflow"]["Status"] == "NEW"
    assert one["Resources"][0]["Type"] == "AwsIamAccessKey"
    assert one["Title"].startswith("Unused access key AKIA") and one["RecordState"] == "ACTIVE"

    # A rerun with nothing changed updates the same findings: no duplicates.
    s.run(now + DAY)
    assert len(s.securityhub()) == 6

    # alice uses her key: her unused-key and inactive-user findings are resolved.
    use_key("alice", now + 2 * DAY)
    third = s.run(now + 2 * DAY)
    assert third["counts"]["resolved"] == 2
    hub = {f["Id"]: f for f in s.securityhub()}
    assert set(hub) == set(imported)
    gone = {i for i, f in hub.items() if f["RecordState"] == "ARCHIVED"}
    assert {hub[i]["GeneratorId"] for i in gone} == {
        "dormant/UnusedIAMUserAccessKey",
        "dormant/InactiveIAMUser",
    }
    assert all(hub[i]["Workflow"]["Status"] == "RESOLVED" for i in gone)
    assert all(
        f["RecordState"] == "ACTIVE" and f["Workflow"]["Status"] == "NEW"
        for i, f in hub.items()
        if i not in gone
    )
    rotated = next(
        f for f in hub.values() if f["GeneratorId"] == "dormant/UnrotatedIAMUserAccessKey"
    )
    assert rotated["ProductFields"]["dormant/Verdict"] == "used"
    assert third["sinks"]["securityhub"]["counts"] == {
        "imported": 4,
        "import_failed": 0,
        "archived": 2,
        "resolved": 2,
    }


def test_eventbridge_one_event_per_new_finding(emulator, now, monkeypatch):
    s = setup(emulator, now, monkeypatch)
    s.env["EVENTBRIDGE"] = "true"
    first = s.run(now)
    events = s.events()
    assert len(events) == 6
    assert {e["detail-type"] for e in events} == {"dormant finding"}
    assert {e["source"] for e in events} == {"dormant"}
    assert {e["detail"]["finding"]["id"] for e in events} == set(first["new"])
    assert all(e["detail"]["run_id"] == first["run_id"] for e in events)
    s.run(now + DAY)
    assert s.events() == [], "no event for a finding that is not new"


def test_slack_message_and_no_secret_anywhere(emulator, now, monkeypatch):
    secret_path = "/services/T0DORMANT/B0DORMANT/s3cr3tW3bh00kT0k3n"
    slack = SlackCapture()
    try:
        s = setup(emulator, now, monkeypatch)
        emulator.client("secretsmanager").create_secret(
            Name="dormant/slack", SecretString=json.dumps({"webhook_url": slack.url + secret_path})
        )
        s.env["SLACK_WEBHOOK_SECRET"] = "dormant/slack"
        result = s.run(now)
        assert result["sinks"]["slack"]["status"] == "ok"
        [post] = slack.posts
        assert post["path"] == secret_path
        text = post["json"]["text"]
        assert text.startswith("*dormant*: 6 new in 123456789012")
        assert "`MEDIUM` Unused access key" in text and "Open the reports" in text

        # Slack refusing the message is a failed sink, named, without the URL.
        slack.status, slack.body = 404, b"no_service"
        # Nothing is new on the second run: ask for the digest, so that a message is sent.
        failed = s.run(now + DAY, event={"digest": True})
        assert failed["sinks"]["slack"]["status"] == "failed"
        assert failed["sinks"]["slack"]["error"] == "Slack answered HTTP 404: no_service"
        assert failed["sinks"]["sns"]["status"] == "ok"

        token = "s3cr3tW3bh00kT0k3n"
        everything = json.dumps([result, failed, s.logs, s.messages()])
        for name, data in s.objects().items():
            files = unzip_all(data) if name.endswith(".zip") else {name: data}
            everything += "".join(v.decode("utf-8", "replace") for v in files.values())
        assert token not in everything
    finally:
        slack.close()


def test_partial_run_when_the_time_budget_runs_out(emulator, now, monkeypatch):
    s = setup(emulator, now, monkeypatch)
    first = s.run(now)
    s.messages()

    # Less time left than the reserve: collection stops at once, the run saves what it has.
    result = s.run(now + DAY, context=Context(remaining_ms=30_000))
    assert result["partial"] is True and result["status"] == "partial"
    assert "time budget ran out" in result["partial_reason"]
    assert result["resolved"] == [], "a partial run resolves nothing"
    assert any("Cancelled" in g for g in result["coverage_gaps"])
    state = json.loads(s.objects()["dormant/state.json"])
    assert set(first["new"]) <= set(state["findings"])

    [msg] = s.messages()
    assert msg["Subject"].startswith("[PARTIAL] dormant:")
    assert "PARTIAL RUN: the time budget ran out" in msg["Message"]
    assert "Cancelled" in msg["Message"]
    warning = next(ln for ln in s.logs[-1] if ln["event"] == "run.partial")
    assert warning["level"] == "WARNING"
    metrics = next(ln for ln in s.logs[-1] if ln["event"] == "run.metrics")
    assert metrics["PartialRun"] == 1

    files = run_files(s.objects(), result["run_id"])
    report = json.loads(files["report.json"])
    assert any("partial run" in w for w in report["warnings"])
    sources = {c["source"]: c["status"] for c in report["coverage"]}
    assert "failed" in sources.values()


def test_policy_file_from_s3_and_thresholds(emulator, now, monkeypatch):
    s = setup(emulator, now, monkeypatch)
    emulator.client("s3").put_object(
        Bucket=BUCKET,
        Key="config/policy.toml",
        Body=b'[exclusions]\narns = ["arn:aws:iam::*:role/old-role"]\n',
    )
    result = s.run(now, POLICY_S3_URI=f"s3://{BUCKET}/config/policy.toml", THRESHOLD_DAYS="150")
    types = {t for t in result["counts"]["by_type"]}
    # old-role is excluded by the file; with 150 days, alice's key (120 days) is used.
    assert "UnusedIAMRole" not in types and "UnusedIAMUserAccessKey" not in types
    assert result["counts"]["excluded"] >= 1
    report = json.loads(run_files(s.objects(), result["run_id"])["report.json"])
    assert report["policy"]["source"] == f"s3://{BUCKET}/config/policy.toml"

    emulator.client("ssm").put_parameter(
        Name="/dormant/policy", Value="[thresholds]\ndefault = 0\n", Type="String"
    )
    with pytest.raises(InputError, match="ssm:/dormant/policy: thresholds: default: expected"):
        s.run(now, POLICY_SSM_PARAMETER="/dormant/policy")
    assert s.logs[-1][-1]["event"] == "run.failed"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REPORT_BUCKET": ""}, "REPORT_BUCKET: required"),
        ({"REMINDER_DAYS": "soon"}, "REMINDER_DAYS: expected a whole number"),
        ({"DIGEST_WEEKDAY": "Funday"}, "DIGEST_WEEKDAY: expected one of MON"),
        ({"SECURITY_HUB": "maybe"}, "SECURITY_HUB: expected true or false"),
        ({"POLICY_S3_URI": "bucket/key"}, "POLICY_S3_URI: expected s3://bucket/key"),
    ],
)
def test_bad_settings_fail_at_once_naming_the_variable(env, message):
    from dormant.automation.config import Settings

    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"REPORT_BUCKET": "b", **env})
