"""The aggregation as SQL, written once (in Athena's dialect, Trino) and transpiled to DuckDB.

The queries read a relation shaped like the standard CloudTrail table of Athena (lower-case
columns, ``useridentity`` a struct, ``requestparameters`` and ``responseelements`` JSON text,
``resources`` an array of structs) and return the same raw groups that the local engine builds in
:class:`~dormant.trail.aggregate.Partial`; the Python finalisation is shared, so every engine
applies the same rules to the same groups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from functools import cache

from .aggregate import Filters, Partial
from .identity import OTHER_TYPES, PRINCIPAL_TYPES

KNOWN_TYPES = sorted(PRINCIPAL_TYPES | OTHER_TYPES)


def lit(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(lit(v) for v in sorted(values)) + ")"


_T = "TRY(from_iso8601_timestamp(eventtime))"
_TYPE = "useridentity.type"
_KEEP_TEMPLATE = "({conds})"

_BASE = """
WITH raw AS (
  SELECT
    {t} AS t,
    useridentity AS ui,
    useridentity.type AS identity_type,
    eventsource,
    eventname,
    NULLIF(errorcode, '') AS errorcode,
    awsregion,
    COALESCE(recipientaccountid, useridentity.accountid) AS event_account,
    requestparameters,
    responseelements,
    resources,
    sharedeventid
  FROM {relation}
  WHERE {partition_filter}
),
classified AS (
  SELECT
    *,
    CASE
      WHEN t IS NULL THEN 'no usable time'
      WHEN ui IS NULL THEN 'the record has no userIdentity'
      WHEN identity_type IS NULL THEN 'userIdentity has no type'
      WHEN identity_type NOT IN {known} THEN 'unknown identity type'
    END AS skip_reason,
    {keep} AS kept
  FROM raw
),
ev AS (
  SELECT
    t,
    identity_type,
    CASE
      WHEN identity_type IN ('IAMUser', 'Root') THEN ui.arn
      WHEN identity_type IN ('AssumedRole', 'FederatedUser')
        THEN COALESCE(ui.sessioncontext.sessionissuer.arn, ui.arn)
    END AS principal,
    CASE
      WHEN identity_type IN ('IAMUser', 'Root') AND ui.accesskeyid LIKE 'AKIA%'
        THEN ui.accesskeyid
    END AS access_key_id,
    eventsource,
    eventname,
    CASE
      WHEN errorcode IS NOT NULL THEN errorcode
      WHEN eventname = 'ConsoleLogin'
        AND json_extract_scalar(responseelements, '$.ConsoleLogin') <> 'Success'
        THEN substr(
          'ConsoleLogin' || json_extract_scalar(responseelements, '$.ConsoleLogin'), 1, 64)
    END AS error,
    NULLIF(errorcode, '') AS errorcode,
    ui,
    requestparameters,
    responseelements,
    resources,
    sharedeventid
  FROM classified
  WHERE skip_reason IS NULL AND kept
)
"""

_COUNTS = """
SELECT skip_reason, kept, count(*) AS n
FROM classified
GROUP BY skip_reason, kept
"""

_GROUPS = """
SELECT
  identity_type, principal, access_key_id, eventsource, eventname, error,
  to_unixtime(min(t)) AS first_seen, to_unixtime(max(t)) AS last_seen, count(*) AS n
FROM ev
GROUP BY identity_type, principal, access_key_id, eventsource, eventname, error
"""

_ASSUME = """
, assume AS (
  SELECT
    t,
    identity_type,
    COALESCE(
      NULLIF(json_extract_scalar(requestparameters, '$.roleArn'), ''),
      element_at(filter(resources, r -> r.type = 'AWS::IAM::Role' AND r.arn <> ''), 1).arn
    ) AS role_arn,
    CASE
      WHEN identity_type IN ('SAMLUser', 'WebIdentityUser')
        THEN COALESCE(json_extract_scalar(requestparameters, '$.principalArn'), ui.identityprovider)
    END AS provider,
    CASE WHEN identity_type IN ('SAMLUser', 'WebIdentityUser') THEN ui.username END AS subject,
    ui,
    sharedeventid
  FROM ev
  WHERE eventname IN ('AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity')
    AND eventsource = 'sts.amazonaws.com'
    AND errorcode IS NULL
)
SELECT
  role_arn,
  CASE
    WHEN identity_type IN ('IAMUser', 'Root') THEN COALESCE(ui.arn, ui.principalid, 'unknown')
    WHEN identity_type IN ('AssumedRole', 'FederatedUser')
      THEN COALESCE(ui.sessioncontext.sessionissuer.arn, ui.arn, ui.principalid, 'unknown')
    WHEN identity_type = 'AWSAccount' THEN 'account:' || COALESCE(ui.accountid, 'unknown')
    WHEN identity_type = 'AWSService' THEN COALESCE(ui.invokedby, ui.principalid, 'unknown')
    WHEN identity_type IN ('SAMLUser', 'WebIdentityUser') AND provider IS NOT NULL
      THEN provider || ':' || COALESCE(subject, '')
    ELSE COALESCE(ui.arn, ui.principalid, 'unknown')
  END AS caller,
  identity_type AS kind,
  provider,
  subject,
  CASE
    WHEN sharedeventid IS NULL OR sharedeventid = '' THEN 's'
    WHEN identity_type = 'AWSAccount' THEN 'o'
    WHEN identity_type IN ('IAMUser', 'Root', 'AssumedRole', 'FederatedUser') THEN 'c'
    ELSE 's'
  END AS side,
  CASE
    WHEN sharedeventid IS NOT NULL AND sharedeventid <> ''
      AND identity_type IN ('AWSAccount', 'IAMUser', 'Root', 'AssumedRole', 'FederatedUser')
      THEN ui.accountid
  END AS caller_account,
  to_unixtime(max(t)) AS last_seen,
  count(*) AS n
