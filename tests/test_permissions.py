"""The UnusedPermission judgement on synthetic evidence: one rule per test, and the rules that
keep a permission in use from ever being called unused."""

from __future__ import annotations

import json

import pytest
from evidence import (
    ACCOUNT,
    AS_OF,
    Builder,
    allow,
    arn,
    policy_doc,
    role_arn,
    service,
)

from dormant.judge import judge, least_privilege
from dormant.model import Finding
from dormant.policy import Policy, PolicyFile
from dormant.sinks.formats import render

PERM = "UnusedPermission"


def _perms(report, name: str | None = None) -> dict[tuple, Finding]:
    """Permission findings by (principal, scope, service, action)."""
    return {
        (f.principal_name, f.scope, f.service, f.action): f
        for f in report.findings
        if str(f.type) == PERM and (name is None or f.principal_name == name)
    }


def _run(b: Builder, policy: Policy | None = None):
    return judge(b.snapshot(), policy or Policy(), AS_OF)


APP = policy_doc(
    allow("sqs:*", "Queue"),
    allow(["s3:ListAllMyBuckets", "s3:CreateBucket", "s3:GetObject"], "Buckets"),
)


def test_wholly_unused_service_and_unused_action_of_a_used_service():
    b = Builder().role("app", 500, used=1, inline=APP)
    b.advisor(
        role_arn("app"),
        [
            service("sqs"),
            service("s3", 2, {"ListAllMyBuckets": 2, "CreateBucket": None}),
        ],
    )
    found = _perms(_run(b))
    assert set(found) == {
        ("app", "service", "sqs", None),
        ("app", "action", "s3", "s3:CreateBucket"),
        ("app", "untracked", "s3", None),
    }
    sqs = found[("app", "service", "sqs", None)]
    assert str(sqs.verdict) == "unused"  # the role predates the 400-day window
    assert sqs.last_used is None and sqs.days_unused == 400
    assert {a["action"] for a in sqs.details["actions"]} >= {"sqs:SendMessage", "sqs:CreateQueue"}
    (grant,) = sqs.details["granted_by"]
    assert grant["policy"] == "app-inline" and grant["statement"] == "Queue"
    assert grant["type"] == "inline-role"
    assert sqs.evidence[0].field == "ServicesLastAccessed[sqs].LastAuthenticated"
    create = found[("app", "action", "s3", "s3:CreateBucket")]
    assert str(create.verdict) == "unused"
    assert create.details["granted_by"][0]["statement"] == "Buckets"
    # The used action is no finding; the object-level one cannot be judged.
    untracked = found[("app", "untracked", "s3", None)]
    assert str(untracked.verdict) == "insufficient-evidence"
    assert [a["action"] for a in untracked.details["actions"]] == ["s3:GetObject"]


@pytest.mark.parametrize(("days", "finding"), [(89, False), (90, False), (91, True)])
def test_service_threshold_boundary(days, finding):
    b = Builder().role("app", 500, used=1, inline=policy_doc(allow("sqs:SendMessage")))
    b.advisor(role_arn("app"), [service("sqs", days)])
    found = _perms(_run(b))
    assert (("app", "service", "sqs", None) in found) is finding
    if finding:
        f = found[("app", "service", "sqs", None)]
        assert f.days_unused == days and str(f.verdict) == "unused"


def test_passrole_and_s3_object_actions_are_never_unused_even_in_an_unused_service():
    doc = policy_doc(allow(["iam:PassRole", "iam:ListRoles"]), allow(["s3:GetObject"]))
    b = Builder().role("ci", 500, used=1, inline=doc)
    b.advisor(role_arn("ci"), [service("iam"), service("s3")])
    found = _perms(_run(b))
    # iam:ListRoles is unused (the service is); PassRole is not judged.
    assert str(found[("ci", "service", "iam", None)].verdict) == "unused"
    assert [a["action"] for a in found[("ci", "service", "iam", None)].details["actions"]] == [
        "iam:ListRoles"
    ]
    passrole = found[("ci", "untracked", "iam", None)]
    assert str(passrole.verdict) == "insufficient-evidence"
    assert "never tracked" in passrole.reason
    objects = found[("ci", "untracked", "s3", None)]
    assert str(objects.verdict) == "insufficient-evidence"
    assert ("ci", "service", "s3", None) not in found
    # And the rewrite keeps both.
    (plan,) = least_privilege(b.snapshot(), Policy(), AS_OF)
    (rewrite,) = [p.rewrite for p in plan.plans]
    assert "iam:ListRoles" in rewrite.removed
    assert "iam:PassRole" not in rewrite.removed and "s3:GetObject" not in rewrite.removed


