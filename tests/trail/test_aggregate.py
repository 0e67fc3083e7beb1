"""Aggregation rules: role assumptions across accounts, keys, console sign-ins, filters."""

from __future__ import annotations

import json

import pytest

from dormant.trail import scan
from dormant.trail.aggregate import Filters, Partial
from dormant.trail.identity import issuer_from_session_arn
from dormant.trail.records import decode

from .conftest import event, role_session, user

ROLE = "arn:aws:iam::222222222222:role/target"


def _assume(identity: dict, time: str, shared: str | None, recipient: str, **extra) -> dict:
    ev = event(
        "AssumeRole",
        "sts.amazonaws.com",
        time=time,
        identity=identity,
        requestParameters={"roleArn": ROLE, "roleSessionName": "s"},
        recipientAccountId=recipient,
        **extra,
    )
    if shared:
        ev["sharedEventID"] = shared
    return ev


def _caller_copy(n: int, time: str = "2026-01-02T03:04:05Z") -> dict:
    return _assume(user("alice", "111111111111"), time, f"shared-{n}", "111111111111")


def _owner_copy(n: int, time: str = "2026-01-02T03:04:05Z") -> dict:
    ident = {"type": "AWSAccount", "principalId": "AIDAALICE", "accountId": "111111111111"}
    return _assume(ident, time, f"shared-{n}", "222222222222")


def _scan(tmp_path, records: list[dict], **kw):
    path = tmp_path / "events.json"
    path.write_text(json.dumps({"Records": records}))
    return scan([str(path)], workers=1, **kw)


def test_cross_account_assumption_logged_in_both_accounts_counts_once(tmp_path):
    ev = _scan(tmp_path, [_caller_copy(1), _owner_copy(1), _caller_copy(2), _owner_copy(2)])
    r = ev.role(ROLE)
    assert r.count == 2
    assert [(c.caller, c.count) for c in r.callers] == [("arn:aws:iam::111111111111:user/alice", 2)]


def test_cross_account_seen_only_from_the_role_side_names_the_account(tmp_path):
    ev = _scan(tmp_path, [_owner_copy(1), _owner_copy(2, "2026-02-01T00:00:00Z")])
    r = ev.role(ROLE)
    assert (r.count, r.last_assumed) == (2, "2026-02-01T00:00:00Z")
    assert [(c.caller, c.kind) for c in r.callers] == [("account:111111111111", "AWSAccount")]


def test_cross_account_seen_only_from_the_caller_side(tmp_path):
    ev = _scan(tmp_path, [_caller_copy(1)])
    assert ev.role(ROLE).count == 1


def test_role_side_surplus_is_attributed_to_the_account(tmp_path):
    # Three assumptions in the role's log, only one of them in the caller's log.
    records = [_caller_copy(1), _owner_copy(1), _owner_copy(2), _owner_copy(3)]
    r = _scan(tmp_path, records).role(ROLE)
    assert r.count == 3
    assert {(c.caller, c.count) for c in r.callers} == {
        ("arn:aws:iam::111111111111:user/alice", 1),
        ("account:111111111111", 2),
    }


def test_failed_assumption_is_not_an_assumption(tmp_path):
    ev = _scan(tmp_path, [_caller_copy(1) | {"errorCode": "AccessDenied"}])
    assert ev.role_assumptions == ()
    (a,) = ev.principal("arn:aws:iam::111111111111:user/alice").actions
    assert (a.count, a.denied) == (0, 1)


def test_target_role_from_resources_when_request_parameters_lack_it(tmp_path):
    ev_ = event("AssumeRole", "sts.amazonaws.com", identity=user("alice"))
    ev_["resources"] = [
        {"ARN": "arn:aws:iam::111111111111:policy/p", "type": "AWS::IAM::Policy"},
        {"ARN": ROLE, "accountId": "222222222222", "type": "AWS::IAM::Role"},
    ]
    assert _scan(tmp_path, [ev_]).role(ROLE).count == 1


def test_service_caller_is_named_by_the_service(tmp_path):
    ident = {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}
    ev = _scan(tmp_path, [_assume(ident, "2026-01-02T03:04:05Z", None, "222222222222")])
    assert [c.caller for c in ev.role(ROLE).callers] == ["lambda.amazonaws.com"]
    assert ev.principal_activity == ()


def test_role_chaining_caller_is_the_role_not_the_session(tmp_path):
    ev = _scan(tmp_path, [_assume(role_session("first"), "2026-01-02T03:04:05Z", None, "1")])
    assert [c.caller for c in ev.role(ROLE).callers] == ["arn:aws:iam::111111111111:role/first"]


def test_temporary_keys_are_not_long_term_keys(tmp_path):
    asia = user("alice") | {"accessKeyId": "ASIATEMP0000000001"}
    ev = _scan(tmp_path, [event(identity=asia), event(identity=role_session("r"))])
    assert ev.access_keys == ()


