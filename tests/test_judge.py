"""The judgement's rules, one by one, on synthetic evidence in AWS's raw shapes."""

from __future__ import annotations

import datetime as dt

import pytest
from evidence import ACCOUNT, AS_OF, Builder, ago

from dormant.judge import judge
from dormant.judge.common import PASSWORD_TRACKING_START, usage_verdict
from dormant.model import Verdict
from dormant.policy import Policy, parse_policy
from dormant.sinks.formats import render


def run(b: Builder, policy: Policy | None = None, as_of=AS_OF):
    return judge(b.snapshot(), policy or Policy(), as_of)


def by(report, ftype=None, name=None):
    return [
        f
        for f in report.findings
        if (ftype is None or str(f.type) == ftype) and (name is None or f.principal_name == name)
    ]


# ----------------------------------------------------------------------- the verdict rule


@pytest.mark.parametrize(
    "idle,verdict",
    [
        (dt.timedelta(days=89), Verdict.USED),
        (dt.timedelta(days=90), Verdict.USED),  # exactly the threshold: not more than it
        (dt.timedelta(days=90, seconds=1), Verdict.UNUSED),
        (dt.timedelta(days=91), Verdict.UNUSED),
    ],
)
def test_threshold_boundary(idle, verdict):
    u = usage_verdict(
        noun="key",
        last_used=AS_OF - idle,
        created=AS_OF - dt.timedelta(days=999),
        as_of=AS_OF,
        threshold_days=90,
    )
    assert u.verdict == verdict
    assert u.is_finding == (verdict == Verdict.UNUSED)


def test_never_used_counts_from_creation():
    young = usage_verdict(
        noun="key",
        last_used=None,
        created=ago(89),
        as_of=AS_OF,
        threshold_days=90,
        tracking_start=PASSWORD_TRACKING_START,
    )
    old = usage_verdict(
        noun="key",
        last_used=None,
        created=ago(91),
        as_of=AS_OF,
        threshold_days=90,
        tracking_start=PASSWORD_TRACKING_START,
    )
    assert (young.verdict, young.is_finding) == (Verdict.NEVER_USED, False)
    assert (old.verdict, old.is_finding, old.days_unused) == (Verdict.NEVER_USED, True, 91)


def test_created_before_tracking_began_is_unused_since_tracking():
    created = dt.datetime(2012, 1, 1, tzinfo=dt.UTC)
    u = usage_verdict(
        noun="password",
        last_used=None,
        created=created,
        as_of=AS_OF,
        threshold_days=90,
        tracking_start=PASSWORD_TRACKING_START,
    )
    assert u.verdict == Verdict.UNUSED
    assert u.days_unused == (AS_OF - PASSWORD_TRACKING_START).days
    # ...but if tracking covers less than the threshold, the evidence cannot tell.
    early = PASSWORD_TRACKING_START + dt.timedelta(days=30)
    u = usage_verdict(
        noun="password",
        last_used=None,
        created=created,
        as_of=early,
        threshold_days=90,
        tracking_start=PASSWORD_TRACKING_START,
    )
    assert u.verdict == Verdict.INSUFFICIENT_EVIDENCE


def test_role_tracking_window_of_400_days():
    u = usage_verdict(
        noun="role",
        last_used=None,
        created=ago(900),
        as_of=AS_OF,
        threshold_days=90,
        window_days=400,
    )
    assert (u.verdict, u.days_unused) == (Verdict.UNUSED, 400)
    longer = usage_verdict(
        noun="role",
        last_used=None,
        created=ago(900),
        as_of=AS_OF,
        threshold_days=500,
        window_days=400,
    )
    assert longer.verdict == Verdict.INSUFFICIENT_EVIDENCE


# -------------------------------------------------------------------- sources disagree


def test_latest_use_wins_and_every_source_is_kept():
    b = Builder().user("ann", 500, keys=[("AKIAANN1", 400, 200, True)])
    # The report says the key was used 10 days ago; GetAccessKeyLastUsed says 200.
    b.report_rows[-1] = b.report_rows[-1].replace(
        ago(200).strftime("%Y-%m-%dT%H:%M:%S+00:00"), ago(10).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    )
    report = run(b)
    assert not by(report, "UnusedIAMUserAccessKey")
    rot = by(report, "UnrotatedIAMUserAccessKey")[0]
    sources = {o.source for o in rot.evidence}
    assert {"GetAccessKeyLastUsed", "credential_report", "ListAccessKeys"} <= sources
    assert rot.last_used.startswith(ago(10).date().isoformat())


def test_key_last_use_denied_falls_back_to_the_report_slot():
    b = Builder().user("ann", 500, keys=[("AKIAANN1", 300, 200, True)])
    b.fail("access_keys", "GetAccessKeyLastUsed", target="AKIAANN1")
    f = by(run(b), "UnusedIAMUserAccessKey")[0]
    assert f.verdict == Verdict.UNUSED and f.access_key_id == "AKIAANN1"
    assert any(o.source == "credential_report" for o in f.evidence)


def test_key_last_use_denied_without_report_is_insufficient():
    b = Builder().user("ann", 500, keys=[("AKIAANN1", 300, 200, True)])
    b.fail("access_keys", "GetAccessKeyLastUsed", target="AKIAANN1")
    b.report_generated = None
    f = by(run(b), "UnusedIAMUserAccessKey")[0]
    assert f.verdict == Verdict.INSUFFICIENT_EVIDENCE


def test_list_access_keys_denied_uses_report_slots_without_key_ids():
    b = Builder().user("ann", 500, keys=[("AKIAANN1", 300, 200, True)])
    b.fail("access_keys", "ListAccessKeys", target="ann")
    f = by(run(b), "UnusedIAMUserAccessKey")[0]
    assert (f.verdict, f.access_key_id, f.key_slot) == (Verdict.UNUSED, None, 1)


