"""The Snowflake leg end to end: a real PostgreSQL OLTP (migrated and simulated), the real fhload writing
Parquet, and finhouse.ingest.snowflake loading it into fakesnow run as a server
(ingest/snowflake/emulator/run) — the only Snowflake this machine can reach. Extraction runs as the
SELECT-only role `finhouse extract-role` makes.

What this proves and what it does not: see ingest/snowflake/README.md. Nothing here is skipped: if PostgreSQL,
fhload or the emulator is missing, the tests fail and say why."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from finhouse.config import ROOT
from finhouse.ingest import registry, snowflake
from finhouse.ingest.fhload import IngestError

pytestmark = pytest.mark.slow

PG_ADMIN = os.environ.get("FINHOUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
PY = sys.executable
LOOKBACK = 60
TAG = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
TABLES = registry.load()
# the tables of the incremental and failure scenarios (every mode, deletes, a few thousand rows)
SUBSET = ["branches", "customers", "loans", "loan_collateral", "payments", "journal_lines"]


def _admin(sql: str, dbname: str = "postgres") -> None:
    with psycopg.connect(f"{PG_ADMIN}/{dbname}", autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


@pytest.fixture(scope="module")
def oltp(tmp_path_factory):
    """A throwaway OLTP database: migrated, a year of a 30-customer institution simulated, and the
    SELECT-only extraction role. Yields {"admin": url, "extract": url, "role": name}."""
    try:
        _admin("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL does not answer at {PG_ADMIN} ({exc}); run `make db`")
    db, role, password = f"fh_snow_{TAG}", f"fh_snow_extract_{TAG}", uuid.uuid4().hex
    _admin(f'CREATE DATABASE "{db}"')
    admin_url = f"{PG_ADMIN}/{db}"
    env = dict(os.environ, FINHOUSE_OLTP_URL=admin_url, DJANGO_SETTINGS_MODULE="config.settings",
               FINHOUSE_EXTRACT_PASSWORD=password)
    try:
        for cmd in ([PY, "corebanking/manage.py", "migrate", "--no-input", "-v", "0"],
                    [PY, "corebanking/manage.py", "simulate", "--customers", "30", "--years", "1",
                     "--seed", "1", "--until", "2025-06-30"],
                    [str(Path(PY).with_name("finhouse")), "extract-role", "--name", role]):
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"{cmd[1:3]} failed: {proc.stderr[-2000:]}"
        host = PG_ADMIN.split("@", 1)[1]
        yield {"admin": admin_url, "extract": f"postgresql://{role}:{password}@{host}/{db}", "role": role}
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        _admin(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """fakesnow started by ingest/snowflake/emulator/run on a free loopback port; its SNOWFLAKE_*
    variables."""
    fhload = ROOT / "ingest" / "engine" / "build" / "fhload"
    if not os.access(fhload, os.X_OK):
        pytest.fail(f"{fhload} is not built; run `make engine`")
    state = tmp_path_factory.mktemp("fakesnow")
    env = dict(os.environ, FAKESNOW_STATE_DIR=str(state))
    run = ROOT / "ingest" / "snowflake" / "emulator" / "run"
    proc = subprocess.run([str(run), "start"], env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"the Snowflake emulator did not start: {proc.stderr.strip()}")
    try:
        yield dict(line.split("=", 1) for line in proc.stdout.split())
    finally:
        for conn in _connections.values():
            conn.close()
        _connections.clear()
        subprocess.run([str(run), "stop"], env=env, timeout=60)


@pytest.fixture
def sf_env(oltp, emulator, tmp_path):
    """make(database) -> the environment a load into that RAW database of the emulator runs with."""

    def make(database: str) -> dict[str, str]:
        return dict(os.environ, **emulator, SNOWFLAKE_RAW_DATABASE=database, SNOWFLAKE_RAW_SCHEMA="OLTP",
                    SNOWFLAKE_LOGIN_TIMEOUT="20", FINHOUSE_OLTP_URL=oltp["extract"],
                    FINHOUSE_HOME=str(tmp_path), FINHOUSE_LOOKBACK_SECONDS=str(LOOKBACK))

    return make


# --- helpers ---------------------------------------------------------------------------------------------


_connections: dict[tuple, object] = {}


def sf_query(env: dict[str, str], sql: str, params=None) -> list[tuple]:
    """Run a query on the emulator (one connection per server, reused: a login costs a round trip)."""
    settings = snowflake.Settings.from_env(env)
    key = (settings.host, settings.port)
    if key not in _connections:
        _connections[key] = snowflake.connect(settings)
    cur = _connections[key].cursor()
    try:
        cur.execute(sql, params)
        return cur.fetchall()
    finally:
        cur.close()


def numeric_columns(oltp, table: str) -> list[str]:
    with psycopg.connect(oltp["admin"]) as conn:
        rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                            "'public' AND table_name = %s AND data_type = 'numeric' "
                            "ORDER BY ordinal_position",
                            (table,)).fetchall()
    return [r[0] for r in rows]


def source_figures(oltp, table: str) -> tuple:
    """(row count, Σ of each numeric column) in the OLTP."""
    sums = "".join(f", sum({c})" for c in numeric_columns(oltp, table))
    with psycopg.connect(oltp["admin"]) as conn:
        return tuple(conn.execute(f"SELECT count(*){sums} FROM {table}").fetchone())


def raw_figures(oltp, env, table: str, key: str = "id") -> tuple:
    """The same figures over the latest version of each key in the raw table, deletes left out. Summed
    here, exactly: the emulator's SUM over a NUMBER(p,s) returns a DOUBLE (Snowflake's stays exact)."""
    cols = [c.upper() for c in numeric_columns(oltp, table)]
    t = f"{env['SNOWFLAKE_RAW_DATABASE']}.OLTP.{table.upper()}"
    rows = sf_query(env, f"SELECT 1{''.join(', ' + c for c in cols)} FROM (SELECT * FROM {t} QUALIFY "
                         f"ROW_NUMBER() OVER (PARTITION BY {key.upper()} ORDER BY _FH_LOAD_ID DESC) = 1) "
                         "WHERE _FH_OP <> 'delete'")
    sums = []
    for i in range(1, len(cols) + 1):
        values = [r[i] for r in rows if r[i] is not None]
        assert all(isinstance(v, Decimal) for v in values), (table, cols[i - 1])
        sums.append(sum(values, Decimal(0)) if values else None)
    return (len(rows), *sums)


def loads_log(env) -> list[tuple]:
    return sf_query(env, f"SELECT TABLE_NAME, LOAD_ID, STATUS, ROWS_LOADED, ROWS_DELETED "
                         f"FROM {env['SNOWFLAKE_RAW_DATABASE']}.OLTP.FH_LOADS ORDER BY LOAD_ID, TABLE_NAME")


def assert_raw_is_committed_loads(env, table: str) -> None:
    """Exactly once: the raw table holds the rows of its committed loads, each load's count as logged, and
    not one row of any other load."""
    db = env["SNOWFLAKE_RAW_DATABASE"]
    on_table = dict(sf_query(env, f"SELECT _FH_LOAD_ID, COUNT(*) FROM {db}.OLTP.{table.upper()} GROUP BY 1"))
    committed = {int(i): int(r) + int(d) for t, i, s, r, d in loads_log(env) if t == table and s == "ok"}
    committed = {i: n for i, n in committed.items() if n}
    assert {int(k): int(v) for k, v in on_table.items()} == committed, table


def state(env) -> dict[str, tuple]:
    rows = sf_query(env, f"SELECT TABLE_NAME, WATERMARK, WATERMARK IS NULL, LAST_LOAD_ID "
                         f"FROM {env['SNOWFLAKE_RAW_DATABASE']}.OLTP.FH_STATE")
    return {t: (None if null else w, int(i)) for t, w, null, i in rows}


def incremental_expectation(oltp, table: str, watermark) -> int:
    """Rows an incremental load from `watermark` must read: changed since it, plus the lookback overlap."""
    with psycopg.connect(oltp["admin"]) as conn:
        return conn.execute(f"SELECT count(*) FROM {table} WHERE updated_at > %s - make_interval(secs => %s)",
                            (watermark, LOOKBACK)).fetchone()[0]


# --- tests -----------------------------------------------------------------------------------------------


def _sql_text(sql: str) -> str:
    """One statement's text with the layout taken out: no comments, no COMMENT clause, single spaces."""
    sql = re.sub(r"--[^\n]*", "", sql)
    sql = re.sub(r"\s+COMMENT\s*=\s*'[^']*'", "", sql)
    return re.sub(r"\(\s+", "(", re.sub(r"\s+", " ", sql)).strip()


