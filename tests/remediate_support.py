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


def account() -> Account:
    return Account(
        users=[
            # An unused key (deactivate) and an unused password (delete: irreversible).
            User("stale", age=400, password=Password(used=200), keys=[Key(age=400, used=200)]),
            # A user in use: nothing to do.
            User("busy", age=400, password=Password(used=1), keys=[Key(age=60, used=1)]),
            # Its key was deactivated by dormant 40 days ago (tag added below): delete it.
            User("retired", age=500, keys=[Key(age=500, used=300, active=False)]),
        ],
        roles=[
            Role("idle", age=500, used=300, inline=ALLOW_S3),  # quarantine
            Role("vendor-bridge", age=500, used=300),  # allow-listed: excluded
            Role("fresh", age=500, used=1),
        ],
    )


def seed_account(emulator, now: dt.datetime) -> dict[str, Any]:
    """Seed :func:`account` and what earlier dormant runs left; returns ids worth knowing."""
    seed(emulator, account(), now)
    iam = emulator.client("iam")
    forty = iso(now - dt.timedelta(days=40))
    retired_key = iam.list_access_keys(UserName="retired")["AccessKeyMetadata"][0]["AccessKeyId"]
    iam.tag_user(UserName="retired", Tags=[{"Key": DEACTIVATED_TAG + retired_key, "Value": forty}])

    # The quarantined role holds every kind of thing DeleteRole needs removed or saved.
    boundary = iam.create_policy(PolicyName="boundary", PolicyDocument=json.dumps(ALLOW_S3))
    managed = iam.create_policy(PolicyName="data-reader", PolicyDocument=json.dumps(ALLOW_S3))
    # Quarantined 40 days ago: delete it, saving everything first.
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

    role = moto_ext.backend("123456789012").get_role("quarantined")
    role.create_date = now - dt.timedelta(days=600)
    role.last_used = now - dt.timedelta(days=300)
    return {"retired_key": retired_key, "boundary": boundary["Policy"]["Arn"]}


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


def collect_to(emulator, path: Path) -> Path:
    """Collect the emulated account's evidence bundle in this process, without the pauses a
    real credential report needs (the emulator's report is ready at once)."""
    from dormant import pipeline
    from dormant import snapshot as snapshot_mod
    from dormant.demo import moto_ext
    from dormant.sources.aws import build_session

    moto_ext.set_in_progress_polls("123456789012", 0)
    session = build_session(endpoint_url=emulator.endpoint_url)
    snap = pipeline.collect_snapshot(
        session, clock=lambda: dt.datetime.now(dt.UTC), sleep=lambda seconds: None
    )
    snapshot_mod.write(snap, path)
    return path


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
