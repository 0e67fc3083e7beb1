"""`dormant org access-report`: organization-level Access Advisor for SCP clean-up, against the
emulated AWS (moto's Organizations, and dormant's emulation of Generate/GetOrganizationsAccess
Report over HTTP).

The organization: the management account 123456789012; OU prod (accounts p1, p2), OU sandbox
(account s1) with OU lab under it (account l1). SCPs allow six services. Use, per account:
p1 s3 2 days ago and ec2 200 days ago; p2 s3 5 days ago and lambda 10 days ago; s1 sqs 30 days
ago; l1 kms 500 days ago (older than the 400 days AWS reports). So prod used s3 and lambda,
stopped using ec2, and never used sqs, kms or dynamodb.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from dormant.cli import main
from dormant.demo import moto_org_access as emu_org
from dormant.demo.server import DEFAULT_ACCOUNT
from dormant.judge.org_access import judge
from dormant.sources import org_access
from dormant.sources.aws import build_session
from dormant.sources.base import CollectContext

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "schema" / "org-access-report.v1.json").read_text())
POLICY_FILE = ROOT / "deploy" / "org-scanner-policy.json"
SERVICES = ["dynamodb", "ec2", "kms", "lambda", "s3", "sqs"]


@dataclass
class Org:
    id: str
    root: str
    prod: str
    sandbox: str
    lab: str
    accounts: dict[str, str]

    def path(self, *parts: str) -> str:
        return "/".join([self.id, self.root, *parts])


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    """Poll at once: the emulated jobs complete at their second Get."""
    monkeypatch.setattr(org_access, "POLL_FIRST", 0.001)
    monkeypatch.setattr(org_access, "RETRY_FIRST", 0.001)


def _org(emulator, now: dt.datetime, *, scps: bool = True) -> Org:
    """The organization of the module docstring, seeded through moto's in-process backend."""
    from moto.organizations.models import organizations_backends

    be = organizations_backends[DEFAULT_ACCOUNT]["aws"]
    org_id = be.create_organization(region="us-east-1", FeatureSet="ALL")["Organization"]["Id"]
    root = be.list_roots()["Roots"][0]["Id"]
    if scps:
        be.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")

    def ou(name: str, parent: str) -> str:
        return be.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]

    prod, sandbox = ou("prod", root), ou("sandbox", root)
    lab = ou("lab", sandbox)
    accounts = {}
    for name, parent in (("p1", prod), ("p2", prod), ("s1", sandbox), ("l1", lab)):
        status = be.create_account(AccountName=name, Email=f"{name}@example.com")
        accounts[name] = status["CreateAccountStatus"]["AccountId"]
        be.move_account(AccountId=accounts[name], SourceParentId=root, DestinationParentId=parent)
    emu_org.configure(services=SERVICES)

    def ago(days: int) -> dt.datetime:
        return now - dt.timedelta(days=days)

    emu_org.record_use(accounts["p1"], {"s3": ago(2), "ec2": ago(200)})
    emu_org.record_use(accounts["p2"], {"s3": ago(5), "lambda": ago(10)})
    emu_org.record_use(accounts["s1"], {"sqs": ago(30)})
    emu_org.record_use(accounts["l1"], {"kms": ago(500)})
    return Org(org_id, root, prod, sandbox, lab, accounts)


def run(emulator, *args: str, env: dict | None = None, code: int | None = None):
    result = CliRunner().invoke(
        main,
        ["org", "access-report", *args, "--endpoint-url", emulator.endpoint_url],
        env=env,
    )
    if code is not None:
        assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    return result


def report(emulator, *args: str, code: int | None = 1) -> dict:
    result = run(emulator, *args, "--format", "json", code=code)
    doc = json.loads(result.stdout)
    validate(doc)
    return doc


def validate(doc: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)


def verdicts(entity: dict) -> dict[str, str]:
    return {s["namespace"]: s["verdict"] for s in entity["services"]}


