"""What the Lambda tests share: a small labelled account, the function's AWS resources in the
emulator (bucket, topic with an SQS subscription, event rule to a queue), a fake Lambda
context, a local Slack webhook, and the template's execution role as a plain IAM policy."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from moto.iam.models import AccessKeyLastUsed

from dormant.aws_lambda import handler
from dormant.demo import moto_ext
from dormant.demo.seed import Account, Key, Password, Role, User, seed
from dormant.demo.server import DEFAULT_ACCOUNT

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "template.yaml"
READONLY = ROOT / "deploy" / "readonly-policy.json"
BUCKET = "dormant-reports-test"
REGION = "us-east-1"


def account() -> Account:
    """alice: an old key unused for 120 days (unused, unrotated, and so an inactive user); bob:
    a password unused for 200 days (and inactive); carol: fresh; old-role: unused for 300 days.
    Wide margins, so a clock some days ahead changes no verdict."""
    return Account(
        users=[
            User("alice", age=400, keys=[Key(age=400, used=120)]),
            User("bob", age=500, password=Password(used=200)),
            User("carol", age=300, password=Password(used=1), keys=[Key(age=30, used=1)]),
        ],
        roles=[Role("old-role", age=600, used=300)],
    )


def key_of(user: str) -> Any:
    be = moto_ext.backend(DEFAULT_ACCOUNT)
    return be.get_user(user).access_keys[0]


def use_key(user: str, when: dt.datetime) -> None:
    """Record a use of the user's first key now, as AWS would after a call with it."""
    key_of(user).last_used = AccessKeyLastUsed(when.replace(microsecond=0), "s3", REGION)


class Context:
    """A Lambda context: a request id and the time left."""

    function_name = "dormant-test"

    def __init__(self, remaining_ms: list[int] | int = 600_000, request_id: str = "req") -> None:
        self._left = remaining_ms
        self.aws_request_id = f"{request_id}-0000-0000"

    def get_remaining_time_in_millis(self) -> int:
        if isinstance(self._left, list):
            return self._left.pop(0) if len(self._left) > 1 else self._left[0]
        return self._left


