"""The tool's own permissions for remediation: deploy/readonly-policy.json plus
deploy/remediation-policy.json are enough to apply a plan of every step type and roll it back
under moto's IAM enforcement, and without any one action of the remediation policy something
fails.

moto evaluates only the actions of an IAM request: it asks about every one with the resource
``*``. So the enforcement runs use the policy with each Allow's ``Resource`` made ``*`` and the
Deny statements left out (a Deny on specific ARNs never matches ``*``); the ARNs of every call
made are then checked against the policy *as written* with dormant's own evaluator.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from remediate_support import collect_to, full_state, seed_account, write_policy

from dormant.iam.evaluate import decide
from dormant.sinks.remediate import commands
from dormant.sinks.remediate.apply import Options
from dormant.sinks.remediate.journal import APPLY, ROLLBACK, Journal
from dormant.sinks.remediate.rollback import RollbackOptions
from dormant.sources.aws import build_session

ROOT = Path(__file__).resolve().parent.parent
REMEDIATION = ROOT / "deploy" / "remediation-policy.json"
READONLY = ROOT / "deploy" / "readonly-policy.json"
ACCOUNT = "123456789012"

NOT_ENFORCED_BY_MOTO = {"iam:PassRole"}
"""AWS checks iam:PassRole on the role when AddRoleToInstanceProfile puts it back in its
instance profile (rollback of a role deletion); moto never asks."""


def _doc(path: Path) -> dict:
    return json.loads(path.read_text())


def _allowed_actions(doc: dict) -> list[str]:
    out = []
    for st in doc["Statement"]:
        if st["Effect"] == "Allow":
            actions = st["Action"]
            out += [actions] if isinstance(actions, str) else actions
    return out


def _moto_form(doc: dict, without: str | None = None) -> dict:
    statements = []
    for st in doc["Statement"]:
        if st["Effect"] != "Allow":
            continue
        actions = [st["Action"]] if isinstance(st["Action"], str) else list(st["Action"])
        actions = [a for a in actions if a != without]
        if actions:
            statements.append({**st, "Action": actions, "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


def _run(emulator, now, tmp_path: Path, without: str | None = None):
    ids = seed_account(emulator, now)
    snap = collect_to(emulator, tmp_path / "snap")
    plan = commands.make_plan(
        str(snap),
        snapshot_path=None,
        policy=commands.load_policy(str(write_policy(tmp_path))),
        as_of=None,
        created_at=now,
    )
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(plan.dumps())
    iam = emulator.client("iam")
    iam.create_user(UserName="dormant-remediator")
    for name, doc in (
        ("readonly", _doc(READONLY)),
        ("remediation", _moto_form(_doc(REMEDIATION), without)),
    ):
        iam.put_user_policy(
            UserName="dormant-remediator", PolicyName=name, PolicyDocument=json.dumps(doc)
        )
    key = iam.create_access_key(UserName="dormant-remediator")["AccessKey"]
    before = full_state(iam)
    emulator.set_auth(0)
    calls: list[str] = []
    session = build_session(
        endpoint_url=emulator.endpoint_url,
        credentials={
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        },
    )
    session.session.events.register(
        "before-call.iam", lambda model, **_: calls.append(f"iam:{model.name}")
    )
    lines: list[str] = []
    clock = lambda: dt.datetime.now(dt.UTC)  # noqa: E731
    try:
        applied, journal = commands.apply_plan(
            session,
            str(plan_path),
            journal_path=None,
            policy_path=None,
            options=Options(apply=True, allow_irreversible=True),
            clock=clock,
            echo=lines.append,
            warn=lines.append,
        )
        rolled = commands.rollback_journal(
            session,
            str(journal),
            options=RollbackOptions(apply=True),
            clock=clock,
            echo=lines.append,
        )
    finally:
        emulator.set_auth(None)
    text = "\n".join(lines)
    assert key["SecretAccessKey"] not in text + journal.read_bytes().decode("latin-1")
    return applied, rolled, set(calls), journal, before, ids, text


def _arn_of(operation: str, params: dict, arns: dict[str, str]) -> str:
    if operation in ("RemoveRoleFromInstanceProfile", "AddRoleToInstanceProfile"):
        return f"arn:aws:iam::{ACCOUNT}:instance-profile/{params['InstanceProfileName']}"
    if operation == "CreatePolicy":
        return f"arn:aws:iam::{ACCOUNT}:policy{params.get('Path', '/')}{params['PolicyName']}"
    if "PolicyArn" in params and operation in (
        "CreatePolicyVersion",
        "DeletePolicyVersion",
        "SetDefaultPolicyVersion",
        "DeletePolicy",
    ):
        return params["PolicyArn"]
    if "RoleName" in params:
        return arns.get(("role", params["RoleName"])) or (
            f"arn:aws:iam::{ACCOUNT}:role{params.get('Path', '/')}{params['RoleName']}"
        )
    return arns[("user", params["UserName"])]


def test_readonly_and_remediation_policies_are_enough(emulator, now, tmp_path):
    applied, rolled, calls, journal, before, ids, text = _run(emulator, now, tmp_path)
    assert applied.ok and rolled.ok, text
    assert applied.count("done") == 5, text
    assert {o.status for o in rolled.outcomes} == {"rolled-back", "irreversible"}, text

    # Nothing was called that the two policies do not allow, and every action of the
    # remediation policy was needed (PassRole aside: moto does not check it).
    allowed = set(_allowed_actions(_doc(READONLY))) | set(_allowed_actions(_doc(REMEDIATION)))
    assert calls - {"iam:GetCallerIdentity"} <= allowed, calls - allowed
    needed = set(_allowed_actions(_doc(REMEDIATION))) - NOT_ENFORCED_BY_MOTO
    assert needed - calls == EXERCISED_LATER, sorted(needed - calls)

    # Every change, as made, is allowed by the policy as written, on its real ARN.
    arns = {}
    for item in before["authorization"]["UserDetailList"]:
        arns[("user", item["UserName"])] = item["Arn"]
    for item in before["authorization"]["RoleDetailList"]:
        arns[("role", item["RoleName"])] = item["Arn"]
    policy = {"remediation": _doc(REMEDIATION)}
    with Journal.open(journal) as j:
        made = [
            (row.operation, row.params)
            for step in j.steps()
            for phase in (APPLY, ROLLBACK)
            for row in j.calls(step, phase)
        ]
    assert made
    for operation, params in made:
        arn = _arn_of(operation, params, arns)
        assert decide(policy, f"iam:{operation}", arn).allowed, (operation, arn)
    # AddRoleToInstanceProfile also needs PassRole on the role, which the policy grants.
    assert decide(policy, "iam:PassRole", arns[("role", "idle")]).allowed
    # And never on the roles AWS manages.
    slr = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/support.amazonaws.com/AWSServiceRole"
    assert not decide(policy, "iam:DeleteRole", slr).allowed
    assert not decide(
        policy, "iam:DeletePolicy", f"arn:aws:iam::{ACCOUNT}:policy/data-reader"
    ).allowed


EXERCISED_LATER: set[str] = {
    "iam:AttachUserPolicy",
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:DeleteUserPolicy",
    "iam:DetachUserPolicy",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:GetUserPolicy",
    "iam:ListAttachedUserPolicies",
    "iam:ListPolicyVersions",
    "iam:PutUserPolicy",
    "iam:SetDefaultPolicyVersion",
}
"""Actions of the remediation policy the scenario does not call yet: the permission steps'."""


def _remediation_actions() -> list[str]:
    return sorted(set(_allowed_actions(_doc(REMEDIATION))) - NOT_ENFORCED_BY_MOTO)


@pytest.mark.parametrize("action", sorted(set(_remediation_actions()) - EXERCISED_LATER))
def test_without_one_action_apply_or_rollback_fails(emulator, now, tmp_path, action):
    applied, rolled, calls, journal, before, ids, text = _run(emulator, now, tmp_path, action)
    assert not (applied.ok and rolled.ok), f"nothing failed without {action}:\n{text}"
    assert "AccessDenied" in text, text
