"""dormant remediate apply and rollback, end to end: the CLI as a subprocess against the emulated
account over HTTP, the journal on disk, the account's state compared before and after."""

from __future__ import annotations

import copy
import json
import re
import sqlite3

import pytest
from remediate_support import (
    ACCESS_ADVISOR,
    collect_to,
    full_state,
    run,
    seed_access_advisor,
    seed_account,
    write_policy,
)

from dormant.demo import moto_ext
from dormant.sinks.remediate.plan import DEACTIVATED_TAG, QUARANTINE_TAG


def _plan(emulator, tmp_path, policy=None, name: str = "plan") -> tuple[dict, str]:
    snap = collect_to(emulator, tmp_path / f"{name}-snap")
    plan = tmp_path / f"{name}.json"
    run(
        "remediate",
        "plan",
        str(snap),
        "--output",
        str(plan),
        "--policy",
        str(policy or write_policy(tmp_path)),
    )
    return json.loads(plan.read_text()), str(plan)


def _kinds(plan: dict) -> dict[str, dict]:
    return {s["kind"]: s for s in plan["steps"]}


def _untimed(state: dict) -> dict:
    """The state with the times dormant writes (tag values, quarantine policy names) masked."""
    text = json.dumps(state, sort_keys=True, default=str)
    text = re.sub(r"dormant-quarantine-\d{8}", "dormant-quarantine-DAY", text)
    state = json.loads(text)
    # A rollback recreates a policy version deleted to make room, with a new date: the next
    # apply then makes room by deleting another old version. What is in force is the same.
    for policy in state["authorization"]["Policies"]:
        versions = policy["PolicyVersionList"]
        policy["PolicyVersionList"] = [v for v in versions if v["IsDefaultVersion"]]
        policy["versions"] = len(versions)
    for item in state["authorization"]["UserDetailList"] + state["authorization"]["RoleDetailList"]:
        for tag in item.get("Tags") or []:
            if tag["Key"].startswith("dormant:"):
                tag["Value"] = "TIME"
    return state


def test_apply_every_step_then_rollback_restores_the_account(emulator, now, tmp_path):
    ids = seed_account(emulator, now)
    iam = emulator.client("iam")
    before = full_state(iam)
    role = next(
        r for r in before["authorization"]["RoleDetailList"] if r["RoleName"] == "quarantined"
    )
    # What rollback must bring back is in the evidence the comparison reads.
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == ids["boundary"]
    assert role["InstanceProfileList"] and role["AttachedManagedPolicies"]
    assert {t["Key"] for t in role["Tags"]} == {"team", QUARANTINE_TAG}
    original_role_id = iam.get_role(RoleName="quarantined")["Role"]["RoleId"]

    plan, plan_path = _plan(emulator, tmp_path)
    kinds = _kinds(plan)
    assert set(kinds) == {
        "deactivate-access-key",
        "delete-access-key",
        "quarantine-role",
        "delete-role",
        "delete-login-profile",
        "put-inline-policy",
        "delete-inline-policy",
        "create-policy-version",
        "detach-policy",
        "replace-aws-managed",
    }
    assert [s["irreversible"] for s in plan["steps"]] == sorted(
        s["irreversible"] for s in plan["steps"]
    ), "irreversible steps are listed apart, last"
    assert {
        (n["finding_type"], n["principal_name"])
        for n in plan["no_step"]
        if n["reason"].startswith("excluded")
    } == {("UnusedIAMRole", "vendor-bridge")}

    # The dry run reads and prints, and changes nothing; it writes no journal.
    dry = run("remediate", "apply", plan_path, emulator=emulator)
    assert "iam:UpdateAccessKey UserName=stale" in dry.stdout
    assert "would-apply" in dry.stdout and "dry run" in dry.stdout
    assert full_state(iam) == before
    assert not (tmp_path / "plan.journal.sqlite").exists()

    done = run(
        "remediate", "apply", plan_path, "--apply", "--allow-irreversible", emulator=emulator
    )
    assert "dormant: apply: 11 done" in done.stdout, done.stdout
    stale_key = kinds["deactivate-access-key"]["expect"]["access_key_id"]
    keys = {
        k["AccessKeyId"]: k["Status"]
        for k in iam.list_access_keys(UserName="stale")["AccessKeyMetadata"]
    }
    assert keys[stale_key] == "Inactive"
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="stale")["Tags"]}
    assert tags[DEACTIVATED_TAG + stale_key].startswith(now.date().isoformat()[:4])
    assert any(
        n.startswith("dormant-quarantine-")
        for n in iam.list_role_policies(RoleName="idle")["PolicyNames"]
    )
    assert "quarantined" not in {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert iam.list_access_keys(UserName="retired")["AccessKeyMetadata"] == []
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName="stale")

    journal = tmp_path / "plan.journal.sqlite"
    with sqlite3.connect(journal) as db:
        rows = db.execute("SELECT state, at, done_at FROM calls WHERE phase = 'apply'").fetchall()
        saved = json.loads(
            db.execute("SELECT saved FROM steps WHERE kind = 'delete-role'").fetchone()[0]
        )
    assert rows and all(state == "done" and at <= done for state, at, done in rows)
    assert saved["role"]["create_role"]["MaxSessionDuration"] == 7200
    assert saved["role"]["inline_policies"].keys() >= {"export"}

    # Rollback: a dry run first, then for real.
    dry = run("remediate", "rollback", str(journal), emulator=emulator)
    assert "would-undo" in dry.stdout and "iam:CreateRole" in dry.stdout
    assert "quarantined" not in {r["RoleName"] for r in iam.list_roles()["Roles"]}
    back = run("remediate", "rollback", str(journal), "--apply", emulator=emulator)
    assert "2 irreversible, 9 rolled-back" in back.stdout, back.stdout
    assert "a deleted access key cannot be restored" in back.stdout

    # Everything is as it was, but what cannot come back: the deleted key (and its tag) and
    # the login profile (not part of GetAccountAuthorizationDetails). The recreated role has
    # a new RoleId and CreateDate, and no last-used data: AWS makes those anew.
    expected = copy.deepcopy(before)
    del expected["keys"][ids["retired_key"]]
    for user in expected["authorization"]["UserDetailList"]:
        if user["UserName"] == "retired":
            user["Tags"] = []
    after = full_state(iam)
    for user in after["authorization"]["UserDetailList"]:
        user.setdefault("Tags", [])
    for user in expected["authorization"]["UserDetailList"]:
        user.setdefault("Tags", [])
    assert after == expected
    assert iam.get_role(RoleName="quarantined")["Role"]["RoleId"] != original_role_id

    # A second rollback has nothing left to do.
    again = run("remediate", "rollback", str(journal), "--apply", emulator=emulator)
    assert "rolled back by an earlier run" in again.stdout


