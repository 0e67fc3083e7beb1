"""Who we are and which account this is: STS GetCallerIdentity, the account alias, and IAM's
account summary (which says whether the root user has access keys even when the credential
report cannot be read)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from .base import CollectContext, SourceError, SourceResult, jsonable

NAME = "account"


@dataclass(frozen=True)
class AccountFacts:
    account_id: str | None
    scanner_arn: str | None
    alias: str | None
    root_access_keys_present: bool | None
    """GetAccountSummary's AccountAccessKeysPresent; None when not read."""
    root_mfa_enabled: bool | None


def caller_identity(ctx_or_session: Any) -> dict[str, Any]:
    client = ctx_or_session.client("sts")
    return jsonable(client.get_caller_identity())


def collect(ctx: CollectContext, identity: dict[str, Any] | None = None) -> SourceResult:
    result = SourceResult(name=NAME, started_at=ctx.now_iso())
    attempted = {"ListAccountAliases": 1, "GetAccountSummary": 1}
    if identity is None:
        attempted["GetCallerIdentity"] = 1
        try:
            identity = caller_identity(ctx)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            result.errors.append(SourceError.from_exception("GetCallerIdentity", exc))
    if identity:
        # UserId can embed a session name; Account and Arn are what an auditor needs.
        result.raw["GetCallerIdentity"] = {"Account": identity["Account"], "Arn": identity["Arn"]}
    iam = ctx.client("iam")
    for op, call, key in (
        ("ListAccountAliases", iam.list_account_aliases, "AccountAliases"),
        ("GetAccountSummary", iam.get_account_summary, "SummaryMap"),
    ):
        try:
            result.raw[op] = {key: jsonable(call()).get(key)}
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            result.errors.append(SourceError.from_exception(op, exc))
    result.settle(attempted)
    result.finished_at = ctx.now_iso()
    return result


def parse_raw(raw: dict[str, Any]) -> AccountFacts:
    ident = raw.get("GetCallerIdentity") or {}
    aliases = (raw.get("ListAccountAliases") or {}).get("AccountAliases") or []
    summary = (raw.get("GetAccountSummary") or {}).get("SummaryMap")
    keys = mfa = None
    if summary is not None:
        keys = bool(summary.get("AccountAccessKeysPresent", 0))
        mfa = bool(summary.get("AccountMFAEnabled", 0))
    return AccountFacts(
        account_id=ident.get("Account"),
        scanner_arn=ident.get("Arn"),
        alias=aliases[0] if aliases else None,
        root_access_keys_present=keys,
        root_mfa_enabled=mfa,
    )
