"""The organization scan in the Lambda (``ORG=true``): every member account, in one run or
fanned out by Step Functions, into one snapshot, one report and one notification.

Both ways keep each finished account's evidence in the report bucket, under the run's prefix,
as a one-account evidence bundle (``<run prefix>accounts/<account id>.zip``, verified by its
manifest when read back), the moment that account is done:

- **One run** (:func:`collect_in_one_run`, the scheduled function with ``ORG=true``): lists the
  members (``org.list_member_accounts``) and scans them with ``org.collect_member``, a bounded
  number at once, under the run's time budget. When the budget runs short no further account
  is started, the ones in flight stop and are judged as they are but not kept, and the run is
  reported as partial, naming the accounts not scanned. The next run resumes: the progress file
  (``<prefix>/org-scan.json``) lists the runs of the unfinished scan, and the accounts saved
  under their prefixes are read back instead of scanned again (up to ``ORG_RESUME_HOURS`` after
  the scan started). ``org.collect_organization``'s ``checkpoint``/``resume`` are local
  directories; the function's only durable store is S3, so it drives the same per-account step
  itself and checkpoints each account to S3 (a /tmp copy synced afterwards would lose what a
  killed invocation had finished).
- **Fan-out** (the ``OrgMode=fan-out`` state machine): :func:`list_step` writes the member list
  (``members.json``) that the Distributed Map reads; :func:`account_step` scans one account per
  invocation and saves it; :func:`assemble` reads them back into the snapshot that the report
  step judges, saves and notifies exactly as the one-run path does. An account whose invocation
  failed (after the state machine's retries) is named as not scanned.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from .. import snapshot as snapshot_mod
from ..errors import InputError, SnapshotError
from ..snapshot import AccountEvidence, Snapshot
from ..sources.aws import AccountSession, error_message
from ..sources.base import SourceError, SourceResult, SourceStatus
from ..timeutil import iso, parse_time
from . import artifacts, store
from .budget import Watchdog
from .config import ACCOUNT_ID, Settings
from .logs import Log

if TYPE_CHECKING:
    from ..org import MemberAccount, OrgSettings

ACCOUNTS_DIR = "accounts/"
MEMBERS_FILE = "members.json"
PROGRESS_FORMAT = "dormant-org-scan"
NOT_SCANNED_SOURCE = "assume-role"
"""The source an account that was never reached holds (``org.ASSUME_ROLE``, as
``org.collect_member`` records an AssumeRole failure), so the judge reports it as not scanned."""
LISTED_IN_NOTICE = 20
"""Accounts named in the partial-run line; the result and the report name them all."""


class OrgRunError(InputError):
    """A step of the fan-out was given an event it cannot use."""


@dataclass
class OrgCollected:
    """What the organization's collection gives the run."""

    snapshot: Snapshot
    partial: str | None
    """Why the run is partial (accounts not scanned), None when every account was."""
    problems: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    """The ``org`` block of the run's result."""


# ----------------------------------------------------------------------------- shared


def org_settings(settings: Settings) -> OrgSettings:
    from ..org import OrgSettings

    return OrgSettings(
        role_name=settings.org_role_name,
        external_id=settings.org_external_id,
        account_concurrency=settings.org_account_concurrency,
        concurrency=settings.concurrency,
    )


def list_members(session: AccountSession, settings: Settings) -> list[MemberAccount]:
    """The ACTIVE members to scan, narrowed by ORG_ACCOUNTS, ORG_EXCLUDE_ACCOUNTS, ORG_OUS."""
    from ..org import list_member_accounts

    return list_member_accounts(
        session,
        accounts=list(settings.org_accounts) or None,
        exclude=list(settings.org_exclude_accounts) or None,
        ous=list(settings.org_ous) or None,
    )


def member_to_json(m: MemberAccount) -> dict[str, Any]:
    return {"account_id": m.account_id, "name": m.name, "ou_path": m.ou_path, "status": m.status}


