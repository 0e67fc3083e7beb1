"""The evidence from every shared sample of real (and really odd) CloudTrail data."""

from __future__ import annotations

import json

import jsonschema
import pytest

from dormant.trail import TrailEvidence, scan

from .conftest import ROOT, SAMPLES

SCHEMA = json.loads((ROOT / "docs" / "schema" / "trail-evidence.v1.json").read_text())


@pytest.fixture(scope="module")
def evidence(data_dir) -> dict[str, TrailEvidence]:
    return {name: scan([str(path)], workers=1) for name, path in SAMPLES.items()}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_validates_against_the_schema(evidence, name):
    jsonschema.validate(json.loads(evidence[name].to_json()), SCHEMA)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_json_round_trips_to_the_same_bytes(evidence, name):
    text = evidence[name].to_json()
    assert TrailEvidence.from_json(text) == evidence[name]
    assert TrailEvidence.from_json(text).to_json() == text


def test_stratus_bare_arrays_are_read_whole(evidence):
    ev = evidence["stratus"]
    # README stats: 35 files, 310 events, all with an ISO eventTime.
    assert (ev.files_read, ev.events_read, ev.events_skipped, ev.errors_total) == (35, 310, 0, 0)
    assert ev.time_range.start == "2024-07-30T21:31:10Z"
    assert ev.time_range.end == "2024-11-30T08:43:18Z"
    # 12 AssumeRole events: 8 succeeded, 4 were denied (and so assumed nothing).
    assert sum(r.count for r in ev.role_assumptions) == 8
    denied = [
        a.denied for p in ev.principal_activity for a in p.actions if a.event_name == "AssumeRole"
    ]
    assert sum(denied) == 4
    christophe = ev.principal("arn:aws:iam::056392974792:user/christophe")
    assert christophe is not None and christophe.count == 56


def test_stratus_assumed_roles_are_attributed_to_the_role(evidence):
    ev = evidence["stratus"]
    arns = {p.principal_arn for p in ev.principal_activity}
    assert not [a for a in arns if ":assumed-role/" in a]
    role = "arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role"
    assert ev.principal(role).count == 30
    assumed = ev.role(role)
    assert assumed.callers[0].caller == "arn:aws:iam::457448411975:user/christophe"
    assert assumed.callers[0].kind == "IAMUser"


def test_stratus_federated_user_is_the_user_behind_the_token(evidence):
    fed = [p for p in evidence["stratus"].principal_activity if "FederatedUser" in p.identity_types]
    assert len(fed) == 1 and ":user/" in fed[0].principal_arn


def test_stratus_lists_only_long_term_keys(evidence):
    keys = evidence["stratus"].access_keys
    assert keys and all(k.access_key_id.startswith("AKIA") for k in keys)


def test_otrf_logstash_timestamp_stands_in_for_event_time(evidence):
    ev = evidence["otrf"]
    assert (ev.events_read, ev.events_skipped) == (103, 0)
    assert ev.time_range.start == "2020-09-14T00:44:20Z"
    assert ev.time_range.end == "2020-09-14T01:13:20Z"
    assert ev.principal("arn:aws:iam::123456789123:user/pedro").count == 87
    # The instance role was assumed by EC2, a service caller.
    callers = {c.caller for r in ev.role_assumptions for c in r.callers}
    assert callers == {"ec2.amazonaws.com"}
    # pedro signed with temporary (ASIA) keys only: no long-term key evidence.
    assert ev.access_keys == ()


def test_otrf_s3_list_objects_maps_to_list_bucket(evidence):
    role = "arn:aws:iam::123456789123:role/MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0"
    actions = {a.event_name: a for a in evidence["otrf"].principal(role).actions}
    assert actions["ListObjects"].iam_action == "s3:ListBucket"
    assert actions["ListObjects"].count == 7


def test_panther_events_without_a_usable_time_are_skipped_not_guessed(evidence):
    ev = evidence["panther"]
    assert ev.events_read == 464
    # 142 events have a missing, redacted or zone-less eventTime, 2 have no userIdentity.
    time_errors = [e for e in ev.errors if e.message.startswith("no usable time")]
    assert len(time_errors) == 142
    assert ev.events_skipped == 144
    assert any("no time zone" in e.message for e in time_errors)
    assert all(e.record is not None for e in ev.errors)


