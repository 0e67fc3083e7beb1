"""DuckDB: CloudTrail events as SQL tables, and the aggregation run there.

Events are read by the same readers as the local engine, written as JSON lines to a temporary
file shaped like Athena's CloudTrail table, and loaded into a table ``cloudtrail``; a view
``events`` gives one normalised row per event (columns in ``docs/trail.md``). Only
``ConsoleLogin`` is kept of ``responseElements``: the credentials that AssumeRole responses
carry are never loaded.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterable
from typing import Any

import msgspec

from .aggregate import Filters, Partial
from .engine import load_unit
from .records import Event, unwrap
from .sql import partial_from_rows, queries, to_duckdb

TABLE_COLUMNS = {
    "eventtime": "VARCHAR",
    "eventsource": "VARCHAR",
    "eventname": "VARCHAR",
    "errorcode": "VARCHAR",
    "awsregion": "VARCHAR",
    "recipientaccountid": "VARCHAR",
    "sharedeventid": "VARCHAR",
    "useridentity": (
        "STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, "
        "invokedby VARCHAR, accesskeyid VARCHAR, username VARCHAR, identityprovider VARCHAR, "
        "sessioncontext STRUCT(sessionissuer STRUCT(type VARCHAR, arn VARCHAR)))"
    ),
    "requestparameters": "VARCHAR",
    "responseelements": "VARCHAR",
    "resources": "STRUCT(arn VARCHAR, accountid VARCHAR, type VARCHAR)[]",
    "_file": "VARCHAR",
    "_record": "BIGINT",
}
"""The ``cloudtrail`` table: Athena's CloudTrail columns that dormant uses, plus the file and
record each event came from."""

EVENTS_VIEW = """
CREATE OR REPLACE VIEW events AS
SELECT
  TRY_CAST(eventtime AS TIMESTAMPTZ) AS event_time,
  eventsource AS event_source,
  eventname AS event_name,
  errorcode AS error_code,
  awsregion AS aws_region,
  COALESCE(recipientaccountid, useridentity.accountid) AS account_id,
  useridentity.type AS identity_type,
  CASE
    WHEN useridentity.type IN ('IAMUser', 'Root') THEN useridentity.arn
    WHEN useridentity.type IN ('AssumedRole', 'FederatedUser')
      THEN COALESCE(useridentity.sessioncontext.sessionissuer.arn, useridentity.arn)
  END AS principal_arn,
  useridentity.arn AS caller_arn,
  useridentity.accountid AS caller_account_id,
  useridentity.accesskeyid AS access_key_id,
  useridentity.username AS user_name,
  useridentity.invokedby AS invoked_by,
  CASE WHEN eventname IN ('AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity')
    THEN COALESCE(NULLIF(requestparameters ->> '$.roleArn', ''),
                  list_filter(resources, lambda r: r.type = 'AWS::IAM::Role')[1].arn)
  END AS role_arn,
  sharedeventid AS shared_event_id,
  responseelements ->> '$.ConsoleLogin' AS console_login,
  _file AS file,
  _record AS record
FROM cloudtrail
"""


class _Issuer(msgspec.Struct, omit_defaults=True):
    """Mirrors the like-named part of Athena's CloudTrail table."""

    type: str | None = None
    """The ``type`` column."""
    arn: str | None = None
    """The ``arn`` column."""


class _Context(msgspec.Struct, omit_defaults=True):
    """Mirrors the like-named part of Athena's CloudTrail table."""

    sessionissuer: _Issuer | None = None
    """The ``sessionissuer`` column."""


class _Identity(msgspec.Struct, omit_defaults=True):
    """Mirrors the like-named part of Athena's CloudTrail table."""

    type: str | None = None
    """The ``type`` column."""
    principalid: str | None = None
    """The ``principalid`` column."""
    arn: str | None = None
    """The ``arn`` column."""
    accountid: str | None = None
    """The ``accountid`` column."""
    invokedby: str | None = None
    """The ``invokedby`` column."""
    accesskeyid: str | None = None
    """The ``accesskeyid`` column."""
    username: str | None = None
    """The ``username`` column."""
    identityprovider: str | None = None
    """The ``identityprovider`` column."""
    sessioncontext: _Context | None = None
    """The ``sessioncontext`` column."""


class _Resource(msgspec.Struct):
    """Mirrors the like-named part of Athena's CloudTrail table."""

    ARN: str | None = None
    """The ``ARN`` column."""
    accountId: str | None = None
    """The ``accountId`` column."""
    type: str | None = None
    """The ``type`` column."""


class _OutResource(msgspec.Struct):
    """Mirrors the like-named part of Athena's CloudTrail table."""

    arn: str | None
    """The ``arn`` column."""
    accountid: str | None
    """The ``accountid`` column."""
    type: str | None
    """The ``type`` column."""


class _Row(msgspec.Struct):
    """Mirrors the like-named part of Athena's CloudTrail table."""

    eventtime: str | None
    """The ``eventtime`` column."""
    eventsource: str | None
    """The ``eventsource`` column."""
    eventname: str | None
    """The ``eventname`` column."""
    errorcode: str | None
    """The ``errorcode`` column."""
    awsregion: str | None
    """The ``awsregion`` column."""
    recipientaccountid: str | None
    """The ``recipientaccountid`` column."""
    sharedeventid: str | None
    """The ``sharedeventid`` column."""
    useridentity: _Identity | None
    """The ``useridentity`` column."""
    requestparameters: str | None
    """The ``requestparameters`` column."""
    responseelements: str | None
    """The ``responseelements`` column."""
    resources: list[_OutResource] | None
    """The ``resources`` column."""
    file: str = msgspec.field(name="_file")
    """The ``_file`` column."""
    record: int = msgspec.field(name="_record")
    """The ``_record`` column."""