@dataclass
class Setup:
    """The function's resources in the emulator and its environment."""

    emulator: Any
    topic_arn: str
    queue_url: str
    events_queue_url: str
    env: dict[str, str] = field(default_factory=dict)
    logs: list[list[dict[str, Any]]] = field(default_factory=list)
    """The log lines of each run."""

    def run(self, now: dt.datetime, event: dict | None = None, context: Any = None, **env: str):
        """Invoke the handler in-process; its result (the log lines go to ``logs``)."""
        stream = io.StringIO()
        try:
            return handler(
                event or {},
                context or Context(request_id=f"r{len(self.logs)}"),
                clock=lambda: now,
                env={**self.env, **env},
                stream=stream,
            )
        finally:
            self.logs.append([json.loads(line) for line in stream.getvalue().splitlines()])

    def messages(self) -> list[dict[str, Any]]:
        """SNS messages delivered to the subscribed queue since the last call."""
        return _drain(self.emulator.client("sqs"), self.queue_url)

    def events(self) -> list[dict[str, Any]]:
        """EventBridge events routed to the queue since the last call."""
        return _drain(self.emulator.client("sqs"), self.events_queue_url)

    def objects(self) -> dict[str, bytes]:
        s3 = self.emulator.client("s3")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        return {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys}

    def securityhub(self) -> list[dict[str, Any]]:
        return self.emulator.client("securityhub").get_findings()["Findings"]


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def setup(emulator: Any, now: dt.datetime, monkeypatch: Any, spec: Account | None = None) -> Setup:
    """Seed the account and create what the stack would: bucket, topic, queues, a rule."""
    seed(emulator, spec or account(), now)
    emulator.client("s3").create_bucket(Bucket=BUCKET)
    sns, sqs = emulator.client("sns"), emulator.client("sqs")
    topic = sns.create_topic(Name="dormant")["TopicArn"]
    queue = sqs.create_queue(QueueName="mail")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    events_queue = sqs.create_queue(QueueName="events")["QueueUrl"]
    events_arn = sqs.get_queue_attributes(QueueUrl=events_queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    ev = emulator.client("events")
    ev.put_rule(Name="dormant-findings", EventPattern=json.dumps({"source": ["dormant"]}))
    ev.put_targets(Rule="dormant-findings", Targets=[{"Id": "q", "Arn": events_arn}])
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    env = {
        "AWS_REGION": REGION,
        "REPORT_BUCKET": BUCKET,
        "REPORT_PREFIX": "dormant",
        "SNS_TOPIC_ARN": topic,
        "REMINDER_DAYS": "7",
    }
    return Setup(emulator, topic, queue, events_queue, env)


def finding_ids(report_json: bytes, type_: str | None = None, name: str | None = None) -> set:
    doc = json.loads(report_json)
    return {
        f["id"]
        for f in doc["findings"]
        if (type_ is None or f["type"] == type_) and (name is None or f["principal_name"] == name)
    }


def run_files(objects: dict[str, bytes], run_id: str) -> dict[str, bytes]:
    """The objects of one run, by file name."""
    return {k.rsplit("/", 1)[-1]: v for k, v in objects.items() if f"/{run_id}/" in k}


def unzip_all(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


# ------------------------------------------------------------------------------ Slack


class SlackCapture:
    """A local stand-in for a Slack incoming webhook: records each POST, answers 'ok' (or the
    status it is told to)."""

    def __init__(self, status: int = 200, body: bytes = b"ok") -> None:
        self.posts: list[dict[str, Any]] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                capture.posts.append(
                    {"path": self.path, "json": json.loads(self.rfile.read(length))}
                )
                self.send_response(capture.status)
                self.end_headers()
                self.wfile.write(capture.body)

            def log_message(self, *args):
                return None

        self.status, self.body = status, body
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------ the template's role


def load_template() -> dict[str, Any]:
    from cfnlint.decode import decode_str

    template, errors = decode_str(TEMPLATE.read_text())
    assert not errors, errors
    return template


def _resolve(node: Any, refs: dict[str, Any], conditions: dict[str, bool]) -> Any:
    """The few intrinsic functions the role's policies use, resolved."""
    no_value = object()
    if isinstance(node, list):
        items = [_resolve(x, refs, conditions) for x in node]
        return [x for x in items if x is not no_value and x is not None]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (fn, arg), *_ = node.items()
        if fn == "Ref":
            return None if arg == "AWS::NoValue" else refs[arg]
        if fn == "Fn::GetAtt":
            name, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            return refs[f"{name}.{attr}"]
        if fn == "Fn::If":
            cond, yes, no = arg
            return _resolve(yes if conditions[cond] else no, refs, conditions)
        if fn == "Fn::Select":
            return _resolve(arg[1], refs, conditions)[int(arg[0])]
        if fn == "Fn::Split":
            return _resolve(arg[1], refs, conditions).split(arg[0])
        if fn == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else arg
            values = {**refs, **{k: _resolve(v, refs, conditions) for k, v in extra.items()}}
            for key in sorted(values, key=len, reverse=True):
                text = text.replace("${" + key + "}", str(values[key]))
            assert "${" not in text, text
            return text
    return {k: _resolve(v, refs, conditions) for k, v in node.items()}


def role_policies(
    *,
    topic_arn: str,
    bucket: str = BUCKET,
    prefix: str = "dormant",
    security_hub: bool = True,
    eventbridge: bool = True,
    slack_secret: str = "dormant/slack",
    policy_s3_uri: str = "s3://policies-bucket/dormant/policy.toml",
    auto_deactivate: bool = False,
) -> dict[str, dict[str, Any]]:
    """The execution role's inline policies, as IAM would hold them for these parameters."""
    template = load_template()
    refs = {
        "AWS::Partition": "aws",
        "AWS::Region": REGION,
        "AWS::AccountId": DEFAULT_ACCOUNT,
        "ReportBucket.Arn": f"arn:aws:s3:::{bucket}",
        "ReportPrefix": prefix,
        "Topic": topic_arn,
        "DeadLetterQueue.Arn": f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT}:dormant-dlq",
        "FunctionLogGroup.Arn": f"arn:aws:logs:{REGION}:{DEFAULT_ACCOUNT}:log-group:dormant:*",
        "SlackWebhookSecretName": slack_secret,
        "SlackWebhookParameterName": "",
        "PolicyS3Uri": policy_s3_uri,
        "PolicySsmParameterName": "",
    }
    conditions = {
        "UseSecurityHub": security_hub,
        "UseEventBridge": eventbridge,
        "HasSlackSecret": bool(slack_secret),
        "HasSlackParameter": False,
        "HasPolicyS3": bool(policy_s3_uri),
        "HasPolicySsm": False,
        "HasEmail": False,
        "AutoDeactivate": auto_deactivate,
    }
    role = template["Resources"]["FunctionRole"]["Properties"]
    return {
        p["PolicyName"]: _resolve(p["PolicyDocument"], refs, conditions) for p in role["Policies"]
    }


MOTO_SCOPED = ("s3:",)
"""The only service whose requests moto authorizes against their real resource (bucket and
key). For the others it authorizes against the resource "*", so a statement scoped to an ARN
never matches, although AWS matches it: for them the test can only prove the actions."""


def _for_moto(statement: dict[str, Any]) -> dict[str, Any]:
    statement = dict(statement)
    actions = statement["Action"]
    actions = actions if isinstance(actions, list) else [actions]
    if not all(a.startswith(MOTO_SCOPED) for a in actions):
        statement["Resource"] = "*"
    return statement


def create_function_user(
    emulator: Any, policies: dict[str, dict[str, Any]], drop_sids: tuple[str, ...] = ()
) -> dict[str, str]:
    """An IAM user holding the role's policies (less the statements named): the function's
    identity under moto's enforcement. Its credentials."""
    iam = emulator.client("iam")
    iam.create_user(UserName="dormant-function")
    for name, doc in policies.items():
        doc = dict(doc)
        doc["Statement"] = [_for_moto(s) for s in doc["Statement"] if s.get("Sid") not in drop_sids]
        if doc["Statement"]:
            text = json.dumps(doc)
            iam.put_user_policy(UserName="dormant-function", PolicyName=name, PolicyDocument=text)
    key = iam.create_access_key(UserName="dormant-function")["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


def deploy_stack(emulator, zip_path, *params: str, stack_name: str = "dormant"):
    """``dormant lambda deploy`` of the template to the emulator's CloudFormation, with
    ``Key=Value`` parameters; the click result."""
    from click.testing import CliRunner

    from dormant.cli import main

    return CliRunner().invoke(
        main,
        [
            "lambda",
            "deploy",
            "--stack-name",
            stack_name,
            "--bucket-for-code",
            "dormant-code-test",
            "--zip",
            str(zip_path),
            "--region",
            "us-east-1",
            "--endpoint-url",
            emulator.endpoint_url,
            *[x for p in params for x in ("--parameter", p)],
        ],
    )
