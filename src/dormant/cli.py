"""The command line. Thin: parse options, build a session, call sources, save the snapshot,
judge, hand the report to a format. Exit codes: 0 nothing found, 1 a finding reached
``--fail-on``, 2 an error."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import click

from . import __version__
from .cli_errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, handle_errors
from .errors import DormantError, InputError
from .model import FindingType, Report, Verdict
from .timeutil import UTC, parse_time

FORMAT_NAMES = ["table", "json", "csv", "markdown", "html"]
"""Every format of sinks/formats, in the order --help lists them."""


def now() -> dt.datetime:
    """The one clock of dormant: nothing below the CLI reads the time."""
    return dt.datetime.now(UTC)


# ------------------------------------------------------------------------------- options


def aws_options(fn: Callable) -> Callable:
    for opt in reversed(
        [
            click.option("--profile", envvar=None, help="AWS profile (default: AWS_PROFILE)."),
            click.option("--region", help="AWS region for the API calls (IAM is global)."),
            click.option(
                "--endpoint-url",
                help="Send every AWS call here (default: AWS_ENDPOINT_URL), e.g. an emulator.",
            ),
            click.option(
                "--concurrency",
                type=click.IntRange(1, 64),
                default=8,
                show_default=True,
                help="API calls in flight at once.",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


def collection_options(fn: Callable) -> Callable:
    """What to collect beyond the core sources: Access Advisor and Access Analyzer."""
    for opt in reversed(
        [
            click.option(
                "--access-advisor/--no-access-advisor",
                default=True,
                show_default=True,
                help="Run an Access Advisor job (action level) for every role, user, group and "
                "attached customer-managed policy, to judge unused permissions.",
            ),
            click.option(
                "--job-timeout",
                type=click.FloatRange(min=1),
                default=300,
                show_default=True,
                metavar="SECONDS",
                help="Give up an Access Advisor job still in progress after this long; that "
                "principal's permissions are then insufficient-evidence.",
            ),
            click.option(
                "--with-entities",
                is_flag=True,
                help="Also read, for groups and policies, which users and roles used each "
                "service (GetServiceLastAccessedDetailsWithEntities).",
            ),
            click.option(
                "--access-analyzer/--no-access-analyzer",
                default=True,
                show_default=True,
                help="Read IAM Access Analyzer's unused-access findings where an unused-access "
                "analyzer exists in the region, to compare with dormant's.",
            ),
            click.option(
                "--trail",
                "trail",
                multiple=True,
                metavar="SOURCE",
                help="Add CloudTrail evidence: a local file or folder, s3://bucket/prefix in "
                "CloudTrail's layout, or 'lookup-events' (the API; 90 days). Repeatable; also "
                "[cloudtrail] sources in the policy file. Needs dormant[trail].",
            ),
            click.option(
                "--trail-start",
                metavar="ISO",
                help="Read CloudTrail from this time (default: all the sources hold).",
            ),
        ]
    ):
        fn = opt(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["collection"] = collect_settings(
            kwargs.pop("access_advisor"),
            kwargs.pop("job_timeout"),
            kwargs.pop("with_entities"),
            kwargs.pop("access_analyzer"),
            trail=kwargs.pop("trail"),
            trail_start=kwargs.pop("trail_start"),
        )
        return fn(*args, **kwargs)

    return wrapper


def collect_settings(
    access_advisor: bool,
    job_timeout: float,
    with_entities: bool,
    access_analyzer: bool,
    *,
    trail: tuple[str, ...] = (),
    trail_start: str | None = None,
) -> dict[str, Any]:
    """The ``options`` of :func:`dormant.collect.collect_account` from the CLI flags."""
    start = None
    if trail_start:
        try:
            start = parse_time(trail_start)
        except ValueError as exc:
            raise InputError(f"--trail-start: {exc}") from None
    return {
        "access_advisor": access_advisor,
        "job_timeout": job_timeout,
        "with_entities": with_entities,
        "access_analyzer": access_analyzer,
        "trail_sources": list(trail),
        "trail_start": start,
    }


def with_policy_trail(options: dict[str, Any], policy: Any) -> dict[str, Any]:
    """The CloudTrail sources of the command line and of the policy file, together."""
    sources = list(options.get("trail_sources") or [])
    for src in policy.file.cloudtrail.sources:
        if src not in sources:
            sources.append(src)
    out = dict(options, trail_sources=sources)
    if out.get("trail_start") is None and policy.file.cloudtrail.start is not None:
        out["trail_start"] = policy.file.cloudtrail.start
    return out


def judge_options(fn: Callable) -> Callable:
    for opt in reversed(
        [
            click.option(
                "--policy",
                "policy_path",
                type=click.Path(dir_okay=False),
                help="Policy file (TOML): thresholds, exclusions, allow-list.",
            ),
            click.option(
                "--threshold-days", type=int, help="One threshold in days for every finding type."
            ),
            click.option(
                "--cis",
                is_flag=True,
                help="CIS AWS Foundations preset: 45 days for unused credentials.",
            ),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(FORMAT_NAMES),
                default="table",
                show_default=True,
            ),
            click.option(
                "--output",
                "-o",
                type=click.Path(dir_okay=False),
                help="Write the report here instead of standard output.",
            ),
            click.option(
                "--fail-on",
                default="any",
                show_default=True,
                help="Exit 1 when a finding matches: 'any', 'none', or a comma list "
                "of finding types and verdicts (e.g. 'unused,never-used' or "
                "'UnusedIAMUserAccessKey,insufficient-evidence'). An account that could not be "
                "scanned (--org: AssumeRole failed) fails every gate but 'none' (leave it out "
                "with --exclude-accounts to accept that); add 'incomplete' to fail also on an "
                "account scanned incompletely (a source partial, denied or failed); "
                "'not-scanned' alone gates on unscanned accounts only.",
                callback=lambda c, p, v: parse_fail_on(v),
            ),
        ]
    ):
        fn = opt(fn)
    return fn


def history_options(fn: Callable) -> Callable:
    for opt in reversed(
        [
            click.option(
                "--history",
                "history_path",
                type=click.Path(dir_okay=False),
                help="The history database (default: $DORMANT_HISTORY, else "
                "$XDG_DATA_HOME/dormant/history.db, i.e. ~/.local/share/dormant/history.db).",
            ),
            click.option(
                "--no-history",
                is_flag=True,
                help="Do not record this run (also: DORMANT_HISTORY=off).",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


def history_path_option(fn: Callable) -> Callable:
    return click.option(
        "--history",
        "history_path",
        type=click.Path(dir_okay=False),
        help="The history database (default: $DORMANT_HISTORY, else "
        "$XDG_DATA_HOME/dormant/history.db).",
    )(fn)


SCAN_GATES = ("not-scanned", "incomplete")
"""--fail-on values about accounts rather than findings."""


class FailOn(NamedTuple):
    """What makes the exit code 1 (see ``--fail-on``)."""

    types: set[str]
    verdicts: set[str]
    never: bool
    findings: bool = True
    """Whether findings are gated at all (not when only scan gates are listed)."""
    incomplete: bool = False
    """Also fail on an account scanned incompletely (a source partial, denied or failed)."""


def parse_fail_on(value: str) -> FailOn:
    """The gate from the --fail-on text."""
    types: set[str] = set()
    verdicts: set[str] = set()
    items = [v.strip() for v in value.split(",") if v.strip()]
    if items == ["none"]:
        return FailOn(types, verdicts, True, False, False)
    valid_types = {str(t) for t in FindingType}
    valid_verdicts = {str(v) for v in Verdict}
    gates = {item for item in items if item in SCAN_GATES}
    for item in items:
        if item == "any" or item in SCAN_GATES:
            continue
        if item in valid_types:
            types.add(item)
        elif item in valid_verdicts:
            verdicts.add(item)
        else:
            raise click.BadParameter(
                f"{item!r} is not 'any', 'none', 'not-scanned', 'incomplete', a finding type "
                f"({', '.join(sorted(valid_types))}) or a verdict "
                f"({', '.join(sorted(valid_verdicts))})"
            )
    findings = not items or len(gates) < len(items)
    return FailOn(types, verdicts, False, findings, "incomplete" in gates)


def exit_code_for(report: Report, fail_on: FailOn) -> int:
    """1 when the gate is reached: an account could not be scanned (every gate but 'none'),
    an account was scanned incompletely (with 'incomplete'), or a finding matches."""
    types, verdicts, never, findings, incomplete = fail_on
    if never:
        return EXIT_OK
    for a in report.accounts:
        if a.scan_status == "not-scanned":
            return EXIT_FINDINGS
        if incomplete and a.scan_status == "incomplete":
            return EXIT_FINDINGS
    if not findings:
        return EXIT_OK
    for f in report.findings:
        if types and str(f.type) not in types:
            continue
        if verdicts:
            if str(f.verdict) in verdicts:
                return EXIT_FINDINGS
        elif f.verdict != Verdict.INSUFFICIENT_EVIDENCE:
            return EXIT_FINDINGS
    return EXIT_OK


def report_scan_gaps(report: Report, *, organization: bool = False) -> None:
    """Name on stderr every account not fully scanned: always one that could not be scanned;
    an incomplete one when the report covers several accounts (an organization)."""
    many = organization or len(report.accounts) > 1
    for a in report.accounts:
        if a.scan_status == "complete":
            continue
        if a.scan_status == "incomplete" and not many:
            continue
        name = f" ({a.account_name})" if a.account_name else ""
        label = "not scanned" if a.scan_status == "not-scanned" else "incomplete"
        click.echo(
            f"dormant: account {a.account_id}{name} {label}: {'; '.join(a.scan_gaps)}", err=True
        )


def parse_as_of(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise InputError(
            f"--as-of: {exc}; expected ISO-8601 such as 2026-01-31T00:00:00Z"
        ) from None


# ------------------------------------------------------------------------------ progress


class Progress:
    """A progress display on stderr, only when stderr is a terminal. Thread-safe."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}
        self._progress = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._progress = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )

    def __enter__(self) -> Progress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def finish(self, task: str) -> None:
        """Remove a task's line (an account of an organization scan that is done)."""
        if self._progress is None:
            return
        with self._lock:
            tid = self._tasks.pop(task, None)
            if tid is not None:
                self._progress.remove_task(tid)

    def __call__(self, task: str, advance: int, total: int | None) -> None:
        if self._progress is None:
            return
        with self._lock:
            tid = self._tasks.get(task)
            if tid is None:
                tid = self._tasks[task] = self._progress.add_task(task, total=total)
            elif total is not None:
                self._progress.update(tid, total=total)
            if advance:
                self._progress.advance(tid, advance)


