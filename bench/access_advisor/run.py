"""Benchmark: Access Advisor collection over an emulated account with a 50 ms call latency.

An in-process ``ThreadedMotoServer`` holds ``--roles`` roles and ``--users`` users; dormant's
Access Advisor emulation answers the job APIs after sleeping ``--latency`` seconds per call (the
server is threaded, so the sleeps overlap as network latency would). Each job answers
IN_PROGRESS to its first poll, so every principal costs at least Generate + two Gets, as on AWS
where a report takes a moment to build.

The same principals are collected twice in one run: with the source's default concurrency and
window, then one call at a time (``concurrency=1``, same window, so jobs still overlap while
they wait). Printed: wall time, API calls, Generate calls per principal, and the ratio.

    python bench/access_advisor/run.py                  # 2,000 roles + 500 users
    python bench/access_advisor/run.py --roles 200 --users 50   # a quick run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.config

ACCOUNT = "123456789012"
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "ec2:Describe*"], "Resource": "*"}],
    }
)


def _client(url: str, service: str = "iam"):
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(
        service,
        endpoint_url=url,
        config=botocore.config.Config(max_pool_connections=64, retries={"mode": "standard"}),
    )


def _populate(url: str, roles: int, users: int) -> list[str]:
    """Create the principals (no latency yet) and seed each a small report."""
    from dormant.demo import moto_access_advisor as emu

    iam = _client(url)

    def role(i: int) -> str:
        arn = iam.create_role(RoleName=f"role-{i:05d}", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        iam.put_role_policy(RoleName=f"role-{i:05d}", PolicyName="p", PolicyDocument=POLICY)
        return arn

    def user(i: int) -> str:
        return iam.create_user(UserName=f"user-{i:05d}")["User"]["Arn"]

    with ThreadPoolExecutor(8) as pool:
        arns = list(pool.map(role, range(roles))) + list(pool.map(user, range(users)))
    used = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    for n, arn in enumerate(arns):
        services = [
            {
                "ServiceNamespace": "s3",
                "ServiceName": "Amazon S3",
                "TotalAuthenticatedEntities": 1,
                "LastAuthenticated": used,
                "LastAuthenticatedEntity": arn,
                "LastAuthenticatedRegion": "us-east-1",
                "TrackedActionsLastAccessed": [
                    {"ActionName": "ListAllMyBuckets", "LastAccessedTime": used},
                    {"ActionName": "CreateBucket"},
                ],
            },
            {
                "ServiceNamespace": "ec2",
                "ServiceName": "Amazon EC2",
                "TotalAuthenticatedEntities": 0,
            },
        ]
        if n % 3:
            services = services[:1]
        emu.seed(ACCOUNT, arn, services)
    return arns


def _run(url: str, arns: list[str], concurrency: int | None) -> dict:
    from dormant.demo import moto_access_advisor as emu
    from dormant.sources import access_advisor as aa
    from dormant.sources.aws import AccountSession
    from dormant.sources.base import CollectContext

    session = AccountSession(
        session=boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        ),
        endpoint_url=url,
        max_pool=64,
    )
    ctx = CollectContext(session=session, account_id=ACCOUNT, clock=lambda: dt.datetime.now(dt.UTC))
    before = emu.stats()
    start = time.perf_counter()
    result = aa.collect(ctx, arns, concurrency=concurrency)
    wall = time.perf_counter() - start
    after = emu.stats()
    calls = {k: after["calls"].get(k, 0) - before["calls"].get(k, 0) for k in after["calls"]}
    generated = {
        k: after["generate_per_arn"].get(k, 0) - before["generate_per_arn"].get(k, 0)
        for k in after["generate_per_arn"]
    }
    per_principal = [generated.get((ACCOUNT, a), 0) for a in arns]
    reports = aa.parse(result.raw)
    return {
        "concurrency": concurrency or max(ctx.concurrency, aa.DEFAULT_CONCURRENCY),
        "max_in_flight": aa.DEFAULT_MAX_IN_FLIGHT,
        "wall_s": round(wall, 2),
        "api_calls": sum(v for k, v in calls.items() if k != "Throttled"),
        "calls_by_operation": calls,
        "generate_per_principal_max": max(per_principal),
        "generate_per_principal_min": min(per_principal),
        "complete_reports": sum(r.complete for r in reports.values()),
        "errors": len(result.errors),
        "status": str(result.status),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", type=int, default=2000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per call")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    from moto.server import ThreadedMotoServer

    from dormant.demo import moto_access_advisor as emu

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    emu.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        t0 = time.perf_counter()
        arns = _populate(url, args.roles, args.users)
        setup = time.perf_counter() - t0
        emu.configure(latency=args.latency, in_progress_polls=1)
        fast = _run(url, arns, None)
        serial = _run(url, arns, 1)
    finally:
        server.stop()
    figures = {
        "principals": len(arns),
        "roles": args.roles,
        "users": args.users,
        "latency_ms": args.latency * 1000,
        "setup_s": round(setup, 1),
        "default": fast,
        "one_call_at_a_time": serial,
        "speedup": round(serial["wall_s"] / fast["wall_s"], 2),
        "machine": f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores",
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for label, run in (("default", fast), ("one call at a time", serial)):
            print(
                f"{label:>20}: {run['wall_s']:8.2f} s  {run['api_calls']:6d} calls  "
                f"concurrency {run['concurrency']:>2}  Generate/principal "
                f"{run['generate_per_principal_min']}..{run['generate_per_principal_max']}  "
                f"complete {run['complete_reports']}/{len(arns)}"
            )
        print(
            f"{'speedup':>20}: {figures['speedup']}x  ({len(arns)} principals, "
            f"{args.latency * 1000:g} ms per call, setup {setup:.1f} s)"
        )
    ok = (
        figures["speedup"] >= 8
        and fast["generate_per_principal_max"] == 1
        and serial["generate_per_principal_max"] == 1
        and fast["complete_reports"] == len(arns)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
