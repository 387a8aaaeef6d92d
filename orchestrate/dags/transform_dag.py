"""The transform DAG: the warehouse RAW layer → dbt project finhouse (staging → intermediate → marts) → the
serving copy the dashboards read.

This file only declares. astronomer-cosmos renders the dbt project as a task group in its WATCHER execution
mode: one task, `dbt.dbt_producer_watcher`, runs a single `dbt build` (models, snapshots and data tests,
with the profile's threads; the unit tests, whose inputs are fixed, run in CI — `make test` — not on every
load, as dbt recommends) and reports each node's result from dbt's JSON log as it finishes; every
model, snapshot and set of tests then has its own task, which succeeds or fails with its node's result
(TestBehavior.AFTER_EACH: a model's tests are the task after it). A failing test fails its task; dbt skips
what depends on it, whose tasks never succeed; the run fails, and the serving copy is not published. When
every dbt task succeeded, `publish_serving_copy` (serving.publish) rebuilds the serving copy and
atomically swaps it in.

The graph is read from dbt's manifest (transform/finhouse/target/manifest.json, written by `make dbt-manifest`
— dbt parse — or any dbt command), so nothing runs dbt at import; without a manifest the DAG is not declared.
dbt is the platform environment's (.finhouse/venv/bin/dbt: dbt-core, dbt-duckdb, dbt-snowflake), run as a
subprocess. The DAG is scheduled on the Assets of the raw tables the ingestion DAGs mark (any of them
updated → one run; one run at a time). DuckDB has one writer at a time: the dbt build and the publication
take the `warehouse_writer` pool; the per-node tasks only read the build's results from XCom and do not."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Asset, AssetAny, TriggerRule, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import PRODUCER_WATCHER_TASK_ID, ExecutionMode, InvocationMode, LoadMode, TestBehavior

from finhouse import config as fh_config
from finhouse import orchestration
from finhouse.ingest import fhload as ingest
from finhouse.ingest import registry
from finhouse.serve import serving

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "transform" / "finhouse"
FH = fh_config.home()
MANIFEST = PROJECT / "target" / "manifest.json"
POOL = orchestration.POOL
DAG_ID = orchestration.TRANSFORM_DAG_ID
SERVING_ASSET = Asset(**orchestration.SERVING_ASSET)

# No Airflow retries for the dbt tasks. A retried watcher producer does not build again (cosmos skips it),
# and a retried node task re-runs dbt for its node alone: a failed test would only fail again, and a build
# that failed as a whole would turn into one dbt process per model. The next load of a raw table starts a
# fresh run instead; clearing a failed task in the UI re-runs its node.
DEFAULT_ARGS = {
    "owner": "finhouse-data",
    "retries": 0,
    "execution_timeout": timedelta(minutes=30),
}


def raw_asset(table: str) -> Asset:
    """The Asset the ingestion DAG marks on loading `table`."""
    return Asset(**orchestration.raw_asset(table))


@task(pool=POOL, outlets=[SERVING_ASSET], retries=2, retry_delay=timedelta(minutes=1))
def publish_serving_copy() -> dict:
    """Copy the marts into a new serving file and swap it in (finhouse.serve.serving.publish)."""
    published = serving.publish()
    print(f"serving: published {published.tables} tables, {published.rows} rows to {published.path} "
          f"in {published.seconds:.1f} s")
    return {"path": str(published.path), "tables": published.tables, "rows": published.rows,
            "seconds": round(published.seconds, 2)}


if not MANIFEST.exists():
    # Rendering without a manifest would run `dbt ls` at every parse: declare nothing until one exists.
    logging.getLogger(__name__).warning(
        "%s is not declared: %s is missing — run `make dbt-manifest` (dbt parse)", DAG_ID, MANIFEST)
else:
    with DAG(
        dag_id=DAG_ID,
        description="dbt build of the finhouse project (every test gating), then the serving copy",
        schedule=AssetAny(*(raw_asset(t.name) for t in registry.load(ingest.registry_path()))),
        start_date=datetime(2025, 1, 1),
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(hours=2),
        default_args=DEFAULT_ARGS,
        tags=["finhouse", "transform", "dbt"],
        doc_md=__doc__,
    ) as transform_raw_to_marts:
        dbt = DbtTaskGroup(
            group_id="dbt",
            project_config=ProjectConfig(
                dbt_project_path=PROJECT,
                manifest_path=MANIFEST,
                # Unit tests check the SQL on fixed inputs: CI runs them (make test); a production build
                # does not repeat them on every load (dbt's advice: docs/build/unit-tests). dbt's file log
                # at info, not debug: the debug log writes every query of every node, costs the build
                # time (bench/transform) and grows by megabytes a run; DBT_LOG_LEVEL_FILE=debug for a
                # run to investigate.
                env_vars={
                    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                    "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test",
                    "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE", "info"),
                },
                install_dbt_deps=False,  # the project has no packages
            ),
            profile_config=ProfileConfig(
                profile_name="finhouse",
                target_name=fh_config.get("FINHOUSE_DBT_TARGET"),
                profiles_yml_filepath=PROJECT / "profiles.yml",
            ),
            execution_config=ExecutionConfig(
                execution_mode=ExecutionMode.WATCHER,
                invocation_mode=InvocationMode.SUBPROCESS,  # dbt lives in another environment
                dbt_executable_path=str(FH / "venv" / "bin" / "dbt"),
                # The producer: the one task that writes, and the whole build (the run's limit is 2 h).
                setup_operator_args={"pool": POOL, "execution_timeout": timedelta(minutes=90)},
            ),
            # No Asset per model: what this DAG gives downstream is the serving copy (SERVING_ASSET).
            render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST,
                                       test_behavior=TestBehavior.AFTER_EACH, emit_datasets=False),
            # The node tasks are deferrable sensors (cosmos' default): one whose node never reported
            # (the build succeeded without running it) is resolved by the triggerer, so run
            # `airflow triggerer` beside the scheduler (finhouse demo does).
        )
        # The node tasks at the roots of the project read their results once the build has finished,
        # whatever its outcome (cosmos starts a DbtDag's roots with its producer, trigger rule `always`,
        # and leaves a task group's unordered). Every node task then finds its result on its first look:
        # none waits on a build that has not started (nor takes a second process after deferring), and
        # dag.test(), which runs one task at a time, runs the build first.
        producer = dbt.tasks_map[PRODUCER_WATCHER_TASK_ID]
        for node_task in list(dbt.get_roots()):
            if node_task is not producer:
                producer >> node_task
                node_task.trigger_rule = TriggerRule.ALL_DONE
        dbt >> publish_serving_copy()