def test_used_service_without_action_level_data_is_insufficient_not_unused():
    b = Builder().role("app", 500, used=1, inline=policy_doc(allow(["dynamodb:GetItem"])))
    b.advisor(role_arn("app"), [service("dynamodb", 3)])
    (f,) = _perms(_run(b)).values()
    assert (f.scope, str(f.verdict)) == ("untracked", "insufficient-evidence")
    assert "no action-level data" in f.reason


def test_service_missing_from_the_report_is_insufficient():
    b = Builder().role("app", 500, used=1, inline=policy_doc(allow(["sqs:SendMessage"])))
    b.advisor(role_arn("app"), [])
    (f,) = _perms(_run(b)).values()
    assert (f.scope, str(f.verdict)) == ("untracked", "insufficient-evidence")
    assert "not in the Access Advisor report" in f.reason


def test_failed_job_makes_every_permission_insufficient_and_is_in_coverage():
    b = Builder().role("app", 500, used=1, inline=APP)
    b.advisor(role_arn("app"), None, failed=True)
    report = _run(b)
    (f,) = _perms(report).values()
    assert (f.scope, f.service, str(f.verdict)) == ("principal", None, "insufficient-evidence")
    assert "FAILED" in f.reason
    cov = {c.source: c for c in report.coverage}["access_advisor"]
    assert cov.errors[0]["target"] == role_arn("app")
    # The role itself is still judged from RoleLastUsed.
    assert not [x for x in report.findings if str(x.type) == "UnusedIAMRole"]


def test_role_last_use_is_the_latest_of_role_last_used_and_every_service():
    doc = policy_doc(allow(["s3:ListAllMyBuckets", "sqs:SendMessage"]))
    b = Builder().role("quiet", 500, used=300, inline=doc)
    b.advisor(role_arn("quiet"), [service("s3", 150), service("sqs", 120)])
    (role,) = [f for f in _run(b).findings if str(f.type) == "UnusedIAMRole"]
    assert role.days_unused == 120 and str(role.verdict) == "unused"
    fields = {(o.source, o.field): o.value for o in role.evidence}
    assert ("GetAccountAuthorizationDetails", "RoleLastUsed.LastUsedDate") in fields
    assert ("GetServiceLastAccessedDetails", "ServicesLastAccessed[s3].LastAuthenticated") in fields
    assert (
        "GetServiceLastAccessedDetails",
        "ServicesLastAccessed[sqs].LastAuthenticated",
    ) in fields
    # An unused role's permissions are not judged one by one: the role finding says so.
    assert not _perms(_run(b))
    assert "itself is unused" in role.details["permissions"]

    # A service used recently makes the role used, whatever RoleLastUsed says.
    b2 = Builder().role("busy", 500, used=300, inline=doc)
    b2.advisor(role_arn("busy"), [service("s3", 5)])
    assert not [f for f in _run(b2).findings if str(f.type) == "UnusedIAMRole"]


def test_role_judgement_without_access_advisor_is_unchanged():
    b = Builder().role("old", 500, used=200)
    (role,) = _run(b).findings
    assert [o.source for o in role.evidence] == [
        "GetAccountAuthorizationDetails",
        "GetAccountAuthorizationDetails",
    ]


def test_user_permissions_include_group_policies():
    b = Builder().user("ana", 600, password=600, password_last_used=1)
    b.group("analysts", inline=policy_doc(allow(["athena:GetQueryResults", "glue:GetTable"])))
    b.permissions("ana", groups=("analysts",))
    b.advisor(arn("ana"), [service("athena", 2), service("glue")])
    b.advisor(f"arn:aws:iam::{ACCOUNT}:group/analysts", [service("athena", 2), service("glue")])
    found = _perms(_run(b))
    glue = found[("ana", "service", "glue", None)]
    assert str(glue.verdict) == "unused"
    (grant,) = glue.details["granted_by"]
    assert grant["via_group"] == "analysts" and grant["type"] == "inline-group"
    assert grant["attached_to"].endswith(":group/analysts")
    # The group's own policy is rewritten with the group's report.
    assert "group/analysts" in glue.details["policy_diff"]


