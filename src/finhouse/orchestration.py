"""The names the Airflow side shares: DAG ids, the warehouse writers' pool, the Assets of the raw tables and
of the serving copy. The DAG files (orchestrate/dags), the scripts that set Airflow up and run it
(orchestrate/bin, `finhouse demo`) and the tests read them from here, so that a name is written once.

Standard library only, like the rest of what Airflow imports (tests/test_config.py checks): an Asset is
described by the keyword arguments of airflow.sdk.Asset, which the DAG files pass on."""

from __future__ import annotations

# DuckDB takes one writer at a time: fhload's loads, the dbt build and the serving copy's publication
# queue for this pool's one slot (orchestrate/bin/setup-db creates it).
POOL = "warehouse_writer"
POOL_SLOTS = 1
POOL_DESCRIPTION = "One writer at a time on the DuckDB warehouse (fhload, dbt)"

INGEST_DAG_PREFIX = "ingest_oltp_"
RECONCILE_DAG_ID = "reconcile_oltp_to_raw"
TRANSFORM_DAG_ID = "transform_raw_to_marts"


def ingest_dag_id(group: str) -> str:
    """The ingestion DAG of an entity group of the registry."""
    return f"{INGEST_DAG_PREFIX}{group}_to_raw"


def raw_asset(table: str) -> dict[str, str]:
    """The Asset of the warehouse RAW table that loading `table` updates: the ingestion DAGs mark it, the
    transform DAG is scheduled on it."""
    return {"name": f"raw.{table}", "uri": f"duckdb://raw/{table}", "group": "raw"}


SERVING_ASSET = {"name": "serving.marts", "uri": "duckdb://serving/marts", "group": "serving"}
