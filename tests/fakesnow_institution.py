"""A simulated institution loaded into the Snowflake emulator, for the tests that build dbt on it
(test_dbt_fakesnow.py, test_dbt_fakesnow_incremental.py): a throwaway OLTP (60 customers over a year, fixed
seed) on FINHOUSE_TEST_PG's server, fakesnow started by ingest/snowflake/emulator/run, and the platform's own
upload step (`finhouse snowflake-load`: fhload --parquet, PUT, COPY INTO) into RAW.OLTP. Everything is real;
the emulator is stopped and the database dropped when the `institution` context ends."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg

from finhouse.config import ROOT

PG_ADMIN = os.environ.get("FINHOUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
PROJECT = ROOT / "transform" / "finhouse"
VENV = ROOT / ".finhouse" / "venv" / "bin"
EMULATOR = ROOT / "ingest" / "snowflake" / "emulator" / "run"
FHLOAD = ROOT / "ingest" / "engine" / "build" / "fhload"
UNTIL = dt.date(2026, 6, 30)


def database_url(name: str) -> str:
    """The URL of a throwaway OLTP database of this test process (`name` tells the tests apart)."""
    return f"{PG_ADMIN}/{os.environ.get('FINHOUSE_TEST_DB') or 'test_finhouse'}_{name}_{os.getpid()}"


def admin(sql: str) -> None:
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def run(args: list[str], env: dict, timeout: int, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, **kwargs)


def query(env: dict, sql: str) -> list[tuple]:
    import snowflake.connector

    with snowflake.connector.connect(account="fakesnow", user=env["SNOWFLAKE_USER"],
                                     password=env["SNOWFLAKE_PASSWORD"], host=env["SNOWFLAKE_HOST"],
                                     port=int(env["SNOWFLAKE_PORT"]), protocol="http") as conn:
        return conn.cursor().execute(sql).fetchall()


def load(env: dict, tmp: Path) -> None:
    """`finhouse snowflake-load`, staging its Parquet files under FINHOUSE_HOME: a directory of the test's."""
    proc = run([str(VENV / "finhouse"), "snowflake-load"], dict(env, FINHOUSE_HOME=str(tmp)), 600)
    assert proc.returncode == 0, f"snowflake-load failed: {proc.stderr[-3000:]}"


def build(env: dict, tmp: Path, database: str, *extra: str) -> subprocess.CompletedProcess:
    """`dbt build --target fakesnow` into `database`, without what the emulator cannot run: the unit tests
    (temporary tables) and the SCD2 snapshot (dbt-snowflake's snapshot MERGE)."""
    query(env, f"create database if not exists {database}")
    return run([str(VENV / "dbt"), "build", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
                "--target", "fakesnow", "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"),
                "--exclude", "test_type:unit", "loans_status_history", *extra],
               dict(env, SNOWFLAKE_DATABASE=database), 1200)


@contextlib.contextmanager
def institution(url: str, tmp: Path) -> Iterator[dict]:
    """The emulator started with the OLTP at `url` migrated, simulated and loaded into RAW.OLTP; yields the
    environment that reaches both."""
    assert FHLOAD.exists(), "fhload is not built: run `make engine`"
    db = url.rsplit("/", 1)[1]
    env = dict(os.environ, FINHOUSE_OLTP_URL=url, DJANGO_SETTINGS_MODULE="config.settings",
               FAKESNOW_STATE_DIR=str(tmp / "fakesnow"), DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               SNOWFLAKE_RAW_DATABASE="RAW", SNOWFLAKE_RAW_SCHEMA="OLTP", SNOWFLAKE_DATABASE="ANALYTICS",
               SNOWFLAKE_LOGIN_TIMEOUT="20")
    env.pop("FINHOUSE_DBT_TARGET", None)
    admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{db}"')
    try:
        started = run([str(EMULATOR), "start"], env, 600)
        assert started.returncode == 0, f"the Snowflake emulator did not start: {started.stderr.strip()}"
        env.update(line.split("=", 1) for line in started.stdout.split())
        for args in (["migrate", "--no-input", "-v", "0"],
                     ["simulate", "--customers", "60", "--years", "1", "--seed", "11",
                      "--until", UNTIL.isoformat(), "--reset", "-v", "0"]):
            proc = run([sys.executable, "corebanking/manage.py", *args], env, 600)
            assert proc.returncode == 0, f"manage.py {args[0]} failed: {proc.stderr[-2000:]}"
        load(env, tmp)
        yield env
    finally:
        run([str(EMULATOR), "stop"], env, 60)
        admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