def test_report_is_not_trusted_for_users_created_after_it():
    # The report was generated 1 day ago; bob was created after it (half a day ago, so the
    # report row is a namesake's). ListAccessKeys failed: nothing may be judged from the row.
    b = Builder().user("bob", 0.5, keys=[("AKIABOB1", 0.5, None, True)])
    b.report_generated = 1
    b.report_rows[-1] = b.report_rows[-1].replace(",true,", ",true,", 1)
    b.fail("access_keys", "ListAccessKeys", target="bob")
    f = by(run(b), "UnusedIAMUserAccessKey", "bob")[0]
    assert f.verdict == Verdict.INSUFFICIENT_EVIDENCE
    assert "no credential report row covers the user" in f.reason


def test_namesake_row_with_other_creation_time_is_ignored():
    b = Builder().user("carol", 50, keys=[("AKIACAR1", 50, None, True)])
    # The report's carol was created 400 days ago: another user of the same name.
    b.report_rows[-1] = b.report_rows[-1].replace(
        ago(50).strftime("%Y-%m-%dT%H:%M:%S+00:00"), ago(400).strftime("%Y-%m-%dT%H:%M:%S+00:00"), 1
    )
    b.fail("access_keys", "ListAccessKeys", target="carol")
    f = by(run(b), "UnusedIAMUserAccessKey", "carol")[0]
    assert f.verdict == Verdict.INSUFFICIENT_EVIDENCE


def test_login_profile_denied_falls_back_to_report_then_insufficient():
    b = Builder().user("dan", 500, password=400, password_last_used=200)
    b.fail("users", "GetLoginProfile", target="dan")
    f = by(run(b), "UnusedIAMUserPassword", "dan")[0]
    assert f.verdict == Verdict.UNUSED
    b.report_generated = None
    f = by(run(b), "UnusedIAMUserPassword", "dan")[0]
    assert f.verdict == Verdict.INSUFFICIENT_EVIDENCE
    assert "GetLoginProfile" in f.reason


def test_password_use_before_the_current_login_profile_does_not_count():
    b = Builder().user("eve", 500, password=200, password_last_used=300)
    f = by(run(b), "UnusedIAMUserPassword", "eve")[0]
    assert f.verdict == Verdict.NEVER_USED and f.days_unused == 200
    notes = [o.note for o in f.evidence if o.note]
    assert any("predates" in n for n in notes)


def test_deleted_login_profile_is_not_a_password_finding():
    b = Builder().user("fay", 500, password="none", password_last_used=300)
    report = run(b)
    assert not by(report, "UnusedIAMUserPassword")
    inactive = by(report, "InactiveIAMUser", "fay")[0]
    assert inactive.verdict == Verdict.UNUSED and inactive.days_unused == 300


# ------------------------------------------------------------------------------ root


def test_root_without_report_is_insufficient_not_silent():
    b = Builder()
    b.report_generated = None
    report = run(b)
    root = {str(f.type): f for f in report.findings if f.principal_name == "<root_account>"}
    assert root["RootRecentlyUsed"].verdict == Verdict.INSUFFICIENT_EVIDENCE
    assert root["RootAccessKeyPresent"].verdict == Verdict.INSUFFICIENT_EVIDENCE


def test_root_row_missing_from_report():
    b = Builder()
    b.root_row = None
    report = run(b)
    rr = [f for f in report.findings if str(f.type) == "RootRecentlyUsed"][0]
    assert "no <root_account> row" in rr.reason


# ------------------------------------------------------------- coverage and exclusions


def test_roles_denied_is_one_insufficient_finding_not_silence():
    b = Builder().role("r1", 500)
    b.fail("authorization_details", "GetAccountAuthorizationDetails")
    snap = b.snapshot()
    snap.accounts[0].sources["authorization_details"].raw = {}
    report = judge(snap, Policy(), AS_OF)
    roles = by(report, "UnusedIAMRole")
    assert len(roles) == 1 and roles[0].verdict == Verdict.INSUFFICIENT_EVIDENCE
    assert roles[0].principal_arn == f"arn:aws:iam::{ACCOUNT}:role/*"


def test_allow_list_by_tag_and_type_and_expiry():
    b = (
        Builder()
        .role("kept", 500, tags={"keep": "yes"})
        .role("kept-expired", 500, tags={"keep": "old"})
        .user("u", 500, keys=[("AKIAU1", 300, 200, True)], tags={"keep": "yes"})
    )
    policy = Policy(
        parse_policy(
            '[[allow]]\ntag = "keep=yes"\nowner = "o"\nreason = "r"\nexpires = 2027-01-01\n'
            'types = ["UnusedIAMRole"]\n'
            '[[allow]]\ntag = "keep=old"\nowner = "o"\nreason = "r"\nexpires = 2026-01-01\n',
            "p",
        )
    )
    report = run(b, policy)
    assert [f.principal_name for f in report.excluded] == ["kept"]
    assert {f.principal_name for f in by(report, "UnusedIAMRole")} == {"kept-expired"}
    assert by(report, "UnusedIAMUserAccessKey", "u")  # the type filter left the key alone
    assert [e.expired for e in report.exceptions] == [False, True]


def test_same_input_same_bytes():
    b = (
        Builder()
        .user(
            "a",
            500,
            password=400,
            password_last_used=200,
            keys=[("AKIAA1", 400, None, True), ("AKIAA2", 100, 5, True)],
        )
        .role("r", 500, 300)
    )
    outputs = {render(run(b), fmt) for fmt in ("json",) for _ in range(3)}
    assert len(outputs) == 1
