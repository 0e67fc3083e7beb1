"""Seed an emulated account from a declarative description, with labels of what dormant should
find. The demo and the end-to-end tests use the same code.

Principals are created through boto3 over HTTP, as a user would; then the timestamps AWS keeps
(creation dates, last use) are set through moto's in-process backend, since no API sets them.
All ages are in days before ``now``.

Permissions: roles, users and groups get inline and managed policies (customer-managed ones
declared in ``Account.managed``, AWS-managed ones by name); ``access`` records when a role or
user last used a service (``"s3"``) or an action (``"s3:CreateBucket"``), from which the Access
Advisor emulation builds every report, as AWS does; ``job`` makes a principal's Access Advisor job
fail or never finish; ``Account.analyzer`` adds an Access Analyzer unused-access analyzer with
findings.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from moto.iam.models import AccessKeyLastUsed

from . import moto_access_advisor, moto_access_analyzer, moto_ext
from .server import DEFAULT_ACCOUNT, Emulator


@dataclass(frozen=True)
class Expect:
    """A finding the scan must report, and nothing else for this principal."""

    type: str
    verdict: str
    key: int | None = None
    """For key findings: the index of the key in the user's ``keys``."""
    service: str | None = None
    """For permission findings: the service namespace (None for a finding about every
    permission of the principal)."""
    action: str | None = None
    """For action-level permission findings: the action."""


@dataclass
class ManagedPolicy:
    """A customer-managed policy."""

    name: str
    document: dict[str, Any]
    age: float = 500
    """Days since its default (last) version was created."""
    previous: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    """Earlier versions, oldest first: (document, age in days)."""


@dataclass
class AnalyzerFinding:
    """An Access Analyzer UnusedPermission finding about a role or user (by name)."""

    principal: str
    services: dict[str, list[str]]
    """Service namespace -> the unused actions it lists (empty: the whole service)."""


@dataclass
class Analyzer:
    """An unused-access analyzer and its findings."""

    unused_access_age: int = 90
    findings: list[AnalyzerFinding] = field(default_factory=list)


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
    policies: list[str] = field(default_factory=list)
    """Managed policies to attach: ARNs, names of ``Account.managed``, or AWS-managed names."""
    inline: dict[str, Any] | None = None
    """One inline policy document."""
    access: dict[str, float] = field(default_factory=dict)
    """Service prefix or ``service:Action`` -> days since last used (Access Advisor)."""
    job: str = "ok"
    """Its Access Advisor job: ``ok``, ``fail`` (ends FAILED) or ``slow`` (never finishes)."""
    expect: list[Expect] = field(default_factory=list)


