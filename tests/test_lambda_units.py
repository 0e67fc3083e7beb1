"""The scheduled scan's pure parts: what counts as new, due or resolved; the state document;
the time budget's watchdog; cancellation of API calls."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time

import pytest

from dormant.automation.budget import Watchdog
from dormant.automation.state import State, StateError, advance, compare
from dormant.model import Finding, FindingType, PrincipalType, Report, Verdict
from dormant.sources.aws import build_session
from dormant.sources.base import Cancelled, CollectContext

T0 = dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.UTC)


def _finding(name: str, type_=FindingType.UNUSED_ROLE) -> Finding:
    return Finding(
        type=type_,
        account_id="123456789012",
        principal_arn=f"arn:aws:iam::123456789012:role/{name}",
        principal_name=name,
        principal_type=PrincipalType.ROLE,
        verdict=Verdict.UNUSED,
        reason="unused",
        threshold_days=90,
    )


def _report(*findings: Finding, excluded: tuple[Finding, ...] = ()) -> Report:
    return Report(
        as_of="2026-11-01T06:00:00Z",
        accounts=(),
        findings=tuple(findings),
        excluded=excluded,
        coverage=(),
        exceptions=(),
        thresholds={},
        policy_source=None,
        snapshot_digest=None,
    )


def test_new_quiet_due_unsent_and_resolved():
    a, b, c = _finding("a"), _finding("b"), _finding("c")
    first = _report(a, b)
    changes = compare(None, first, now=T0, reminder_days=7, partial=False)
    assert changes.new == (a, b) and not changes.resolved
    state = advance(None, first, changes, now=T0, run_id="1", notified=[a.id])  # b undelivered

    later = T0 + dt.timedelta(days=3)
    second = _report(a, b, c)
    changes = compare(state, second, now=later, reminder_days=7, partial=False)
    assert (changes.new, changes.unsent, changes.quiet, changes.due) == ((c,), (b,), (a,), ())
    state = advance(state, second, changes, now=later, run_id="2", notified=[b.id, c.id])
    assert state.findings[a.id].first_seen == "2026-11-01T06:00:00Z"
    assert state.findings[a.id].last_notified == "2026-11-01T06:00:00Z"

    week = T0 + dt.timedelta(days=7)
    changes = compare(state, _report(a, c), now=week, reminder_days=7, partial=False)
    assert changes.due == (a,) and changes.quiet == (c,)
    assert [r.tracked.id for r in changes.resolved] == [b.id]
    assert changes.resolved[0].reason.startswith("no longer reported")

    # A finding that is now excluded is resolved with the rule that excluded it.
    gone = dataclasses.replace(a, verdict=Verdict.EXCLUDED, excluded_by="policy exclusion: x")
    changes = compare(state, _report(c, excluded=(gone,)), now=week, reminder_days=0, partial=False)
    assert {r.tracked.id: r.reason for r in changes.resolved}[a.id] == (
        "now excluded (policy exclusion: x)"
    )
    assert changes.due == (), "reminder_days=0 never reminds"


def test_findings_of_an_account_this_run_could_not_read_are_kept_not_resolved():
    # An organization run in which one member's role could not be assumed: its earlier
    # findings are not reported, but nothing was learnt about them.
    from dormant.model import AccountInfo

    a = _finding("a")
    other = dataclasses.replace(
        _finding("b"),
        account_id="222222222222",
        principal_arn="arn:aws:iam::222222222222:role/b",
    )
    first = _report(a, other)
    state = advance(
        None,
        first,
        compare(None, first, now=T0, reminder_days=7, partial=False),
        now=T0,
        run_id="1",
        notified=[a.id, other.id],
    )

    def accounts(status: str) -> tuple[AccountInfo, ...]:
        return (
            AccountInfo("123456789012", None, None, None),
            AccountInfo("222222222222", None, None, None, scan_status=status),
        )

    unreached = dataclasses.replace(_report(), accounts=accounts("not-scanned"))
    changes = compare(state, unreached, now=T0, reminder_days=7, partial=False)
    assert [r.tracked.id for r in changes.resolved] == [a.id]  # its account was read
    assert [t.id for t in changes.kept] == [other.id]
    assert set(advance(state, unreached, changes, now=T0, run_id="2").findings) == {other.id}

    # Read again (complete): a finding it no longer reports is resolved.
    read = dataclasses.replace(_report(), accounts=accounts("complete"))
    changes = compare(state, read, now=T0, reminder_days=7, partial=False)
    assert {r.tracked.id for r in changes.resolved} == {a.id, other.id}


def test_a_partial_run_resolves_nothing_and_keeps_what_it_did_not_see():
    a, b = _finding("a"), _finding("b")
    report = _report(a, b)
    state = advance(
        None,
        report,
        compare(None, report, now=T0, reminder_days=7, partial=False),
        now=T0,
        run_id="1",
        notified=[a.id, b.id],
    )
    partial = _report(a)
    changes = compare(state, partial, now=T0, reminder_days=7, partial=True)
    assert changes.resolved == () and [t.id for t in changes.kept] == [b.id]
    after = advance(state, partial, changes, now=T0, run_id="2")
    assert set(after.findings) == {a.id, b.id}


def test_state_document_round_trip_and_errors():
    a = _finding("a")
    report = _report(a)
    state = advance(
        None,
        report,
        compare(None, report, now=T0, reminder_days=7, partial=False),
        now=T0,
        run_id="1",
        digest_delivered=True,
    )
    again = State.from_bytes(state.to_bytes(), "s3://b/state.json")
    assert again == state and again.last_digest_on == "2026-11-01"
    with pytest.raises(StateError, match="s3://b/state.json: not valid JSON"):
        State.from_bytes(b"{", "s3://b/state.json")
    with pytest.raises(StateError, match="not a dormant state document"):
        State.from_bytes(b"{}", "s3://b/state.json")


def test_watchdog_cancels_when_the_reserve_is_reached():
    left = iter([600_000, 500_000, 90_000, 59_000, 1_000])
    with Watchdog(lambda: next(left), reserve_s=60, poll_s=0.01) as dog:
        assert dog.cancel.wait(5), "the watchdog must fire while collection runs"
    assert dog.fired and dog.fired_with_ms == 59_000
    assert "collection stopped with 59 s left (reserve 60 s)" in dog.describe()

    with Watchdog(lambda: 600_000, reserve_s=60, poll_s=0.01) as calm:
        time.sleep(0.05)
    assert not calm.fired and not calm.cancel.is_set()

    with Watchdog(lambda: 10_000, reserve_s=60) as late:
        assert late.cancel.is_set(), "already within the reserve: cancelled before collecting"


def test_cancelled_context_makes_no_call():
    session = build_session(
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        credentials={"aws_access_key_id": "x", "aws_secret_access_key": "y"},
    )
    cancel = threading.Event()
    ctx = CollectContext(session=session, account_id="1", clock=lambda: T0, cancel=cancel)
    cancel.set()
    with pytest.raises(Cancelled):
        ctx.client("iam").list_users()
    # A later context with the same session and its own, clear, event calls again.
    fresh = CollectContext(session=session, account_id="1", clock=lambda: T0)
    iam = fresh.client("iam")
    assert iam._dormant_cancel is fresh.cancel


def test_state_write_is_conditional_and_falls_back_on_an_old_botocore():
    import botocore.exceptions

    from dormant.automation.store import Layout, StoreError, save_state

    calls = []

    class OldS3:
        def put_object(self, **kw):
            calls.append(sorted(kw))
            if "IfNoneMatch" in kw or "IfMatch" in kw:
                raise botocore.exceptions.ParamValidationError(report="Unknown parameter IfMatch")
            return {}

    save_state(OldS3(), Layout("b", "dormant"), State(), etag=None)
    assert calls == [
        ["Body", "Bucket", "ContentType", "IfNoneMatch", "Key"],
        ["Body", "Bucket", "ContentType", "Key"],
    ]

    class Raced:
        def put_object(self, **kw):
            err = {"Error": {"Code": "PreconditionFailed", "Message": "At least one"}}
            raise botocore.exceptions.ClientError(err, "PutObject")

    with pytest.raises(StoreError, match="changed by another run"):
        save_state(Raced(), Layout("b", "dormant"), State(), etag='"abc"')
