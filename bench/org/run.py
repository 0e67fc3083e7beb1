"""Benchmark: an organization scan of 50 accounts x 200 principals, with 50 ms per call.

dormant's emulator (moto's ``ThreadedMotoServer`` with dormant's patches,
:mod:`dormant.demo.server`) holds an AWS Organization: the management account and
``--accounts`` member accounts spread over three OUs, each with the member role, ``--users``
users and ``--roles`` roles (keys, passwords, groups, customer-managed policies, Access Advisor
reports, an Access Analyzer unused-access analyzer with findings). Every member is alike, so
every account costs the same calls. Principals are seeded through moto's in-process backends,
not over HTTP, so 10,000 of them take seconds. Every call the server answers first sleeps
``--latency`` seconds (:func:`dormant.demo.faults.set_latency`; the server is threaded, so the
sleeps overlap as network latency would).

By default the emulator runs in a child process of its own (forked first, then seeded there),
as AWS's servers are not the scanner's: in this process it would take about half of the one
interpreter's CPU (and GIL) from the scanner. ``--emulator thread`` runs it in this process,
as ``bench/access_advisor`` does. The runs, one after the other:

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
4. **settings only** (``--settings-only-accounts``, 1): ``account_concurrency=1,
   concurrency=1`` without the lock, to show what those settings alone do.

Calls are counted by the server (:func:`dormant.demo.faults.calls`, per account and operation,
retries included) and, as HTTP requests, by the lock's wrapper; each member's credential report
is generated before the runs, so every run meets the same state. Printed: wall time, calls,
calls per principal (in each member account, and overall with the listing and AssumeRole
calls), the ratio, requests in flight at most, CPU time of the scanner and of the emulator,
the load average, and the resident memory of each process.

    python bench/org/run.py                  # 50 accounts x (80 users + 120 roles)
    python bench/org/run.py --quick          # 10 accounts x (40 users + 60 roles)
    python bench/org/run.py --emulator thread   # emulator in this process
    python bench/org/run.py --json           # the figures as JSON

Exit status 1 when a target is missed: at least 10x faster than sequential, calls per principal
in every member no higher than the single-account scan's, every account fully read, one
Access Advisor Generate per principal per scan, one request at a time in the baseline.
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


def _proc_rss(pid: int | str = "self") -> dict[str, float]:
    """Resident memory of a process now (VmRSS) and at its peak (VmHWM), MiB, from /proc."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        if pid == "self":
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            out = {"VmRSS": round(peak, 1), "VmHWM": round(peak, 1)}
    return out


def _reset_peak_rss(pid: int | str = "self") -> bool:
    """Start a process's peak (VmHWM) over from its current RSS (Linux: clear_refs 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _proc_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


# ----------------------------------------------------------------------- the emulator


class InProcess:
    """The emulator in this process (a ``dormant.demo.server.Emulator``): client and server
    share one interpreter, and so one GIL."""

    placement = "thread"
    pid = None

    def __init__(self, emu: Any) -> None:
        self.emu = emu
        self.endpoint_url = emu.endpoint_url

    def populate(self, accounts: int, users: int, roles: int) -> Org:
        return populate(self.emu, accounts, users, roles)

    def set_latency(self, seconds: float) -> None:
        from dormant.demo import faults

        faults.set_latency(seconds)

    def calls(self, accounts: list[str]) -> dict[str, Counter]:
        from dormant.demo import faults

        return {a: faults.calls(a) for a in accounts}

    def generates(self) -> Counter:
        from dormant.demo import moto_access_advisor

        return Counter(moto_access_advisor.stats()["generate_per_arn"])

    def stop(self) -> None:
        self.emu.stop()


def _serve(conn: Any) -> None:
    """The emulator's process: start it, then answer the parent's requests until "stop"."""
    from dormant.demo import server

    emu = server.start()
    local = InProcess(emu)
    conn.send(emu.endpoint_url)
    while True:
        op, *params = conn.recv()
        try:
            if op == "stop":
                emu.stop()
                conn.send(("ok", None))
                return
            answer = getattr(local, op)(*params)
            conn.send(("ok", answer))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class Forked:
    """The emulator in a child process of its own (forked before anything is seeded), as
    AWS's servers are not the scanner's: the scanner's process holds only the scanner, and
    the server's CPU is not taken from the scanner's interpreter."""

    placement = "process"

    def __init__(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self._proc.start()
        self.pid = self._proc.pid
        self.endpoint_url = self._conn.recv()

    def _ask(self, op: str, *params: Any) -> Any:
        self._conn.send((op, *params))
        status, answer = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"emulator process: {op}: {answer}")
        return answer

    def populate(self, accounts: int, users: int, roles: int) -> Org:
        return self._ask("populate", accounts, users, roles)

    def set_latency(self, seconds: float) -> None:
        self._ask("set_latency", seconds)

    def calls(self, accounts: list[str]) -> dict[str, Counter]:
        return self._ask("calls", accounts)

    def generates(self) -> Counter:
        return self._ask("generates")

    def stop(self) -> None:
        try:
            self._ask("stop")
        finally:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.kill()


def _cpu_since(server: Any, start: float | None) -> float | None:
    """CPU seconds of the emulator's own process since ``start`` (None when in-process)."""
    now = _proc_cpu(server.pid) if server.pid else None
    return round(now - start, 1) if now is not None and start is not None else None


