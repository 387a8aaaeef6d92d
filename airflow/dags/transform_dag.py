"""The transform DAG: the warehouse RAW layer → dbt project finhouse (staging → intermediate → marts).

This file only declares. astronomer-cosmos renders the dbt project into one task per model, snapshot and
seed, each followed by its tests (TestBehavior.AFTER_EACH): a failing test fails its task and stops every
model downstream of it, and the run fails. The graph is read from dbt's manifest
(dbt/finhouse/target/manifest.json, written by `make dbt-manifest` or any dbt command), so nothing runs `dbt`
at import — without a manifest the DAG is not declared;
the tasks run the platform environment's dbt (.finhouse/venv/bin/dbt, which pins dbt-core, dbt-duckdb and
dbt-snowflake) as a subprocess. It is scheduled on the Assets of the raw tables the ingestion DAGs mark (any
of them updated → one run; max one run at a time), and its tasks take the `warehouse_writer` pool, because
DuckDB has one writer at a time."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import Asset, AssetAny
from cosmos import DbtDag, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from finhouse import ingest, registry

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "dbt" / "finhouse"
FH = Path(os.environ.get("FINHOUSE_HOME", ROOT / ".finhouse"))
MANIFEST = PROJECT / "target" / "manifest.json"
POOL = "warehouse_writer"


def raw_asset(table: str) -> Asset:
    """The Asset the ingestion DAG marks on loading `table` (name and URI as ingest_dags.raw_asset)."""
    return Asset(name=f"raw.{table}", uri=f"duckdb://raw/{table}", group="raw")


if not MANIFEST.exists():
    # Rendering without a manifest would run `dbt ls` at every parse: declare nothing until one exists.
    logging.getLogger(__name__).warning(
        "transform_raw_to_marts is not declared: %s is missing — run `make dbt-manifest` (dbt parse)",
        MANIFEST,
    )
else:
    transform_raw_to_marts = DbtDag(
        dag_id="transform_raw_to_marts",
        description="dbt build of the finhouse project on the warehouse: staging, intermediate, marts, tests",
        project_config=ProjectConfig(
            dbt_project_path=PROJECT,
            manifest_path=MANIFEST,
            env_vars={"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        ),
        profile_config=ProfileConfig(
            profile_name="finhouse",
            target_name=os.environ.get("FINHOUSE_DBT_TARGET", "duckdb"),
            profiles_yml_filepath=PROJECT / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=str(FH / "venv" / "bin" / "dbt"),
        ),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_EACH),
        operator_args={"install_deps": False},
        schedule=AssetAny(*(raw_asset(t.name) for t in registry.load(ingest.registry_path()))),
        start_date=datetime(2025, 1, 1),
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(hours=2),
        default_args={
            "owner": "finhouse-data",
            "pool": POOL,
            "retries": 1,
            "retry_delay": timedelta(minutes=2),
            "execution_timeout": timedelta(minutes=30),
        },
        tags=["finhouse", "transform", "dbt"],
        doc_md=__doc__,
    )
