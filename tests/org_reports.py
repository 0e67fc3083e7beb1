"""A report of several accounts, as an organization scan gives, for the format tests.

Two member accounts are seeded in the emulator and collected over HTTP through AssumeRole (moto
maps the temporary credentials to the role's account); a third is an account whose role could
not be assumed, recorded as ``org.collect_member`` records it (one ``assume-role`` source,
denied, and nothing else). The snapshot is judged; the accounts' scan status, gaps and OU paths
are then set as the organization scan's judge sets them, so these tests depend only on what the
formats read (``AccountInfo.scan_status``, ``scan_gaps``, ``ou_path``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from dormant.collect import collect_account
from dormant.demo.seed import Account, Expect, Key, Label, Role, User, seed
from dormant.demo.server import FAKE_CREDENTIALS
from dormant.judge import judge
from dormant.model import Report
from dormant.policy import Policy
from dormant.snapshot import AccountEvidence, Snapshot
from dormant.sources.aws import assume_role_session, build_session
from dormant.sources.base import SourceError, SourceResult, SourceStatus
from dormant.timeutil import iso

PAYMENTS = "111111111111"
SANDBOX = "222222222222"
LEGACY = "333333333333"

SCRIPT_NAME = 'sandbox <script>window.__pwned="account"</script>'
"""The sandbox account's name: Organizations lets an account name hold markup."""

NAMES = {PAYMENTS: "payments-prod", SANDBOX: SCRIPT_NAME, LEGACY: "legacy-archive"}
OUS = {PAYMENTS: "Root/Prod/Payments", SANDBOX: "Root/Dev", LEGACY: "Root/Legacy"}
ROLE = "OrganizationAccountAccessRole"
DENIED = (
    f"User: arn:aws:sts::123456789012:assumed-role/scanner/dormant is not authorized to perform: "
    f"sts:AssumeRole on resource: arn:aws:iam::{LEGACY}:role/{ROLE}"
)
GAPS = {
    PAYMENTS: (),
    SANDBOX: ("access_advisor: partial: GetServiceLastAccessedDetails InternalFailure",),
    LEGACY: (f"assume-role: denied: AssumeRole AccessDenied: {DENIED}",),
}
STATUS = {PAYMENTS: "complete", SANDBOX: "incomplete", LEGACY: "not-scanned"}

unused_role = [Expect("UnusedIAMRole", "unused")]


def specs() -> dict[str, Account]:
    """Each account's principals: every name says which account it lives in."""
    return {
        PAYMENTS: Account(
            users=[
                User(
                    "pay-ci",
                    age=400,
                    keys=[Key(age=300, used=200)],
                    expect=[
                        Expect("UnusedIAMUserAccessKey", "unused", key=0),
                        Expect("UnrotatedIAMUserAccessKey", "unused", key=0),
                        Expect("InactiveIAMUser", "unused"),
                    ],
                )
            ],
            roles=[
                Role("pay-batch", age=400, used=150, expect=unused_role),
                Role("pay-api", age=400, used=2),
            ],
        ),
        SANDBOX: Account(
            roles=[
                Role("dev-old-lambda", age=500, used=300, expect=unused_role),
                # Its Access Advisor job fails: the account is scanned, but incompletely.
                Role("dev-broken-job", age=30, used=1, job="fail"),
            ],
        ),
    }


class AccountEmulator:
    """The emulator, with clients signed by credentials that moto maps to one account."""

    def __init__(self, emu: Any, credentials: dict[str, str]) -> None:
        self.emu = emu
        self.endpoint_url = emu.endpoint_url
        self.credentials = credentials

    def client(self, service: str, region: str = "us-east-1", **creds: str) -> Any:
        return self.emu.client(service, region, **(creds or self.credentials))


def _not_scanned(account_id: str, name: str, at: str) -> AccountEvidence:
    result = SourceResult(
        name="assume-role",
        status=SourceStatus.DENIED,
        started_at=at,
        finished_at=at,
        errors=[
            SourceError(
                "AssumeRole", "AccessDenied", DENIED, f"arn:aws:iam::{account_id}:role/{ROLE}"
            )
        ],
        operations={"AssumeRole": {"calls": 1, "errors": 1, "status": "denied"}},
    )
    return AccountEvidence(account_id, account_name=name, sources={"assume-role": result})


def build(emu: Any, now: dt.datetime) -> tuple[Report, dict[str, list[Label]]]:
    """Seed, collect and judge the organization: the report (accounts deliberately not in id
    order, so a format must sort them) and each scanned account's labels."""
    base = build_session(endpoint_url=emu.endpoint_url, credentials=FAKE_CREDENTIALS)
    evidence: list[AccountEvidence] = []
    labels: dict[str, list[Label]] = {}
    for account_id, spec in specs().items():
        session = assume_role_session(base, f"arn:aws:iam::{account_id}:role/{ROLE}")
        frozen = session.session.get_credentials().get_frozen_credentials()
        creds = {
            "aws_access_key_id": frozen.access_key,
            "aws_secret_access_key": frozen.secret_key,
            "aws_session_token": frozen.token,
        }
        labels[account_id] = seed(AccountEmulator(emu, creds), spec, now, account_id=account_id)
        ev = collect_account(
            session, clock=lambda: dt.datetime.now(dt.UTC), account_name=NAMES[account_id]
        )
        assert ev.account_id == account_id, (ev.account_id, account_id)
        evidence.append(ev)
    evidence.append(_not_scanned(LEGACY, NAMES[LEGACY], iso(now)))
    snapshot = Snapshot(created_at=iso(now), accounts=evidence)
    report = judge(snapshot, Policy(), now)
    return with_status(report), labels


def with_status(report: Report) -> Report:
    """The report with each account's scan status, gaps and OU path set, its accounts in
    reverse id order."""
    infos = [
        dataclasses.replace(
            a,
            scan_status=STATUS[a.account_id],
            scan_gaps=GAPS[a.account_id],
            ou_path=OUS[a.account_id],
        )
        for a in report.accounts
    ]
    return dataclasses.replace(
        report, accounts=tuple(sorted(infos, key=lambda a: a.account_id, reverse=True))
    )
