"""What the CDC end-to-end tests share (imported by the tests and tests/cdc/conftest.py; never import a
conftest): the private wal_level=logical cluster (scripts/pg-logical), throwaway copies of a simulated
core-banking database on it, `fhload stream` runs, and the reconciliation of RAW's current view against
PostgreSQL.

RAW's current view is dbt's rule (transform/finhouse/macros/latest_version.sql) with streamed rows: per
key, among the rows no later change of the same load replaced (`_fh_superseded IS NOT TRUE`), the row of
the newest load; keys whose current row is a delete are left out."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg

from finhouse.config import ROOT
from finhouse.ingest import registry

FHLOAD = ROOT / "ingest" / "engine" / "build" / "fhload"
REGISTRY = ROOT / "ingest" / "registry.tsv"
TABLES = registry.load(REGISTRY)
PG_LOGICAL = ROOT / "scripts" / "pg-logical"
PORT = int(os.environ.get("FINHOUSE_CDC_PG_PORT") or 5441)
ADMIN = f"postgresql://postgres@127.0.0.1:{PORT}"
PREFIX = f"{os.environ.get('FINHOUSE_TEST_DB') or 'test_finhouse'}_cdc_{os.getpid()}"
# numeric-ish PostgreSQL types whose sums are compared exactly (floats are not: their sums depend on order)
SUMMED = ("numeric", "smallint", "integer", "bigint")

# fh_error.h
EXIT_SCHEMA, EXIT_WAL, EXIT_SLOT, EXIT_BUSY, EXIT_PERM = 4, 6, 7, 8, 9


def pg_logical(command: str) -> subprocess.CompletedProcess:
    """scripts/pg-logical with this run's FINHOUSE_CDC_PG_PORT / FINHOUSE_CDC_PG_DIR (inherited)."""
    return subprocess.run([str(PG_LOGICAL), command], cwd=ROOT, capture_output=True, text=True, timeout=120)


