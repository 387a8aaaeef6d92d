"""Ingestion end to end on the platform's real parts: a throwaway OLTP database migrated by the backend and
filled by its simulator, the real `fhload` loading it into a DuckDB file, new activity written through the
backend's services (the simulator's live mode), and the warehouse read back with the `duckdb` package.

After every load, each table of ingest/registry.tsv reconciles exactly: row count and the sum of every
numeric (money) column in PostgreSQL equal those of raw.<table> reduced to the latest row per key, keys
whose latest operation is 'delete' left out — what the staging models do. Scenarios:

1. full load, live activity through the services, incremental load → reconciles (the audit log too: the
   live operations arrive in raw.audit_log, by system.simulator);
2. the late-commit race: a transaction that updated a row stays open while a newer change commits and an
   incremental load runs; it commits afterwards with the older cursor value; the next incremental has it;
3. fhload killed with SIGKILL at random points while loading, 20 times, with live activity running (a third
   of the runs with --full) — each load id's rows are all there or none (and match raw._fh_loads), no key
   twice in a load, raw._fh_state agrees with the last committed load (checked after every fourth run and
   at the end; raw being append-only, a torn load would stay visible); a rerun then reconciles exactly.

Nothing is mocked or skipped: without PostgreSQL or a built fhload the tests fail and say why. The database
is named after FINHOUSE_TEST_DB (set it per session to keep parallel runs apart) and dropped at the end."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from decimal import Decimal

import duckdb
import psycopg
import pytest

from finhouse.config import ROOT
from finhouse.ingest import registry
from simulator.testing import finish_live, live, manage

pytestmark = pytest.mark.slow

PG_ADMIN = os.environ.get("FINHOUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
DB = f"{os.environ.get('FINHOUSE_TEST_DB') or 'test_finhouse'}_ingest_{os.getpid()}"
URL = f"{PG_ADMIN}/{DB}"
FHLOAD = ROOT / "ingest" / "engine" / "build" / "fhload"
REGISTRY = ROOT / "ingest" / "registry.tsv"
TABLES = registry.load(REGISTRY)
KILLS = 20
SEED = int(os.environ.get("FINHOUSE_E2E_SEED", str(int(time.time()))))


def _admin(sql: str) -> None:
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def fhload(warehouse, *args: str) -> None:
    proc = subprocess.run(
        [
            str(FHLOAD),
            "--source",
            URL,
            "--warehouse",
            str(warehouse),
            "--registry",
            str(REGISTRY),
            "--quiet",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"fhload {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}"


@pytest.fixture(scope="module")
def institution():
    """A throwaway OLTP database, migrated, with a year of a 60-customer institution simulated."""
    if not os.access(FHLOAD, os.X_OK):
        pytest.fail(f"{FHLOAD} is not built; run `make engine`")
    try:
        _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{DB}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL does not answer at {PG_ADMIN} ({exc}); run `make db`")
    try:
        manage(URL, "migrate", "--no-input", "-v", "0")
        manage(
            URL,
            "simulate",
            "--customers",
            "60",
            "--years",
            "1",
            "--seed",
            "3",
            "--until",
            "2025-06-30",
            "--reset",
        )
        yield URL
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


@pytest.fixture(scope="module")
def money_columns(institution) -> dict[str, list[str]]:
    """The numeric columns of every registry table (amounts, balances, principal, rates …)."""
    with psycopg.connect(URL) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type = 'numeric' ORDER BY table_name, ordinal_position"
        ).fetchall()
    cols: dict[str, list[str]] = {t.name: [] for t in TABLES}
    for table, column in rows:
        if table in cols:
            cols[table].append(column)
    assert sum(map(len, cols.values())) >= 10, f"too few money columns found: {cols}"
    return cols


def _aggregates(cols: list[str]) -> str:
    return ", ".join(["count(*)"] + [f'sum("{c}")' for c in cols])


def reconcile(warehouse, money_columns: dict[str, list[str]]) -> dict[str, int]:
    """Assert, per registry table, source == raw deduplicated to the latest row per key; rows per table."""
    source, raw = {}, {}
    with psycopg.connect(URL) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for t in TABLES:
            source[t.name] = conn.execute(
                f'SELECT {_aggregates(money_columns[t.name])} FROM "{t.name}"'
            ).fetchone()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for t in TABLES:
            key = ", ".join(f'"{k}"' for k in t.key)
            raw[t.name] = con.execute(
                f"""SELECT {_aggregates(money_columns[t.name])} FROM (
                        SELECT * FROM raw."{t.name}"
                        QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _fh_load_id DESC) = 1)
                    WHERE _fh_op <> 'delete'"""
            ).fetchone()
    finally:
        con.close()
    wrong = {
        name: {"postgres": source[name], "raw": raw[name]}
        for name in source
        if tuple(Decimal(v) if v is not None else None for v in source[name])
        != tuple(Decimal(v) if v is not None else None for v in raw[name])
    }
    assert not wrong, f"tables that do not reconcile (count, sums of {money_columns}): {wrong}"
    return {name: source[name][0] for name in source}


def check_atomic(warehouse) -> int:
    """Every load id's rows are all present or absent, no key twice in one load, state = last load.
    Returns the number of committed loads."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        have = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'"
            ).fetchall()
        }
        if "_fh_loads" not in have:
            return 0
        loads = {
            (r[0], r[1]): (r[2], r[3])
            for r in con.execute(
                "SELECT table_name, load_id, rows_loaded, rows_deleted FROM raw._fh_loads"
            ).fetchall()
        }
        assert all(s == "ok" for (s,) in con.execute("SELECT status FROM raw._fh_loads").fetchall())
        for t in TABLES:
            if t.name not in have:
                assert not any(name == t.name for name, _ in loads), f"{t.name}: loads recorded, no raw table"
                continue
            key = ", ".join(f'"{k}"' for k in t.key)
            present = {
                (t.name, r[0]): (r[1], r[2])
                for r in con.execute(
                    f"""SELECT _fh_load_id, count(*) FILTER (WHERE _fh_op = 'upsert'),
                               count(*) FILTER (WHERE _fh_op = 'delete')
                        FROM raw."{t.name}" GROUP BY _fh_load_id"""
                ).fetchall()
            }
            mine = {k: v for k, v in loads.items() if k[0] == t.name}
            orphans = set(present) - set(mine)
            assert not orphans, f"{t.name}: rows of loads that raw._fh_loads does not know: {orphans}"
            for k, (rows, deleted) in mine.items():
                assert present.get(k, (0, 0)) == (rows, deleted), (
                    f"{t.name} load {k[1]}: raw has {present.get(k)} (upserts, deletes), _fh_loads says "
                    f"{(rows, deleted)}"
                )
            doubles = con.execute(
                f"""SELECT count(*) FROM (SELECT _fh_load_id, {key} FROM raw."{t.name}"
                    GROUP BY ALL HAVING count(*) > 1)"""
            ).fetchone()[0]
            assert doubles == 0, f"{t.name}: {doubles} keys appear twice within one load"
            state = con.execute(
                "SELECT last_load_id, watermark FROM raw._fh_state WHERE table_name = ?", [t.name]
            ).fetchone()
            if mine:
                last = max(k[1] for k in mine)
                top = con.execute(
                    "SELECT max(watermark_to) FROM raw._fh_loads WHERE table_name = ?", [t.name]
                ).fetchone()[0]
                assert state is not None and state[0] == last, f"{t.name}: state {state}, last load {last}"
                assert state[1] == top, f"{t.name}: state watermark {state[1]} != latest watermark_to {top}"
            else:
                assert state is None, f"{t.name}: state {state} without any load"
        return len(loads)
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return tmp_path_factory.mktemp("warehouse") / "finhouse.duckdb"


