"""Benchmark: an organization scan of 50 accounts x 200 principals, with 50 ms per call.

An in-process ``ThreadedMotoServer`` (dormant's emulator, :mod:`dormant.demo.server`) holds an
AWS Organization: the management account and ``--accounts`` member accounts spread over three
OUs, each with the member role and ``--users`` users and ``--roles`` roles (keys, passwords,
groups, customer-managed policies, Access Advisor reports, an Access Analyzer unused-access
analyzer with findings). Every member account is alike, so every account costs the same calls.
Principals are seeded through moto's in-process backends, not over HTTP, so 10,000 of them take
seconds. Then every call the server answers first sleeps ``--latency`` seconds
(:func:`dormant.demo.faults.set_latency`; the server is threaded, so the sleeps overlap as
network latency would), and:

1. **single account**: ``collect.collect_account`` of the first member alone (after one
   AssumeRole), at the default ``concurrency``: its calls per principal are the reference.
2. **default**: ``org.list_member_accounts`` + ``org.collect_organization`` over every member at
   ``OrgSettings()`` defaults (8 accounts at once, 8 calls per account; Access Advisor runs at
   least 16 callers per account).
3. **sequential**: the same scan with ``account_concurrency=1, concurrency=1`` *and* one HTTP
   request on the wire at a time in the whole process (a lock around botocore's
   ``Endpoint._send``): ``collect_account`` itself runs its sources on a pool of 6 threads and
   Access Advisor with at least 16 callers whatever ``concurrency`` says, so the settings alone
   do not make a scan sequential. Jobs still wait for their polls side by side (a wait holds no
   call), as in ``bench/access_advisor``'s baseline. Because one call at a time costs about an
   hour for 50 accounts, only ``--sequential-accounts`` accounts are scanned so, one after the
   other; the baseline for all of them is the listing's time plus the mean time per account
   times the number of accounts (accounts are independent and identical; the per-account
   times are printed so their spread shows).

Calls are counted by the server (:func:`dormant.demo.faults.calls`, per account and operation,
retries included); each member's credential report is generated before the runs, so every run
meets the same state. Printed: wall time, calls, calls per principal (in each member account,
and for the whole organization with the listing and AssumeRole calls), the ratio, requests in
flight at most, and the process's resident memory (client and emulator share the process).

    python bench/org/run.py                  # 50 accounts x (80 users + 120 roles)
    python bench/org/run.py --quick          # 10 accounts x (40 users + 60 roles)
    python bench/org/run.py --json           # the figures as JSON

Exit status 1 when a target is missed: at least 10x faster than sequential, calls per principal
in every member no higher than the single-account scan's, every account fully read.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGET_SPEEDUP = 10.0
NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
OUS = ("Prod", "Dev", "Sandbox/Research")
POLICY_FILE = Path(__file__).resolve().parents[2] / "deploy" / "readonly-policy.json"


def _doc(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


_SERVICES = (
    ("s3", "Amazon S3", ("GetObject", "PutObject", "ListBucket")),
    ("dynamodb", "Amazon DynamoDB", ("GetItem", "PutItem", "Query")),
    ("sqs", "Amazon SQS", ("SendMessage", "ReceiveMessage")),
    ("lambda", "AWS Lambda", ("InvokeFunction", "GetFunction")),
    ("ec2", "Amazon EC2", ("DescribeInstances", "RunInstances")),
)


def _report(arn: str, n: int) -> list[dict[str, Any]]:
    """An Access Advisor report: 1 to 3 services, the first used (at action level) for most
    principals, the others granted but unused."""
    out = []
    for k in range(1 + n % 3):
        ns, name, actions = _SERVICES[(n + k) % len(_SERVICES)]
        entry: dict[str, Any] = {
            "ServiceNamespace": ns,
            "ServiceName": name,
            "TotalAuthenticatedEntities": 0,
        }
        if k == 0 and n % 4:
            used = NOW - dt.timedelta(days=3 + n % 200)
            entry.update(
                TotalAuthenticatedEntities=1,
                LastAuthenticated=used,
                LastAuthenticatedEntity=arn,
                LastAuthenticatedRegion="us-east-1",
                TrackedActionsLastAccessed=[
                    {"ActionName": actions[0], "LastAccessedTime": used},
                    *({"ActionName": a} for a in actions[1:]),
                ],
            )
        out.append(entry)
    return out


def fill_account(account_id: str, users: int, roles: int) -> int:
    """Seed one member's principals through moto's backends; returns its users + roles
    (the member role included). Identical for every account."""
    from moto.iam.models import AccessKeyLastUsed

    from dormant.demo import moto_access_advisor, moto_access_analyzer, moto_ext

    be = moto_ext.backend(account_id)
    arns: list[str] = []
    managed = {
        "app-read": be.create_policy("", "/", _doc("s3:Get*", "dynamodb:GetItem"), "app-read", []),
        "deploy": be.create_policy("", "/", _doc("lambda:*", "s3:PutObject"), "deploy", []),
    }
    for group, policy in (("developers", "app-read"), ("deployers", "deploy")):
        be.create_group(group, "/")
        be.attach_group_policy(managed[policy].arn, group)
    for u in range(users):
        name = f"user-{u:04d}"
        user = be.create_user("us-east-1", name, "/", [{"Key": "team", "Value": f"t{u % 7}"}])
        user.create_date = NOW - dt.timedelta(days=30 + (u * 37) % 900)
        if u % 3 == 0:
            be.add_user_to_group("developers", name)
        if u % 5 == 0:
            be.add_user_to_group("deployers", name)
        if u % 4 == 1:
            be.put_user_policy(name, f"{name}-inline", _doc("sqs:SendMessage"))
        keys = 1 if u % 10 < 6 else (2 if u % 10 == 6 else 0)
        for k in range(keys):
            key = be.create_access_key(name, status="Active" if k == 0 else "Inactive")
            key.create_date = NOW - dt.timedelta(days=20 + (u * 13 + k) % 700)
            if (u + k) % 3:
                key.last_used = AccessKeyLastUsed(
                    NOW - dt.timedelta(days=1 + (u * 7) % 300), "s3", "us-east-1"
                )
        if u % 5 < 2:
            be.create_login_profile(name, "Bench-Passw0rd!")
            moto_ext.set_login_profile_created(account_id, name, user.create_date)
            if u % 5 == 0:
                user.password_last_used = NOW - dt.timedelta(days=2 + u % 120)
        arns.append(user.arn)
    for r in range(roles):
        name = f"role-{r:04d}"
        service = ("lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com")[r % 3]
        role = be.create_role(name, _trust(service), "/", None, "", [], None)
        role.create_date = NOW - dt.timedelta(days=10 + (r * 29) % 1000)
        ns, _, actions = _SERVICES[r % len(_SERVICES)]
        be.put_role_policy(name, f"{name}-inline", _doc(*(f"{ns}:{a}" for a in actions)))
        if r % 6 == 0:
            be.attach_role_policy(managed["app-read"].arn, name)
        if r % 4:
            role.last_used = NOW - dt.timedelta(days=1 + (r * 11) % 400)
            role.last_used_region = "us-east-1"
        arns.append(role.arn)
    for n, arn in enumerate(arns):
        moto_access_advisor.seed(account_id, arn, _report(arn, n))
    analyzer = moto_access_analyzer.create_analyzer(account_id)
    for arn in arns[-5:]:
        moto_access_analyzer.add_finding(
            analyzer,
            "UnusedPermission",
            arn,
            [{"unusedPermissionDetails": {"serviceNamespace": "ec2", "actions": []}}],
        )
    return len(be.users) + len(be.roles)


@dataclass
class Org:
    management: str
    accounts: list[str]
    """Member account ids, sorted."""
    principals: dict[str, int]
    """Account id -> users + roles."""
    seed_s: float = 0.0


def populate(emu: Any, accounts: int, users: int, roles: int) -> Org:
    """The organization: ``accounts`` members over three OUs, each filled alike."""
    from dormant.demo import moto_ext
    from dormant.demo.organization import Member, seed_organization

    t0 = time.perf_counter()
    policy = json.loads(POLICY_FILE.read_text())
    members = [Member(f"bench-{i:03d}", ou=OUS[i % len(OUS)]) for i in range(accounts)]
    org = seed_organization(emu, members, NOW, role_policy=policy)
    ids = sorted(org.accounts.values())
    principals = {a: fill_account(a, users, roles) for a in ids}
    for a in ids:
        # A report under four hours old exists in every run: GenerateCredentialReport answers
        # COMPLETE and the report is read at once, the same in every run.
        moto_ext.generate_report_now(a)
    return Org(org.management, ids, principals, round(time.perf_counter() - t0, 1))


# ----------------------------------------------------------------------- the wire


@dataclass
class Wire:
    """HTTP requests leaving botocore in this process: how many are in flight, and (when
    ``serial``) one at a time. Wraps ``botocore.endpoint.Endpoint._send``, below retries."""

    serial: bool = False
    in_flight: int = 0
    peak: int = 0
    sent: int = 0
    _gate: threading.Lock = field(default_factory=threading.Lock)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def installed(self) -> Iterator[Wire]:
        """Wrap botocore's send for the block's duration."""
        from botocore.endpoint import Endpoint

        original = Endpoint._send
        wire = self

        def _send(endpoint: Any, request: Any) -> Any:
            gate = wire._gate if wire.serial else None
            if gate is not None:
                gate.acquire()
            try:
                with wire._lock:
                    wire.in_flight += 1
                    wire.sent += 1
                    wire.peak = max(wire.peak, wire.in_flight)
                try:
                    return original(endpoint, request)
                finally:
                    with wire._lock:
                        wire.in_flight -= 1
            finally:
                if gate is not None:
                    gate.release()

        Endpoint._send = _send  # type: ignore[method-assign]
        try:
            yield self
        finally:
            Endpoint._send = original  # type: ignore[method-assign]

    def start(self, serial: bool) -> int:
        with self._lock:
            self.serial = serial
            self.peak = 0
            return self.sent


WIRE = Wire()


# ----------------------------------------------------------------------- measuring


def _rss() -> dict[str, float]:
    """Resident memory of this process now and at its peak (MiB), from /proc."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out = {"VmRSS": round(peak, 1), "VmHWM": round(peak, 1)}
    return out


