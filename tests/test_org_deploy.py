"""The organization scan's deployment: the member-account role (a StackSet's template) grants
exactly the read-only policy and trusts only the scanning account; the Lambda template's org
modes lint clean, leave a single-account stack as it was, and in fan-out mode hold a Step
Functions Distributed Map whose role does only what the map needs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from lambda_support import READONLY, ROOT, TEMPLATE, deploy_stack, load_template

MEMBER_ROLE = ROOT / "deploy" / "member-role.yaml"
SCANNER = "111111111111"
LAMBDA_RETRYABLE = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def _decode(path: Path) -> dict[str, Any]:
    from cfnlint.decode import decode_str

    template, errors = decode_str(path.read_text())
    assert not errors, errors
    return json.loads(json.dumps(template))


# ------------------------------------------------------------------ the member role


def test_member_role_lints_clean_and_the_linter_looks():
    from cfnlint.api import lint, lint_file

    assert [str(m) for m in lint_file(MEMBER_ROLE)] == []
    bad = MEMBER_ROLE.read_text().replace("MaxSessionDuration: !Ref", "MaxSessionDurations: !Ref")
    assert any("MaxSessionDurations" in str(m) for m in lint(bad))


def test_member_role_embeds_exactly_the_readonly_policy():
    role = _decode(MEMBER_ROLE)["Resources"]["ReadOnlyRole"]["Properties"]
    [policy] = role["Policies"]
    assert policy["PolicyDocument"] == json.loads(READONLY.read_text())


def _create_member_stack(emulator, name: str, **params: str) -> dict[str, Any]:
    from dormant.demo import moto_cloudformation  # imports every moto model: only here

    moto_cloudformation.install()
    cfn = emulator.client("cloudformation")
    cfn.create_stack(
        StackName=name,
        TemplateBody=MEMBER_ROLE.read_text(),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_member_role_deploys_trusting_only_the_scanning_account(emulator):
    iam = emulator.client("iam")
    readonly = json.loads(READONLY.read_text())

    # Defaults: any principal of the scanning account, no external id.
    out = _create_member_stack(emulator, "member-default", ScanningAccountId=SCANNER)
    assert out["RoleName"] == "dormant-readonly"
    role = iam.get_role(RoleName="dormant-readonly")["Role"]
    assert out["RoleArn"] == role["Arn"]
    assert role["MaxSessionDuration"] == 3600
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Sid": "ScanningAccountOnly",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{SCANNER}:root"},
            "Action": "sts:AssumeRole",
        }
    ]
    assert iam.list_role_policies(RoleName="dormant-readonly")["PolicyNames"] == ["DormantReadOnly"]
    inline = iam.get_role_policy(RoleName="dormant-readonly", PolicyName="DormantReadOnly")
    assert inline["PolicyDocument"] == readonly
    assert iam.list_attached_role_policies(RoleName="dormant-readonly")["AttachedPolicies"] == []

    # Narrowed to one principal of it, with an external id, under another name.
    principal = f"arn:aws:iam::{SCANNER}:role/dormant-FunctionRole-*"
    _create_member_stack(
        emulator,
        "member-narrow",
        ScanningAccountId=SCANNER,
        ScanningPrincipalArn=principal,
        ExternalId="dormant-org-7f3a",
        RoleName="dormant-scan",
        MaxSessionDuration="7200",
    )
    role = iam.get_role(RoleName="dormant-scan")["Role"]
    assert role["MaxSessionDuration"] == 7200
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{SCANNER}:root"}
    assert statement["Condition"] == {
        "ArnLike": {"aws:PrincipalArn": principal},
        "StringEquals": {"sts:ExternalId": "dormant-org-7f3a"},
    }
    inline = iam.get_role_policy(RoleName="dormant-scan", PolicyName="DormantReadOnly")
    assert inline["PolicyDocument"] == readonly

    # Only an external id.
    _create_member_stack(
        emulator,
        "member-external",
        ScanningAccountId=SCANNER,
        ExternalId="dormant-org-7f3a",
        RoleName="dormant-ext",
    )
    [statement] = iam.get_role(RoleName="dormant-ext")["Role"]["AssumeRolePolicyDocument"][
        "Statement"
    ]
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": "dormant-org-7f3a"}}


# ------------------------------------------------------------ the Lambda template


def _org_resources(template: dict[str, Any]) -> dict[str, str]:
    return {
        name: r["Condition"]
        for name, r in template["Resources"].items()
        if r.get("Condition") in ("OrgEnabled", "OrgFanOut", "NotOrgFanOut")
    }


def test_org_mode_is_off_by_default_and_conditions_everything_it_adds():
    t = load_template()
    assert t["Parameters"]["OrgMode"]["Default"] == "off"
    assert t["Conditions"]["OrgEnabled"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "OrgMode"}, "off"]}]
    }
    assert t["Conditions"]["OrgFanOut"] == {"Fn::Equals": [{"Ref": "OrgMode"}, "fan-out"]}
    assert _org_resources(t) == {
        "FunctionOrgPolicy": "OrgEnabled",
        "SchedulePermission": "NotOrgFanOut",
        "OrgListFunction": "OrgFanOut",
        "OrgAccountFunction": "OrgFanOut",
        "OrgReportFunction": "OrgFanOut",
        "OrgStateMachineRole": "OrgFanOut",
        "OrgStateMachineSelfPolicy": "OrgFanOut",
        "OrgStateMachine": "OrgFanOut",
        "OrgScheduleRole": "OrgFanOut",
        "OrgScanFailedAlarm": "OrgFanOut",
    }
    # The schedule targets the function unless in fan-out mode.
    [target] = t["Resources"]["ScheduleRule"]["Properties"]["Targets"]
    condition, fan_out, single = target["Fn::If"]
    assert condition == "OrgFanOut"
    assert single["Arn"] == {"Fn::GetAtt": ["Function", "Arn"]}
    assert fan_out["Arn"] == {"Ref": "OrgStateMachine"}
    assert fan_out["RoleArn"] == {"Fn::GetAtt": ["OrgScheduleRole", "Arn"]}
    # The stack refuses automatic deactivation with an organization scan, as the function does.
    rule = t["Rules"]["NoAutoDeactivationInOrgMode"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "OrgMode"}, "off"]}]}
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Equals": [{"Ref": "AutoDeactivateKeys"}, "false"]
    }
    env = t["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert env["ORG"] == {"Fn::If": ["OrgEnabled", "true", "false"]}
    assert env["ORG_ROLE_NAME"] == {"Ref": "OrgRoleName"}
    assert (
        t["Parameters"]["OrgRoleName"]["Default"]
        == _decode(MEMBER_ROLE)["Parameters"]["RoleName"]["Default"]
    )


def test_the_function_may_assume_only_the_member_role_and_read_the_organization():
    t = load_template()
    policy = t["Resources"]["FunctionOrgPolicy"]["Properties"]
    assert policy["RoleName"] == {"Ref": "FunctionRole"}
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assume = statements["AssumeMemberReadOnlyRole"]
    assert assume["Action"] == "sts:AssumeRole"
    assert assume["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${OrgRoleName}"}
    listing = statements["ListOrganizationAccounts"]
    assert all(a.startswith("organizations:") for a in listing["Action"])
    assert all(a.split(":")[1].startswith(("List", "Describe")) for a in listing["Action"])
    assert {"organizations:ListAccounts", "organizations:ListAccountsForParent"} <= set(
        listing["Action"]
    )
    # The scanning principal's policy for `scan --org` makes the same Organizations calls (its
    # file's other statement is `dormant org access-report`'s, which the function never runs).
    doc = json.loads((ROOT / "deploy" / "org-scanner-policy.json").read_text())
    (scan_listing,) = [s for s in doc["Statement"] if s["Sid"] == "DormantListOrganizationAccounts"]
    assert set(scan_listing["Action"]) == set(listing["Action"])


def _definition() -> dict[str, Any]:
    return load_template()["Resources"]["OrgStateMachine"]["Properties"]["Definition"]


def _tasks(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            out[name] = state
        if state["Type"] == "Map":
            out.update(_tasks(state["ItemProcessor"]["States"]))
    return out


def _check_graph(machine: dict[str, Any]) -> None:
    """Every transition names a state, every state is reachable, and the machine ends."""
    states = machine["States"]
    seen, todo = set(), [machine["StartAt"]]
    while todo:
        name = todo.pop()
        assert name in states, f"transition to an unknown state {name!r}"
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        nexts = [state["Next"]] if "Next" in state else []
        nexts += [c["Next"] for c in state.get("Catch", [])]
        assert nexts or state.get("End") is True, f"{name} neither ends nor goes on"
        todo += nexts
        if state["Type"] == "Map":
            _check_graph(state["ItemProcessor"])
    assert seen == set(states), f"unreachable: {set(states) - seen}"


def test_the_state_machine_is_a_distributed_map_over_the_accounts():
    d = _definition()
    _check_graph(d)
    assert d["StartAt"] == "ListAccounts"
    scan = d["States"]["ScanAccounts"]
    assert scan["Type"] == "Map"
    assert scan["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    assert scan["MaxConcurrency"] == {"Ref": "OrgMaxConcurrency"}
    assert scan["ToleratedFailurePercentage"] == {"Ref": "OrgToleratedFailurePercentage"}
    assert scan["ItemReader"]["ReaderConfig"] == {"InputType": "JSON"}
    assert scan["ItemReader"]["Parameters"] == {"Bucket.$": "$.bucket", "Key.$": "$.members_key"}
    assert scan["ItemSelector"] == {"member.$": "$$.Map.Item.Value", "run.$": "$.run"}
    assert scan["ResultWriter"]["Parameters"] == {
        "Bucket": "${Bucket}",
        "Prefix": "${ResultsPrefix}",
    }
    # A failed Map still reports, naming the accounts it did not scan.
    assert scan["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.map_error", "Next": "Report"}
    ]
    # Every Lambda step retries Lambda's throttling and transient errors, with jitter.
    tasks = _tasks(d["States"])
    assert set(tasks) == {"ListAccounts", "ScanAccount", "Report"}
    for name, task in tasks.items():
        assert task["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:states:::lambda:invoke"}
        first = task["Retry"][0]
        assert set(first["ErrorEquals"]) == LAMBDA_RETRYABLE, name
        assert first["MaxAttempts"] >= 6 and first["JitterStrategy"] == "FULL", name


def test_each_step_runs_its_handler():
    from dormant import aws_lambda

    t = load_template()
    d = _definition()
    subs = t["Resources"]["OrgStateMachine"]["Properties"]["DefinitionSubstitutions"]
    steps = {
        "ListAccounts": ("ListFunction", "org_list_handler"),
        "ScanAccount": ("AccountFunction", "org_account_handler"),
        "Report": ("ReportFunction", "org_report_handler"),
    }
    tasks = _tasks(d["States"])
    for state, (substitution, handler) in steps.items():
        assert tasks[state]["Parameters"]["FunctionName"] == "${" + substitution + "}"
        function = subs[substitution]["Fn::GetAtt"][0]
        props = t["Resources"][function]["Properties"]
        assert props["Handler"] == f"dormant.aws_lambda.{handler}"
        assert callable(getattr(aws_lambda, handler))
        assert props["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
        assert props["LoggingConfig"]["LogGroup"] == {"Ref": "FunctionLogGroup"}
        env = props["Environment"]["Variables"]
        assert env["ORG"] == "true" and env["REPORT_BUCKET"] == {"Ref": "ReportBucket"}
    from dormant.automation.config import VARIABLES

    for function in ("OrgListFunction", "OrgAccountFunction", "OrgReportFunction"):
        env = t["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert set(env) <= set(VARIABLES), function


def test_the_definition_is_valid_states_language():
    """moto's interpreter (LocalStack's Amazon States Language grammar) parses it."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import (
        AmazonStateLanguageParser,
        ASLParserException,
    )

    from dormant.demo.moto_stepfunctions import installable_definition

    props = load_template()["Resources"]["OrgStateMachine"]["Properties"]

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::Sub"}:
                return node["Fn::Sub"].replace("${AWS::Partition}", "aws")
            if set(node) == {"Ref"}:
                return {
                    "OrgMaxConcurrency": 20,
                    "OrgToleratedFailurePercentage": 10,
                    "AWS::Partition": "aws",
                }[node["Ref"]]
            if set(node) == {"Fn::GetAtt"}:
                return f"arn:aws:lambda:us-east-1:123456789012:function:{node['Fn::GetAtt'][0]}"
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    subs = props["DefinitionSubstitutions"]
    assert set(subs) == {
        "Partition",
        "ListFunction",
        "AccountFunction",
        "ReportFunction",
        "Bucket",
        "ResultsPrefix",
    }
    resolved = {
        "Definition": resolve(props["Definition"]),
        "DefinitionSubstitutions": {
            "Partition": "aws",
            **{k: resolve(subs[k]) for k in ("ListFunction", "AccountFunction", "ReportFunction")},
            "Bucket": "dormant-reports",
            "ResultsPrefix": "dormant/map-runs",
        },
    }
    text = installable_definition(resolved)
    assert "${" not in text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        AmazonStateLanguageParser.parse(text)
        # ...and the parser does reject a broken one.
        with pytest.raises(ASLParserException):
            AmazonStateLanguageParser.parse(text.replace('"DISTRIBUTED"', '"DISTRIBUTE"'))


