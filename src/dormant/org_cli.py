"""``dormant org``: organization-wide commands. ``dormant org access-report`` asks IAM's
organization-level Access Advisor which services a root, OU or account has not used, and
suggests an SCP that denies them (a suggestion to review).

Mounted on the main CLI by ``cli._mount_optional``. Exit codes, as ``dormant scan``: 0 nothing
unused (or ``--fail-on none``), 1 an unused service (or what ``--fail-on`` names) was found,
2 an error (one line on stderr; the traceback with ``--debug``). An entity whose report failed
or timed out is reported, named on stderr, and never counted as unused; when no entity's report
completed at all the command exits 2, after writing what it has.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from .cli_errors import EXIT_FINDINGS, EXIT_OK, handle_errors

FAIL_ON_VERDICTS = ("unused", "never-used", "insufficient-evidence")
EVIDENCE_KIND = "org-access-evidence"


_guard = handle_errors


def _fail_on(ctx: click.Context, param: click.Parameter, value: str) -> frozenset[str] | None:
    """None for 'none'; else the verdicts that make the exit code 1."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    if items == ["none"]:
        return None
    out: set[str] = set()
    for item in items:
        if item == "any":
            out |= {"unused", "never-used"}
        elif item in FAIL_ON_VERDICTS:
            out.add(item)
        else:
            raise click.BadParameter(
                f"{item!r} is not 'any', 'none' or a verdict ({', '.join(FAIL_ON_VERDICTS)})"
            )
    return frozenset(out)


def _write(text: str, output: str | None) -> None:
    from .errors import DormantError

    if not output:
        click.echo(text, nl=False)
        return
    path = Path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise DormantError(f"{output}: cannot write ({exc.strerror})") from None


@click.group("org")
def org() -> None:
    """Organization-wide commands (AWS Organizations, from the management account)."""