def _reset_peak_rss() -> bool:
    """Start the peak (VmHWM) over from the current RSS (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _snapshot_calls(org: Org) -> dict[str, Counter]:
    """The server's calls so far, per account (the management account and every member)."""
    from dormant.demo import faults

    return {a: faults.calls(a) for a in (org.management, *org.accounts)}


def _generates() -> Counter:
    from dormant.demo import moto_access_advisor

    return Counter(moto_access_advisor.stats()["generate_per_arn"])


def _diff(before: dict[str, Counter], after: dict[str, Counter]) -> dict[str, Counter]:
    out = {}
    for account, counts in after.items():
        d = counts - before.get(account, Counter())
        if d:
            out[account] = d
    return out


def _complete(evidence: Any) -> tuple[bool, int]:
    """(every source read without an error, Access Advisor reports complete)."""
    from dormant.sources import access_advisor

    ok = all(
        str(res.status) == "read" and not res.errors for res in evidence.sources.values()
    ) and set(evidence.sources) >= {"access_advisor", "users", "access_keys"}
    reports = access_advisor.parse(evidence.sources["access_advisor"].raw) if ok else {}
    return ok, sum(r.complete for r in reports.values())


def _session(emu: Any):
    from dormant.demo.server import FAKE_CREDENTIALS
    from dormant.sources.aws import build_session

    return build_session(endpoint_url=emu.endpoint_url, credentials=dict(FAKE_CREDENTIALS))