# ----------------------------------------------------------------------------- plumbing


def emit(text: str, output: str | None) -> None:
    if output:
        path = Path(output)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.partial")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            raise DormantError(f"{output}: cannot write the report ({exc.strerror})") from None
    else:
        click.echo(text, nl=False)


def terminal_width(fmt: str, output: str | None) -> int:
    if fmt == "table" and output is None and sys.stdout.isatty():
        import shutil

        return max(100, shutil.get_terminal_size((160, 40)).columns)
    return 160


def render_report(report: Report, fmt: str, output: str | None, **options: Any) -> None:
    from .sinks.formats import render

    color = fmt == "table" and output is None and sys.stdout.isatty()
    width = terminal_width(fmt, output)
    emit(render(report, fmt, color=color, width=width, **options), output)


def open_history(path_option: str | None, disabled: bool, *, create: bool = True):
    """The history store the options and environment ask for, or None when it is off."""
    from .history import History, resolve_path

    path = resolve_path(path_option, disabled)
    if path is None:
        return None
    return History.open(path, create=create)


def record_and_render(store, report: Report, command: str, fmt: str, output: str | None) -> None:
    """Record the run (when history is on), then render the report; the HTML report gets the
    trend of the report's accounts, this run included."""
    from .timeutil import iso

    trend = None
    if store is not None:
        with store:
            run_id = store.record(report, command=command, recorded_at=iso(now()))
            if fmt == "html":
                trend = store.trend(report.account_ids)
        if sys.stderr.isatty():  # like the progress display: quiet for scripts
            click.echo(f"dormant: run {run_id} recorded in {store.path}", err=True)
    render_report(report, fmt, output, history=trend)