def test_bookkeeping_ddl_is_fhloads():
    """The bookkeeping objects are fhload's: `fhload --print-snowflake-setup` prints FH_LOADS (the shape of
    DuckDB's raw._fh_loads), FH_STATE and FH_LEASES, with placeholders the loader names, and the
    provisioning script creates exactly those."""
    statements = snowflake.setup_statements()
    assert [s.split(" (")[0].split(" AS ")[0] for s in statements] == [
        "CREATE TABLE IF NOT EXISTS {log}", "CREATE VIEW IF NOT EXISTS {state}",
        "CREATE TABLE IF NOT EXISTS {leases}"]
    settings = snowflake.Settings.from_env({"SNOWFLAKE_ACCOUNT": "a", "SNOWFLAKE_USER": "u",
                                            "SNOWFLAKE_PASSWORD": "p", "SNOWFLAKE_RAW_DATABASE": "RAW",
                                            "SNOWFLAKE_RAW_SCHEMA": "OLTP"})
    named = [snowflake.Loader(None, settings).named(s) for s in statements]
    assert all("{" not in s for s in named)
    script = (ROOT / "ingest" / "snowflake" / "scripts" / "00_warehouse_and_databases.sql").read_text()
    provisioned = {_sql_text(s) for s in script.split(";")}
    for sql in named:
        assert _sql_text(sql.replace('"', "")) in provisioned, sql


def test_full_load_reconciles(oltp, sf_env):
    env = sf_env("RAW_FULL")
    loads = snowflake.load(env=env)
    assert sorted(r.table for r in loads) == sorted(t.name for t in TABLES)
    st = state(env)
    for r in loads:
        assert r.mode == "full" and r.deleted == 0 and r.rolled_back == []
        src = source_figures(oltp, r.table)
        assert r.rows == src[0], r.table
        assert raw_figures(oltp, env, r.table) == src, r.table
        assert_raw_is_committed_loads(env, r.table)
        assert st[r.table][1] == r.load_id
    assert sum(r.rows for r in loads) > 3000  # the simulation wrote something worth reconciling
    # the state's watermark is the source's newest cursor
    with psycopg.connect(oltp["admin"]) as conn:
        newest = conn.execute("SELECT max(updated_at) FROM payments").fetchone()[0]
    assert st["payments"][0] == newest
    ops = sf_query(env, "SELECT DISTINCT _FH_OP FROM RAW_FULL.OLTP.JOURNAL_LINES")
    assert ops == [("upsert",)]


