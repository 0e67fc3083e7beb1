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

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from aa_support import FakeClock
from remediate_support import (
    collect_to,
    full_state,
    seed_account,
    write_policy,
)

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


CREDENTIAL_KINDS = {"deactivate-access-key", "delete-access-key", "delete-login-profile"}
ROLE_KINDS = {"quarantine-role", "delete-role"}


def _run(emulator, now, tmp_path: Path, without: str | None = None, kinds=None):
    parts = set(kinds) if kinds is not None else None
    seed_account(
        emulator,
        now,
        users=parts is None or bool(parts & CREDENTIAL_KINDS),
        roles=parts is None or bool(parts & ROLE_KINDS),
        permissions=parts is None or bool(parts - CREDENTIAL_KINDS - ROLE_KINDS),
    )
    permissions = parts is None or bool(parts - CREDENTIAL_KINDS - ROLE_KINDS)
    snap = collect_to(emulator, tmp_path / "snap", advisor=permissions)
    policy_path = write_policy(tmp_path)
    plan = commands.make_plan(
        str(snap),
        snapshot_path=None,
        policy=commands.load_policy(str(policy_path)),
        as_of=None,
        created_at=now,
    )
    if kinds is not None:
        plan = dataclasses.replace(plan, steps=tuple(s for s in plan.steps if s.kind in kinds))
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
    by_kind: dict[str, set[str]] = {}
    mark = [0]

    def echo(line: str) -> None:
        # A step's line comes after its checks and calls: what was called since the last one
        # was called for it.
        lines.append(line)
        if line.startswith("step "):
            kind = line.split()[2].rstrip(":")
            by_kind.setdefault(kind, set()).update(calls[mark[0] :])
            mark[0] = len(calls)

    # Access Advisor jobs are polled on this clock: its sleeps pass at once.
    fake = FakeClock(dt.datetime.now(dt.UTC))
    clock = fake.clock
    try:
        applied, journal = commands.apply_plan(
            session,
            str(plan_path),
            journal_path=None,
            policy_path=None,
            options=Options(apply=True, allow_irreversible=True),
            clock=clock,
            echo=echo,
            warn=lines.append,
            sleep=fake.sleep,
        )
        if without is not None and not applied.ok:
            rolled = applied  # apply failed already: that is all the test asks
        else:
            rolled = commands.rollback_journal(
                session,
                str(journal),
                options=RollbackOptions(apply=True),
                clock=clock,
                echo=echo,
            )
    finally:
        emulator.set_auth(None)
    text = "\n".join(lines)
    assert key["SecretAccessKey"] not in text + journal.read_bytes().decode("latin-1")
    return Run(applied, rolled, set(calls), journal, before, text, by_kind)


@dataclasses.dataclass
class Run:
    applied: Any
    rolled: Any
    calls: set[str]
    journal: Path
    before: dict
    text: str
    by_kind: dict[str, set[str]]
    """IAM actions called for each step kind, by apply and rollback (checks included)."""


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
    result = _run(emulator, now, tmp_path)
    applied, rolled, calls, journal, before, text = (
        result.applied,
        result.rolled,
        result.calls,
        result.journal,
        result.before,
        result.text,
    )
    assert applied.ok and rolled.ok, text
    assert applied.count("done") == 11, text
    assert {o.status for o in rolled.outcomes} == {"rolled-back", "irreversible"}, text

    # Nothing was called that the two policies do not allow, and every action of the
    # remediation policy was needed (PassRole aside: moto does not check it).
    allowed = set(_allowed_actions(_doc(READONLY))) | set(_allowed_actions(_doc(REMEDIATION)))
    assert calls - {"iam:GetCallerIdentity"} <= allowed, calls - allowed
    needed = set(_allowed_actions(_doc(REMEDIATION))) - NOT_ENFORCED_BY_MOTO
    assert needed <= calls, sorted(needed - calls)
    # Each step kind called only what KIND_ACTIONS says it may (the test without one action
    # runs only the kinds that need it).
    for kind, actions in result.by_kind.items():
        assert actions - {"iam:GetCallerIdentity"} <= KIND_ACTIONS[kind], (
            kind,
            sorted(actions - KIND_ACTIONS[kind]),
        )

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