def test_the_state_machine_role_does_only_what_the_map_needs():
    t = load_template()
    role = t["Resources"]["OrgStateMachineRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "states.amazonaws.com"
    }
    [policy] = role["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["InvokeTheSteps"]["Action"] == "lambda:InvokeFunction"
    assert statements["InvokeTheSteps"]["Resource"] == [
        {"Fn::GetAtt": [f, "Arn"]}
        for f in ("OrgListFunction", "OrgAccountFunction", "OrgReportFunction")
    ]
    assert statements["ReadTheAccountList"]["Action"] == "s3:GetObject"
    assert statements["ReadTheAccountList"]["Resource"] == {
        "Fn::Sub": "${ReportBucket.Arn}/${ReportPrefix}/*"
    }
    assert statements["WriteTheMapResults"]["Resource"] == {
        "Fn::Sub": "${ReportBucket.Arn}/${ReportPrefix}/map-runs/*"
    }
    assert "*" not in json.dumps([s["Resource"] for s in statements.values()]).replace("/*", "")
    own = t["Resources"]["OrgStateMachineSelfPolicy"]["Properties"]
    assert own["RoleName"] == {"Ref": "OrgStateMachineRole"}
    statements = {s["Sid"]: s for s in own["PolicyDocument"]["Statement"]}
    assert statements["StartChildExecutions"] == {
        "Sid": "StartChildExecutions",
        "Effect": "Allow",
        "Action": "states:StartExecution",
        "Resource": {"Ref": "OrgStateMachine"},
    }
    assert set(statements["FollowChildExecutions"]["Action"]) == {
        "states:DescribeExecution",
        "states:StopExecution",
    }
    assert statements["FollowChildExecutions"]["Resource"]["Fn::Sub"].endswith(
        ":execution:${OrgStateMachine.Name}/*"
    )
    schedule = t["Resources"]["OrgScheduleRole"]["Properties"]
    [start] = schedule["Policies"][0]["PolicyDocument"]["Statement"]
    assert start["Action"] == "states:StartExecution"
    assert start["Resource"] == {"Ref": "OrgStateMachine"}


def test_template_still_fits_inline():
    from dormant.automation.deploy import MAX_TEMPLATE_BODY

    assert len(TEMPLATE.read_bytes()) < MAX_TEMPLATE_BODY


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fan_out_mode_deploys_then_turns_off(emulator, tmp_path):
    """The stack in fan-out mode: three step functions, the state machine with its definition
    as AWS makes it from the template, the schedule starting it; turned off again: the state
    machine is gone and the schedule invokes the function."""
    import zipfile

    from dormant.demo import moto_cloudformation, moto_stepfunctions

    moto_cloudformation.install()
    moto_stepfunctions.install()
    emulator.client("s3").create_bucket(Bucket="dormant-code-test")
    code = tmp_path / "dormant-lambda.zip"
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("dormant/__init__.py", "")

    first = deploy_stack(
        emulator,
        code,
        "OrgMode=fan-out",
        "OrgRoleName=dormant-scan",
        "OrgMaxConcurrency=5",
        stack_name="dormant-org",
    )
    assert first.exit_code == 0, first.output
    cfn = emulator.client("cloudformation")
    stack = cfn.describe_stacks(StackName="dormant-org")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    machine_arn = outputs["OrgStateMachineArn"]
    assert f"OrgStateMachineArn\t{machine_arn}" in first.output

    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName="dormant-org")["StackResourceSummaries"]
    }
    lam = emulator.client("lambda")
    handlers = {}
    for name in ("OrgListFunction", "OrgAccountFunction", "OrgReportFunction"):
        conf = lam.get_function(FunctionName=resources[name])["Configuration"]
        handlers[name] = conf["Handler"]
        env = conf["Environment"]["Variables"]
        assert env["REPORT_BUCKET"] == outputs["ReportBucketName"] and env["ORG"] == "true"
    assert handlers == {
        "OrgListFunction": "dormant.aws_lambda.org_list_handler",
        "OrgAccountFunction": "dormant.aws_lambda.org_account_handler",
        "OrgReportFunction": "dormant.aws_lambda.org_report_handler",
    }
    account_env = lam.get_function(FunctionName=resources["OrgAccountFunction"])["Configuration"][
        "Environment"
    ]["Variables"]
    assert account_env["ORG_ROLE_NAME"] == "dormant-scan"
    main_env = lam.get_function(FunctionName=outputs["FunctionName"])["Configuration"][
        "Environment"
    ]["Variables"]
    assert main_env["ORG"] == "true" and main_env["ORG_ROLE_NAME"] == "dormant-scan"

    sfn = emulator.client("stepfunctions")
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine_arn)["definition"])
    scan = definition["States"]["ScanAccounts"]
    assert scan["MaxConcurrency"] == 5
    assert scan["ResultWriter"]["Parameters"] == {
        "Bucket": outputs["ReportBucketName"],
        "Prefix": "dormant/map-runs",
    }
    arns = {
        name: lam.get_function(FunctionName=resources[name])["Configuration"]["FunctionArn"]
        for name in handlers
    }
    assert (
        definition["States"]["ListAccounts"]["Parameters"]["FunctionName"]
        == arns["OrgListFunction"]
    )
    assert (
        scan["ItemProcessor"]["States"]["ScanAccount"]["Parameters"]["FunctionName"]
        == arns["OrgAccountFunction"]
    )
    assert definition["States"]["Report"]["Resource"] == "arn:aws:states:::lambda:invoke"

    events = emulator.client("events")
    [target] = events.list_targets_by_rule(Rule=outputs["ScheduleRuleName"])["Targets"]
    assert target["Arn"] == machine_arn
    assert target["RoleArn"].split("/")[-1] == resources["OrgScheduleRole"]

    # Back to a single-account stack: the state machine is deleted, the schedule invokes the
    # function again.
    off = deploy_stack(emulator, code, "OrgMode=off", stack_name="dormant-org")
    assert off.exit_code == 0, off.output
    assert "stack dormant-org updated (UPDATE_COMPLETE)" in off.output
    assert sfn.list_state_machines()["stateMachines"] == []
    stack = cfn.describe_stacks(StackName="dormant-org")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert "OrgStateMachineArn" not in outputs
    # (moto replaces a rule whose targets change, under a new name; AWS updates it in place)
    [target] = events.list_targets_by_rule(Rule=outputs["ScheduleRuleName"])["Targets"]
    assert target["Arn"] == outputs["FunctionArn"]
    main_env = lam.get_function(FunctionName=outputs["FunctionName"])["Configuration"][
        "Environment"
    ]["Variables"]
    assert main_env["ORG"] == "false"


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_deployed_state_machine_scans_the_organization(emulator, now, monkeypatch, tmp_path):
    """The stack's own state machine, executed by moto's States Language interpreter: the
    list step, the Distributed Map reading the member list from S3 and invoking the account
    step once per account (dormant's handlers run in-process with the functions' environment
    from the template), its results written to S3, and the report step's reports and
    notification."""
    import time
    import zipfile

    from dormant.demo import moto_cloudformation, moto_stepfunctions
    from dormant.demo.organization import Member, seed_organization
    from dormant.demo.seed import Account, Key, User
    from dormant.demo.server import DEFAULT_ACCOUNT

    moto_cloudformation.install()
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    org = seed_organization(
        emulator,
        [
            Member("prod", Account(users=[User("ci", age=500, keys=[Key(age=500, used=200)])])),
            Member("dev", Account(users=[User("old", age=400, keys=[Key(age=400, used=300)])])),
        ],
        now,
        role_name="dormant-readonly",
        role_policy=json.loads(READONLY.read_text()),
    )
    emulator.client("s3").create_bucket(Bucket="dormant-code-test")
    code = tmp_path / "dormant-lambda.zip"
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("dormant/__init__.py", "")

    with moto_stepfunctions.executing(emulator.endpoint_url):
        deployed = deploy_stack(
            emulator, code, "OrgMode=fan-out", "OrgMaxConcurrency=2", stack_name="dormant-org"
        )
        assert deployed.exit_code == 0, deployed.output
        stack = emulator.client("cloudformation").describe_stacks(StackName="dormant-org")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Stacks"][0]["Outputs"]}
        sqs = emulator.client("sqs")
        queue = sqs.create_queue(QueueName="mail")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        emulator.client("sns").subscribe(
            TopicArn=outputs["TopicArn"],
            Protocol="sqs",
            Endpoint=queue_arn["Attributes"]["QueueArn"],
        )

        sfn = emulator.client("stepfunctions")
        execution = sfn.start_execution(stateMachineArn=outputs["OrgStateMachineArn"], input="{}")
        for _ in range(3000):  # a guard against a hang, not a time limit on the scan
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if described["status"] != "RUNNING":
                break
            time.sleep(0.2)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    result = json.loads(described["output"])
    everyone = sorted([DEFAULT_ACCOUNT, *org.accounts.values()])
    assert result["status"] == "ok"
    assert result["org"]["mode"] == "fan-out" and result["org"]["scanned"] == everyone

    s3 = emulator.client("s3")
    bucket = outputs["ReportBucketName"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    prefix = result["report"]["prefix"]
    assert {f"{prefix}accounts/{a}.zip" for a in everyone} <= keys
    assert f"{prefix}members.json" in keys and f"{prefix}report.json" in keys
    assert any(k.startswith("dormant/map-runs/") for k in keys), "the Map's ResultWriter"
    report = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}report.json")["Body"].read())
    found = {(f["account_id"], f["type"], f["principal_name"]) for f in report["findings"]}
    assert {
        (org.id("prod"), "UnusedIAMUserAccessKey", "ci"),
        (org.id("dev"), "UnusedIAMUserAccessKey", "old"),
    } <= found
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert "in 3 accounts" in json.loads(message["Body"])["Subject"]
