"""The deployment: the template lints clean, its role is the read-only policy plus scoped
writes, and `dormant lambda deploy` creates, leaves alone and updates the stack in the
emulator's CloudFormation, as the README shows."""

from __future__ import annotations

import json
import re
import zipfile

import pytest
from lambda_support import READONLY, TEMPLATE, deploy_stack, load_template

from dormant.automation.deploy import (
    MAX_TEMPLATE_BODY,
    DeployError,
    declared_parameters,
    parse_parameters,
    template_text,
)


def test_cfn_lint_passes_with_no_error_or_warning():
    # The same check as the command `cfn-lint deploy/template.yaml` (errors and warnings).
    from cfnlint.api import lint_file

    matches = lint_file(TEMPLATE)
    assert [str(m) for m in matches] == []
    # ...and the linter does look: a bad runtime is caught.
    bad = TEMPLATE.read_text().replace("Runtime: python3.12", "Runtime: python2.7")
    from cfnlint.api import lint

    assert any("python2.7" in str(m) for m in lint(bad))


def test_the_role_embeds_exactly_the_readonly_policy():
    role = load_template()["Resources"]["FunctionRole"]["Properties"]
    readonly = next(p for p in role["Policies"] if p["PolicyName"] == "DormantReadOnly")
    assert json.loads(json.dumps(readonly["PolicyDocument"])) == json.loads(READONLY.read_text())


def test_the_role_writes_only_where_the_function_needs():
    role = load_template()["Resources"]["FunctionRole"]["Properties"]
    writes = next(p for p in role["Policies"] if p["PolicyName"] == "DormantWrites")
    text = json.dumps(writes)
    assert '"Resource": "*"' not in text, "every write is scoped to a resource"
    actions = set()
    for st in writes["PolicyDocument"]["Statement"]:
        st = st.get("Fn::If", [None, st])[1]
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        actions |= set(acts)
    assert actions == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "sns:Publish",
        "sqs:SendMessage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "securityhub:BatchImportFindings",
        "securityhub:GetFindings",
        "securityhub:BatchUpdateFindings",
        "events:PutEvents",
        "secretsmanager:GetSecretValue",
        "ssm:GetParameter",
        # Only with AutoDeactivateKeys=true, on users (test_lambda_remediate.py).
        "iam:UpdateAccessKey",
        "iam:TagUser",
        "iam:GetUser",
    }


