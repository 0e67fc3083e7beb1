"""The labelled organization of the organization scan's tests: a management account and
member accounts in OUs, each with its own users and roles and the findings they must produce."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path

from dormant.demo import faults
from dormant.demo.organization import Member, Organization, seed_organization
from dormant.demo.seed import Account, Expect, Key, Label, Password, Role, User, finding_label

ROOT = Path(__file__).resolve().parent.parent
READONLY = json.loads((ROOT / "deploy" / "readonly-policy.json").read_text())
ORG_SCANNER = json.loads((ROOT / "deploy" / "org-scanner-policy.json").read_text())

U, N = "unused", "never-used"


def labelled(tag: str) -> Account:
    """A small account whose every principal says what it must produce; names carry ``tag`` so
    that a finding reported in the wrong account cannot match."""
    return Account(
        users=[
            User(
                f"{tag}-stale",
                age=400,
                password=Password(used=200),
                keys=[Key(age=400, used=150)],
                expect=[
                    Expect("UnusedIAMUserPassword", U),
                    Expect("UnusedIAMUserAccessKey", U, key=0),
                    Expect("UnrotatedIAMUserAccessKey", U, key=0),
                    Expect("InactiveIAMUser", U),
                ],
            ),
            User(f"{tag}-fresh", age=300, password=Password(used=1), keys=[Key(age=30, used=1)]),
            User(
                f"{tag}-never",
                age=200,
                keys=[Key(age=200)],
                expect=[
                    Expect("UnusedIAMUserAccessKey", N, key=0),
                    Expect("UnrotatedIAMUserAccessKey", N, key=0),
                    Expect("InactiveIAMUser", N),
                ],
            ),
        ],
        roles=[
            Role(f"{tag}-old-role", age=500, used=300, expect=[Expect("UnusedIAMRole", U)]),
            Role(f"{tag}-busy-role", age=500, used=1),
        ],
    )


# name -> OU path (below Root)
MEMBERS = {
    "payments": "Prod/Payments",
    "analytics": "Prod",
    "sandbox": "Dev",
    "legacy": "Dev",
}


def seed_org(emulator, now: dt.datetime, *, role_policy=None, members=MEMBERS) -> Organization:
    """The organization, every account labelled (the management account too)."""
    return seed_organization(
        emulator,
        [Member(name, labelled(name), ou=ou) for name, ou in members.items()],
        now,
        management=labelled("mgmt"),
        role_policy=role_policy,
    )


def troubles(org: Organization) -> None:
    """legacy: its role cannot be assumed; analytics: throttles a share of its calls (retried);
    sandbox: an SCP denies iam:ListUsers."""
    faults.deny_assume_role(org.role_arn("legacy"))
    faults.throttle(org.id("analytics"), 0.05)
    faults.deny(org.id("sandbox"), "iam:ListUsers")


def findings_by_account(doc: dict) -> dict[str, list[Label]]:
    out: dict[str, list[Label]] = defaultdict(list)
    for f in doc["findings"]:
        out[f["account_id"]].append(finding_label(f))
    return {a: sorted(labels, key=repr) for a, labels in out.items()}


def labels_of(org: Organization, account_id: str) -> list[Label]:
    return sorted(org.labels[account_id], key=repr)
