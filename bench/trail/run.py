"""Benchmark of ``dormant trail scan`` against two baselines over the same files, in one run.

    python bench/trail/run.py                 # 2,000,000 events (about 4 minutes to generate)
    python bench/trail/run.py --events 200000 # a smaller run

Generates a corpus in CloudTrail's S3 layout under bench/out/ (see corpus.py), then times, each
in its own process, over the same (page-cached) files:

- floor: isal decompression + msgspec decoding of only the fields the evidence needs, no
  aggregation: the cost of reading, below which no engine of this design can go;
- plain: gzip + json + dict aggregation, the obvious way;
- dormant: ``python -m dormant.trail scan`` on one core and on every core.

It prints events per second, the ratios, and the peak RSS of each process tree (sampled every
10 ms from /proc), for the full corpus and for a corpus of 200,000 events. The figures are
printed and written to bench/out/results.json; no test asserts on them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"


# ---- the passes, each run as `run.py --pass NAME DIR` in its own process -------------------


def _files(root: str) -> list[str]:
    out = []
    for dirpath, _dirs, names in os.walk(root):
        out += [os.path.join(dirpath, n) for n in names if n.endswith(".json.gz")]
    return sorted(out)


def pass_floor(root: str) -> int:
    import msgspec
    from isal import igzip

    from dormant.trail.records import Top

    dec = msgspec.json.Decoder(Top)
    n = 0
    for f in _files(root):
        with open(f, "rb") as fh:
            n += len(dec.decode(igzip.decompress(fh.read())).Records)
    return n


def pass_plain(root: str) -> int:
    import gzip

    principals: dict = {}
    keys: dict = {}
    roles: dict = {}
    n = 0
    for f in _files(root):
        with gzip.open(f, "rb") as fh:
            records = json.load(fh)["Records"]
        for e in records:
            n += 1
            ui = e.get("userIdentity") or {}
            t = e.get("eventTime")
            ty = ui.get("type")
            if ty in ("IAMUser", "Root"):
                p = ui.get("arn")
                k = ui.get("accessKeyId") or ""
                if k.startswith("AKIA"):
                    ent = keys.setdefault((k, p), [t, 0])
                    ent[1] += 1
                    ent[0] = max(ent[0], t)
            elif ty in ("AssumedRole", "FederatedUser"):
                p = ((ui.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
            else:
                p = None
            if p:
                ent = principals.setdefault(p, {"last": t, "n": 0, "actions": {}})
                ent["n"] += 1
                ent["last"] = max(ent["last"], t)
                a = ent["actions"].setdefault((e.get("eventSource"), e.get("eventName")), [t, 0, 0])
                if e.get("errorCode"):
                    a[2] += 1
                else:
                    a[1] += 1
                    a[0] = max(a[0], t)
            if e.get("eventName", "").startswith("AssumeRole") and not e.get("errorCode"):
                role = (e.get("requestParameters") or {}).get("roleArn")
                if role:
                    ent = roles.setdefault((role, p or ui.get("accountId")), [t, 0])
                    ent[1] += 1
                    ent[0] = max(ent[0], t)
    return n


def pass_duckdb(root: str) -> int:
    """DuckDB's read_json over the same files into a table, then the shared aggregation SQL."""
    import duckdb

    from dormant.trail.aggregate import Filters
    from dormant.trail.sql import queries, to_duckdb

    ui = (
        "STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR, "
        "invokedBy VARCHAR, accessKeyId VARCHAR, userName VARCHAR, identityProvider VARCHAR, "
        "sessionContext STRUCT(sessionIssuer STRUCT(type VARCHAR, arn VARCHAR)))"
    )
    rec = (
        "STRUCT(eventTime VARCHAR, eventSource VARCHAR, eventName VARCHAR, errorCode VARCHAR, "
        "awsRegion VARCHAR, recipientAccountId VARCHAR, sharedEventID VARCHAR, "
        f"userIdentity {ui}, requestParameters VARCHAR, responseElements VARCHAR, "
        "resources STRUCT(ARN VARCHAR, accountId VARCHAR, type VARCHAR)[])"
    )
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE cloudtrail AS SELECT r.eventTime AS eventtime, r.eventSource AS eventsource,"
        " r.eventName AS eventname, r.errorCode AS errorcode, r.awsRegion AS awsregion,"
        " r.recipientAccountId AS recipientaccountid, r.sharedEventID AS sharedeventid,"
        " r.userIdentity AS useridentity, r.requestParameters AS requestparameters,"
        " r.responseElements AS responseelements, r.resources AS resources"
        " FROM (SELECT unnest(Records) AS r FROM read_json(?, format = 'auto',"
        f" columns = {{Records: '{rec}[]'}}, maximum_object_size = 268435456))",
        [f"{root}/**/*.json.gz"],
    )
    rows = {
        n: con.execute(to_duckdb(q)).fetchall() for n, q in queries("cloudtrail", Filters()).items()
    }
    return sum(int(n) for _reason, _kept, n in rows["counts"])


