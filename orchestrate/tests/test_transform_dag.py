"""The transform DAG: declared from dbt's manifest in cosmos' watcher mode, and run through Airflow
(dag.test()) on the small simulated institution fhload loaded into a DuckDB warehouse — once green, to the
serving copy, and once with a raw row that breaks a staging test, which must fail the run, stop what
depends on it and publish nothing.

Each run is one real `dbt build` (the platform environment's dbt, as in production) of every model, snapshot
and test: about a minute or two on 2 cores."""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import duckdb
import pytest

from conftest import ROOT
from finhouse import orchestration
from finhouse.ingest import fhload as ingest
from finhouse.ingest import registry
from finhouse.orchestration import POOL

DAG_ID = orchestration.TRANSFORM_DAG_ID
PRODUCER = "dbt.dbt_producer_watcher"
MANIFEST = ROOT / "transform" / "finhouse" / "target" / "manifest.json"
# The test the broken run must fail on: a staff member's newest raw version has a role the platform
# does not know. The raw sources' own tests (keys, _fh_op) still pass, so it is staging's test that fails.
BROKEN_TEST = "stg_oltp__staff_column_rules"


@pytest.fixture(scope="module")
def nodes() -> dict[str, set[str]]:
    """The project's models, snapshots and marts by name, from the manifest the DAG is rendered from."""
    assert MANIFEST.exists(), f"{MANIFEST} is missing: `make test-airflow` runs `make dbt-manifest` first"
    manifest = json.loads(MANIFEST.read_text())
    own = [n for n in manifest["nodes"].values() if n["package_name"] == "finhouse"]
    return {
        "model": {n["name"] for n in own if n["resource_type"] == "model"},
        "snapshot": {n["name"] for n in own if n["resource_type"] == "snapshot"},
        "mart": {n["name"] for n in own if n["resource_type"] == "model" and n["fqn"][1] == "marts"},
    }


@pytest.fixture(scope="module")
def transform_env(ingest_env, warehouse, tmp_path_factory):
    """Every raw table loaded (fhload, incremental after the ingestion tests), and a serving copy path of
    the test's own — never the demo's."""
    ingest.run()
    tmp = tmp_path_factory.mktemp("transform")
    saved = {k: os.environ.get(k) for k in ("FINHOUSE_DUCKDB_PATH", "FINHOUSE_SERVING_PATH")}
    os.environ["FINHOUSE_SERVING_PATH"] = str(tmp / "serving.duckdb")
    yield tmp
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _producer_xcoms(run) -> dict[str, object]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=PRODUCER))
        return {x.key: XComModel.deserialize_value(x) for x in rows}


def _tables(path, schema: str) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        query = "SELECT table_name FROM information_schema.tables WHERE table_schema = ?"
        return {name for (name,) in con.execute(query, [schema]).fetchall()}


# --- declaration ---------------------------------------------------------------------------------------


def test_dag_is_the_dbt_project_in_watcher_mode_then_the_serving_copy(dagbag, nodes):
    assert dagbag.import_errors == {}
    dag = dagbag.dags[DAG_ID]
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert {a.name for a in dag.timetable.asset_condition.objects} == {
        f"raw.{t.name}" for t in registry.load()}

    producer = dag.get_task(PRODUCER)
    assert type(producer).__name__ == "DbtProducerWatcherOperator"
    assert producer.pool == POOL and producer.retries == 0
    assert [t.task_id for t in dag.roots] == [PRODUCER]  # the one dbt build comes first

    for model in nodes["model"]:
        run_task = dag.get_task(f"dbt.{model}.run")
        assert type(run_task).__name__ == "DbtRunWatcherOperator", model
        assert run_task.pool == "default_pool" and run_task.deferrable, model
    for snapshot in nodes["snapshot"]:
        assert type(dag.get_task(f"dbt.{snapshot}.snapshot")).__name__ == "DbtSnapshotWatcherOperator"
    tests = [t for t in dag.tasks if t.task_id.endswith(".test")]
    assert tests and {type(t).__name__ for t in tests} == {"DbtTestWatcherOperator"}
    # after each model its tests, and what depends on the model waits for them
    assert "dbt.dim_branches.run" in dag.get_task("dbt.stg_oltp__branches.test").downstream_task_ids

    publish = dag.get_task("publish_serving_copy")
    assert publish.pool == POOL
    assert [a.name for a in publish.outlets] == ["serving.marts"]
    # downstream of every dbt task (through the group's leaves), and of the build itself
    assert dag.get_task("dbt.dbt_producer_watcher_done").task_id in publish.upstream_task_ids
    upstream = publish.get_flat_relative_ids(upstream=True)
    assert {t.task_id for t in dag.tasks} - upstream == {"publish_serving_copy"}


