"""Access keys (ListAccessKeys) and their last use (GetAccessKeyLastUsed), per key id.

Findings are per key id, not per credential report slot: a user may have rotated a key since
the report was generated, and the report does not name key ids.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from ..timeutil import parse_time_or_none
from .base import CollectContext, SourceError, SourceResult, jsonable, paginate

NAME = "access_keys"


@dataclass(frozen=True)
class KeyLastUsed:
    """GetAccessKeyLastUsed's answer for one key."""

    last_used: dt.datetime | None
    """LastUsedDate; absent when the key was never used since tracking began (2015-04-22)."""
    service: str | None
    """ServiceName; AWS says ``N/A`` when never used."""
    region: str | None


@dataclass(frozen=True)
class AccessKeyRecord:
    access_key_id: str
    user_name: str
    status: str
    """``Active`` or ``Inactive``."""
    created: dt.datetime | None
    last_used: KeyLastUsed | None
    """None when GetAccessKeyLastUsed was not read for this key."""
    last_used_error: str | None = None


@dataclass(frozen=True)
class AccessKeys:
    listed_users: frozenset[str]
    """Users whose ListAccessKeys answered: for them, ``keys`` is the whole truth."""
    keys: dict[str, AccessKeyRecord]
    """By key id."""
    errors: dict[str, str]
    """By user name: why their keys could not be listed."""

    def for_user(self, user_name: str) -> list[AccessKeyRecord]:
        return sorted(
            (k for k in self.keys.values() if k.user_name == user_name),
            key=lambda k: (k.created or dt.datetime.min.replace(tzinfo=dt.UTC), k.access_key_id),
        )


def collect(ctx: CollectContext, user_names: list[str]) -> SourceResult:
    result = SourceResult(name=NAME, started_at=ctx.now_iso())
    iam = ctx.client("iam")
    ctx.progress("access keys", 0, len(user_names))

    def list_keys(name: str):
        try:
            page = paginate(iam, "list_access_keys", ["AccessKeyMetadata"], UserName=name)
            out = (name, page["AccessKeyMetadata"], None)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            out = (name, None, SourceError.from_exception("ListAccessKeys", exc, name))
        ctx.progress("access keys", 1, len(user_names))
        return out

    listed: dict[str, Any] = {}
    for name, keys, err in ctx.map(list_keys, user_names):
        if err:
            result.errors.append(err)
        else:
            listed[name] = keys
    result.raw["ListAccessKeys"] = listed

    key_ids = [k["AccessKeyId"] for keys in listed.values() for k in keys]
    ctx.progress("key last use", 0, len(key_ids))

    def last_used(key_id: str):
        try:
            resp = jsonable(iam.get_access_key_last_used(AccessKeyId=key_id))
            out = (key_id, resp, None)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            out = (key_id, None, SourceError.from_exception("GetAccessKeyLastUsed", exc, key_id))
        ctx.progress("key last use", 1, len(key_ids))
        return out

    used: dict[str, Any] = {}
    for key_id, resp, err in ctx.map(last_used, key_ids):
        if err:
            result.errors.append(err)
        else:
            used[key_id] = resp
    result.raw["GetAccessKeyLastUsed"] = used
    result.settle({"ListAccessKeys": len(user_names), "GetAccessKeyLastUsed": len(key_ids)})
    result.finished_at = ctx.now_iso()
    return result


def parse_raw(raw: dict[str, Any], errors: list[SourceError] | None = None) -> AccessKeys:
    listed = raw.get("ListAccessKeys") or {}
    used = raw.get("GetAccessKeyLastUsed") or {}
    failed_lookups = {
        e.target: e.message for e in errors or () if e.operation == "GetAccessKeyLastUsed"
    }
    keys: dict[str, AccessKeyRecord] = {}
    for user_name, metas in listed.items():
        for m in metas or []:
            kid = m["AccessKeyId"]
            lu = used.get(kid)
            last = None
            if lu is not None:
                d = lu.get("AccessKeyLastUsed") or {}
                last = KeyLastUsed(
                    last_used=parse_time_or_none(d.get("LastUsedDate")),
                    service=d.get("ServiceName"),
                    region=d.get("Region"),
                )
            keys[kid] = AccessKeyRecord(
                access_key_id=kid,
                user_name=m.get("UserName") or user_name,
                status=m.get("Status", "Active"),
                created=parse_time_or_none(m.get("CreateDate")),
                last_used=last,
                last_used_error=None if last else failed_lookups.get(kid, "not read"),
            )
    list_errors = {e.target: e.message for e in errors or () if e.operation == "ListAccessKeys"}
    return AccessKeys(listed_users=frozenset(listed), keys=keys, errors=list_errors)