def _figures(
    calls: dict[str, Counter], org: Org, members: list[str], wall: float, peak: int, sent: int
) -> dict[str, Any]:
    in_account = {a: sum(calls.get(a, Counter()).values()) for a in members}
    per_principal = {a: in_account[a] / org.principals[a] for a in members}
    total = sum(sum(c.values()) for c in calls.values())
    by_op: Counter = Counter()
    for c in calls.values():
        by_op.update(c)
    principals = sum(org.principals[a] for a in members)
    return {
        "wall_s": round(wall, 2),
        "accounts": len(members),
        "principals": principals,
        "api_calls": total,
        "http_requests": sent,
        "calls_by_operation": dict(sorted(by_op.items())),
        "calls_per_account": sorted(set(in_account.values())),
        "calls_per_principal_in_account_max": round(max(per_principal.values()), 4),
        "calls_per_principal_overall": round(total / principals, 4),
        "management_account_calls": dict(sorted(calls.get(org.management, Counter()).items())),
        "calls_per_s": round(total / wall, 1) if wall else None,
        "peak_requests_in_flight": peak,
    }


def run_single(emu: Any, org: Org, concurrency: int) -> dict[str, Any]:
    """``collect_account`` of the first member alone (after one AssumeRole)."""
    from dormant.collect import collect_account
    from dormant.demo.organization import MEMBER_ROLE
    from dormant.sources.aws import assume_role_session

    account = org.accounts[0]
    base = _session(emu)
    before, generated = _snapshot_calls(org), _generates()
    sent = WIRE.start(serial=False)
    t0 = time.perf_counter()
    session = assume_role_session(base, f"arn:aws:iam::{account}:role/{MEMBER_ROLE}", "dormant")
    evidence = collect_account(
        session, clock=lambda: dt.datetime.now(dt.UTC), concurrency=concurrency
    )
    wall = time.perf_counter() - t0
    figures = _figures(
        _diff(before, _snapshot_calls(org)), org, [account], wall, WIRE.peak, WIRE.sent - sent
    )
    ok, reports = _complete(evidence)
    figures.update(
        account=account,
        complete_accounts=int(ok),
        complete_reports=reports,
        generate_per_principal_max=max((_generates() - generated).values(), default=0),
    )
    return figures


