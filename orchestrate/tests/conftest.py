"""Fixtures of the Airflow tests: real PostgreSQL, real DuckDB, the real fhload.

Run through orchestrate/bin/with-env (`make test-airflow`). Before Airflow is imported, this points it at a
metadata database of its own (`<base>_airflow_meta`, kept between runs and migrated by
orchestrate/bin/setup-db) so test runs never appear in the demo's Airflow. The OLTP is a throwaway database
`<base>_airflow` on FINHOUSE_OLTP_URL's server, created anew each session, migrated by the backend's
Django, filled by its simulator, and dropped at the end; the warehouse is a DuckDB file in a temporary
directory. <base> is FINHOUSE_TEST_DB (set it per session to keep parallel runs apart), default
test_finhouse."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from finhouse import config as fh_config

ROOT = Path(__file__).resolve().parents[2]
TEST_DB = f"{os.environ.get('FINHOUSE_TEST_DB') or 'test_finhouse'}_airflow"
SERVER_URL = fh_config.oltp_url()


def _with_db(url: str, name: str, scheme: str | None = None) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name, scheme=scheme or parts.scheme))


OLTP_URL = _with_db(SERVER_URL, TEST_DB)

# Airflow reads its configuration when first imported: point it at the tests' own metadata database.
META_URL = _with_db(SERVER_URL, f"{TEST_DB}_meta", "postgresql+psycopg2")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = META_URL
os.environ["AIRFLOW_HOME"] = str(ROOT / ".finhouse" / "airflow-test")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "orchestrate" / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# The tasks must find fhload and the source through the same variables as in production.
os.environ.pop("FHLOAD", None)
Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)


def _psql(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(_with_db(SERVER_URL, "postgres"), connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def _setup_airflow_db() -> None:
    subprocess.run([sys.executable, str(ROOT / "orchestrate" / "bin" / "setup-db")], check=True)


def _create_oltp() -> None:
    _psql(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')
    _psql(f'CREATE DATABASE "{TEST_DB}"')
    env = dict(os.environ, FINHOUSE_OLTP_URL=OLTP_URL, DJANGO_SETTINGS_MODULE="config.settings")
    python = str(ROOT / ".finhouse" / "venv" / "bin" / "python")
    manage = str(ROOT / "corebanking" / "manage.py")
    subprocess.run([python, manage, "migrate", "--no-input", "-v", "0"], env=env, cwd=ROOT, check=True)
    simulate = ["simulate", "--customers", "30", "--years", "1", "--seed", "1", "--until", "2025-06-30"]
    subprocess.run([python, manage, *simulate], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def _databases():
    """Both databases are prepared at once (each takes a while: Airflow's migrations, Django's migrations
    and the simulator), then the OLTP is dropped at the end of the session."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {"airflow": pool.submit(_setup_airflow_db), "oltp": pool.submit(_create_oltp)}
        try:
            yield futures
        finally:
            _psql(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')


@pytest.fixture(scope="session")
def airflow_db(_databases) -> None:
    """The tests' Airflow metadata database, created and migrated, with the warehouse_writer pool."""
    _databases["airflow"].result()


@pytest.fixture(scope="session")
def oltp(_databases) -> str:
    """A fresh OLTP database with the backend's tables and one simulated year of a small institution."""
    _databases["oltp"].result()
    return OLTP_URL


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("warehouse") / "finhouse.duckdb"


@pytest.fixture(scope="session")
def ingest_env(airflow_db, oltp, warehouse):
    """The environment the DAGs' tasks see (dag.test() runs them in this process)."""
    saved = {k: os.environ.get(k) for k in ("FINHOUSE_OLTP_URL", "FINHOUSE_DUCKDB_PATH", "FINHOUSE_REGISTRY")}
    os.environ.update(FINHOUSE_OLTP_URL=oltp, FINHOUSE_DUCKDB_PATH=str(warehouse))
    os.environ.pop("FINHOUSE_REGISTRY", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=ROOT / "orchestrate" / "dags")


def pg_count(url: str, table: str) -> int:
    import psycopg2

    conn = psycopg2.connect(url, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute(f'SELECT count(*) FROM "{table}"')
            return cur.fetchone()[0]
    finally:
        conn.close()


def free_loopback_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

