"""dormant remediate plan, offline: one step per finding by type, or the reason there is none;
the plan document against its schema; the checks a hand-edited plan must pass."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
from remediate_support import (
    collect_to,
    findings_json,
    run,
    seed_account,
    write_policy,
)

from dormant import snapshot as snapshot_mod
from dormant.errors import InputError
from dormant.judge import judge
from dormant.policy import load_policy, parse_policy
from dormant.sinks.formats import render
from dormant.sinks.remediate import plan as plan_mod
from dormant.sinks.remediate.commands import make_plan

SCHEMA = json.loads(
    (
        Path(__file__).resolve().parent.parent / "docs" / "schema" / "remediation-plan.v1.json"
    ).read_text()
)
CREATED = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def bundle(_emulator_server, tmp_path_factory):
    """One seeded account's evidence bundle, collected once for the module's offline tests."""
    emu = _emulator_server
    emu.reset()
    emu.set_auth(None)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    tmp = tmp_path_factory.mktemp("plan")
    try:
        seed_account(emu, now)
        snap = collect_to(emu, tmp / "snap")
    finally:
        emu.reset()
    return snap, write_policy(tmp), tmp


def _plan(bundle, policy_text: str | None = None, **kw) -> plan_mod.Plan:
    snap, policy_path, tmp = bundle
    if policy_text is not None:
        policy_path = tmp / "other-policy.toml"
        policy_path.write_text(policy_text)
    return make_plan(
        str(snap),
        snapshot_path=None,
        policy=load_policy(str(policy_path)),
        as_of=kw.get("as_of"),
        created_at=CREATED,
    )


def _by_kind(plan) -> dict[str, plan_mod.Step]:
    return {str(s.kind): s for s in plan.steps}


def test_plan_follows_its_schema_and_is_deterministic(bundle):
    plan = _plan(bundle)
    doc = plan.to_json()
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert _plan(bundle).dumps() == plan.dumps()
    # What the plan says survives a round trip through its file.
    again = plan_mod.from_json(json.loads(plan.dumps()), "plan.json")
    assert again.dumps() == plan.dumps()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate({**doc, "surprise": 1})


def test_one_step_per_finding_by_type_and_reasons_for_the_rest(bundle):
    plan = _plan(bundle)
    kinds = _by_kind(plan)
    assert kinds["deactivate-access-key"].principal_name == "stale"
    assert [c.operation for c in kinds["deactivate-access-key"].calls] == [
        "TagUser",
        "UpdateAccessKey",
    ]
    assert kinds["quarantine-role"].principal_name == "idle"
    assert kinds["delete-role"].principal_name == "quarantined"
    assert [c.operation for c in kinds["delete-role"].calls][-2:] == [
        "DeleteRolePolicy",
        "DeleteRole",
    ]
    assert kinds["delete-access-key"].irreversible and kinds["delete-login-profile"].irreversible
    assert not kinds["deactivate-access-key"].irreversible
    reasons = {(n.finding_type, n.principal_name): n.reason for n in plan.no_step}
    assert reasons[("InactiveIAMUser", "stale")].startswith("no automatic step")
    assert reasons[("UnrotatedIAMUserAccessKey", "stale")].startswith("no automatic step")
    assert reasons[("UnusedIAMRole", "vendor-bridge")].startswith("excluded: allow-list")
    # A role dormant quarantined that was used since is not deleted, and is pointed out.
    assert "no longer an unused role" in reasons[("UnusedIAMRole", "revived")]
    # Every finding of the judgement is accounted for: a step or a reason.
    snap = snapshot_mod.read(bundle[0])
    report = judge(
        snap,
        load_policy(str(bundle[1])),
        dt.datetime.fromisoformat(snap.created_at.replace("Z", "+00:00")),
    )
    covered = {i for s in plan.steps for i in s.finding_ids} | {n.finding_id for n in plan.no_step}
    assert {f.id for f in report.findings + report.excluded} <= covered


def test_waiting_periods_come_from_the_policy_file(bundle):
    plan = _plan(
        bundle, "[remediation]\ndelete_keys_after_days = 60\ndelete_roles_after_days = 60\n"
    )
    kinds = _by_kind(plan)
    assert "delete-role" not in kinds and "delete-access-key" not in kinds
    waiting = [n.reason for n in plan.no_step if "deleted by a plan made from" in n.reason]
    assert len(waiting) == 2, plan.no_step
    assert all("(60 days" in r for r in waiting)


def test_remediation_table_is_validated():
    with pytest.raises(
        InputError, match=r"remediation.delete_keys_after_days: .*greater than or equal to 1"
    ):
        parse_policy("[remediation]\ndelete_keys_after_days = 0\n", "p.toml")
    with pytest.raises(InputError, match=r"remediation.wait: unknown key"):
        parse_policy("[remediation]\nwait = 3\n", "p.toml")
    assert parse_policy("", "p.toml").remediation.delete_roles_after_days == 30


def test_a_report_plans_what_it_can_and_says_what_needs_the_bundle(bundle, tmp_path):
    snap_path, policy_path, _ = bundle
    snap = snapshot_mod.read(snap_path)
    policy = load_policy(str(policy_path))
    report = judge(snap, policy, dt.datetime.fromisoformat(snap.created_at.replace("Z", "+00:00")))
    findings = tmp_path / "findings.json"
    findings.write_text(render(report, "json"))
    plan = make_plan(
        str(findings), snapshot_path=None, policy=policy, as_of=None, created_at=CREATED
    )
    kinds = _by_kind(plan)
    assert set(kinds) == {"deactivate-access-key", "quarantine-role", "delete-login-profile"}
    assert any("needs the evidence bundle" in n.reason for n in plan.no_step)
    assert any("plan from a snapshot" in n for n in plan.notes)
    # With its bundle, the report plans as the bundle does.
    with_bundle = make_plan(
        str(findings), snapshot_path=str(snap_path), policy=policy, as_of=None, created_at=CREATED
    )
    assert [s.to_json() for s in with_bundle.steps] == [s.to_json() for s in _plan(bundle).steps]
    # A bundle the report was not judged from is refused.
    other = copy.deepcopy(json.loads(findings.read_text()))
    other["snapshot_digest"] = "0" * 64
    findings.write_text(json.dumps(other))
    with pytest.raises(InputError, match="the report was judged from 0000"):
        make_plan(
            str(findings),
            snapshot_path=str(snap_path),
            policy=policy,
            as_of=None,
            created_at=CREATED,
        )


def test_hand_edits_are_checked(bundle):
    doc = json.loads(_plan(bundle).dumps())
    step = next(s for s in doc["steps"] if s["kind"] == "deactivate-access-key")

    def problems(edit) -> str:
        edited = copy.deepcopy(doc)
        target = next(s for s in edited["steps"] if s["step"] == step["step"])
        edit(target)
        with pytest.raises(InputError) as info:
            plan_mod.from_json(edited, "plan.json")
        return str(info.value)

    assert "is not the step's principal 'stale'" in problems(
        lambda s: s["calls"][1]["params"].update(UserName="busy")
    )
    assert "does not make this call" in problems(
        lambda s: s["calls"].append({"service": "iam", "operation": "DeleteUser", "params": {}})
    )
    assert "a deactivate-access-key step does not make this call" in problems(
        lambda s: s["calls"].append(
            {"service": "iam", "operation": "DeleteLoginProfile", "params": {"UserName": "stale"}}
        )
    )
    assert "Missing required parameter" in problems(lambda s: s["calls"][1]["params"].pop("Status"))
    assert "RoleName does not belong in a user step" in problems(
        lambda s: s["calls"][1]["params"].update(RoleName="idle")
    )
    assert "TagUser may set only ['dormant:deactivated:" in problems(
        lambda s: s["calls"][0]["params"]["Tags"][0].update(Key="owner")
    )
    assert "UpdateAccessKey Status 'Active': expected 'Inactive'" in problems(
        lambda s: s["calls"][1]["params"].update(Status="Active")
    )
    with pytest.raises(InputError, match="schema version 2"):
        plan_mod.from_json({**doc, "schema_version": 2}, "plan.json")


def test_hand_edits_cannot_widen_access(bundle):
    snap, policy_path, tmp = bundle
    findings = findings_json(snap, policy_path, tmp / "findings.json")
    plan = make_plan(
        str(findings),
        snapshot_path=str(snap),
        policy=load_policy(str(policy_path)),
        as_of=None,
        created_at=CREATED,
    )
    doc = json.loads(plan.dumps())

    def problems(kind: str, edit) -> str:
        edited = copy.deepcopy(doc)
        edit(next(s for s in edited["steps"] if s["kind"] == kind))
        with pytest.raises(InputError) as info:
            plan_mod.from_json(edited, "plan.json")
        return str(info.value)

    allow_all = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )
    assert "must be dormant's deny-all document" in problems(
        "quarantine-role", lambda s: s["calls"][0]["params"].update(PolicyDocument=allow_all)
    )
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert f"AttachRolePolicy PolicyArn '{admin}'" in problems(
        "replace-aws-managed", lambda s: s["calls"][1]["params"].update(PolicyArn=admin)
    )
    assert "CreatePolicyVersion PolicyArn" in problems(
        "create-policy-version",
        lambda s: s["calls"][-1]["params"].update(
            PolicyArn="arn:aws:iam::123456789012:policy/boundary"
        ),
    )
    assert "PutRolePolicy PolicyName 'export'" in problems(
        "put-inline-policy", lambda s: s["calls"][0]["params"].update(PolicyName="export")
    )


def test_cli_plan_writes_the_file_and_prints_every_call(bundle, tmp_path):
    snap, policy, _ = bundle
    out = tmp_path / "plan.json"
    proc = run("remediate", "plan", str(snap), "--policy", str(policy), "-o", str(out))
    plan = json.loads(out.read_text())
    assert plan["summary"]["steps"] == 11
    assert set(plan["summary"]["by_kind"]) == {str(k) for k in plan_mod.Kind}
    for step in plan["steps"]:
        for call in step["calls"]:
            assert f"iam:{call['operation']}" in proc.stdout
    assert "Irreversible steps (apply needs --allow-irreversible" in proc.stdout
    shown = run("remediate", "show", str(out))
    assert shown.stdout == proc.stdout  # the same review text, documents in full
    bad = run("remediate", "plan", str(tmp_path), codes=(2,))
    assert "neither an evidence bundle nor a JSON report" in bad.stderr


def test_a_written_document_never_grants_more_than_the_old():
    from dormant.sinks.remediate.narrower import problems

    old = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:Get*", "sqs:SendMessage"],
                "Resource": "arn:aws:s3:::b/*",
            },
            {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
        ],
    }

    def with_statements(*statements):
        return {"Version": "2012-10-17", "Statement": list(statements)}

    narrowed = with_statements(
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"},
        old["Statement"][1],
    )
    assert problems(old, narrowed) == []
    assert problems(old, old) == []
    more = with_statements(
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "arn:aws:s3:::b/*",
        },
        old["Statement"][1],
    )
    assert any("s3:PutObject" in p for p in problems(old, more))
    wider = with_statements(
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}, old["Statement"][1]
    )
    assert any("beyond the original" in p for p in problems(old, wider))
    no_deny = with_statements(narrowed["Statement"][0])
    assert any("Deny statement" in p for p in problems(old, no_deny))
    not_action = with_statements(
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b/*"},
        old["Statement"][1],
    )
    assert any("NotAction" in p for p in problems(old, not_action))


def test_permission_steps_name_the_findings_they_remedy(bundle):
    snap, policy_path, tmp = bundle
    findings = findings_json(snap, policy_path, tmp / "findings.json")
    report = json.loads(findings.read_text())
    plan = make_plan(
        str(findings),
        snapshot_path=str(snap),
        policy=load_policy(str(policy_path)),
        as_of=None,
        created_at=CREATED,
    )
    by_id = {f["id"]: f for f in report["findings"] + report["excluded"]}
    covered = {i for s in plan.steps for i in s.finding_ids} | {n.finding_id for n in plan.no_step}
    assert set(by_id) <= covered, "every finding gets a step or a reason"
    for step in plan.steps:
        removed = {a.split(":")[0] for a in step.expect.get("removed_actions") or []}
        for fid in step.finding_ids:
            f = by_id[fid]
            if f["type"] == "UnusedPermission":
                assert f["service"] in removed, (step.summary, f["service"], removed)
    app = next(s for s in plan.steps if s.summary == "narrow inline policy app of role worker")
    assert {by_id[i]["service"] for i in app.finding_ids} == {"dynamodb"}
    # The plan removes only what findings call unused: without the DynamoDB finding of the
    # role, its inline policy keeps DynamoDB.
    trimmed = dict(report)
    trimmed["findings"] = [
        f
        for f in report["findings"]
        if not (f["principal_name"] == "worker" and f.get("service") == "dynamodb")
    ]
    (tmp / "trimmed.json").write_text(json.dumps(trimmed))
    plan = make_plan(
        str(tmp / "trimmed.json"),
        snapshot_path=str(snap),
        policy=load_policy(str(policy_path)),
        as_of=None,
        created_at=CREATED,
    )
    assert "narrow inline policy app of role worker" not in {s.summary for s in plan.steps}