def _snapshot_calls(server: Any, org: Org) -> dict[str, Counter]:
    """The server's calls so far, per account (the management account and every member)."""
    return server.calls([org.management, *org.accounts])


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


def _session(server: Any):
    from dormant.sources.aws import build_session

    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return build_session(endpoint_url=server.endpoint_url, credentials=creds)


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


def run_single(server: Any, org: Org, concurrency: int) -> dict[str, Any]:
    """``collect_account`` of the first member alone (after one AssumeRole)."""
    from dormant.collect import collect_account
    from dormant.demo.organization import MEMBER_ROLE
    from dormant.sources.aws import assume_role_session

    account = org.accounts[0]
    base = _session(server)
    before, generated = _snapshot_calls(server, org), server.generates()
    sent = WIRE.start(serial=False)
    t0, cpu0, load0 = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    server_cpu0 = _proc_cpu(server.pid) if server.pid else None
    session = assume_role_session(base, f"arn:aws:iam::{account}:role/{MEMBER_ROLE}", "dormant")
    evidence = collect_account(
        session, clock=lambda: dt.datetime.now(dt.UTC), concurrency=concurrency
    )
    wall = time.perf_counter() - t0
    figures = _figures(
        _diff(before, _snapshot_calls(server, org)),
        org,
        [account],
        wall,
        WIRE.peak,
        WIRE.sent - sent,
    )
    ok, reports = _complete(evidence)
    figures.update(
        cpu_s=round(time.process_time() - cpu0, 1),
        server_cpu_s=_cpu_since(server, server_cpu0),
        load_avg=[round(load0, 1), round(os.getloadavg()[0], 1)],
        account=account,
        complete_accounts=int(ok),
        complete_reports=reports,
        generate_per_principal_max=max((server.generates() - generated).values(), default=0),
    )
    return figures


def run_org(
    server: Any, org: Org, *, settings: Any, accounts: list[str], serial: bool
) -> dict[str, Any]:
    """List the members (all but the management account) and scan ``accounts`` of them."""
    from dormant.org import ACCOUNTS_TASK, collect_organization, list_member_accounts

    base = _session(server)
    finished: list[float] = []

    def progress(task: str, advance: int, total: int | None) -> None:
        if task == ACCOUNTS_TASK and advance:
            finished.append(time.perf_counter())

    before, generated = _snapshot_calls(server, org), server.generates()
    sent = WIRE.start(serial=serial)
    t0, cpu0, load0 = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    server_cpu0 = _proc_cpu(server.pid) if server.pid else None
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
        cpu = time.process_time() - cpu0
        server_cpu = _cpu_since(server, server_cpu0)
    finally:
        peak, requests = WIRE.peak, WIRE.sent - sent
        WIRE.start(serial=False)
    figures = _figures(
        _diff(before, _snapshot_calls(server, org)), org, accounts, wall, peak, requests
    )
    states = [_complete(e) for e in snapshot.accounts]
    marks = [listed_at, *finished]
    figures.update(
        cpu_s=round(cpu, 1),
        server_cpu_s=server_cpu,
        load_avg=[round(load0, 1), round(os.getloadavg()[0], 1)],
        listing_s=round(listed_at - t0, 2),
        per_account_s=[round(b - a, 2) for a, b in zip(marks, marks[1:], strict=False)],
        complete_accounts=sum(ok for ok, _ in states),
        complete_reports=sum(n for _, n in states),
        listed_accounts=len(listed),
        generate_per_principal_max=max((server.generates() - generated).values(), default=0),
        account_concurrency=settings.account_concurrency,
        concurrency=settings.concurrency,
    )
    return figures


