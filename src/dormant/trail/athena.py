"""Athena: the CloudTrail table of an organization's trail, and the aggregation run there.

:func:`create_table_ddl` writes the standard CloudTrail table of Athena, with partition
projection on account, region and day over the trail's bucket (``AWSLogs/<o-id>/<account>/...``
for an organization trail), so no partition is ever added by hand and a query reads only the
days, accounts and regions it filters on. :class:`AthenaEngine` runs the shared aggregation
(:mod:`dormant.trail.sql`) there and reads every page of the results back.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .aggregate import Filters, Partial
from .sql import lit, partial_from_rows, queries

COMMERCIAL_REGIONS = (
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)
"""The regions projected when none are named: a trail logs every region it is enabled in."""

_COLUMNS = """  eventversion STRING,
  useridentity STRUCT<
    type: STRING,
    principalid: STRING,
    arn: STRING,
    accountid: STRING,
    invokedby: STRING,
    accesskeyid: STRING,
    username: STRING,
    identityprovider: STRING,
    onbehalfof: STRUCT<userid: STRING, identitystorearn: STRING>,
    sessioncontext: STRUCT<
      attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
      sessionissuer: STRUCT<
        type: STRING, principalid: STRING, arn: STRING, accountid: STRING, username: STRING>,
      ec2roledelivery: STRING,
      webidfederationdata: STRUCT<federatedprovider: STRING, attributes: MAP<STRING, STRING>>,
      sourceidentity: STRING>>,
  eventtime STRING,
  eventsource STRING,
  eventname STRING,
  awsregion STRING,
  sourceipaddress STRING,
  useragent STRING,
  errorcode STRING,
  errormessage STRING,
  requestparameters STRING,
  responseelements STRING,
  additionaleventdata STRING,
  requestid STRING,
  eventid STRING,
  readonly STRING,
  resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
  eventtype STRING,
  apiversion STRING,
  recipientaccountid STRING,
  serviceeventdetails STRING,
  sharedeventid STRING,
  vpcendpointid STRING,
  vpcendpointaccountid STRING,
  eventcategory STRING,
  sessioncredentialfromconsole STRING,
  edgedevicedetails STRING,
  tlsdetails STRUCT<tlsversion: STRING, ciphersuite: STRING, clientprovidedhostheader: STRING>"""


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a valid Athena name: {name!r}")
    return name


def logs_root(bucket: str, prefix: str = "", org_id: str | None = None) -> str:
    """``s3://bucket/[prefix/]AWSLogs/[o-id/]``: where the trail's accounts sit."""
    parts = [bucket]
    if prefix.strip("/"):
        parts.append(prefix.strip("/"))
    parts.append("AWSLogs")
    if org_id:
        parts.append(org_id)
    return "s3://" + "/".join(parts) + "/"


def create_table_ddl(
    *,
    bucket: str,
    accounts: list[str],
    prefix: str = "",
    org_id: str | None = None,
    regions: list[str] | None = None,
    table: str = "cloudtrail",
    database: str | None = None,
    start: dt.date = dt.date(2020, 1, 1),
) -> str:
    """The CREATE TABLE statement of a trail's CloudTrail table with partition projection.

    ``accounts`` are projected as an enum (an organization trail's member accounts);
    ``regions`` default to every commercial region. ``start`` is the first projected day.
    """
    if not accounts:
        raise ValueError("name the trail's accounts (--account): they are projected partitions")
    for a in accounts:
        if not (len(a) == 12 and a.isdigit()):
            raise ValueError(f"not an account id: {a!r}")
    regions = sorted(regions or COMMERCIAL_REGIONS)
    root = logs_root(bucket, prefix, org_id)
    name = f"{_ident(database)}.{_ident(table)}" if database else _ident(table)
    template = root + "${account}/CloudTrail/${region}/${timestamp}"
    props = {
        "projection.enabled": "true",
        "projection.account.type": "enum",
        "projection.account.values": ",".join(sorted(accounts)),
        "projection.region.type": "enum",
        "projection.region.values": ",".join(regions),
        "projection.timestamp.type": "date",
        "projection.timestamp.format": "yyyy/MM/dd",
        "projection.timestamp.interval": "1",
        "projection.timestamp.interval.unit": "DAYS",
        "projection.timestamp.range": f"{start:%Y/%m/%d},NOW",
        "storage.location.template": template,
    }
    tblprops = ",\n".join(f"  {lit(k)} = {lit(v)}" for k, v in props.items())
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {name} (\n{_COLUMNS}\n)\n"
        "PARTITIONED BY (account STRING, region STRING, `timestamp` STRING)\n"
        "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'\n"
        "STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'\n"
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n"
        f"LOCATION {lit(root)}\n"
        f"TBLPROPERTIES (\n{tblprops}\n)"
    )