PASSES = {"floor": pass_floor, "plain": pass_plain, "duckdb": pass_duckdb}


# ---- measuring -------------------------------------------------------------------------------


def _tree_rss(pid: int) -> int:
    """RSS in bytes of ``pid`` and all its descendants."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def measure(cmd: list[str]) -> dict:
    """Wall-clock seconds, CPU seconds (user + system, the process and its waited-for
    children) and peak RSS of the process tree, of one command."""
    import tempfile

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        peak = 0
        done = threading.Event()

        def sample():
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                time.sleep(0.01)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        th.join()
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.read()[-2000:]}")
        return {
            "seconds": elapsed,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "peak_rss": peak,
            "stdout": out.read().decode(),
        }


def calibrate() -> dict:
    """How much CPU this machine gives now: a CPU-bound loop alone, and two at once."""
    loop = (
        "import time\nt = time.perf_counter()\nx = 0\n"
        "for i in range(10**7): x += i\nprint(time.perf_counter() - t)"
    )
    one = float(subprocess.run([sys.executable, "-c", loop], capture_output=True, text=True).stdout)
    procs = [
        subprocess.Popen([sys.executable, "-c", loop], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    two = [float(p.communicate()[0]) for p in procs]
    return {
        "one_loop_seconds": round(one, 3),
        "two_loops_seconds": [round(x, 3) for x in two],
        "parallel_capacity": round(2 * one / max(two), 2),
    }


def ensure_corpus(path: Path, events: int, seed: int, uniform: bool = False) -> dict:
    manifest = path.with_suffix(".manifest.json")
    if manifest.exists():
        info = json.loads(manifest.read_text())
        same = info.get("uniform", False) == uniform
        if info.get("requested") == events and info.get("seed") == seed and same:
            return info
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    sys.path.insert(0, str(HERE))
    from corpus import generate

    t0 = time.perf_counter()
    info = generate(path, SHARED, events, seed, uniform=uniform)
    info.update(
        requested=events,
        seed=seed,
        uniform=uniform,
        generate_seconds=round(time.perf_counter() - t0, 1),
    )
    manifest.write_text(json.dumps(info))
    return info


def warm(path: Path) -> None:
    for f in _files(str(path)):
        with open(f, "rb") as fh:
            fh.read()


def bench_corpus(path: Path, info: dict, cores: int, repeat: int, duck: bool = False) -> dict:
    py = sys.executable
    me = str(Path(__file__).resolve())
    warm(path)
    extra = {"duckdb": [py, me, "--pass", "duckdb", str(path)]} if duck else {}
    runs = {
        **extra,
        "floor": [py, me, "--pass", "floor", str(path)],
        "plain": [py, me, "--pass", "plain", str(path)],
        "dormant_1": [
            py,
            "-m",
            "dormant.trail",
            "scan",
            str(path),
            "--workers",
            "1",
            "--output",
            os.devnull,
        ],
        f"dormant_{cores}": [
            py,
            "-m",
            "dormant.trail",
            "scan",
            str(path),
            "--workers",
            str(cores),
            "--output",
            os.devnull,
        ],
    }
    best: dict[str, dict] = {}
    for _ in range(repeat):  # rounds interleave the passes, so that load hits them all alike
        for name, cmd in runs.items():
            m = measure(cmd)
            if name in PASSES:
                assert int(m["stdout"].strip()) == info["events"], (name, m["stdout"])
            if name not in best or m["seconds"] < best[name]["seconds"]:
                best[name] = m
            cpu = best.get(name + "_cpu")
            if cpu is None or m["cpu_seconds"] < cpu["cpu_seconds"]:
                best[name + "_cpu"] = m
    result = {}
    for name in runs:
        b, c = best[name], best[name + "_cpu"]
        result[name] = {
            "seconds": round(b["seconds"], 3),
            "events_per_second": round(info["events"] / b["seconds"]),
            "cpu_seconds": round(c["cpu_seconds"], 3),
            "events_per_cpu_second": round(info["events"] / c["cpu_seconds"]),
            "peak_rss_mb": round(max(best[name]["peak_rss"], c["peak_rss"]) / 2**20, 1),
        }
        print(f"  {name:10s} {result[name]}", flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--small", type=int, default=200_000, help="the smaller corpus for memory")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs of each pass")
    ap.add_argument(
        "--with-duckdb",
        action="store_true",
        help="also time DuckDB's read_json with the same SQL (on the small corpus only: slow)",
    )
    ap.add_argument(
        "--uniform",
        action="store_true",
        help="every principal and action equally likely (the worst case) instead of Zipf",
    )
    ap.add_argument("--pass", dest="pass_", choices=sorted(PASSES), help=argparse.SUPPRESS)
    ap.add_argument("dir", nargs="?", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pass_:
        sys.path.insert(0, str(ROOT / "src"))
        print(PASSES[args.pass_](args.dir))
        return
    cores = len(os.sched_getaffinity(0))
    sizes = sorted({min(args.small, args.events), args.events})
    report = {
        "cores": cores,
        "python": sys.version.split()[0],
        "calibration": calibrate(),
        "corpora": {},
    }
    print(f"calibration: {report['calibration']}", flush=True)
    for n in sizes:
        path = OUT / (f"corpus-{n}" + ("-uniform" if args.uniform else ""))
        print(f"corpus of {n} events: {path}", flush=True)
        info = ensure_corpus(path, n, args.seed)
        print(
            f"  {info['events']} events, {info['files']} files, "
            f"{info['bytes'] / 2**20:.0f} MiB gzipped",
            flush=True,
        )
        report["corpora"][n] = {
            "corpus": info,
            "runs": bench_corpus(
                path, info, cores, args.repeat, duck=args.with_duckdb and n == sizes[0]
            ),
        }
    big = report["corpora"][args.events]["runs"]
    one, many = big["dormant_1"], big[f"dormant_{cores}"]

    def ratio(a: dict, b: dict, key: str = "events_per_second") -> float:
        return round(a[key] / b[key], 2)

    ratios = {
        "one_core_vs_floor": ratio(one, big["floor"]),
        "one_core_vs_plain": ratio(one, big["plain"]),
        "all_cores_vs_one": ratio(many, one),
        "one_core_vs_floor_cpu": ratio(one, big["floor"], "events_per_cpu_second"),
        "one_core_vs_plain_cpu": ratio(one, big["plain"], "events_per_cpu_second"),
    }
    report["ratios"] = ratios
    small = report["corpora"][sizes[0]]["runs"]
    report["peak_rss_mb"] = {
        f"{sizes[0]}": small[f"dormant_{cores}"]["peak_rss_mb"],
        f"{args.events}": many["peak_rss_mb"],
    }
    print(json.dumps({"ratios": ratios, "peak_rss_mb_all_cores": report["peak_rss_mb"]}, indent=2))
    OUT.mkdir(parents=True, exist_ok=True)
    report["uniform"] = args.uniform
    name = "results-uniform.json" if args.uniform else "results.json"
    (OUT / name).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
