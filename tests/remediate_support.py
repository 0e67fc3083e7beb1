"""An emulated account with something for every remediation step, and the state to compare
before and after apply and rollback.

Seeded through boto3 over HTTP (like a user would) plus moto's backend for the times AWS keeps
(``dormant.demo.seed``), then shaped by hand for what an earlier dormant run would have left: a
key deactivated 40 days ago (the user's ``dormant:deactivated:<key>`` tag), a role quarantined 40
days ago (its deny-all policy and ``dormant:quarantined`` tag).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from dormant.demo.seed import Account, Key, Password, Role, User, seed
from dormant.sinks.remediate.calls import canonical, document_text
from dormant.sinks.remediate.plan import DEACTIVATED_TAG, QUARANTINE_DOCUMENT, QUARANTINE_TAG
from dormant.timeutil import iso

ALLOW_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}
TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}

ACCOUNT = "123456789012"


def _allow(*actions: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
    }


WORKER_APP = _allow("sqs:SendMessage", "sqs:ReceiveMessage", "dynamodb:GetItem", "dynamodb:PutItem")
WORKER_OPS = _allow("ec2:DescribeInstances", "cloudwatch:PutMetricData")
ANALYST_QUERIES = _allow("sqs:ListQueues", "sqs:GetQueueUrl", "dynamodb:ListTables")
ANALYST_REPORTS = _allow("sns:ListTopics")
ANALYST_STREAMS = _allow("kinesis:ListStreams")
ACCESS_ADVISOR = {
    # Per principal: the services its policies grant, with the days since last use (None:
    # not used in the tracking period). No action-level data: the services in use keep every
    # action (insufficient evidence to remove any), the unused ones lose them all.
    "role/worker": {
        "sqs": 1,
        "dynamodb": None,
        "ec2": 1,
        "cloudwatch": None,
        "elasticloadbalancing": None,
        "autoscaling": None,
    },
    "user/analyst": {"sqs": 1, "dynamodb": None, "sns": None, "kinesis": None},
}


POLICY = """\
[[allow]]
arn = "arn:aws:iam::*:role/vendor-*"
owner = "vendors@example.com"
reason = "vendor access, reviewed quarterly"
expires = 2099-01-01

[remediation]
delete_keys_after_days = 30
delete_roles_after_days = 30
"""


def account(users: bool = True, roles: bool = True) -> Account:
    return Account(
        users=[
            # An unused key (deactivate) and an unused password (delete: irreversible).
            User("stale", age=400, password=Password(used=200), keys=[Key(age=400, used=200)]),
            # A user in use: nothing to do.
            User("busy", age=400, password=Password(used=1), keys=[Key(age=60, used=1)]),
            # Its key was deactivated by dormant 40 days ago (tag added below): delete it.
            User("retired", age=500, keys=[Key(age=500, used=300, active=False)]),
        ]
        if users
        else [],
        roles=[
            Role("idle", age=500, used=300, inline=ALLOW_S3),  # quarantine
            Role("vendor-bridge", age=500, used=300),  # allow-listed: excluded
            Role("fresh", age=500, used=1),
            # Quarantined by dormant 10 days ago, and used since (shaped below): only a note.
            Role("revived", age=500, used=2),
        ]
        if roles
        else [],
    )


def seed_account(
    emulator,
    now: dt.datetime,
    *,
    users: bool = True,
    roles: bool = True,
    permissions: bool = True,
) -> dict[str, Any]:
    """Seed :func:`account` and what earlier dormant runs left; returns ids worth knowing.
    ``users``, ``roles`` and ``permissions`` seed only part of it (for the tests that need only
    some steps)."""
    seed(emulator, account(users, roles), now)
    iam = emulator.client("iam")
    forty = iso(now - dt.timedelta(days=40))
    ids: dict[str, Any] = {}
    if users:
        key = iam.list_access_keys(UserName="retired")["AccessKeyMetadata"][0]["AccessKeyId"]
        iam.tag_user(UserName="retired", Tags=[{"Key": DEACTIVATED_TAG + key, "Value": forty}])
        ids["retired_key"] = key
    if roles:
        ids["boundary"] = _seed_quarantined(iam, now, forty)
        ten = iso(now - dt.timedelta(days=10))
        iam.tag_role(RoleName="revived", Tags=[{"Key": QUARANTINE_TAG, "Value": ten}])
        iam.put_role_policy(
            RoleName="revived",
            PolicyName="dormant-quarantine-" + ten[:10].replace("-", ""),
            PolicyDocument=document_text(QUARANTINE_DOCUMENT),
        )
    if permissions:
        ids.update(seed_permissions(emulator, now))
    return ids


def _seed_quarantined(iam, now: dt.datetime, forty: str) -> str:
    """A role quarantined by dormant 40 days ago, holding every kind of thing DeleteRole needs
    removed first or that rollback must bring back. Returns its permissions boundary's ARN."""
    boundary = iam.create_policy(PolicyName="boundary", PolicyDocument=json.dumps(ALLOW_S3))
    managed = iam.create_policy(PolicyName="data-reader", PolicyDocument=json.dumps(ALLOW_S3))
    iam.create_role(
        RoleName="quarantined",
        Path="/apps/",
        AssumeRolePolicyDocument=json.dumps(TRUST_EC2),
        Description="nightly data export",
        MaxSessionDuration=7200,
        PermissionsBoundary=boundary["Policy"]["Arn"],
        Tags=[{"Key": "team", "Value": "data"}, {"Key": QUARANTINE_TAG, "Value": forty}],
    )
    iam.put_role_policy(
        RoleName="quarantined", PolicyName="export", PolicyDocument=json.dumps(ALLOW_S3)
    )
    iam.put_role_policy(
        RoleName="quarantined",
        PolicyName="dormant-quarantine-" + forty[:10].replace("-", ""),
        PolicyDocument=document_text(QUARANTINE_DOCUMENT),
    )
    iam.attach_role_policy(RoleName="quarantined", PolicyArn=managed["Policy"]["Arn"])
    iam.create_instance_profile(InstanceProfileName="exporter")
    iam.add_role_to_instance_profile(InstanceProfileName="exporter", RoleName="quarantined")
    from dormant.demo import moto_ext

    role = moto_ext.backend(ACCOUNT).get_role("quarantined")
    role.create_date = now - dt.timedelta(days=600)
    role.last_used = now - dt.timedelta(days=300)
    return boundary["Policy"]["Arn"]