_RESOURCES = msgspec.json.Decoder(list[_Resource] | None)
_CONSOLE = msgspec.json.Decoder(dict[str, Any] | None)


def _row(ev: Event | None, file: str, index: int) -> _Row:
    if ev is None:
        ev = Event()
    t = ev.eventTime or ev.timestamp
    ui = ev.userIdentity
    ident = None
    if ui is not None:
        sc = ui.sessionContext
        si = sc.sessionIssuer if sc is not None else None
        ident = _Identity(
            type=ui.type,
            principalid=ui.principalId,
            arn=ui.arn,
            accountid=ui.accountId,
            invokedby=ui.invokedBy,
            accesskeyid=ui.accessKeyId,
            username=ui.userName,
            identityprovider=ui.identityProvider,
            sessioncontext=_Context(_Issuer(si.type, si.arn)) if si is not None else None,
        )
    return _Row(
        eventtime=t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if t else None,
        eventsource=ev.eventSource,
        eventname=ev.eventName,
        errorcode=ev.errorCode,
        awsregion=ev.awsRegion,
        recipientaccountid=ev.recipientAccountId,
        sharedeventid=ev.sharedEventID,
        useridentity=ident,
        requestparameters=_json_text(ev.requestParameters),
        responseelements=_console_only(ev.responseElements),
        resources=_resources(ev.resources),
        file=file,
        record=index,
    )


def _json_text(raw: msgspec.Raw) -> str | None:
    if not raw:
        return None
    text = bytes(raw).decode("utf-8", "replace")
    return None if text == "null" else text


def _console_only(raw: msgspec.Raw) -> str | None:
    """``responseElements`` reduced to its ``ConsoleLogin`` outcome: nothing else (credentials
    above all) is ever loaded."""
    if not raw:
        return None
    try:
        value = _CONSOLE.decode(raw)
    except msgspec.DecodeError:
        return None
    if not value or not isinstance(value.get("ConsoleLogin"), str):
        return None
    return msgspec.json.encode({"ConsoleLogin": value["ConsoleLogin"]}).decode()


def _resources(raw: msgspec.Raw) -> list[_OutResource] | None:
    if not raw:
        return None
    try:
        res = _RESOURCES.decode(raw)
    except msgspec.DecodeError:
        return None
    if res is None:
        return None
    return [_OutResource(r.ARN, r.accountId, r.type) for r in res]


def load(con, units: Iterable[tuple], workdir: str, filters: Filters | None = None) -> Partial:
    """Read every unit into the ``cloudtrail`` table of ``con`` and create the ``events`` view.

    With ``filters``, events outside them are left out (events with no usable time stay, for
    SQL to see). Returns a :class:`Partial` holding only the file-level errors (and the count of
    files).
    """
    filtering = filters is not None and filters.active
    errors = Partial()
    path = os.path.join(workdir, "events.jsonl")
    enc = msgspec.json.Encoder()
    buf = bytearray()
    with open(path, "wb") as out:
        for unit in units:
            name = unit[1]
            loaded = load_unit(unit)
            if isinstance(loaded, str):
                errors.file_error(name, loaded)
                continue
            items, _bad = loaded
            errors.files += 1
            for i, item in enumerate(items):
                ev = unwrap(item)
                if filtering and ev is not None:
                    t = ev.eventTime or ev.timestamp
                    if t is not None and not filters.keep(ev, t):
                        continue
                enc.encode_into(_row(ev, name, i), buf, -1)
                buf.extend(b"\n")
                if len(buf) > 1 << 20:
                    out.write(buf)
                    buf.clear()
        out.write(buf)
    cols = ", ".join(f"{k}: '{v}'" for k, v in TABLE_COLUMNS.items())
    con.execute(
        f"CREATE OR REPLACE TABLE cloudtrail AS SELECT * FROM read_json(?, "
        f"format = 'newline_delimited', columns = {{{cols}}})",
        [path],
    )
    con.execute(EVENTS_VIEW)
    return errors


def connect(workdir: str | None = None):
    """A DuckDB connection that spills to ``workdir`` rather than growing without bound."""
    import duckdb

    con = duckdb.connect(":memory:")
    if workdir:
        con.execute(f"SET temp_directory = '{workdir}'")
    return con


def aggregate(con, filters: Filters, source: str = "duckdb") -> Partial:
    """The shared aggregation, transpiled to DuckDB, over the ``cloudtrail`` table."""
    rows = {
        name: con.execute(to_duckdb(q)).fetchall()
        for name, q in queries("cloudtrail", filters).items()
    }
    return partial_from_rows(rows, filters, source)


def run(units: Iterable[tuple], filters: Filters) -> Partial:
    """The DuckDB engine: load, aggregate in SQL, and merge in the reading errors."""
    with tempfile.TemporaryDirectory(prefix="dormant-duck-") as workdir:
        con = connect(workdir)
        try:
            loaded = load(con, units, workdir)
            partial = aggregate(con, filters)
        finally:
            con.close()
    partial.files = loaded.files
    partial.errors.extend(loaded.errors)
    partial.errors_total += loaded.errors_total
    return partial