def member_from_json(data: Any, where: str) -> MemberAccount:
    from ..org import MemberAccount

    if not isinstance(data, Mapping) or not ACCOUNT_ID.match(str(data.get("account_id", ""))):
        raise OrgRunError(f"{where}: expected a member account with a 12-digit account_id")
    return MemberAccount(
        account_id=str(data["account_id"]),
        name=data.get("name"),
        ou_path=data.get("ou_path"),
        status=str(data.get("status") or "ACTIVE"),
    )


def describe(m: MemberAccount) -> str:
    return m.account_id + (f" ({m.name})" if m.name else "")


def account_key(run_prefix: str, account_id: str) -> str:
    return f"{run_prefix}{ACCOUNTS_DIR}{account_id}.zip"


def evidence_zip(evidence: AccountEvidence, created_at: str) -> bytes:
    """One account's evidence as a verifiable bundle of its own."""
    return artifacts.evidence_zip(
        Snapshot(created_at=evidence.collected_at or created_at, accounts=[evidence])
    )


def evidence_from_zip(data: bytes, where: str, account_id: str) -> AccountEvidence:
    """The account's evidence from its bundle; SnapshotError if it is not that, intact."""
    with tempfile.TemporaryDirectory(prefix="dormant-") as tmp:
        path = Path(tmp) / "account.zip"
        path.write_bytes(data)
        try:
            snap = snapshot_mod.read(path)
        except SnapshotError as exc:
            raise SnapshotError(f"{where}: {exc}") from None
    found = [a for a in snap.accounts if a.account_id == account_id]
    if len(snap.accounts) != 1 or not found:
        raise SnapshotError(f"{where}: not the evidence of account {account_id} alone")
    return found[0]


def not_scanned(member: MemberAccount, reason: str, code: str, now: str) -> AccountEvidence:
    """An account this run never reached: what the judge reports as not scanned."""
    result = SourceResult(
        name=NOT_SCANNED_SOURCE,
        status=SourceStatus.FAILED,
        started_at=now,
        finished_at=now,
        raw={"not_scanned": reason},
        errors=[SourceError("AssumeRole", code, reason, member.account_id)],
        operations={"AssumeRole": {"calls": 0, "errors": 1, "status": "failed"}},
    )
    return AccountEvidence(
        account_id=member.account_id,
        account_name=member.name,
        collected_at=now,
        sources={NOT_SCANNED_SOURCE: result},
        ou_path=member.ou_path,
    )


def scan_status(evidence: AccountEvidence) -> str:
    """``complete``, ``incomplete`` or ``not-scanned``, as the judge will say."""
    from ..judge import scan_status as judged

    return judged(evidence)[0]


def cut_short(evidence: AccountEvidence) -> bool:
    """Whether the budget's cancellation stopped this account's collection (a call refused
    with ``Cancelled``), as ``org.collect_organization`` tells."""
    return any(e.code == "Cancelled" for res in evidence.sources.values() for e in res.errors)


def saved_accounts(s3: Any, bucket: str, prefixes: Iterable[str]) -> dict[str, str]:
    """The account bundles under each run prefix (a later prefix wins): key by account id."""
    out: dict[str, str] = {}
    for prefix in prefixes:
        where = prefix + ACCOUNTS_DIR
        try:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=where)
            for page in pages:
                for obj in page.get("Contents") or []:
                    name = obj["Key"][len(where) :]
                    account = name.removesuffix(".zip")
                    if name.endswith(".zip") and ACCOUNT_ID.match(account):
                        out[account] = obj["Key"]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise store.StoreError(
                f"s3://{bucket}/{where}: cannot list the saved accounts: {error_message(exc)}",
                "ListFailed",
            ) from None
    return out


READ_BACK_CONCURRENCY = 8
"""Saved accounts read from S3 at once."""


def read_back(
    s3: Any, layout: store.Layout, keys: Mapping[str, str]
) -> tuple[dict[str, AccountEvidence], list[str]]:
    """The saved evidence of each account (by account id), and why any could not be read."""
    out: dict[str, AccountEvidence] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def one(item: tuple[str, str]) -> None:
        account, key = item
        try:
            got = store.get(s3, layout.bucket, key)
            if got is None:
                raise store.StoreError(f"{layout.uri(key)}: gone", "NoSuchKey")
            evidence = evidence_from_zip(got[0], layout.uri(key), account)
        except (store.StoreError, SnapshotError) as exc:
            with lock:
                errors.append(str(exc))
            return
        with lock:
            out[account] = evidence

    with ThreadPoolExecutor(max_workers=READ_BACK_CONCURRENCY) as pool:
        list(pool.map(one, sorted(keys.items())))
    return out, sorted(errors)