def make_session(profile, region, endpoint_url):
    from .sources.aws import build_session

    try:
        return build_session(profile=profile, region=region, endpoint_url=endpoint_url)
    except Exception as exc:  # botocore.exceptions.ProfileNotFound and friends
        raise DormantError(f"cannot build an AWS session: {exc}") from None


def run_collect(session, concurrency: int, options: dict[str, Any] | None = None) -> Any:
    from .pipeline import collect_snapshot

    with Progress(sys.stderr.isatty()) as progress:
        return collect_snapshot(
            session, clock=now, concurrency=concurrency, progress=progress, options=options
        )


# ---------------------------------------------------------------------- organization


DEFAULT_ROLE = "OrganizationAccountAccessRole"
_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
_ROLE_NAME = re.compile(r"^[\w+=,.@/-]{1,512}$")


@dataclass(frozen=True)
class OrgOptions:
    """The --org options of scan and collect."""

    accounts: tuple[str, ...]
    exclude: tuple[str, ...]
    ous: tuple[str, ...]
    role_name: str
    external_id: str | None
    account_concurrency: int
    resume: str | None


def _id_list(values: tuple[str, ...], option: str) -> tuple[str, ...]:
    out = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            if not _ACCOUNT_ID.match(item):
                raise click.BadParameter(
                    f"{item!r} is not a 12-digit account id", param_hint=option
                )
            out.append(item)
    return tuple(dict.fromkeys(out))


