"""ingest.fhload and `finhouse ingest`: the real fhload run against a throwaway OLTP database (migrated by
the backend, filled by its simulator) into a DuckDB file; its JSON summaries become TableLoad values, its
exit codes become the matching IngestError with fhload's own message, and the command passes a terminal
through so fhload's progress line and summary table show.

Without PostgreSQL or a built fhload these tests fail and say why. The database is named after
FINHOUSE_TEST_DB (set it per session to keep parallel runs apart) and dropped at the end."""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import psycopg
import pytest

from finhouse.config import ROOT
from finhouse.ingest import fhload as ingest
from finhouse.ingest import registry

PG_ADMIN = os.environ.get("FINHOUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
DB = f"{os.environ.get('FINHOUSE_TEST_DB') or 'test_finhouse'}_cli_{os.getpid()}"
URL = f"{PG_ADMIN}/{DB}"
FINHOUSE = Path(sys.executable).parent / "finhouse"
TABLES = registry.by_group(registry.read())


def _admin(sql: str) -> None:
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def _count(table: str) -> int:
    with psycopg.connect(URL) as conn:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def _unreachable() -> str:
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/microfinance"


@pytest.fixture(scope="module")
def institution():
    """A throwaway OLTP database, migrated, with a year of a small institution simulated."""
    try:
        ingest.fhload_path()
    except ingest.FhloadNotFound as exc:
        pytest.fail(str(exc))
    try:
        _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{DB}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL does not answer at {PG_ADMIN} ({exc}); run `make db`")
    env = dict(os.environ, FINHOUSE_OLTP_URL=URL, DJANGO_SETTINGS_MODULE="config.settings")
    try:
        for args in (
            ["migrate", "--no-input", "-v", "0"],
            ["simulate", "--customers", "20", "--years", "1", "--seed", "5", "--until", "2025-06-30"],
        ):
            proc = subprocess.run([sys.executable, "corebanking/manage.py", *args], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, f"manage.py {args[0]} failed: {proc.stderr[-2000:]}"
        yield URL
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


@pytest.fixture
def env(institution, tmp_path) -> dict[str, str]:
    """fhload's environment: the throwaway source, a fresh warehouse file per test."""
    e = dict(os.environ, FINHOUSE_OLTP_URL=institution, FINHOUSE_DUCKDB_PATH=str(tmp_path / "w.duckdb"))
    for name in ("FHLOAD", "FINHOUSE_REGISTRY"):
        e.pop(name, None)
    return e


# --- finhouse.ingest.fhload ---------------------------------------------------------------------------------


def test_run_returns_one_summary_per_table_of_the_groups(env):
    loads = ingest.run(groups=["loans", "payments"], env=env)
    expected = [t.name for t in TABLES["loans"] + TABLES["payments"]]
    assert sorted(load.table for load in loads) == sorted(expected)
    with duckdb.connect(env["FINHOUSE_DUCKDB_PATH"], read_only=True) as con:
        for load in loads:
            assert isinstance(load, ingest.TableLoad) and load.ok
            assert load.group in ("loans", "payments") and load.mode in ("full", "incremental")
            assert load.rows == _count(load.table), load.table  # a first load is full
            raw = f'SELECT count(*) FROM raw."{load.table}" WHERE _fh_load_id = ?'
            assert con.execute(raw, [load.load_id]).fetchone()[0] == load.rows
    assert sum(load.rows for load in loads) > 0
    assert json.loads(json.dumps(loads[0].as_dict()))["table"] == loads[0].table  # XCom-able


def test_load_table_incremental_continues_from_the_watermark(env):
    first = ingest.load_table("payments", env=env)
    second = ingest.load_table("payments", env=env)
    assert first.table == second.table == "payments"
    assert second.mode == "incremental" and second.watermark_from == first.watermark_to
    assert second.load_id != first.load_id


def test_unknown_table_is_a_config_error_with_fhloads_message(env):
    with pytest.raises(ingest.ConfigError) as err:
        ingest.run(["no_such_table"], env=env)
    assert err.value.exit_code == 2 and err.value.tables == ("no_such_table",)
    assert "unknown table 'no_such_table'" in err.value.message
    assert str(err.value).startswith("fhload no_such_table: exit 2 (usage or configuration error): ")


def test_unreachable_source_is_a_connection_error(env):
    env["FINHOUSE_OLTP_URL"] = _unreachable()
    with pytest.raises(ingest.ConnectionFailed) as err:
        ingest.load_table("payments", env=env)
    assert err.value.exit_code == 3 and err.value.tables == ("payments",)
    assert "cannot connect" in err.value.message
    assert not Path(env["FINHOUSE_DUCKDB_PATH"]).exists() or _raw_loads(env) == 0


def _raw_loads(env) -> int:
    with duckdb.connect(env["FINHOUSE_DUCKDB_PATH"], read_only=True) as con:
        have = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = '_fh_loads'"
        )
        if not have.fetchone()[0]:
            return 0
        return con.execute("SELECT count(*) FROM raw._fh_loads").fetchone()[0]


def test_missing_fhload_says_to_build_it(tmp_path):
    with pytest.raises(ingest.FhloadNotFound, match="run `make engine`"):
        ingest.run(["payments"], env={"FHLOAD": str(tmp_path / "fhload")})


def test_error_classes_follow_the_exit_codes():
    assert [ingest.error_class(c).__name__ for c in (1, 2, 3, 4, 5, 77)] == [
        "InternalError", "ConfigError", "ConnectionFailed", "SchemaError", "DataError", "InternalError"]


def test_parse_summaries_reads_loads_and_every_error_shape():
    out = "\n".join([
        '{"table": "loans", "group": "loans", "mode": "full", "rows": 3, "deleted": 1, "bytes": 9, '
        '"seconds": 0.5, "load_id": 7, "watermark_from": null, "watermark_to": "2025-06-30T00:00:00Z", '
        '"status": "ok"}',
        "not json",
        '{"table": null, "status": "failed", "error": {"code": 2, "message": "bad option"}}',
        '{"table": "payments", "error": "plain text"}',
    ])
    loads, errors = ingest.parse_summaries(out)
    assert loads == [ingest.TableLoad("loans", "loans", "full", 3, 1, 9, 0.5, 7, None, "2025-06-30T00:00:00Z",
                                      "ok")]
    assert errors == [(None, "bad option"), ("payments", "plain text")]


# --- `finhouse ingest` -----------------------------------------------------------------------------------


def _finhouse(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(FINHOUSE), "ingest", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_cli_json_prints_one_summary_per_table(env):
    proc = _finhouse("payments", "savings", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    expected = sorted(t.name for t in TABLES["payments"] + TABLES["savings"])
    assert sorted(line["table"] for line in lines) == expected
    assert all(line["status"] == "ok" for line in lines)


def test_cli_reconcile_repairs_a_hard_delete_and_respects_the_delete_limit(env):
    """`finhouse ingest --reconcile` finds the hard delete an incremental load misses; with the whole
    table gone from the source it refuses (exit 5) unless --max-delete-percent 100 says so."""
    assert _finhouse("payments", "--json", env=env).returncode == 0
    url = env["FINHOUSE_OLTP_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # a hard delete, as the app never does
        (gone,) = conn.execute("DELETE FROM payments WHERE id = (SELECT min(id) FROM payments) "
                               "RETURNING id").fetchone()
        assert _finhouse("payments", "--json", env=env).returncode == 0  # incremental: not seen
        proc = _finhouse("payments", "--reconcile", "--json", env=env)
        assert proc.returncode == 0, proc.stderr
        (summary,) = [json.loads(line) for line in proc.stdout.splitlines()]
        assert (summary["mode"], summary["rows"], summary["deleted"]) == ("reconcile", 0, 1)
        assert summary["compared"] == _count("payments")
        saved = conn.execute("SELECT count(*) FROM payments").fetchone()[0]
        conn.execute("CREATE TEMP TABLE saved AS SELECT * FROM payments")
        conn.execute("DELETE FROM payments")
        try:
            proc = _finhouse("payments", "--reconcile", env=env)
            assert proc.returncode == 5
            assert f"would mark {saved} of {saved} rows (100%) deleted" in proc.stderr
            proc = _finhouse("payments", "--reconcile", "--max-delete-percent", "100", "--json", env=env)
            assert proc.returncode == 0 and json.loads(proc.stdout)["deleted"] == saved
        finally:
            conn.execute("INSERT INTO payments SELECT * FROM saved")
    assert gone


def test_cli_on_a_terminal_shows_fhloads_progress_and_summary(env):
    leader, follower = pty.openpty()
    proc = subprocess.Popen([str(FINHOUSE), "ingest", "payments"], env=env, cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: fhload exited
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    text = out.decode()
    assert "rows/s" in text and "payments" in text  # progress line and summary table, not JSON
    assert not text.lstrip().startswith("{")


def test_cli_failure_is_fhloads_line_then_what_the_exit_code_means(env):
    env["FINHOUSE_OLTP_URL"] = _unreachable()
    proc = _finhouse("payments", env=env)
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert "cannot connect" in lines[0]
    assert lines[-1] == "finhouse ingest: fhload failed (exit 3: connection error)"


def test_cli_rejects_an_unknown_group_and_explains_a_missing_engine(env, tmp_path):
    proc = _finhouse("ledgers", env=env)
    assert proc.returncode == 2 and "unknown entity group 'ledgers'" in proc.stderr
    proc = _finhouse("users", env=env)  # the groups' names before they became the Django apps'
    assert proc.returncode == 2
    assert ("unknown entity group 'users'; expected one of customers, savings, loans, payments, ledger, "
            "investments") in proc.stderr
    proc = _finhouse("payments", env=dict(env, FHLOAD=str(tmp_path / "fhload")))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "finhouse ingest: the engine fhload is not built; run `make engine`"