def _normal(state: dict) -> dict:
    """The state with what differs between two seedings of the same account masked: the ids
    AWS makes (keys, users, policies, profiles) and the times dormant writes."""
    users = {}
    for key, owner in sorted(state["keys"].items()):
        users[key] = f"KEY-OF-{owner.split(':')[0]}"
    text = json.dumps(_untimed(state), sort_keys=True, default=str)
    for key, name in users.items():
        text = text.replace(key, name)
    text = re.sub(r"evidence as of [0-9T:.Z-]+", "evidence as of TIME", text)
    out = json.loads(text)

    def drop(value):
        if isinstance(value, dict):
            return {
                k: drop(v)
                for k, v in value.items()
                if not (k.endswith("Id") and k not in ("VersionId", "DefaultVersionId"))
            }
        if isinstance(value, list):
            return [drop(v) for v in value]
        return value

    return drop(out)


def test_interrupted_apply_resumes_or_rolls_back(emulator, now, tmp_path):
    # The uninterrupted run, for comparison.
    seed_account(emulator, now)
    iam = emulator.client("iam")
    _, plan_path = _plan(emulator, tmp_path, name="whole")
    run("remediate", "apply", plan_path, "--apply", emulator=emulator)
    end = _normal(full_state(iam))

    # The same account again, killed after step 2's calls were made and before the journal
    # marked it done; then (the same account once more) killed after step 3's first intent was
    # written, before its call was made.
    for crash in ("2", "3:before"):
        emulator.reset()
        seed_account(emulator, now)
        start = full_state(iam)
        name = "crash-" + crash.replace(":", "-")
        _, plan_path = _plan(emulator, tmp_path, name=name)
        journal = tmp_path / f"{name}.journal.sqlite"
        killed = run(
            "remediate",
            "apply",
            plan_path,
            "--apply",
            emulator=emulator,
            codes=(-9,),
            env=_env(DORMANT_REMEDIATE_CRASH=crash),
        )
        step = int(crash.split(":")[0])
        with sqlite3.connect(journal) as db:
            status = dict(db.execute("SELECT step, status FROM steps").fetchall())
            intents = db.execute(
                "SELECT COUNT(*) FROM calls WHERE step = ? AND state = 'intent'", (step,)
            ).fetchone()[0]
        assert status[step] == "started" and intents == 1, (status, killed.stdout)
        assert all(status[s] == "done" for s in range(1, step))
        assert all(status[s] == "pending" for s in status if s > step)

        # Without --resume an existing journal is not overwritten.
        refused = run("remediate", "apply", plan_path, "--apply", emulator=emulator, codes=(2,))
        assert "--resume" in refused.stderr

        if crash == "2":
            # The call was made: --resume finds it in effect, and ends where the
            # uninterrupted run ended.
            resumed = run("remediate", "apply", plan_path, "--apply", "--resume", emulator=emulator)
            assert "found in effect after an interruption" in resumed.stdout
            got = _normal(full_state(iam))
            assert got == end, _diff(end, got)
        # Rollback of the journal as it stands (whole, or cut short) restores the start.
        run("remediate", "rollback", str(journal), "--apply", emulator=emulator)
        assert full_state(iam) == start