@dataclass
class Role:
    name: str
    age: float
    used: float | None = None
    path: str = "/"
    trust: str = "ec2.amazonaws.com"
    """A service principal, an account ARN for a cross-account role, or a SAML or OIDC
    provider ARN for a federated one."""
    service_linked: str | None = None
    """The AWS service name for a service-linked role (path /aws-service-role/...)."""
    tags: dict[str, str] = field(default_factory=dict)
    policies: list[str] = field(default_factory=list)
    """Managed policies to attach: ARNs, names of ``Account.managed``, or AWS-managed names."""
    inline: dict[str, Any] | None = None
    """One inline policy document."""
    region: str = "us-east-1"
    access: dict[str, float] = field(default_factory=dict)
    """Service prefix or ``service:Action`` -> days since last used (Access Advisor)."""
    job: str = "ok"
    """Its Access Advisor job: ``ok``, ``fail`` (ends FAILED) or ``slow`` (never finishes)."""
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
    """Group name -> managed policies (as for users)."""
    group_inline: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Group name -> one inline policy document."""
    group_age: float = 1000
    """Days since every group was created."""
    managed: list[ManagedPolicy] = field(default_factory=list)
    alias: str | None = None
    analyzer: Analyzer | None = None


@dataclass(frozen=True)
class Label:
    """What a finding must look like to match a label (key ids are filled in at seeding)."""

    type: str
    principal_name: str
    access_key_id: str | None
    key_slot: int | None
    verdict: str
    service: str | None = None
    action: str | None = None


def _secs(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=0)


def _trust(principal: str) -> str:
    action = "sts:AssumeRole"
    if ":saml-provider/" in principal:
        who, action = {"Federated": principal}, "sts:AssumeRoleWithSAML"
    elif ":oidc-provider/" in principal:
        who, action = {"Federated": principal}, "sts:AssumeRoleWithWebIdentity"
    elif principal.startswith("arn:"):
        who = {"AWS": principal}
    else:
        who = {"Service": principal}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": who, "Action": action}],
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
    iam = emu.client("iam", account_id=account_id)
    be = moto_ext.backend(account_id)

    def ago(days: float) -> dt.datetime:
        return _secs(now - dt.timedelta(days=days))

    labels: list[Label] = []
    if spec.alias:
        iam.create_account_alias(AccountAlias=spec.alias)
    managed: dict[str, str] = {}
    for m in spec.managed:
        docs = [d for d, _ in m.previous] + [m.document]
        ages = [a for _, a in m.previous] + [m.age]
        arn = iam.create_policy(PolicyName=m.name, PolicyDocument=json.dumps(docs[0]))["Policy"][
            "Arn"
        ]
        for doc in docs[1:]:
            iam.create_policy_version(
                PolicyArn=arn, PolicyDocument=json.dumps(doc), SetAsDefault=True
            )
        moto_ext.backdate_policy(account_id, arn, ago(ages[0]), [ago(a) for a in ages])
        managed[m.name] = arn

    def policy_arn(ref: str) -> str:
        if ref.startswith("arn:"):
            return ref
        if ref in managed:
            return managed[ref]
        return moto_ext.add_aws_managed_policy(account_id, ref)

    used: list[tuple[str, dict[str, float], str]] = []
    for group, policies in spec.groups.items():
        iam.create_group(GroupName=group)
        be.get_group(group).create_date = ago(spec.group_age)
        for ref in policies:
            iam.attach_group_policy(GroupName=group, PolicyArn=policy_arn(ref))
        if group in spec.group_inline:
            iam.put_group_policy(
                GroupName=group,
                PolicyName=f"{group}-inline",
                PolicyDocument=json.dumps(spec.group_inline[group]),
            )

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
        for ref in u.policies:
            iam.attach_user_policy(UserName=u.name, PolicyArn=policy_arn(ref))
        if u.inline is not None:
            iam.put_user_policy(
                UserName=u.name, PolicyName=f"{u.name}-inline", PolicyDocument=json.dumps(u.inline)
            )
        used.append((user.arn, u.access, u.job))
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
                    e.type,
                    u.name,
                    key_ids[e.key] if e.key is not None else None,
                    None,
                    e.verdict,
                    e.service,
                    e.action,
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
        for ref in r.policies:
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn(ref))
        if r.inline is not None:
            iam.put_role_policy(
                RoleName=name, PolicyName=f"{name}-inline", PolicyDocument=json.dumps(r.inline)
            )
        role = be.get_role(name)
        role.create_date = ago(r.age)
        if r.used is not None:
            role.last_used = ago(r.used)
            role.last_used_region = r.region
        used.append((role.arn, r.access, r.job))
        for e in r.expect:
            labels.append(Label(e.type, name, None, None, e.verdict, e.service, e.action))

    arns: dict[str, str] = {}
    for arn, access, job in used:
        arns[arn.rsplit("/", 1)[-1]] = arn
        if access:
            moto_access_advisor.record_use(
                account_id,
                arn,
                services={k: ago(v) for k, v in access.items() if ":" not in k},
                actions={k: ago(v) for k, v in access.items() if ":" in k},
            )
        if job == "fail":
            moto_access_advisor.fail_job(account_id, arn)
        elif job == "slow":
            moto_access_advisor.slow_job(account_id, arn, 10**9)
    if spec.analyzer is not None:
        analyzer = moto_access_analyzer.create_analyzer(
            account_id, unused_access_age=spec.analyzer.unused_access_age
        )
        for f in spec.analyzer.findings:
            moto_access_analyzer.add_finding(
                analyzer,
                "UnusedPermission",
                arns[f.principal],
                [
                    {
                        "unusedPermissionDetails": {
                            "serviceNamespace": ns,
                            "actions": [{"action": a} for a in actions],
                        }
                    }
                    for ns, actions in sorted(f.services.items())
                ],
            )

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
        f["type"],
        f["principal_name"],
        f.get("access_key_id"),
        f.get("key_slot"),
        f["verdict"],
        f.get("service"),
        f.get("action"),
    )
