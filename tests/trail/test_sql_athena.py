"""The aggregation written once in SQL: DuckDB and Athena texts agree with the local engine on the
same events, the Athena round trip (moto server, seeded results), and the DDL."""

from __future__ import annotations

import json
import urllib.request

import duckdb
import pytest
import sqlglot

from dormant.trail import duck, engine
from dormant.trail.api import iter_units, make_filters, resolve_sources
from dormant.trail.athena import AthenaEngine, create_table_ddl, partition_filter
from dormant.trail.sql import queries, to_duckdb

from .conftest import SAMPLES, client

EVIDENCE_FIELDS = (
    "events_read",
    "events_skipped",
    "events_filtered",
    "time_range",
    "role_assumptions",
    "principal_activity",
    "access_keys",
    "console_logins",
)


def _local_and_duck(paths, **kw):
    filters, prune = make_filters(**kw)
    sources = resolve_sources([str(p) for p in paths])
    local = engine.run(iter_units(sources, prune), filters, 1).evidence()
    sql = duck.run(iter_units(sources, prune), filters).evidence()
    return local.to_dict(), sql.to_dict()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_duckdb_sql_agrees_with_the_local_engine(data_dir, name):
    local, sql = _local_and_duck([SAMPLES[name]])
    for field in EVIDENCE_FIELDS:
        assert sql[field] == local[field], field


def test_duckdb_sql_agrees_with_filters(data_dir):
    kw = {"start": "2024-08-01", "end": "2024-10-31", "regions": ["us-east-1", "us-west-2"]}
    local, sql = _local_and_duck(list(SAMPLES.values()), **kw)
    assert local["events_filtered"] > 0
    for field in EVIDENCE_FIELDS:
        assert sql[field] == local[field], field


def test_the_duckdb_text_is_derived_from_the_athena_text():
    filters, _ = make_filters(accounts=["111111111111"], start="2026-01-01")
    con = duckdb.connect()
    cols = ", ".join(f"{k} {v}" for k, v in duck.TABLE_COLUMNS.items())
    con.execute(f"CREATE TABLE cloudtrail ({cols})")
    for name, trino in queries("cloudtrail", filters).items():
        assert "from_iso8601_timestamp" in trino.lower(), name
        derived = to_duckdb(trino)
        assert derived == sqlglot.transpile(trino, read="trino", write="duckdb", pretty=True)[0]
        sqlglot.parse_one(trino, read="trino")
        assert con.execute(derived).fetchall() == [], name  # DuckDB runs it (no rows yet)
    con.close()


def test_duckdb_events_view_and_raw_table(data_dir, tmp_path):
    filters, prune = make_filters()
    con = duck.connect(str(tmp_path))
    units = iter_units(resolve_sources([str(SAMPLES["awsdocs"])]), prune)
    duck.load(con, units, str(tmp_path))
    rows = con.execute(
        "SELECT event_name, identity_type, principal_arn, role_arn FROM events "
        "WHERE role_arn IS NOT NULL ORDER BY event_time"
    ).fetchall()
    saml_role = "arn:aws:iam::444455556666:role/SAMLTestRoleShibboleth"
    assert ("AssumeRoleWithSAML", "SAMLUser", None, saml_role) in rows
    raw = con.execute("SELECT count(*) FROM cloudtrail").fetchone()[0]
    assert raw == 9
    # Credentials of AssumeRole responses are never loaded.
    text = con.execute("SELECT string_agg(responseelements, '') FROM cloudtrail").fetchone()[0]
    assert "sessionToken" not in (text or "")
    con.close()


def test_partition_filter_prunes_accounts_regions_and_days():
    filters, _ = make_filters(
        accounts=["222222222222", "111111111111"],
        regions=["eu-west-1"],
        start="2026-01-01",
        end="2026-01-31",
    )
    text = partition_filter(filters)
    assert "account IN ('111111111111', '222222222222')" in text
    assert "region IN ('eu-west-1')" in text
    assert "\"timestamp\" >= '2026/01/01'" in text and "\"timestamp\" <= '2026/01/31'" in text