def _names(members: list[MemberAccount]) -> str:
    shown = ", ".join(describe(m) for m in members[:LISTED_IN_NOTICE])
    more = len(members) - LISTED_IN_NOTICE
    return shown + (f" and {more} more" if more > 0 else "")


def _summary(
    members: list[MemberAccount],
    evidence: Mapping[str, AccountEvidence],
    missing: list[MemberAccount],
    **extra: Any,
) -> dict[str, Any]:
    statuses = {a: scan_status(e) for a, e in evidence.items()}
    return {
        "accounts": len(members),
        "scanned": sorted(a for a in statuses if a not in {m.account_id for m in missing}),
        "not_scanned": [m.account_id for m in missing],
        "incomplete": sorted(a for a, s in statuses.items() if s == "incomplete"),
        "unreachable": sorted(
            a
            for a, s in statuses.items()
            if s == "not-scanned" and a not in {m.account_id for m in missing}
        ),
        **extra,
    }


def _snapshot(accounts: Iterable[AccountEvidence], created_at: str, notes: list[str]) -> Snapshot:
    return Snapshot(
        created_at=created_at,
        accounts=sorted(accounts, key=lambda a: a.account_id),
        notes=notes,
    )


# ------------------------------------------------------------------------------ one run


@dataclass
class Progress:
    """The unfinished scan a run continues (``<prefix>/org-scan.json``)."""

    started_at: str
    runs: list[dict[str, str]]
    """``run_id`` and ``prefix`` of every run of this scan, this one last."""
    complete: bool = False

    def to_bytes(self) -> bytes:
        body = {
            "format": PROGRESS_FORMAT,
            "version": 1,
            "started_at": self.started_at,
            "complete": self.complete,
            "runs": self.runs,
        }
        return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()


def progress_key(layout: store.Layout) -> str:
    return f"{layout.prefix}/org-scan.json" if layout.prefix else "org-scan.json"


def _load_progress(s3: Any, layout: store.Layout) -> Progress | None:
    got = store.get(s3, layout.bucket, progress_key(layout))
    if got is None:
        return None
    try:
        data = json.loads(got[0])
        if data.get("format") != PROGRESS_FORMAT:
            raise ValueError("not a dormant organization-scan progress file")
        runs = [{"run_id": str(r["run_id"]), "prefix": str(r["prefix"])} for r in data["runs"]]
        return Progress(str(data["started_at"]), runs, bool(data.get("complete")))
    except (ValueError, KeyError, TypeError) as exc:
        raise store.StoreError(
            f"{layout.uri(progress_key(layout))}: unreadable ({exc}); starting a new scan",
            "InvalidProgress",
        ) from None


def _begin(
    s3: Any,
    layout: store.Layout,
    run_id: str,
    run_prefix: str,
    settings: Settings,
    now: dt.datetime,
    log: Log,
    problems: list[str],
) -> Progress:
    """Continue the unfinished scan, or start one; saved before any account is scanned, so a
    run killed outright is still resumed."""
    previous = None
    try:
        previous = _load_progress(s3, layout)
    except store.StoreError as exc:
        log.warning("org.progress_unreadable", str(exc))
        problems.append(str(exc))
    resume = (
        previous is not None
        and not previous.complete
        and settings.org_resume_hours > 0
        and now - parse_time(previous.started_at) <= dt.timedelta(hours=settings.org_resume_hours)
    )
    if previous is not None and not previous.complete and not resume:
        log.info("org.scan_restarted", "the unfinished scan is too old to resume: starting over")
    progress = Progress(
        previous.started_at if resume and previous else iso(now),
        [*(previous.runs if resume and previous else []), {"run_id": run_id, "prefix": run_prefix}],
    )
    _save_progress(s3, layout, progress, log, problems)
    return progress


