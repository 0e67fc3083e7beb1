"""Build small synthetic evidence bundles for judge unit tests, in the raw shapes AWS answers."""

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
        self, name: str, age: float, used: float | None = None, path: str = "/", tags=None
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
            }
        )
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
                    "GroupDetailList": [],
                    "Policies": [],
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
        for name in self.drop:
            sources.pop(name, None)
        return Snapshot(
            created_at=read_at,
            accounts=[AccountEvidence(account_id=ACCOUNT, collected_at=read_at, sources=sources)],
        )