def test_ddl_projects_accounts_regions_and_days_for_an_organization_trail():
    ddl = create_table_ddl(
        bucket="trail-bucket",
        prefix="org/",
        org_id="o-abcdefghij",
        accounts=["222222222222", "111111111111"],
        regions=["us-east-1"],
        table="ct",
        database="audit",
    )
    assert "CREATE EXTERNAL TABLE IF NOT EXISTS audit.ct (" in ddl
    assert "LOCATION 's3://trail-bucket/org/AWSLogs/o-abcdefghij/'" in ddl
    assert (
        "'storage.location.template' = "
        "'s3://trail-bucket/org/AWSLogs/o-abcdefghij/${account}/CloudTrail/${region}/${timestamp}'"
    ) in ddl
    assert "'projection.account.values' = '111111111111,222222222222'" in ddl
    assert "PARTITIONED BY (account STRING, region STRING, `timestamp` STRING)" in ddl
    assert "identityprovider: STRING" in ddl
    # Valid Hive DDL as far as sqlglot's Athena dialect can tell.
    sqlglot.parse_one(ddl, read="athena")


def test_ddl_refuses_bad_account_ids():
    with pytest.raises(ValueError):
        create_table_ddl(bucket="b", accounts=["123"])
    with pytest.raises(ValueError):
        create_table_ddl(bucket="b", accounts=[])


def _seed(endpoint: str, results: list[list[list[str | None]]]) -> None:
    payload = {
        "results": [
            {
                "rows": [
                    {"Data": [{} if v is None else {"VarCharValue": v} for v in row]}
                    for row in rows
                ]
            }
            for rows in results
        ]
    }
    req = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(req).read()


def _as_text(rows) -> list[list[str | None]]:
    def text(v):
        if v is None:
            return None
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    return [[text(v) for v in r] for r in rows]


def test_athena_round_trip_gives_the_local_evidence(data_dir, endpoint, tmp_path):
    """Seed moto's Athena with what the Athena text returns (computed by running the same
    aggregation in DuckDB over the same events, rendered as Athena renders it: text), then check
    the engine reads it back into the evidence the local engine gives."""
    filters, prune = make_filters()
    paths = [str(SAMPLES["awsdocs"]), str(SAMPLES["stratus"]), str(SAMPLES["otrf"])]
    sources = resolve_sources(paths)
    local = engine.run(iter_units(sources, prune), filters, 1).evidence()
    con = duck.connect(str(tmp_path))
    duck.load(con, iter_units(sources, prune), str(tmp_path))
    qs = queries("cloudtrail", filters)
    results = []
    for name in ("counts", "groups", "assume", "console"):
        cur = con.execute(to_duckdb(qs[name]))
        header = [d[0] for d in cur.description]
        results.append([header, *_as_text(cur.fetchall())])
    con.close()
    _seed(endpoint, results)
    athena = AthenaEngine(
        client=client(endpoint, "athena"),
        database="audit",
        table="cloudtrail",
        workgroup="primary",
        output_location="s3://results/",
        sleep=lambda s: None,
    )
    remote = athena.aggregate(filters).evidence()
    for field in ("role_assumptions", "principal_activity", "access_keys", "console_logins"):
        assert getattr(remote, field) == getattr(local, field), field
    assert remote.events_read == local.events_read


def test_athena_results_are_read_across_pages():
    from botocore.stub import Stubber

    athena_client = client("http://127.0.0.1:9", "athena")
    stub = Stubber(athena_client)
    stub.add_response(
        "get_query_results",
        {
            "ResultSet": {
                "Rows": [{"Data": [{"VarCharValue": "n"}]}, {"Data": [{"VarCharValue": "1"}]}]
            },
            "NextToken": "t1",
        },
        {"QueryExecutionId": "q", "MaxResults": 1000},
    )
    stub.add_response(
        "get_query_results",
        {"ResultSet": {"Rows": [{"Data": [{"VarCharValue": "2"}]}, {"Data": [{}]}]}},
        {"QueryExecutionId": "q", "MaxResults": 1000, "NextToken": "t1"},
    )
    with stub:
        rows = AthenaEngine(client=athena_client, database="d").rows("q")
    assert rows == [["1"], ["2"], [None]]


def test_athena_failed_query_is_an_error():
    from botocore.stub import Stubber

    from dormant.trail.athena import AthenaError

    athena_client = client("http://127.0.0.1:9", "athena")
    stub = Stubber(athena_client)
    stub.add_response("start_query_execution", {"QueryExecutionId": "q"})
    stub.add_response(
        "get_query_execution",
        {"QueryExecution": {"Status": {"State": "FAILED", "StateChangeReason": "Table not found"}}},
    )
    with stub, pytest.raises(AthenaError, match="Table not found"):
        AthenaEngine(client=athena_client, database="d", sleep=lambda s: None).execute("SELECT 1")
