"""From a :class:`~dormant.trail.aggregate.Partial`'s raw groups to the evidence: the rules that
run once per group rather than once per event (who the principal is, the IAM action, the
cross-account rule for role assumptions), and the sorting that makes the output the same bytes
for the same events. Every engine (local, DuckDB, Athena) ends here."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import msgspec

from .actions import iam_action
from .evidence import (
    MAX_ERRORS,
    AccessKeyUse,
    ActionUse,
    ConsoleLoginUse,
    PrincipalActivity,
    RoleAssumption,
    RoleCaller,
    TimeRange,
    TrailError,
    TrailEvidence,
)
from .identity import PRINCIPAL_TYPES, resolve_principal

if TYPE_CHECKING:  # pragma: no cover
    from .aggregate import Partial


def build_evidence(partial: Partial) -> TrailEvidence:
    """The evidence of everything ``partial`` has aggregated."""
    partial.fold()
    errors = sorted(set(partial.errors), key=error_key)[:MAX_ERRORS]
    first = last = None
    principals: dict[str, dict] = {}
    keys: dict[tuple[str, str], list] = {}
    for (ty, raw, ak, src, name, err), (t0, t1, n) in partial.groups.items():
        if first is None or t0 < first:
            first = t0
        if last is None or t1 > last:
            last = t1
        p = resolve_principal(raw)
        if p is None:
            continue
        entry = principals.get(p)
        if entry is None:
            entry = principals[p] = {"types": set(), "last": t1, "count": 0, "actions": {}}
        entry["types"].add(ty)
        entry["count"] += n
        if t1 > entry["last"]:
            entry["last"] = t1
        if src is not None and name is not None:
            a = entry["actions"].setdefault((src, name), [None, 0, None, 0])
            if err is None:
                a[1] += n
                if a[0] is None or t1 > a[0]:
                    a[0] = t1
            else:
                a[3] += n
                if a[2] is None or t1 > a[2]:
                    a[2] = t1
        if ak is not None:
            bump(keys, (ak, p), t1, n)
    return TrailEvidence(
        events_read=partial.read,
        events_skipped=partial.skipped,
        events_filtered=partial.filtered,
        files_read=partial.files,
        errors=tuple(TrailError(f, r, m) for f, r, m in errors),
        errors_total=partial.errors_total,
        time_range=TimeRange(iso(first), iso(last)),
        role_assumptions=_roles(partial),
        principal_activity=tuple(
            PrincipalActivity(
                principal_arn=p,
                identity_types=tuple(sorted(e["types"])),
                last_seen=iso(e["last"]),
                count=e["count"],
                actions=tuple(
                    ActionUse(
                        event_source=src,
                        event_name=name,
                        iam_action=iam_action(src, name),
                        last_seen=iso(a[0]),
                        count=a[1],
                        denied=a[3],
                        last_denied=iso(a[2]),
                    )
                    for (src, name), a in sorted(e["actions"].items())
                ),
            )
            for p, e in sorted(principals.items())
        ),
        access_keys=tuple(
            AccessKeyUse(access_key_id=ak, principal_arn=p, last_seen=iso(t), count=n)
            for (ak, p), (t, n) in sorted(keys.items())
        ),
        console_logins=tuple(
            ConsoleLoginUse(user_arn=u, last_seen=iso(t), count=n)
            for u, (t, n) in sorted(partial.console.items())
        ),
    )


def _roles(partial: Partial) -> tuple[RoleAssumption, ...]:
    # role -> caller key -> [last, count]; cross-account sides per caller account.
    single: dict[str, dict[tuple, list]] = {}
    owner: dict[tuple[str, str | None], list] = {}
    caller_side: dict[tuple[str, str | None], dict[tuple, list]] = {}
    for (role, caller, kind, prov, subj, side, acct), (t, n) in partial.assume.items():
        if kind in PRINCIPAL_TYPES:
            caller = resolve_principal(caller) or caller
        ckey = (caller, kind, prov, subj)
        if side == "o":
            bump(owner, (role, acct), t, n)
        elif side == "c":
            bump(caller_side.setdefault((role, acct), {}), ckey, t, n)
        else:
            bump(single.setdefault(role, {}), ckey, t, n)
    for (role, acct), callers in caller_side.items():
        target = single.setdefault(role, {})
        for ckey, (t, n) in callers.items():
            bump(target, ckey, t, n)
        seen = sum(n for _, n in callers.values())
        o = owner.pop((role, acct), None)
        if o is not None and o[1] > seen:
            bump(target, _account_caller(acct), o[0], o[1] - seen)
    for (role, acct), (t, n) in owner.items():
        bump(single.setdefault(role, {}), _account_caller(acct), t, n)
    out = []
    for role, callers in sorted(single.items()):
        rows = tuple(
            RoleCaller(
                caller=c, kind=k, last_seen=iso(t), count=n, identity_provider=pv, subject=sj
            )
            for (c, k, pv, sj), (t, n) in sorted(callers.items(), key=_caller_key)
        )
        out.append(
            RoleAssumption(
                role_arn=role,
                last_assumed=max(r.last_seen for r in rows),
                count=sum(r.count for r in rows),
                callers=rows,
            )
        )
    return tuple(out)


def _account_caller(acct: str | None) -> tuple:
    return (f"account:{acct or 'unknown'}", "AWSAccount", None, None)


def bump(table: dict, key, t, n: int = 1) -> None:
    """Add ``n`` uses at ``t`` to ``table[key]`` ([last, count])."""
    g = table.get(key)
    if g is None:
        table[key] = [t, n]
    else:
        g[1] += n
        if t > g[0]:
            g[0] = t


def error_key(e: tuple[str, int | None, str]):
    """Errors sort by file, then record (the whole file first), then message."""
    return (e[0], -1 if e[1] is None else e[1], e[2])


def _caller_key(item):
    (c, k, pv, sj), _ = item
    return (c, k, pv or "", sj or "")


_ENCODE = msgspec.json.encode


def iso(t: dt.datetime | None) -> str | None:
    """ISO-8601 UTC to the second with a ``Z``."""
    if t is None:
        return None
    if t.tzinfo is not dt.UTC:
        t = t.astimezone(dt.UTC)
    if t.microsecond:
        t = t.replace(microsecond=0)
    return _ENCODE(t)[1:-1].decode()  # msgspec writes UTC as Z, 7x faster than isoformat()
