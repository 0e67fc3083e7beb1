"""The command line. Thin: parse options, build a session, call sources, save the snapshot,
judge, hand the report to a format. Exit codes: 0 nothing found, 1 a finding reached
``--fail-on``, 2 an error."""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import DormantError, InputError
from .model import FindingType, Report, Verdict
from .timeutil import UTC, parse_time

FORMAT_NAMES = ["table", "json", "csv", "markdown"]
"""Every format of sinks/formats, in the order --help lists them."""

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


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
        ]
    ):
        fn = opt(fn)
    return fn


def collect_settings(
    access_advisor: bool, job_timeout: float, with_entities: bool, access_analyzer: bool
) -> dict[str, Any]:
    """The ``options`` of :func:`dormant.collect.collect_account` from the CLI flags."""
    return {
        "access_advisor": access_advisor,
        "job_timeout": job_timeout,
        "with_entities": with_entities,
        "access_analyzer": access_analyzer,
    }


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
                "'UnusedIAMUserAccessKey,insufficient-evidence').",
                callback=lambda c, p, v: parse_fail_on(v),
            ),
        ]
    ):
        fn = opt(fn)
    return fn


def parse_fail_on(value: str) -> tuple[set[str], set[str], bool]:
    """(types, verdicts, never) from the --fail-on text."""
    types: set[str] = set()
    verdicts: set[str] = set()
    items = [v.strip() for v in value.split(",") if v.strip()]
    if items == ["none"]:
        return types, verdicts, True
    valid_types = {str(t) for t in FindingType}
    valid_verdicts = {str(v) for v in Verdict}
    for item in items:
        if item == "any":
            continue
        if item in valid_types:
            types.add(item)
        elif item in valid_verdicts:
            verdicts.add(item)
        else:
            raise click.BadParameter(
                f"{item!r} is not 'any', 'none', a finding type ({', '.join(sorted(valid_types))})"
                f" or a verdict ({', '.join(sorted(valid_verdicts))})"
            )
    return types, verdicts, False


def exit_code_for(report: Report, fail_on: tuple[set[str], set[str], bool]) -> int:
    types, verdicts, never = fail_on
    if never:
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


def handle_errors(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        debug = bool(ctx.find_root().params.get("debug"))
        try:
            return fn(*args, **kwargs)
        except DormantError as exc:
            if debug:
                traceback.print_exc()
            click.echo(f"dormant: error: {exc}", err=True)
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("dormant: interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, exit 2
            if debug:
                traceback.print_exc()
            first = str(exc).splitlines()[0] if str(exc) else ""
            click.echo(
                f"dormant: error: {type(exc).__name__}: {first} (run with --debug for details)",
                err=True,
            )
            ctx.exit(EXIT_ERROR)

    return wrapper


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


def render_report(report: Report, fmt: str, output: str | None) -> None:
    from .sinks.formats import render

    color = fmt == "table" and output is None and sys.stdout.isatty()
    width = 160
    if fmt == "table" and output is None and sys.stdout.isatty():
        import shutil

        width = max(100, shutil.get_terminal_size((160, 40)).columns)
    emit(render(report, fmt, color=color, width=width), output)


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


# ---------------------------------------------------------------------------- commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dormant")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def main(debug: bool) -> None:
    """Find AWS IAM credentials and permissions nobody uses, with the evidence."""


@main.command()
@aws_options
@collection_options
@judge_options
@click.option(
    "--snapshot",
    "snapshot_out",
    type=click.Path(),
    help="Also save the evidence bundle here (a directory, or a .zip file).",
)
@handle_errors
def scan(
    profile,
    region,
    endpoint_url,
    concurrency,
    access_advisor,
    job_timeout,
    with_entities,
    access_analyzer,
    policy_path,
    threshold_days,
    cis,
    fmt,
    output,
    fail_on,
    snapshot_out,
):
    """Collect the evidence from AWS and judge it (collect + analyze)."""
    from . import pipeline
    from . import snapshot as snapshot_mod
    from .policy import load_policy

    policy = load_policy(policy_path, cis=cis, threshold_days=threshold_days)
    session = make_session(profile, region, endpoint_url)
    options = collect_settings(access_advisor, job_timeout, with_entities, access_analyzer)
    snap = run_collect(session, concurrency, options)
    if snapshot_out:
        snapshot_mod.write(snap, snapshot_out)
        click.echo(f"dormant: evidence saved to {snapshot_out}", err=True)
    report = pipeline.judge_snapshot(snap, policy)
    render_report(report, fmt, output)
    sys.exit(exit_code_for(report, fail_on))


@main.command()
@aws_options
@collection_options
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(),
    help="Where to write the evidence bundle: a directory, or a file ending in .zip.",
)
@handle_errors
def collect(
    profile,
    region,
    endpoint_url,
    concurrency,
    access_advisor,
    job_timeout,
    with_entities,
    access_analyzer,
    out,
):
    """Collect the evidence bundle (snapshot) from AWS, without judging it."""
    from . import snapshot as snapshot_mod

    session = make_session(profile, region, endpoint_url)
    options = collect_settings(access_advisor, job_timeout, with_entities, access_analyzer)
    snap = run_collect(session, concurrency, options)
    digest = snapshot_mod.write(snap, out)
    gaps = [
        f"{a.account_id}/{name}: {res.status}"
        for a in snap.accounts
        for name, res in sorted(a.sources.items())
        if str(res.status) not in ("read", "skipped")
    ]
    click.echo(f"dormant: evidence saved to {out} (manifest sha256 {digest})", err=True)
    for gap in gaps:
        click.echo(f"dormant: warning: not fully read: {gap}", err=True)


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
@handle_errors
def analyze(path, as_of, generated_at, policy_path, threshold_days, cis, fmt, output, fail_on):
    """Judge a saved evidence bundle, or a credential report CSV, with no AWS access."""
    from .inputs import load_evidence
    from .judge import judge
    from .policy import load_policy

    policy = load_policy(policy_path, cis=cis, threshold_days=threshold_days)
    snap, default_as_of = load_evidence(path, generated_at=generated_at)
    when = parse_as_of(as_of) or default_as_of
    report = judge(snap, policy, when)
    render_report(report, fmt, output)
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
    access_advisor,
    job_timeout,
    with_entities,
    access_analyzer,
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
        options = collect_settings(access_advisor, job_timeout, with_entities, access_analyzer)
        snap = run_collect(session, concurrency, options)
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
@handle_errors
def demo(out, fmt):
    """Scan an emulated AWS account of a fictional company, end to end, on 127.0.0.1."""
    try:
        from .demo import RECOMMENDATIONS, run_demo
    except ImportError as exc:
        raise DormantError(
            f"the demo needs the emulator: pip install 'dormant[demo]' ({exc})"
        ) from None
    result = run_demo(Path(out), clock=now, progress_enabled=sys.stderr.isatty())
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


def _mount_optional() -> None:
    """Subcommands whose dependencies are optional extras register themselves here."""


_mount_optional()


if __name__ == "__main__":  # pragma: no cover
    main()