def org_options(fn: Callable) -> Callable:
    """--org and its options; passes ``org`` (an :class:`OrgOptions`, or None without --org)."""
    for opt in reversed(
        [
            click.option(
                "--org",
                "org_scan",
                is_flag=True,
                help="Scan every ACTIVE account of the AWS Organization, from its management "
                "account or a delegated administrator: assume --role-name in each member, "
                "one snapshot and one report for all.",
            ),
            click.option(
                "--accounts",
                "org_accounts",
                multiple=True,
                metavar="IDS",
                help="--org: only these accounts (comma list; repeatable).",
            ),
            click.option(
                "--exclude-accounts",
                "org_exclude",
                multiple=True,
                metavar="IDS",
                help="--org: leave these accounts out (comma list; repeatable).",
            ),
            click.option(
                "--ou",
                "org_ous",
                multiple=True,
                metavar="OU",
                help="--org: only the accounts under this OU or root, at any depth: an id "
                "(ou-ab12-cdef3456, r-ab12) or a path (Root/Prod); comma list; repeatable.",
            ),
            click.option(
                "--role-name",
                default=DEFAULT_ROLE,
                show_default=True,
                help="--org: the role to assume in each member account (it needs "
                "deploy/readonly-policy.json).",
            ),
            click.option(
                "--external-id",
                envvar="DORMANT_EXTERNAL_ID",
                help="--org: the external id the member role's trust policy requires "
                "(default: DORMANT_EXTERNAL_ID).",
            ),
            click.option(
                "--account-concurrency",
                type=click.IntRange(1, 64),
                default=8,
                show_default=True,
                help="--org: accounts scanned at once (each with --concurrency calls).",
            ),
            click.option(
                "--resume",
                "resume",
                type=click.Path(),
                metavar="CHECKPOINT",
                help="--org: continue an interrupted organization scan from the accounts "
                "saved in its checkpoint (the path the interruption message names).",
            ),
        ]
    ):
        fn = opt(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from click.core import ParameterSource

        ctx = click.get_current_context()
        enabled = kwargs.pop("org_scan")
        names = {
            "org_accounts": "--accounts",
            "org_exclude": "--exclude-accounts",
            "org_ous": "--ou",
            "role_name": "--role-name",
            "external_id": "--external-id",
            "account_concurrency": "--account-concurrency",
            "resume": "--resume",
        }
        if not enabled:
            given = [
                flag
                for name, flag in names.items()
                if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
            ]
            if given:
                raise click.UsageError(f"{', '.join(given)} only apply with --org")
            for name in names:
                kwargs.pop(name)
            kwargs["org"] = None
            return fn(*args, **kwargs)
        role = kwargs.pop("role_name")
        if not _ROLE_NAME.match(role):
            raise click.BadParameter(f"{role!r} is not an IAM role name", param_hint="--role-name")
        ous = tuple(
            dict.fromkeys(
                o.strip() for value in kwargs.pop("org_ous") for o in value.split(",") if o.strip()
            )
        )
        kwargs["org"] = OrgOptions(
            accounts=_id_list(kwargs.pop("org_accounts"), "--accounts"),
            exclude=_id_list(kwargs.pop("org_exclude"), "--exclude-accounts"),
            ous=ous,
            role_name=role,
            external_id=kwargs.pop("external_id") or None,
            account_concurrency=kwargs.pop("account_concurrency"),
            resume=kwargs.pop("resume"),
        )
        return fn(*args, **kwargs)

    return wrapper


def checkpoint_for(out: str | Path) -> Path:
    """Where an organization scan writing ``out`` keeps its checkpoint: beside it."""
    path = Path(out)
    if path.suffix.lower() == ".zip":
        return path.with_suffix(".checkpoint")
    return path.with_name(path.name + ".checkpoint")


def resolve_resume(value: str) -> Path:
    """The checkpoint --resume names: the checkpoint itself, or the snapshot path it is for."""
    from .checkpoint import is_checkpoint

    path = Path(value)
    if not is_checkpoint(path) and is_checkpoint(checkpoint_for(path)):
        return checkpoint_for(path)
    return path


def default_checkpoint() -> Path:
    """For scan --org without --snapshot: a new directory in the user's cache."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    stamp = now().strftime("%Y%m%dT%H%M%SZ")
    return Path(base) / "dormant" / f"org-scan-{stamp}-{os.getpid()}.checkpoint"


def resume_command(checkpoint: Path) -> str:
    """The command line that was run, with ``--resume CHECKPOINT`` (the external id masked)."""
    import shlex

    args = sys.argv[1:]
    out: list[str] = []
    skip = False
    masked = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--resume":
            skip = True
            continue
        if arg.startswith("--resume="):
            continue
        if arg == "--external-id":
            out.append(arg)
            out.append("EXTERNAL_ID")
            skip = masked = True
            continue
        if arg.startswith("--external-id="):
            out.append("--external-id=EXTERNAL_ID")
            masked = True
            continue
        out.append(arg)
    line = shlex.join(["dormant", *out, "--resume", str(checkpoint)])
    return line + (" (with the same external id)" if masked else "")


def run_org_collect(
    session: Any,
    org: OrgOptions,
    concurrency: int,
    options: dict[str, Any],
    *,
    checkpoint: Path | None,
    target: str | None,
) -> tuple[Any, Path]:
    """Collect the organization's snapshot; returns it and its checkpoint (to remove once the
    snapshot is written). Interrupted: says how to resume and exits 2."""
    from .org import OrgScanInterrupted, OrgSettings
    from .pipeline import collect_org_snapshot

    settings = OrgSettings(
        role_name=org.role_name,
        external_id=org.external_id,
        account_concurrency=org.account_concurrency,
        concurrency=concurrency,
    )
    resume = resolve_resume(org.resume) if org.resume else None
    try:
        with Progress(sys.stderr.isatty()) as progress:
            snap = collect_org_snapshot(
                session,
                clock=now,
                settings=settings,
                accounts=org.accounts or None,
                exclude=org.exclude or None,
                ous=org.ous or None,
                options=options,
                progress=progress,
                checkpoint=None if resume is not None else checkpoint,
                resume=resume,
                target=target,
            )
    except OrgScanInterrupted as exc:
        click.echo(f"dormant: {exc}", err=True)
        if exc.checkpoint is not None:
            click.echo(
                f"dormant: to continue, run: {resume_command(exc.checkpoint)}",
                err=True,
            )
        click.get_current_context().exit(EXIT_ERROR)
    used = resume if resume is not None else checkpoint
    assert used is not None
    return snap, used


def org_summary(snap: Any) -> None:
    """One line on stderr: how many accounts were scanned fully, incompletely, not at all."""
    from .judge import scan_status

    counts: dict[str, int] = {}
    for a in snap.accounts:
        status, _ = scan_status(a)
        counts[status] = counts.get(status, 0) + 1
    parts = [
        f"{counts[k]} {label}"
        for k, label in (
            ("complete", "complete"),
            ("incomplete", "incomplete"),
            ("not-scanned", "not scanned"),
        )
        if counts.get(k)
    ]
    summary = ", ".join(parts) or "none"
    click.echo(f"dormant: organization scan: {len(snap.accounts)} account(s): {summary}", err=True)


# ---------------------------------------------------------------------------- commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dormant")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def main(debug: bool) -> None:
    """Find AWS IAM credentials and permissions nobody uses, with the evidence."""


@main.command()
@aws_options
@collection_options
@org_options
@judge_options
@click.option(
    "--snapshot",
    "snapshot_out",
    type=click.Path(),
    help="Also save the evidence bundle here (a directory, or a .zip file).",
)
@history_options
@handle_errors
def scan(
    profile,
    region,
    endpoint_url,
    concurrency,
    collection,
    org,
    policy_path,
    threshold_days,
    cis,
    fmt,
    output,
    fail_on,
    snapshot_out,
    history_path,
    no_history,
):
    """Collect the evidence from AWS and judge it (collect + analyze).

    With --org: every ACTIVE account of the organization, into one snapshot and one report.
    Each account is saved to a checkpoint as soon as it is done (beside --snapshot, else in
    the user's cache directory), so an interrupted scan continues with --resume."""
    from . import pipeline
    from . import snapshot as snapshot_mod
    from .checkpoint import Checkpoint
    from .policy import load_policy

    policy = load_policy(policy_path, cis=cis, threshold_days=threshold_days)
    store = open_history(history_path, no_history)  # before collecting: fail fast
    session = make_session(profile, region, endpoint_url)
    options = with_policy_trail(collection, policy)
    checkpoint = None
    if org is None:
        snap = run_collect(session, concurrency, options)
    else:
        snap, checkpoint = run_org_collect(
            session,
            org,
            concurrency,
            options,
            checkpoint=checkpoint_for(snapshot_out) if snapshot_out else default_checkpoint(),
            target=snapshot_out,
        )
    if snapshot_out:
        snapshot_mod.write(snap, snapshot_out)
        click.echo(f"dormant: evidence saved to {snapshot_out}", err=True)
    if checkpoint is not None:
        Checkpoint(checkpoint, {}).remove()
        org_summary(snap)
    report = pipeline.judge_snapshot(snap, policy)
    record_and_render(store, report, "scan", fmt, output)
    report_scan_gaps(report, organization=org is not None)
    sys.exit(exit_code_for(report, fail_on))


@main.command()
@aws_options
@collection_options
@org_options
@click.option(
    "--out",
    "out",
    type=click.Path(),
    help="Where to write the evidence bundle: a directory, or a file ending in .zip "
    "(with --resume: by default where the interrupted scan was writing).",
)
@handle_errors
def collect(
    profile,
    region,
    endpoint_url,
    concurrency,
    collection,
    org,
    out,
):
    """Collect the evidence bundle (snapshot) from AWS, without judging it.

    With --org: every ACTIVE account of the organization; each account is saved to a
    checkpoint beside --out (OUT.checkpoint) as soon as it is done, so an interrupted scan
    continues with --resume."""
    from . import snapshot as snapshot_mod
    from .checkpoint import Checkpoint

    if out is None and (org is None or org.resume is None):
        raise click.UsageError("Missing option '--out'.")
    session = make_session(profile, region, endpoint_url)
    checkpoint = None
    if org is None:
        snap = run_collect(session, concurrency, collection)
    else:
        if out is None:
            out = Checkpoint.open(resolve_resume(org.resume)).target
            if out is None:
                raise click.UsageError(
                    f"--resume {org.resume}: the interrupted scan wrote no snapshot; give --out"
                )
        snap, checkpoint = run_org_collect(
            session, org, concurrency, collection, checkpoint=checkpoint_for(out), target=out
        )
    digest = snapshot_mod.write(snap, out)
    if checkpoint is not None:
        Checkpoint(checkpoint, {}).remove()
    gaps = [
        f"{a.account_id}/{name}: {res.status}"
        for a in snap.accounts
        for name, res in sorted(a.sources.items())
        if str(res.status) not in ("read", "skipped")
    ]
    click.echo(f"dormant: evidence saved to {out} (manifest sha256 {digest})", err=True)
    for gap in gaps:
        click.echo(f"dormant: warning: not fully read: {gap}", err=True)
    if org is not None:
        org_summary(snap)
        _name_unscanned(snap)


def _name_unscanned(snap: Any) -> None:
    """collect --org: name each account not fully scanned (collect does not judge, so the
    lines come from the evidence, as the judge reads it)."""
    from .judge import scan_status

    for a in sorted(snap.accounts, key=lambda a: a.account_id):
        status, gaps = scan_status(a)
        if status == "complete":
            continue
        name = f" ({a.account_name})" if a.account_name else ""
        label = "not scanned" if status == "not-scanned" else "incomplete"
        click.echo(f"dormant: account {a.account_id}{name} {label}: {'; '.join(gaps)}", err=True)


@main.command()
@click.argument("path", type=click.Path())
@click.option(
    "--as-of",
    help="Judge as of this time (default: when the evidence was "
    "collected; for a bare credential report, when it was generated).",
)
@click.option(
    "--generated-at",
    help="For a bare credential report CSV: when AWS generated it "
    "(default: from the file name when the console named it, else the latest time "
    "in the report).",
)
@judge_options
@history_options
@handle_errors
def analyze(
    path,
    as_of,
    generated_at,
    policy_path,
    threshold_days,
    cis,
    fmt,
    output,
    fail_on,
    history_path,
    no_history,
):
    """Judge a saved evidence bundle, or a credential report CSV, with no AWS access."""
    from .inputs import load_evidence
    from .judge import judge
    from .policy import load_policy

    policy = load_policy(policy_path, cis=cis, threshold_days=threshold_days)
    snap, default_as_of = load_evidence(path, generated_at=generated_at)
    when = parse_as_of(as_of) or default_as_of
    store = open_history(history_path, no_history)
    report = judge(snap, policy, when)
    record_and_render(store, report, "analyze", fmt, output)
    report_scan_gaps(report)
    sys.exit(exit_code_for(report, fail_on))


@main.command()
@click.argument("path", type=click.Path(), required=False)
@click.option(
    "--out",
    "out",
    default="dormant-recommendations",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where to write the recommended policy documents, commands.sh and recommendations.json.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False),
    help="Policy file (TOML): thresholds, exclusions, allow-list.",
)
@click.option("--threshold-days", type=int, help="One threshold in days for every finding type.")
@click.option("--as-of", help="Judge as of this time (default: when the evidence was collected).")
@click.option("--no-diff", is_flag=True, help="Do not print the diffs, only what changes.")
@aws_options
@collection_options
@handle_errors
def recommend(
    path,
    out,
    policy_path,
    threshold_days,
    as_of,
    no_diff,
    profile,
    region,
    endpoint_url,
    concurrency,
    collection,
):
    """Least-privilege policies: what each role and user uses, as documents and commands.

    PATH is an evidence bundle (directory or .zip); without it, dormant scans the account of the
    AWS options first. Nothing is applied: review the diffs, then run the commands you agree
    with."""
    from . import snapshot as snapshot_mod
    from .judge import least_privilege
    from .model import FindingType
    from .policy import load_policy
    from .sinks import recommend as sink
    from .timeutil import parse_time

    policy = load_policy(policy_path, threshold_days=threshold_days)
    if path:
        if not snapshot_mod.is_snapshot(path):
            raise InputError(
                f"{path}: not an evidence bundle; recommend needs one collected with Access "
                "Advisor (dormant collect --out DIR), or no PATH to scan now"
            )
        snap = snapshot_mod.read(path)
    else:
        session = make_session(profile, region, endpoint_url)
        snap = run_collect(session, concurrency, with_policy_trail(collection, policy))
    when = parse_as_of(as_of) or parse_time(snap.created_at)
    plans = least_privilege(snap, policy, when)
    if not plans:
        click.echo(
            "dormant: nothing to recommend: the evidence has no Access Advisor reports or no "
            "role or user with policies",
            err=True,
        )
    days = policy.threshold(FindingType.UNUSED_PERMISSION)
    written = sink.write(plans, Path(out), as_of=when, threshold_days=days)
    click.echo(sink.render_text(plans, written, diffs=not no_diff), nl=False)


