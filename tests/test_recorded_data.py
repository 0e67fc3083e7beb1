"""The parsers on real AWS responses: every credential report and every recorded user, key and
role response in ../shared/data must parse, special values and oddities included."""

from __future__ import annotations

import json
import threading

import botocore.session
import pytest
from botocore.stub import Stubber
from placebo import load, recordings

from dormant.judge.common import usage_verdict  # noqa: F401  (imported to fail loudly if moved)
from dormant.sources import access_keys, authorization, credential_report, users
from dormant.sources.aws import AccountSession
from dormant.sources.base import CollectContext, jsonable


def test_every_extracted_credential_report_parses(shared_data):
    files = sorted(
        (shared_data / "custodian-placebo-iam" / "extracted_credential_reports").glob("*.csv")
    )
    assert len(files) == 9
    rows = 0
    specials: set[str] = set()
    for f in files:
        report = credential_report.parse(f.read_bytes(), where=str(f))
        rows += len(report.rows)
        for r in report.rows:
            assert r.arn.startswith("arn:aws:iam::")
            specials.add(r.password_last_used.raw if r.password_last_used.time is None else "")
            for k in r.keys:
                if k.active is None:
                    pytest.fail(f"{f}: key active flag not read: {r.user}")
    assert rows == 65
    assert {"N/A", "no_information"} <= specials


def test_special_values_and_oddities(shared_data):
    base = shared_data / "custodian-placebo-iam" / "extracted_credential_reports"
    rep = credential_report.parse(
        (base / "test_account_credential_report__iam.GetCredentialReport_1.csv").read_text()
    )
    root = rep.root
    assert root is not None and root.is_root and root.user == "<root_account>"
    assert root.password_enabled is None  # not_supported
    andrew = rep.user("andrew")
    assert andrew.password_enabled is True
    assert andrew.keys[0].last_used.raw == "N/A" and andrew.keys[0].last_used.time is None
    assert andrew.keys[1].last_used_service == "ec2"
    # Upper-case TRUE/FALSE in one recording.
    odd = credential_report.parse(
        (
            base / "test_iam_user_credential_reverse_filter_delete__iam.GetCredentialReport_1.csv"
        ).read_text()
    )
    z = odd.user("zscholl")
    assert z.password_enabled is False and z.keys[0].active is True
    assert z.user_creation_time.year == 2099  # a test trick kept verbatim


def test_every_recorded_get_credential_report_parses(shared_data):
    recs = recordings(shared_data / "custodian-placebo-iam", "GetCredentialReport")
    ok = [(p, d) for p, code, d in recs if code == 200]
    errors = {d["Error"]["Code"] for _, code, d in recs if code != 200}
    assert errors == {"ReportNotPresent", "ReportInProgress"}
    assert ok
    for path, data in ok:
        raw = jsonable(data)
        report = credential_report.parse_raw(raw, where=str(path))
        assert report.generated_time is not None
        assert report.rows


def test_cloudmapper_report_json(shared_data):
    doc = json.loads(
        (shared_data / "cloudmapper-demo-iam" / "iam-get-credential-report.json").read_text()
    )
    report = credential_report.parse(doc["Content"], doc["GeneratedTime"])
    assert report.root.keys[0].active is True
    assert report.root.keys[0].last_used_service == "ecr"
    assert [r.user for r in report.rows] == ["<root_account>", "auditor_tmp", "user"]


