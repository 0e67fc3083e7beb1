"""`dormant recommend` end to end: the recommended policy still allows everything the evidence
shows used and no longer allows what it shows unused, by the local evaluator and by moto's IAM
enforcement with the document applied as `aws iam put-user-policy` would."""

from __future__ import annotations

import json
from pathlib import Path

import botocore.exceptions
import pytest
from test_scan_scenario import run_cli

from dormant.demo.seed import Account, Key, Role, User, seed
from dormant.iam.evaluate import decide, is_allowed

GRANTED = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Storage",
            "Effect": "Allow",
            "Action": ["s3:ListAllMyBuckets", "s3:CreateBucket", "s3:PutBucketTagging"],
            "Resource": "*",
        },
        {"Sid": "Queues", "Effect": "Allow", "Action": ["sqs:ListQueues"], "Resource": "*"},
        {
            "Sid": "Identity",
            "Effect": "Allow",
            "Action": ["iam:ListUsers", "iam:CreateUser", "iam:PassRole"],
            "Resource": "*",
        },
        {"Sid": "Streams", "Effect": "Allow", "Action": "kinesis:*", "Resource": "*"},
    ],
}
USED = {"s3:ListAllMyBuckets": 2, "iam:ListUsers": 1, "sqs": 3}
"""What the user used (days ago): two tracked actions, and SQS at service level only."""
REMOVED = ["s3:CreateBucket", "s3:PutBucketTagging", "iam:CreateUser", "kinesis:PutRecord"]
"""A sample of what the evidence shows unused: tracked actions of used services, and a service
never used (kinesis)."""


def _account() -> Account:
    return Account(
        users=[User("lp-user", age=500, keys=[Key(age=60, used=1)], inline=GRANTED, access=USED)],
        roles=[Role("lp-unused", age=500, inline=GRANTED)],
    )


def _recommended(out: Path) -> dict:
    index = json.loads((out / "recommendations.json").read_text())
    (user,) = [p for p in index["principals"] if p["principal_name"] == "lp-user"]
    (policy,) = user["policies"]
    assert policy["recommendation"] == "put-inline-policy"
    (path,) = policy["files"]
    assert json.loads(Path(path).read_text()) == policy["documents"][0]
    (command,) = policy["commands"]
    assert command == (
        "aws iam put-user-policy --user-name lp-user --policy-name lp-user-inline "
        f"--policy-document file://{path}"
    )
    return policy["documents"][0]


def test_recommended_policy_keeps_what_is_used_and_drops_what_is_not(emulator, now, tmp_path):
    seed(emulator, _account(), now)
    out = tmp_path / "rec"
    proc = run_cli("recommend", "--out", str(out), endpoint=emulator.endpoint_url)
    assert "user lp-user" in proc.stdout and '-        "s3:CreateBucket",' in proc.stdout
    assert "role lp-unused: the role itself is unused" in proc.stdout
    document = _recommended(out)
    assert (out / "commands.sh").read_text().count("put-user-policy") == 1

    # The local evaluator: every use the evidence shows is still allowed; the sample of unused
    # actions is not; what the evidence cannot judge is kept.
    after = {"recommended": document}
    for action in ("s3:ListAllMyBuckets", "iam:ListUsers", "sqs:ListQueues", "iam:PassRole"):
        assert is_allowed(after, action), action
    for action in REMOVED:
        assert decide({"granted": GRANTED}, action).allowed, action
        assert not is_allowed(after, action), action

    # moto's IAM enforcement, with the document applied as the command would apply it.
    iam = emulator.client("iam")
    iam.put_user_policy(
        UserName="lp-user", PolicyName="lp-user-inline", PolicyDocument=json.dumps(document)
    )
    key = iam.create_access_key(UserName="lp-user")["AccessKey"]
    creds = {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }
    s3 = emulator.client("s3", **creds)
    iam_as_user = emulator.client("iam", **creds)
    sqs = emulator.client("sqs", **creds)
    emulator.set_auth(0)
    s3.list_buckets()
    iam_as_user.list_users()
    sqs.list_queues()
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        s3.create_bucket(Bucket="dormant-should-not")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        iam_as_user.create_user(UserName="nobody")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_recommend_on_a_bundle_matches_the_live_run(emulator, now, tmp_path):
    seed(emulator, _account(), now)
    snap = tmp_path / "snap"
    run_cli("collect", "--out", str(snap), endpoint=emulator.endpoint_url)
    first = run_cli("recommend", str(snap), "--out", str(tmp_path / "a"))
    again = run_cli("recommend", str(snap), "--out", str(tmp_path / "a"))
    assert first.stdout == again.stdout
    assert _recommended(tmp_path / "a") == _recommended(tmp_path / "a")
    report = tmp_path / "report.csv"
    report.write_text("user,arn\n")
    bad = run_cli("recommend", str(report), check_codes=(2,))
    assert "not an evidence bundle" in bad.stderr


def test_commands_quote_a_directory_with_a_space(tmp_path):
    import datetime as dt
    import shlex

    from dormant.iam.rewrite import PolicyInput, PolicyKind, rewrite_policies, write_documents
    from dormant.iam.usage import UsageEvidence

    now = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
    plan = rewrite_policies(
        [PolicyInput("p", PolicyKind.INLINE_USER, GRANTED, owner="arn:aws:iam::1:user/u")],
        UsageEvidence.of(services={"s3": now, "sqs": now, "iam": now, "kinesis": None}),
        threshold=dt.timedelta(days=90),
        as_of=now,
    )
    (written,) = write_documents(plan, tmp_path / "with space")
    (command,) = written.commands
    assert shlex.split(command)[-1] == f"file://{written.path}"


def test_no_access_advisor_means_no_permission_judgement(emulator, now, tmp_path):
    seed(emulator, _account(), now)
    snap = tmp_path / "snap"
    run_cli(
        "collect",
        "--out",
        str(snap),
        "--no-access-advisor",
        "--no-access-analyzer",
        endpoint=emulator.endpoint_url,
    )
    doc = json.loads(run_cli("analyze", str(snap), "--format", "json").stdout)
    statuses = {c["source"]: c["status"] for c in doc["coverage"]}
    assert statuses["access_advisor"] == statuses["access_analyzer"] == "skipped"
    assert not [f for f in doc["findings"] if f["type"] == "UnusedPermission"]
    proc = run_cli("recommend", str(snap), "--out", str(tmp_path / "rec"))
    assert "nothing to recommend" in proc.stderr
