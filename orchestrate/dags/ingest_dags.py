"""The six ingestion DAGs, one per entity group of ingest/registry.tsv: OLTP tables → warehouse RAW layer;
and the daily reconciliation DAG, which repairs what incremental loads cannot see.

Incremental loads read the rows whose cursor moved since the last load (minus a lookback window). Two kinds
of change never move it: a hard delete, and a transaction that committed longer than the lookback after it
wrote its cursor value. `reconcile_oltp_to_raw` runs `fhload --reconcile` once a day on every incremental
table: fhload compares the source with raw's current version of each key (key and row hash, in key ranges
of bounded size) and appends only what differs; its summary (the task's return value) says what it
repaired. Full tables need none: every load of theirs is a full snapshot with delete detection.

This file only declares. At import it reads the registry (`fhload --print-registry`, once per file
version); every task runs the C engine fhload
for one table through `finhouse.ingest.fhload.load_table`, which returns fhload's JSON summary (the task's
return value) or raises the error of fhload's exit code. Each task marks the Asset of its raw table, on
which the transform DAG is scheduled. DuckDB takes one writer at a time, so every task runs in the
`warehouse_writer` pool (one slot, created by `make airflow-db`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset, ExceptionRetryPolicy, RetryAction, RetryRule, task

from finhouse import orchestration
from finhouse.ingest import fhload as ingest
from finhouse.ingest import registry

POOL = orchestration.POOL

# When each entity group loads (the groups are fhload's, named after the Django apps). Money moves all
# day: the ledger and payments every 15 minutes; loans and savings hourly; customers and branches, and
# investments (fixed deposits, which accrue daily), less often. Minutes are staggered so the runs rarely
# wait on each other for the pool.
SCHEDULES = {
    "ledger": "*/15 * * * *",
    "payments": "7-59/15 * * * *",
    "loans": "20 * * * *",
    "savings": "35 * * * *",
    "customers": "50 */3 * * *",
    "investments": "40 2 * * *",
}

DEFAULT_ARGS = {
    "owner": "finhouse-data",
    "pool": POOL,
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,  # 1, 2, 4 minutes
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=1),
    # An unreachable or locked database is worth retrying; a bad table name, a schema change or a value
    # that does not fit is not: fail at once and say why.
    "retry_policy": ExceptionRetryPolicy(
        rules=[
            RetryRule(exception=[ingest.ConnectionFailed, ingest.InternalError], action=RetryAction.DEFAULT),
            RetryRule(
                exception=ingest.IngestError,
                action=RetryAction.FAIL,
                reason="fhload reported a configuration, schema or data error; a retry would fail again",
            ),
        ]
    ),
}


def raw_asset(table: str) -> Asset:
    """The warehouse RAW table that loading `table` updates."""
    return Asset(**orchestration.raw_asset(table))


dag_id = orchestration.ingest_dag_id
RECONCILE_DAG_ID = orchestration.RECONCILE_DAG_ID
RECONCILE_SCHEDULE = "30 3 * * *"  # daily, at a quiet hour, after the investments' nightly load


@task
def load_table(table: str) -> dict:
    """Run fhload for `table`; its JSON summary becomes this task's return value."""
    summary = ingest.load_table(table)
    print(f"{table}: {summary.rows} rows, {summary.deleted} deleted, {summary.seconds:.2f} s, "
          f"load {summary.load_id}, watermark {summary.watermark_from} → {summary.watermark_to}")
    return summary.as_dict()


@task
def reconcile_table(table: str) -> dict:
    """Run fhload --reconcile for `table`; its JSON summary (what it repaired) becomes the return value."""
    summary = ingest.load_table(table, reconcile=True)
    print(f"{table}: compared {summary.compared} source rows; repaired {summary.rows} rows and "
          f"{summary.deleted} deletes in load {summary.load_id}")
    return summary.as_dict()


_REGISTRY = registry.read(ingest.registry_path())

with DAG(
    dag_id=RECONCILE_DAG_ID,
    description="Repair what incremental loads miss (hard deletes, commits older than the lookback): "
    "fhload --reconcile on every incremental table",
    schedule=RECONCILE_SCHEDULE,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=4),
    default_args=DEFAULT_ARGS,
    tags=["finhouse", "ingest", "reconcile"],
    doc_md=__doc__,
) as reconcile_oltp_to_raw:
    for _table in _REGISTRY.tables:
        if _table.mode == "incremental":
            reconcile_table.override(task_id=_table.name, outlets=[raw_asset(_table.name)])(_table.name)

for _group, _tables in registry.by_group(_REGISTRY).items():
    if not _tables:
        continue
    with DAG(
        dag_id=dag_id(_group),
        description=f"Load the OLTP's {_group} tables into the warehouse RAW layer with fhload",
        schedule=SCHEDULES[_group],
        start_date=datetime(2025, 1, 1),
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(hours=2),
        default_args=DEFAULT_ARGS,
        tags=["finhouse", "ingest", _group],
        doc_md=__doc__,
    ) as _dag:
        for _table in _tables:
            load_table.override(task_id=_table.name, outlets=[raw_asset(_table.name)])(_table.name)
    globals()[_dag.dag_id] = _dag
