"""Every shape CloudTrail data arrives in, and bad input that must cost only itself."""

from __future__ import annotations

import gzip
import json

from dormant.trail import scan

from .conftest import event, role_session, user, write_gz


def _one(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return scan([str(path)], workers=1)


def _alice(ev):
    return ev.principal("arn:aws:iam::111111111111:user/alice")


def test_records_file_gzipped_told_by_magic_not_name(tmp_path):
    data = gzip.compress(json.dumps({"Records": [event(), event()]}).encode())
    ev = _one(tmp_path, "no-suffix", data)
    assert _alice(ev).count == 2


def test_records_file_plain(tmp_path):
    ev = _one(tmp_path, "a.json", json.dumps({"Records": [event()]}).encode())
    assert _alice(ev).count == 1


def test_bare_array(tmp_path):
    ev = _one(tmp_path, "a.json", json.dumps([event(), event(), event()]).encode())
    assert _alice(ev).count == 3


def test_json_lines(tmp_path):
    lines = "\n".join(json.dumps(e) for e in [event(), event()]) + "\n\n"
    ev = _one(tmp_path, "a.jsonl", lines.encode())
    assert _alice(ev).count == 2


def test_json_lines_with_a_bad_line_keep_the_others(tmp_path):
    lines = json.dumps(event()) + "\n{not json\n" + json.dumps(event()) + "\n"
    ev = _one(tmp_path, "a.jsonl", lines.encode())
    assert _alice(ev).count == 2
    assert [(e.record, e.message[:20]) for e in ev.errors] == [(1, "record is not valid ")]
    assert ev.events_skipped == 1


def test_eventbridge_envelope(tmp_path):
    env = {"version": "0", "detail-type": "AWS API Call via CloudTrail", "detail": event()}
    ev = _one(tmp_path, "a.json", json.dumps(env).encode())
    assert _alice(ev).count == 1


def test_lookup_events_result_with_event_as_json_text(tmp_path):
    page = {"Events": [{"EventId": "1", "CloudTrailEvent": json.dumps(event())}]}
    ev = _one(tmp_path, "a.json", json.dumps(page).encode())
    assert _alice(ev).count == 1


def test_truncated_gzip_is_a_file_error_and_the_rest_is_read(tmp_path):
    good = write_gz(tmp_path / "good.json.gz", [event()])
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(gzip.compress(json.dumps({"Records": [event()] * 50}).encode())[:-40])
    ev = scan([str(tmp_path)], workers=1)
    assert _alice(ev).count == 1
    assert [(e.file, e.record) for e in ev.errors] == [(str(bad), None)]
    assert "gzip" in ev.errors[0].message
    assert str(good) not in {e.file for e in ev.errors}


def test_a_file_that_is_not_json(tmp_path):
    ev = _one(tmp_path, "a.json", b"hello, world")
    assert ev.errors[0].record is None
    assert ev.errors[0].message.startswith("not JSON")


def test_record_without_user_identity_is_skipped_with_its_index(tmp_path):
    no_ui = event()
    del no_ui["userIdentity"]
    ev = _one(tmp_path, "a.json", json.dumps({"Records": [event(), no_ui]}).encode())
    assert ev.events_skipped == 1
    assert [(e.record, e.message) for e in ev.errors] == [(1, "the record has no userIdentity")]


def test_unknown_identity_type_is_skipped(tmp_path):
    odd = event(identity={"type": "Martian", "arn": "x"})
    ev = _one(tmp_path, "a.json", json.dumps([odd, event()]).encode())
    assert ev.events_skipped == 1
    assert ev.errors[0].message == "unknown identity type 'Martian'"
    assert _alice(ev).count == 1


def test_odd_field_type_costs_only_that_record(tmp_path):
    odd = event(errorCode=12)
    ev = _one(tmp_path, "a.json", json.dumps({"Records": [event(), odd, event()]}).encode())
    assert _alice(ev).count == 2
    assert ev.errors[0].record == 1
    assert "wrong type" in ev.errors[0].message


def test_time_without_zone_is_not_guessed(tmp_path):
    ev = _one(tmp_path, "a.json", json.dumps([event(time="2026-01-02 03:04:05")]).encode())
    assert ev.events_skipped == 1
    assert "no time zone" in ev.errors[0].message
    assert ev.principal_activity == ()


def test_times_with_offsets_and_fractions_are_utc_seconds(tmp_path):
    ev = _one(
        tmp_path,
        "a.json",
        json.dumps([event(time="2026-01-02T05:04:05.250+02:00")]).encode(),
    )
    assert _alice(ev).last_seen == "2026-01-02T03:04:05Z"


def test_session_tokens_in_responses_are_never_output(tmp_path):
    resp = {"credentials": {"sessionToken": "SECRET-TOKEN-VALUE", "accessKeyId": "ASIAX"}}
    ev_ = event(
        "AssumeRole",
        "sts.amazonaws.com",
        requestParameters={"roleArn": "arn:aws:iam::111111111111:role/r"},
        responseElements=resp,
    )
    ev = _one(tmp_path, "a.json", json.dumps([ev_]).encode())
    assert ev.role("arn:aws:iam::111111111111:role/r").count == 1
    assert "SECRET-TOKEN-VALUE" not in ev.to_json()


def test_folder_walk_reads_data_files_only(tmp_path):
    write_gz(tmp_path / "x" / "a.json.gz", [event()])
    (tmp_path / "x" / "README.txt").write_text("not data")
    (tmp_path / "x" / "b.csv").write_text("a,b")
    ev = scan([str(tmp_path)], workers=1)
    assert ev.files_read == 1 and ev.errors == ()


def test_missing_session_issuer_falls_back_to_the_session_arn(tmp_path):
    ident = role_session("deployer")
    del ident["sessionContext"]
    ev = _one(tmp_path, "a.json", json.dumps([event(identity=ident)]).encode())
    assert [p.principal_arn for p in ev.principal_activity] == [
        "arn:aws:iam::111111111111:role/deployer"
    ]


def test_denied_calls_prove_use_but_are_not_successful_use(tmp_path):
    events = [
        event("GetUser", time="2026-01-01T00:00:00Z"),
        event("GetUser", time="2026-01-05T00:00:00Z", errorCode="AccessDenied"),
    ]
    ev = _one(tmp_path, "a.json", json.dumps(events).encode())
    alice = _alice(ev)
    assert alice.last_seen == "2026-01-05T00:00:00Z" and alice.count == 2
    (a,) = alice.actions
    assert (a.count, a.last_seen, a.denied, a.last_denied) == (
        1,
        "2026-01-01T00:00:00Z",
        1,
        "2026-01-05T00:00:00Z",
    )


def test_user_helper_identities_keep_their_keys(tmp_path):
    ev = _one(tmp_path, "a.json", json.dumps([event(identity=user("bob"))]).encode())
    assert [k.access_key_id for k in ev.access_keys] == ["AKIABOB0000000000000"]


def test_many_bad_records_keep_their_positions(tmp_path):
    records = [event(identity={"type": "Martian"}) if i % 3 == 0 else event() for i in range(3000)]
    ev = _one(tmp_path, "a.json", json.dumps({"Records": records}).encode())
    assert ev.events_skipped == 1000 and ev.errors_total == 1000
    assert [e.record for e in ev.errors] == list(range(0, 3000, 3))
    assert _alice(ev).count == 2000


def test_logstash_timestamps_keep_every_event(tmp_path):
    lines = []
    for _ in range(500):
        e = event(time="2026-01-02T03:04:05Z")
        e["@timestamp"] = e.pop("eventTime")
        lines.append(json.dumps(e))
    ev = _one(tmp_path, "a.jsonl", "\n".join(lines).encode())
    assert _alice(ev).count == 500 and ev.errors == ()


def test_undecodable_lookup_event_text_is_skipped_with_its_position(tmp_path):
    page = {
        "Events": [
            {"CloudTrailEvent": json.dumps(event())},
            {"CloudTrailEvent": "{not json"},
            {"CloudTrailEvent": json.dumps(event())},
        ]
    }
    ev = _one(tmp_path, "a.json", json.dumps(page).encode())
    assert _alice(ev).count == 2
    assert [(e.record, e.message) for e in ev.errors] == [
        (1, "LookupEvents CloudTrailEvent is not a decodable event")
    ]
