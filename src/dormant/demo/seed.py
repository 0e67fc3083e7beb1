"""Seed an emulated account from a declarative description, with labels of what dormant should
find. The demo and the end-to-end tests use the same code.

Principals are created through boto3 over HTTP, as a user would; then the timestamps AWS keeps
(creation dates, last use) are set through moto's in-process backend, since no API sets them.
All ages are in days before ``now``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from moto.iam.models import AccessKeyLastUsed

from . import moto_ext
from .server import DEFAULT_ACCOUNT, Emulator


@dataclass(frozen=True)
class Expect:
    """A finding the scan must report, and nothing else for this principal."""

    type: str
    verdict: str
    key: int | None = None
    """For key findings: the index of the key in the user's ``keys``."""


@dataclass
class Key:
    age: float
    used: float | None = None
    """Days since last use; None: never used."""
    active: bool = True
    service: str = "s3"
    region: str = "us-east-1"


@dataclass
class Password:
    age: float | None = None
    """Days since the login profile was created (default: the user's age)."""
    used: float | None = None


@dataclass
class User:
    name: str
    age: float
    password: Password | None = None
    password_last_used: float | None = None
    """PasswordLastUsed without a login profile: a password that was deleted after use."""
    keys: list[Key] = field(default_factory=list)
    path: str = "/"
    tags: dict[str, str] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    ssh_key: bool = False
    service_credential: bool = False
    mfa: bool = False
    expect: list[Expect] = field(default_factory=list)


@dataclass
class Role:
    name: str
    age: float
    used: float | None = None
    path: str = "/"
    trust: str = "ec2.amazonaws.com"
    """A service principal, or an account ARN for a cross-account role."""
    service_linked: str | None = None
    """The AWS service name for a service-linked role (path /aws-service-role/...)."""
    tags: dict[str, str] = field(default_factory=dict)
    policies: list[str] = field(default_factory=list)
    """Managed policy ARNs to attach."""
    inline: dict[str, Any] | None = None
    """One inline policy document."""
    region: str = "us-east-1"
    expect: list[Expect] = field(default_factory=list)


@dataclass
class Root:
    password_used: float | None = None
    keys: list[Key] = field(default_factory=list)
    mfa: bool = True
    age: float = 2000
    expect: list[Expect] = field(default_factory=list)


@dataclass
class Account:
    users: list[User] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    root: Root = field(default_factory=Root)
    groups: dict[str, list[str]] = field(default_factory=dict)
    """Group name -> managed policy ARNs."""
    alias: str | None = None


@dataclass(frozen=True)
class Label:
    """What a finding must look like to match a label (key ids are filled in at seeding)."""

    type: str
    principal_name: str
    access_key_id: str | None
    key_slot: int | None
    verdict: str


def _secs(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=0)


def _trust(principal: str) -> str:
    if principal.startswith("arn:"):
        who = {"AWS": principal}
    else:
        who = {"Service": principal}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": who, "Action": "sts:AssumeRole"}],
        }
    )


_SSH_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDB0j5o4Q1gD7s0Wn0tPj0cJ3J8G1r2Xw== demo@example.com"
)


def seed(
    emu: Emulator,
    spec: Account,
    now: dt.datetime,
    account_id: str = DEFAULT_ACCOUNT,
) -> list[Label]:
    """Create the account's principals and return the labels of the findings to expect."""
    iam = emu.client("iam")
    be = moto_ext.backend(account_id)

    def ago(days: float) -> dt.datetime:
        return _secs(now - dt.timedelta(days=days))

    labels: list[Label] = []
    if spec.alias:
        iam.create_account_alias(AccountAlias=spec.alias)
    for group, policies in spec.groups.items():
        iam.create_group(GroupName=group)
        for arn in policies:
            iam.attach_group_policy(GroupName=group, PolicyArn=arn)

    for u in spec.users:
        iam.create_user(
            UserName=u.name,
            Path=u.path,
            Tags=[{"Key": k, "Value": v} for k, v in u.tags.items()],
        )
        user = be.get_user(u.name)
        user.create_date = ago(u.age)
        for g in u.groups:
            iam.add_user_to_group(GroupName=g, UserName=u.name)
        if u.password is not None:
            iam.create_login_profile(UserName=u.name, Password="Demo-Passw0rd!")
            moto_ext.set_login_profile_created(
                account_id, u.name, ago(u.password.age if u.password.age is not None else u.age)
            )
            if u.password.used is not None:
                user.password_last_used = ago(u.password.used)
        if u.password_last_used is not None:
            user.password_last_used = ago(u.password_last_used)
        key_ids: list[str] = []
        for k in u.keys:
            created = iam.create_access_key(UserName=u.name)["AccessKey"]
            kid = created["AccessKeyId"]
            key_ids.append(kid)
            key = next(x for x in user.access_keys if x.access_key_id == kid)
            key.create_date = ago(k.age)
            if k.used is not None:
                key.last_used = AccessKeyLastUsed(ago(k.used), k.service, k.region)
            if not k.active:
                iam.update_access_key(UserName=u.name, AccessKeyId=kid, Status="Inactive")
        if u.ssh_key:
            iam.upload_ssh_public_key(UserName=u.name, SSHPublicKeyBody=_SSH_KEY)
        if u.service_credential:
            moto_ext.add_service_specific_credential(account_id, u.name, "codecommit.amazonaws.com")
        for e in u.expect:
            labels.append(
                Label(
                    e.type, u.name, key_ids[e.key] if e.key is not None else None, None, e.verdict
                )
            )

    for r in spec.roles:
        if r.service_linked:
            name = iam.create_service_linked_role(AWSServiceName=r.service_linked)["Role"][
                "RoleName"
            ]
        else:
            iam.create_role(
                RoleName=r.name,
                Path=r.path,
                AssumeRolePolicyDocument=_trust(r.trust),
                Tags=[{"Key": k, "Value": v} for k, v in r.tags.items()],
            )
            name = r.name
        for arn in r.policies:
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        if r.inline is not None:
            iam.put_role_policy(
                RoleName=name, PolicyName=f"{name}-inline", PolicyDocument=json.dumps(r.inline)
            )
        role = be.get_role(name)
        role.create_date = ago(r.age)
        if r.used is not None:
            role.last_used = ago(r.used)
            role.last_used_region = r.region
        for e in r.expect:
            labels.append(Label(e.type, name, None, None, e.verdict))

    root = spec.root
    moto_ext.set_root(
        account_id,
        moto_ext.RootState(
            created=ago(root.age),
            password_last_used=ago(root.password_used) if root.password_used is not None else None,
            mfa_active=root.mfa,
            keys=[
                {
                    "active": k.active,
                    "created": ago(k.age),
                    "last_used": ago(k.used) if k.used is not None else None,
                    "service": k.service,
                    "region": k.region,
                }
                for k in root.keys
            ],
        ),
    )
    for e in root.expect:
        labels.append(
            Label(
                e.type, "<root_account>", None, e.key + 1 if e.key is not None else None, e.verdict
            )
        )
    return labels


def finding_label(f: dict[str, Any]) -> Label:
    """The label a JSON finding matches."""
    return Label(
        f["type"], f["principal_name"], f.get("access_key_id"), f.get("key_slot"), f["verdict"]
    )