def test_grant_younger_than_the_threshold_is_never_unused():
    v1 = policy_doc(allow("sqs:SendMessage"))
    v2 = policy_doc(allow(["sqs:SendMessage", "sns:Publish"]))
    b = Builder()
    pol = b.managed_policy("queue-writer", [(v1, 300), (v2, 10)])
    b.role("app", 500, used=1, managed=(pol,))
    b.advisor(role_arn("app"), [service("sqs"), service("sns")])
    found = _perms(_run(b))
    # sqs:SendMessage was granted by both versions: since day 300, and never used since.
    sqs = found[("app", "service", "sqs", None)]
    assert str(sqs.verdict) == "never-used" and sqs.days_unused == 300
    # sns:Publish only by the 10-day-old version.
    sns = found[("app", "untracked", "sns", None)]
    assert str(sns.verdict) == "insufficient-evidence"
    assert "granted only since" in sns.details["actions"][0]["reason"]


def test_a_deleted_version_stops_the_dating():
    v = policy_doc(allow("sqs:SendMessage"))
    b = Builder()
    pol = b.managed_policy("q", [(v, 300), (v, 200), (v, 10)])
    # Drop v2: between v1 and v3 the grant is unknown, so it dates from v3.
    b.policies[0]["PolicyVersionList"].pop(1)
    b.role("app", 500, used=1, managed=(pol,))
    b.advisor(role_arn("app"), [service("sqs")])
    (f,) = _perms(_run(b)).values()
    assert (f.scope, str(f.verdict)) == ("untracked", "insufficient-evidence")


def test_young_principal_is_not_judged():
    b = Builder().role("new", 30, used=1, inline=policy_doc(allow("sqs:*")))
    b.advisor(role_arn("new"), [service("sqs")])
    assert not _perms(_run(b))


def test_excluded_principal_gets_one_excluded_finding():
    b = Builder().role(
        "AWSServiceRoleForSupport",
        900,
        used=1,
        path="/aws-service-role/support.amazonaws.com/",
        inline=policy_doc(allow("*")),
    )
    b.advisor(role_arn("AWSServiceRoleForSupport", "/aws-service-role/support.amazonaws.com/"), [])
    report = _run(b)
    assert not _perms(report)
    (ex,) = [f for f in report.excluded if str(f.type) == PERM]
    assert ex.scope == "principal" and ex.excluded_by.startswith("service-linked role")


def test_allow_list_excludes_permission_findings_by_type():
    policy = Policy(
        PolicyFile.model_validate(
            {
                "allow": [
                    {
                        "arn": "arn:aws:iam::*:role/app",
                        "owner": "o",
                        "reason": "r",
                        "expires": "2099-01-01",
                        "types": [PERM],
                    }
                ]
            }
        )
    )
    b = Builder().role("app", 500, used=1, inline=APP)
    b.advisor(role_arn("app"), [service("sqs"), service("s3", 2, {"ListAllMyBuckets": 2})])
    report = _run(b, policy)
    assert not _perms(report)
    (ex,) = [f for f in report.excluded if str(f.type) == PERM]
    assert report.exceptions[0].matched == (ex.id,)


def test_access_analyzer_agreement():
    doc = policy_doc(allow(["sqs:SendMessage", "sns:Publish", "s3:CreateBucket", "iam:PassRole"]))
    b = Builder().role("app", 500, used=1, inline=doc).role("other", 500, used=1, inline=doc)
    for name in ("app", "other"):
        b.advisor(
            role_arn(name),
            [
                service("sqs"),
                service("sns"),
                service("s3", 2, {"CreateBucket": None, "ListBucket": 2}),
                service("iam"),
            ],
        )
    b.analyzer_finding(role_arn("app"), {"sqs": [], "s3": ["s3:CreateBucket"], "iam": []})
    found = _perms(_run(b))
    assert found[("app", "service", "sqs", None)].details["access_analyzer"] == "agrees"
    assert found[("app", "action", "s3", "s3:CreateBucket")].details["access_analyzer"] == "agrees"
    assert found[("app", "service", "sns", None)].details["access_analyzer"] == "disagrees"
    # dormant cannot judge PassRole; Access Analyzer calls iam unused: they disagree.
    assert found[("app", "untracked", "iam", None)].details["access_analyzer"] == "disagrees"
    assert found[("app", "service", "sqs", None)].details["access_analyzer_finding"] == {
        "id": "finding-0",
        "analyzer": f"arn:aws:access-analyzer:us-east-1:{ACCOUNT}:analyzer/unused",
        "unused_access_age_days": 90,
        "analyzed_at": "2026-05-31T00:00:00Z",
    }
    assert found[("other", "service", "sqs", None)].details["access_analyzer"] == "no finding"

    # Where Access Analyzer was not read, nothing is claimed about it.
    b.analyzer = None
    assert all("access_analyzer" not in f.details for f in _perms(_run(b)).values())