def partition_filter(filters: Filters) -> str:
    """The WHERE clause on the projected partitions, so Athena reads only what is wanted."""
    conds = ["TRUE"]
    if filters.accounts:
        conds.append("account IN (" + ", ".join(lit(a) for a in sorted(filters.accounts)) + ")")
    if filters.regions:
        conds.append("region IN (" + ", ".join(lit(r) for r in sorted(filters.regions)) + ")")
    if filters.start is not None:
        conds.append(f'"timestamp" >= {lit(filters.start.strftime("%Y/%m/%d"))}')
    if filters.end is not None:
        last = filters.end - dt.timedelta(microseconds=1)
        conds.append(f'"timestamp" <= {lit(last.strftime("%Y/%m/%d"))}')
    return " AND ".join(conds)


class AthenaError(RuntimeError):
    """A query failed, was cancelled, or did not finish in time."""


@dataclass(frozen=True)
class AthenaEngine:
    """Runs queries in Athena and reads their results back."""

    client: Any
    """A boto3 Athena client."""
    database: str
    """The Glue database of the table."""
    table: str = "cloudtrail"
    """The CloudTrail table (see :func:`create_table_ddl`)."""
    workgroup: str | None = None
    """The workgroup; its settings may fix the output location."""
    output_location: str | None = None
    """``s3://`` where Athena writes results, unless the workgroup sets it."""
    poll_seconds: float = 1.0
    """Seconds between GetQueryExecution calls while a query runs."""
    timeout_seconds: float = 1800.0
    """How long a query may run before it is given up as an error."""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    """Waits between polls; tests pass one that does not."""
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    """Measures the timeout."""

    def execute(self, sql: str) -> str:
        """Start a query and wait for it; returns its execution id."""
        params: dict[str, Any] = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": self.database},
        }
        if self.workgroup:
            params["WorkGroup"] = self.workgroup
        if self.output_location:
            params["ResultConfiguration"] = {"OutputLocation": self.output_location}
        qid = self.client.start_query_execution(**params)["QueryExecutionId"]
        deadline = self.clock() + self.timeout_seconds
        while True:
            status = self.client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            state = status["Status"]["State"]
            if state == "SUCCEEDED":
                return qid
            if state in ("FAILED", "CANCELLED"):
                reason = status["Status"].get("StateChangeReason") or state
                raise AthenaError(f"Athena query {qid} {state.lower()}: {reason}")
            if self.clock() > deadline:
                raise AthenaError(f"Athena query {qid} did not finish in time ({state})")
            self.sleep(self.poll_seconds)

    def rows(self, qid: str) -> list[list[str | None]]:
        """Every row of a finished query (all pages), without the header row."""
        out: list[list[str | None]] = []
        params: dict[str, Any] = {"QueryExecutionId": qid, "MaxResults": 1000}
        first = True
        while True:
            page = self.client.get_query_results(**params)
            rows = page.get("ResultSet", {}).get("Rows", [])
            if first and rows:
                rows = rows[1:]  # Athena repeats the column names as the first row
            first = False
            out.extend([d.get("VarCharValue") for d in r.get("Data", [])] for r in rows)
            token = page.get("NextToken")
            if not token:
                return out
            params["NextToken"] = token

    def query(self, sql: str) -> list[list[str | None]]:
        return self.rows(self.execute(sql))

    def aggregate(self, filters: Filters) -> Partial:
        """The shared aggregation over the table, as a :class:`Partial`."""
        relation = f'"{_ident(self.database)}"."{_ident(self.table)}"'
        qs = queries(relation, filters, partition_filter(filters))
        rows = {name: self.query(sql) for name, sql in qs.items()}
        return partial_from_rows(rows, filters, f"athena:{self.database}.{self.table}")
