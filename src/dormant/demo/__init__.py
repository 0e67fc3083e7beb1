"""``dormant demo``: a fictional company's account, emulated on 127.0.0.1, scanned end to end
through the same collect and judge code as ``dormant scan``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..model import Report

REPORT_FILES = {
    "json": "report.json",
    "csv": "report.csv",
    "markdown": "report.md",
    "html": "report.html",
}
"""The reports the demo writes into its output directory, by format."""

RECOMMENDATIONS = "recommendations"
TRAIL_BUCKET = "larkspur-cloudtrail"
"""The emulated account's CloudTrail bucket (organization-style layout under AWSLogs/)."""


@dataclass(frozen=True)
class DemoResult:
    report: Report
    recommendations: Path
    """Where the least-privilege documents and commands were written."""
    policy_changes: int
    principals: int
    """Principals with a recommended change."""


def run_demo(
    out: Path,
    *,
    clock: Callable[[], dt.datetime],
    progress_enabled: bool = False,
    org: bool = False,
) -> DemoResult:
    """Seed the emulator, scan it, write the bundle, the reports and the recommendations.

    ``org``: Larkspur's account becomes the management account of an organization with four
    member accounts (:data:`.company.ORG_MEMBERS`), scanned with ``--org`` through the member
    role: one member's SCP denies a call (incomplete) and one member's role cannot be assumed
    (not scanned), so the report shows how the scan names its gaps."""
    from .. import snapshot as snapshot_mod
    from ..judge import least_privilege
    from ..model import FindingType
    from ..pipeline import collect_snapshot, judge_snapshot
    from ..policy import load_policy
    from ..sinks import recommend
    from ..sinks.formats import render
    from ..sources.aws import build_session
    from ..timeutil import parse_time
    from . import server
    from .company import DEMO_POLICY, company
    from .seed import seed

    out.mkdir(parents=True, exist_ok=True)
    policy_path = out / "policy.toml"
    policy_path.write_text(DEMO_POLICY, encoding="utf-8")
    with server.running() as emu:
        seed(emu, company(), clock())
        options = {}
        try:
            import msgspec  # noqa: F401 - the trail extra is installed: show CloudTrail too
        except ImportError:
            pass
        else:
            from .trail import write_trail

            trail = write_trail(emu, server.DEFAULT_ACCOUNT, TRAIL_BUCKET)
            options["trail_sources"] = [trail]
        session = build_session(
            region="us-east-1",
            endpoint_url=emu.endpoint_url,
            credentials=server.FAKE_CREDENTIALS,
        )
        collect = collect_snapshot
        if org:
            collect = _organization(emu, clock())
        if progress_enabled:
            from ..cli import Progress

            with Progress(True) as progress:
                snap = collect(session, clock=clock, progress=progress, options=options)
        else:
            snap = collect(session, clock=clock, options=options)
    snapshot_mod.write(snap, out / "snapshot")
    policy = load_policy(policy_path)
    report = judge_snapshot(snap, policy)
    for fmt, name in REPORT_FILES.items():
        (out / name).write_text(render(report, fmt), encoding="utf-8")
    as_of = parse_time(report.as_of)
    plans = least_privilege(snap, policy, as_of)
    written = recommend.write(
        plans,
        out / RECOMMENDATIONS,
        as_of=as_of,
        threshold_days=policy.threshold(FindingType.UNUSED_PERMISSION),
    )
    return DemoResult(report, written.root, written.policies, written.principals)


def _organization(emu, now: dt.datetime) -> Callable[..., object]:
    """Create the demo's organization around the seeded management account, inject its two
    troubles, and return the collect function of ``--org`` with the demo's member role."""
    from ..org import OrgSettings
    from ..pipeline import collect_org_snapshot
    from . import faults
    from .company import ORG_MEMBER_ROLE, ORG_MEMBERS, member_account
    from .organization import Member, seed_organization

    org = seed_organization(
        emu,
        [
            Member(name, member_account(name.split("-", 1)[1]), ou=ou)
            for name, (ou, _) in ORG_MEMBERS.items()
        ],
        now,
        role_name=ORG_MEMBER_ROLE,
        # The emulator does not enforce IAM here; tests/test_org_scanner_policy.py runs the
        # scan under enforcement with exactly deploy/readonly-policy.json on the member role.
        role_policy="ReadOnlyAccess",
    )
    _name_management_account(org.management, "larkspur-main")
    faults.deny(org.id("larkspur-sandbox"), "iam:ListUsers")
    faults.deny_assume_role(org.role_arn("larkspur-legacy"))
    settings = OrgSettings(role_name=ORG_MEMBER_ROLE)

    def collect(session, **kwargs):
        return collect_org_snapshot(session, settings=settings, **kwargs)

    return collect


def _name_management_account(account_id: str, name: str) -> None:
    """moto names the management account "master" whatever it is called; AWS keeps the name
    the account was created with."""
    from moto.organizations.models import organizations_backends

    for account in organizations_backends[account_id]["aws"].accounts:
        if account.id == account_id:
            account.name = name