FROM assume
WHERE role_arn IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""

_CONSOLE = """
SELECT ui.arn AS user_arn, to_unixtime(max(t)) AS last_seen, count(*) AS n
FROM ev
WHERE eventname = 'ConsoleLogin'
  AND errorcode IS NULL
  AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'
  AND identity_type IN ('IAMUser', 'Root')
  AND ui.arn IS NOT NULL AND ui.arn <> ''
GROUP BY ui.arn
"""

QUERY_NAMES = ("counts", "groups", "assume", "console")


def keep_condition(filters: Filters) -> str:
    """The per-record filter as a Trino boolean expression."""
    conds = ["TRUE"]
    if filters.start is not None:
        conds.append(f"t >= from_iso8601_timestamp({lit(_iso(filters.start))})")
    if filters.end is not None:
        conds.append(f"t < from_iso8601_timestamp({lit(_iso(filters.end))})")
    if filters.regions:
        conds.append(f"COALESCE(awsregion, '') IN {_in(filters.regions)}")
    if filters.accounts:
        conds.append(f"COALESCE(event_account, '') IN {_in(filters.accounts)}")
    return "(" + " AND ".join(conds) + ")"


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def queries(relation: str, filters: Filters, partition_filter: str = "TRUE") -> dict[str, str]:
    """The four aggregation queries in Athena's (Trino's) dialect, by name."""
    base = _BASE.format(
        t=_T,
        relation=relation,
        partition_filter=partition_filter,
        known=_in(KNOWN_TYPES),
        keep=keep_condition(filters),
    )
    return {
        "counts": base + _COUNTS,
        "groups": base + _GROUPS,
        "assume": base + _ASSUME,
        "console": base + _CONSOLE,
    }


@cache
def _transpile(sql: str, dialect: str) -> str:
    import sqlglot

    return sqlglot.transpile(sql, read="trino", write=dialect, pretty=True)[0]


def to_duckdb(sql: str) -> str:
    """A Trino query in DuckDB's dialect."""
    return _transpile(sql, "duckdb")


def partial_from_rows(
    rows: Mapping[str, Sequence[Sequence]], filters: Filters, source_name: str
) -> Partial:
    """A :class:`Partial` from the four queries' rows (values as the engine returns them:
    numbers, or text for Athena)."""
    p = Partial(filters=filters)
    for reason, kept, n in rows["counts"]:
        n = int(n)
        p.read += n
        if reason:
            p.skipped += n
            p.errors_total += 1
            p.errors.append((source_name, None, f"{n} events skipped: {reason}"))
        elif not _bool(kept):
            p.filtered += n
    for ty, pr, ak, src, name, err, t0, t1, n in rows["groups"]:
        key = (ty, _s(pr), _s(ak), _s(src), _s(name), _s(err))
        g = p.groups.get(key)
        first, last, n = _ts(t0), _ts(t1), int(n)
        if g is None:
            p.groups[key] = [first, last, n]
        else:  # Athena may split '' and NULL apart; merge them back
            g[0], g[1], g[2] = min(g[0], first), max(g[1], last), g[2] + n
    for role, caller, kind, prov, subj, side, acct, t, n in rows["assume"]:
        key = (role, caller, kind, _s(prov), _s(subj), side, _s(acct))
        _add(p.assume, key, _ts(t), int(n))
    for user, t, n in rows["console"]:
        _add(p.console, user, _ts(t), int(n))
    return p


def _add(table: dict, key, t, n: int) -> None:
    g = table.get(key)
    if g is None:
        table[key] = [t, n]
    else:
        g[0], g[1] = max(g[0], t), g[1] + n


def _s(value):
    return None if value is None or value == "" else value


def _bool(value) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _ts(value) -> dt.datetime:
    return dt.datetime.fromtimestamp(float(value), dt.UTC)