def by_path(doc: dict) -> dict[str, dict]:
    return {e["entity"]["path"]: e for e in doc["entities"]}


# ---------------------------------------------------------------------------------- verdicts


def test_ou_report_finds_never_used_and_stale_services(emulator, now):
    org = _org(emulator, now)
    doc = report(emulator, "--ou", org.prod)
    (prod,) = doc["entities"]
    assert prod["entity"] == {
        "kind": "ou",
        "id": org.prod,
        "path": org.path(org.prod),
        "name": "prod",
        "management_account": False,
    }
    assert prod["status"] == "complete"
    assert verdicts(prod) == {
        "s3": "used",
        "lambda": "used",
        "ec2": "unused",
        "sqs": "never-used",
        "kms": "never-used",
        "dynamodb": "never-used",
    }
    s3 = next(s for s in prod["services"] if s["namespace"] == "s3")
    assert s3["last_entity_path"] == org.path(org.prod, org.accounts["p1"])
    assert s3["total_authenticated_entities"] == 2 and s3["days_since_last_authenticated"] == 2
    ec2 = next(s for s in prod["services"] if s["namespace"] == "ec2")
    assert ec2["days_since_last_authenticated"] == 200 and "200 days ago" in ec2["reason"]
    # The evidence: the report's own counts and completion date.
    ev = prod["evidence"]
    assert ev["job_status"] == "COMPLETED" and ev["job_completion_date"]
    assert ev["number_of_services_accessible"] == 6
    assert ev["number_of_services_not_accessed"] == 3
    assert prod["summary"] == {"used": 2, "unused": 1, "never_used": 3, "insufficient_evidence": 0}


def test_root_and_account_reports_and_the_management_account(emulator, now):
    org = _org(emulator, now)
    doc = report(emulator, "--root", "--account", org.accounts["s1"], "--account", DEFAULT_ACCOUNT)
    root, s1, management = doc["entities"]
    assert root["entity"]["path"] == org.path()
    # kms was used 500 days ago by l1: beyond the 400 days AWS reports, so never used.
    assert verdicts(root) == {
        "s3": "used",
        "lambda": "used",
        "sqs": "used",
        "ec2": "unused",
        "kms": "never-used",
        "dynamodb": "never-used",
    }
    assert s1["entity"]["path"] == org.path(org.sandbox, org.accounts["s1"])
    assert s1["entity"]["name"] == "s1"
    assert verdicts(s1)["sqs"] == "used" and verdicts(s1)["s3"] == "never-used"
    # SCPs do not restrict the management account: its report gets no SCP suggestion.
    assert management["entity"]["management_account"] is True
    assert management["recommendation"] is None
    assert "management account" in management["no_recommendation_reason"]


def test_suggested_scp_denies_exactly_the_unused_services(emulator, now):
    org = _org(emulator, now)
    doc = report(emulator, "--ou", org.prod, "--ou", org.sandbox)
    expected = {org.prod: ["dynamodb", "ec2", "kms", "sqs"], org.sandbox: ["dynamodb", "ec2",
                "kms", "lambda", "s3"]}  # fmt: skip
    for entity in doc["entities"]:
        rec = entity["recommendation"]
        unused = sorted(
            s["namespace"] for s in entity["services"] if s["verdict"] in ("unused", "never-used")
        )
        assert rec["namespaces"] == unused == expected[entity["entity"]["id"]]
        assert rec["kind"] == "scp-deny" and "suggestion to review" in rec["label"].lower()
        assert any("400 days" in c for c in rec["caveats"])
        statement = rec["policy_document"]["Statement"][0]
        assert statement["Effect"] == "Deny" and statement["Resource"] == "*"
        assert statement["Action"] == [f"{ns}:*" for ns in unused]
    # The table shows the same document, as valid JSON.
    table = run(emulator, "--ou", org.prod, code=1).stdout
    block = re.search(r"\n(\s+)\{\n.*?\n\1\}\n", table, re.S)
    assert block, table
    shown = json.loads(block.group(0))
    assert shown == doc["entities"][0]["recommendation"]["policy_document"]

    # Attached to prod, the suggested SCP leaves exactly the services prod uses.
    from moto.organizations.models import organizations_backends

    be = organizations_backends[DEFAULT_ACCOUNT]["aws"]
    scp = be.create_policy(
        Name="dormant-suggestion",
        Description="",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(shown),
    )["Policy"]["PolicySummary"]["Id"]
    be.attach_policy(PolicyId=scp, TargetId=org.prod)
    after = report(emulator, "--ou", org.prod, code=0)
    assert verdicts(after["entities"][0]) == {"s3": "used", "lambda": "used"}


