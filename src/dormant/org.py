"""The organization scan: every ACTIVE account of an AWS Organization in one snapshot.

From the management account or a delegated administrator (the *base* session, which may itself
come from a profile that assumes a role: role chaining), :func:`list_member_accounts` reads the
accounts and their OU paths with Organizations; :func:`collect_member` assumes the member role
(``OrganizationAccountAccessRole`` by default) in one account and reads it with
:func:`dormant.collect.collect_account`; :func:`collect_organization` runs the members with two
levels of bounded concurrency (``account_concurrency`` accounts at once, each with
``concurrency`` calls in flight) and saves each account to a checkpoint as soon as it is done.

A failure in one account never stops the others: AssumeRole denied gives the account one
``assume-role`` source (denied or failed) and nothing else (the judge calls it *not scanned*);
a denied or throttled call inside the account is recorded by its source, as in a single-account
scan (the judge calls the account *incomplete*). The management account, when listed, is read
with the base session itself.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions

from .checkpoint import Checkpoint
from .errors import DormantError
from .snapshot import AccountEvidence, Snapshot
from .sources.aws import AccountSession, assume_role_session, error_code, error_message
from .sources.base import ProgressFn, SourceError, SourceResult, SourceStatus, _no_progress
from .timeutil import iso, parse_time

ASSUME_ROLE = "assume-role"
"""The source an account gets, alone, when it could not be reached (AssumeRole failed)."""

ACTIVE = "ACTIVE"
ACCOUNTS_TASK = "organization: accounts"
"""The progress task counting finished accounts."""


@dataclass(frozen=True)
class MemberAccount:
    account_id: str
    name: str | None
    ou_path: str | None
    """e.g. ``Root/Prod/Payments`` (None when not resolved)."""
    status: str
    """Organizations' Status; only ACTIVE accounts are scanned."""


@dataclass(frozen=True)
class OrgSettings:
    role_name: str = "OrganizationAccountAccessRole"
    external_id: str | None = None
    session_name: str = "dormant"
    account_concurrency: int = 8
    """Accounts scanned at once."""
    concurrency: int = 8
    """API calls at once within one account."""


class MemberList(list):
    """The members to scan (a ``list[MemberAccount]``), with ``notes`` on how they were listed,
    which :func:`collect_organization` records in the snapshot."""

    def __init__(self, members: Iterable[MemberAccount] = (), notes: Iterable[str] = ()) -> None:
        super().__init__(members)
        self.notes = list(notes)


class OrgScanInterrupted(DormantError):
    """The scan stopped before every account was done (Ctrl-C, or ``cancel`` was set). What was
    done is saved in the checkpoint (when there is one) and in ``snapshot``."""

    def __init__(
        self,
        message: str,
        *,
        saved: int,
        total: int,
        checkpoint: Path | None,
        snapshot: Snapshot,
        pending: list[str],
    ) -> None:
        super().__init__(message)
        self.saved = saved
        self.total = total
        self.checkpoint = checkpoint
        self.snapshot = snapshot
        """The accounts done so far (none of those cut short)."""
        self.pending = pending
        """The account ids not done."""


# ---------------------------------------------------------------------------- listing


def _org_error(exc: BaseException, call: str) -> DormantError:
    code = error_code(exc)
    if code == "AWSOrganizationsNotInUseException":
        return DormantError(
            f"--org: this account is not in an AWS Organization (organizations:{call}: "
            f"{error_message(exc)})"
        )
    return DormantError(
        f"--org: cannot read the organization (organizations:{call}: {error_message(exc)}); "
        "run from the management account or a delegated administrator, with the permissions "
        "of deploy/org-scanner-policy.json"
    )


def _pages(client: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**params):
        out.extend(page.get(key) or [])
    return out


@dataclass
class _Tree:
    paths: dict[str, str]
    """Account id -> OU path."""
    chains: dict[str, tuple[str, ...]]
    """Account id -> the ids of its root and OUs, top down."""
    accounts: dict[str, dict[str, Any]]
    """Account id -> its ListAccountsForParent entry."""
    units: dict[str, str]
    """Root or OU id -> its path."""


