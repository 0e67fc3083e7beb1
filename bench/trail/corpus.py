"""A large CloudTrail corpus in CloudTrail's S3 layout, on local disk, from the shared real events.

Real events (Stratus Red Team, OTRF, the IAM User Guide's SAML and web identity examples,
Panther's and Cloud Custodian's with usable times) are the templates; each generated event is a
template with its identity, time, region, account and ids rewritten. Deterministic for a seed.

Mix: 2,000 principals (1,200 IAM users with long-term keys, 800 roles) over 3 accounts, each
principal calling 8 to 30 actions of its own, activity heavy-tailed (Zipf weights over the
principals of an account and over each principal's actions); about 8%
AssumeRole (a third of them cross-account, logged in both accounts with one sharedEventID), 1%
AssumeRoleWithSAML, 1% AssumeRoleWithWebIdentity, 0.5% ConsoleLogin, the rest API calls in the
proportions of the templates; 3% of calls denied.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import msgspec

ACCOUNTS = ("111111111111", "222222222222", "333333333333")
REGIONS = ("us-east-1", "eu-west-1")
START = dt.datetime(2025, 10, 26, tzinfo=dt.UTC)
DAYS = 400
N_USERS = 1200
N_ROLES = 800
EVENTS_PER_FILE = 150
MAX_TEMPLATE_BYTES = 3000


def _load_templates(shared: Path) -> dict[str, list[dict]]:
    events: list[dict] = []
    for f in sorted((shared / "stratus-detonation-logs").glob("*.json")):
        events += json.loads(f.read_text())
    for f in sorted((shared / "otrf-aws" / "raw" / "ec2_proxy_s3_exfiltration").glob("*.json")):
        for line in f.read_text().splitlines():
            if line.strip():
                e = json.loads(line)
                e["eventTime"] = e.pop("@timestamp", None)
                e.pop("@version", None)
                events.append(e)
    docs = shared / "awsdocs-iam-examples"
    for f in (
        "iam_userguide_cloudtrail_integration_examples.json",
        "AssumeRoleWithSAML_WebIdentity_REPAIRED.json",
    ):
        events += json.loads((docs / f).read_text())["Records"]
    for line in (shared / "panther-cloudtrail-test-events" / "events_only.jsonl").open():
        e = json.loads(line)
        t = e.get("eventTime")
        if isinstance(t, str) and t.endswith("Z") and "T" in t and e.get("userIdentity"):
            events.append(e)
    for f in sorted(
        (shared / "custodian-placebo-iam" / "eventbridge-wrapped-cloudtrail").glob("*.json")
    ):
        e = json.loads(f.read_text()).get("detail")
        if e and e.get("userIdentity") and e.get("eventTime"):
            events.append(e)
    kinds: dict[str, list[dict]] = {
        "call": [],
        "AssumeRole": [],
        "AssumeRoleWithSAML": [],
        "AssumeRoleWithWebIdentity": [],
        "ConsoleLogin": [],
    }
    for e in events:
        name = e.get("eventName")
        ty = (e.get("userIdentity") or {}).get("type")
        if name in kinds:
            if name != "ConsoleLogin" or ty == "IAMUser":
                kinds[name].append(e)
        elif ty in ("IAMUser", "AssumedRole") and e.get("eventSource") and name:
            kinds["call"].append(e)
    for k, v in kinds.items():
        # Leave out the few huge ones (whole DescribeInstances responses): CloudTrail events
        # are about a kilobyte on average.
        kinds[k] = [e for e in v if len(json.dumps(e)) <= MAX_TEMPLATE_BYTES]
        assert kinds[k], f"no template for {k}"
    return kinds


def _principals(rng: random.Random) -> tuple[list[dict], list[dict]]:
    users = []
    for i in range(N_USERS):
        acct = ACCOUNTS[i % len(ACCOUNTS)]
        users.append(
            {
                "type": "IAMUser",
                "principalId": f"AIDA{i:016d}",
                "arn": f"arn:aws:iam::{acct}:user/team{i % 40}/user{i}",
                "accountId": acct,
                "accessKeyId": f"AKIA{rng.getrandbits(64):016X}",
                "userName": f"user{i}",
            }
        )
    roles = []
    for i in range(N_ROLES):
        acct = ACCOUNTS[i % len(ACCOUNTS)]
        roles.append(
            {
                "arn": f"arn:aws:iam::{acct}:role/app/role{i}",
                "name": f"role{i}",
                "account": acct,
                "id": f"AROA{i:017d}",
            }
        )
    return users, roles


def _session_identity(role: dict, session: str) -> dict:
    return {
        "type": "AssumedRole",
        "principalId": f"{role['id']}:{session}",
        "arn": f"arn:aws:sts::{role['account']}:assumed-role/{role['name']}/{session}",
        "accountId": role["account"],
        "accessKeyId": "ASIA" + session[-16:].upper().replace("-", "").rjust(16, "0"),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role["id"],
                "arn": role["arn"],
                "accountId": role["account"],
                "userName": role["name"],
            },
            "attributes": {"creationDate": "2026-01-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def _plain(user: dict) -> dict:
    return {k: v for k, v in user.items() if not k.startswith("profile")}


def _flat(n: int) -> list[float]:
    """Cumulative equal weights: the worst case, every principal and action as likely."""
    return [float(i) for i in range(1, n + 1)]


def _zipf(n: int) -> list[float]:
    """Cumulative Zipf weights (1/rank) for ``n`` items."""
    out, total = [], 0.0
    for rank in range(1, n + 1):
        total += 1.0 / rank
        out.append(total)
    return out


class _Gen:
    def __init__(self, shared: Path, seed: int, uniform: bool = False) -> None:
        rng = random.Random(seed)
        self.t = _load_templates(shared)
        self.users, self.roles = _principals(rng)
        # Each principal calls its own few actions, as real ones do (8 to 30 of them).
        calls = self.t["call"]
        for p in self.users + self.roles:
            p["profile"] = rng.sample(calls, rng.randint(8, min(30, len(calls))))
        # Each role trusts a few callers (its trust policy): one to four users or roles, a third
        # of the roles from another account; federated roles a pool of 50 people.
        for r in self.roles:
            pool = self.users + self.roles
            if rng.random() < 0.33:
                pool = [x for x in pool if x.get("accountId", x.get("account")) != r["account"]]
            else:
                pool = [x for x in pool if x.get("accountId", x.get("account")) == r["account"]]
            r["trusted"] = [x for x in rng.sample(pool, rng.randint(1, 4)) if x is not r] or [
                self.users[0]
            ]
        # Activity is heavy-tailed, as in real accounts (a few automation roles and users make
        # most calls): principals of an account, and each principal's actions, are drawn with
        # Zipf weights (1/rank) in a seeded random order.
        self.by_acct = {}
        for a in ACCOUNTS:
            us = [u for u in self.users if u["accountId"] == a]
            rs = [r for r in self.roles if r["account"] == a]
            rng.shuffle(us)
            rng.shuffle(rs)
            weights = _flat if uniform else _zipf
            self.by_acct[a] = (us, weights(len(us)), rs, weights(len(rs)))
        for p in self.users + self.roles:
            p["profile_w"] = (_flat if uniform else _zipf)(len(p["profile"]))
        # (caller, role) pairs by the caller's account: where the caller's copy is logged.
        self.pairs: dict[str, list] = {a: [] for a in ACCOUNTS}
        for r in self.roles:
            for c in r["trusted"]:
                self.pairs[c.get("accountId", c.get("account"))].append((c, r))

    def events_for(self, rng: random.Random, acct: str, region: str, when: dt.datetime, n: int):
        """``n`` events received by ``acct`` in ``region`` within 5 minutes of ``when``, plus
        the role-side copies of cross-account assumptions (returned apart: they belong to the
        role's account's log)."""
        out, foreign = [], []
        users, users_w, roles, roles_w = self.by_acct[acct]

        def pick(pop, cw):
            return rng.choices(pop, cum_weights=cw)[0]

        for _ in range(n):
            t = when + dt.timedelta(seconds=rng.randrange(300))
            ts = t.strftime("%Y-%m-%dT%H:%M:%SZ")
            x = rng.random()
            if x < 0.08:
                kind = "AssumeRole"
            elif x < 0.09:
                kind = "AssumeRoleWithSAML"
            elif x < 0.10:
                kind = "AssumeRoleWithWebIdentity"
            elif x < 0.105:
                kind = "ConsoleLogin"
            else:
                kind = "call"
            tpl = rng.choice(self.t[kind])
            if kind == "call":
                if rng.random() < 0.6:
                    ident = pick(users, users_w)
                    tpl = pick(ident["profile"], ident["profile_w"])
                    ident = _plain(ident)
                else:
                    role = pick(roles, roles_w)
                    tpl = pick(role["profile"], role["profile_w"])
                    ident = _session_identity(role, f"{role['name']}-{when:%Y%m%d%H}")
            e = dict(tpl)
            e["eventTime"] = ts
            e["awsRegion"] = region
            e["recipientAccountId"] = acct
            e["eventID"] = f"{rng.getrandbits(128):032x}"
            e["requestID"] = f"{rng.getrandbits(128):032x}"
            e.pop("sharedEventID", None)
            if kind == "AssumeRole":
                caller, target = rng.choice(self.pairs[acct])
                if "accessKeyId" in caller:  # a user, logged in its own account
                    ident = _plain(caller)
                else:
                    ident = _session_identity(caller, f"{caller['name']}-{when:%Y%m%d%H}")
                e["userIdentity"] = ident
                e["requestParameters"] = {
                    "roleArn": target["arn"],
                    "roleSessionName": "s",
                    "durationSeconds": 3600,
                }
                if target["account"] != ident["accountId"]:
                    shared_id = f"{rng.getrandbits(128):032x}"
                    e["sharedEventID"] = shared_id
                    o = dict(e)
                    o["userIdentity"] = {
                        "type": "AWSAccount",
                        "principalId": ident["principalId"],
                        "accountId": ident["accountId"],
                    }
                    o["recipientAccountId"] = target["account"]
                    o["eventID"] = f"{rng.getrandbits(128):032x}"
                    foreign.append((target["account"], o))
            elif kind in ("AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"):
                target = pick(roles, roles_w)
                ui = dict(tpl["userIdentity"])
                ui["userName"] = f"person{target['id'][-3:]}-{rng.randrange(50)}"
                e["userIdentity"] = ui
                rp = dict(tpl.get("requestParameters") or {})
                rp["roleArn"] = target["arn"]
                if kind == "AssumeRoleWithSAML":
                    rp["principalArn"] = f"arn:aws:iam::{acct}:saml-provider/corp"
                e["requestParameters"] = rp
            elif kind == "ConsoleLogin":
                e["userIdentity"] = _plain(pick(users, users_w))
                e["responseElements"] = {
                    "ConsoleLogin": "Success" if rng.random() < 0.9 else "Failure"
                }
            else:
                e["userIdentity"] = ident
                if rng.random() < 0.03:
                    e["errorCode"] = "AccessDenied"
                else:
                    e.pop("errorCode", None)
            out.append(e)
        return out, foreign


_GEN: _Gen | None = None


def _init(shared: str, seed: int, uniform: bool) -> None:
    global _GEN
    _GEN = _Gen(Path(shared), seed, uniform)


def _write(
    out: Path, acct: str, region: str, when: dt.datetime, seq: int, records: list[dict]
) -> int:
    folder = out / "AWSLogs" / acct / "CloudTrail" / region / when.strftime("%Y/%m/%d")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{acct}_CloudTrail_{region}_{when:%Y%m%dT%H%MZ}_{seq:06d}.json.gz"
    co = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip, at gzip's default level, as AWS writes
    data = co.compress(msgspec.json.encode({"Records": records})) + co.flush()
    (folder / name).write_bytes(data)
    return len(data)


def _day(args) -> tuple[int, int, int]:
    out, seed, day_index, per_day = args
    out = Path(out)
    rng = random.Random(seed * 100003 + day_index)
    day = START + dt.timedelta(days=day_index)
    events = written = files = 0
    foreign: dict[tuple[str, str], list[dict]] = {}
    for acct in ACCOUNTS:
        for region in REGIONS:
            quota = per_day // (len(ACCOUNTS) * len(REGIONS))
            nfiles = max(1, round(quota / EVENTS_PER_FILE))
            for k in range(nfiles):
                when = day + dt.timedelta(minutes=5 * (k * 288 // nfiles))
                n = quota // nfiles + (1 if k < quota % nfiles else 0)
                recs, extra = _GEN.events_for(rng, acct, region, when, n)
                for target, o in extra:
                    foreign.setdefault((target, region), []).append(o)
                written += _write(out, acct, region, when, k, recs)
                events += len(recs)
                files += 1
    for (acct, region), recs in sorted(foreign.items()):
        written += _write(out, acct, region, day + dt.timedelta(hours=23, minutes=55), 999999, recs)
        events += len(recs)
        files += 1
    return events, written, files


def generate(
    out: Path,
    shared: Path,
    events: int,
    seed: int = 7,
    workers: int | None = None,
    uniform: bool = False,
) -> dict:
    """Write the corpus under ``out``; returns its size. The role-side copies of cross-account
    assumptions come on top of ``events`` (they are real extra log records)."""
    per_day = max(len(ACCOUNTS) * len(REGIONS), events // DAYS)
    tasks = [(str(out), seed, d, per_day) for d in range(DAYS)]
    total = size = files = 0
    with ProcessPoolExecutor(
        workers or os.cpu_count(), initializer=_init, initargs=(str(shared), seed, uniform)
    ) as ex:
        for n, b, f in ex.map(_day, tasks, chunksize=4):
            total, size, files = total + n, size + b, files + f
    return {"events": total, "bytes": size, "files": files}