def rejudge(evidence: Path, *args: str, code: int) -> dict:
    """Judge saved evidence again, with no AWS at all."""
    result = CliRunner().invoke(
        main,
        ["org", "access-report", "--from-evidence", str(evidence), "--format", "json", *args],
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},  # nothing listens: no call is made
    )
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    doc = json.loads(result.stdout)
    validate(doc)
    return doc


def test_thresholds_from_the_option_and_the_policy_file(emulator, now, tmp_path):
    org = _org(emulator, now)
    evidence = tmp_path / "evidence.json"
    report(emulator, "--ou", org.prod, "--evidence", str(evidence))
    policy = tmp_path / "policy.toml"
    policy.write_text("[thresholds]\ndefault = 30\nUnusedPermission = 365\n")
    doc = rejudge(evidence, "--policy", str(policy), code=1)
    assert doc["threshold_days"] == 365
    assert verdicts(doc["entities"][0])["ec2"] == "used"  # 200 days < 365
    doc = rejudge(evidence, "--threshold-days", "3", code=1)
    assert verdicts(doc["entities"][0])["s3"] == "used"  # p1, 2 days ago
    assert verdicts(doc["entities"][0])["lambda"] == "unused"  # p2, 10 days ago
    # A threshold longer than the tracking period: "no access in 400 days" proves nothing.
    doc = rejudge(evidence, "--threshold-days", "500", code=0)
    prod = verdicts(doc["entities"][0])
    assert prod["sqs"] == prod["kms"] == "insufficient-evidence"
    assert prod["ec2"] == "used"
    assert doc["entities"][0]["recommendation"] is None


def test_policy_id_report_and_an_scp_not_attached_below(emulator, now):
    org = _org(emulator, now)
    from moto.organizations.models import organizations_backends

    be = organizations_backends[DEFAULT_ACCOUNT]["aws"]
    content = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "ec2:*", "kms:*"], "Resource": "*"}],
    }
    scp = be.create_policy(
        Name="prod-allow",
        Description="",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(content),
    )["Policy"]["PolicySummary"]["Id"]
    be.attach_policy(PolicyId=scp, TargetId=org.prod)
    doc = report(emulator, "--ou", org.prod, "--ou", org.sandbox, "--policy-id", scp)
    assert doc["policy"]["id"] == scp and doc["policy"]["target_paths"] == [org.path(org.prod)]
    prod, sandbox = doc["entities"]
    assert verdicts(prod) == {"s3": "used", "ec2": "unused", "kms": "never-used"}
    assert prod["recommendation"]["namespaces"] == ["ec2", "kms"]
    assert scp in prod["recommendation"]["scope"]
    # Not attached to sandbox nor under it: AWS lists the services with no data.
    assert sandbox["status"] == "no-data-for-policy"
    assert set(verdicts(sandbox).values()) == {"insufficient-evidence"}
    assert sandbox["recommendation"] is None
    assert "attached neither" in sandbox["no_recommendation_reason"]
    # The report completed (it just has no data): not an error, nothing unused, exit 0.
    result = run(emulator, "--ou", org.sandbox, "--policy-id", scp, code=0)
    assert "status: no-data-for-policy\n" in result.stdout and "None" not in result.stdout
    assert f"{org.path(org.sandbox)}: no verdict but insufficient-evidence" in result.stderr