def test_incremental_loads_only_changes_and_moves_watermark(oltp, sf_env):
    env = sf_env("RAW_INC")
    first = {r.table: r for r in snowflake.load(SUBSET, env=env)}
    before = state(env)
    time.sleep(1.1)  # the changes below get cursors past the watermark even at second precision
    with psycopg.connect(oltp["admin"], autocommit=True) as conn:
        conn.execute("UPDATE loan_collateral SET value = value + 1 WHERE id IN "
                     "(SELECT id FROM loan_collateral ORDER BY id LIMIT 3)")
        conn.execute("UPDATE payments SET status = status "
                     "WHERE id IN (SELECT id FROM payments ORDER BY id LIMIT 5)")
        conn.execute("UPDATE customers SET phone = phone WHERE id = (SELECT min(id) FROM customers)")
        conn.execute("ALTER TABLE branches ADD COLUMN manager_note text")  # a new source column
        conn.execute("INSERT INTO branches (code, name, region, opened_on, manager_note) "
                     "VALUES ('TMP01', 'Pop-up branch', 'Coast', '2025-07-01', 'temporary')")
    expected = {t: incremental_expectation(oltp, t, before[t][0]) for t in SUBSET
                if registry_mode(t) == "incremental"}
    second = {r.table: r for r in snowflake.load(SUBSET, env=env)}
    after = state(env)
    for table, r in second.items():
        if registry_mode(table) == "incremental":
            assert r.mode == "incremental", table
            assert r.rows == expected[table], (table, r.rows, expected[table])
            assert after[table][0] >= before[table][0], table
        assert raw_figures(oltp, env, table) == source_figures(oltp, table), table
        assert_raw_is_committed_loads(env, table)
        assert after[table][1] == r.load_id
    assert second["journal_lines"].rows < first["journal_lines"].rows  # not a full reload
    assert expected["loan_collateral"] >= 3 and expected["payments"] >= 5 and expected["customers"] >= 1
    with psycopg.connect(oltp["admin"]) as conn:
        newest = conn.execute("SELECT max(updated_at) FROM payments").fetchone()[0]
    assert after["payments"][0] == newest > before["payments"][0]
    # the new column flowed through, and the new branch is there with it
    note = sf_query(env, "SELECT MANAGER_NOTE FROM RAW_INC.OLTP.BRANCHES WHERE CODE = 'TMP01'")
    assert note == [("temporary",)]

    # a hard delete in a full table becomes one 'delete' row; staging-style dedup no longer sees the key
    with psycopg.connect(oltp["admin"], autocommit=True) as conn:
        conn.execute("DELETE FROM branches WHERE code = 'TMP01'")
    third = {r.table: r for r in snowflake.load(["branches"], env=env)}
    assert third["branches"].deleted == 1
    assert raw_figures(oltp, env, "branches") == source_figures(oltp, "branches")
    deletes = sf_query(env, "SELECT COUNT(*), MIN(CODE IS NULL) FROM RAW_INC.OLTP.BRANCHES "
                            "WHERE _FH_OP = 'delete'")
    assert deletes == [(1, True)]
    assert_raw_is_committed_loads(env, "branches")


def registry_mode(table: str) -> str:
    return next(t.mode for t in TABLES if t.name == table)


def test_failure_between_copy_and_commit_does_not_double_rows(oltp, sf_env, monkeypatch):
    env = sf_env("RAW_FAIL")
    snowflake.load(SUBSET, env=env)
    time.sleep(1.1)
    with psycopg.connect(oltp["admin"], autocommit=True) as conn:
        conn.execute("UPDATE payments SET status = status "
                     "WHERE id IN (SELECT id FROM payments ORDER BY id LIMIT 7)")

    # The files are PUT and COPY INTO has loaded them, then the step dies before the state moves.
    real_commit = snowflake.Loader.commit

    def dying_commit(self, m, loaded, deleted):
        if m.table == "payments":
            raise RuntimeError("simulated crash after COPY INTO, before the state update")
        return real_commit(self, m, loaded, deleted)

    monkeypatch.setattr(snowflake.Loader, "commit", dying_commit)
    state_before = state(env)
    with pytest.raises(RuntimeError, match="simulated crash"):
        snowflake.load(["payments"], env=env)
    pending = [row for row in loads_log(env) if row[0] == "payments" and row[2] == "pending"]
    assert len(pending) == 1
    pending_id = pending[0][1]
    copied = sf_query(env, "SELECT COUNT(*) FROM RAW_FAIL.OLTP.PAYMENTS WHERE _FH_LOAD_ID = %s",
                      (pending_id,))
    assert copied[0][0] >= 7  # COPY did load them
    assert state(env)["payments"] == state_before["payments"]  # the state did not move

    monkeypatch.setattr(snowflake.Loader, "commit", real_commit)
    rerun = {r.table: r for r in snowflake.load(["payments"], env=env)}
    assert rerun["payments"].rolled_back == [pending_id]
    assert rerun["payments"].rows == incremental_expectation(oltp, "payments", state_before["payments"][0])
    assert sf_query(env, "SELECT COUNT(*) FROM RAW_FAIL.OLTP.PAYMENTS WHERE _FH_LOAD_ID = %s",
                    (pending_id,)) == [(0,)]
    assert_raw_is_committed_loads(env, "payments")
    assert raw_figures(oltp, env, "payments") == source_figures(oltp, "payments")
    statuses = {row[1]: row[2] for row in loads_log(env) if row[0] == "payments"}
    assert statuses[pending_id] == "rolled_back"
    assert state(env)["payments"][1] == rerun["payments"].load_id


