"""The same dbt project builds on Snowflake — as emulated by fakesnow, run as a server by
snowflake/emulator/run. A throwaway OLTP (60 customers over a year, fixed seed) is loaded into the emulator's
RAW.OLTP by the platform's own upload step (`finhouse snowflake-load`: fhload --parquet, PUT, COPY INTO), then
`dbt build --target fakesnow` runs every model and data test. Excluded, because the emulator cannot run them:
the dbt unit tests (they need temporary tables; they run on DuckDB in test_dbt_build.py) and the SCD2 snapshot
(fakesnow cannot bind dbt-snowflake's snapshot MERGE). The GLP of the PAR mart equals the OLTP's.

Nothing is mocked: without PostgreSQL, a built fhload or the emulator's environment the test fails and says
why. Databases and the emulator are dropped and stopped at the end."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal

import psycopg
import pytest

from finhouse.config import ROOT

pytestmark = pytest.mark.slow

PG_ADMIN = os.environ.get("FINHOUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
DB = f"{os.environ.get('FINHOUSE_TEST_DB') or 'test_finhouse'}_dbt_fakesnow_{os.getpid()}"
URL = f"{PG_ADMIN}/{DB}"
PROJECT = ROOT / "dbt" / "finhouse"
VENV = ROOT / ".finhouse" / "venv" / "bin"
EMULATOR = ROOT / "snowflake" / "emulator" / "run"
UNTIL = dt.date(2026, 6, 30)


def _admin(sql: str) -> None:
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def _run(args: list[str], env: dict, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The emulator with the simulated institution in RAW.OLTP and the dbt build's output; yields the env."""
    assert (ROOT / "engine" / "build" / "fhload").exists(), "fhload is not built: run `make engine`"
    tmp = tmp_path_factory.mktemp("dbt_fakesnow")
    env = dict(os.environ, FINHOUSE_OLTP_URL=URL, DJANGO_SETTINGS_MODULE="config.settings",
               FAKESNOW_STATE_DIR=str(tmp / "fakesnow"), DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               SNOWFLAKE_RAW_DATABASE="RAW", SNOWFLAKE_RAW_SCHEMA="OLTP", SNOWFLAKE_DATABASE="ANALYTICS",
               SNOWFLAKE_LOGIN_TIMEOUT="20")
    env.pop("FINHOUSE_DBT_TARGET", None)
    _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{DB}"')
    try:
        started = _run([str(EMULATOR), "start"], env, 600)
        assert started.returncode == 0, f"the Snowflake emulator did not start: {started.stderr.strip()}"
        env.update(line.split("=", 1) for line in started.stdout.split())
        for args in (["migrate", "--no-input", "-v", "0"],
                     ["simulate", "--customers", "60", "--years", "1", "--seed", "11",
                      "--until", UNTIL.isoformat(), "--reset", "-v", "0"]):
            proc = _run([sys.executable, "backend/manage.py", *args], env, 600)
            assert proc.returncode == 0, f"manage.py {args[0]} failed: {proc.stderr[-2000:]}"
        # the upload step stages its Parquet files under FINHOUSE_HOME: a directory of the test's own
        proc = _run([str(VENV / "finhouse"), "snowflake-load"], dict(env, FINHOUSE_HOME=str(tmp)), 600)
        assert proc.returncode == 0, f"snowflake-load failed: {proc.stderr[-3000:]}"
        _query(env, "create database if not exists ANALYTICS")
        proc = _run([str(VENV / "dbt"), "build", "--project-dir", str(PROJECT),
                     "--profiles-dir", str(PROJECT), "--target", "fakesnow",
                     "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"),
                     "--exclude", "test_type:unit", "loans_status_history"],
                    env, 1200)
        yield env, proc
    finally:
        _run([str(EMULATOR), "stop"], env, 60)
        _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


def _query(env: dict, sql: str) -> list[tuple]:
    import snowflake.connector

    with snowflake.connector.connect(account="fakesnow", user=env["SNOWFLAKE_USER"],
                                     password=env["SNOWFLAKE_PASSWORD"], host=env["SNOWFLAKE_HOST"],
                                     port=int(env["SNOWFLAKE_PORT"]), protocol="http") as conn:
        return conn.cursor().execute(sql).fetchall()


def test_dbt_build_passes_on_the_emulated_snowflake(built):
    _, proc = built
    assert proc.returncode == 0, f"dbt build --target fakesnow failed:\n{proc.stdout[-6000:]}"
    assert "ERROR=0" in proc.stdout


def test_schemas_are_exactly_staging_intermediate_marts(built):
    env, _ = built
    schemas = {row[1] for row in _query(env, "show schemas in database ANALYTICS")}
    assert {"STAGING", "INTERMEDIATE", "MARTS"} <= schemas
    assert not {s for s in schemas if s.endswith(("_STAGING", "_INTERMEDIATE", "_MARTS"))}


def test_gross_loan_portfolio_equals_the_oltp(built):
    env, _ = built
    (as_of,) = _query(env, "select as_of_date from ANALYTICS.INTERMEDIATE.INT_CALENDAR_AS_OF")[0]
    (glp,) = _query(env, f"""select gross_loan_portfolio from ANALYTICS.MARTS.PORTFOLIO_AT_RISK_MONTHLY
                             where grain = 'institution' and period_end = '{as_of}'""")[0]
    with psycopg.connect(URL) as conn:
        (expected,) = conn.execute("""select sum(principal_outstanding) from loans
                                      where status in ('active', 'restructured')""").fetchone()
    assert abs(Decimal(str(glp)) - expected) < Decimal("0.005")