def test_policy_id_must_be_an_scp_of_the_organization(emulator, now):
    org = _org(emulator, now)
    result = run(emulator, "--ou", org.prod, "--policy-id", "p-doesnotexist", code=2)
    assert "--policy-id p-doesnotexist: no such policy" in result.stderr
    result = run(emulator, "--ou", org.prod, "--policy-id", "nope", code=2)
    assert "not a policy id" in result.stderr


# --------------------------------------------------------------- failures: never an unused claim


def test_failed_job_gives_a_coverage_entry_and_no_unused_claim(emulator, now):
    org = _org(emulator, now)
    emu_org.fail_report(org.path(org.sandbox), "InternalFailure", "report broke")
    result = run(emulator, "--ou", org.prod, "--ou", org.sandbox, "--format", "json", code=1)
    doc = json.loads(result.stdout)
    validate(doc)
    prod, sandbox = doc["entities"]
    assert prod["status"] == "complete" and prod["recommendation"]
    assert sandbox["status"] == "failed"
    assert sandbox["error"] == {
        "operation": "GetOrganizationsAccessReport",
        "code": "InternalFailure",
        "message": "report broke",
    }
    assert sandbox["services"] == [] and sandbox["recommendation"] is None
    assert "nothing is claimed unused" in sandbox["no_recommendation_reason"]
    assert doc["summary"]["not_complete"] == 1
    table = run(emulator, "--ou", org.sandbox, "--ou", org.prod, code=1).stdout
    assert "status: failed: InternalFailure: report broke\n" in table
    assert f"{org.path(org.sandbox)}: no verdict but insufficient-evidence (failed" in (
        result.stderr
    )
    # The contract itself forbids services or a suggestion on a failed entity.
    broken = json.loads(result.stdout)
    broken["entities"][1]["services"] = prod["services"]
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_every_report_failed_exits_2_after_writing_the_report(emulator, now, tmp_path):
    org = _org(emulator, now)
    emu_org.fail_report(org.path(org.prod))
    out = tmp_path / "report.json"
    result = run(emulator, "--ou", org.prod, "--format", "json", "--output", str(out), code=2)
    assert "no organization access report completed" in result.stderr
    doc = json.loads(out.read_text())
    validate(doc)
    assert doc["entities"][0]["status"] == "failed"


def _collect(emulator, paths, *, timeout=30.0, max_items=None, session=None):
    """The source in-process, with a clock that sleeps no real time."""
    session = session or build_session(endpoint_url=emulator.endpoint_url)
    resolver = org_access.OrgResolver(session)
    organization = resolver.organization()
    slept: list[float] = []
    frozen = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ctx = CollectContext(
        session=session,
        account_id=organization.caller_account_id,
        clock=lambda: frozen,
        sleep=slept.append,
    )
    result = org_access.collect(ctx, paths, job_timeout=timeout, max_items=max_items)
    return organization, result, slept


def test_timed_out_job_gives_a_coverage_entry_and_no_unused_claim(emulator, now):
    org = _org(emulator, now)
    emu_org.slow_report(org.path(org.sandbox), 10**6)
    organization, result, slept = _collect(
        emulator, [org.path(org.prod), org.path(org.sandbox)], timeout=60
    )
    assert sum(slept) >= 60  # it waited the whole timeout, with backoff, no real time
    assert max(slept) <= org_access.POLL_MAX
    reports = org_access.parse(result.raw)
    assert reports[org.path(org.sandbox)].outcome == "timeout"
    assert reports[org.path(org.prod)].complete
    entities = [
        org_access.entity_from_path(organization, org.path(org.prod)),
        org_access.entity_from_path(organization, org.path(org.sandbox)),
    ]
    judged = judge(organization, entities, reports, threshold_days=90, as_of=now)
    prod, sandbox = judged.entities
    assert prod.complete and prod.unused
    assert sandbox.status == "timeout" and sandbox.error.code == "JobTimeout"
    assert "IN_PROGRESS after 60s" in sandbox.error.message
    assert sandbox.services == () and sandbox.recommendation is None
    assert result.status == "partial"
    assert [e.target for e in result.errors] == [org.path(org.sandbox)]
    validate(judged.to_json())


