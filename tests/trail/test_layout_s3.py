"""CloudTrail's S3 layout: pruning by key name, locally and in S3 (moto server)."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest

from dormant.trail import scan
from dormant.trail.layout import Prune, keep_key, parse_key
from dormant.trail.sources import S3Source

from .conftest import client, event

ORG = "o-abcdefghij"
A1, A2 = "111111111111", "222222222222"


def _key(account: str, region: str, day: str, org: bool = False, n: int = 0) -> str:
    y, m, d = day.split("-")
    base = f"trail/AWSLogs/{ORG}/{account}" if org else f"trail/AWSLogs/{account}"
    name = f"{account}_CloudTrail_{region}_{y}{m}{d}T0000Z_{n}.json.gz"
    return f"{base}/CloudTrail/{region}/{y}/{m}/{d}/{name}"


CORPUS = {
    _key(A1, "us-east-1", "2026-01-01"): "2026-01-01T01:00:00Z",
    _key(A1, "us-east-1", "2026-01-02"): "2026-01-02T01:00:00Z",
    _key(A1, "us-east-1", "2026-01-03"): "2026-01-03T01:00:00Z",
    _key(A1, "eu-west-1", "2026-01-02"): "2026-01-02T02:00:00Z",
    _key(A2, "us-east-1", "2026-01-02", org=True): "2026-01-02T03:00:00Z",
    _key(A2, "eu-west-1", "2026-01-03", org=True): "2026-01-03T03:00:00Z",
}
DIGEST = f"trail/AWSLogs/{A1}/CloudTrail-Digest/us-east-1/2026/01/02/{A1}_digest.json.gz"


def _body(key: str, time: str) -> bytes:
    info = parse_key(key)
    ident = {
        "type": "IAMUser",
        "arn": f"arn:aws:iam::{info.account}:user/u",
        "accountId": info.account,
        "accessKeyId": f"AKIA{info.account}0001",
    }
    ev = event(time=time, identity=ident, awsRegion=info.region, recipientAccountId=info.account)
    return gzip.compress(json.dumps({"Records": [ev]}).encode())


def test_parse_key_plain_and_organization():
    assert parse_key(_key(A1, "us-east-1", "2026-01-02")) is not None
    info = parse_key(_key(A2, "eu-west-1", "2026-01-03", org=True))
    assert (info.account, info.region, info.day) == (A2, "eu-west-1", dt.date(2026, 1, 3))
    assert parse_key(DIGEST) is None
    assert not keep_key(DIGEST, Prune())
    assert keep_key("anything/else.json", Prune(accounts=frozenset({A1})))


@pytest.fixture
def local_tree(tmp_path):
    for key, time in CORPUS.items():
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_body(key, time))
    digest = tmp_path / DIGEST
    digest.parent.mkdir(parents=True, exist_ok=True)
    digest.write_bytes(b"not a log file")
    return tmp_path


PRUNING = [
    ({}, 6),
    ({"accounts": [A2]}, 2),
    ({"regions": ["eu-west-1"]}, 2),
    ({"start": "2026-01-02", "end": "2026-01-02"}, 3),
    ({"accounts": [A1], "regions": ["us-east-1"], "start": "2026-01-03"}, 1),
]


@pytest.mark.parametrize(("kw", "files"), PRUNING)
def test_local_folders_are_pruned_before_reading(local_tree, kw, files):
    ev = scan([str(local_tree)], workers=1, **kw)
    assert ev.files_read == files
    assert ev.events_read == files and ev.errors == ()


@pytest.fixture
def bucket(endpoint):
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket="logs")
    for key, time in CORPUS.items():
        s3.put_object(Bucket="logs", Key=key, Body=_body(key, time))
    s3.put_object(Bucket="logs", Key=DIGEST, Body=b"not a log file")
    return s3


def _recording(s3):
    calls: list[tuple[str, dict]] = []

    def record(params, model, **_):
        calls.append((model.name, dict(params)))

    s3.meta.events.register("provide-client-params.s3.*", record)
    return calls


@pytest.mark.parametrize(("kw", "files"), PRUNING)
def test_s3_prefixes_are_pruned_before_downloading(bucket, kw, files):
    calls = _recording(bucket)
    ev = scan(["s3://logs/trail/"], s3_client=bucket, workers=1, **kw)
    assert ev.files_read == files and ev.errors == ()
    gets = [p["Key"] for op, p in calls if op == "GetObject"]
    assert len(gets) == files
    assert DIGEST not in gets
    lists = [p.get("Prefix", "") for op, p in calls if op == "ListObjectsV2"]
    for acct in {A1, A2} - set(kw.get("accounts", [A1, A2])):
        assert not [p for p in lists if f"/{acct}/" in p], "a pruned account was listed"


def test_s3_listing_starts_at_the_first_wanted_day(bucket):
    calls = _recording(bucket)
    scan(["s3://logs/trail/"], s3_client=bucket, workers=1, start="2026-01-03", accounts=[A1])
    starts = [p.get("StartAfter") for op, p in calls if op == "ListObjectsV2" and "StartAfter" in p]
    assert f"trail/AWSLogs/{A1}/CloudTrail/us-east-1/2026/01/03" in starts


def test_s3_through_an_account_session(bucket, endpoint):
    from dormant.sources.aws import build_session

    session = build_session(region="us-east-1", endpoint_url=endpoint)
    ev = scan(["s3://logs/trail/AWSLogs/"], session=session, workers=1, regions=["eu-west-1"])
    assert ev.files_read == 2
    assert {p.principal_arn for p in ev.principal_activity} == {
        f"arn:aws:iam::{A1}:user/u",
        f"arn:aws:iam::{A2}:user/u",
    }


def test_s3_single_object_uri(bucket):
    key = next(iter(CORPUS))
    ev = scan([f"s3://logs/{key}"], s3_client=bucket, workers=1)
    assert ev.files_read == 1 and ev.events_read == 1


def test_s3_and_local_give_the_same_evidence(bucket, local_tree):
    remote = scan(["s3://logs/trail/"], s3_client=bucket, workers=1)
    local = scan([str(local_tree)], workers=1)
    assert remote.principal_activity == local.principal_activity
    assert remote.access_keys == local.access_keys


def test_s3_missing_bucket_is_an_error_not_a_crash(endpoint):
    s3 = client(endpoint, "s3")
    ev = scan(["s3://no-such-bucket/x/"], s3_client=s3, workers=1)
    assert ev.errors and ev.errors[0].file.startswith("s3://no-such-bucket")
    assert "NoSuchBucket" in ev.errors[0].message


def test_s3_objects_stream_to_the_workers(bucket):
    ev = scan(["s3://logs/trail/"], s3_client=bucket, workers=2)
    assert ev.files_read == 6 and ev.events_read == 6


def test_s3_source_keys_in_listing_order(bucket):
    src = S3Source.from_uri("s3://logs/trail/", bucket)
    keys = list(src.keys(Prune(accounts=frozenset({A1}), regions=frozenset({"us-east-1"}))))
    assert keys == sorted(k for k in CORPUS if f"/{A1}/" in k and "us-east-1" in k)