_USER = {"iam:GetUser"}
_ROLE = {"iam:GetRole"}
_ADVISOR = {"iam:GenerateServiceLastAccessedDetails", "iam:GetServiceLastAccessedDetails"}
_VERSIONS = {"iam:ListPolicyVersions", "iam:GetPolicyVersion"}
_KEYS = {"iam:ListAccessKeys", "iam:GetAccessKeyLastUsed"}
KIND_ACTIONS: dict[str, set[str]] = {
    "deactivate-access-key": _USER
    | _KEYS
    | {"iam:TagUser", "iam:UpdateAccessKey", "iam:UntagUser"},
    "delete-access-key": _USER | _KEYS | {"iam:DeleteAccessKey", "iam:UntagUser"},
    "delete-login-profile": _USER | {"iam:GetLoginProfile", "iam:DeleteLoginProfile"},
    "quarantine-role": _ROLE
    | {
        "iam:GetRolePolicy",
        "iam:PutRolePolicy",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:DeleteRolePolicy",
    },
    "delete-role": _ROLE
    | {
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:ListInstanceProfilesForRole",
        "iam:DetachRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:RemoveRoleFromInstanceProfile",
        "iam:DeleteRole",
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:AddRoleToInstanceProfile",
    },
    "put-inline-policy": _USER
    | _ROLE
    | _ADVISOR
    | {"iam:GetRolePolicy", "iam:PutRolePolicy", "iam:GetUserPolicy", "iam:PutUserPolicy"},
    "delete-inline-policy": _USER
    | _ADVISOR
    | {"iam:GetUserPolicy", "iam:DeleteUserPolicy", "iam:PutUserPolicy"},
    "create-policy-version": _ROLE
    | _ADVISOR
    | _VERSIONS
    | {
        "iam:GetPolicy",
        "iam:ListAttachedRolePolicies",
        "iam:DeletePolicyVersion",
        "iam:CreatePolicyVersion",
        "iam:SetDefaultPolicyVersion",
    },
    "detach-policy": _USER
    | _ADVISOR
    | _VERSIONS
    | {"iam:ListAttachedUserPolicies", "iam:DetachUserPolicy", "iam:AttachUserPolicy"},
    "replace-aws-managed": _ROLE
    | _ADVISOR
    | _VERSIONS
    | {
        "iam:GetPolicy",
        "iam:ListAttachedRolePolicies",
        "iam:CreatePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:DeletePolicy",
    },
}
"""The IAM actions each step kind's apply and rollback call, checks included (the full run
checks that none calls more)."""


def _remediation_actions() -> list[str]:
    return sorted(set(_allowed_actions(_doc(REMEDIATION))) - NOT_ENFORCED_BY_MOTO)


def test_remediation_policy_adds_only_what_the_readonly_policy_lacks():
    both = set(_allowed_actions(_doc(REMEDIATION))) & set(_allowed_actions(_doc(READONLY)))
    assert not both, f"already in readonly-policy.json, remove from remediation-policy.json: {both}"
    # Every write is scoped to a resource type; only reads are on "*".
    for st in _doc(REMEDIATION)["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        if st["Resource"] == "*":
            assert all(a.split(":")[1].startswith(("Get", "List", "Generate")) for a in actions), st


@pytest.mark.parametrize("action", _remediation_actions())
def test_without_one_action_apply_or_rollback_fails(emulator, now, tmp_path, action):
    # Only the steps of the kinds that call the action: enough to fail, and quicker.
    kinds = {k for k, actions in KIND_ACTIONS.items() if action in actions}
    assert kinds, f"no step kind calls {action}"
    result = _run(emulator, now, tmp_path, action, kinds=kinds)
    assert not (result.applied.ok and result.rolled.ok), (
        f"nothing failed without {action}:\n{result.text}"
    )
    assert "AccessDenied" in result.text, result.text