def _save_progress(
    s3: Any, layout: store.Layout, progress: Progress, log: Log, problems: list[str]
) -> None:
    try:
        store.put(s3, layout.bucket, progress_key(layout), progress.to_bytes())
    except store.StoreError as exc:
        message = f"organization scan progress not saved, so it cannot be resumed: {exc}"
        log.error("org.progress_not_saved", message)
        problems.append(message)


SAVED_ACCOUNT_MAX_AGE = dt.timedelta(hours=26)
"""How old an account saved by an earlier run of the scan may be when it is read back: a daily
run's accounts, with two hours of slack. The report is judged as of this run, so older evidence
would count time in which nobody looked at the account toward "unused"; an older account is
scanned again instead (the CLI's resume allows 24 hours: org.RESUME_MAX_AGE)."""


def collect_in_one_run(
    session: AccountSession,
    settings: Settings,
    identity: Mapping[str, Any],
    *,
    layout: store.Layout,
    run_id: str,
    run_prefix: str,
    s3: Any,
    clock: Callable[[], dt.datetime],
    remaining_ms: Callable[[], int],
    log: Log,
) -> OrgCollected:
    """Every member account in this invocation, resuming the unfinished scan."""
    from ..org import access_note, collect_member, stale_accounts

    problems: list[str] = []
    members = list_members(session, settings)
    log.info("org.members", f"{len(members)} accounts to scan", accounts=len(members))
    progress = _begin(s3, layout, run_id, run_prefix, settings, clock(), log, problems)
    earlier = [r["prefix"] for r in progress.runs[:-1]]

    done: dict[str, AccountEvidence] = {}
    if earlier:
        try:
            saved = saved_accounts(s3, layout.bucket, earlier)
        except store.StoreError as exc:
            saved = {}
            problems.append(f"{exc}: scanning every account again")
        wanted = {m.account_id for m in members}
        got, unreadable = read_back(s3, layout, {a: k for a, k in saved.items() if a in wanted})
        done.update(got)
        for message in unreadable:
            log.warning("org.saved_account_unreadable", f"{message}: scanning it again")
        stale = stale_accounts(done, clock(), SAVED_ACCOUNT_MAX_AGE)
        for account_id in stale:
            del done[account_id]
        if stale:
            log.info(
                "org.saved_accounts_too_old",
                f"{len(stale)} saved accounts were collected more than {SAVED_ACCOUNT_MAX_AGE} "
                "ago: scanning them again",
                accounts=stale,
            )
        log.info(
            "org.resumed",
            f"{len(done)} accounts read back from the earlier runs of this scan",
            runs=[r["run_id"] for r in progress.runs[:-1]],
        )

    todo = [m for m in members if m.account_id not in done]
    scanned: dict[str, AccountEvidence] = {}
    cut: list[MemberAccount] = []
    lock = threading.Lock()
    osettings = org_settings(settings)
    caller = str(identity["Account"])

    with Watchdog(remaining_ms, settings.time_reserve_seconds) as dog:

        def one(member: MemberAccount) -> None:
            if dog.cancel.is_set():
                return
            try:
                evidence = collect_member(
                    session,
                    member,
                    clock=clock,
                    settings=osettings,
                    caller_account=caller,
                    cancel=dog.cancel,
                )
            except Exception as exc:  # noqa: BLE001 - one account never stops the others
                message = f"{type(exc).__name__}: {exc}".splitlines()[0]
                log.error("org.account_crashed", message, member=member.account_id)
                evidence = not_scanned(member, message, type(exc).__name__, iso(clock()))
            if dog.cancel.is_set() and cut_short(evidence):
                with lock:  # stopped by the budget: judged as it is, scanned again next run
                    scanned[member.account_id] = evidence
                    cut.append(member)
                return
            try:
                key = account_key(run_prefix, member.account_id)
                store.put(s3, layout.bucket, key, evidence_zip(evidence, iso(clock())))
            except store.StoreError as exc:
                with lock:
                    problems.append(f"account {member.account_id} not saved for a resume: {exc}")
            with lock:
                scanned[member.account_id] = evidence
            log.info("org.account_done", member=member.account_id, status=scan_status(evidence))

        workers = max(1, min(settings.org_account_concurrency, len(todo)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dormant-org") as pool:
            list(pool.map(one, todo))

    now = iso(clock())
    not_started = [m for m in todo if m.account_id not in scanned]
    cut_ids = {m.account_id for m in cut}
    missing = [m for m in members if m.account_id in cut_ids or m in not_started]
    evidence: dict[str, AccountEvidence] = {**done, **scanned}
    reason = "the time budget ran out before this account's turn; the next run resumes with it"
    for m in not_started:
        evidence[m.account_id] = not_scanned(m, reason, "TimeBudgetExhausted", now)
    notes = [
        *getattr(members, "notes", ()),
        access_note(osettings, caller, members),
        f"organization scan of {len(members)} accounts, started {progress.started_at}",
    ]
    if done:
        notes.append(
            f"{len(done)} accounts read back from earlier runs of this scan: "
            + ", ".join(r["run_id"] for r in progress.runs[:-1])
        )
    partial = None
    if missing:
        partial = (
            f"{dog.describe() if dog.fired else 'collection stopped'}; "
            f"{len(members) - len(missing)} of {len(members)} accounts scanned, not yet "
            f"({len(missing)}): {_names(missing)}; the next run resumes with them"
        )
        notes.append(f"partial run: {partial}")
    else:
        progress.complete = True
        _save_progress(s3, layout, progress, log, problems)
    summary = _summary(
        members,
        evidence,
        missing,
        mode="single-run",
        scan_started_at=progress.started_at,
        resumed_from=[r["run_id"] for r in progress.runs[:-1]],
        read_back=sorted(done),
    )
    return OrgCollected(_snapshot(evidence.values(), now, notes), partial, problems, summary)


# ------------------------------------------------------------------------------ fan-out


def run_from_event(event: Any) -> dict[str, str]:
    """The ``run`` block the list step returned, checked."""
    run = event.get("run") if isinstance(event, Mapping) else None
    keys = ("run_id", "run_prefix", "started_at", "caller_account")
    if not isinstance(run, Mapping) or any(not isinstance(run.get(k), str) for k in keys):
        raise OrgRunError(
            "event: expected the 'run' block of org_list_handler's result "
            f"({', '.join(keys)}); is this function called by the state machine?"
        )
    return {k: str(run[k]) for k in keys}


def list_step(
    session: AccountSession,
    settings: Settings,
    identity: Mapping[str, Any],
    *,
    layout: store.Layout,
    run_id: str,
    started: dt.datetime,
    log: Log,
) -> dict[str, Any]:
    """Step 1: write the member list where the Distributed Map reads it; the run's identity."""
    members = list_members(session, settings)
    run_prefix = layout.run_prefix(started, run_id)
    key = run_prefix + MEMBERS_FILE
    body = json.dumps([member_to_json(m) for m in members], indent=1, sort_keys=True) + "\n"
    store.put(session.client("s3"), layout.bucket, key, body.encode())
    log.info("org.listed", f"{len(members)} accounts to scan", accounts=len(members), key=key)
    return {
        "run": {
            "run_id": run_id,
            "run_prefix": run_prefix,
            "started_at": iso(started),
            "caller_account": str(identity["Account"]),
        },
        "bucket": layout.bucket,
        "members_key": key,
        "accounts": len(members),
        "notes": [str(n) for n in getattr(members, "notes", ())],
    }


def account_step(
    session: AccountSession,
    settings: Settings,
    event: Any,
    *,
    clock: Callable[[], dt.datetime],
    remaining_ms: Callable[[], int],
    log: Log,
) -> dict[str, Any]:
    """Step 2, one Map item: scan one account and save its evidence. A failure to reach or read
    the account is in the evidence, not an error; a failure to save it, or a scan the time
    budget cut short, raises (the state machine retries; the report step names an account
    whose every try failed as not scanned)."""
    from ..org import collect_member

    run = run_from_event(event)
    member = member_from_json(event.get("member"), "event.member")
    log.bind(run_id=run["run_id"], member=member.account_id)
    layout = store.Layout(settings.bucket, settings.prefix)
    if not run["run_prefix"].startswith(f"{layout.prefix}/" if layout.prefix else ""):
        raise OrgRunError(f"event.run.run_prefix: not under {layout.uri(layout.prefix + '/')}")
    with Watchdog(remaining_ms, settings.time_reserve_seconds) as dog:
        evidence = collect_member(
            session,
            member,
            clock=clock,
            settings=org_settings(settings),
            caller_account=run["caller_account"],
            cancel=dog.cancel,
        )
    if dog.fired and cut_short(evidence):
        # Saved, this would be judged as a normal (incomplete) account and the run would look
        # whole. Unsaved and failed, the Map retries it, or the report step names it not scanned.
        raise OrgRunError(
            f"account {member.account_id}: {dog.describe()} before its scan finished; nothing "
            "saved (give the account step a longer OrgAccountTimeout)"
        )
    key = account_key(run["run_prefix"], member.account_id)
    store.put(session.client("s3"), layout.bucket, key, evidence_zip(evidence, iso(clock())))
    status = scan_status(evidence)
    out = {"account_id": member.account_id, "status": status, "key": key}
    if dog.fired:
        out["partial"] = dog.describe()
    log.info("org.account_done", status=status, key=key, partial=dog.fired)
    return out


def assemble(
    session: AccountSession,
    settings: Settings,
    event: Any,
    *,
    layout: store.Layout,
    s3: Any,
    clock: Callable[[], dt.datetime],
    log: Log,
) -> OrgCollected:
    """Step 3: the snapshot from what the account steps saved; the accounts whose step did not
    save anything are named as not scanned."""
    run = run_from_event(event)
    key = event.get("members_key")
    if not isinstance(key, str) or not key.startswith(run["run_prefix"]):
        raise OrgRunError("event.members_key: expected the member list under the run's prefix")
    got = store.get(s3, layout.bucket, key)
    if got is None:
        raise OrgRunError(f"{layout.uri(key)}: the member list is missing")
    try:
        listed = json.loads(got[0])
    except ValueError as exc:
        raise OrgRunError(f"{layout.uri(key)}: not JSON ({exc})") from None
    if not isinstance(listed, list):
        raise OrgRunError(f"{layout.uri(key)}: expected a list of member accounts")
    members = [member_from_json(m, f"{layout.uri(key)}[{i}]") for i, m in enumerate(listed)]
    saved = saved_accounts(s3, layout.bucket, [run["run_prefix"]])
    wanted = {m.account_id for m in members}
    evidence, problems = read_back(s3, layout, {a: k for a, k in saved.items() if a in wanted})
    missing = [m for m in members if m.account_id not in evidence]
    map_error = event.get("map_error")
    stopped = ""
    if isinstance(map_error, Mapping):
        stopped = f"the Map stopped ({map_error.get('Error') or 'error'})"
        problems.append(
            f"the Distributed Map failed: {map_error.get('Error')}: "
            f"{str(map_error.get('Cause') or '')[:300]}"
        )
    now = iso(clock())
    reason = "its scan in the state machine's Distributed Map did not save any evidence"
    for m in missing:
        evidence[m.account_id] = not_scanned(m, reason, "AccountStepFailed", now)
    partial = None
    if missing:
        partial = (
            (stopped + "; " if stopped else "")
            + f"{len(members) - len(missing)} of {len(members)} accounts scanned, not scanned "
            f"({len(missing)}): {_names(missing)}; see the state machine's execution"
        )
    listed_notes = event.get("notes") if isinstance(event.get("notes"), list) else []
    notes = [
        *(str(n) for n in listed_notes),
        f"organization scan of {len(members)} accounts (Step Functions fan-out)",
    ]
    if partial:
        notes.append(f"partial run: {partial}")
    summary = _summary(
        members, evidence, missing, mode="fan-out", scan_started_at=run["started_at"]
    )
    return OrgCollected(_snapshot(evidence.values(), now, notes), partial, problems, summary)