def test_sigkill_at_random_points_then_rerun_loses_and_doubles_nothing(oltp, sf_env):
    """The upload step killed (with fhload, its child) at random points of a load, four times, between
    changes in the source; a clean run afterwards leaves every raw table exactly its committed loads and
    reconciled with the source."""
    import random
    import signal

    env = sf_env("RAW_KILL")
    rng = random.Random(7)
    tables = SUBSET + ["loan_installments", "savings_transactions", "journal_entries"]
    args = [a for t in tables for a in ("--table", t)]
    killed_pending = 0
    for round_ in range(4):
        with psycopg.connect(oltp["admin"], autocommit=True) as conn:
            conn.execute("UPDATE payments SET status = status "
                         f"WHERE id IN (SELECT id FROM payments ORDER BY id OFFSET {round_ * 3} LIMIT 3)")
        proc = subprocess.Popen([PY, "-m", "finhouse.cli", "snowflake-load", *args], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        # wait until it is at work on Snowflake (its first line), then kill it somewhere after that
        first = proc.stderr.readline()
        time.sleep(rng.uniform(0.0, 1.2))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert first.startswith("snowflake: "), first
        killed_pending += sum(1 for row in loads_log(env) if row[2] == "pending")
    final = _cli(env, *args)
    assert final.returncode == 0, final.stderr
    # the killed runs' Parquet files (customer data) are gone too
    assert not any((Path(env["FINHOUSE_HOME"]) / "snowflake-stage").rglob("*.parquet"))
    assert not [row for row in loads_log(env) if row[2] == "pending"]
    for table in tables:
        assert_raw_is_committed_loads(env, table)
        assert raw_figures(oltp, env, table) == source_figures(oltp, table), table
    print(f"{killed_pending} pending loads left by the kills were rolled back")


def test_schema_evolution_and_incompatible_change(emulator, sf_env, oltp):
    """fhload decides what a load does to the raw table from the columns Snowflake reports (the rule lives
    in ingest/engine/src/stage_parquet.c, its cases in ingest/engine/tests/unit/test_duck_dest.c): a
    narrower NUMBER is widened, missing columns are added; an incompatible change is refused, exit 4,
    naming table and column, before anything is staged or committed."""
    env = sf_env("RAW_SCHEMA")
    settings = snowflake.Settings.from_env(env)
    conn = snowflake.connect(settings)
    try:
        snowflake.Loader(conn, settings).ensure_objects()
    finally:
        conn.close()
    raw = "RAW_SCHEMA.OLTP.BRANCHES"
    # a raw table from before: a narrower key, two source columns and no metadata columns yet
    sf_query(env, f"CREATE TABLE {raw} (ID NUMBER(18,0), CODE VARCHAR, NAME VARCHAR)")
    first = snowflake.load(["branches"], env=env)[0]
    columns = {c: (p, s) for c, p, s in sf_query(
        env, "SELECT COLUMN_NAME, NUMERIC_PRECISION, NUMERIC_SCALE FROM RAW_SCHEMA.INFORMATION_SCHEMA.COLUMNS"
             " WHERE TABLE_SCHEMA = 'OLTP' AND TABLE_NAME = 'BRANCHES'")}
    assert columns["ID"] == (38, 0)
    assert {"REGION", "OPENED_ON", "UPDATED_AT", "_FH_LOAD_ID", "_FH_OP", "_FH_ROW_HASH"} <= set(columns)
    assert raw_figures(oltp, env, "branches") == source_figures(oltp, "branches")
    assert_raw_is_committed_loads(env, "branches")

    # the source's text column is a BOOLEAN in raw: refused before anything is staged
    sf_query(env, f"ALTER TABLE {raw} DROP COLUMN REGION")
    sf_query(env, f"ALTER TABLE {raw} ADD COLUMN REGION BOOLEAN")
    with pytest.raises(IngestError, match="table branches, column region: the source now has VARCHAR "
                                                 "but the Snowflake raw table holds BOOLEAN") as refused:
        snowflake.load(["branches"], env=env)
    assert refused.value.exit_code == 4
    assert sf_query(env, "SELECT MAX(LOAD_ID) FROM RAW_SCHEMA.OLTP.FH_LOADS")[0][0] == first.load_id
    assert_raw_is_committed_loads(env, "branches")


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "finhouse.cli", "snowflake-load", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_wrong_credentials_give_one_line_and_touch_nothing(sf_env):
    env = sf_env("RAW_CREDS")
    snowflake.load(["branches"], env=env)
    before = loads_log(env)
    proc = _cli(dict(env, SNOWFLAKE_PASSWORD="not-the-password"), "--table", "branches")
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Incorrect username or password" in lines[0] and "SNOWFLAKE_PASSWORD" in lines[0]
    assert "not-the-password" not in proc.stderr
    assert loads_log(env) == before
    # and the same command with the right password works
    ok = _cli(env, "--table", "branches", "--json")
    assert ok.returncode == 0, ok.stderr
    assert '"table": "branches"' in ok.stdout


def test_extract_role_can_select_and_cannot_write(oltp):
    with psycopg.connect(oltp["extract"], autocommit=True) as conn:
        for t in TABLES:
            conn.execute(f"SELECT count(*) FROM {t.name}").fetchone()
        insert = "INSERT INTO branches (code, name, region, opened_on) VALUES ('X', 'x', 'x', '2025-01-01')"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(insert)
        # even in a read-write transaction, it holds no INSERT, UPDATE or DELETE privilege
        for sql in (insert,
                    "UPDATE loans SET status = status", "DELETE FROM payments", "CREATE TABLE evil (i int)"):
            with conn.transaction():
                conn.execute("SET TRANSACTION READ WRITE")
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    with conn.transaction():
                        conn.execute(sql)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # outside the registry: nothing
            conn.execute("SELECT count(*) FROM auth_user")


def test_no_stage_files_are_left_behind(sf_env, tmp_path):
    env = sf_env("RAW_TIDY")
    snowflake.load(["branches"], env=env)
    stage = Path(env["FINHOUSE_HOME"]) / "snowflake-stage"
    assert not any(stage.rglob("*.parquet"))


# --- issue 15: load ids, one loader per table, the delete limit --------------------------------------------


def branch_name(env, branch_id: int) -> str:
    """The name in the newest version of a branch in raw: the row with the greatest load id, as staging
    reads it (dbt's latest_version macro)."""
    db = env["SNOWFLAKE_RAW_DATABASE"]
    return sf_query(env, f"SELECT NAME FROM {db}.OLTP.BRANCHES WHERE ID = %s "
                         "QUALIFY ROW_NUMBER() OVER (ORDER BY _FH_LOAD_ID DESC) = 1", (branch_id,))[0][0]


def test_load_ids_grow_when_the_clock_steps_back(oltp, sf_env, monkeypatch):
    """Load ids come from a Snowflake sequence: a loader whose clock stepped back an hour still gives the
    newer version of a row the greater load id, so staging keeps it."""
    env = sf_env("RAW_CLOCK")
    first = {r.table: r for r in snowflake.load(["branches", "payments"], env=env)}
    assert first["branches"].load_id == first["payments"].load_id  # one fhload run, one load id
    with psycopg.connect(oltp["admin"], autocommit=True) as conn:
        branch_id, old_name = conn.execute("SELECT id, name FROM branches ORDER BY id LIMIT 1").fetchone()
        conn.execute("UPDATE branches SET name = name || ' (renamed)' WHERE id = %s", (branch_id,))
    real_ns, real_s = time.time_ns, time.time
    monkeypatch.setattr(time, "time_ns", lambda: real_ns() - 3600 * 10**9)
    monkeypatch.setattr(time, "time", lambda: real_s() - 3600)
    try:
        second = {r.table: r for r in snowflake.load(["branches", "payments"], env=env)}
    finally:
        monkeypatch.undo()
        with psycopg.connect(oltp["admin"], autocommit=True) as conn:
            conn.execute("UPDATE branches SET name = %s WHERE id = %s", (old_name, branch_id))
    for table in ("branches", "payments"):
        assert second[table].load_id > first[table].load_id, table
        assert state(env)[table][1] == second[table].load_id
        assert_raw_is_committed_loads(env, table)
    assert branch_name(env, branch_id) == old_name + " (renamed)"
    raw_ids = sf_query(env, "SELECT DISTINCT _FH_LOAD_ID FROM RAW_CLOCK.OLTP.BRANCHES ORDER BY 1")
    assert [i for (i,) in raw_ids] == [first["branches"].load_id, second["branches"].load_id]


def test_sequence_starts_above_clock_ids_of_an_existing_deployment(oltp, sf_env):
    """A deployment loaded before the sequence existed holds µs-timestamp load ids: the sequence is created
    above them. One created by hand below them is refused with the statement that fixes it."""
    env = sf_env("RAW_LEGACY")
    db = "RAW_LEGACY.OLTP"
    first = snowflake.load(["branches"], env=env)[0]
    # what the clock-id loader left: the same load under a µs-timestamp id, and no sequence
    legacy = time.time_ns() // 1000
    sf_query(env, f"UPDATE {db}.FH_LOADS SET LOAD_ID = %s WHERE LOAD_ID = %s", (legacy, first.load_id))
    sf_query(env, f"UPDATE {db}.BRANCHES SET _FH_LOAD_ID = %s WHERE _FH_LOAD_ID = %s",
             (legacy, first.load_id))
    sf_query(env, f"DROP SEQUENCE {db}.FH_LOAD_ID_SEQ")
    with psycopg.connect(oltp["admin"], autocommit=True) as conn:
        branch_id, old_name = conn.execute("SELECT id, name FROM branches ORDER BY id LIMIT 1").fetchone()
        conn.execute("UPDATE branches SET name = name || ' (legacy)' WHERE id = %s", (branch_id,))
    try:
        second = snowflake.load(["branches"], env=env)[0]
        assert second.load_id == legacy + 1
        assert branch_name(env, branch_id) == old_name + " (legacy)"
        assert state(env)["branches"][1] == second.load_id

        # a sequence made by hand, below the ids in FH_LOADS: refused, nothing loaded
        sf_query(env, f"CREATE OR REPLACE SEQUENCE {db}.FH_LOAD_ID_SEQ START = 1 INCREMENT = 1")
        before = loads_log(env)
        with pytest.raises(snowflake.SnowflakeConfigError) as refused:
            snowflake.load(["branches"], env=env)
        message = str(refused.value)
        assert f"not above the largest in FH_LOADS ({second.load_id})" in message, message
        assert loads_log(env) == before
        # the statement the message gives fixes it (without ORDER, which the emulator does not parse)
        fix = message.split("recreate it: ", 1)[1]
        assert fix.endswith(" ORDER") and f"START = {second.load_id + 1}" in fix
        sf_query(env, fix.removesuffix(" ORDER"))
        assert snowflake.load(["branches"], env=env)[0].load_id == second.load_id + 1
    finally:
        with psycopg.connect(oltp["admin"], autocommit=True) as conn:
            conn.execute("UPDATE branches SET name = %s WHERE id = %s", (old_name, branch_id))
    assert_raw_is_committed_loads(env, "branches")


def test_row_hash_column_joins_an_existing_raw_table(oltp, sf_env, tmp_path):
    """fhload's _fh_row_hash BIGINT: a raw table created before fhload wrote it takes it as NUMBER(38,0) on
    the next load, every 64-bit value exact; the older rows keep NULL."""
    import duckdb

    env = sf_env("RAW_HASH")
    settings = snowflake.Settings.from_env(env)
    conn = snowflake.connect(settings)
    loader = snowflake.Loader(conn, settings)
    try:
        # the first load as the earlier fhload wrote it: the same files without _fh_row_hash
        loader.ensure_objects()
        assert loader.acquire(["branches"]) == {}
        load_id = loader.next_load_id()
        columns = loader.write_raw_columns(tmp_path / "raw-columns.csv", ["branches"])
        staged, failure = snowflake._run_fhload(["branches"], None, False, tmp_path / "out", load_id, env,
                                                columns)
        assert failure is None and [t.table for t in staged] == ["branches"]
        out = tmp_path / "out" / "branches"
        manifest = json.loads((out / "manifest.json").read_text())
        row_hash = {"name": "_fh_row_hash", "type": "BIGINT", "snowflake_type": "NUMBER(38,0)"}
        assert row_hash in manifest["columns"]
        hashes = dict(duckdb.sql(f"SELECT id, _fh_row_hash FROM read_parquet('{out}/*.parquet')").fetchall())
        for f in manifest["files"]:
            part = out / f["path"]
            duckdb.sql(f"COPY (SELECT * EXCLUDE (_fh_row_hash) FROM read_parquet('{part}')) "
                       f"TO '{part}.old' (FORMAT PARQUET)")
            (out / (f["path"] + ".old")).replace(part)
        manifest["columns"] = [c for c in manifest["columns"] if c["name"] != "_fh_row_hash"]
        [create] = manifest["snowflake"]["schema"]
        assert ', "_FH_ROW_HASH" NUMBER(38,0)' in create
        manifest["snowflake"]["schema"] = [create.replace(', "_FH_ROW_HASH" NUMBER(38,0)', "")]
        (out / "manifest.json").write_text(json.dumps(manifest))
        first = loader.load_manifest(snowflake.Manifest.read(out / "manifest.json"), previous_load=None)
        assert "_FH_ROW_HASH" not in loader.raw_columns(refresh=True)["BRANCHES"]
    finally:
        loader.release()
        conn.close()

    second = snowflake.load(["branches"], env=env)[0]  # today's fhload: the column comes with it
    columns = sf_query(env, "SELECT DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE FROM "
                            "RAW_HASH.INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'BRANCHES' "
                            "AND COLUMN_NAME = '_FH_ROW_HASH'")
    assert tuple(columns[0])[1:] == (38, 0)
    rows = sf_query(env, "SELECT _FH_LOAD_ID, ID, _FH_ROW_HASH FROM RAW_HASH.OLTP.BRANCHES")
    assert {i for load, i, h in rows if load == first.load_id and h is None} == set(hashes)
    assert {i: int(h) for load, i, h in rows if load == second.load_id} == hashes  # unchanged rows
    assert first.rows == second.rows == len(hashes) > 0
    assert_raw_is_committed_loads(env, "branches")


def _pause_at_commit(monkeypatch, thread_name: str, table: str):
    """Make the loader running in thread `thread_name` stop at the start of its commit of `table` (after
    PUT and COPY INTO): returns (load ids seen there, event set once it is waiting, event that lets it go)."""
    real_commit = snowflake.Loader.commit
    seen: list[int] = []
    waiting, go = threading.Event(), threading.Event()

    def commit(self, m, loaded, deleted):
        if threading.current_thread().name == thread_name and m.table == table:
            seen.append(m.load_id)
            waiting.set()
            assert go.wait(300), "the paused loader was never let go"
        return real_commit(self, m, loaded, deleted)

    monkeypatch.setattr(snowflake.Loader, "commit", commit)
    return seen, waiting, go


def _in_thread(name: str, fn) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def run():
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 — handed to the test
            box["error"] = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread, box


def lease_holders(env) -> dict[str, object]:
    db = env["SNOWFLAKE_RAW_DATABASE"]
    return dict(sf_query(env, f"SELECT TABLE_NAME, HOLDER FROM {db}.OLTP.FH_LEASES"))


def test_second_loader_of_a_table_is_refused_while_the_first_loads(oltp, sf_env, monkeypatch):
    """Two loaders of one table at once: while the first is between COPY INTO and its commit, the second
    (a real `finhouse snowflake-load` process) gets a one-line error naming the first, exit 6, and touches
    nothing; the first then commits."""
    env = sf_env("RAW_LEASE")
    snowflake.load(["payments"], env=env)
    with psycopg.connect(oltp["admin"], autocommit=True) as conn:
        conn.execute("UPDATE payments SET status = status WHERE id IN (SELECT id FROM payments ORDER BY id "
                     "LIMIT 9)")
    seen, waiting, go = _pause_at_commit(monkeypatch, "first", "payments")
    first, box = _in_thread("first", lambda: snowflake.load(["payments"], env=env))
    try:
        assert waiting.wait(120), box
        before = loads_log(env)
        second = _cli(env, "--table", "payments")
        assert loads_log(env) == before  # it rolled back nothing and recorded nothing
    finally:
        go.set()
        first.join(120)
    assert "error" not in box, box.get("error")
    assert second.returncode == 6, second.stderr
    line = second.stderr.strip().splitlines()[-1]
    holder = f"{socket.gethostname()} pid {os.getpid()} run "
    assert line.startswith(f"snowflake: table payments is being loaded by {holder}"), line
    assert " since " in line and "wait for it" in line and "FH_LEASES" in line, line
    assert "Traceback" not in second.stderr
    committed = box["result"][0]
    assert committed.load_id == seen[0] and committed.rows >= 9
    assert state(env)["payments"][1] == committed.load_id
    assert not [row for row in loads_log(env) if row[2] == "pending"]
    assert_raw_is_committed_loads(env, "payments")
    assert raw_figures(oltp, env, "payments") == source_figures(oltp, "payments")
    assert lease_holders(env) == {"payments": None}  # released


def test_slow_loader_cannot_commit_rows_another_loader_rolled_back(oltp, sf_env, monkeypatch):
    """The interleaving that lost rows: a loader stalls between COPY INTO and its commit past its lease;
    another loader rolls its load back, and the stalled one resumes right after the other's first write
    to that load. Rolling back used to delete the rows and then mark the load, so the stalled loader
    committed a load whose rows were gone (and the next load started from its watermark). Now the
    roll-back claims the load first and the commit needs the lease: the stalled loader fails, and raw
    holds every committed load exactly once."""
    env = dict(sf_env("RAW_RACE"), SNOWFLAKE_LOADER_LEASE_SECONDS="2")
    snowflake.load(["payments"], env=env)
    with psycopg.connect(oltp["admin"], autocommit=True) as conn:
        conn.execute("UPDATE payments SET status = status WHERE id IN (SELECT id FROM payments ORDER BY id "
                     "LIMIT 11)")
    seen, waiting, go = _pause_at_commit(monkeypatch, "slow", "payments")
    slow, slow_box = _in_thread("slow", lambda: snowflake.load(["payments"], env=env))
    assert waiting.wait(120), slow_box
    time.sleep(3)  # past the slow loader's lease

    # the other loader: right after its first write that names the stalled load, let the stalled one go
    # and wait until it is done
    def after_first_write_on_slow_load(real):
        def run(self, sql, params=None):
            result = real(self, sql, params)
            if (threading.current_thread().name == "other" and not go.is_set() and params
                    and "LOAD_ID" in sql.upper() and sql.lstrip().upper().startswith(("DELETE", "UPDATE"))
                    and seen[0] in params):
                go.set()
                slow.join(120)
            return result
        return run

    for method in ("execute", "rowcount"):
        monkeypatch.setattr(snowflake.Loader, method,
                            after_first_write_on_slow_load(getattr(snowflake.Loader, method)))
    other, other_box = _in_thread("other", lambda: snowflake.load(["payments"], env=env))
    other.join(300)
    go.set()
    slow.join(120)
    assert go.is_set() and not slow.is_alive() and not other.is_alive()

    assert "error" not in other_box, other_box.get("error")
    assert not [row for row in loads_log(env) if row[2] == "pending"]
    assert_raw_is_committed_loads(env, "payments")  # no committed load lost its rows
    assert raw_figures(oltp, env, "payments") == source_figures(oltp, "payments")
    done = other_box["result"][0]
    assert state(env)["payments"][1] == done.load_id and done.rolled_back == [seen[0]]
    statuses = {row[1]: row[2] for row in loads_log(env) if row[0] == "payments"}
    assert statuses[seen[0]] == "rolled_back"
    error = slow_box.get("error")
    assert isinstance(error, snowflake.SnowflakeBusyError), error
    assert "lost its lease" in str(error) and error.exit_code == 6
    assert lease_holders(env) == {"payments": None}


def test_concurrent_loader_processes_keep_every_row_once(oltp, sf_env):
    """Three `finhouse snowflake-load` processes started together on the same tables: each table is
    loaded by one of them at a time, the others say so (exit 6), and afterwards every raw table holds
    exactly its committed loads and reconciles with the source."""
    env = sf_env("RAW_CONC")
    tables = ["branches", "customers", "payments"]
    args = [a for t in tables for a in ("--table", t)]
    assert _cli(env, *args).returncode == 0  # objects and first loads in place
    with psycopg.connect(oltp["admin"], autocommit=True) as conn:
        conn.execute("UPDATE payments SET status = status WHERE id IN (SELECT id FROM payments ORDER BY id "
                     "LIMIT 5)")
    procs = [subprocess.Popen([PY, "-m", "finhouse.cli", "snowflake-load", *args], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outcomes = [(p.wait(300), p.stderr.read()) for p in procs]
    print("exit codes of the concurrent loaders:", [code for code, _ in outcomes])
    for code, err in outcomes:
        assert code in (0, 6), err
        assert "Traceback" not in err, err
        if code == 6:
            assert "is being loaded by" in err.strip().splitlines()[-1], err
    assert any(code == 0 for code, _ in outcomes) or all(
        "is being loaded by" in err for _, err in outcomes)
    assert not [row for row in loads_log(env) if row[2] == "pending"]
    for table in tables:
        assert_raw_is_committed_loads(env, table)
    final = _cli(env, *args)
    assert final.returncode == 0, final.stderr
    for table in tables:
        assert_raw_is_committed_loads(env, table)
        assert raw_figures(oltp, env, table) == source_figures(oltp, table), table
    assert set(lease_holders(env).values()) == {None}  # every lease given back


def test_roll_back_cut_short_is_finished_by_the_next_run(oltp, sf_env, monkeypatch):
    """A roll-back claims the load ('rolled_back', no FINISHED_AT) before deleting its rows; if the loader
    dies between the two, the next run deletes them."""
    env = sf_env("RAW_CUT")
    snowflake.load(["branches"], env=env)

    def dying_commit(self, m, loaded, deleted):
        raise RuntimeError("simulated crash before the commit")

    monkeypatch.setattr(snowflake.Loader, "commit", dying_commit)
    with pytest.raises(RuntimeError):
        snowflake.load(["branches"], env=env)
    monkeypatch.undo()
    (table, load_id, status, _, _), = [row for row in loads_log(env) if row[2] == "pending"]
    # a roll-back that claimed the load and died before deleting its rows
    sf_query(env, "UPDATE RAW_CUT.OLTP.FH_LOADS SET STATUS = 'rolled_back', FINISHED_AT = NULL "
                  "WHERE TABLE_NAME = %s AND LOAD_ID = %s", (table, load_id))
    left = "SELECT COUNT(*) FROM RAW_CUT.OLTP.BRANCHES WHERE _FH_LOAD_ID = %s"
    assert sf_query(env, left, (load_id,))[0][0] > 0
    rerun = snowflake.load(["branches"], env=env)[0]
    assert rerun.rolled_back == [load_id]
    assert_raw_is_committed_loads(env, "branches")
    assert sf_query(env, "SELECT FINISHED_AT IS NULL FROM RAW_CUT.OLTP.FH_LOADS WHERE LOAD_ID = %s",
                    (load_id,)) == [(False,)]


@pytest.fixture
def wrong_source(oltp):
    """A copy of the OLTP where 90% of the payments are gone: a source pointed at the wrong database."""
    db = f"fh_snow_wrong_{TAG}"
    _admin(f'CREATE DATABASE "{db}" TEMPLATE "{oltp["admin"].rsplit("/", 1)[1]}"')
    url = oltp["admin"].rsplit("/", 1)[0] + "/" + db
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")  # no foreign key checks in this copy
            conn.execute("DELETE FROM payments WHERE id % 10 <> 0")
        yield url
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def test_full_load_that_would_delete_most_rows_is_refused(oltp, sf_env, wrong_source):
    env = sf_env("RAW_GUARD")
    snowflake.load(["payments"], env=env)
    live = source_figures(oltp, "payments")[0]
    kept = source_figures({"admin": wrong_source}, "payments")[0]
    gone = live - kept
    assert gone * 100 > 80 * live  # the scenario: ~90% gone
    # the share as the message gives it: exact when whole, else rounded up to a tenth
    tenths = -(-gone * 1000 // live)
    pct = str(gone * 100 // live) if gone * 100 % live == 0 else f"{tenths // 10}.{tenths % 10}"
    wrong = dict(env, FINHOUSE_OLTP_URL=wrong_source)
    before_state, before_raw = state(env), sf_query(env, "SELECT COUNT(*) FROM RAW_GUARD.OLTP.PAYMENTS")

    def refused(proc, limit: int) -> None:
        assert proc.returncode == 5, proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == (
            f"snowflake: table payments: this full load would mark {gone:,} of {live:,} rows ({pct}%) "
            f"deleted, above the {limit}% limit (FINHOUSE_MAX_DELETE_PERCENT) — is the source the right "
            "database? If these rows really were deleted, rerun with --max-delete-percent 100")
        assert "Traceback" not in proc.stderr
        assert state(env) == before_state  # the state did not move
        assert sf_query(env, "SELECT COUNT(*) FROM RAW_GUARD.OLTP.PAYMENTS") == before_raw  # rolled back
        assert not [row for row in loads_log(env) if row[2] == "pending"]

    refused(_cli(wrong, "--full", "--table", "payments"), 50)  # the default
    refused(_cli(dict(wrong, FINHOUSE_MAX_DELETE_PERCENT="80"), "--full", "--table", "payments"), 80)
    bad = _cli(dict(wrong, FINHOUSE_MAX_DELETE_PERCENT="most"), "--full", "--table", "payments")
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "snowflake: FINHOUSE_MAX_DELETE_PERCENT expects a whole number from 0 to 100, got 'most' "
        "— see finhouse snowflake-load --help")
    assert [row[2] for row in loads_log(env)].count("rolled_back") == 2
    assert_raw_is_committed_loads(env, "payments")

    # they really were deleted: the option lifts the limit (over the variable)
    ok = _cli(dict(wrong, FINHOUSE_MAX_DELETE_PERCENT="80"), "--full", "--table", "payments", "--json",
              "--max-delete-percent", "100")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["deleted"] == gone
    assert raw_figures(oltp, env, "payments") == source_figures({"admin": wrong_source}, "payments")
    assert_raw_is_committed_loads(env, "payments")


def test_max_delete_percent_is_read_as_fhload_reads_it():
    read = snowflake.parse_max_delete_percent
    assert read(None) == read("") == 50
    assert read("0") == 0 and read("100") == 100 and read(" 7") == 7 and read("+9") == 9
    for bad in ("101", "-1", "5 ", "5_0", "1.5", "x", "0x10"):
        with pytest.raises(snowflake.SnowflakeConfigError, match="expects a whole number from 0 to 100"):
            read(bad)
    with pytest.raises(snowflake.SnowflakeConfigError):
        read("", "--max-delete-percent", empty_is_default=False)
    assert snowflake._percent(9000, 10000) == "90" and snowflake._percent(5001, 10000) == "50.1"
    assert snowflake._percent(1, 3) == "33.4"  # rounded up: a share above a limit never reads as it
