"""Read every source of one account into an :class:`AccountEvidence`.

The credential report is generated in the background while the per-user calls run, because on
a large account it takes longest. The user list comes from ListUsers, else from
GetAccountAuthorizationDetails, else from the credential report, so that one denied call does
not hide every user's keys.

Access Advisor runs, beside the per-user calls, one ACTION_LEVEL job for every role, user, group
and attached customer-managed policy that GetAccountAuthorizationDetails lists (an unattached
policy grants nothing, so its report would be empty). Access Analyzer's unused-access findings
are read where an unused-access analyzer exists. Options (``options=``):

- ``access_advisor`` (default True): False records the source as ``skipped``.
- ``job_timeout`` (seconds, default 300): an Access Advisor job still in progress after this is
  given up; that principal's permissions are then insufficient-evidence.
- ``with_entities`` (default False): also read GetServiceLastAccessedDetailsWithEntities for
  groups and policies (which members used each service).
- ``access_analyzer`` (default True): False records that source as ``skipped``.
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
from .sources import (
    access_advisor,
    access_analyzer,
    access_keys,
    account,
    authorization,
    cloudtrail,
    credential_report,
    other_credentials,
)
from .sources import users as users_source
from .sources.aws import AccountSession, error_message
from .sources.base import CollectContext, ProgressFn, SourceResult, SourceStatus, _no_progress
from .timeutil import iso

CORE_SOURCES = (
    account.NAME,
    credential_report.NAME,
    users_source.NAME,
    authorization.NAME,
    access_keys.NAME,
    other_credentials.NAME,
    access_advisor.NAME,
    access_analyzer.NAME,
)


def _skipped(name: str, ctx: CollectContext, reason: str) -> SourceResult:
    now = ctx.now_iso()
    return SourceResult(
        name=name,
        status=SourceStatus.SKIPPED,
        started_at=now,
        finished_at=now,
        raw={"skipped": reason},
    )


def access_advisor_targets(details: authorization.AuthorizationDetails) -> list[str]:
    """Every role, user, group and attached customer-managed policy, in a stable order."""
    arns = sorted(details.roles) + sorted(details.users) + sorted(details.groups)
    arns += sorted(
        arn
        for arn, pol in details.policies.items()
        if ":aws:policy/" not in arn and int(pol.get("AttachmentCount") or 0) > 0
    )
    return arns


def _collect_access_advisor(ctx: CollectContext, results: dict[str, SourceResult]) -> SourceResult:
    if not ctx.options.get("access_advisor", True):
        return _skipped(access_advisor.NAME, ctx, "turned off (--no-access-advisor)")
    details = authorization.parse_raw(results[authorization.NAME].raw)
    if not details.read:
        return _skipped(
            access_advisor.NAME,
            ctx,
            "GetAccountAuthorizationDetails was not read: no roles, users, groups or policies "
            "to ask about",
        )
    arns = access_advisor_targets(details)
    entities = [a for a in arns if ":group/" in a or ":policy/" in a]
    return access_advisor.collect(
        ctx,
        arns,
        with_entities_for=entities if ctx.options.get("with_entities") else (),
        job_timeout=float(ctx.options.get("job_timeout") or access_advisor.DEFAULT_JOB_TIMEOUT),
    )


def _collect_access_analyzer(ctx: CollectContext) -> SourceResult:
    if not ctx.options.get("access_analyzer", True):
        return _skipped(access_analyzer.NAME, ctx, "turned off (--no-access-analyzer)")
    return access_analyzer.collect(ctx)


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
    trail_s3_session: AccountSession | None = None,
) -> AccountEvidence:
    """``trail_s3_session`` reads CloudTrail's ``s3://`` sources (default: ``session``): an
    organization scan passes the scanning principal's session, not the member role's."""
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
    with ThreadPoolExecutor(max_workers=6, thread_name_prefix="dormant-src") as pool:
        report_future = pool.submit(credential_report.collect, ctx)
        analyzer_future = pool.submit(_collect_access_analyzer, ctx)
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
        advisor_future = pool.submit(_collect_access_advisor, ctx, dict(results))
        keys_future = pool.submit(access_keys.collect, ctx, names)
        other_future = pool.submit(other_credentials.collect, ctx, names)
        results[access_keys.NAME] = keys_future.result()
        results[other_credentials.NAME] = other_future.result()
        results[credential_report.NAME] = report_future.result()
        results[access_advisor.NAME] = advisor_future.result()
        results[access_analyzer.NAME] = analyzer_future.result()
    trail_sources = list(ctx.options.get("trail_sources") or ())
    if trail_sources:
        # After the API calls: the local engine uses every core, and needs no other source.
        results[cloudtrail.NAME] = cloudtrail.collect(
            ctx,
            trail_sources,
            start=ctx.options.get("trail_start"),
            workers=ctx.options.get("trail_workers"),
            s3_session=trail_s3_session,
        )
    facts = account.parse_raw(results[account.NAME].raw)
    return AccountEvidence(
        account_id=ctx.account_id,
        account_name=account_name or facts.alias,
        collected_at=iso(clock()),
        scanner_arn=identity.get("Arn"),
        sources={
            name: results[name] for name in (*CORE_SOURCES, cloudtrail.NAME) if name in results
        },
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
