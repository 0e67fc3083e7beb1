"""CloudTrail in the judgement: it adds uses (latest wins, its value in the evidence) and
says who assumed each role; it never makes anything unused on its own."""

from __future__ import annotations

from evidence import ACCOUNT, AS_OF, Builder, arn, t

from dormant.judge import judge
from dormant.model import Verdict
from dormant.policy import Policy
from dormant.sources.base import SourceResult, SourceStatus
from dormant.trail.evidence import (
    AccessKeyUse,
    ConsoleLoginUse,
    PrincipalActivity,
    RoleAssumption,
    RoleCaller,
    TimeRange,
    TrailEvidence,
)

ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def with_trail(b: Builder, evidence: TrailEvidence):
    snap = b.snapshot()
    res = SourceResult(
        name="cloudtrail", raw={"sources": ["s3://trail/AWSLogs/"], "evidence": evidence.to_dict()}
    )
    res.status = SourceStatus.READ
    res.finished_at = t(0)
    snap.accounts[0].sources["cloudtrail"] = res
    return judge(snap, Policy(), AS_OF)


def trail(**kw) -> TrailEvidence:
    return TrailEvidence(events_read=100, time_range=TimeRange(t(400), t(0)), **kw)


def find(report, ftype, name):
    return [f for f in report.findings if str(f.type) == ftype and f.principal_name == name]


def test_a_later_key_use_in_cloudtrail_wins():
    b = Builder().user("ann", 500, keys=[("AKIAANN1", 300, 200, True)])
    b.report_generated = None  # GetAccessKeyLastUsed alone says 200 days
    plain = with_trail(b, trail())
    assert find(plain, "UnusedIAMUserAccessKey", "ann")[0].verdict == Verdict.UNUSED
    report = with_trail(b, trail(access_keys=(AccessKeyUse("AKIAANN1", arn("ann"), t(10), 42),)))
    assert not find(report, "UnusedIAMUserAccessKey", "ann")
    assert not find(report, "InactiveIAMUser", "ann")


def test_cloudtrail_alone_proves_use_but_never_non_use():
    b = Builder().user("ann", 500, keys=[("AKIAANN1", 300, 200, True)])
    b.fail("access_keys", "GetAccessKeyLastUsed", target="AKIAANN1")
    b.report_generated = None
    recent = with_trail(b, trail(access_keys=(AccessKeyUse("AKIAANN1", arn("ann"), t(5), 3),)))
    assert not find(recent, "UnusedIAMUserAccessKey", "ann")
    old = with_trail(b, trail(access_keys=(AccessKeyUse("AKIAANN1", arn("ann"), t(200), 3),)))
    [f] = find(old, "UnusedIAMUserAccessKey", "ann")
    assert f.verdict == Verdict.INSUFFICIENT_EVIDENCE  # not "unused": the trail may miss uses
    assert "CloudTrail last saw it" in f.reason


def test_console_login_is_password_use():
    b = Builder().user("bo", 500, password=400, password_last_used=200)
    assert find(with_trail(b, trail()), "UnusedIAMUserPassword", "bo")
    report = with_trail(b, trail(console_logins=(ConsoleLoginUse(arn("bo"), t(3), 9),)))
    assert not find(report, "UnusedIAMUserPassword", "bo")


def test_any_event_of_a_user_keeps_it_from_being_inactive():
    b = Builder().user("cy", 500, password="none", password_last_used=300)
    assert find(with_trail(b, trail()), "InactiveIAMUser", "cy")
    denied_recently = trail(
        principal_activity=(PrincipalActivity(arn("cy"), ("IAMUser",), t(4), 1),)
    )
    assert not find(with_trail(b, denied_recently), "InactiveIAMUser", "cy")


def test_role_use_and_who_assumed_it():
    b = Builder().role("app", 900)  # nothing in RoleLastUsed for 400 days
    callers = (
        RoleCaller("account:210987654321", "AWSAccount", t(150), 7),
        RoleCaller("ec2.amazonaws.com", "AWSService", t(120), 30),
    )
    report = with_trail(b, trail(role_assumptions=(RoleAssumption(ROLE, t(120), 37, callers),)))
    [f] = find(report, "UnusedIAMRole", "app")
    assert f.verdict == Verdict.UNUSED and f.days_unused == 120  # latest wins: 120, not 400
    assert [c["caller"] for c in f.details["assumed_by"]] == [
        "ec2.amazonaws.com",
        "account:210987654321",
    ]
    assert any(o.source == "cloudtrail" for o in f.evidence)
    [row] = report.role_assumptions
    assert (row.role_name, row.verdict, row.finding_id) == ("app", "unused", f.id)


def test_a_role_assumed_recently_is_used_and_listed():
    b = Builder().role("app", 900)
    # The trail spells the role with a path and other case: IAM names ignore both.
    odd = f"arn:aws:iam::{ACCOUNT}:role/service/APP"
    report = with_trail(
        b,
        trail(
            role_assumptions=(
                RoleAssumption(
                    odd, t(2), 1, (RoleCaller("lambda.amazonaws.com", "AWSService", t(2), 1),)
                ),
            )
        ),
    )
    assert not find(report, "UnusedIAMRole", "app")
    assert [(r.role_name, r.verdict) for r in report.role_assumptions] == [("app", "used")]


def test_sessions_of_a_role_are_its_use():
    b = Builder().role("app", 900)
    session_activity = trail(
        principal_activity=(
            PrincipalActivity(
                f"arn:aws:sts::{ACCOUNT}:assumed-role/app/i-0abc", ("AssumedRole",), t(1), 5
            ),
        )
    )
    assert not find(with_trail(b, session_activity), "UnusedIAMRole", "app")


def test_root_use_from_cloudtrail_without_the_credential_report():
    b = Builder()
    b.report_generated = None
    report = with_trail(b, trail(console_logins=(ConsoleLoginUse(ROOT, t(5), 1),)))
    [f] = [x for x in report.findings if str(x.type) == "RootRecentlyUsed"]
    assert f.verdict == Verdict.USED and f.days_unused == 5


def test_an_empty_trail_is_a_warning():
    b = Builder().user("ann", 500)
    report = with_trail(b, TrailEvidence())
    assert any("held no event" in w for w in report.warnings)