def test_without_a_manifest_the_dag_is_not_declared(tmp_path):
    """Rendering without a manifest would run dbt at every parse: the file declares nothing instead."""
    from airflow.dag_processing.dagbag import DagBag

    dags = tmp_path / "orchestrate" / "dags"
    dags.mkdir(parents=True)
    # its transform/ would be tmp_path/transform
    shutil.copy(ROOT / "orchestrate" / "dags" / "transform_dag.py", dags)
    bag = DagBag(dag_folder=dags)
    assert bag.import_errors == {}
    assert bag.dag_ids == []


# --- runs ----------------------------------------------------------------------------------------------


def test_run_builds_every_model_and_publishes_the_serving_copy(dagbag, nodes, transform_env, warehouse):
    serving = transform_env / "serving.duckdb"
    started = time.monotonic()
    run = dagbag.dags[DAG_ID].test()
    seconds = time.monotonic() - started
    states = _states(run)
    print(f"transform DAG on the small institution: {run.state} in {seconds:.1f} s, {len(states)} tasks")
    assert run.state == "success", {k: v for k, v in states.items() if v != "success"}
    assert set(states.values()) == {"success"}
    assert {f"dbt.{m}.run" for m in nodes["model"]} <= set(states)

    assert _tables(warehouse, "marts") >= nodes["mart"]
    assert _tables(serving, "marts") == _tables(warehouse, "marts")
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.dim_branches").fetchone()[0] > 0

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        (published,) = session.scalars(XComModel.get_many(
            run_id=run.run_id, dag_ids=DAG_ID, task_ids="publish_serving_copy", key="return_value"))
        published = XComModel.deserialize_value(published)
    assert published["path"] == str(serving) and published["tables"] == len(_tables(serving, "marts"))


def test_failing_test_fails_the_run_stops_downstream_and_publishes_nothing(dagbag, transform_env, warehouse):
    """The newest raw version of a staff member has a role the platform does not know: staging keeps it,
    the accepted_values test on stg_oltp__staff.staff_role fails, the marts built on staff are not, the run
    fails and the serving copy is left as it was."""
    broken = transform_env / "broken.duckdb"
    shutil.copy(warehouse, broken)
    with duckdb.connect(str(broken)) as con:
        # Only the raw layer is kept, so that every model is built from it (an incremental model would not
        # read a raw row it has already loaded).
        schemas = con.execute("SELECT schema_name FROM information_schema.schemata WHERE catalog_name = "
                              "current_database() AND schema_name NOT IN ('raw', 'main')").fetchall()
        for (schema,) in schemas:
            con.execute(f'DROP SCHEMA "{schema}" CASCADE')
        # The key's newest version is its row of the newest load (load ids grow with load time).
        con.execute("UPDATE raw.staff SET role = 'janitor' WHERE (id, _fh_load_id) = "
                    "(SELECT (id, max(_fh_load_id)) FROM raw.staff GROUP BY id ORDER BY id LIMIT 1)")
        assert con.execute("SELECT count(*) FROM raw.staff WHERE role = 'janitor'").fetchone() == (1,)
    serving = transform_env / "serving-kept.duckdb"
    with duckdb.connect(str(serving)) as con:
        con.execute("CREATE TABLE kept AS SELECT 1 AS x")
    before = serving.stat()

    saved = os.environ["FINHOUSE_SERVING_PATH"], os.environ["FINHOUSE_DUCKDB_PATH"]
    os.environ.update(FINHOUSE_SERVING_PATH=str(serving), FINHOUSE_DUCKDB_PATH=str(broken))
    try:
        run = dagbag.dags[DAG_ID].test()
    finally:
        os.environ["FINHOUSE_SERVING_PATH"], os.environ["FINHOUSE_DUCKDB_PATH"] = saved
    states = _states(run)

    assert run.state == "failed"
    assert states[PRODUCER] == "failed"  # dbt build exited 1
    assert states["dbt.stg_oltp__staff.run"] == "success"  # the model itself was built
    assert states["dbt.stg_oltp__staff.test"] == "failed"
    for downstream in ("dbt.dim_officers.run", "dbt.financial_health_monthly.run"):  # built on staff
        assert states[downstream] in ("upstream_failed", "failed"), downstream
    assert states["publish_serving_copy"] == "upstream_failed"
    assert states["dbt.stg_oltp__loans.test"] == "success"  # the rest of the project was still checked
    after = serving.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    # The producer recorded which tests failed and dbt's message (what orchestrate/bin/run-dags prints): the
    # model's tests as a whole, and the test's last event, dbt's RunResultError.
    xcoms = _producer_xcoms(run)
    assert xcoms["model__finhouse__stg_oltp__staff_tests_status"] == "fail"
    key = re.compile(rf"test__finhouse__{BROKEN_TEST}__[0-9a-f]+_dbt_event")
    (event,) = [value for k, value in xcoms.items() if key.fullmatch(k)]
    assert event["status"] not in ("pass", "success") and "Got 1 result" in event["msg"], event
