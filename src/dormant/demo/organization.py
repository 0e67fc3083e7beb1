"""Seed an emulated AWS Organization: the management account (moto's default account,
123456789012), organizational units, and member accounts, each with the role the organization
scan assumes and its own users and roles (:func:`.seed.seed`), with the labels of what dormant
should find in each.

As AWS does for an account created in an organization, moto creates the member role
(``OrganizationAccountAccessRole`` unless named otherwise) in each member account, trusted by the
management account; here it gets ``role_policy`` (AWS gives it AdministratorAccess; tests give
it dormant's read-only policy).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from . import moto_ext
from .seed import Account, Label, seed
from .server import DEFAULT_ACCOUNT, Emulator

MEMBER_ROLE = "OrganizationAccountAccessRole"


@dataclass
class Member:
    """A member account to create."""

    name: str
    account: Account = field(default_factory=Account)
    """Its users, roles and groups (see :mod:`.seed`)."""
    ou: str | None = None
    """Its organizational unit below the root, as a path of names (``"Prod/Payments"``);
    None: directly under the root."""
    email: str | None = None


@dataclass
class Organization:
    """What was created."""

    org_id: str
    root_id: str
    management: str
    """The management account's id."""
    accounts: dict[str, str]
    """Member name -> account id."""
    ous: dict[str, str]
    """OU path (``Root/Prod/Payments``) -> OU id."""
    labels: dict[str, list[Label]]
    """Account id -> the findings a scan must report in it (the management account's too)."""
    role_name: str = MEMBER_ROLE

    def id(self, name: str) -> str:
        return self.accounts[name]

    def role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.accounts[name]}:role/{self.role_name}"


def _trust(management: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{management}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def seed_organization(
    emu: Emulator,
    members: list[Member],
    now: dt.datetime,
    *,
    management: Account | None = None,
    role_name: str = MEMBER_ROLE,
    role_policy: dict[str, Any] | str | None = "AdministratorAccess",
) -> Organization:
    """Create the organization, its OUs and member accounts, and seed each account.

    ``role_policy``: an AWS-managed policy name, an inline policy document, or None."""
    orgs = emu.client("organizations")
    org = orgs.create_organization(FeatureSet="ALL")["Organization"]
    root_id = orgs.list_roots()["Roots"][0]["Id"]
    ous: dict[str, str] = {"Root": root_id}

    def ou_id(path: str | None) -> str:
        parent, full = root_id, "Root"
        for name in (path or "").split("/"):
            if not name:
                continue
            full = f"{full}/{name}"
            if full not in ous:
                ous[full] = orgs.create_organizational_unit(ParentId=parent, Name=name)[
                    "OrganizationalUnit"
                ]["Id"]
            parent = ous[full]
        return parent

    labels: dict[str, list[Label]] = {}
    accounts: dict[str, str] = {}
    for m in members:
        status = orgs.create_account(
            AccountName=m.name, Email=m.email or f"{m.name}@example.com", RoleName=role_name
        )["CreateAccountStatus"]
        account_id = status["AccountId"]
        accounts[m.name] = account_id
        parent = ou_id(m.ou)
        if parent != root_id:
            orgs.move_account(
                AccountId=account_id, SourceParentId=root_id, DestinationParentId=parent
            )
        iam = emu.client("iam", account_id=account_id)
        try:
            iam.get_role(RoleName=role_name)
        except iam.exceptions.NoSuchEntityException:
            iam.create_role(
                RoleName=role_name, AssumeRolePolicyDocument=_trust(org["MasterAccountId"])
            )
        if isinstance(role_policy, str):
            iam.attach_role_policy(
                RoleName=role_name,
                PolicyArn=moto_ext.add_aws_managed_policy(account_id, role_policy),
            )
        elif role_policy is not None:
            iam.put_role_policy(
                RoleName=role_name,
                PolicyName="dormant-readonly",
                PolicyDocument=json.dumps(role_policy),
            )
        labels[account_id] = seed(emu, m.account, now, account_id=account_id)
    if management is not None:
        labels[DEFAULT_ACCOUNT] = seed(emu, management, now)
    return Organization(
        org_id=org["Id"],
        root_id=root_id,
        management=org["MasterAccountId"],
        accounts=accounts,
        ous=ous,
        labels=labels,
        role_name=role_name,
    )