def test_full_then_live_activity_then_incremental_reconciles(institution, money_columns, warehouse):
    fhload(warehouse)  # first load: every table in full
    before = reconcile(warehouse, money_columns)
    assert before["journal_lines"] > 1000 and before["loans"] > 10, before

    finish_live(live(URL, 3))
    fhload(warehouse)  # incremental tables by cursor, full tables with delete detection
    after = reconcile(warehouse, money_columns)
    assert after["journal_entries"] > before["journal_entries"], "live mode posted nothing"
    check_atomic(warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    modes = dict(
        con.execute(
            "SELECT table_name, mode FROM raw._fh_loads QUALIFY row_number() OVER "
            "(PARTITION BY table_name ORDER BY load_id DESC) = 1"
        ).fetchall()
    )
    con.close()
    assert modes["journal_lines"] == "incremental" and modes["branches"] == "full", modes

    # the audit trail arrives like every table: the live operations, each by one of the simulator's system
    # users (a new loan is applied for, approved and disbursed by three: maker-checker)
    new_entries = after["audit_log"] - before["audit_log"]
    assert new_entries > 0 and modes["audit_log"] == "incremental", "live mode left no audit trail in RAW"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (by_simulator,) = con.execute(
            "SELECT count(*) FROM raw.audit_log "
            "WHERE source = 'simulator' AND actor_username LIKE 'system.simulator%'"
        ).fetchone()
    assert by_simulator >= new_entries


def test_late_commit_is_caught_by_next_incremental(institution, money_columns, warehouse):
    if not warehouse.exists():  # run on its own: load everything once first
        fhload(warehouse)
    # Only savings_accounts changes here, so only it is loaded (the other tables stay reconciled).
    with psycopg.connect(URL) as conn:
        old_id, new_id = (
            r[0]
            for r in conn.execute(
                "SELECT id FROM savings_accounts WHERE status = 'active' ORDER BY id LIMIT 2"
            ).fetchall()
        )
    late = psycopg.connect(URL)  # the slow transaction: its trigger stamps updated_at = its start time
    try:
        late.execute("UPDATE savings_accounts SET balance = balance + 123.45 WHERE id = %s", [old_id])
        time.sleep(0.05)
        with psycopg.connect(URL, autocommit=True) as conn:  # a newer change commits first
            conn.execute("UPDATE savings_accounts SET balance = balance + 1.00 WHERE id = %s", [new_id])
        fhload(warehouse, "savings_accounts")  # moves the watermark past the open transaction's updated_at
        late.commit()
    finally:
        late.close()
    with psycopg.connect(URL) as conn:
        stamp_old, stamp_new, balance = conn.execute(
            "SELECT (SELECT updated_at FROM savings_accounts WHERE id = %s), "
            "(SELECT updated_at FROM savings_accounts WHERE id = %s), "
            "(SELECT balance FROM savings_accounts WHERE id = %s)",
            [old_id, new_id, old_id],
        ).fetchone()
    con = duckdb.connect(str(warehouse), read_only=True)
    watermark = con.execute(
        "SELECT watermark FROM raw._fh_state WHERE table_name = 'savings_accounts'"
    ).fetchone()[0]
    con.close()
    assert stamp_old < stamp_new <= watermark, (
        "the race did not happen: the late row is not older than the mark"
    )

    fhload(warehouse, "savings_accounts")
    con = duckdb.connect(str(warehouse), read_only=True)
    latest = con.execute(
        "SELECT balance FROM raw.savings_accounts WHERE id = ? ORDER BY _fh_load_id DESC LIMIT 1", [old_id]
    ).fetchone()[0]
    con.close()
    assert latest == balance, "the late commit was missed by the incremental load"
    reconcile(warehouse, money_columns)
    check_atomic(warehouse)


def test_sigkill_at_random_points_then_rerun_reconciles(institution, money_columns, tmp_path):
    target = tmp_path / "killed.duckdb"
    rng = random.Random(SEED)
    t0 = time.perf_counter()
    fhload(tmp_path / "timing.duckdb")  # how long a whole first load takes here, to aim the kills
    span = time.perf_counter() - t0
    activity = live(URL, 300, rate=5)  # the source keeps changing while fhload is killed and rerun
    kills, attempts, loads = 0, 0, []
    try:
        while kills < KILLS:
            attempts += 1
            assert attempts <= 3 * KILLS, f"only {kills} of {attempts} runs were still loading when killed"
            args = ["--full"] if attempts % 3 == 0 else []
            proc = subprocess.Popen(
                [
                    str(FHLOAD),
                    "--source",
                    URL,
                    "--warehouse",
                    str(target),
                    "--registry",
                    str(REGISTRY),
                    "--quiet",
                    *args,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(rng.uniform(0.0, span))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
            err = proc.stderr.read()
            proc.stderr.close()
            assert proc.returncode in (0, -signal.SIGKILL), f"fhload exited {proc.returncode}: {err}"
            if attempts % 4 == 0:  # raw is append-only: a torn load would also show in the final check
                loads.append(check_atomic(target))
    finally:
        activity.send_signal(signal.SIGTERM)
        finish_live(activity)
    loads.append(check_atomic(target))
    assert loads[-1] > 0, f"no load ever committed in {attempts} runs (seed {SEED})"
    fhload(target)
    reconcile(target, money_columns)
    check_atomic(target)
    fhload(target, "--full")
    reconcile(target, money_columns)
    check_atomic(target)