def test_panther_console_logins_count_success_only(evidence):
    logins = evidence["panther"].console_logins
    assert logins
    assert all(":user/" in c.user_arn or c.user_arn.endswith(":root") for c in logins)


def test_awsdocs_cross_account_assumption_counts_once(evidence):
    ev = evidence["awsdocs"]
    r = ev.role("arn:aws:iam::111122223333:role/EC2-dev")
    # Logged in both accounts (one sharedEventID): once, by the user in the other account.
    assert r.count == 1
    assert [(c.caller, c.kind) for c in r.callers] == [
        ("arn:aws:iam::777788889999:user/JohnDoe", "IAMUser")
    ]


def test_awsdocs_role_chaining_caller_is_the_first_role(evidence):
    r = evidence["awsdocs"].role("arn:aws:iam::111111111111:role/JohnRole2")
    assert [(c.caller, c.kind) for c in r.callers] == [
        ("arn:aws:iam::111111111111:role/JohnRole1", "AssumedRole")
    ]


def test_awsdocs_saml_and_web_identity_callers(evidence):
    ev = evidence["awsdocs"]
    saml = ev.role("arn:aws:iam::444455556666:role/SAMLTestRoleShibboleth").callers[0]
    assert saml.kind == "SAMLUser"
    assert saml.identity_provider == "arn:aws:iam::444455556666:saml-provider/Shibboleth"
    assert saml.subject == "SamlExample"
    web = ev.role("arn:aws:iam::444455556666:role/FederatedWebIdentityRole").callers[0]
    assert web.kind == "WebIdentityUser"
    assert (web.identity_provider, web.subject) == ("accounts.google.com", "<id of user>")
    assert web.caller == "accounts.google.com:<id of user>"


def test_awsdocs_failed_console_logins_are_denied_not_logins(evidence):
    ev = evidence["awsdocs"]
    assert ev.console_logins == ()
    jane = ev.principal("arn:aws:iam::111122223333:user/JaneDoe")
    (login,) = [a for a in jane.actions if a.event_name == "ConsoleLogin"]
    assert (login.count, login.denied, login.iam_action) == (0, 1, None)


def test_awsdocs_never_outputs_session_tokens(evidence):
    for name in SAMPLES:
        text = evidence[name].to_json()
        assert "sessionToken" not in text and "session token" not in text


def test_malformed_fixtures_are_errors_with_file_and_record(evidence):
    ev = evidence["malformed"]
    assert ev.files_read == 12 and ev.events_read == 35 and ev.events_skipped == 35
    by_file = {e.file.rsplit("/", 1)[-1]: e for e in ev.errors if e.record is None}
    assert by_file["SerializerTestFileBadJsonFormat.json"].message.startswith("not valid JSON")
    assert any("unknown identity type" in e.message for e in ev.errors)
    assert ev.principal_activity == ()


def test_eventbridge_envelopes_are_unwrapped(evidence):
    ev = evidence["eventbridge"]
    assert (ev.files_read, ev.events_read, ev.events_skipped) == (20, 20, 1)
    assert ev.principal("arn:aws:iam::644160558196:user/Jerry").count == 2
    assert ev.principal("arn:aws:iam::619193117841:root").identity_types == ("Root",)


def test_invalid_json_as_published_by_aws_is_a_file_error(data_dir):
    path = data_dir / "awsdocs-iam-examples" / "AssumeRoleWithSAML_as_published_INVALID_JSON.txt"
    ev = scan([str(path)], workers=1)
    assert ev.events_read == 0
    assert [(e.record, e.message[:15]) for e in ev.errors] == [(None, "not valid JSON:")]


def test_output_is_the_same_bytes_whatever_the_workers(data_dir):
    paths = [str(p) for p in SAMPLES.values()]
    one = scan(paths, workers=1).to_json()
    two = scan(paths, workers=2).to_json()
    assert one == two


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_standard_library_writes_the_same_bytes_as_msgspec(evidence, name, monkeypatch):
    fast = evidence[name].to_json_bytes()
    monkeypatch.setitem(__import__("sys").modules, "msgspec", None)  # as in Lambda
    assert evidence[name].to_json_bytes() == fast


def test_write_json_writes_the_same_bytes(evidence, tmp_path):
    path = tmp_path / "ev.json"
    with open(path, "wb") as fh:
        evidence["awsdocs"].write_json(fh)
    assert path.read_bytes() == evidence["awsdocs"].to_json_bytes()