def test_access_key_last_use_per_key(tmp_path):
    k1 = user("alice") | {"accessKeyId": "AKIAKEYONE000000001"}
    k2 = user("alice") | {"accessKeyId": "AKIAKEYTWO000000002"}
    records = [
        event(identity=k1, time="2026-01-01T00:00:00Z"),
        event(identity=k1, time="2026-03-01T00:00:00Z", errorCode="AccessDenied"),
        event(identity=k2, time="2026-02-01T00:00:00Z"),
    ]
    ev = _scan(tmp_path, records)
    assert [(k.access_key_id, k.last_seen, k.count) for k in ev.access_keys] == [
        ("AKIAKEYONE000000001", "2026-03-01T00:00:00Z", 2),
        ("AKIAKEYTWO000000002", "2026-02-01T00:00:00Z", 1),
    ]
    assert ev.access_key("AKIAKEYONE000000001").principal_arn.endswith(":user/alice")


def test_root_activity_and_key(tmp_path):
    root = {
        "type": "Root",
        "principalId": "111111111111",
        "arn": "arn:aws:iam::111111111111:root",
        "accountId": "111111111111",
        "accessKeyId": "AKIAROOT00000000001",
    }
    ev = _scan(tmp_path, [event(identity=root)])
    assert ev.principal("arn:aws:iam::111111111111:root").identity_types == ("Root",)
    assert ev.access_keys[0].principal_arn == "arn:aws:iam::111111111111:root"


def test_console_login_success_is_password_use(tmp_path):
    def login(result: str, time: str) -> dict:
        return event(
            "ConsoleLogin",
            "signin.amazonaws.com",
            time=time,
            identity=user("alice"),
            responseElements={"ConsoleLogin": result},
        )

    records = [
        login("Success", "2026-01-01T00:00:00Z"),
        login("Success", "2026-01-03T00:00:00Z"),
        login("Failure", "2026-01-09T00:00:00Z"),
    ]
    ev = _scan(tmp_path, records)
    assert [(c.user_arn, c.last_seen, c.count) for c in ev.console_logins] == [
        ("arn:aws:iam::111111111111:user/alice", "2026-01-03T00:00:00Z", 2)
    ]
    assert ev.console_login("arn:aws:iam::111111111111:user/alice").count == 2
    (a,) = ev.principal("arn:aws:iam::111111111111:user/alice").actions
    assert (a.count, a.denied, a.last_denied) == (2, 1, "2026-01-09T00:00:00Z")


@pytest.mark.parametrize(
    ("kw", "kept"),
    [
        ({"start": "2026-01-02"}, 2),
        ({"end": "2026-01-02"}, 2),  # a date as the end includes that day
        ({"start": "2026-01-02T12:00:00Z", "end": "2026-01-03T00:00:00Z"}, 0),
        ({"regions": ["eu-west-1"]}, 1),
        ({"accounts": ["333333333333"]}, 1),
    ],
)
def test_record_filters(tmp_path, kw, kept):
    records = [
        event(time="2026-01-01T10:00:00Z"),
        event(time="2026-01-02T10:00:00Z", awsRegion="eu-west-1"),
        event(time="2026-01-03T10:00:00Z", recipientAccountId="333333333333"),
    ]
    ev = _scan(tmp_path, records, **kw)
    alice = ev.principal("arn:aws:iam::111111111111:user/alice")
    assert (alice.count if alice else 0) == kept
    assert ev.events_filtered == 3 - kept


def test_merge_is_order_independent():
    data = json.dumps({"Records": [_caller_copy(1), _owner_copy(1), event()]}).encode()
    items, _ = decode(data)
    a, b, whole = Partial(), Partial(), Partial()
    a.add("f", items[:1])
    b.add("g", items[1:])
    whole.add("f", items)
    a.merge(b)
    b2 = Partial()
    b2.add("g", items[1:])
    a2 = Partial()
    a2.add("f", items[:1])
    b2.merge(a2)
    assert a.evidence().role_assumptions == b2.evidence().role_assumptions
    assert a.evidence().principal_activity == whole.evidence().principal_activity


def test_errors_are_capped_but_counted():
    p = Partial(filters=Filters())
    for i in range(2500):
        p.error("f", i, "bad")
    ev = p.evidence()
    assert ev.errors_total == 2500 and len(ev.errors) == 1000
    assert ev.errors[0].record == 0 and ev.errors[-1].record == 999


def test_issuer_from_session_arn():
    arn = "arn:aws-us-gov:sts::123456789012:assumed-role/app/i-123"
    assert issuer_from_session_arn(arn) == "arn:aws-us-gov:iam::123456789012:role/app"
    assert issuer_from_session_arn("arn:aws:sts::1:federated-user/bob") is None


def test_hot_groups_fold_into_keyed_groups_before_merging():
    data = json.dumps({"Records": [event(), event(time="2026-01-03T00:00:00Z")]}).encode()
    items, _ = decode(data)
    a, b = Partial(), Partial()
    a.add("f", items)
    b.add("g", items[:1])
    assert len(a.hot) == 1 and a.groups == {}
    a.merge(b)
    assert a.hot == {} and b.hot == {}
    ((key, (first, last, n)),) = a.groups.items()
    assert key[1] == "arn:aws:iam::111111111111:user/alice" and n == 3
    assert (first.day, last.day) == (2, 3)