def measure(
    server: Any,
    org: Org,
    *,
    sequential_accounts: int,
    settings_only_accounts: int = 0,
    skip_sequential: bool = False,
    overrides: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The runs over a populated organization, with latency already set. With
    ``settings_only_accounts``, also that many accounts at ``account_concurrency=1,
    concurrency=1`` without the one-request-at-a-time wire: what those settings alone do.
    ``overrides``: OrgSettings fields changed for the "default" run (experiments only)."""
    import dataclasses

    from dormant.org import OrgSettings

    defaults = dataclasses.replace(OrgSettings(), **(overrides or {}))
    single = run_single(server, org, defaults.concurrency)
    memory: dict[str, Any] = {"client_before_default": _proc_rss()}
    peak_reset = _reset_peak_rss()
    if server.pid:
        memory["server_before_default"] = _proc_rss(server.pid)
        _reset_peak_rss(server.pid)
    default = run_org(server, org, settings=defaults, accounts=org.accounts, serial=False)
    memory["client_after_default"] = _proc_rss()
    if server.pid:
        memory["server_after_default"] = _proc_rss(server.pid)
    memory["peak_reset"] = peak_reset
    out: dict[str, Any] = {
        "single_account": single,
        "default": default,
        "memory_mib": memory,
        "emulator": server.placement,
    }
    if not skip_sequential:
        subset = org.accounts[: max(1, sequential_accounts)]
        seq = run_org(
            server,
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
    if settings_only_accounts:
        out["settings_only"] = run_org(
            server,
            org,
            settings=OrgSettings(account_concurrency=1, concurrency=1),
            accounts=org.accounts[:settings_only_accounts],
            serial=False,
        )
    memory["client_process_peak"] = round(
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
        "--settings-only-accounts",
        type=int,
        default=1,
        help="accounts scanned at account_concurrency=1, concurrency=1 without serializing "
        "requests (to show what the settings alone do; 0: skip)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="10 accounts of 40 users + 60 roles, 2 sequential"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--emulator",
        choices=("process", "thread"),
        default="process",
        help="run the emulator in a process of its own (default) or in this process, where it "
        "shares the scanner's interpreter and GIL",
    )
    parser.add_argument(
        "--only-default", action="store_true", help="no sequential baseline (for profiling)"
    )
    parser.add_argument(
        "--account-concurrency",
        type=int,
        help="experiment: override OrgSettings.account_concurrency in the default run",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        help="experiment: override OrgSettings.concurrency in the default and single runs",
    )
    args = parser.parse_args(argv)
    overrides = {
        k: v
        for k, v in (
            ("account_concurrency", args.account_concurrency),
            ("concurrency", args.concurrency),
        )
        if v is not None
    }
    if args.quick:
        args.accounts, args.users, args.roles, args.sequential_accounts = 10, 40, 60, 2

    if args.emulator == "process":
        # Forked first, while this process has no thread and no seeded state.
        emulator: Any = Forked()
    else:
        from dormant.demo import server

        emulator = InProcess(server.start())
    try:
        org = emulator.populate(args.accounts, args.users, args.roles)
        emulator.set_latency(args.latency)
        with WIRE.installed():
            figures = measure(
                emulator,
                org,
                sequential_accounts=args.sequential_accounts,
                settings_only_accounts=0 if args.only_default else args.settings_only_accounts,
                skip_sequential=args.only_default,
                overrides=overrides,
            )
    finally:
        emulator.stop()
    figures.update(
        members=len(org.accounts),
        users_per_account=args.users,
        roles_per_account=args.roles,
        principals=sum(org.principals.values()),
        latency_ms=args.latency * 1000,
        seed_s=org.seed_s,
        emulator=args.emulator,
        machine=f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, {platform.machine()}",
    )
    missed = verdict(figures, org)
    if overrides:
        missed.append(f"not the default settings ({overrides}): no verdict on the target")
    figures["settings_overrides"] = overrides
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
    label = "default" if not f.get("settings_overrides") else "overridden"
    rows = [("single account", f["single_account"]), (label, f["default"])]
    if "sequential" in f:
        rows.append(("sequential", f["sequential"]))
    if "settings_only" in f:
        rows.append(("settings only", f["settings_only"]))
    for label, r in rows:
        print(
            f"{label:>15}: {r['accounts']:3d} acct  {r['wall_s']:8.2f} s  "
            f"{r['api_calls']:7d} calls  {r['calls_per_s']:7.1f}/s  "
            f"{r['calls_per_principal_in_account_max']:.3f} calls/principal in account  "
            f"{r['calls_per_principal_overall']:.4f} overall  "
            f"in flight <= {r['peak_requests_in_flight']}  "
            f"complete {r['complete_accounts']}/{r['accounts']}  "
            f"CPU {r['cpu_s']} s"
            + (f" + emulator {r['server_cpu_s']} s" if r.get("server_cpu_s") is not None else "")
            + f"  load {r['load_avg'][0]}->{r['load_avg'][1]}"
        )
    if "sequential" in f:
        s = f["sequential"]
        print(
            f"{'sequential':>15}: per account {s['per_account_s']} s (spread "
            f"{s['per_account_spread'] * 100:.1f}%), listing {s['listing_s']} s -> "
            f"{f['members']} accounts ~ {s['estimated_all_accounts_s']} s"
        )
        print(f"{'speed-up':>15}: {f['speedup']}x (target {TARGET_SPEEDUP:g}x)")
    m = f["memory_mib"]
    where = "client" if f["emulator"] == "process" else "client and emulator in one process"
    print(
        f"{'memory':>15}: {where}: RSS {m['client_before_default']['VmRSS']} MiB before the "
        f"default run, {m['client_after_default']['VmRSS']} MiB after it, peak "
        f"{m['client_after_default']['VmHWM'] if m['peak_reset'] else '?'} MiB during it"
    )
    if "server_after_default" in m:
        print(
            f"{'':>15}  emulator process: RSS {m['server_before_default']['VmRSS']} MiB before, "
            f"peak {m['server_after_default']['VmHWM']} MiB during the default run"
        )
    print(f"{'calls by op':>15}: {f['default']['calls_by_operation']}")
    for m in f["targets_missed"]:
        print(f"MISSED: {m}")


if __name__ == "__main__":
    sys.exit(main())
