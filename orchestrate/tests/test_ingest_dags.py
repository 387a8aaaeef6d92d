"""The ingestion DAGs: generated from the registry, imported cleanly by Airflow, and run through Airflow
(dag.test()) with the real fhload from a real PostgreSQL into a real DuckDB warehouse."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, free_loopback_port, pg_count
from finhouse import orchestration
from finhouse.ingest import registry
from finhouse.orchestration import POOL, RECONCILE_DAG_ID
from finhouse.orchestration import ingest_dag_id as dag_id

TABLES = registry.by_group(registry.read())


# --- declaration ---------------------------------------------------------------------------------------


def test_dagbag_imports_six_ingestion_dags_whose_tasks_are_the_registry(dagbag):
    assert dagbag.import_errors == {}
    assert {d for d in dagbag.dag_ids if d.startswith("ingest_")} == {dag_id(g) for g in registry.groups()}
    for group, tables in TABLES.items():
        dag = dagbag.dags[dag_id(group)]
        assert sorted(dag.task_ids) == sorted(t.name for t in tables)
        assert dag.catchup is False
        assert {"finhouse", "ingest", group} <= set(dag.tags)
        for task in dag.tasks:
            assert [(a.name, a.uri) for a in task.outlets] == [
                (orchestration.raw_asset(task.task_id)["name"], orchestration.raw_asset(task.task_id)["uri"])
            ]
            assert task.pool == POOL
            assert task.owner == "finhouse-data"
            assert task.retries >= 1 and task.retry_exponential_backoff > 1
            assert task.execution_timeout is not None


def test_money_moves_are_loaded_more_often_than_reference_data(dagbag):
    from croniter import croniter

    def runs_per_day(group: str) -> int:
        it = croniter(dagbag.dags[dag_id(group)].schedule, datetime(2025, 1, 1))
        n = 0
        while it.get_next(datetime) < datetime(2025, 1, 2):
            n += 1
        return n

    for busy in ("ledger", "payments"):
        for calm in ("customers", "investments", "savings", "loans"):
            assert runs_per_day(busy) > runs_per_day(calm), (busy, calm)


def test_dag_file_does_no_work_at_import(monkeypatch):
    """Parsing needs no reachable database and loads nothing: it runs fhload once, only to read the registry
    (--print-registry), however many DAG files read it."""
    import subprocess

    from airflow.dag_processing.dagbag import DagBag

    runs = []
    real_run = subprocess.run

    def run(argv, *args, **kwargs):
        runs.append(list(argv))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(registry, "_cache", {})
    monkeypatch.setenv("FINHOUSE_OLTP_URL", f"postgresql://nobody@127.0.0.1:{free_loopback_port()}/none")
    bag = DagBag(dag_folder=ROOT / "orchestrate" / "dags")
    assert bag.import_errors == {}
    assert len([d for d in bag.dag_ids if d.startswith("ingest_")]) == 6
    fhload_runs = [argv[1:] for argv in runs if Path(argv[0]).name == "fhload"]
    assert fhload_runs == [["--registry", str(ROOT / "ingest" / "registry.tsv"), "--print-registry"]]


def test_setup_created_the_single_writer_pool(airflow_db):
    from airflow.models.pool import Pool

    pool = Pool.get_pool(POOL)
    assert pool is not None and pool.slots == 1


# --- runs ----------------------------------------------------------------------------------------------


def _summaries(run) -> dict[str, dict]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, key="return_value"))
        return {x.task_id: XComModel.deserialize_value(x) for x in rows}


def _asset_events(run) -> set[str]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = (
            select(AssetModel.name)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .where(AssetEvent.source_dag_id == run.dag_id, AssetEvent.source_run_id == run.run_id)
        )
        return set(session.scalars(query))


def _loads_recorded(warehouse) -> int:
    if not warehouse.exists():
        return 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT count(*) FROM raw._fh_loads").fetchone()[0]


@pytest.mark.parametrize("group", registry.groups())
def test_dag_runs_to_success_and_raw_holds_the_source_rows(group, dagbag, ingest_env, oltp, warehouse):
    run = dagbag.dags[dag_id(group)].test()
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert set(states.values()) == {"success"}

    tables = TABLES[group]
    summaries = _summaries(run)
    assert set(summaries) == {t.name for t in tables}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in tables:
            summary = summaries[table.name]
            assert summary["status"] == "ok" and summary["table"] == table.name and summary["group"] == group
            loaded = con.execute(
                f'SELECT count(*) FROM raw."{table.name}" WHERE _fh_load_id = ?', [summary["load_id"]]
            ).fetchone()[0]
            assert loaded == summary["rows"], table.name
            # The session's first load of each table is full: raw holds every source row's key.
            keys = ", ".join(f'"{k}"' for k in table.key)
            distinct = con.execute(f'SELECT count(*) FROM (SELECT DISTINCT {keys} FROM raw."{table.name}")')
            assert distinct.fetchone()[0] == pg_count(oltp, table.name), table.name
    assert sum(s["rows"] for s in summaries.values()) > 0, f"the simulator wrote no {group} rows"
    assert _asset_events(run) == {f"raw.{t.name}" for t in tables}


def test_unreachable_source_fails_the_task_with_fhloads_message(ingest_env, warehouse, monkeypatch, capfd):
    from airflow.dag_processing.dagbag import DagBag

    before = _loads_recorded(warehouse)
    port = free_loopback_port()
    monkeypatch.setenv("FINHOUSE_OLTP_URL", f"postgresql://postgres@127.0.0.1:{port}/microfinance")
    dag = DagBag(dag_folder=ROOT / "orchestrate" / "dags").dags[dag_id("payments")]
    for task in dag.tasks:  # a connection error is retried with backoff; don't wait for it here
        task.retries = 0
    run = dag.test()
    (ti,) = run.get_task_instances()
    assert (run.state, ti.state) == ("failed", "failed")
    out = capfd.readouterr()
    assert "ConnectionFailed" in out.out + out.err
    assert f"127.0.0.1:{port}" in out.out + out.err  # fhload's own message, naming the source
    assert _loads_recorded(warehouse) == before


def test_schema_error_fails_at_once_despite_retries(ingest_env, warehouse, tmp_path, monkeypatch, capfd):
    """A table in the registry that the OLTP lacks: fhload exits 4, and the retry policy fails the task
    on its first try instead of retrying something that cannot succeed."""
    from airflow.dag_processing.dagbag import DagBag

    reg = tmp_path / "registry.tsv"
    shutil.copy(ROOT / "ingest" / "registry.tsv", reg)
    with reg.open("a") as f:
        f.write("no_such_table   payments   id   updated_at   incremental\n")
    monkeypatch.setenv("FINHOUSE_REGISTRY", str(reg))
    dag = DagBag(dag_folder=ROOT / "orchestrate" / "dags").dags[dag_id("payments")]
    assert dag.get_task("no_such_table").retries >= 1
    started = datetime.now()
    run = dag.test()
    states = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert run.state == "failed"
    assert states["no_such_table"] == ("failed", 1)
    assert states["payments"][0] == "success"
    assert datetime.now() - started < timedelta(minutes=1)  # no retry delay was waited
    out = capfd.readouterr()
    assert "SchemaError" in out.out + out.err
    assert "no_such_table does not exist in source" in out.out + out.err


def test_locked_warehouse_is_retried_then_loads(ingest_env, warehouse, capfd):
    """Another writer holds the DuckDB file (dbt, a notebook): fhload exits 3, the task is retried with
    backoff instead of failing, and loads once the lock is gone."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=ROOT / "orchestrate" / "dags").dags[dag_id("payments")]
    holder = duckdb.connect(str(warehouse))  # this process now holds DuckDB's write lock on the file

    def release(context):
        holder.close()

    for task in dag.tasks:
        task.retry_delay = timedelta(seconds=1)  # the real delay is minutes
        task.on_retry_callback = [release]
    try:
        run = dag.test()
    finally:
        holder.close()
    (ti,) = run.get_task_instances()
    assert (run.state, ti.state, ti.try_number) == ("success", "success", 2)
    out = capfd.readouterr()
    assert "Could not set lock on file" in out.out + out.err