@org.command("access-report")
@click.option("--root", is_flag=True, help="Report on the organization's root (the default).")
@click.option("--ou", "ous", multiple=True, metavar="OU_ID", help="Report on this OU (repeatable).")
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="ACCOUNT_ID",
    help="Report on this account (repeatable).",
)
@click.option(
    "--entity-path",
    "paths",
    multiple=True,
    metavar="PATH",
    help="Report on this entity path as is, o-.../r-...[/ou-...][/ACCOUNT_ID] (repeatable).",
)
@click.option(
    "--policy-id",
    metavar="p-xxxxxxxx",
    help="Report on what this SCP allows (in the accounts it applies to under each entity).",
)
@click.option(
    "--threshold-days",
    type=click.IntRange(min=1),
    help="A service not attempted for this many days is unused (default: the policy file's "
    "UnusedPermission threshold, else 90).",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False),
    help="Policy file (TOML): its UnusedPermission (or default) threshold applies.",
)
@click.option(
    "--job-timeout",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    metavar="SECONDS",
    help="Give up a report still in progress after this long; that entity gets no verdict.",
)
@click.option(
    "--max-items",
    type=click.IntRange(1, 1000),
    help="Services per page of GetOrganizationsAccessReport (AWS's default: 100).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "markdown", "csv"]),
    default="table",
    show_default=True,
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the report here.")
@click.option(
    "--evidence",
    "evidence_out",
    type=click.Path(dir_okay=False),
    help="Also save the raw answers (organization, entities, every report page) as JSON, to "
    "judge again later with --from-evidence.",
)
@click.option(
    "--from-evidence",
    "evidence_in",
    type=click.Path(dir_okay=False, exists=True),
    help="Judge saved evidence instead of asking AWS (no AWS access).",
)
@click.option(
    "--as-of",
    metavar="ISO",
    help="Evaluation time (default: now; with --from-evidence, the time it was saved).",
)
@click.option(
    "--fail-on",
    default="any",
    show_default=True,
    callback=_fail_on,
    help="Exit 1 when a service has one of these verdicts: 'any' (unused, never-used), 'none', "
    "or a comma list of unused, never-used, insufficient-evidence.",
)
@click.option("--profile", help="AWS profile of the management account (default: AWS_PROFILE).")
@click.option("--region", help="AWS region for the API calls (IAM is global).")
@click.option("--endpoint-url", help="Send every AWS call here (default: AWS_ENDPOINT_URL).")
@_guard
def access_report(
    root: bool,
    ous: tuple[str, ...],
    accounts: tuple[str, ...],
    paths: tuple[str, ...],
    policy_id: str | None,
    threshold_days: int | None,
    policy_path: str | None,
    job_timeout: float,
    max_items: int | None,
    fmt: str,
    output: str | None,
    evidence_out: str | None,
    evidence_in: str | None,
    as_of: str | None,
    fail_on: frozenset[str] | None,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
) -> None:
    """Which services an organization root, OU or account has not used, from IAM's
    organization-level Access Advisor (GenerateOrganizationsAccessReport), with a suggested SCP
    Deny of them to review. Run it with credentials of the organization's management account."""
    from . import __version__
    from .errors import InputError
    from .judge.org_access import judge
    from .model import FindingType
    from .policy import DEFAULT_THRESHOLD_DAYS, load_policy
    from .sinks.formats.org_access import render
    from .sources import org_access as source
    from .timeutil import parse_time

    # Everything that can be wrong with the input is checked before any AWS call.
    if policy_path is not None:
        threshold = load_policy(policy_path).threshold(FindingType.UNUSED_PERMISSION)
    else:
        threshold = DEFAULT_THRESHOLD_DAYS
    if threshold_days is not None:
        threshold = threshold_days
    when = None
    if as_of is not None:
        try:
            when = parse_time(as_of)
        except ValueError as exc:
            raise InputError(
                f"--as-of: {exc}; expected ISO-8601 such as 2026-01-31T00:00:00Z"
            ) from None
    if evidence_in:
        if ous or accounts or paths or root or policy_id:
            raise InputError(
                "--from-evidence judges the saved entities: do not combine it with --root, "
                "--ou, --account, --entity-path or --policy-id"
            )
        evidence = _read_evidence(evidence_in)
        when = when or parse_time(evidence["collected_at"])
    else:
        evidence = _collect(
            source,
            profile=profile,
            region=region,
            endpoint_url=endpoint_url,
            root=root,
            ous=ous,
            accounts=accounts,
            paths=paths,
            policy_id=policy_id,
            job_timeout=job_timeout,
            max_items=max_items,
        )
        if evidence_out:
            _write(json.dumps(evidence, indent=2, sort_keys=True) + "\n", evidence_out)
        when = when or parse_time(evidence["collected_at"])
    try:
        organization = source.Organization.from_json(evidence["organization"])
        entities = [source.Entity.from_json(e) for e in evidence["entities"]]
        policy = source.PolicyInfo.from_json(evidence["policy"]) if evidence["policy"] else None
        reports = source.parse(evidence["source"]["raw"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        where = evidence_in or "the collected evidence"
        raise InputError(f"{where}: malformed evidence ({type(exc).__name__}: {exc})") from None
    result = judge(
        organization,
        entities,
        reports,
        threshold_days=threshold,
        as_of=when,
        policy=policy,
        warnings=tuple(evidence.get("warnings") or ()),
        tool_version=__version__,
    )
    _write(render(result, fmt), output)
    for e in result.incomplete:
        detail = f"{e.error.code}: {e.error.message}" if e.error else e.status
        click.echo(
            f"dormant: warning: {e.entity.path}: no verdict but insufficient-evidence "
            f"({e.status}; {detail})",
            err=True,
        )
    if result.entities and not any(e.report.complete for e in result.entities):
        raise source.OrgAccessError(_nothing_completed(result, source))
    if fail_on is None:
        sys.exit(EXIT_OK)
    hit = any(str(s.verdict) in fail_on for e in result.entities for s in e.services) or (
        "insufficient-evidence" in fail_on and bool(result.incomplete)
    )
    sys.exit(EXIT_FINDINGS if hit else EXIT_OK)


def _nothing_completed(result: Any, source: Any) -> str:
    errors = [e.error for e in result.entities if e.error is not None]
    codes = {(err.operation, err.code) for err in errors}
    first = errors[0] if errors else None
    if first is not None and len(codes) == 1 and first.code in _denied_codes():
        action = f"iam:{first.operation}"
        return (
            f"no organization access report could be read: {action} was denied "
            f"({first.message}); the scanning principal needs {action} (statement "
            f"{source.POLICY_SID} of {source.POLICY_FILE})"
        )
    if first is not None:
        return (
            f"no organization access report completed ({len(result.entities)} asked); the "
            f"first: {first.code}: {first.message}"
        )
    return "no organization access report completed"


def _denied_codes() -> frozenset[str]:
    from .sources.aws import DENIED_CODES

    return DENIED_CODES


def _collect(source: Any, **kw: Any) -> dict[str, Any]:
    """Ask AWS: the organization, the entities, the SCP, every report. Returns the evidence."""
    from .errors import DormantError
    from .sources.aws import build_session
    from .sources.base import CollectContext
    from .timeutil import UTC, iso

    def clock() -> dt.datetime:
        return dt.datetime.now(UTC)

    try:
        session = build_session(
            profile=kw["profile"], region=kw["region"], endpoint_url=kw["endpoint_url"]
        )
    except Exception as exc:  # botocore's ProfileNotFound and friends
        raise DormantError(f"cannot build an AWS session: {exc}") from None
    resolver = source.OrgResolver(session)
    organization = resolver.organization()
    entities = resolver.entities(
        organization,
        root=kw["root"],
        ous=kw["ous"],
        accounts=kw["accounts"],
        paths=kw["paths"],
    )
    policy = resolver.policy(organization, kw["policy_id"]) if kw["policy_id"] else None
    ctx = CollectContext(session=session, account_id=organization.caller_account_id, clock=clock)
    collected = source.collect(
        ctx,
        [e.path for e in entities],
        policy_id=kw["policy_id"],
        job_timeout=kw["job_timeout"],
        max_items=kw["max_items"],
    )
    return {
        "kind": EVIDENCE_KIND,
        "version": 1,
        "collected_at": collected.finished_at or iso(clock()),
        "organization": organization.to_json(),
        "entities": [e.to_json() for e in entities],
        "policy": None if policy is None else policy.to_json(),
        "warnings": list(resolver.warnings),
        "source": collected.to_json(),
    }


def _read_evidence(path: str) -> dict[str, Any]:
    from .errors import InputError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the evidence ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or data.get("kind") != EVIDENCE_KIND:
        raise InputError(f"{path}: not organization access evidence (kind {EVIDENCE_KIND!r})")
    for key in ("collected_at", "organization", "entities", "policy", "source"):
        if key not in data:
            raise InputError(f"{path}: the evidence lacks {key!r}")
    return data


__all__ = ["access_report", "org"]
