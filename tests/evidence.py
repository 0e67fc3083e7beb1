"""Build small synthetic evidence bundles for judge unit tests, in the raw shapes AWS answers.

Permissions: ``role``/``user`` take inline and managed policies, ``group`` and
``managed_policy`` make the rest of GetAccountAuthorizationDetails, ``advisor`` adds a principal's
Access Advisor report (``service`` builds its entries) and ``analyzer_finding`` an Access Analyzer
UnusedPermission finding."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dormant.snapshot import AccountEvidence, Snapshot
from dormant.sources.base import SourceError, SourceResult, SourceStatus
from dormant.timeutil import iso

ACCOUNT = "111122223333"
AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)


def ago(days: float) -> dt.datetime:
    return (AS_OF - dt.timedelta(days=days)).replace(microsecond=0)


def t(days: float | None) -> str | None:
    return None if days is None else iso(ago(days))


def cell(days: float | None, none: str = "N/A") -> str:
    return none if days is None else ago(days).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


class Builder:
    """Accumulates users, keys and roles, then makes the sources' raw results."""

    def __init__(self) -> None:
        self.users: list[dict[str, Any]] = []
        self.profiles: dict[str, Any] = {}
        self.keys: dict[str, list[dict[str, Any]]] = {}
        self.last_used: dict[str, Any] = {}
        self.roles: list[dict[str, Any]] = []
        self.report_rows: list[str] = []
        self.report_generated: float | None = 0.1
        self.errors: dict[str, list[SourceError]] = {}
        self.drop: set[str] = set()
        self.groups: list[dict[str, Any]] = []
        self.policies: list[dict[str, Any]] = []
        self.user_extra: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] | None = None
        self.analyzer: dict[str, Any] | None = None
        self.root_row: str | None = (
            f"<root_account>,arn:aws:iam::{ACCOUNT}:root,{cell(3000)},not_supported,"
            "no_information,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,"
            "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
        )

    def user(
        self,
        name: str,
        age: float,
        *,
        password: float | None | str = "none",
        password_last_used: float | None = None,
        keys=(),
        tags=None,
        in_report: bool = True,
    ) -> Builder:
        """``password``: "none" for no login profile, else its age in days."""
        self.users.append(
            {
                "UserName": name,
                "Arn": arn(name),
                "UserId": "AID" + name.upper(),
                "Path": "/",
                "CreateDate": t(age),
                **(
                    {"PasswordLastUsed": t(password_last_used)}
                    if password_last_used is not None
                    else {}
                ),
                "_tags": tags or {},
            }
        )
        if password == "none":
            self.profiles[name] = {"Error": {"Code": "NoSuchEntity"}}
        else:
            self.profiles[name] = {
                "LoginProfile": {
                    "UserName": name,
                    "CreateDate": t(password),
                    "PasswordResetRequired": False,
                }
            }
        slots = []
        self.keys[name] = []
        for i, (kid, kage, kused, active) in enumerate(keys):
            self.keys[name].append(
                {
                    "UserName": name,
                    "AccessKeyId": kid,
                    "Status": "Active" if active else "Inactive",
                    "CreateDate": t(kage),
                }
            )
            self.last_used[kid] = {
                "UserName": name,
                "AccessKeyLastUsed": (
                    {"LastUsedDate": t(kused), "ServiceName": "s3", "Region": "us-east-1"}
                    if kused is not None
                    else {"ServiceName": "N/A", "Region": "N/A"}
                ),
            }
            if i < 2:
                slots.append(
                    f"{'true' if active else 'false'},{cell(kage)},{cell(kused)},"
                    f"{'us-east-1' if kused is not None else 'N/A'},"
                    f"{'s3' if kused is not None else 'N/A'}"
                )
        while len(slots) < 2:
            slots.append("false,N/A,N/A,N/A,N/A")
        if in_report:
            pw_enabled = "false" if password == "none" else "true"
            pw_used = "N/A" if password == "none" else cell(password_last_used, "no_information")
            pw_changed = "N/A" if password == "none" else cell(password)
            self.report_rows.append(
                f"{name},{arn(name)},{cell(age)},{pw_enabled},{pw_used},{pw_changed},N/A,false,"
                f"{slots[0]},{slots[1]},false,N/A,false,N/A"
            )
        return self

    def role(
        self,
        name: str,
        age: float,
        used: float | None = None,
        path: str = "/",
        tags=None,
        inline: dict | None = None,
        managed: tuple[str, ...] = (),
    ) -> Builder:
        self.roles.append(
            {
                "RoleName": name,
                "Arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}",
                "RoleId": "ARO" + name.upper(),
                "Path": path,
                "CreateDate": t(age),
                "RoleLastUsed": {"LastUsedDate": t(used), "Region": "us-east-1"}
                if used is not None
                else {},
                "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
                "RolePolicyList": [{"PolicyName": f"{name}-inline", "PolicyDocument": inline}]
                if inline
                else [],
                "AttachedManagedPolicies": [_attachment(a) for a in managed],
            }
        )
        return self

    def permissions(
        self,
        user: str,
        *,
        inline: dict | None = None,
        managed: tuple[str, ...] = (),
        groups: tuple[str, ...] = (),
    ) -> Builder:
        """A user's policies and groups (the user must exist)."""
        self.user_extra[user] = {
            "UserPolicyList": [{"PolicyName": f"{user}-inline", "PolicyDocument": inline}]
            if inline
            else [],
            "AttachedManagedPolicies": [_attachment(a) for a in managed],
            "GroupList": list(groups),
        }
        return self

    def group(
        self, name: str, age: float = 1000, inline: dict | None = None, managed=()
    ) -> Builder:
        self.groups.append(
            {
                "GroupName": name,
                "Arn": f"arn:aws:iam::{ACCOUNT}:group/{name}",
                "Path": "/",
                "CreateDate": t(age),
                "GroupPolicyList": [{"PolicyName": f"{name}-inline", "PolicyDocument": inline}]
                if inline
                else [],
                "AttachedManagedPolicies": [_attachment(a) for a in managed],
            }
        )
        return self

    def managed_policy(
        self, name: str, versions: list[tuple[dict, float]], attachments: int = 1
    ) -> str:
        """A customer-managed policy; ``versions`` oldest first, the last is the default."""
        arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
        self.policies.append(
            {
                "PolicyName": name,
                "Arn": arn,
                "Path": "/",
                "DefaultVersionId": f"v{len(versions)}",
                "AttachmentCount": attachments,
                "CreateDate": t(versions[0][1]),
                "UpdateDate": t(versions[-1][1]),
                "PolicyVersionList": [
                    {
                        "Document": doc,
                        "VersionId": f"v{i}",
                        "IsDefaultVersion": i == len(versions),
                        "CreateDate": t(age),
                    }
                    for i, (doc, age) in enumerate(versions, 1)
                ],
            }
        )
        return arn

    def advisor(self, arn: str, services: list[dict] | None, failed: bool = False) -> Builder:
        """The principal's Access Advisor report (``services`` from :func:`service`), or a
        FAILED job."""
        from dormant.sources import access_advisor

        self.jobs = self.jobs if self.jobs is not None else {}
        page: dict[str, Any] = {
            "JobStatus": "FAILED" if failed else "COMPLETED",
            "JobType": "ACTION_LEVEL",
            "JobCreationDate": t(0.01),
            "JobCompletionDate": t(0.005),
            "ServicesLastAccessed": services or [],
            "IsTruncated": False,
        }
        if failed:
            page["Error"] = {"Code": "InternalFailure", "Message": "could not be generated"}
        self.jobs[arn] = access_advisor.job_entry({"JobId": f"job-{len(self.jobs)}"}, [page])
        if failed:
            self.fail("access_advisor", "GetServiceLastAccessedDetails", "InternalFailure", arn)
        return self

    def analyzer_finding(self, resource: str, services: dict[str, list[str]]) -> Builder:
        analyzer = f"arn:aws:access-analyzer:us-east-1:{ACCOUNT}:analyzer/unused"
        if self.analyzer is None:
            self.analyzer = {
                "region": "us-east-1",
                "analyzers": [
                    {
                        "arn": analyzer,
                        "name": "unused",
                        "type": "ACCOUNT_UNUSED_ACCESS",
                        "status": "ACTIVE",
                        "configuration": {"unusedAccess": {"unusedAccessAge": 90}},
                    }
                ],
                "findings": {analyzer: []},
                "details": {},
            }
        if not services:
            return self
        fid = f"finding-{len(self.analyzer['details'])}"
        summary = {
            "id": fid,
            "resource": resource,
            "resourceType": "AWS::IAM::Role",
            "resourceOwnerAccount": ACCOUNT,
            "status": "ACTIVE",
            "findingType": "UnusedPermission",
            "analyzedAt": t(1),
        }
        self.analyzer["findings"][analyzer].append(summary)
        self.analyzer["details"][fid] = {
            **summary,
            "findingDetails": [
                {
                    "unusedPermissionDetails": {
                        "serviceNamespace": ns,
                        "actions": [{"action": a} for a in actions],
                    }
                }
                for ns, actions in services.items()
            ],
        }
        return self

    def fail(
        self, source: str, operation: str, code: str = "AccessDenied", target: str | None = None
    ) -> Builder:
        self.errors.setdefault(source, []).append(
            SourceError(operation, code, f"{code}: not allowed", target)
        )
        return self

    def snapshot(self) -> Snapshot:
        read_at = iso(AS_OF)

        def res(name, raw):
            errs = self.errors.get(name, [])
            r = SourceResult(
                name=name, raw=raw, errors=list(errs), finished_at=read_at, started_at=read_at
            )
            r.status = SourceStatus.PARTIAL if errs else SourceStatus.READ
            return r

        users = [{k: v for k, v in u.items() if k != "_tags"} for u in self.users]
        gaad_users = [
            {
                "UserName": u["UserName"],
                "Arn": u["Arn"],
                "Path": "/",
                "CreateDate": u["CreateDate"],
                "Tags": [{"Key": k, "Value": v} for k, v in u["_tags"].items()],
                **self.user_extra.get(u["UserName"], {}),
            }
            for u in self.users
        ]
        failed_profiles = {
            e.target for e in self.errors.get("users", []) if e.operation == "GetLoginProfile"
        }
        failed_lists = {
            e.target for e in self.errors.get("access_keys", []) if e.operation == "ListAccessKeys"
        }
        failed_last = {
            e.target
            for e in self.errors.get("access_keys", [])
            if e.operation == "GetAccessKeyLastUsed"
        }
        sources = {
            "users": res(
                "users",
                {
                    "ListUsers": {"Users": users},
                    "GetLoginProfile": {
                        n: p for n, p in self.profiles.items() if n not in failed_profiles
                    },
                },
            ),
            "access_keys": res(
                "access_keys",
                {
                    "ListAccessKeys": {n: k for n, k in self.keys.items() if n not in failed_lists},
                    "GetAccessKeyLastUsed": {
                        k: v for k, v in self.last_used.items() if k not in failed_last
                    },
                },
            ),
            "authorization_details": res(
                "authorization_details",
                {
                    "UserDetailList": gaad_users,
                    "RoleDetailList": self.roles,
                    "GroupDetailList": self.groups,
                    "Policies": self.policies,
                },
            ),
            "other_credentials": res(
                "other_credentials",
                {
                    "users": {
                        u["UserName"]: {
                            "ListSSHPublicKeys": [],
                            "ListServiceSpecificCredentials": [],
                            "ListSigningCertificates": [],
                        }
                        for u in self.users
                    }
                },
            ),
            "account": res(
                "account",
                {
                    "GetCallerIdentity": {
                        "Account": ACCOUNT,
                        "Arn": f"arn:aws:iam::{ACCOUNT}:user/scanner",
                    }
                },
            ),
        }
        if self.report_generated is not None:
            rows = [HEADER] + ([self.root_row] if self.root_row else []) + self.report_rows
            sources["credential_report"] = res(
                "credential_report",
                {"Content": "\n".join(rows), "GeneratedTime": t(self.report_generated)},
            )
        else:
            sources["credential_report"] = res("credential_report", {})
            sources["credential_report"].status = SourceStatus.DENIED
            sources["credential_report"].errors = [
                SourceError("GenerateCredentialReport", "AccessDenied", "AccessDenied: no")
            ]
        if self.jobs is not None:
            sources["access_advisor"] = res(
                "access_advisor", {"granularity": "ACTION_LEVEL", "jobs": self.jobs}
            )
        if self.analyzer is not None:
            sources["access_analyzer"] = res("access_analyzer", self.analyzer)
        for name in self.drop:
            sources.pop(name, None)
        return Snapshot(
            created_at=read_at,
            accounts=[AccountEvidence(account_id=ACCOUNT, collected_at=read_at, sources=sources)],
        )


def _attachment(arn: str) -> dict[str, str]:
    return {"PolicyName": arn.rsplit("/", 1)[-1], "PolicyArn": arn}


def service(
    ns: str,
    last: float | None = None,
    actions: dict[str, float | None] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """A ServiceLastAccessed entry: ``last`` days since LastAuthenticated (None: not used),
    ``actions``: tracked action name -> days since LastAccessedTime (None: not accessed)."""
    entry: dict[str, Any] = {"ServiceNamespace": ns, "ServiceName": name or ns}
    if last is not None:
        entry["LastAuthenticated"] = t(last)
    if actions is not None:
        entry["TrackedActionsLastAccessed"] = [
            {"ActionName": a} if d is None else {"ActionName": a, "LastAccessedTime": t(d)}
            for a, d in actions.items()
        ]
    return entry


def policy_doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, sid: str | None = None, resource="*", **extra) -> dict:
    out = {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}
    if sid:
        out["Sid"] = sid
    return out


def role_arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:role{path}{name}"