def run_org(
    emu: Any, org: Org, *, settings: Any, accounts: list[str], serial: bool
) -> dict[str, Any]:
    """List the members (all but the management account) and scan ``accounts`` of them."""
    from dormant.org import ACCOUNTS_TASK, collect_organization, list_member_accounts

    base = _session(emu)
    finished: list[float] = []

    def progress(task: str, advance: int, total: int | None) -> None:
        if task == ACCOUNTS_TASK and advance:
            finished.append(time.perf_counter())

    before, generated = _snapshot_calls(org), _generates()
    sent = WIRE.start(serial=serial)
    t0 = time.perf_counter()
    try:
        listed = list_member_accounts(base, exclude=[org.management])
        listed_at = time.perf_counter()
        members = [m for m in listed if m.account_id in set(accounts)]
        snapshot = collect_organization(
            base,
            clock=lambda: dt.datetime.now(dt.UTC),
            settings=settings,
            members=members,
            progress=progress,
        )
        wall = time.perf_counter() - t0
    finally:
        peak, requests = WIRE.peak, WIRE.sent - sent
        WIRE.start(serial=False)
    figures = _figures(_diff(before, _snapshot_calls(org)), org, accounts, wall, peak, requests)
    states = [_complete(e) for e in snapshot.accounts]
    marks = [listed_at, *finished]
    figures.update(
        listing_s=round(listed_at - t0, 2),
        per_account_s=[round(b - a, 2) for a, b in zip(marks, marks[1:], strict=False)],
        complete_accounts=sum(ok for ok, _ in states),
        complete_reports=sum(n for _, n in states),
        listed_accounts=len(listed),
        generate_per_principal_max=max((_generates() - generated).values(), default=0),
        account_concurrency=settings.account_concurrency,
        concurrency=settings.concurrency,
    )
    return figures