def _diff(a: dict, b: dict) -> str:
    import difflib
    import pprint

    return "\n".join(
        difflib.unified_diff(
            pprint.pformat(a, width=100).splitlines(),
            pprint.pformat(b, width=100).splitlines(),
            lineterm="",
        )
    )


def _env(**extra: str) -> dict[str, str]:
    import os

    return {**os.environ, **extra}


def test_use_between_plan_and_apply_skips_the_step(emulator, now, tmp_path):
    seed_account(emulator, now)
    plan, plan_path = _plan(emulator, tmp_path)
    kinds = _kinds(plan)
    key_id = kinds["deactivate-access-key"]["expect"]["access_key_id"]
    # The key and the idle role are used after the plan was made.
    be = moto_ext.backend("123456789012")
    from moto.iam.models import AccessKeyLastUsed

    user = be.get_user("stale")
    key = next(k for k in user.access_keys if k.access_key_id == key_id)
    key.last_used = AccessKeyLastUsed(now, "s3", "us-east-1")
    be.get_role("idle").last_used = now
    # ...and the worker role uses DynamoDB again, which its inline policy was to lose.
    seed_access_advisor("role/worker", {**ACCESS_ADVISOR["role/worker"], "dynamodb": 0}, now)
    out = run("remediate", "apply", plan_path, "--apply", emulator=emulator)
    text = out.stdout
    assert re.search(
        r"narrow inline policy app of role worker\n  -> skipped: service dynamodb was used on "
        + now.date().isoformat(),
        text,
    ), text
    # The other steps of the same role, whose services are still unused, go ahead.
    assert re.search(r"customer-managed policy worker-ops \(role worker\)\n(.*\n)*?  -> done", text)
    assert re.search(
        r"deactivate-access-key.*\n(.*\n)*?  -> skipped: the key was used on "
        + now.date().isoformat(),
        text,
    ), text
    assert "-> skipped: the role was used on" in text
    iam = emulator.client("iam")
    assert iam.list_access_keys(UserName="stale")["AccessKeyMetadata"][0]["Status"] == "Active"
    assert not [
        n for n in iam.list_role_policies(RoleName="idle")["PolicyNames"] if n.startswith("dormant")
    ]
    # The journal says why, for the record.
    with sqlite3.connect(tmp_path / "plan.journal.sqlite") as db:
        reasons = dict(
            db.execute("SELECT kind, reason FROM steps WHERE status = 'skipped'").fetchall()
        )
    assert "used on" in reasons["deactivate-access-key"]


def test_allow_listed_role_in_hand_edited_plan_is_refused(emulator, now, tmp_path):
    seed_account(emulator, now)
    plan, plan_path = _plan(emulator, tmp_path)
    # Someone copies the quarantine step of 'idle' and points it at the allow-listed role.
    step = copy.deepcopy(_kinds(plan)["quarantine-role"])
    step["step"] = 99
    step["principal_arn"] = step["principal_arn"].replace("/idle", "/vendor-bridge")
    step["principal_name"] = "vendor-bridge"
    for call in step["calls"]:
        call["params"]["RoleName"] = "vendor-bridge"
    plan["steps"] = [step]
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(plan))
    out = run("remediate", "apply", str(edited), "--apply", emulator=emulator, codes=(1,))
    assert "-> refused: the principal is protected by the policy file: allow-list: " in out.stdout
    assert "owner vendors@example.com" in out.stdout
    assert "were edited after dormant wrote it" in out.stderr
    iam = emulator.client("iam")
    assert iam.list_role_policies(RoleName="vendor-bridge")["PolicyNames"] == []

    # A call on another principal than the step's is refused before anything runs.
    step["calls"][0]["params"]["RoleName"] = "fresh"
    edited.write_text(json.dumps(plan))
    bad = run("remediate", "apply", str(edited), "--apply", emulator=emulator, codes=(2,))
    assert "is not the step's principal 'vendor-bridge'" in bad.stderr
    # So is a call a step of that kind never makes.
    step["calls"][0] = {
        "service": "iam",
        "operation": "DeleteRole",
        "params": {"RoleName": "vendor-bridge"},
    }
    edited.write_text(json.dumps(plan))
    bad = run("remediate", "apply", str(edited), emulator=emulator, codes=(2,))
    assert "a quarantine-role step does not make this call" in bad.stderr