def _walk(client: Any) -> _Tree:
    """Every root, OU and account, breadth first."""
    tree = _Tree({}, {}, {}, {})
    queue: list[tuple[str, str, tuple[str, ...]]] = []
    for root in sorted(_pages(client, "list_roots", "Roots"), key=lambda r: r["Id"]):
        name = root.get("Name") or "Root"
        tree.units[root["Id"]] = name
        queue.append((root["Id"], name, (root["Id"],)))
    while queue:
        parent, path, chain = queue.pop(0)
        for acct in _pages(client, "list_accounts_for_parent", "Accounts", ParentId=parent):
            tree.paths[acct["Id"]] = path
            tree.chains[acct["Id"]] = chain
            tree.accounts[acct["Id"]] = acct
        units = _pages(
            client, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent
        )
        for unit in sorted(units, key=lambda u: u["Id"]):
            sub = f"{path}/{unit.get('Name') or unit['Id']}"
            tree.units[unit["Id"]] = sub
            queue.append((unit["Id"], sub, (*chain, unit["Id"])))
    return tree


def _status(entry: dict[str, Any]) -> str:
    return str(entry.get("Status") or entry.get("State") or "UNKNOWN")


def list_member_accounts(
    session: AccountSession,
    *,
    accounts: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    ous: Iterable[str] | None = None,
) -> MemberList:
    """The ACTIVE accounts of the organization, narrowed by ``accounts`` (only these),
    ``exclude`` (not these) and ``ous`` (only under these OUs or roots, given by id or by path
    such as ``Root/Prod``), sorted by account id; with notes on how they were listed.

    Without ``ous`` the list is ListAccounts'; the OU paths come from walking the tree
    (ListRoots, ListOrganizationalUnitsForParent, ListAccountsForParent), and are None when
    that walk is denied. With ``ous`` the walk is the list. Raises :class:`DormantError` when
    Organizations cannot be read, or an account or OU asked for is not in the organization."""
    client = session.client("organizations")
    try:
        org = client.describe_organization()["Organization"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise _org_error(exc, "DescribeOrganization") from None
    notes: list[str] = []
    ou_list = sorted({o for o in (ous or ()) if o})
    tree: _Tree | None = None
    walk_error: BaseException | None = None
    try:
        tree = _walk(client)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        if ou_list:
            raise _org_error(exc, "ListOrganizationalUnitsForParent") from None
        walk_error = exc
    header = f"organization {org.get('Id')} (management account {org.get('MasterAccountId')})"
    if ou_list:
        assert tree is not None
        by_path = {path: unit for unit, path in tree.units.items()}
        wanted: set[str] = set()
        for ou in ou_list:
            unit = ou if ou in tree.units else by_path.get(ou)
            if unit is None:
                raise DormantError(
                    f"--ou {ou}: no such OU or root in {header}; give an id (ou-…, r-…) or a "
                    f"path such as {next(iter(sorted(by_path)), 'Root')}"
                )
            wanted.add(unit)
        entries = {a: e for a, e in tree.accounts.items() if wanted & set(tree.chains[a])}
        notes.append(
            f"{header}: accounts listed under {', '.join(ou_list)} with "
            "organizations:ListAccountsForParent, recursively"
        )
    else:
        try:
            listed = _pages(client, "list_accounts", "Accounts")
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise _org_error(exc, "ListAccounts") from None
        entries = {e["Id"]: e for e in listed}
        notes.append(f"{header}: accounts listed with organizations:ListAccounts")
        if walk_error is not None:
            notes.append(
                "OU paths unknown: the organization's tree could not be read "
                f"({error_message(walk_error)})"
            )
    paths = tree.paths if tree is not None else {}
    inactive = sorted(a for a, e in entries.items() if _status(e) != ACTIVE)
    only = sorted({a.strip() for a in (accounts or ()) if a.strip()})
    if only:
        unknown = [a for a in only if a not in entries]
        if unknown:
            raise DormantError(
                f"--accounts: {', '.join(unknown)}: not in {header}"
                + (f" under {', '.join(ou_list)}" if ou_list else "")
            )
        asked_inactive = [f"{a} ({_status(entries[a])})" for a in only if a in inactive]
        if asked_inactive:
            raise DormantError(
                f"--accounts: {', '.join(asked_inactive)}: not ACTIVE, cannot be scanned"
            )
    left_out = sorted({a.strip() for a in (exclude or ()) if a.strip()})
    members = [
        MemberAccount(
            account_id=a,
            name=e.get("Name"),
            ou_path=paths.get(a),
            status=_status(e),
        )
        for a, e in sorted(entries.items())
        if _status(e) == ACTIVE and (not only or a in only) and a not in left_out
    ]
    scope = f"{len(members)} of {len(entries)} account(s) to scan"
    details = []
    if only:
        details.append(f"--accounts {','.join(only)}")
    if left_out:
        absent = [a for a in left_out if a not in entries]
        details.append(
            f"--exclude-accounts {','.join(left_out)}"
            + (f" ({', '.join(absent)} not in the organization)" if absent else "")
        )
    if inactive:
        details.append("not ACTIVE: " + ", ".join(f"{a} ({_status(entries[a])})" for a in inactive))
    notes.append(scope + (f"; {'; '.join(details)}" if details else ""))
    return MemberList(members, notes)


# ---------------------------------------------------------------------------- one member


def _unreachable(
    member: MemberAccount,
    *,
    operation: str,
    exc: BaseException,
    target: str,
    started: str,
    clock: Callable[[], dt.datetime],
    raw: dict[str, Any],
) -> AccountEvidence:
    result = SourceResult(
        name=ASSUME_ROLE,
        started_at=started,
        finished_at=iso(clock()),
        raw=raw,
        errors=[SourceError.from_exception(operation, exc, target)],
    )
    result.settle(1)
    if result.status == SourceStatus.PARTIAL:  # one call, one error: never partial
        result.status = SourceStatus.FAILED
    return AccountEvidence(
        account_id=member.account_id,
        account_name=member.name,
        collected_at=result.finished_at,
        scanner_arn=None,
        sources={ASSUME_ROLE: result},
        ou_path=member.ou_path,
    )


def role_arn(session: AccountSession, account_id: str, role_name: str) -> str:
    """The role's ARN in the session's partition (aws, aws-us-gov, aws-cn)."""
    with session._lock:  # noqa: SLF001 - boto3 sessions are not thread-safe; accounts run in threads
        partition = session.session.get_partition_for_region(session.region) or "aws"
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


def collect_member(
    base: AccountSession,
    member: MemberAccount,
    *,
    clock: Callable[[], dt.datetime],
    settings: OrgSettings,
    caller_account: str,
    options: dict[str, Any] | None = None,
    progress: ProgressFn = _no_progress,
    cancel: threading.Event | None = None,
) -> AccountEvidence:
    """One member's evidence. Never raises for a failure of this account: an AssumeRole that
    fails gives an evidence with one ``assume-role`` source and nothing else."""
    from .collect import collect_account

    started = iso(clock())
    if member.account_id == caller_account:
        session = base
        arn = None
    else:
        arn = role_arn(base, member.account_id, settings.role_name)
        raw = {"RoleArn": arn, "RoleSessionName": settings.session_name}
        try:
            session = assume_role_session(
                base, arn, settings.session_name, external_id=settings.external_id
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            return _unreachable(
                member,
                operation="AssumeRole",
                exc=exc,
                target=arn,
                started=started,
                clock=clock,
                raw=raw,
            )
    try:
        evidence = collect_account(
            session,
            clock=clock,
            concurrency=settings.concurrency,
            progress=progress,
            options=options,
            account_name=member.name,
            cancel=cancel,
            # An organization trail's bucket is the log-archive account's, granted to the
            # scanning principal, not to the member role.
            trail_s3_session=base,
        )
    except Exception as exc:  # noqa: BLE001 - one account's failure must not stop the others
        error: BaseException = exc
        if cancel is not None and cancel.is_set():
            # Whatever failed while the scan was being stopped, the account was cut short: a
            # resume must scan it again, not keep it as unreachable.
            from .sources.base import Cancelled

            error = Cancelled()
        return _unreachable(
            member,
            operation="GetCallerIdentity" if isinstance(error, DormantError) else "collect",
            exc=error,
            target=arn or member.account_id,
            started=started,
            clock=clock,
            raw={"RoleArn": arn} if arn else {},
        )
    if evidence.account_id != member.account_id:
        wrong = DormantError(
            f"the credentials reached account {evidence.account_id}, not {member.account_id}"
        )
        return _unreachable(
            member,
            operation="GetCallerIdentity",
            exc=wrong,
            target=arn or member.account_id,
            started=started,
            clock=clock,
            raw={"RoleArn": arn} if arn else {},
        )
    evidence.ou_path = member.ou_path
    return evidence


# ----------------------------------------------------------------------- the organization


def settings_fingerprint(settings: OrgSettings, options: dict[str, Any] | None) -> dict[str, Any]:
    """What must be the same for evidence of two runs to go into one snapshot (checked on
    resume). The external id itself is not kept, only whether one was sent."""
    opts = json.loads(json.dumps(options or {}, sort_keys=True, default=str))
    return {
        "role_name": settings.role_name,
        "session_name": settings.session_name,
        "external_id": settings.external_id is not None,
        "options": opts,
    }


def access_note(settings: OrgSettings, caller_account: str, members: list[MemberAccount]) -> str:
    ids = {m.account_id for m in members}
    own = (
        f"; the caller's own account {caller_account} with its own credentials"
        if caller_account in ids
        else ""
    )
    external = " with an external id" if settings.external_id else ""
    return (
        f"member accounts read through sts:AssumeRole of role {settings.role_name}{external}{own}"
    )


def _cut_short(evidence: AccountEvidence) -> bool:
    """Whether cancellation cut this account's collection short."""
    return any(e.code == "Cancelled" for res in evidence.sources.values() for e in res.errors)


def _account_progress(progress: ProgressFn, label: str) -> ProgressFn:
    """One progress line per account: the sum of its sources' tasks."""
    lock = threading.Lock()
    totals: dict[str, int] = {}

    def report(task: str, advance: int, total: int | None) -> None:
        with lock:
            if total is not None:
                totals[task] = total
            whole = sum(totals.values()) or None
        progress(label, advance, whole)

    return report


def _finish(progress: ProgressFn, label: str) -> None:
    finish = getattr(progress, "finish", None)
    if callable(finish):
        finish(label)


RESUME_MAX_AGE = dt.timedelta(hours=24)
"""How old a saved account may be when a scan resumes. Every account is judged as of the end of
the scan, so evidence read days earlier would count days in which nobody looked: a credential
used since would show as unused. An older account is read again instead."""


def stale_accounts(
    done: dict[str, AccountEvidence], now: dt.datetime, max_age: dt.timedelta | None
) -> list[str]:
    """The saved accounts collected more than ``max_age`` before ``now`` (or at an unknown
    time), to be scanned again rather than judged as of ``now``."""
    if max_age is None:
        return []
    out = []
    for account_id, evidence in sorted(done.items()):
        try:
            collected = parse_time(evidence.collected_at) if evidence.collected_at else None
        except ValueError:
            collected = None
        if collected is None or now - collected > max_age:
            out.append(account_id)
    return out


def collect_organization(
    base: AccountSession,
    *,
    clock: Callable[[], dt.datetime],
    settings: OrgSettings = OrgSettings(),  # noqa: B008 - frozen, so a shared default is safe
    members: list[MemberAccount] | None = None,
    options: dict[str, Any] | None = None,
    progress: ProgressFn = _no_progress,
    cancel: threading.Event | None = None,
    checkpoint: Path | None = None,
    resume: Path | None = None,
    target: str | None = None,
    resume_max_age: dt.timedelta | None = RESUME_MAX_AGE,
) -> Snapshot:
    """Every member (:func:`list_member_accounts` when ``members`` is None) in one snapshot.

    ``checkpoint``: a new directory where each account is saved as soon as it is done.
    ``resume``: a checkpoint of an interrupted scan; its accounts are not scanned again, and
    new ones are saved there too (or in ``checkpoint`` when given). ``target`` is recorded in a
    new checkpoint: where the finished snapshot is to go. Raises :class:`OrgScanInterrupted`
    when ``cancel`` is set or Ctrl-C is pressed before every account is done; the accounts
    in flight then stop at once and are not saved (a resume scans them again).
    ``resume_max_age``: a saved account collected longer ago than this is scanned again, and
    the snapshot's notes say so (None: reuse whatever its age)."""
    from .collect import identify

    identity = identify(base)
    caller = identity["Account"]
    if members is None:
        members = list_member_accounts(base)
    notes = [*getattr(members, "notes", ()), access_note(settings, caller, members)]
    fingerprint = settings_fingerprint(settings, options)
    ids = {m.account_id for m in members}
    done: dict[str, AccountEvidence] = {}
    store: Checkpoint | None = None
    if resume is not None:
        saved = Checkpoint.open(resume)
        saved.check_settings(fingerprint)
        done = saved.load_all(ids)
        stale = stale_accounts(done, clock(), resume_max_age)
        if stale:
            for account_id in stale:
                del done[account_id]
            notes.append(
                f"resumed: {len(stale)} saved account(s) collected more than {resume_max_age} "
                f"before the resume were scanned again ({', '.join(stale)})"
            )
        store = saved
        if checkpoint is not None and Path(checkpoint) != Path(resume):
            store = Checkpoint.create(checkpoint, fingerprint, target or saved.target)
            for evidence in done.values():
                store.save(evidence)
    elif checkpoint is not None:
        store = Checkpoint.create(checkpoint, fingerprint, target)

    cancel = cancel if cancel is not None else threading.Event()
    total = len(members)
    progress(ACCOUNTS_TASK, len(done), total)
    todo = [m for m in members if m.account_id not in done]
    lock = threading.Lock()

    def run(member: MemberAccount) -> AccountEvidence:
        label = f"  {member.account_id} {member.name or ''}".rstrip()
        try:
            evidence = collect_member(
                base,
                member,
                clock=clock,
                settings=settings,
                caller_account=caller,
                options=options,
                progress=_account_progress(progress, label),
                cancel=cancel,
            )
        finally:
            _finish(progress, label)
        if cancel.is_set() and _cut_short(evidence):
            return evidence
        if store is not None:
            try:
                store.save(evidence)
            except OSError as exc:
                raise DormantError(
                    f"{store.path}: cannot save account {member.account_id} "
                    f"({exc.strerror or exc}); the accounts saved so far are kept: fix that, "
                    f"then continue with --resume {store.path}"
                ) from None
        with lock:
            done[member.account_id] = evidence
        progress(ACCOUNTS_TASK, 1, total)
        return evidence

    interrupted = False
    queue = iter(todo)
    workers = max(1, settings.account_concurrency)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dormant-account") as pool:
        pending: set[Future[AccountEvidence]] = set()
        try:
            while True:
                # Submit only what can run now, so that stopping submits nothing more.
                while len(pending) < workers and not cancel.is_set():
                    member = next(queue, None)
                    if member is None:
                        break
                    pending.add(pool.submit(run, member))
                if not pending:
                    break
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    fut.result()
        except KeyboardInterrupt:
            interrupted = True
            cancel.set()
            wait(pending)
        except BaseException:
            cancel.set()  # the accounts in flight stop at once; they are not saved
            raise
        finally:
            cancel_was_set = cancel.is_set()
    partial = Snapshot(
        created_at=iso(clock()),
        accounts=[done[a] for a in sorted(done)],
        notes=notes,
    )
    if interrupted or (cancel_was_set and len(done) < total):
        pending_ids = sorted(ids - set(done))
        where = f"; saved in {store.path}" if store is not None else ""
        raise OrgScanInterrupted(
            f"organization scan {'interrupted' if interrupted else 'cancelled'}: "
            f"{len(done)} of {total} account(s) done{where}",
            saved=len(done),
            total=total,
            checkpoint=store.path if store is not None else None,
            snapshot=partial,
            pending=pending_ids,
        )
    partial.digest = partial.manifest()[1]
    return partial
