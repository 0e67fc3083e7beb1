"""Read every source of one account into an :class:`AccountEvidence`.

The credential report is generated in the background while the per-user calls run, because on
a large account it takes longest. The user list comes from ListUsers, else from
GetAccountAuthorizationDetails, else from the credential report, so that one denied call does
not hide every user's keys.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import botocore.exceptions

from .errors import DormantError
from .snapshot import AccountEvidence, Snapshot
from .sources import access_keys, account, authorization, credential_report, other_credentials
from .sources import users as users_source
from .sources.aws import AccountSession, error_message
from .sources.base import CollectContext, ProgressFn, SourceResult, _no_progress
from .timeutil import iso

CORE_SOURCES = (
    account.NAME,
    credential_report.NAME,
    users_source.NAME,
    authorization.NAME,
    access_keys.NAME,
    other_credentials.NAME,
)


def identify(session: AccountSession) -> dict[str, Any]:
    """GetCallerIdentity, or a clear error when there are no usable credentials."""
    try:
        return account.caller_identity(session)
    except botocore.exceptions.NoCredentialsError:
        raise DormantError(
            "no AWS credentials found: set AWS_PROFILE or pass --profile, or export "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise DormantError(
            f"cannot identify the account (sts:GetCallerIdentity): {error_message(exc)}"
        ) from None


def _user_names(results: dict[str, SourceResult]) -> list[str]:
    listed = users_source.parse_raw(results[users_source.NAME].raw)
    if listed.listed:
        return sorted(u.name for u in listed.users.values())
    details = authorization.parse_raw(results[authorization.NAME].raw)
    if details.read:
        return sorted(u.name for u in details.users.values())
    report = results.get(credential_report.NAME)
    if report is not None and report.raw.get("Content"):
        parsed = credential_report.parse_raw(report.raw)
        if parsed is not None:
            return sorted(r.user for r in parsed.rows if not r.is_root)
    return []


def collect_account(
    session: AccountSession,
    *,
    clock: Callable[[], dt.datetime],
    concurrency: int = 8,
    progress: ProgressFn = _no_progress,
    options: dict[str, Any] | None = None,
    identity: dict[str, Any] | None = None,
    account_name: str | None = None,
    cancel: threading.Event | None = None,
    sleep: Callable[[float], None] | None = None,
) -> AccountEvidence:
    identity = identity or identify(session)
    ctx = CollectContext(
        session=session,
        account_id=identity["Account"],
        clock=clock,
        concurrency=concurrency,
        progress=progress,
        options=dict(options or {}),
        cancel=cancel or threading.Event(),
        sleep=sleep,  # type: ignore[arg-type]
    )
    results: dict[str, SourceResult] = {}
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="dormant-src") as pool:
        report_future = pool.submit(credential_report.collect, ctx)
        first = {
            account.NAME: pool.submit(account.collect, ctx, identity),
            users_source.NAME: pool.submit(users_source.collect, ctx),
            authorization.NAME: pool.submit(authorization.collect, ctx),
        }
        for name, fut in first.items():
            results[name] = fut.result()
        names = _user_names(results)
        if not names:
            # Only the credential report can still name the users: wait for it.
            results[credential_report.NAME] = report_future.result()
            names = _user_names(results)
        keys_future = pool.submit(access_keys.collect, ctx, names)
        other_future = pool.submit(other_credentials.collect, ctx, names)
        results[access_keys.NAME] = keys_future.result()
        results[other_credentials.NAME] = other_future.result()
        results[credential_report.NAME] = report_future.result()
    facts = account.parse_raw(results[account.NAME].raw)
    return AccountEvidence(
        account_id=ctx.account_id,
        account_name=account_name or facts.alias,
        collected_at=iso(clock()),
        scanner_arn=identity.get("Arn"),
        sources={name: results[name] for name in CORE_SOURCES},
    )


def collect(
    session: AccountSession,
    *,
    clock: Callable[[], dt.datetime],
    **kwargs: Any,
) -> Snapshot:
    """A snapshot of the session's own account."""
    evidence = collect_account(session, clock=clock, **kwargs)
    return Snapshot(created_at=evidence.collected_at or iso(clock()), accounts=[evidence])
