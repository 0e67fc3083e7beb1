"""GetAccountAuthorizationDetails: users, groups, roles (with RoleLastUsed) and policies in a
few paginated calls, instead of one GetRole per role."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from ..timeutil import parse_time_or_none
from .base import CollectContext, SourceError, SourceResult, paginate

NAME = "authorization_details"

_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")


@dataclass(frozen=True)
class RoleRecord:
    name: str
    arn: str
    role_id: str
    path: str
    created: dt.datetime | None
    last_used: dt.datetime | None
    """RoleLastUsed.LastUsedDate: tracked for the trailing 400 days."""
    last_used_region: str | None
    tags: dict[str, str]
    trust_policy: Any = None
    detail: dict[str, Any] = field(default_factory=dict, repr=False)
    """The whole RoleDetail, for the permission analysis."""


@dataclass(frozen=True)
class UserDetail:
    name: str
    arn: str
    path: str
    created: dt.datetime | None
    tags: dict[str, str]
    groups: tuple[str, ...]
    detail: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class AuthorizationDetails:
    read: bool
    roles: dict[str, RoleRecord]
    """By ARN."""
    users: dict[str, UserDetail]
    """By ARN."""
    groups: dict[str, dict[str, Any]]
    """GroupDetail by ARN."""
    policies: dict[str, dict[str, Any]]
    """Managed policy detail by ARN."""


def collect(ctx: CollectContext) -> SourceResult:
    result = SourceResult(name=NAME, started_at=ctx.now_iso())
    ctx.progress("authorization details", 0, 1)
    try:
        result.raw = paginate(ctx.client("iam"), "get_account_authorization_details", _LISTS)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        result.errors.append(SourceError.from_exception("GetAccountAuthorizationDetails", exc))
    result.settle({"GetAccountAuthorizationDetails": 1})
    ctx.progress("authorization details", 1, 1)
    result.finished_at = ctx.now_iso()
    return result


def _tags(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in items or []}


def parse_raw(raw: dict[str, Any]) -> AuthorizationDetails:
    if not raw or "RoleDetailList" not in raw:
        return AuthorizationDetails(read=False, roles={}, users={}, groups={}, policies={})
    roles = {}
    for r in raw.get("RoleDetailList") or []:
        lu = r.get("RoleLastUsed") or {}
        roles[r["Arn"]] = RoleRecord(
            name=r["RoleName"],
            arn=r["Arn"],
            role_id=r.get("RoleId", ""),
            path=r.get("Path", "/"),
            created=parse_time_or_none(r.get("CreateDate")),
            last_used=parse_time_or_none(lu.get("LastUsedDate")),
            last_used_region=lu.get("Region"),
            tags=_tags(r.get("Tags")),
            trust_policy=r.get("AssumeRolePolicyDocument"),
            detail=r,
        )
    users = {}
    for u in raw.get("UserDetailList") or []:
        users[u["Arn"]] = UserDetail(
            name=u["UserName"],
            arn=u["Arn"],
            path=u.get("Path", "/"),
            created=parse_time_or_none(u.get("CreateDate")),
            tags=_tags(u.get("Tags")),
            groups=tuple(u.get("GroupList") or ()),
            detail=u,
        )
    groups = {g["Arn"]: g for g in raw.get("GroupDetailList") or []}
    policies = {p["Arn"]: p for p in raw.get("Policies") or []}
    return AuthorizationDetails(
        read=True, roles=roles, users=users, groups=groups, policies=policies
    )