# --- reconciliation ------------------------------------------------------------------------------------


def test_reconcile_dag_covers_the_incremental_tables_daily(dagbag):
    dag = dagbag.dags[RECONCILE_DAG_ID]
    incremental = {t.name for t in registry.load() if t.mode == "incremental"}
    assert set(dag.task_ids) == incremental
    assert dag.catchup is False and {"finhouse", "reconcile"} <= set(dag.tags)
    for task in dag.tasks:
        assert task.pool == POOL
        assert [a.name for a in task.outlets] == [f"raw.{task.task_id}"]


def test_reconcile_dag_repairs_what_incremental_loads_missed(dagbag, ingest_env, oltp, warehouse):
    """A hard delete and a commit whose cursor is older than the lookback: the incremental load misses both,
    the reconciliation DAG finds and repairs exactly those, and says so in its summaries."""
    import psycopg2

    for group in ("loans", "payments"):  # raw holds the tables (whatever ran before)
        assert dagbag.dags[dag_id(group)].test().state == "success"
    conn = psycopg2.connect(oltp, connect_timeout=5)
    conn.autocommit = True
    with conn.cursor() as cur:
        # As the application never would: bypass triggers and foreign keys (a hard delete, and a row
        # changed with an old cursor value, as a transaction that committed hours after it began).
        cur.execute("SET session_replication_role = replica")
        cur.execute("DELETE FROM loan_collateral WHERE id = (SELECT min(id) FROM loan_collateral)"
                    " RETURNING id")
        (deleted_id,) = cur.fetchone()
        cur.execute("UPDATE payments SET reference = reference || '-late',"
                    " updated_at = updated_at - interval '1 day'"
                    " WHERE id = (SELECT min(id) FROM payments) RETURNING id")
        (late_id,) = cur.fetchone()
    conn.close()
    for group in ("loans", "payments"):  # the incremental loads see neither
        assert dagbag.dags[dag_id(group)].test().state == "success"
    newest = "SELECT {} FROM raw.{} WHERE id = ? ORDER BY _fh_load_id DESC LIMIT 1"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        latest = con.execute(newest.format("_fh_op", "loan_collateral"), [deleted_id]).fetchone()[0]
        assert latest == "upsert"

    run = dagbag.dags[RECONCILE_DAG_ID].test()
    assert run.state == "success", {ti.task_id: ti.state for ti in run.get_task_instances()}
    summaries = _summaries(run)
    assert {t: (s["rows"], s["deleted"]) for t, s in summaries.items() if s["rows"] or s["deleted"]} == {
        "loan_collateral": (0, 1), "payments": (1, 0)}
    assert all(s["mode"] == "reconcile" and s["compared"] == pg_count(oltp, t) for t, s in summaries.items())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        op = con.execute(newest.format("_fh_op", "loan_collateral"), [deleted_id]).fetchone()[0]
        reference = con.execute(newest.format("reference", "payments"), [late_id]).fetchone()[0]
    assert op == "delete" and reference.endswith("-late")
    assert _asset_events(run) == {f"raw.{t}" for t in summaries}
