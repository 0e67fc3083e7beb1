"""bench/org's harness on a tiny organization: the three runs it compares (single account,
default organization scan, sequential) make the same calls in every account, its sequential
baseline really has one request on the wire at a time although collect_account runs sources
side by side, and every account is read in full. Counts only: no time is asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location("bench_org_run", ROOT / "bench/org/run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_bench_org_compares_like_with_like(emulator):
    bench = _bench()
    server = bench.InProcess(emulator)
    org = server.populate(accounts=2, users=3, roles=2)
    # 3 users, 2 roles and the member role in each member.
    assert org.principals == {a: 6 for a in org.accounts}
    # A little latency, so that calls made side by side overlap on the wire.
    server.set_latency(0.005)
    with bench.WIRE.installed():
        figures = bench.measure(server, org, sequential_accounts=1, settings_only_accounts=1)
    single, default, seq = figures["single_account"], figures["default"], figures["sequential"]

    assert (single["accounts"], default["accounts"], seq["accounts"]) == (1, 2, 1)
    # Every account costs the same calls, whichever run reads it.
    assert single["calls_per_account"] == default["calls_per_account"] == seq["calls_per_account"]
    assert len(single["calls_per_account"]) == 1
    ops = default["calls_by_operation"]
    # Access Advisor: 3 users + 3 roles + 2 groups + 2 attached customer-managed policies, each
    # one Generate and two Gets (the first poll answers IN_PROGRESS), in each of 2 accounts.
    assert ops["iam:GenerateServiceLastAccessedDetails"] == 2 * 10
    assert ops["iam:GetServiceLastAccessedDetails"] == 2 * 20
    assert ops["iam:GetAccessKeyLastUsed"] == 2 * 3
    assert ops["sts:AssumeRole"] == 2
    assert ops["organizations:ListAccounts"] == 1
    assert default["management_account_calls"]["sts:AssumeRole"] == 2
    # Calls per principal: the same in each member; overall, the listing and AssumeRole on top.
    assert (
        default["calls_per_principal_in_account_max"]
        == single["calls_per_principal_in_account_max"]
    )
    assert default["calls_per_principal_overall"] > default["calls_per_principal_in_account_max"]
    # The server's count and botocore's requests agree (no retries here).
    assert default["api_calls"] == default["http_requests"]

    # The sequential baseline: one request at a time, although collect_account runs up to 6
    # sources and 16 Access Advisor callers at once.
    assert seq["peak_requests_in_flight"] == 1
    assert seq["account_concurrency"] == 1 and seq["concurrency"] == 1
    assert len(seq["per_account_s"]) == 1
    assert seq["estimated_all_accounts_s"] > 0
    # The settings alone (1 account at a time, concurrency 1) still overlap calls in an account.
    assert figures["settings_only"]["peak_requests_in_flight"] > 1
    assert figures["settings_only"]["calls_per_account"] == single["calls_per_account"]

    for run in (single, default, seq):
        assert run["complete_accounts"] == run["accounts"]
        assert run["complete_reports"] == 10 * run["accounts"]
        assert run["generate_per_principal_max"] == 1
    # Every target but the speed-up (meaningless at 5 ms) is met.
    assert [m for m in bench.verdict(figures, org) if not m.startswith("speed-up")] == []


def test_the_wire_counts_and_restores_botocore(emulator):
    from botocore.endpoint import Endpoint

    bench = _bench()
    original = Endpoint._send
    with bench.WIRE.installed() as wire:
        assert Endpoint._send is not original
        start = wire.start(serial=True)
        emulator.client("sts").get_caller_identity()
        assert (wire.sent - start, wire.peak) == (1, 1)
    assert Endpoint._send is original