@main.command()
@click.argument("path", type=click.Path())
@handle_errors
def verify(path):
    """Check an evidence bundle against its manifest and print its digest."""
    from . import snapshot as snapshot_mod

    snap = snapshot_mod.read(path)
    accounts = ", ".join(a.account_id for a in snap.accounts)
    click.echo(
        f"{path}: OK, manifest sha256 {snap.digest}; collected {snap.created_at} by dormant "
        f"{snap.tool_version}; accounts: {accounts}"
    )


def _history_for_reading(history_path: str | None):
    from .history import ENV_VAR

    store = open_history(history_path, False, create=False)
    if store is None:
        raise DormantError(
            f"history is off ({ENV_VAR}={os.environ.get(ENV_VAR, '')}); "
            "name a database with --history PATH"
        )
    return store


@main.command()
@click.option("--account", help="Only runs that covered this account.")
@click.option(
    "--limit", type=click.IntRange(1), default=20, show_default=True, help="Newest N runs."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@history_path_option
@handle_errors
def history(account, limit, fmt, history_path):
    """List the recorded runs of scan and analyze, newest first."""
    from .history import resolve_path
    from .sinks.formats.runs import render_runs

    path = resolve_path(history_path, False)
    if path is not None and not path.exists():
        runs = []  # nothing recorded yet: an empty list, and no database created for it
        click.echo(f"dormant: no history at {path} yet", err=True)
    else:
        with _history_for_reading(history_path) as store:
            runs = store.runs(account=account, limit=limit)
    emit(render_runs(runs, fmt, width=terminal_width("table", None)), None)


@main.command()
@click.argument("run_a", type=int, required=False)
@click.argument("run_b", type=int, required=False)
@click.option("--account", help="Compare this account only.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@history_path_option
@handle_errors
def diff(run_a, run_b, account, fmt, history_path):
    """New, resolved and recurring findings between two runs.

    With no run: the last two runs of the same account. With RUN_A only: RUN_A against the
    latest run of its accounts. Run ids are those `dormant history` lists.
    """
    from .sinks.formats.runs import render_diff

    with _history_for_reading(history_path) as store:
        result = store.diff(run_a, run_b, account=account)
    emit(render_diff(result, fmt, width=terminal_width("table", None)), None)


@main.command()
@click.option(
    "--out",
    "out",
    default="dormant-demo",
    show_default=True,
    type=click.Path(),
    help="Where to write the demo's evidence bundle and reports.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMAT_NAMES),
    default="table",
    show_default=True,
)
@click.option(
    "--org",
    is_flag=True,
    help="Make the company's account the management account of an emulated organization of "
    "four more accounts (one denied a call, one unreachable) and scan them all with --org.",
)
@handle_errors
def demo(out, fmt, org):
    """Scan an emulated AWS account of a fictional company, end to end, on 127.0.0.1."""
    try:
        from .demo import RECOMMENDATIONS, run_demo
    except ImportError as exc:
        raise DormantError(
            f"the demo needs the emulator: pip install 'dormant[demo]' ({exc})"
        ) from None
    result = run_demo(Path(out), clock=now, progress_enabled=sys.stderr.isatty(), org=org)
    render_report(result.report, fmt, None)
    click.echo(
        f"\ndormant: demo evidence in {out}/snapshot (try: dormant analyze {out}/snapshot "
        f"--format json); reports in {out}/",
        err=True,
    )
    click.echo(
        f"dormant: least-privilege policies for {result.principals} principal(s) "
        f"({result.policy_changes} policy change(s)) written to {result.recommendations}/ "
        f"(commands.sh, recommendations.json; try: dormant recommend {out}/snapshot --out "
        f"{out}/{RECOMMENDATIONS})",
        err=True,
    )
    click.echo(f"dormant: HTML audit report: {Path(out) / 'report.html'}", err=True)


@main.group("lambda")
def lambda_group() -> None:
    """The scheduled scan on AWS Lambda: build its zip, deploy its stack."""


@lambda_group.command("package")
@click.option(
    "--out",
    default="dormant-lambda.zip",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the deployment zip.",
)
@click.option(
    "--arch",
    type=click.Choice(["x86_64", "arm64"]),
    default="x86_64",
    show_default=True,
    help="The function's architecture (the template's Architecture parameter).",
)
@click.option(
    "--python-version",
    default="3.12",
    show_default=True,
    help="The Lambda runtime's Python version, for the dependencies' wheels.",
)
@handle_errors
def lambda_package(out, arch, python_version):
    """Build the deployment zip reproducibly (needs pip and the package index)."""
    from .automation.package import HANDLER, build

    click.echo(f"dormant: building {out} for Lambda ({arch}, Python {python_version})", err=True)
    pkg = build(Path(out), arch=arch, python_version=python_version)
    click.echo(f"dormant: packaged {', '.join(pkg.dependencies)}", err=True)
    click.echo(
        f"dormant: {pkg.files} files, {pkg.size / 1_000_000:.1f} MB; handler {HANDLER}", err=True
    )
    click.echo(f"{pkg.sha256}  {out}")


@lambda_group.command("deploy")
@click.option("--stack-name", required=True, help="The CloudFormation stack to create or update.")
@click.option(
    "--bucket-for-code",
    required=True,
    help="An existing S3 bucket, in the stack's Region, to upload the zip to.",
)
@click.option(
    "--zip",
    "zip_path",
    default="dormant-lambda.zip",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The zip built by 'dormant lambda package'.",
)
@click.option(
    "--parameter",
    "parameters",
    multiple=True,
    metavar="KEY=VALUE",
    help="A template parameter (repeatable), e.g. NotificationEmail=you@example.com.",
)
@click.option(
    "--template",
    "template_path",
    type=click.Path(dir_okay=False),
    help="Another template (default: the one shipped with dormant, deploy/template.yaml).",
)
@click.option("--profile", help="AWS profile (default: AWS_PROFILE).")
@click.option("--region", help="The stack's Region (default: the profile's).")
@click.option("--endpoint-url", help="Send every AWS call here, e.g. an emulator.")
@handle_errors
def lambda_deploy(
    stack_name, bucket_for_code, zip_path, parameters, template_path, profile, region, endpoint_url
):
    """Upload the zip and create or update the stack; print its outputs."""
    from .automation.deploy import deploy, parse_parameters

    template = None
    if template_path:
        try:
            template = Path(template_path).read_text(encoding="utf-8")
        except OSError as exc:
            raise DormantError(
                f"{template_path}: cannot read the template ({exc.strerror})"
            ) from None
    session = make_session(profile, region, endpoint_url)
    result = deploy(
        session,
        stack_name=stack_name,
        code_bucket=bucket_for_code,
        zip_path=Path(zip_path),
        parameters=parse_parameters(parameters),
        template=template,
        echo=lambda line: click.echo(f"dormant: {line}", err=True),
    )
    click.echo(f"dormant: stack {result.stack_name} {result.action} ({result.status})", err=True)
    for key, value in sorted(result.outputs.items()):
        click.echo(f"{key}\t{value}")


@main.group("remediate")
def remediate_group() -> None:
    """Retire unused access safely: plan, review, apply with a journal, roll back.

    Nothing changes without `apply --apply`; every change is journaled before it is made.
    """


def basic_aws_options(fn: Callable) -> Callable:
    for opt in reversed(
        [
            click.option("--profile", help="AWS profile (default: AWS_PROFILE)."),
            click.option("--region", help="AWS region for the API calls (IAM is global)."),
            click.option(
                "--endpoint-url",
                help="Send every AWS call here (default: AWS_ENDPOINT_URL), e.g. an emulator.",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


@remediate_group.command("plan")
@click.argument("input_path", metavar="FINDINGS.json|SNAPSHOT", type=click.Path())
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write the plan (JSON) here; without it the JSON goes to standard output.",
)
@click.option(
    "--snapshot",
    "snapshot_path",
    type=click.Path(),
    help="For a JSON report: the evidence bundle it was judged from (needed for role deletions, "
    "key deletions and permission changes).",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False),
    help="Policy file: thresholds, exclusions, allow-list and the [remediation] settings.",
)
@click.option("--threshold-days", type=int, help="One threshold for every type (a snapshot).")
@click.option("--cis", is_flag=True, help="CIS preset (when judging a snapshot).")
@click.option("--as-of", help="Judge a snapshot as of this time (default: its collection time).")
@handle_errors
def remediate_plan(input_path, output, snapshot_path, policy_path, threshold_days, cis, as_of):
    """Make a remediation plan: one step per finding, as the exact AWS API calls. Offline."""
    import json as json_mod

    from .policy import load_policy
    from .sinks.remediate.commands import make_plan
    from .sinks.remediate.render import plan_text

    policy = load_policy(policy_path, cis=cis, threshold_days=threshold_days)
    plan = make_plan(
        input_path,
        snapshot_path=snapshot_path,
        policy=policy,
        as_of=parse_as_of(as_of),
        created_at=now(),
    )
    if output:
        emit(plan.dumps(), output)
        click.echo(plan_text(plan, width=terminal_width("table", None)), nl=False)
        click.echo(
            f"dormant: plan written to {output}; review it, then: dormant remediate apply {output}",
            err=True,
        )
    else:
        click.echo(json_mod.dumps(plan.to_json(), indent=1, ensure_ascii=False))
        click.echo(
            f"dormant: {len(plan.steps)} step(s), {len(plan.no_step)} without a step", err=True
        )


@remediate_group.command("show")
@click.argument("path", metavar="PLAN.json|JOURNAL", type=click.Path())
@handle_errors
def remediate_show(path):
    """Print a plan (every call it would make) or a journal (every step and call made)."""
    from .sinks.remediate.commands import load_plan_or_journal
    from .sinks.remediate.render import journal_text, plan_text

    kind, obj = load_plan_or_journal(path)
    width = terminal_width("table", None)
    if kind == "plan":
        click.echo(plan_text(obj, width=width), nl=False)
    else:
        try:
            click.echo(journal_text(obj, width=width), nl=False)
        finally:
            obj.close()


@remediate_group.command("apply")
@click.argument("plan_path", metavar="PLAN.json", type=click.Path(dir_okay=False))
@click.option("--apply", "do_apply", is_flag=True, help="Make the calls (default: a dry run).")
@click.option("--resume", is_flag=True, help="Continue the journal of an interrupted run.")
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False),
    help="The journal (default: next to the plan, PLAN.journal.sqlite).",
)
@click.option(
    "--max-actions", type=click.IntRange(min=1), help="Change at most this many steps now."
)
@click.option(
    "--allow-irreversible",
    is_flag=True,
    help="Also apply the steps rollback cannot undo (deleting passwords and keys).",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False),
    help="The current policy file: excluded and allow-listed principals are never touched "
    "(default: the file the plan was made with).",
)
@click.option(
    "--advisor-timeout",
    type=click.FloatRange(min=1),
    default=120,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the Access Advisor job re-checking a permission step.",
)
@basic_aws_options
@handle_errors
def remediate_apply(
    plan_path,
    do_apply,
    resume,
    journal_path,
    max_actions,
    allow_irreversible,
    policy_path,
    advisor_timeout,
    profile,
    region,
    endpoint_url,
):
    """Apply a plan: a dry run by default; with --apply, journal each step, then make it.

    Before each step it checks again that the principal is not excluded or allow-listed, that
    nothing changed since the plan, and that the credential or permission was not used since
    the plan's evidence; otherwise the step is skipped (or refused), with the reason.
    """
    from .sinks.remediate.apply import Options
    from .sinks.remediate.commands import apply_plan, summary_line

    session = make_session(profile, region, endpoint_url)
    result, jpath = apply_plan(
        session,
        plan_path,
        journal_path=journal_path,
        policy_path=policy_path,
        options=Options(
            apply=do_apply,
            resume=resume,
            allow_irreversible=allow_irreversible,
            max_actions=max_actions,
            advisor_timeout=advisor_timeout,
        ),
        clock=now,
        echo=click.echo,
        warn=lambda line: click.echo(line, err=True),
    )
    click.echo(summary_line(result, dry_run=not do_apply))
    if do_apply:
        click.echo(f"dormant: journal {jpath} (undo with: dormant remediate rollback {jpath})")
    sys.exit(EXIT_OK if result.ok else EXIT_FINDINGS)