def test_shared_policy_keeps_what_another_principal_used():
    doc = policy_doc(allow(["sqs:SendMessage", "sns:Publish"]))
    b = Builder()
    pol = b.managed_policy("shared", [(doc, 400)], attachments=2)
    b.role("a", 500, used=1, managed=(pol,)).role("b", 500, used=1, managed=(pol,))
    b.advisor(role_arn("a"), [service("sqs", 2), service("sns")])
    b.advisor(role_arn("b"), [service("sqs"), service("sns", 3)])
    b.advisor(pol, [service("sqs", 2), service("sns", 3)])
    found = _perms(_run(b))
    sns = found[("a", "service", "sns", None)]
    assert str(sns.verdict) == "never-used"
    assert "shared policy" in sns.recommendation.summary
    plans = {p.principal.name: p for p in least_privilege(b.snapshot(), Policy(), AS_OF)}
    assert not plans["a"].changed and not plans["b"].changed
    assert "policy_diff" not in sns.details


def test_one_finding_per_principal_carries_the_least_privilege_rewrite():
    b = Builder().role("app", 500, used=1, inline=APP)
    b.advisor(
        role_arn("app"),
        [service("sqs"), service("s3", 2, {"ListAllMyBuckets": 2, "CreateBucket": None})],
    )
    report = _run(b)
    carriers = [f for f in report.findings if f.details.get("least_privilege")]
    (carrier,) = carriers
    assert carrier.action == "s3:CreateBucket"  # the first removable finding in report order
    diff = carrier.details["policy_diff"]
    assert '-      "Action": "sqs:*",' in diff and '-        "s3:CreateBucket",' in diff
    (rec,) = carrier.details["recommended_policies"]
    assert rec["recommendation"] == "put-inline-policy"
    (document,) = rec["documents"]
    assert document["Statement"] == [
        {
            "Action": ["s3:ListAllMyBuckets", "s3:GetObject"],
            "Effect": "Allow",
            "Resource": "*",
            "Sid": "Buckets",
        }
    ]


def test_same_evidence_same_bytes_and_json_round_trip():
    b = Builder().role("app", 500, used=1, inline=APP)
    b.advisor(role_arn("app"), [service("sqs"), service("s3", 2, {"ListAllMyBuckets": 2})])
    first = render(_run(b), "json")
    assert first == render(_run(b), "json")
    for f in json.loads(first)["findings"]:
        again = Finding.from_json(f)
        assert again.id == f["id"] and again.to_json() == f


def test_no_access_advisor_no_permission_findings():
    b = Builder().role("app", 500, used=1, inline=APP)
    assert not _perms(_run(b))


def test_access_advisor_wholly_denied_is_one_finding_per_kind():
    b = Builder().role("app", 500, used=1, inline=APP)
    b.jobs = {
        role_arn("app"): {"outcome": "error", "error": {"code": "AccessDenied", "message": "no"}}
    }
    b.fail("access_advisor", "GenerateServiceLastAccessedDetails", "AccessDenied", role_arn("app"))
    snap = b.snapshot()
    snap.accounts[0].sources["access_advisor"].settle({"GenerateServiceLastAccessedDetails": 1})
    report = judge(snap, Policy(), AS_OF)
    found = _perms(report)
    assert set(found) == {("*", "principal", None, None)}
    assert {f.principal_arn for f in report.findings if str(f.type) == PERM} == {
        f"arn:aws:iam::{ACCOUNT}:role/*",
        f"arn:aws:iam::{ACCOUNT}:user/*",
    }