def test_the_template_resources_and_limits():
    t = load_template()
    res = t["Resources"]
    fn = res["Function"]["Properties"]
    assert fn["Runtime"] == "python3.12" and fn["Handler"] == "dormant.aws_lambda.handler"
    env = fn["Environment"]["Variables"]
    assert "SLACK_WEBHOOK_URL" not in env and not any("hooks.slack" in str(v) for v in env.values())
    bucket = res["ReportBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bucket["LifecycleConfiguration"]["Rules"][0]["Status"] == "Enabled"
    tls = res["ReportBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert tls["Effect"] == "Deny" and tls["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    assert {r["Type"] for r in res.values()} >= {
        "AWS::SQS::Queue",
        "AWS::CloudWatch::Alarm",
        "AWS::Events::Rule",
        "AWS::SNS::Subscription",
    }
    assert fn["DeadLetterConfig"]["TargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert len(TEMPLATE.read_bytes()) < MAX_TEMPLATE_BODY
    # The package ships the same file (one source of truth).
    assert template_text() == TEMPLATE.read_text()
    assert set(declared_parameters(template_text())) == set(t["Parameters"])


def test_parameters_are_checked():
    assert parse_parameters(["NotificationEmail=a@example.com", "Cis=true"]) == {
        "NotificationEmail": "a@example.com",
        "Cis": "true",
    }
    with pytest.raises(DeployError, match="expected Key=Value"):
        parse_parameters(["Cis"])
    with pytest.raises(DeployError, match="set by the deploy command"):
        parse_parameters(["CodeKey=x"])


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_deploy_creates_then_leaves_alone_then_updates_the_stack(emulator, tmp_path):
    from dormant.demo import moto_cloudformation  # imports every moto model: only here

    moto_cloudformation.install()
    emulator.client("s3").create_bucket(Bucket="dormant-code-test")
    code = tmp_path / "dormant-lambda.zip"
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("dormant/__init__.py", "")

    first = deploy_stack(emulator, code, "NotificationEmail=sec@example.com")
    assert first.exit_code == 0, first.output
    assert "stack dormant created (CREATE_COMPLETE)" in first.output
    cfn = emulator.client("cloudformation")
    stack = cfn.describe_stacks(StackName="dormant")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert f"FunctionName\t{outputs['FunctionName']}" in first.output
    types = {
        r["ResourceType"]
        for r in cfn.list_stack_resources(StackName="dormant")["StackResourceSummaries"]
    }
    assert types >= {
        "AWS::S3::Bucket",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
        "AWS::IAM::Role",
        "AWS::Lambda::Function",
        "AWS::Events::Rule",
        "AWS::Lambda::Permission",
        "AWS::Logs::LogGroup",
    }
    fn = emulator.client("lambda").get_function(FunctionName=outputs["FunctionName"])
    conf = fn["Configuration"]
    assert conf["Runtime"] == "python3.12" and conf["Handler"] == "dormant.aws_lambda.handler"
    env = conf["Environment"]["Variables"]
    assert env["REPORT_BUCKET"] == outputs["ReportBucketName"]
    assert env["SNS_TOPIC_ARN"] == outputs["TopicArn"]
    rule = emulator.client("events").describe_rule(Name=outputs["ScheduleRuleName"])
    assert rule["ScheduleExpression"] == "cron(0 6 * * ? *)"
    code_keys = [
        o["Key"]
        for o in emulator.client("s3").list_objects_v2(Bucket="dormant-code-test")["Contents"]
    ]
    assert len(code_keys) == 1 and code_keys[0].startswith("dormant-lambda/")

    # The same deployment again: nothing to do, and that is not an error.
    again = deploy_stack(emulator, code)
    assert again.exit_code == 0, again.output
    assert "stack dormant: no changes" in again.output

    # A parameter changes: the stack is updated, the others keep their values.
    update = deploy_stack(emulator, code, "ReminderDays=3", "SecurityHub=true")
    assert update.exit_code == 0, update.output
    assert "stack dormant updated (UPDATE_COMPLETE)" in update.output
    params = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in cfn.describe_stacks(StackName="dormant")["Stacks"][0]["Parameters"]
    }
    assert params["ReminderDays"] == "3" and params["SecurityHub"] == "true"
    assert params["NotificationEmail"] == "sec@example.com"


def test_deploy_errors_are_one_clear_line(emulator, tmp_path):
    code = tmp_path / "dormant-lambda.zip"
    missing = deploy_stack(emulator, code)
    assert missing.exit_code == 2
    assert "cannot read the deployment zip" in missing.output
    assert "dormant lambda package" in missing.output

    code.write_bytes(b"PK")
    unknown = deploy_stack(emulator, code, "Colour=blue")
    assert unknown.exit_code == 2
    assert "--parameter Colour: not a parameter of the template" in unknown.output

    no_bucket = deploy_stack(emulator, code)
    assert no_bucket.exit_code == 2
    assert "s3://dormant-code-test: cannot upload the zip" in no_bucket.output


def test_docs_name_every_variable_and_the_template_sets_only_known_ones():
    from lambda_support import ROOT

    from dormant.automation.config import VARIABLES

    docs = (ROOT / "docs" / "lambda.md").read_text()
    assert [v for v in VARIABLES if f"| `{v}` |" not in docs] == []
    env = load_template()["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert set(env) <= set(VARIABLES)
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Run it every day (AWS Lambda)", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^\| `([A-Za-z]+)`", section, re.M))
    assert named and named <= set(load_template()["Parameters"])