def _stubbed_context(responses):
    """A CollectContext whose IAM client replays recorded responses through botocore's
    Stubber (which checks each against the service model)."""
    session = botocore.session.get_session()
    client = session.create_client(
        "iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    for op, code, data in responses:
        if code == 200:
            body = {k: v for k, v in data.items() if k != "ResponseMetadata"}
            if op == "get_credential_report":
                body["Content"] = body["Content"].encode()
            stub.add_response(op, body)
        else:
            stub.add_client_error(
                op, service_error_code=data["Error"]["Code"], http_status_code=code
            )
    stub.activate()

    class _Session(AccountSession):
        def client(self, service, region=None):
            return client

    import datetime as dt

    sleeps: list[float] = []
    ctx = CollectContext(
        session=_Session(session=None),
        account_id="619193117841",
        clock=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        sleep=sleeps.append,
        cancel=threading.Event(),
    )
    return ctx, stub, sleeps


@pytest.mark.parametrize(
    "test_name", ["test_iam_user_unused_keys", "test_iam_user_unused_keys_report_in_progress"]
)
def test_collect_replays_the_recorded_generate_and_poll(shared_data, test_name):
    folder = shared_data / "custodian-placebo-iam" / test_name
    seq = [("generate_credential_report", *load(folder / "iam.GenerateCredentialReport_1.json"))]
    for n in (1, 2):
        seq.append(("get_credential_report", *load(folder / f"iam.GetCredentialReport_{n}.json")))
    ctx, stub, sleeps = _stubbed_context(seq)
    result = credential_report.collect(ctx)
    assert str(result.status) == "read", result.errors
    stub.assert_no_pending_responses()
    assert sleeps, "it waited between polls"
    report = credential_report.parse_raw(result.raw)
    assert report.user("charmworld").keys[0].active is True


def test_recorded_users_parse_with_password_last_used(shared_data):
    base = shared_data / "custodian-placebo-iam"
    batches = [d["Users"] for _, code, d in recordings(base, "ListUsers") if code == 200]
    batches += [[d["User"]] for _, code, d in recordings(base, "GetUser") if code == 200]
    assert sum(len(b) for b in batches) == 108
    seen_with_pw = 0
    for batch in batches:
        parsed = users.parse_raw({"ListUsers": {"Users": jsonable(batch)}})
        for record in batch:
            got = parsed.users[record["Arn"]].password_last_used
            if "PasswordLastUsed" in record:
                seen_with_pw += 1
                assert got == record["PasswordLastUsed"]
            else:
                assert got is None
    assert seen_with_pw == 31


def test_recorded_login_profiles(shared_data):
    recs = recordings(shared_data / "custodian-placebo-iam", "GetLoginProfile")
    assert recs
    for path, code, data in recs:
        name = "u"
        raw = {
            "ListUsers": {
                "Users": [
                    {
                        "UserName": name,
                        "Arn": "arn:aws:iam::1:user/u",
                        "UserId": "X",
                        "Path": "/",
                        "CreateDate": "2020-01-01T00:00:00Z",
                    }
                ]
            },
            "GetLoginProfile": {
                name: jsonable(data) if code == 200 else {"Error": {"Code": data["Error"]["Code"]}}
            },
        }
        state = users.parse_raw(raw).users["arn:aws:iam::1:user/u"].login_profile
        if code == 200:
            assert state.exists is True and state.created is not None, path
        else:
            assert data["Error"]["Code"] == "NoSuchEntity"
            assert state.exists is False


def test_recorded_access_keys_parse(shared_data):
    recs = recordings(shared_data / "custodian-placebo-iam", "ListAccessKeys")
    assert len(recs) == 14
    listed = {}
    for path, code, data in recs:
        assert code == 200, path
        for m in data["AccessKeyMetadata"]:
            listed.setdefault(m["UserName"], []).append(jsonable(m))
    parsed = access_keys.parse_raw({"ListAccessKeys": listed, "GetAccessKeyLastUsed": {}})
    assert parsed.keys
    for k in parsed.keys.values():
        assert k.status in ("Active", "Inactive")
        assert k.created is not None
        assert k.last_used is None  # not read: never assumed unused


def test_documented_get_access_key_last_used_shape():
    # The only published GetAccessKeyLastUsed response (AWS CLI docs).
    resp = {
        "UserName": "Bob",
        "AccessKeyLastUsed": {
            "Region": "us-east-1",
            "ServiceName": "iam",
            "LastUsedDate": "2015-06-16T22:45:00Z",
        },
    }
    parsed = access_keys.parse_raw(
        {
            "ListAccessKeys": {
                "Bob": [
                    {
                        "UserName": "Bob",
                        "AccessKeyId": "ABCDEXAMPLE",
                        "Status": "Active",
                        "CreateDate": "2015-01-01T00:00:00Z",
                    }
                ]
            },
            "GetAccessKeyLastUsed": {"ABCDEXAMPLE": resp},
        }
    )
    lu = parsed.keys["ABCDEXAMPLE"].last_used
    assert lu.last_used.isoformat() == "2015-06-16T22:45:00+00:00"
    assert (lu.service, lu.region) == ("iam", "us-east-1")


def test_recorded_roles_with_role_last_used(shared_data):
    roles = []
    for op, key in (("GetRole", "Role"), ("ListRoles", "Roles")):
        for _, code, data in recordings(shared_data / "custodian-placebo-iam", op):
            if code == 200:
                roles += data[key] if isinstance(data[key], list) else [data[key]]
    assert len(roles) == 110
    parsed = authorization.parse_raw({"RoleDetailList": jsonable(roles)})
    with_use = [r for r in roles if (r.get("RoleLastUsed") or {}).get("LastUsedDate")]
    assert len(with_use) == 15
    for r in with_use:
        assert parsed.roles[r["Arn"]].last_used is not None


@pytest.mark.parametrize(
    "folder,users_n,roles_n,used_n",
    [
        ("cloudsplaining-authz-details/example-account-authorization-details.json", 44, 78, 26),
        ("cloudmapper-demo-iam/iam-get-account-authorization-details.json", None, None, None),
    ],
)
def test_account_authorization_details_dumps(shared_data, folder, users_n, roles_n, used_n):
    doc = json.loads((shared_data / folder).read_text())
    parsed = authorization.parse_raw(doc)
    assert parsed.read
    if users_n is not None:
        assert len(parsed.users) == users_n
        assert len(parsed.roles) == roles_n
        assert sum(1 for r in parsed.roles.values() if r.last_used) == used_n
    assert parsed.roles and all(r.created for r in parsed.roles.values())