def test_rollback_refuses_what_changed_since_unless_forced(emulator, now, tmp_path):
    seed_account(emulator, now)
    plan, plan_path = _plan(emulator, tmp_path)
    run("remediate", "apply", plan_path, "--apply", "--max-actions", "2", emulator=emulator)
    journal = str(tmp_path / "plan.journal.sqlite")
    iam = emulator.client("iam")
    key_id = _kinds(plan)["deactivate-access-key"]["expect"]["access_key_id"]
    # Someone reactivates the key by hand after apply.
    iam.update_access_key(UserName="stale", AccessKeyId=key_id, Status="Active")
    out = run("remediate", "rollback", journal, "--apply", emulator=emulator, codes=(1,))
    assert "-> refused: changed since apply" in out.stdout
    assert "now key status Active" in out.stdout
    assert "1 refused, 1 rolled-back" in out.stdout, out.stdout
    # The refused step's tag is still there: nothing of it was undone.
    assert any(
        t["Key"].startswith(DEACTIVATED_TAG) for t in iam.list_user_tags(UserName="stale")["Tags"]
    )
    forced = run(
        "remediate", "rollback", journal, "--apply", "--force", "--step", "1", emulator=emulator
    )
    assert "rolled-back" in forced.stdout
    assert not any(
        t["Key"].startswith(DEACTIVATED_TAG) for t in iam.list_user_tags(UserName="stale")["Tags"]
    )


def test_max_actions_and_irreversible_steps_wait_for_a_later_run(emulator, now, tmp_path):
    seed_account(emulator, now)
    plan, plan_path = _plan(emulator, tmp_path)
    first = run("remediate", "apply", plan_path, "--apply", "--max-actions", "1", emulator=emulator)
    assert "1 done" in first.stdout and "beyond --max-actions 1" in first.stdout
    second = run("remediate", "apply", plan_path, "--apply", "--resume", emulator=emulator)
    assert "finished by an earlier run" in second.stdout
    assert "irreversible: apply it with --allow-irreversible" in second.stdout
    iam = emulator.client("iam")
    assert iam.get_login_profile(UserName="stale")  # still there
    third = run(
        "remediate",
        "apply",
        plan_path,
        "--apply",
        "--resume",
        "--allow-irreversible",
        emulator=emulator,
    )
    assert third.stdout.count("-> done\n") == 2
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName="stale")


def _denied(call) -> bool:
    import botocore.exceptions

    try:
        call()
    except botocore.exceptions.ClientError as exc:
        # (moto answers JSON-protocol services' denials in XML: botocore sees code 403.)
        assert "AccessDenied" in str(exc), exc
        return True
    return False


def test_narrowed_policies_keep_what_was_used_and_deny_the_rest(emulator, now, tmp_path):
    import boto3

    seed_account(emulator, now)
    plan, plan_path = _plan(emulator, tmp_path)
    iam = emulator.client("iam")
    key = iam.create_access_key(UserName="analyst")["AccessKey"]
    worker = emulator.client("sts").assume_role(
        RoleArn="arn:aws:iam::123456789012:role/worker", RoleSessionName="test-session"
    )["Credentials"]

    def client(service: str, who: str):
        creds = (
            {
                "aws_access_key_id": key["AccessKeyId"],
                "aws_secret_access_key": key["SecretAccessKey"],
            }
            if who == "analyst"
            else {
                "aws_access_key_id": worker["AccessKeyId"],
                "aws_secret_access_key": worker["SecretAccessKey"],
                "aws_session_token": worker["SessionToken"],
            }
        )
        return boto3.session.Session(region_name="us-east-1", **creds).client(
            service, endpoint_url=emulator.endpoint_url
        )

    used = [
        lambda: client("sqs", "analyst").list_queues(),  # Access Advisor: sqs used yesterday
        lambda: client("ec2", "worker").describe_instances(),  # ec2 used yesterday
    ]
    removed = [
        lambda: client("dynamodb", "analyst").list_tables(),  # never used: narrowed away
        lambda: client("sns", "analyst").list_topics(),  # its inline policy deleted
        lambda: client("kinesis", "analyst").list_streams(),  # its managed policy detached
        # The AWS-managed policy, replaced by a customer-managed one without autoscaling.
        lambda: client("autoscaling", "worker").describe_auto_scaling_groups(),
    ]
    emulator.set_auth(0)
    try:
        assert not any(_denied(c) for c in used + removed), "all allowed before"
    finally:
        emulator.set_auth(None)
    run("remediate", "apply", plan_path, "--apply", emulator=emulator)
    emulator.set_auth(0)
    try:
        assert not any(_denied(c) for c in used)
        assert all(_denied(c) for c in removed)
    finally:
        emulator.set_auth(None)