def seed_permissions(emulator, now: dt.datetime) -> dict[str, str]:
    """A role and a user in use, whose policies grant services they never used: something for
    every UnusedPermission step (inline narrowed or deleted, a new default version of a
    customer-managed policy at IAM's five-version limit, an AWS-managed policy replaced, a
    customer-managed policy detached), and their Access Advisor reports."""
    from dormant.demo import moto_access_advisor, moto_ext

    moto_access_advisor.install()
    moto_access_advisor.reset()
    moto_access_advisor.configure(in_progress_polls=0)
    iam = emulator.client("iam")
    be = moto_ext.backend(ACCOUNT)
    old = now - dt.timedelta(days=500)

    iam.create_role(RoleName="worker", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    iam.put_role_policy(RoleName="worker", PolicyName="app", PolicyDocument=json.dumps(WORKER_APP))
    ops = iam.create_policy(
        PolicyName="worker-ops", PolicyDocument=json.dumps(_allow("ec2:DescribeInstances"))
    )["Policy"]["Arn"]
    for extra in ("ec2:DescribeVolumes", "ec2:DescribeImages", "ec2:DescribeSnapshots"):
        iam.create_policy_version(
            PolicyArn=ops,
            PolicyDocument=json.dumps(_allow("ec2:DescribeInstances", extra)),
            SetAsDefault=False,
        )
    iam.create_policy_version(
        PolicyArn=ops, PolicyDocument=json.dumps(WORKER_OPS), SetAsDefault=True
    )
    ec2_read = moto_ext.add_aws_managed_policy(ACCOUNT, "AmazonEC2ReadOnlyAccess")
    iam.attach_role_policy(RoleName="worker", PolicyArn=ops)
    iam.attach_role_policy(RoleName="worker", PolicyArn=ec2_read)
    role = be.get_role("worker")
    role.create_date = old
    role.last_used = now - dt.timedelta(days=1)

    iam.create_user(UserName="analyst")
    user = be.get_user("analyst")
    user.create_date = old
    iam.create_login_profile(UserName="analyst", Password="Demo-Passw0rd!")
    moto_ext.set_login_profile_created(ACCOUNT, "analyst", old)
    user.password_last_used = now - dt.timedelta(days=1)
    iam.put_user_policy(
        UserName="analyst", PolicyName="queries", PolicyDocument=json.dumps(ANALYST_QUERIES)
    )
    iam.put_user_policy(
        UserName="analyst", PolicyName="old-reports", PolicyDocument=json.dumps(ANALYST_REPORTS)
    )
    streams = iam.create_policy(
        PolicyName="analyst-streams", PolicyDocument=json.dumps(ANALYST_STREAMS)
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName="analyst", PolicyArn=streams)
    for arn in (ops, streams):
        policy = be.managed_policies[arn]
        policy.create_date = old
        for v in policy.versions:
            v.create_date = old
    for principal, services in ACCESS_ADVISOR.items():
        seed_access_advisor(principal, services, now)
    return {"worker_ops": ops, "ec2_read": ec2_read, "analyst_streams": streams}


def seed_access_advisor(principal: str, services: dict[str, float | None], now) -> None:
    """Set the Access Advisor report of ``role/NAME`` or ``user/NAME`` (days since last use)."""
    from dormant.demo import moto_access_advisor

    moto_access_advisor.seed(
        ACCOUNT,
        f"arn:aws:iam::{ACCOUNT}:{principal}",
        [
            {"ServiceNamespace": ns, "ServiceName": ns}
            | ({"LastAuthenticated": now - dt.timedelta(days=days)} if days is not None else {})
            for ns, days in services.items()
        ],
    )


# ------------------------------------------------------------------------------ state

REGENERATED = ("RoleId", "CreateDate", "UpdateDate", "RoleLastUsed")
"""What AWS makes anew when dormant recreates a role or a policy version: the role's unique id
and creation date, its last-used data (lost with the role), and dates of policy versions."""


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in REGENERATED}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _policy_docs(value: Any) -> Any:
    """Policy documents in one spelling (boto3 gives dicts, order kept as AWS sent it)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("PolicyDocument", "AssumeRolePolicyDocument", "Document") and v is not None:
                out[k] = canonical(v)
            else:
                out[k] = _policy_docs(v)
        return out
    if isinstance(value, list):
        return [_policy_docs(v) for v in value]
    return value


def authorization_state(iam) -> dict[str, Any]:
    """GetAccountAuthorizationDetails, every page, with what AWS regenerates left out, lists
    sorted by name, and policy versions compared by document (a version recreated by rollback
    gets a new id)."""
    pages: dict[str, list] = {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
    }
    for page in iam.get_paginator("get_account_authorization_details").paginate():
        for key in pages:
            pages[key].extend(page.get(key) or [])
    state = _policy_docs(_strip(pages))
    for policy in state["Policies"]:
        default = policy.get("DefaultVersionId")
        policy["PolicyVersionList"] = sorted(
            (
                {"Document": v["Document"], "IsDefaultVersion": v["IsDefaultVersion"]}
                | ({"VersionId": v["VersionId"]} if v["VersionId"] == default else {})
                for v in policy.get("PolicyVersionList") or []
            ),
            key=lambda v: (v["Document"], v["IsDefaultVersion"]),
        )
    for key, name in (
        ("UserDetailList", "UserName"),
        ("RoleDetailList", "RoleName"),
        ("GroupDetailList", "GroupName"),
        ("Policies", "Arn"),
    ):
        state[key] = sorted(state[key], key=lambda item, name=name: item[name])
        for item in state[key]:
            for inner in ("RolePolicyList", "UserPolicyList", "GroupPolicyList"):
                if inner in item:
                    item[inner] = sorted(item[inner], key=lambda p: p["PolicyName"])
            for inner in ("AttachedManagedPolicies", "Tags", "InstanceProfileList"):
                if inner in item:
                    item[inner] = sorted(
                        item[inner], key=lambda p: json.dumps(p, sort_keys=True, default=str)
                    )
    return state


def key_states(iam) -> dict[str, str]:
    out = {}
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            for key in iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]:
                out[key["AccessKeyId"]] = f"{user['UserName']}:{key['Status']}"
    return out


def full_state(iam) -> dict[str, Any]:
    return {"authorization": authorization_state(iam), "keys": key_states(iam)}


def cli_env(emulator, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["AWS_ENDPOINT_URL"] = emulator.endpoint_url
    env.update(extra)
    return env


def write_policy(tmp_path: Path, text: str = POLICY) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def collect_to(emulator, path: Path, *, advisor: bool = True) -> Path:
    """Collect the emulated account's evidence bundle in this process, as ``dormant collect``
    does, without the pauses AWS needs (the emulator's credential report is ready at once, and
    the Access Advisor jobs are polled on a clock whose sleeps pass at once)."""
    from aa_support import FakeClock

    from dormant import pipeline
    from dormant import snapshot as snapshot_mod
    from dormant.demo import moto_ext
    from dormant.sources.aws import build_session

    moto_ext.set_in_progress_polls(ACCOUNT, 0)
    session = build_session(endpoint_url=emulator.endpoint_url)
    fake = FakeClock(dt.datetime.now(dt.UTC))
    snap = pipeline.collect_snapshot(
        session,
        clock=fake.clock,
        sleep=fake.sleep,
        options={"access_advisor": advisor, "access_analyzer": False},
    )
    snapshot_mod.write(snap, path)
    return path


def findings_json(snapshot_path: Path, policy_path: Path, out: Path) -> Path:
    """The JSON report of the bundle (``dormant analyze --format json``), made in process."""
    from dormant import snapshot as snapshot_mod
    from dormant.judge import judge
    from dormant.policy import load_policy
    from dormant.sinks.formats import render
    from dormant.timeutil import parse_time

    snap = snapshot_mod.read(snapshot_path)
    report = judge(snap, load_policy(str(policy_path)), parse_time(snap.created_at))
    out.write_text(render(report, "json"))
    return out


def run(*args: str, emulator=None, codes=(0,), env: dict[str, str] | None = None):
    """``python -m dormant.cli ARGS`` against the emulator; the exit code must be in ``codes``."""
    import subprocess
    import sys

    full = dict(env or os.environ)
    if emulator is not None:
        full["AWS_ENDPOINT_URL"] = emulator.endpoint_url
    proc = subprocess.run(
        [sys.executable, "-m", "dormant.cli", *args],
        capture_output=True,
        text=True,
        env=full,
    )
    assert proc.returncode in codes, (args, proc.returncode, proc.stdout, proc.stderr)
    return proc