def measure(
    emu: Any, org: Org, *, sequential_accounts: int, skip_sequential: bool = False
) -> dict[str, Any]:
    """The three runs over a populated organization, with latency already set."""
    from dormant.org import OrgSettings

    defaults = OrgSettings()
    single = run_single(emu, org, defaults.concurrency)
    rss_before = _rss()
    peak_reset = _reset_peak_rss()
    default = run_org(emu, org, settings=defaults, accounts=org.accounts, serial=False)
    default["rss_mib"] = _rss()
    out: dict[str, Any] = {
        "single_account": single,
        "default": default,
        "rss_before_default_mib": rss_before["VmRSS"],
        "peak_rss_default_mib": default["rss_mib"]["VmHWM"] if peak_reset else None,
    }
    if not skip_sequential:
        subset = org.accounts[: max(1, sequential_accounts)]
        seq = run_org(
            emu,
            org,
            settings=OrgSettings(account_concurrency=1, concurrency=1),
            accounts=subset,
            serial=True,
        )
        per = seq["per_account_s"]
        mean = statistics.fmean(per)
        seq["per_account_mean_s"] = round(mean, 2)
        seq["per_account_spread"] = round((max(per) - min(per)) / mean, 4) if mean else 0
        seq["estimated_all_accounts_s"] = round(seq["listing_s"] + mean * len(org.accounts), 1)
        out["sequential"] = seq
        out["speedup"] = round(seq["estimated_all_accounts_s"] / default["wall_s"], 2)
    out["peak_rss_process_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    return out


def verdict(figures: dict[str, Any], org: Org) -> list[str]:
    """The targets missed (empty: all met)."""
    missed = []
    single = figures["single_account"]["calls_per_principal_in_account_max"]
    runs = [("default", figures["default"])]
    if "sequential" in figures:
        runs.append(("sequential", figures["sequential"]))
        if figures["speedup"] < TARGET_SPEEDUP:
            missed.append(f"speed-up {figures['speedup']}x < {TARGET_SPEEDUP:g}x")
        if figures["sequential"]["peak_requests_in_flight"] != 1:
            missed.append("the sequential run had more than one request in flight")
    for label, run in runs:
        if run["calls_per_principal_in_account_max"] > single:
            missed.append(
                f"{label}: {run['calls_per_principal_in_account_max']} calls per principal in "
                f"an account > {single} for the single-account scan"
            )
        if run["complete_accounts"] != run["accounts"]:
            missed.append(
                f"{label}: {run['accounts'] - run['complete_accounts']} account(s) not fully read"
            )
    for label, run in [("single account", figures["single_account"]), *runs]:
        if run["generate_per_principal_max"] != 1:
            missed.append(f"{label}: Access Advisor Generate calls per principal != 1")
    if figures["single_account"]["complete_accounts"] != 1:
        missed.append("single account: not fully read")
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--users", type=int, default=80, help="users per account")
    parser.add_argument(
        "--roles", type=int, default=120, help="roles per account (+ the member role)"
    )
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per call")
    parser.add_argument(
        "--sequential-accounts",
        type=int,
        default=3,
        help="accounts scanned one call at a time for the baseline",
    )
    parser.add_argument(
        "--quick", action="store_true", help="10 accounts of 40 users + 60 roles, 2 sequential"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.accounts, args.users, args.roles, args.sequential_accounts = 10, 40, 60, 2

    from dormant.demo import faults, server

    emu = server.start()
    try:
        org = populate(emu, args.accounts, args.users, args.roles)
        faults.set_latency(args.latency)
        with WIRE.installed():
            figures = measure(emu, org, sequential_accounts=args.sequential_accounts)
    finally:
        emu.stop()
    figures.update(
        members=len(org.accounts),
        users_per_account=args.users,
        roles_per_account=args.roles,
        principals=sum(org.principals.values()),
        latency_ms=args.latency * 1000,
        seed_s=org.seed_s,
        machine=f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, {platform.machine()}",
    )
    missed = verdict(figures, org)
    figures["targets_missed"] = missed
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _print(figures)
    return 1 if missed else 0


def _print(f: dict[str, Any]) -> None:
    print(
        f"organization: {f['members']} member accounts x {f['principals'] // f['members']} "
        f"principals = {f['principals']}, {f['latency_ms']:g} ms per call, "
        f"seeded in {f['seed_s']} s ({f['machine']})"
    )
    rows = [("single account", f["single_account"]), ("default", f["default"])]
    if "sequential" in f:
        rows.append(("sequential", f["sequential"]))
    for label, r in rows:
        print(
            f"{label:>15}: {r['accounts']:3d} acct  {r['wall_s']:8.2f} s  "
            f"{r['api_calls']:7d} calls  {r['calls_per_s']:7.1f}/s  "
            f"{r['calls_per_principal_in_account_max']:.3f} calls/principal in account  "
            f"{r['calls_per_principal_overall']:.4f} overall  "
            f"in flight <= {r['peak_requests_in_flight']}  "
            f"complete {r['complete_accounts']}/{r['accounts']}"
        )
    if "sequential" in f:
        s = f["sequential"]
        print(
            f"{'sequential':>15}: per account {s['per_account_s']} s (spread "
            f"{s['per_account_spread'] * 100:.1f}%), listing {s['listing_s']} s -> "
            f"{f['members']} accounts ~ {s['estimated_all_accounts_s']} s"
        )
        print(f"{'speed-up':>15}: {f['speedup']}x (target {TARGET_SPEEDUP:g}x)")
    print(
        f"{'memory':>15}: RSS {f['rss_before_default_mib']} MiB before the default run, "
        f"peak {f['peak_rss_default_mib']} MiB during it, process peak "
        f"{f['peak_rss_process_mib']} MiB (client and emulator in one process)"
    )
    print(f"{'calls by op':>15}: {f['default']['calls_by_operation']}")
    for m in f["targets_missed"]:
        print(f"MISSED: {m}")


if __name__ == "__main__":
    sys.exit(main())