@remediate_group.command("rollback")
@click.argument("journal_path", metavar="JOURNAL", type=click.Path(dir_okay=False))
@click.option("--step", "step", type=int, help="Undo only this step.")
@click.option("--force", is_flag=True, help="Undo even where the state changed since apply.")
@click.option("--apply", "do_apply", is_flag=True, help="Make the calls (default: a dry run).")
@basic_aws_options
@handle_errors
def remediate_rollback(journal_path, step, force, do_apply, profile, region, endpoint_url):
    """Undo what apply did, newest step first, from its journal (a dry run by default).

    A step is refused where its state changed since apply (someone reactivated the key,
    edited the policy), unless --force. Deleted keys and passwords cannot be restored.
    """
    from .sinks.remediate.commands import rollback_journal, summary_line
    from .sinks.remediate.rollback import RollbackOptions

    session = make_session(profile, region, endpoint_url)
    result = rollback_journal(
        session,
        journal_path,
        options=RollbackOptions(apply=do_apply, force=force, step=step),
        clock=now,
        echo=click.echo,
    )
    click.echo(summary_line(result, dry_run=not do_apply, verb="rollback"))
    sys.exit(EXIT_OK if result.ok else EXIT_FINDINGS)


def _mount_optional() -> None:
    """Subcommands whose dependencies are optional extras register themselves here (they
    import their heavy dependencies only when run)."""
    from .org_cli import org
    from .trail.cli import trail

    main.add_command(trail)
    main.add_command(org)


_mount_optional()


if __name__ == "__main__":  # pragma: no cover
    main()
