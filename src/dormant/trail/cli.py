"""``dormant trail``: scan CloudTrail for evidence, query it with SQL, set up Athena.

Mounted on the main CLI as ``dormant trail``. Exit codes, as the rest of dormant: 0 done (with a
warning on stderr when some input could not be read), 2 on an error: with ``--strict`` when any
input could not be read, a usage error, or the command itself failed (one line on stderr; the
traceback with ``--debug``).
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import click

EXIT_FAILED = 2
EXIT_INCOMPLETE = 2
MAX_ERROR_LINES = 10


def _aws_options(fn):
    for option in reversed(
        [
            click.option("--profile", help="AWS profile for S3, LookupEvents and Athena."),
            click.option("--endpoint-url", help="AWS endpoint (an emulator, a VPC endpoint)."),
            click.option("--aws-region", help="AWS region of the clients."),
        ]
    ):
        fn = option(fn)
    return fn


def _time_option(ctx, param, value):
    if value is None:
        return None
    from .api import parse_time

    try:
        parse_time(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (2026-01-31) or an ISO-8601 time (2026-01-31T12:00:00Z)"
        ) from None
    return value


def _filter_options(fn):
    for option in reversed(
        [
            click.option(
                "--account", "accounts", multiple=True, help="Keep this account (repeatable)."
            ),
            click.option(
                "--region", "regions", multiple=True, help="Keep this region (repeatable)."
            ),
            click.option(
                "--start",
                callback=_time_option,
                help="First time kept: a date or ISO-8601 time (UTC).",
            ),
            click.option(
                "--end",
                callback=_time_option,
                help="End, exclusive (a date includes that whole day).",
            ),
        ]
    ):
        fn = option(fn)
    return fn


def _guard(fn):
    """One clear line for a failure, the traceback only with --debug."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        debug = kwargs.get("debug", False)
        try:
            return fn(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the CLI's single place for failures
            if debug:
                raise
            click.echo(f"error: {_one_line(exc)}", err=True)
            sys.exit(EXIT_FAILED)

    return wrapper


def _one_line(exc: BaseException) -> str:
    from ..sources.aws import error_message

    return error_message(exc)


def _session(profile, endpoint_url, aws_region):
    from ..sources.aws import build_session

    return build_session(profile=profile, region=aws_region, endpoint_url=endpoint_url)


trail = click.Group("trail", help="CloudTrail evidence: who used which credential and action.")


@trail.command("scan", short_help="Read CloudTrail and print the evidence.")
@click.argument("sources", nargs=-1)
@_filter_options
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="json")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Write here.")
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: every core).")
@click.option("--strict", is_flag=True, help="Exit 2 if any file or record could not be used.")
@click.option(
    "--engine",
    type=click.Choice(["local", "duckdb", "athena"]),
    default="local",
    show_default=True,
)
@click.option("--database", help="Athena: the Glue database of the CloudTrail table.")
@click.option("--table", default="cloudtrail", show_default=True, help="Athena: the table.")
@click.option("--workgroup", help="Athena: the workgroup.")
@click.option("--output-location", help="Athena: s3:// for query results.")
@_aws_options
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@_guard
def scan_cmd(
    sources,
    accounts,
    regions,
    start,
    end,
    fmt,
    output,
    workers,
    strict,
    engine,
    database,
    table,
    workgroup,
    output_location,
    profile,
    endpoint_url,
    aws_region,
    debug,
):
    """Read CloudTrail from SOURCE... (local files or folders, s3://bucket/prefix,
    lookup-events) and print the evidence."""
    from .api import LOOKUP_EVENTS, iter_units, make_filters, resolve_sources

    filters, prune = make_filters(accounts, regions, start, end)
    if engine == "athena":
        if not database:
            raise click.UsageError("--engine athena needs --database")
        from .athena import AthenaEngine

        session = _session(profile, endpoint_url, aws_region)
        athena = AthenaEngine(
            client=session.client("athena"),
            database=database,
            table=table,
            workgroup=workgroup,
            output_location=output_location,
        )
        evidence = athena.aggregate(filters).evidence()
    else:
        if not sources:
            raise click.UsageError("name at least one SOURCE (a path, s3://..., lookup-events)")
        _check_paths(sources)
        session = None
        if any(s.startswith("s3://") or s == LOOKUP_EVENTS for s in sources):
            session = _session(profile, endpoint_url, aws_region)
        resolved = resolve_sources(sources, session=session, regions=regions)
        units = iter_units(resolved, prune)
        if engine == "duckdb":
            from . import duck

            evidence = duck.run(units, filters).evidence()
        else:
            from . import engine as local

            evidence = local.run(units, filters, workers).evidence()
    if output:
        with open(output, "wb") as fh:
            _write(evidence, fmt, fh)
    else:
        sys.stdout.flush()
        _write(evidence, fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    _warn(evidence.errors, evidence.errors_total, evidence.events_skipped)
    if strict and evidence.errors_total:
        sys.exit(EXIT_INCOMPLETE)


def _write(evidence, fmt: str, fh) -> None:
    if fmt == "json":
        evidence.write_json(fh)
    else:
        fh.write(render_table(evidence).encode())


def _check_paths(sources) -> None:
    import os

    from .api import LOOKUP_EVENTS

    for s in sources:
        if not s.startswith("s3://") and s != LOOKUP_EVENTS and not os.path.exists(s):
            raise click.BadParameter(f"no such file or folder: {s}", param_hint="SOURCE")


def _warn(errors, total: int, skipped: int) -> None:
    if not total:
        return
    click.echo(
        f"warning: {total} problem(s) reading CloudTrail, {skipped} event(s) skipped; "
        "the evidence is built from the rest",
        err=True,
    )
    for e in errors[:MAX_ERROR_LINES]:
        where = e.file if e.record is None else f"{e.file}: record {e.record}"
        click.echo(f"  {where}: {e.message}", err=True)
    if total > MAX_ERROR_LINES:
        click.echo(f"  ... and {total - MAX_ERROR_LINES} more (see 'errors' in the JSON)", err=True)


def render_table(evidence) -> str:
    """A plain-text summary for people."""
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    buf = StringIO()
    con = Console(file=buf, width=160, color_system=None)
    tr = evidence.time_range
    con.print(
        f"events read {evidence.events_read}, skipped {evidence.events_skipped}, "
        f"filtered {evidence.events_filtered}, files {evidence.files_read}, "
        f"from {tr.start or '-'} to {tr.end or '-'}"
    )
    t = Table(title="Role assumptions")
    for col in ("role", "last assumed", "count", "callers"):
        t.add_column(col)
    for r in evidence.role_assumptions:
        t.add_row(r.role_arn, r.last_assumed, str(r.count), str(len(r.callers)))
    con.print(t)
    t = Table(title="Principal activity")
    for col in ("principal", "last seen", "events", "actions"):
        t.add_column(col)
    for p in evidence.principal_activity:
        t.add_row(p.principal_arn, p.last_seen, str(p.count), str(len(p.actions)))
    con.print(t)
    t = Table(title="Long-term access keys")
    for col in ("key", "principal", "last seen", "events"):
        t.add_column(col)
    for k in evidence.access_keys:
        t.add_row(k.access_key_id, k.principal_arn, k.last_seen, str(k.count))
    con.print(t)
    t = Table(title="Console sign-ins")
    for col in ("user", "last seen", "count"):
        t.add_column(col)
    for c in evidence.console_logins:
        t.add_row(c.user_arn, c.last_seen, str(c.count))
    con.print(t)
    return buf.getvalue()


@trail.command("sql", short_help="Query CloudTrail events with SQL (DuckDB).")
@click.argument("sources", nargs=-1, required=True)
@click.option("--query", "-q", required=True, help="SQL over the views 'events' and 'cloudtrail'.")
@_filter_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.option("--strict", is_flag=True, help="Exit 2 if any file could not be read.")
@_aws_options
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@_guard
def sql_cmd(
    sources,
    query,
    accounts,
    regions,
    start,
    end,
    fmt,
    strict,
    profile,
    endpoint_url,
    aws_region,
    debug,
):
    """Load SOURCE... into DuckDB and run a query: the view 'events' has one normalised row per
    event; 'cloudtrail' has the raw columns of Athena's CloudTrail table."""
    import tempfile

    from . import duck
    from .api import LOOKUP_EVENTS, iter_units, make_filters, resolve_sources

    filters, prune = make_filters(accounts, regions, start, end)
    _check_paths(sources)
    session = None
    if any(s.startswith("s3://") or s == LOOKUP_EVENTS for s in sources):
        session = _session(profile, endpoint_url, aws_region)
    resolved = resolve_sources(sources, session=session, regions=regions)
    with tempfile.TemporaryDirectory(prefix="dormant-sql-") as workdir:
        con = duck.connect(workdir)
        try:
            loaded = duck.load(con, iter_units(resolved, prune), workdir, filters)
            cur = con.execute(query)
            cols = [d[0] for d in cur.description or ()]
            rows = cur.fetchall()
        finally:
            con.close()
    click.echo(_render_rows(cols, rows, fmt), nl=False)
    from .evidence import TrailError

    errors = [TrailError(f, r, m) for f, r, m in sorted(loaded.errors, key=lambda e: e[0])]
    _warn(errors, loaded.errors_total, 0)
    if strict and loaded.errors_total:
        sys.exit(EXIT_INCOMPLETE)


def _render_rows(cols: list[str], rows: list[tuple], fmt: str) -> str:
    import csv
    import io
    import json

    def plain(v: Any):
        return v.isoformat().replace("+00:00", "Z") if hasattr(v, "isoformat") else v

    if fmt == "json":
        data = [{c: plain(v) for c, v in zip(cols, r, strict=True)} for r in rows]
        return json.dumps(data, indent=2, default=str) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(cols)
        w.writerows([[plain(v) for v in r] for r in rows])
        return out.getvalue()
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    table = Table()
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*("" if v is None else str(plain(v)) for v in r))
    Console(file=buf, width=200, color_system=None).print(table)
    return buf.getvalue()


