"""The scheduled run's automatic key deactivation (AUTO_DEACTIVATE_KEYS): off by default; when on,
the template's role (with the AutoDeactivateKeys condition) is enough, the keys are deactivated
through the remediation engine, the plan and journal land in the bucket, the notification says
what was changed, and `dormant remediate rollback` undoes it from the journal."""

from __future__ import annotations

import json

from lambda_support import (
    BUCKET,
    create_function_user,
    key_of,
    load_template,
    role_policies,
    run_files,
    setup,
)
from remediate_support import run

from dormant.sinks.remediate.plan import DEACTIVATED_TAG


def _actions(policies: dict) -> set[str]:
    out = set()
    for doc in policies.values():
        for st in doc["Statement"]:
            acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            out |= set(acts)
    return out


def test_the_role_gets_key_writes_only_when_asked():
    off = _actions(role_policies(topic_arn="arn:aws:sns:us-east-1:123456789012:t"))
    on = _actions(
        role_policies(topic_arn="arn:aws:sns:us-east-1:123456789012:t", auto_deactivate=True)
    )
    assert not {
        a
        for a in off
        if a.startswith("iam:") and not a.startswith(("iam:Get", "iam:List", "iam:Generate"))
    }
    assert on - off == {"iam:UpdateAccessKey", "iam:TagUser", "iam:GetUser"}
    template = load_template()
    assert template["Parameters"]["AutoDeactivateKeys"]["Default"] == "false"
    env = template["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert env["AUTO_DEACTIVATE_KEYS"] == {"Ref": "AutoDeactivateKeys"}


def test_off_by_default_nothing_is_changed(emulator, now, monkeypatch):
    s = setup(emulator, now, monkeypatch)
    result = s.run(now)
    assert "remediation" not in result["sinks"] and result["remediation"] is None
    assert key_of("alice").status == "Active"


def test_auto_deactivation_as_the_function_then_rollback(emulator, now, monkeypatch, tmp_path):
    s = setup(emulator, now, monkeypatch)
    s.env["AUTO_DEACTIVATE_KEYS"] = "true"
    alice_key = key_of("alice").access_key_id
    creds = create_function_user(
        emulator,
        role_policies(
            topic_arn=s.topic_arn,
            policy_s3_uri="",
            security_hub=False,
            eventbridge=False,
            slack_secret="",
            auto_deactivate=True,
        ),
    )
    for k, v in creds.items():
        monkeypatch.setenv(k, v)
    emulator.set_auth(0)
    try:
        result = s.run(now)
    finally:
        emulator.set_auth(None)
    assert result["status"] == "ok", json.dumps(result["sinks"], indent=1)
    assert result["sinks"]["remediation"]["status"] == "ok"
    assert result["remediation"]["keys"] == [
        {"user": "alice", "access_key_id": alice_key, "status": "done", "reason": ""}
    ]
    assert key_of("alice").status == "Inactive"
    iam = emulator.client("iam")
    tags = {t["Key"] for t in iam.list_user_tags(UserName="alice")["Tags"]}
    assert DEACTIVATED_TAG + alice_key in tags
    # Only the key: bob's password and the unused role are left to a person.
    assert iam.get_login_profile(UserName="bob")
    assert iam.list_role_policies(RoleName="old-role")["PolicyNames"] == []

    files = run_files(s.objects(), result["run_id"])
    plan = json.loads(files["plan.json"])
    assert [st["kind"] for st in plan["steps"]] == ["deactivate-access-key"]
    journal = tmp_path / "journal.sqlite"
    journal.write_bytes(files["journal.sqlite"])
    assert result["remediation"]["journal_key"].endswith("/remediation/journal.sqlite")

    (message,) = s.messages()
    body = message["Message"]
    assert "key deactivated" in message["Subject"]
    assert f"deactivated access key {alice_key} of alice" in body
    assert f"journal: s3://{BUCKET}/" in body and "dormant remediate rollback" in body
    assert creds["AWS_SECRET_ACCESS_KEY"] not in json.dumps([result, s.logs]) + body

    # The journal in the bucket is complete: rollback from it reactivates the key.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    back = run("remediate", "rollback", str(journal), "--apply", emulator=emulator)
    assert "1 rolled-back" in back.stdout
    assert key_of("alice").status == "Active"
    assert DEACTIVATED_TAG + alice_key not in {
        t["Key"] for t in iam.list_user_tags(UserName="alice")["Tags"]
    }


def test_an_allow_listed_key_is_never_touched(emulator, now, monkeypatch):
    s = setup(emulator, now, monkeypatch)
    s.env["AUTO_DEACTIVATE_KEYS"] = "true"
    # The policy file's allow-list covers alice: her key is never touched.
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="policies")
    s3.put_object(
        Bucket="policies",
        Key="policy.toml",
        Body=b'[[allow]]\narn = "arn:aws:iam::*:user/alice"\nowner = "ops@example.com"\n'
        b'reason = "batch job"\nexpires = 2099-01-01\n',
    )
    s.env["POLICY_S3_URI"] = "s3://policies/policy.toml"
    result = s.run(now)
    assert result["sinks"]["remediation"]["status"] == "skipped"
    assert key_of("alice").status == "Active"
