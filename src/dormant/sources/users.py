"""Users, their ``PasswordLastUsed`` (ListUsers), and whether they have a console password.

``PasswordLastUsed`` survives the deletion of a login profile, so a password exists only when
GetLoginProfile answers; NoSuchEntity means the user has no password.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from ..timeutil import parse_time_or_none
from .aws import error_code
from .base import CollectContext, SourceError, SourceResult, jsonable, paginate

NAME = "users"


@dataclass(frozen=True)
class LoginProfileState:
    """What GetLoginProfile said about one user."""

    exists: bool | None
    """True: the user has a console password. False: NoSuchEntity. None: not known (the call
    was denied or failed)."""
    created: dt.datetime | None
    """The login profile's CreateDate."""
    error: str | None = None
    """Why ``exists`` is not known."""


@dataclass(frozen=True)
class UserRecord:
    name: str
    arn: str
    user_id: str
    path: str
    created: dt.datetime
    password_last_used: dt.datetime | None
    """ListUsers' PasswordLastUsed: absent when the password was never used since tracking
    began (2014-10-20), or the user never had one."""
    login_profile: LoginProfileState


@dataclass(frozen=True)
class Users:
    listed: bool
    """Whether ListUsers was read; when not, ``users`` is empty and means nothing."""
    users: dict[str, UserRecord]
    """By ARN."""


def collect(ctx: CollectContext) -> SourceResult:
    result = SourceResult(name=NAME, started_at=ctx.now_iso())
    iam = ctx.client("iam")
    try:
        listed = paginate(iam, "list_users", ["Users"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        result.errors.append(SourceError.from_exception("ListUsers", exc))
        result.settle({"ListUsers": 1})
        result.finished_at = ctx.now_iso()
        return result
    users = listed["Users"]
    result.raw["ListUsers"] = {"Users": users}
    names = [u["UserName"] for u in users]
    ctx.progress("login profiles", 0, len(names))

    def one(name: str) -> tuple[str, dict[str, Any] | None, SourceError | None]:
        try:
            resp = jsonable(iam.get_login_profile(UserName=name))
            out = (name, {"LoginProfile": resp.get("LoginProfile", {})}, None)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                out = (name, {"Error": {"Code": "NoSuchEntity"}}, None)
            else:
                out = (name, None, SourceError.from_exception("GetLoginProfile", exc, name))
        except botocore.exceptions.BotoCoreError as exc:
            out = (name, None, SourceError.from_exception("GetLoginProfile", exc, name))
        ctx.progress("login profiles", 1, len(names))
        return out

    profiles: dict[str, Any] = {}
    for name, resp, err in ctx.map(one, names):
        if resp is not None:
            profiles[name] = resp
        if err is not None:
            result.errors.append(err)
    result.raw["GetLoginProfile"] = profiles
    # ListUsers itself answered, so this source is at worst partial.
    result.settle({"ListUsers": 1, "GetLoginProfile": len(names)})
    result.finished_at = ctx.now_iso()
    return result


def parse_raw(raw: dict[str, Any]) -> Users:
    listed = raw.get("ListUsers")
    if listed is None:
        return Users(listed=False, users={})
    profiles = raw.get("GetLoginProfile") or {}
    out: dict[str, UserRecord] = {}
    for u in listed.get("Users") or []:
        name = u["UserName"]
        prof = profiles.get(name)
        if prof is None:
            state = LoginProfileState(exists=None, created=None, error="GetLoginProfile not read")
        elif "LoginProfile" in prof:
            state = LoginProfileState(
                exists=True, created=parse_time_or_none(prof["LoginProfile"].get("CreateDate"))
            )
        else:
            state = LoginProfileState(exists=False, created=None)
        out[u["Arn"]] = UserRecord(
            name=name,
            arn=u["Arn"],
            user_id=u.get("UserId", ""),
            path=u.get("Path", "/"),
            created=parse_time_or_none(u.get("CreateDate")),
            password_last_used=parse_time_or_none(u.get("PasswordLastUsed")),
            login_profile=state,
        )
    return Users(listed=True, users=out)
