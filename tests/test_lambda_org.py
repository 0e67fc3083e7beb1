"""The scheduled scan of an organization (``ORG=true``), invoked in-process against the emulator:
every member account through the role the member-role template creates, each account's
evidence saved under the run's prefix as it completes, a run that runs out of time reported as
partial naming the accounts not scanned, and the next run resuming from the saved accounts; and
the Step Functions fan-out's three steps, chained by hand, giving the same findings."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from lambda_support import (
    BUCKET,
    READONLY,
    Context,
    account,
    finding_ids,
    run_files,
    setup,
    unzip_all,
)

from dormant import snapshot as snapshot_mod
from dormant.aws_lambda import org_account_handler, org_list_handler, org_report_handler
from dormant.demo import faults
from dormant.demo.organization import Member, seed_organization
from dormant.demo.seed import Account, Key, Password, Role, User
from dormant.demo.server import DEFAULT_ACCOUNT

ROLE = "dormant-readonly"
DAY = dt.timedelta(days=1)


def members() -> list[Member]:
    """prod: an unused old key; dev: an unused role and a password unused for 200 days;
    sandbox: a fresh user (nothing to find)."""
    return [
        Member(
            "prod",
            Account(users=[User("deploy-bot", age=500, keys=[Key(age=500, used=150)])]),
            ou="Prod",
        ),
        Member(
            "dev",
            Account(
                users=[User("dana", age=400, password=Password(used=200))],
                roles=[Role("legacy-ci", age=700, used=400)],
            ),
            ou="Dev",
        ),
        Member(
            "sandbox",
            Account(users=[User("sam", age=30, password=Password(used=1))]),
            ou="Dev/Sandbox",
        ),
    ]


def org_setup(emulator, now, monkeypatch):
    """The management account (the function's) seeded as the single-account tests seed it,
    an organization of three members whose dormant-readonly role has exactly the read-only
    policy, and the function's environment in ORG mode."""
    s = setup(emulator, now, monkeypatch)
    org = seed_organization(
        emulator,
        members(),
        now,
        role_name=ROLE,
        role_policy=json.loads(READONLY.read_text()),
    )
    s.env.update({"ORG": "true", "ORG_ROLE_NAME": ROLE})
    return s, org


def _found(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(f["account_id"], f["type"], f["principal_name"]) for f in report["findings"]}


def expected(org) -> set[tuple[str, str, str]]:
    prod, dev = org.id("prod"), org.id("dev")
    mgmt = DEFAULT_ACCOUNT
    return {
        (prod, "UnusedIAMUserAccessKey", "deploy-bot"),
        (prod, "UnrotatedIAMUserAccessKey", "deploy-bot"),
        (prod, "InactiveIAMUser", "deploy-bot"),
        (dev, "UnusedIAMUserPassword", "dana"),
        (dev, "InactiveIAMUser", "dana"),
        (dev, "UnusedIAMRole", "legacy-ci"),
        (mgmt, "UnusedIAMUserAccessKey", "alice"),
        (mgmt, "UnrotatedIAMUserAccessKey", "alice"),
        (mgmt, "InactiveIAMUser", "alice"),
        (mgmt, "UnusedIAMUserPassword", "bob"),
        (mgmt, "InactiveIAMUser", "bob"),
        (mgmt, "UnusedIAMRole", "old-role"),
    }


def _unused_roles_of_the_setup(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Findings about the member role itself (created by the seeding, never used) are not what
    these tests are about."""
    return {x for x in _found(report) if x[2] != ROLE}


def test_org_run_scans_every_account_and_saves_each(emulator, now, monkeypatch, tmp_path):
    s, org = org_setup(emulator, now, monkeypatch)
    emulator.client("securityhub").enable_security_hub()
    result = s.run(now, SECURITY_HUB="true")

    assert result["status"] == "ok" and result["partial"] is False
    everyone = sorted([DEFAULT_ACCOUNT, *org.accounts.values()])
    assert result["org"]["mode"] == "single-run"
    assert result["org"]["accounts"] == 4
    assert result["org"]["scanned"] == everyone and result["org"]["not_scanned"] == []

    files = run_files(s.objects(), result["run_id"])
    prefix = result["report"]["prefix"]
    # Each account's evidence, saved as it completed: a verifiable bundle of that account.
    saved = {k for k in s.objects() if k.startswith(prefix + "accounts/")}
    assert saved == {f"{prefix}accounts/{a}.zip" for a in everyone}
    for key in saved:
        path = tmp_path / key.rsplit("/", 1)[1]
        path.write_bytes(s.objects()[key])
        [acct] = snapshot_mod.read(path).accounts
        assert path.name == f"{acct.account_id}.zip"
    # One evidence bundle with every account, OU paths included.
    bundle = unzip_all(files["evidence.zip"])
    index = json.loads(bundle["snapshot.json"])
    assert sorted(a["account_id"] for a in index["accounts"]) == everyone
    paths = {a["account_id"]: a.get("ou_path") for a in index["accounts"]}
    assert paths[org.id("sandbox")] == "Root/Dev/Sandbox"

    report = json.loads(files["report.json"])
    assert _unused_roles_of_the_setup(report) == expected(org)
    statuses = {a["account_id"]: a["scan_status"] for a in report["accounts"]}
    assert statuses == dict.fromkeys(everyone, "complete")

    # One message for the whole organization.
    [msg] = s.messages()
    assert msg["Subject"].startswith("dormant: ") and "in 4 accounts" in msg["Subject"]
    assert "PARTIAL" not in msg["Subject"]

    # Security Hub: only the function's own account's findings (BatchImportFindings takes an
    # account's own findings only from that account); the others are counted, not imported.
    hub = result["sinks"]["securityhub"]
    mine = [f for f in report["findings"] if f["account_id"] == DEFAULT_ACCOUNT]
    others = [f for f in report["findings"] if f["account_id"] != DEFAULT_ACCOUNT]
    assert hub["status"] == "ok"
    assert hub["counts"]["imported"] == len(mine)
    assert hub["counts"]["not_imported"] == len(others) > 0
    assert hub["counts"]["other_accounts"] == len({f["account_id"] for f in others})
    assert "not imported" in hub["detail"]
    assert {f["AwsAccountId"] for f in s.securityhub()} == {DEFAULT_ACCOUNT}

    # The progress file says the scan is complete: the next run starts a new one.
    progress = json.loads(s.objects()["dormant/org-scan.json"])
    assert progress["complete"] is True
    assert [r["run_id"] for r in progress["runs"]] == [result["run_id"]]


class _BudgetAfterFirstAccount:
    """A Lambda context whose time runs short once the first account's evidence is saved (as
    if that account had used the budget up): the watchdog reads it like Lambda's clock."""

    function_name = "dormant-test"

    def __init__(self, emulator, request_id: str) -> None:
        self.aws_request_id = f"{request_id}-0000-0000"
        self._s3 = emulator.client("s3")

    def get_remaining_time_in_millis(self) -> int:
        listed = self._s3.list_objects_v2(Bucket=BUCKET, Prefix="dormant/").get("Contents", [])
        saved = [o for o in listed if "/accounts/" in o["Key"]]
        return 30_000 if saved else 600_000


def test_a_run_out_of_time_is_partial_and_the_next_resumes(emulator, now, monkeypatch):
    s, org = org_setup(emulator, now, monkeypatch)
    everyone = sorted([DEFAULT_ACCOUNT, *org.accounts.values()])
    # One account at a time, in account id order; every account after the first answers
    # slowly, so the budget runs out while the second one is being read.
    for account_id in everyone[1:]:
        faults.set_latency(0.25, account_id)
    s.env["ORG_ACCOUNT_CONCURRENCY"] = "1"

    first = s.run(now, context=_BudgetAfterFirstAccount(emulator, "r0"))
    assert first["status"] == "partial" and first["partial"] is True
    assert first["org"]["scanned"] == everyone[:1]
    assert first["org"]["not_scanned"] == everyone[1:]
    reason = first["partial_reason"]
    assert "1 of 4 accounts scanned" in reason and "the next run resumes with them" in reason
    assert all(a in reason for a in everyone[1:])
    saved = {k for k in s.objects() if "/accounts/" in k}
    assert saved == {f"{first['report']['prefix']}accounts/{everyone[0]}.zip"}

    report = json.loads(run_files(s.objects(), first["run_id"])["report.json"])
    statuses = {a["account_id"]: a["scan_status"] for a in report["accounts"]}
    assert statuses[everyone[0]] == "complete"
    assert {statuses[a] for a in everyone[2:]} == {"not-scanned"}

    # The notification names the accounts not scanned, and says the run is partial.
    [msg] = s.messages()
    assert msg["Subject"].startswith("[PARTIAL] dormant:")
    body = msg["Message"]
    assert "PARTIAL RUN:" in body
    for account_id in everyone[1:]:
        assert account_id in body
    names = {org.accounts[n]: n for n in org.accounts}
    assert any(f"{a} ({names[a]})" in body for a in everyone[1:] if a in names)

    # The next run: the saved account is read back, the others are scanned.
    faults.reset()
    second = s.run(now + dt.timedelta(hours=1))
    assert second["status"] == "ok", second["partial_reason"]
    assert second["org"]["resumed_from"] == [first["run_id"]]
    assert second["org"]["read_back"] == everyone[:1]
    assert second["org"]["scanned"] == everyone and second["org"]["not_scanned"] == []
    new_saves = {k for k in s.objects() if f"/{second['run_id']}/accounts/" in k}
    assert new_saves == {f"{second['report']['prefix']}accounts/{a}.zip" for a in everyone[1:]}
    report = json.loads(run_files(s.objects(), second["run_id"])["report.json"])
    assert _unused_roles_of_the_setup(report) == expected(org)
    bundle = unzip_all(run_files(s.objects(), second["run_id"])["evidence.zip"])
    notes = json.loads(bundle["snapshot.json"])["notes"]
    assert any(first["run_id"] in n and "read back" in n for n in notes)

    # The scan is complete: a third run starts afresh and reads nothing back.
    third = s.run(now + 2 * DAY)
    assert third["org"]["resumed_from"] == [] and third["org"]["read_back"] == []


def _a_run_out_of_time(emulator, now, monkeypatch):
    """A first run that saves one account and runs out of time; then the emulator is quick."""
    s, org = org_setup(emulator, now, monkeypatch)
    everyone = sorted([DEFAULT_ACCOUNT, *org.accounts.values()])
    for account_id in everyone[1:]:
        faults.set_latency(0.25, account_id)
    s.env["ORG_ACCOUNT_CONCURRENCY"] = "1"
    first = s.run(now, context=_BudgetAfterFirstAccount(emulator, "r0"))
    assert first["partial"] is True
    faults.reset()
    return s, everyone, first


def test_an_old_unfinished_scan_is_not_resumed(emulator, now, monkeypatch):
    s, everyone, _ = _a_run_out_of_time(emulator, now, monkeypatch)
    later = s.run(now + 3 * DAY)  # past ORG_RESUME_HOURS (48)
    assert later["org"]["resumed_from"] == [] and later["org"]["read_back"] == []
    assert later["org"]["scanned"] == everyone


def test_a_resume_scans_again_the_accounts_saved_too_long_ago(emulator, now, monkeypatch):
    # The scan may still be resumed (within ORG_RESUME_HOURS), but an account saved more than
    # 26 hours ago is read again: the report is judged as of this run.
    s, everyone, first = _a_run_out_of_time(emulator, now, monkeypatch)
    later = s.run(now + dt.timedelta(hours=30))
    assert later["org"]["resumed_from"] == [first["run_id"]]
    assert later["org"]["read_back"] == []
    assert later["org"]["scanned"] == everyone


def test_an_account_whose_role_cannot_be_assumed_is_named(emulator, now, monkeypatch):
    s, org = org_setup(emulator, now, monkeypatch)
    faults.deny_assume_role(f"arn:aws:iam::{org.id('dev')}:role/{ROLE}")
    result = s.run(now)
    assert result["partial"] is False  # reached every account it could; dev is a gap
    assert result["org"]["unreachable"] == [org.id("dev")]
    report = json.loads(run_files(s.objects(), result["run_id"])["report.json"])
    dev = next(a for a in report["accounts"] if a["account_id"] == org.id("dev"))
    assert dev["scan_status"] == "not-scanned"
    assert any(f"{org.id('dev')}/assume-role" in g for g in result["coverage_gaps"])
    [msg] = s.messages()
    assert f"{org.id('dev')}/assume-role: denied" in msg["Message"]


def test_org_settings_are_checked():
    from dormant.automation.config import ConfigError, Settings

    base = {"REPORT_BUCKET": "b", "ORG": "true"}
    s = Settings.from_env(
        {
            **base,
            "ORG_ACCOUNTS": "111111111111, 222222222222",
            "ORG_OUS": "ou-ab12-cdef3456,Root/Prod",
            "ORG_ACCOUNT_CONCURRENCY": "4",
        }
    )
    assert s.org_accounts == ("111111111111", "222222222222")
    assert s.org_ous == ("ou-ab12-cdef3456", "Root/Prod")
    assert s.org_role_name == "OrganizationAccountAccessRole"
    for env, message in [
        ({"ORG_ACCOUNTS": "1234"}, "ORG_ACCOUNTS: expected comma-separated 12-digit"),
        ({"ORG_EXCLUDE_ACCOUNTS": "abc"}, "ORG_EXCLUDE_ACCOUNTS: expected"),
        ({"ORG_ROLE_NAME": "no spaces"}, "ORG_ROLE_NAME: expected an IAM role name"),
        ({"ORG_ACCOUNT_CONCURRENCY": "0"}, "ORG_ACCOUNT_CONCURRENCY: expected 1 to 64"),
        ({"ORG_EXTERNAL_ID": "x"}, "ORG_EXTERNAL_ID: expected 2 to 1224"),
    ]:
        with pytest.raises(ConfigError, match=message):
            Settings.from_env({**base, **env})


def test_auto_deactivation_is_refused_with_org(emulator, now, monkeypatch):
    from dormant.errors import InputError

    s, _ = org_setup(emulator, now, monkeypatch)
    with pytest.raises(InputError, match="AUTO_DEACTIVATE_KEYS with ORG=true"):
        s.run(now, AUTO_DEACTIVATE_KEYS="true")


# --------------------------------------------------------------------------- fan-out


def _step(handler, event: dict, s, now: dt.datetime, **env: str) -> dict:
    stream = io.StringIO()
    out = handler(event, Context(), clock=lambda: now, env={**s.env, **env}, stream=stream)
    json.dumps(out)  # what Step Functions passes on is JSON
    return out


def test_the_fan_out_steps_give_the_same_findings_as_one_run(emulator, now, monkeypatch):
    s, org = org_setup(emulator, now, monkeypatch)
    everyone = sorted([DEFAULT_ACCOUNT, *org.accounts.values()])
    single = s.run(now)
    single_report = json.loads(run_files(s.objects(), single["run_id"])["report.json"])
    s.messages()

    # Step 1: the list, where the Distributed Map reads it (an array of items).
    started = "2026-12-01T06:00:00.123Z"
    listed = _step(org_list_handler, {"execution": "exec-1234abcd", "started_at": started}, s, now)
    run = listed["run"]
    assert listed["bucket"] == BUCKET and listed["accounts"] == 4
    assert run["caller_account"] == DEFAULT_ACCOUNT
    assert run["run_prefix"] == f"dormant/2026/12/01/{run['run_id']}/"
    assert run["run_id"].startswith("20261201T060000Z-exec1234")
    assert listed["members_key"] == run["run_prefix"] + "members.json"
    items = json.loads(s.objects()[listed["members_key"]])
    assert [i["account_id"] for i in items] == everyone
    assert {i["account_id"]: i["ou_path"] for i in items}[org.id("prod")] == "Root/Prod"
    assert listed["notes"]

    # Step 2: one invocation per item, as the Map's ItemSelector builds it.
    outs = [_step(org_account_handler, {"member": i, "run": run}, s, now) for i in items]
    assert [o["account_id"] for o in outs] == everyone
    assert {o["status"] for o in outs} == {"complete"}
    assert all(s.objects()[o["key"]] for o in outs)

    # Step 3: the Map's output rides along in the state; the report is the one run's.
    state = {**listed, "map": {"MapRunArn": "arn:aws:states:us-east-1:123:mapRun:x/accounts:1"}}
    result = _step(org_report_handler, state, s, now + dt.timedelta(minutes=5))
    assert result["status"] == "ok" and result["run_id"] == run["run_id"]
    assert result["report"]["prefix"] == run["run_prefix"]
    assert result["org"]["mode"] == "fan-out" and result["org"]["scanned"] == everyone
    report = json.loads(run_files(s.objects(), run["run_id"])["report.json"])
    assert _found(report) == _found(single_report)
    assert finding_ids(json.dumps(report).encode()) == finding_ids(
        json.dumps(single_report).encode()
    )
    # Same findings as the previous run: nothing new, nothing to tell.
    assert result["counts"]["new"] == 0 and s.messages() == []


def test_a_fan_out_account_that_saved_nothing_is_named(emulator, now, monkeypatch):
    s, org = org_setup(emulator, now, monkeypatch)
    listed = _step(org_list_handler, {}, s, now)
    items = json.loads(s.objects()[listed["members_key"]])
    for item in items:
        if item["account_id"] != org.id("dev"):  # dev's invocation failed every retry
            _step(org_account_handler, {"member": item, "run": listed["run"]}, s, now)
    state = {
        **listed,
        "map_error": {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "1 failed"},
    }
    result = _step(org_report_handler, state, s, now)
    assert result["status"] == "partial"
    assert result["org"]["not_scanned"] == [org.id("dev")]
    assert "States.ExceedToleratedFailureThreshold" in result["partial_reason"]
    [msg] = s.messages()
    assert msg["Subject"].startswith("[PARTIAL]")
    assert f"{org.id('dev')} (dev)" in msg["Message"]


def test_a_fan_out_account_cut_short_by_its_budget_saves_nothing_and_fails(
    emulator, now, monkeypatch
):
    # Saved, a half-read account would be judged as an incomplete one and the run would look
    # whole; failing, the Map retries it, and the report step names it not scanned.
    s, org = org_setup(emulator, now, monkeypatch)
    listed = _step(org_list_handler, {}, s, now)
    items = json.loads(s.objects()[listed["members_key"]])
    (dev,) = [i for i in items if i["account_id"] == org.id("dev")]
    faults.set_latency(0.2, org.id("dev"))

    class ShortOfTime(Context):
        def get_remaining_time_in_millis(self) -> int:
            return 1_000  # under the reserve: the watchdog stops the scan at once

    with pytest.raises(Exception, match="before its scan finished; nothing saved"):
        org_account_handler(
            {"member": dev, "run": listed["run"]},
            ShortOfTime(),
            clock=lambda: now,
            env=s.env,
            stream=io.StringIO(),
        )
    assert not [k for k in s.objects() if f"/accounts/{org.id('dev')}" in k]
    faults.reset()
    for item in items:
        if item["account_id"] != org.id("dev"):
            _step(org_account_handler, {"member": item, "run": listed["run"]}, s, now)
    result = _step(org_report_handler, listed, s, now)
    assert result["partial"] is True and result["org"]["not_scanned"] == [org.id("dev")]


def test_fan_out_steps_refuse_what_is_not_the_state_machine_s(emulator, now, monkeypatch):
    from dormant.automation.config import ConfigError
    from dormant.automation.orgscan import OrgRunError

    s, _ = org_setup(emulator, now, monkeypatch)
    with pytest.raises(OrgRunError, match="expected the 'run' block"):
        _step(org_account_handler, {"member": {"account_id": "111111111111"}}, s, now)
    run = {
        "run_id": "x",
        "run_prefix": "elsewhere/",
        "started_at": "2026-12-01T00:00:00Z",
        "caller_account": DEFAULT_ACCOUNT,
    }
    with pytest.raises(OrgRunError, match="run_prefix: not under"):
        _step(org_account_handler, {"member": {"account_id": "111111111111"}, "run": run}, s, now)
    with pytest.raises(OrgRunError, match="12-digit account_id"):
        _step(org_account_handler, {"member": {"account_id": "x"}, "run": run}, s, now)
    with pytest.raises(ConfigError, match="need ORG=true"):
        _step(org_list_handler, {}, s, now, ORG="false")


def test_a_single_account_setup_is_unchanged(emulator, now, monkeypatch):
    """Without ORG the result has no org block and nothing is written for an org scan."""
    s = setup(emulator, now, monkeypatch, account())
    result = s.run(now)
    assert "org" not in result
    assert not any("accounts/" in k or k.endswith("org-scan.json") for k in s.objects())


def _org_policy() -> dict[str, Any]:
    """The function's organization policy (FunctionOrgPolicy), as IAM holds it."""
    from lambda_support import _resolve, load_template

    doc = load_template()["Resources"]["FunctionOrgPolicy"]["Properties"]["PolicyDocument"]
    return _resolve(doc, {"AWS::Partition": "aws", "OrgRoleName": ROLE}, {})


@pytest.mark.parametrize("drop", [(), ("AssumeMemberReadOnlyRole",)])
def test_the_template_role_and_the_member_role_are_enough(emulator, now, monkeypatch, drop):
    """Under enforcement, as a principal holding exactly the template's policies (the org one
    included) scanning members whose role holds exactly the read-only policy: every account is
    read in full. Without the AssumeRole statement, no member is reached."""
    from lambda_support import create_function_user, role_policies

    s, org = org_setup(emulator, now, monkeypatch)
    policies = role_policies(topic_arn=s.topic_arn, policy_s3_uri="", security_hub=False)
    policies["DormantOrgScan"] = _org_policy()
    creds = create_function_user(emulator, policies, drop)
    for k, v in creds.items():
        monkeypatch.setenv(k, v)
    emulator.set_auth(0)
    try:
        result = s.run(now)
    finally:
        emulator.set_auth(None)
    members = sorted(org.accounts.values())
    if not drop:
        assert result["status"] == "ok", result["coverage_gaps"]
        assert result["coverage_gaps"] == []
        assert result["org"]["unreachable"] == [] and result["org"]["incomplete"] == []
    else:
        assert result["org"]["unreachable"] == members
        assert all(
            any(g.startswith(f"{a}/assume-role: denied") for g in result["coverage_gaps"])
            for a in members
        )


def test_a_damaged_saved_account_is_scanned_again(emulator, now, monkeypatch):
    """An unfinished scan whose saved account does not verify: read back is refused, the
    account is scanned again, and the log says why."""
    s, org = org_setup(emulator, now, monkeypatch)
    everyone = sorted([DEFAULT_ACCOUNT, *org.accounts.values()])
    earlier = "dormant/2026/01/01/20260101T060000Z-earlier0/"
    progress = {
        "format": "dormant-org-scan",
        "version": 1,
        "started_at": (now - dt.timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
        "complete": False,
        "runs": [{"run_id": "20260101T060000Z-earlier0", "prefix": earlier}],
    }
    s3 = emulator.client("s3")
    s3.put_object(Bucket=BUCKET, Key="dormant/org-scan.json", Body=json.dumps(progress).encode())
    s3.put_object(Bucket=BUCKET, Key=f"{earlier}accounts/{everyone[0]}.zip", Body=b"PK-damaged")
    result = s.run(now)
    assert result["status"] == "ok"
    assert result["org"]["resumed_from"] == ["20260101T060000Z-earlier0"]
    assert result["org"]["read_back"] == [] and result["org"]["scanned"] == everyone
    [warning] = [ln for ln in s.logs[-1] if ln["event"] == "org.saved_account_unreadable"]
    assert f"{everyone[0]}.zip" in warning["message"] and "scanning it again" in warning["message"]


def test_an_unreadable_progress_file_starts_a_new_scan_and_says_so(emulator, now, monkeypatch):
    s, _ = org_setup(emulator, now, monkeypatch)
    emulator.client("s3").put_object(Bucket=BUCKET, Key="dormant/org-scan.json", Body=b"{oops")
    result = s.run(now)
    assert result["status"] == "ok" and result["org"]["resumed_from"] == []
    [msg] = s.messages()
    assert "Problems in this run:" in msg["Message"]
    assert "org-scan.json: unreadable" in msg["Message"]
    progress = json.loads(s.objects()["dormant/org-scan.json"])
    assert progress["complete"] is True