def test_every_format_shows_the_permission_findings_and_the_rewrite():
    import csv
    import io

    b = Builder().role("app", 500, used=1, inline=APP)
    b.advisor(
        role_arn("app"),
        [service("sqs"), service("s3", 2, {"ListAllMyBuckets": 2, "CreateBucket": None})],
    )
    b.analyzer_finding(role_arn("app"), {"sqs": []})
    report = _run(b)
    table = render(report, "table", width=200)
    assert "sqs (all 20 granted)" in table and "s3:CreateBucket" in table
    assert "[Access Analyzer: agrees]" in table
    assert "app: inline-role policy app-inline: put-inline-policy (21 action(s) removed)" in table
    markdown = render(report, "markdown")
    assert "## Least-privilege recommendations" in markdown
    assert "```diff\n# inline-role policy app-inline" in markdown
    assert '-      "Action": "sqs:*",' in markdown
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    (carrier,) = [r for r in rows if r["policy_diff"]]
    assert carrier["action"] == "s3:CreateBucket" and carrier["scope"] == "action"
    assert {r["access_analyzer"] for r in rows if r["type"] == PERM} >= {"agrees"}


def test_long_runs_of_action_findings_are_cut_in_the_table_only():
    actions = {f"GetBucket{n}": None for n in ("Acl", "Cors", "Logging", "Policy", "Tagging", "X")}
    doc = policy_doc(allow(["s3:ListAllMyBuckets", *[f"s3:{a}" for a in actions]]))
    b = Builder().role("app", 500, used=1, inline=doc)
    b.advisor(role_arn("app"), [service("s3", 2, {"ListAllMyBuckets": 2, **actions})])
    report = _run(b)
    assert len([f for f in report.findings if f.scope == "action"]) == 6
    table = render(report, "table", width=200)
    assert "... and 2 more unused s3 actions" in table
    assert "s3:GetBucketAcl" in table and "s3:GetBucketX" not in table
    assert len(json.loads(render(report, "json"))["findings"]) == len(report.findings)


def test_without_authorization_details_permissions_are_insufficient_not_silent():
    from dormant.sources.base import SourceResult, SourceStatus

    b = Builder().role("app", 500, used=1, inline=APP)
    b.fail("authorization_details", "GetAccountAuthorizationDetails")
    snap = b.snapshot()
    sources = snap.accounts[0].sources
    sources["authorization_details"].raw = {}
    sources["authorization_details"].status = SourceStatus.DENIED
    sources["access_advisor"] = SourceResult(
        name="access_advisor", status=SourceStatus.SKIPPED, raw={"skipped": "no principals"}
    )
    found = _perms(judge(snap, Policy(), AS_OF))
    assert set(found) == {("*", "principal", None, None)}
    assert "GetAccountAuthorizationDetails" in found[("*", "principal", None, None)].reason

    # Turned off: nothing to say about permissions, and coverage says skipped.
    b2 = Builder().role("app", 500, used=1, inline=APP)
    snap2 = b2.snapshot()
    snap2.accounts[0].sources["access_advisor"] = SourceResult(
        name="access_advisor", status=SourceStatus.SKIPPED, raw={"skipped": "turned off"}
    )
    report = judge(snap2, Policy(), AS_OF)
    assert not _perms(report)
    assert {c.source: c.status for c in report.coverage}["access_advisor"] == "skipped"


def test_kms_data_key_actions_used_on_the_principals_behalf_are_never_unused():
    doc = policy_doc(allow(["kms:Decrypt", "kms:GenerateDataKey", "kms:ScheduleKeyDeletion"]))
    b = Builder().role("reader", 500, used=1, inline=doc)
    b.advisor(role_arn("reader"), [service("kms")])
    found = _perms(_run(b))
    assert [a["action"] for a in found[("reader", "service", "kms", None)].details["actions"]] == [
        "kms:ScheduleKeyDeletion"
    ]
    kept = found[("reader", "untracked", "kms", None)]
    assert [a["action"] for a in kept.details["actions"]] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert "on the principal's behalf" in kept.reason
    (plan,) = least_privilege(b.snapshot(), Policy(), AS_OF)
    (rewrite,) = [p.rewrite for p in plan.plans]
    assert rewrite.removed == ("kms:ScheduleKeyDeletion",)
