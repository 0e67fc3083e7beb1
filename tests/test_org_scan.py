"""The organization scan end to end, against the emulated AWS over HTTP: every account of the
organization in one snapshot and one report, a failure in one account recorded in its coverage
while every other account completes, narrowing, and resume after an interruption."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from org_support import (
    MEMBERS,
    findings_by_account,
    labels_of,
    seed_org,
    troubles,
)
from test_json_contract import validate
from test_scan_scenario import run_cli

from dormant import snapshot as snapshot_mod
from dormant.checkpoint import Checkpoint
from dormant.cli import exit_code_for, parse_fail_on
from dormant.demo import faults, server
from dormant.demo.server import DEFAULT_ACCOUNT
from dormant.errors import DormantError
from dormant.judge import judge
from dormant.org import ACCOUNTS_TASK, OrgScanInterrupted, OrgSettings, list_member_accounts
from dormant.pipeline import collect_org_snapshot
from dormant.policy import load_policy
from dormant.sources.aws import build_session


def _base(emulator):
    return build_session(
        region="us-east-1", endpoint_url=emulator.endpoint_url, credentials=server.FAKE_CREDENTIALS
    )


def test_org_scan_completes_around_failing_accounts(emulator, now, tmp_path: Path):
    org = seed_org(emulator, now)
    troubles(org)
    out, snap = tmp_path / "report.json", tmp_path / "snap"
    proc = run_cli(
        "scan",
        "--org",
        "--format",
        "json",
        "--output",
        str(out),
        "--snapshot",
        str(snap),
        endpoint=emulator.endpoint_url,
    )
    doc = json.loads(out.read_text())
    validate(doc)
    with pytest.raises(jsonschema.ValidationError):
        validate({**doc, "accounts": [{**doc["accounts"][0], "scan_status": "half-done"}]})
    legacy, sandbox, analytics = org.id("legacy"), org.id("sandbox"), org.id("analytics")

    # Every account of the organization is in the report, with its name and OU path.
    accounts = {a["account_id"]: a for a in doc["accounts"]}
    assert set(accounts) == {DEFAULT_ACCOUNT, *org.accounts.values()}
    for name, ou in MEMBERS.items():
        assert accounts[org.id(name)]["account_name"] == name
        assert accounts[org.id(name)]["ou_path"] == f"Root/{ou}"
    assert accounts[DEFAULT_ACCOUNT]["ou_path"] == "Root"
    # Members are read through their role; the management account with the caller's own
    # credentials (no AssumeRole).
    for name in ("payments", "analytics", "sandbox"):
        assert accounts[org.id(name)]["scanner_arn"] == (
            f"arn:aws:sts::{org.id(name)}:assumed-role/OrganizationAccountAccessRole/dormant"
        )
    assert "assumed-role" not in accounts[DEFAULT_ACCOUNT]["scanner_arn"]
    assert accounts[legacy]["scanner_arn"] is None
    assert {a: x["scan_status"] for a, x in accounts.items()} == {
        DEFAULT_ACCOUNT: "complete",
        org.id("payments"): "complete",
        analytics: "complete",
        sandbox: "incomplete",
        legacy: "not-scanned",
    }

    # The coverage names exactly the two gaps: the role that could not be assumed, and the one
    # denied API. The throttled account was retried to completion.
    gaps = {
        (c["account_id"], c["source"]): (
            c["status"],
            [(e["operation"], e["code"]) for e in c["errors"]],
        )
        for c in doc["coverage"]
        if c["status"] not in ("read", "skipped")
    }
    assert gaps == {
        (legacy, "assume-role"): ("denied", [("AssumeRole", "AccessDenied")]),
        (sandbox, "users"): ("denied", [("ListUsers", "AccessDenied")]),
    }
    assert [c["source"] for c in doc["coverage"] if c["account_id"] == legacy] == ["assume-role"]
    assert sum(n for (_, kind), n in faults.faults(analytics).items() if kind == "throttled") > 0
    assert doc["summary"]["accounts_not_scanned"] == [legacy]
    assert accounts[legacy]["scan_gaps"][0].startswith("assume-role denied: AssumeRole")
    assert accounts[sandbox]["scan_gaps"] == [accounts[sandbox]["scan_gaps"][0]] and accounts[
        sandbox
    ]["scan_gaps"][0].startswith("users denied: ListUsers AccessDenied")

    # The healthy accounts' findings are exactly their labels; nothing is judged in the account
    # that could not be scanned.
    found = findings_by_account(doc)
    for account in (DEFAULT_ACCOUNT, org.id("payments"), analytics):
        assert found.get(account, []) == labels_of(org, account), account
    assert legacy not in found
    assert any("was not scanned" in w and legacy in w for w in doc["warnings"])
    assert any("accounts listed with organizations:ListAccounts" in w for w in doc["warnings"])

    # The exit code and stderr say which accounts were not fully scanned.
    assert proc.returncode == 1
    assert f"account {legacy} (legacy) not scanned: assume-role denied" in proc.stderr
    assert f"account {sandbox} (sandbox) incomplete: users denied: ListUsers" in proc.stderr
    for healthy in (DEFAULT_ACCOUNT, org.id("payments"), analytics):
        assert f"account {healthy}" not in proc.stderr
    assert "5 account(s): 3 complete, 1 incomplete, 1 not scanned" in proc.stderr
    assert not Path(f"{snap}.checkpoint").exists()  # removed once the snapshot is written

    # `dormant analyze` of the bundle reproduces the report byte for byte, with no AWS.
    again = run_cli("analyze", str(snap), "--format", "json", endpoint="http://127.0.0.1:9")
    assert again.stdout == out.read_text()
    assert again.returncode == 1

    # --fail-on: every gate but 'none' fails on the account that could not be scanned...
    report = judge(snapshot_mod.read(snap), load_policy(None), now)
    for gate, code in (("none", 0), ("not-scanned", 1), ("RootRecentlyUsed", 1), ("any", 1)):
        assert exit_code_for(report, parse_fail_on(gate)) == code, gate
    # ... and without that account, the incomplete one fails only the 'incomplete' gate.
    bundle = snapshot_mod.read(snap)
    bundle.accounts = [a for a in bundle.accounts if a.account_id != legacy]
    report = judge(bundle, load_policy(None), now)
    for gate, code in (("not-scanned", 0), ("incomplete", 1), ("RootRecentlyUsed", 0)):
        assert exit_code_for(report, parse_fail_on(gate)) == code, gate
    assert exit_code_for(report, parse_fail_on("RootRecentlyUsed,incomplete")) == 1


def test_an_account_whose_users_and_roles_cannot_be_listed_fails_the_gate(
    emulator, now, tmp_path: Path
):
    # The member role exists but may read nothing (deployed without the read-only policy, or
    # an SCP): its findings could only be insufficient-evidence, which the default gate lets
    # pass. The account counts as not scanned, so the gate fails and names it.
    org = seed_org(emulator, now, members={"payments": "Prod", "blind": "Dev"})
    faults.deny(org.id("blind"), "iam:*", "access-analyzer:*")
    out = tmp_path / "report.json"
    proc = run_cli(
        "scan",
        "--org",
        "--accounts",
        org.id("blind"),
        "--format",
        "json",
        "--output",
        str(out),
        endpoint=emulator.endpoint_url,
        check_codes=(1,),
    )
    doc = json.loads(out.read_text())
    (account,) = doc["accounts"]
    assert account["scan_status"] == "not-scanned"
    assert any("no list of the account's users and roles" in g for g in account["scan_gaps"])
    assert not [f for f in doc["findings"] if f["account_id"] == org.id("blind")]
    assert f"account {org.id('blind')} (blind) not scanned" in proc.stderr


def test_an_account_failing_while_the_scan_stops_is_cut_short_not_unreachable(
    emulator, now, monkeypatch
):
    # A failure while a cancel is under way (Ctrl-C, a Lambda budget) says nothing about the
    # account: it must be scanned again on resume, not kept as unreachable.
    import threading

    from dormant import org as org_mod

    seed_org(emulator, now, members={"payments": "Prod"})
    members = list_member_accounts(_base(emulator))
    member = next(m for m in members if m.account_id != DEFAULT_ACCOUNT)

    def broken(*args, **kwargs):
        raise DormantError("cannot identify the account (sts:GetCallerIdentity): connection reset")

    monkeypatch.setattr("dormant.collect.collect_account", broken)
    settings = OrgSettings()
    calm = org_mod.collect_member(
        _base(emulator),
        member,
        clock=lambda: now,
        settings=settings,
        caller_account=DEFAULT_ACCOUNT,
    )
    assert not org_mod._cut_short(calm)  # a real failure: the account is named unreachable
    stopping = threading.Event()
    stopping.set()
    cut = org_mod.collect_member(
        _base(emulator),
        member,
        clock=lambda: now,
        settings=settings,
        caller_account=DEFAULT_ACCOUNT,
        cancel=stopping,
    )
    assert org_mod._cut_short(cut)


def test_narrowing_by_accounts_exclusions_and_ous(emulator, now, tmp_path: Path):
    org = seed_org(emulator, now)
    base = _base(emulator)
    everyone = sorted([DEFAULT_ACCOUNT, *org.accounts.values()])

    def ids(**kw) -> list[str]:
        return [m.account_id for m in list_member_accounts(base, **kw)]

    assert ids() == everyone
    assert ids(ous=["Root/Prod"]) == sorted([org.id("payments"), org.id("analytics")])
    assert ids(ous=[org.ous["Root/Dev"]]) == sorted([org.id("sandbox"), org.id("legacy")])
    assert ids(ous=[org.root_id], exclude=[DEFAULT_ACCOUNT]) == sorted(org.accounts.values())
    assert ids(accounts=[org.id("payments"), DEFAULT_ACCOUNT]) == sorted(
        [org.id("payments"), DEFAULT_ACCOUNT]
    )
    members = list_member_accounts(base, ous=["Root/Prod"], exclude=[org.id("analytics")])
    assert [(m.account_id, m.name, m.ou_path, m.status) for m in members] == [
        (org.id("payments"), "payments", "Root/Prod/Payments", "ACTIVE")
    ]
    assert any("listed under Root/Prod" in n for n in members.notes)
    assert any(f"--exclude-accounts {org.id('analytics')}" in n for n in members.notes)
    with pytest.raises(DormantError, match="not in organization"):
        list_member_accounts(base, accounts=["999999999999"])
    with pytest.raises(DormantError, match="no such OU"):
        list_member_accounts(base, ous=["Root/Nowhere"])

    # A closed account is listed by Organizations but not scanned.
    emulator.client("organizations").close_account(AccountId=org.id("sandbox"))
    closed = list_member_accounts(base)
    assert org.id("sandbox") not in [m.account_id for m in closed]
    assert any(f"not ACTIVE: {org.id('sandbox')} (SUSPENDED)" in n for n in closed.notes)

    # Through the CLI: only the accounts asked for are in the snapshot.
    out = tmp_path / "snap.zip"
    proc = run_cli(
        "collect",
        "--org",
        "--ou",
        "Root/Prod,Root/Dev",
        "--exclude-accounts",
        org.id("legacy"),
        "--no-access-advisor",
        "--out",
        str(out),
        endpoint=emulator.endpoint_url,
        check_codes=(0,),
    )
    bundle = snapshot_mod.read(out)
    assert [a.account_id for a in bundle.accounts] == sorted(
        [org.id("payments"), org.id("analytics")]
    )
    assert "2 account(s): 2 complete" in proc.stderr
    assert not out.with_suffix(".checkpoint").exists()


def test_bad_narrowing_is_a_clear_error(emulator, now, tmp_path):
    seed_org(emulator, now, members={"payments": "Prod"})
    for args, message in (
        (["--accounts", "12345"], "'12345' is not a 12-digit account id"),
        (["--accounts", "999999999999"], "999999999999: not in organization"),
        (["--ou", "ou-none-00000000"], "--ou ou-none-00000000: no such OU or root"),
    ):
        proc = run_cli(
            "collect",
            "--org",
            *args,
            "--out",
            str(tmp_path / "s"),
            endpoint=emulator.endpoint_url,
            check_codes=(2,),
        )
        assert message in proc.stderr
        assert not (tmp_path / "s").exists() and not (tmp_path / "s.checkpoint").exists()


def test_org_options_need_org(tmp_path):
    proc = run_cli(
        "collect", "--role-name", "Scanner", "--out", str(tmp_path / "s"), check_codes=(2,)
    )
    assert "--role-name only apply with --org" in proc.stderr


def test_org_needs_an_organization(emulator, now, tmp_path):
    # Not in an organization at all.
    proc = run_cli("scan", "--org", endpoint=emulator.endpoint_url, check_codes=(2,))
    assert "not in an AWS Organization" in proc.stderr
    # A member account that is not a delegated administrator may not list the organization.
    org = seed_org(emulator, now, members={"payments": "Prod"})
    creds = emulator.client("sts").assume_role(
        RoleArn=org.role_arn("payments"), RoleSessionName="dormant"
    )["Credentials"]
    env = {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        proc = run_cli("scan", "--org", endpoint=emulator.endpoint_url, check_codes=(2,))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert "cannot read the organization (organizations:" in proc.stderr
    assert "AccessDeniedException" in proc.stderr


# ------------------------------------------------------------------------------- resume


@pytest.fixture
def frozen_emulator(monkeypatch, now):
    """The emulator's own clock fixed at ``now``: AWS stamps the scanning role's RoleLastUsed
    with the time of each call, which would make two scans differ by that alone."""
    import moto.iam.models

    from dormant.demo import moto_ext

    naive = now.replace(tzinfo=None)
    monkeypatch.setattr(moto.iam.models, "utcnow", lambda: naive)
    monkeypatch.setattr(moto_ext, "_now", lambda: now)


# Access Advisor's JobIds are random (in AWS as in the emulator): the byte-for-byte comparison
# leaves that source out; test_resume_through_the_cli keeps it.
NO_ADVISOR = {"access_advisor": False}


def test_resume_gives_the_same_snapshot_as_an_uninterrupted_run(
    emulator, frozen_emulator, now, tmp_path: Path, monkeypatch
):
    org = seed_org(emulator, now, members={**MEMBERS, "extra": "Prod"})
    faults.deny_assume_role(org.role_arn("legacy"))
    base = _base(emulator)
    settings = OrgSettings(account_concurrency=1, concurrency=4)

    def clock():
        return now

    whole = collect_org_snapshot(
        base, clock=clock, settings=OrgSettings(account_concurrency=3), options=NO_ADVISOR
    )
    assert len(whole.accounts) == 6

    # Interrupted once four accounts are done, one at a time.
    cancel = __import__("threading").Event()
    finished = []

    def progress(task, advance, total):
        if task == ACCOUNTS_TASK and advance:
            finished.append(advance)
            if len(finished) == 4:
                cancel.set()

    ckpt = tmp_path / "snap.checkpoint"
    with pytest.raises(OrgScanInterrupted) as stop:
        collect_org_snapshot(
            base,
            clock=clock,
            settings=settings,
            options=NO_ADVISOR,
            progress=progress,
            cancel=cancel,
            checkpoint=ckpt,
        )
    saved = Checkpoint.open(ckpt).saved_ids()
    assert len(saved) == stop.value.saved == 4
    assert stop.value.pending and set(stop.value.pending).isdisjoint(saved)
    assert stop.value.checkpoint == ckpt

    # A crash while saving the next account: an exception after its first file is written.
    from dormant import checkpoint as checkpoint_mod

    real_write = checkpoint_mod._write_file
    writes = []

    def crash(path, data):
        writes.append(path)
        if len(writes) == 2:
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(checkpoint_mod, "_write_file", crash)
    with pytest.raises(DormantError, match="No space left on device.*--resume"):
        collect_org_snapshot(base, clock=clock, settings=settings, options=NO_ADVISOR, resume=ckpt)
    monkeypatch.setattr(checkpoint_mod, "_write_file", real_write)
    # What a crash mid-write leaves must not count as done: a half-written account directory
    # (as a crash between its files leaves it) and one whose file no longer matches its hash.
    pending = sorted(set(stop.value.pending) - set(Checkpoint.open(ckpt).saved_ids()))
    half = ckpt / "accounts" / f".{pending[0]}.x.partial"
    half.mkdir()
    (half / "users.json").write_text("{")
    tampered = next(
        a
        for a in Checkpoint.open(ckpt).saved_ids()
        if a != DEFAULT_ACCOUNT and (ckpt / "accounts" / a / "users.json").exists()
    )
    reused = [
        a
        for a in Checkpoint.open(ckpt).saved_ids()
        if a not in (tampered, DEFAULT_ACCOUNT, org.id("legacy"))
    ]
    calls_before = {a: faults.calls(a) for a in reused}
    victim = ckpt / "accounts" / tampered / "users.json"
    changed = victim.read_bytes().replace(b'"status": "read"', b'"status": "failed"', 1)
    assert changed != victim.read_bytes()
    victim.write_bytes(changed)  # still valid JSON: only its hash tells
    assert Checkpoint.open(ckpt).load(tampered) is None
    assert not half.exists()  # opening the checkpoint cleared it

    resumed = collect_org_snapshot(
        base, clock=clock, settings=settings, options=NO_ADVISOR, resume=ckpt
    )
    assert resumed.files() == whole.files()
    assert resumed.digest == whole.digest
    # The accounts saved entirely were not read again; the tampered one was.
    assert reused and {a: faults.calls(a) for a in reused} == calls_before

    # Resuming with other settings would mix evidence: refused.
    with pytest.raises(DormantError, match="other settings"):
        collect_org_snapshot(
            base, clock=clock, settings=OrgSettings(role_name="Other"), resume=ckpt
        )


def test_resume_reads_again_an_account_saved_too_long_ago(emulator, now, tmp_path: Path):
    # Every account is judged as of the end of the scan: evidence saved a day earlier would
    # count a day nobody looked at, so a resume reads such an account again.
    import datetime as dt

    org = seed_org(emulator, now, members={"payments": "Prod", "data": "Prod"})
    base = _base(emulator)
    ckpt = tmp_path / "snap.checkpoint"
    first = collect_org_snapshot(base, clock=lambda: now, options=NO_ADVISOR, checkpoint=ckpt)
    ids = sorted(a.account_id for a in first.accounts)
    assert ids == sorted([DEFAULT_ACCOUNT, org.id("payments"), org.id("data")])

    def iam_calls(account_id: str) -> int:  # reading an account; listing the org is not
        return sum(n for op, n in faults.calls(account_id).items() if op.startswith("iam:"))

    calls = {a: iam_calls(a) for a in ids}
    assert all(calls.values())

    hour_later = collect_org_snapshot(
        base, clock=lambda: now + dt.timedelta(hours=1), options=NO_ADVISOR, resume=ckpt
    )
    assert {a: iam_calls(a) for a in ids} == calls  # all reused
    assert not any("scanned again" in n for n in hour_later.notes)

    later = now + dt.timedelta(hours=25)
    again = collect_org_snapshot(base, clock=lambda: later, options=NO_ADVISOR, resume=ckpt)
    for a in ids:
        assert iam_calls(a) > calls[a], a  # read again
    (note,) = [n for n in again.notes if "scanned again" in n]
    assert "3 saved account(s)" in note and org.id("payments") in note
    assert {a.collected_at for a in again.accounts} == {later.isoformat().replace("+00:00", "Z")}


def _wait_for_account(checkpoint: Path, proc: subprocess.Popen) -> None:
    """Until the scan has saved an account (or has ended)."""
    deadline = time.monotonic() + 300  # a safety net for a hung scan, not a speed limit
    accounts = checkpoint / "accounts"
    while time.monotonic() < deadline and proc.poll() is None:
        if accounts.is_dir() and any(not p.name.startswith(".") for p in accounts.iterdir()):
            return
        time.sleep(0.05)
    raise AssertionError(f"no account saved in {checkpoint}: {proc.poll()}")


def test_resume_through_the_cli_after_ctrl_c(emulator, now, tmp_path: Path):
    org = seed_org(emulator, now)
    faults.set_latency(0.05)  # slow enough to interrupt between accounts
    out = tmp_path / "org-snap"
    ckpt = tmp_path / "org-snap.checkpoint"
    env = dict(os.environ, AWS_ENDPOINT_URL=emulator.endpoint_url)
    # (Access Advisor off: its job polling only makes this test slower.)
    args = ["collect", "--org", "--account-concurrency", "1", "--no-access-advisor"]
    args += ["--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "dormant.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_account(ckpt, proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 2, stderr
    assert "organization scan interrupted" in stderr
    line = next(x for x in stderr.splitlines() if "to continue, run:" in x)
    command = shlex.split(line.split("to continue, run:", 1)[1])
    assert command[0] == "dormant" and command[-2:] == ["--resume", str(ckpt)]
    assert not out.exists()
    looked = run_cli("analyze", str(ckpt), check_codes=(2,))
    assert "the checkpoint of an interrupted organization scan" in looked.stderr
    saved = {
        p.relative_to(ckpt).as_posix(): p.read_bytes()
        for p in (ckpt / "accounts").rglob("*.json")
        if p.name != "_meta.json"
    }
    assert saved and len({k.split("/")[1] for k in saved}) < len(org.accounts) + 1

    faults.set_latency(0)
    resumed = run_cli(*command[1:], endpoint=emulator.endpoint_url, check_codes=(0,))
    assert "5 account(s): 5 complete" in resumed.stderr
    bundle = snapshot_mod.read(out)
    assert [a.account_id for a in bundle.accounts] == sorted(
        [DEFAULT_ACCOUNT, *org.accounts.values()]
    )
    # The accounts saved before the interruption were not read again: their files are the
    # ones saved then, byte for byte.
    files = bundle.files()
    for rel, data in saved.items():
        assert files[rel] == data, rel
    assert not ckpt.exists()
    # Resuming a finished scan: nothing to resume.
    again = run_cli(*command[1:], endpoint=emulator.endpoint_url, check_codes=(2,))
    assert "no such directory" in again.stderr


def test_a_new_scan_refuses_to_overwrite_an_interrupted_one(emulator, now, tmp_path: Path):
    from dormant.cli import collect_settings
    from dormant.org import settings_fingerprint

    seed_org(emulator, now, members={})
    options = collect_settings(False, 300, False, True)
    out = tmp_path / "s.zip"
    Checkpoint.create(
        tmp_path / "s.checkpoint", settings_fingerprint(OrgSettings(), options), target=str(out)
    )
    proc = run_cli(
        "collect",
        "--org",
        "--no-access-advisor",
        "--out",
        str(out),
        endpoint=emulator.endpoint_url,
        check_codes=(2,),
    )
    assert "holds an interrupted organization scan; continue it with --resume" in proc.stderr
    # Resumed without --out, the snapshot goes where the interrupted scan was writing.
    run_cli(
        "collect",
        "--org",
        "--no-access-advisor",
        "--resume",
        str(tmp_path / "s.checkpoint"),
        endpoint=emulator.endpoint_url,
        check_codes=(0,),
    )
    assert [a.account_id for a in snapshot_mod.read(out).accounts] == [DEFAULT_ACCOUNT]
    assert not (tmp_path / "s.checkpoint").exists()


def test_progress_shows_one_line_per_account_in_flight():
    from dormant.cli import Progress

    with Progress(True) as progress:
        progress("  111122223333 payments", 1, 4)
        progress(ACCOUNTS_TASK, 0, 2)
        progress.finish("  111122223333 payments")
        assert list(progress._tasks) == [ACCOUNTS_TASK]
        assert [t.description for t in progress._progress.tasks] == [ACCOUNTS_TASK]


def test_external_id_is_sent_and_never_written(emulator, now, tmp_path, monkeypatch):
    from moto.sts.models import sts_backends

    from dormant.cli import resume_command
    from dormant.org import MemberAccount, collect_member

    org = seed_org(emulator, now, members={"payments": "Prod"})
    member = MemberAccount(org.id("payments"), "payments", "Root/Prod", "ACTIVE")
    evidence = collect_member(
        _base(emulator),
        member,
        clock=lambda: now,
        settings=OrgSettings(external_id="s3cr3t-ext-1d", session_name="audit"),
        caller_account=DEFAULT_ACCOUNT,
        options={"access_advisor": False, "access_analyzer": False},
    )
    assumed = sts_backends[org.id("payments")]["aws"].assumed_roles
    assert [(r.role_arn, r.external_id, r.session_name) for r in assumed] == [
        (org.role_arn("payments"), "s3cr3t-ext-1d", "audit")
    ]
    assert evidence.scanner_arn.endswith(":assumed-role/OrganizationAccountAccessRole/audit")
    assert evidence.ou_path == "Root/Prod"
    snap = snapshot_mod.Snapshot(created_at="2026-01-01T00:00:00Z", accounts=[evidence])
    assert all(b"s3cr3t-ext-1d" not in data for data in snap.files().values())
    # The resume command printed after an interruption masks it.
    monkeypatch.setattr(
        sys, "argv", ["dormant", "scan", "--org", "--external-id", "s3cr3t-ext-1d", "--resume", "x"]
    )
    line = resume_command(tmp_path / "c")
    assert "s3cr3t-ext-1d" not in line
    assert line.startswith("dormant scan --org --external-id EXTERNAL_ID --resume ")