def test_pagination_reads_every_page(emulator, now):
    org = _org(emulator, now)
    path = org.path(org.prod)
    session = build_session(endpoint_url=emulator.endpoint_url)

    def read(max_items):
        _, result, _ = _collect(emulator, [path], max_items=max_items, session=session)
        return org_access.parse(result.raw)[path]

    one, tiny = read(None), read(1)
    assert (one.pages, tiny.pages) == (1, 6)
    assert tiny.details == one.details and len(one.details) == 6
    paged = report(emulator, "--ou", org.prod, "--max-items", "4")["entities"][0]
    assert paged["evidence"]["pages"] == 2
    assert [s["namespace"] for s in paged["services"]] == [d.namespace for d in one.details]
    # With AWS's default page size (100), a report of 250 services takes three pages.
    emu_org.configure(services=[f"svc{i:03d}" for i in range(250)])
    big = read(None)
    assert big.pages == 3 and len(big.details) == 250 and big.complete


def test_a_page_that_cannot_be_read_leaves_the_report_unjudged(emulator, now, no_botocore_retries):
    org = _org(emulator, now)
    emu_org.fail_pages(org.path(org.prod))
    organization, result, _ = _collect(emulator, [org.path(org.prod)], max_items=2)
    entry = result.raw["jobs"][org.path(org.prod)]
    assert len(entry["GetOrganizationsAccessReport"]) == 1  # the first page is kept as evidence
    assert entry["error"]["code"] == "ServiceFailure"
    report_ = org_access.parse(result.raw)[org.path(org.prod)]
    assert not report_.complete and len(report_.details) == 2
    entity = org_access.entity_from_path(organization, org.path(org.prod))
    (judged,) = judge(organization, [entity], {entity.path: report_}, threshold_days=90,
                      as_of=now).entities  # fmt: skip
    assert judged.status == "error" and judged.services == () and judged.recommendation is None


def test_a_report_listing_fewer_services_than_it_counts_is_not_judged(emulator, now):
    org = _org(emulator, now)
    organization, result, _ = _collect(emulator, [org.path(org.prod)])
    raw = json.loads(json.dumps(result.raw))
    page = raw["jobs"][org.path(org.prod)]["GetOrganizationsAccessReport"][-1]
    page["AccessDetails"] = page["AccessDetails"][:-1]  # one service lost on the way
    report_ = org_access.parse(raw)[org.path(org.prod)]
    entity = org_access.entity_from_path(organization, org.path(org.prod))
    (judged,) = judge(organization, [entity], {entity.path: report_}, threshold_days=90,
                      as_of=now).entities  # fmt: skip
    assert judged.status == "incomplete" and judged.error.code == "ServicesMissing"
    assert judged.services == () and judged.recommendation is None


@pytest.fixture
def no_botocore_retries(monkeypatch):
    """One attempt per call: errors reach dormant's own retries at once (botocore's backoff,
    and adaptive mode's client-side rate limiter, would sleep real time)."""
    import botocore.config

    from dormant.sources import aws

    monkeypatch.setattr(
        aws,
        "client_config",
        lambda max_attempts, max_pool: botocore.config.Config(
            retries={"mode": "standard", "total_max_attempts": 1}
        ),
    )