def admin(sql: str, params=None, db: str = "postgres"):
    with psycopg.connect(f"{ADMIN}/{db}", autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else None


def drop_slot(slot: str) -> None:
    """Drop a replication slot, waiting for the walsender of a stream that just exited to let go."""
    for _ in range(100):
        try:
            admin("SELECT pg_drop_replication_slot(%s)", [slot])
            return
        except psycopg.errors.ObjectInUse:
            time.sleep(0.1)
    raise AssertionError(f"replication slot {slot} stayed active for 10 s")


def drop_database(name: str) -> None:
    """Drop a database and the replication slots in it (a slot keeps DROP DATABASE from working)."""
    for slot, pid in admin(
        "SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = %s", [name]
    ):
        if pid:
            admin("SELECT pg_terminate_backend(%s)", [pid])
        drop_slot(slot)
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Source:
    """A throwaway copy of the simulated institution on the private cluster, with its own slot name."""

    def __init__(self, name: str):
        self.name = name
        self.url = f"{ADMIN}/{name}"
        self.slot = name.replace("-", "_")[-60:].lower()

    def sql(self, sql: str, params=None):
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def one(self, sql: str, params=None):
        return self.sql(sql, params)[0][0]

    def lsn(self) -> str:
        """The WAL position after everything committed so far: run the stream --stop-at-lsn to it."""
        return self.one("SELECT pg_current_wal_lsn()::text")

    def stream_args(
        self, warehouse: Path, *args: str, slot: str | None = None, quiet: bool = True
    ) -> list[str]:
        return [
            str(FHLOAD),
            "stream",
            "--source",
            self.url,
            "--warehouse",
            str(warehouse),
            "--registry",
            str(REGISTRY),
            "--slot",
            slot or self.slot,
            "--publication",
            self.slot,
            *(["--quiet"] if quiet else []),
            *args,
        ]

    def stream(
        self,
        warehouse: Path,
        *args: str,
        slot: str | None = None,
        timeout: float = 120,
        expect: int | None = 0,
    ) -> subprocess.CompletedProcess:
        """fhload stream to completion (give it --stop-at-lsn or --max-seconds); exit code checked."""
        proc = subprocess.run(
            self.stream_args(warehouse, *args, slot=slot), capture_output=True, text=True, timeout=timeout
        )
        if expect is not None:
            assert proc.returncode == expect, (
                f"fhload stream {' '.join(args)} exited {proc.returncode}, expected {expect}: "
                f"{proc.stderr.strip()[-3000:]}"
            )
        return proc

    def catch_up(self, warehouse: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Everything committed so far, streamed into the warehouse."""
        return self.stream(warehouse, "--stop-at-lsn", self.lsn(), *args, timeout=timeout)

    def popen(
        self, warehouse: Path, *args: str, slot: str | None = None, quiet: bool = True
    ) -> subprocess.Popen:
        return subprocess.Popen(
            self.stream_args(warehouse, *args, slot=slot, quiet=quiet),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def stop(proc: subprocess.Popen, timeout: float = 60) -> str:
    """SIGTERM a running stream: it commits what is whole, acknowledges it and exits 0."""
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"fhload stream exited {proc.returncode} on SIGTERM: {err[-3000:]}"
    return err


def summed_columns(source: Source) -> dict[str, list[str]]:
    """Every integer and numeric column of every registry table (ids, amounts, balances, rates …)."""
    rows = source.sql(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND data_type = ANY(%s) ORDER BY table_name, ordinal_position",
        [list(SUMMED)],
    )
    cols: dict[str, list[str]] = {t.name: [] for t in TABLES}
    for table, column in rows:
        if table in cols:
            cols[table].append(column)
    return cols


def current_view(table: str, key: list[str]) -> str:
    """RAW's current rows of a table (see the module's docstring)."""
    k = ", ".join(f'"{c}"' for c in key)
    return f"""(SELECT * FROM (
                    SELECT * FROM raw."{table}" WHERE _fh_superseded IS NOT TRUE
                    QUALIFY row_number() OVER (PARTITION BY {k} ORDER BY _fh_load_id DESC) = 1)
                WHERE _fh_op <> 'delete')"""


def _aggregates(cols: list[str]) -> str:
    return ", ".join(["count(*)"] + [f'sum("{c}")' for c in cols])


def _norm(row) -> tuple:
    return tuple(Decimal(v) if v is not None else None for v in row)


def reconcile(source: Source, warehouse: Path, tables=None) -> dict[str, int]:
    """Assert, per registry table: PostgreSQL and RAW's current view have the same row count, the same
    key set and the same sum of every integer/numeric column. Returns rows per table."""
    cols = summed_columns(source)
    tables = [t for t in TABLES if tables is None or t.name in tables]
    src_aggs, src_keys = {}, {}
    with psycopg.connect(source.url) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for t in tables:
            k = ", ".join(f'"{c}"' for c in t.key)
            src_aggs[t.name] = conn.execute(f'SELECT {_aggregates(cols[t.name])} FROM "{t.name}"').fetchone()
            src_keys[t.name] = {r for r in conn.execute(f'SELECT {k} FROM "{t.name}"').fetchall()}
    wrong = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for t in tables:
            k = ", ".join(f'"{c}"' for c in t.key)
            view = current_view(t.name, list(t.key))
            raw_aggs = con.execute(f"SELECT {_aggregates(cols[t.name])} FROM {view}").fetchone()
            raw_keys = {r for r in con.execute(f"SELECT {k} FROM {view}").fetchall()}
            if _norm(raw_aggs) != _norm(src_aggs[t.name]):
                wrong[t.name] = {
                    "columns": ["count"] + cols[t.name],
                    "postgres": src_aggs[t.name],
                    "raw": raw_aggs,
                }
            elif raw_keys != src_keys[t.name]:
                wrong[t.name] = {
                    "only in postgres": sorted(src_keys[t.name] - raw_keys)[:10],
                    "only in raw": sorted(raw_keys - src_keys[t.name])[:10],
                }
    assert not wrong, f"tables that do not reconcile: {wrong}"
    return {name: agg[0] for name, agg in src_aggs.items()}


def assert_no_doubles(warehouse: Path) -> None:
    """A load holds a key at most once among its rows that nothing superseded (cdc_dest.h), and every
    row belongs to a load raw._fh_loads recorded as ok."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        have = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'"
            ).fetchall()
        }
        loads = (
            {
                (r[0], r[1])
                for r in con.execute(
                    "SELECT table_name, load_id FROM raw._fh_loads WHERE status = 'ok'"
                ).fetchall()
            }
            if "_fh_loads" in have
            else set()
        )
        for t in TABLES:
            if t.name not in have:
                continue
            k = ", ".join(f'"{c}"' for c in t.key)
            doubles = con.execute(
                f"""SELECT _fh_load_id, {k}, count(*) FROM raw."{t.name}"
                    WHERE _fh_superseded IS NOT TRUE GROUP BY ALL HAVING count(*) > 1 LIMIT 5"""
            ).fetchall()
            assert not doubles, f"{t.name}: keys twice in one load (load, key, rows): {doubles}"
            ids = {r[0] for r in con.execute(f'SELECT DISTINCT _fh_load_id FROM raw."{t.name}"').fetchall()}
            orphans = {i for i in ids if (t.name, i) not in loads}
            assert not orphans, f"{t.name}: rows of loads raw._fh_loads does not record as ok: {orphans}"


def fingerprint(warehouse: Path) -> dict | None:
    """What a warehouse holds (None if there is no file): rows per raw table, incl. the stream state."""
    if not warehouse.exists():
        return None
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' ORDER BY 1"
            ).fetchall()
        ]
        out = {n: con.execute(f'SELECT count(*) FROM raw."{n}"').fetchone()[0] for n in names}
        if "_fh_stream" in names:
            out["_fh_stream rows"] = con.execute(
                "SELECT list(slot_name || ':' || confirmed_lsn ORDER BY slot_name) FROM raw._fh_stream"
            ).fetchone()[0]
    return out


def nothing_written(before: dict | None, warehouse: Path) -> None:
    after = fingerprint(warehouse)
    if before is None:  # a warehouse file the failed run may have created must hold no data
        assert after is None or all(v in (0, None, []) for v in after.values()), after
    else:
        assert after == before, f"the warehouse changed: {before} → {after}"


def one_line_message(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected a one-line message, got {len(lines)} lines: {stderr!r}"
    return lines[0]


def vm_hwm_kib(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else None