@trail.command("athena-setup", short_help="The Athena table of a trail, with projection.")
@click.option("--bucket", required=True, help="The trail's S3 bucket.")
@click.option("--prefix", default="", help="The trail's key prefix (before AWSLogs/).")
@click.option("--org-id", help="The organization id (o-...) of an organization trail.")
@click.option("--account", "accounts", multiple=True, required=True, help="Account (repeatable).")
@click.option("--region", "regions", multiple=True, help="Region (repeatable; default: all).")
@click.option("--start", default="2020-01-01", show_default=True, help="First projected day.")
@click.option("--database", default="default", show_default=True, help="Glue database.")
@click.option("--table", default="cloudtrail", show_default=True, help="Table name.")
@click.option("--run", "run_it", is_flag=True, help="Run the DDL in Athena (default: print it).")
@click.option("--workgroup", help="Athena workgroup (with --run).")
@click.option("--output-location", help="s3:// for query results (with --run).")
@_aws_options
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@_guard
def athena_setup_cmd(
    bucket,
    prefix,
    org_id,
    accounts,
    regions,
    start,
    database,
    table,
    run_it,
    workgroup,
    output_location,
    profile,
    endpoint_url,
    aws_region,
    debug,
):
    """Print (or --run) the CREATE TABLE of the trail's CloudTrail table for Athena, with
    partition projection on account, region and day."""
    import datetime as dt

    from .athena import AthenaEngine, create_table_ddl

    try:
        ddl = create_table_ddl(
            bucket=bucket,
            prefix=prefix,
            org_id=org_id,
            accounts=list(accounts),
            regions=list(regions) or None,
            table=table,
            database=database,
            start=dt.date.fromisoformat(start),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not run_it:
        click.echo(ddl + ";")
        return
    session = _session(profile, endpoint_url, aws_region)
    engine = AthenaEngine(
        client=session.client("athena"),
        database=database,
        table=table,
        workgroup=workgroup,
        output_location=output_location,
    )
    qid = engine.execute(ddl)
    click.echo(f"created {database}.{table} (query {qid})")