def test_throttling_and_the_report_limit_are_ridden_out(emulator, now, no_botocore_retries):
    org = _org(emulator, now)
    emu_org.configure(max_concurrent_jobs=1)
    emu_org.throttle(3)
    paths = [org.path(org.prod), org.path(org.sandbox), org.path(org.sandbox, org.lab)]
    _, result, slept = _collect(emulator, paths)
    reports = org_access.parse(result.raw)
    assert all(reports[p].complete for p in paths), result.errors
    calls = emu_org.stats()["calls"]
    assert calls["Throttled"] == 3 and calls["ReportGenerationLimitExceeded"] >= 2
    assert emu_org.stats()["jobs"] == 3  # one report per entity: a refused Generate is retried
    assert slept  # it backed off rather than hammering


# ---------------------------------------------------------------------- who may ask, and how


def test_not_the_management_account(emulator, now):
    org = _org(emulator, now)
    creds = emulator.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{org.accounts['p1']}:role/OrganizationAccountAccessRole",
        RoleSessionName="dormant-test",
    )["Credentials"]
    env = {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }
    result = run(emulator, "--ou", org.prod, env=env, code=2)
    assert (
        f"account {org.accounts['p1']} is a member of organization {org.id}, not its "
        f"management account {DEFAULT_ACCOUNT}" in result.stderr
    )
    assert creds["SecretAccessKey"] not in result.output + result.stderr
    # The emulated IAM refuses a member account too (dormant stops before asking it).
    import botocore.exceptions

    member = emulator.client(
        "iam",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        member.generate_organizations_access_report(EntityPath=org.path(org.prod))
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_scps_must_be_enabled(emulator, now):
    org = _org(emulator, now, scps=False)
    result = run(emulator, code=2)
    assert f"service control policies are not enabled on root {org.root}" in result.stderr
    assert "enable-policy-type" in result.stderr


def test_not_in_an_organization(emulator):
    result = run(emulator, code=2)
    assert "not in an AWS Organization" in result.stderr


def test_unknown_ou_and_account(emulator, now):
    _org(emulator, now)
    result = run(emulator, "--ou", "ou-abcd-zzzzzzzz", code=2)
    assert "--ou ou-abcd-zzzzzzzz: not found in the organization" in result.stderr
    result = run(emulator, "--account", "12345", code=2)
    assert "--account '12345': not a 12-digit account id" in result.stderr


def _statement_actions() -> list[str]:
    # The file also holds the organization scan's statements; this command needs only its own.
    statements = json.loads(POLICY_FILE.read_text())["Statement"]
    (statement,) = [s for s in statements if s["Sid"] == "DormantOrganizationsAccessReport"]
    return statement["Action"]


# What each action of the statement is for: "required" (denied, the command fails naming it),
# "names" (denied, the report goes on without names), "policy" (required with --policy-id), or
# "aws" (not called by dormant; listed by AWS for generating organization reports).
ACTIONS = {
    "iam:GenerateOrganizationsAccessReport": "required",
    "iam:GetOrganizationsAccessReport": "required",
    "organizations:DescribeOrganization": "required",
    "organizations:ListRoots": "required",
    "organizations:ListParents": "required",
    "organizations:DescribePolicy": "policy",
    "organizations:ListTargetsForPolicy": "policy",
    "organizations:DescribeAccount": "names",
    "organizations:DescribeOrganizationalUnit": "names",
    "organizations:ListChildren": "aws",
    "organizations:ListPoliciesForTarget": "aws",
}


def test_every_action_of_the_statement_is_accounted_for():
    assert sorted(_statement_actions()) == sorted(ACTIONS)


def _scanner(emulator, actions: list[str]) -> dict[str, str]:
    iam = emulator.client("iam")
    iam.create_user(UserName="dormant-org-scanner")
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_user_policy(
        UserName="dormant-org-scanner", PolicyName="org", PolicyDocument=json.dumps(doc)
    )
    key = iam.create_access_key(UserName="dormant-org-scanner")["AccessKey"]
    emulator.set_auth(0)
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


@pytest.mark.parametrize(
    "missing",
    [
        None,
        "iam:GenerateOrganizationsAccessReport",
        "organizations:ListRoots",
        "organizations:DescribeAccount",
    ],
)
def test_the_statement_is_enough_and_a_denied_call_is_named(emulator, now, missing):
    org = _org(emulator, now)
    scp = "p-FullAWSAccess"
    env = _scanner(emulator, [a for a in _statement_actions() if a != missing])
    args = ["--ou", org.prod, "--account", org.accounts["p2"], "--policy-id", scp]
    result = run(emulator, *args, "--format", "json", env=env)
    if missing is None or ACTIONS[missing] == "names":
        assert result.exit_code == 1, result.stderr
        doc = json.loads(result.stdout)
        assert [e["status"] for e in doc["entities"]] == ["complete", "complete"]
        names = [e["entity"]["name"] for e in doc["entities"]]
        assert names == [
            None if missing == "organizations:DescribeOrganizationalUnit" else "prod",
            None if missing == "organizations:DescribeAccount" else "p2",
        ]
        if missing:
            assert any(missing in w for w in doc["warnings"]), doc["warnings"]
    else:
        assert result.exit_code == 2, result.output
        assert f"{missing} was denied" in result.stderr
        assert "DormantOrganizationsAccessReport of deploy/org-scanner-policy.json" in (
            result.stderr
        )
    assert env["AWS_SECRET_ACCESS_KEY"] not in result.output + result.stderr


# ------------------------------------------------------------------------ formats and evidence


def test_formats_and_fail_on(emulator, now, tmp_path):
    org = _org(emulator, now)
    evidence = tmp_path / "evidence.json"
    table = run(emulator, "--ou", org.prod, "--evidence", str(evidence), code=1).stdout
    assert f"ou {org.prod} (prod)" in table and "ec2" in table and "unused" in table
    assert "suggestion to review" in table.lower()

    def offline(*args: str, code: int) -> str:
        result = CliRunner().invoke(
            main, ["org", "access-report", "--from-evidence", str(evidence), *args]
        )
        assert result.exit_code == code, (result.output, result.stderr)
        return result.stdout

    md = offline("--format", "markdown", code=1)
    assert "| `ec2` | Amazon EC2 | unused |" in md and "```json" in md
    rows = offline("--format", "csv", code=1).splitlines()
    assert rows[0].startswith("entity_path,entity_kind,entity_id")
    assert len(rows) == 1 + 6
    assert any(",ec2,Amazon EC2,unused," in r for r in rows)
    offline("--fail-on", "none", code=0)
    offline("--fail-on", "insufficient-evidence", code=0)
    offline("--fail-on", "unused", code=1)
    offline("--fail-on", "used", code=2)  # not a verdict it fails on: a usage error


def test_evidence_is_judged_again_without_aws(emulator, now, tmp_path):
    org = _org(emulator, now)
    evidence = tmp_path / "evidence.json"
    first = report(emulator, "--ou", org.prod, "--evidence", str(evidence))
    assert rejudge(evidence, code=1) == first
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "something-else"}')
    result = CliRunner().invoke(main, ["org", "access-report", "--from-evidence", str(bad)])
    assert result.exit_code == 2 and "not organization access evidence" in result.stderr
    result = CliRunner().invoke(
        main, ["org", "access-report", "--from-evidence", str(evidence), "--ou", org.prod]
    )
    assert result.exit_code == 2 and "do not combine it" in result.stderr


def test_schema_rejects_an_undocumented_field(emulator, now):
    org = _org(emulator, now)
    doc = report(emulator, "--ou", org.prod)
    doc["entities"][0]["services"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


def test_the_command_is_mounted():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "dormant.cli", "org", "access-report", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--policy-id" in proc.stdout
