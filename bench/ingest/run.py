#!/usr/bin/env python3
"""Ingest benchmark: fhload against the physical limit and its peers, side by side in one run.

For each table size (1M and 10M rows of a 10-column `transactions`-like table in the database
fh_bench, created with generate_series when missing) and each run, every path runs as its own child
process (under GNU time, which reports the peak RSS of its process tree), so that its RSS is its own:

  copy1    psql: COPY (SELECT * FROM t) TO STDOUT (FORMAT binary) > /dev/null — one stream
  copy2    two such psql streams over the two halves of the table's ctid range, at once — the same
           parallelism as fhload's default (--workers 2); the physical limit is the faster of the two
  pandas   the seed's path: SQLAlchemy + psycopg, pandas.read_sql(chunksize=100_000) → one Parquet
           file per chunk (pyarrow) → DuckDB CREATE TABLE AS SELECT * FROM read_parquet(...)
  adbc     ADBC PostgreSQL driver → Arrow record batch stream → DuckDB CREATE TABLE AS SELECT with the
           numeric columns (which ADBC delivers as strings) cast to DECIMAL(p,s)
  scanner  DuckDB's postgres scanner (duckdb-ext-postgres, loaded by path): ATTACH … (TYPE postgres,
           READ_ONLY); CREATE TABLE AS SELECT * FROM pg.public.t
  fhload   ingest/engine/build/fhload, first (= full) load into a fresh DuckDB file, committed with its state
  fhload_incr  then UPDATE 1% of the rows (id % 100 = 0, updated_at = now(); not timed), and
           fhload's incremental load into the same file
  fhload_history  then full loads into the same file (not timed) until raw holds 10 versions of every
           key (--versions), DELETE 1% of the source rows (id % 100 = 1, put back afterwards), and a
           full load: delete detection against raw's current keys, in passes within the memory limit,
           whatever raw's history (it aggregated the whole history at once and ran out of 128MB)
  fhload_reconcile  then 0.1% of the source rows changed with an old cursor (what an incremental load
           misses) and 0.1% deleted, and `fhload --reconcile`: the whole source compared with raw's
           current keys in key ranges, only the 0.2% written (the source is put back afterwards)
  fhload_upgrade  the same warehouse as a version before the current-keys table left it (that table
           dropped): the full load first rebuilds it from raw's whole history, in passes

Every DuckDB result is checked against PostgreSQL (row count, Σ amount, Σ balance_after; for the
incremental load: the rows it read, and raw deduplicated to the latest row per key). Medians over the
runs, peak RSS = the largest over the runs. Writes bench/ingest/results.json and the results section
of bench/ingest/README.md.

Usage: run.py [--sizes 1m,10m] [--runs 3] [--runs-large 3] [--pandas-runs-large 1] [--paths ...]
              [--no-readme]
       run.py child PATH TABLE OUTDIR      (internal: one path in its own process)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FHLOAD = os.environ.get("FHLOAD", str(ROOT / "ingest" / "engine" / "build" / "fhload"))
REGISTRY = HERE / "registry.tsv"
README = HERE / "README.md"
RESULTS = HERE / "results.json"
WORKDIR = Path(os.environ.get("FINHOUSE_BENCH_DIR", str(ROOT / ".finhouse" / "bench-ingest")))
URL = os.environ.get("FINHOUSE_BENCH_INGEST_URL", "postgresql://postgres@127.0.0.1:5432/fh_bench")

SIZES = {"1m": ("transactions_1m", 1_000_000), "10m": ("transactions", 10_000_000)}
PATHS = ["copy1", "copy2", "fhload", "fhload_incr", "fhload_history", "fhload_reconcile", "fhload_upgrade",
         "adbc", "scanner", "pandas"]
# in this order, into one warehouse file
FHLOAD_PATHS = ("fhload", "fhload_incr", "fhload_history", "fhload_reconcile", "fhload_upgrade")
HISTORY_PATHS = FHLOAD_PATHS[2:]
VERSIONS = 10
PEERS = ["pandas", "adbc", "scanner"]
LABELS = {
    "copy1": "(a) COPY binary → /dev/null, 1 stream (psql)",
    "copy2": "(a) COPY binary → /dev/null, 2 ctid-range streams (psql ×2)",
    "pandas": "(b) pandas.read_sql → Parquet → DuckDB (seed)",
    "adbc": "(c) ADBC → Arrow → DuckDB",
    "scanner": "(d) DuckDB postgres scanner",
    "fhload": "(e) fhload full → DuckDB, committed",
    "fhload_incr": "(f) fhload incremental after 1% changed",
    "fhload_history": "(g) fhload full, raw holding 10 versions a key, 1% deleted",
    "fhload_reconcile": "(h) fhload --reconcile, 0.1% changed behind the watermark, 0.1% deleted",
    "fhload_upgrade": "(i) (g), current keys rebuilt from raw's history first (upgrade)",
}
PANDAS_CHUNK = 100_000
MIB = 1024 * 1024

# ---------------------------------------------------------------------------------------------------
# The table

CREATE_SQL = """
CREATE TABLE {t} (
    id            bigint PRIMARY KEY,
    account_id    bigint NOT NULL,
    amount        numeric(18,2) NOT NULL,
    balance_after numeric(18,2) NOT NULL,
    reference     text,
    channel       varchar(16) NOT NULL,
    value_date    date NOT NULL,
    posted_at     timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    reversed      boolean NOT NULL
);
INSERT INTO {t}
SELECT g,
       1 + (g * 7919) % 200000,
       round(((g * 104729) % 2000000 - 500000) / 100.0, 2),
       round(((g * 15485863) % 100000000) / 100.0, 2),
       CASE WHEN g % 50 = 0 THEN NULL
            ELSE 'TRX-' || lpad(g::text, 10, '0') || '-' || to_hex((g * 2654435761) % 4294967296) END,
       (ARRAY['branch', 'mobile', 'agent', 'atm', 'online', 'transfer'])[1 + g % 6],
       DATE '2021-01-01' + (g * 14 / 86400)::int,
       TIMESTAMPTZ '2021-01-01 00:00:00+00' + g * INTERVAL '14 seconds',
       TIMESTAMPTZ '2021-01-01 00:00:00+00' + g * INTERVAL '14 seconds' + (g % 3600) * INTERVAL '1 second',
       g % 97 = 0
FROM generate_series(1::bigint, {n}) AS g;
"""
COPY_SQL = """
CREATE TABLE {t} (LIKE {src} INCLUDING ALL);
INSERT INTO {t} SELECT * FROM {src} WHERE id <= {n};
"""
# An OLTP table read incrementally has an index on its cursor (the backend's tables do too).
INDEX_SQL = "CREATE INDEX IF NOT EXISTS {t}_updated_at ON {t} (updated_at);"


def pg_admin_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/postgres"))


def ensure_tables(sizes: list[str]) -> None:
    import psycopg

    name = urllib.parse.urlsplit(URL).path.lstrip("/")
    with psycopg.connect(pg_admin_url(URL), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    need_big = any(SIZES[s][0] == "transactions" for s in sizes) or "1m" in sizes
    with psycopg.connect(URL, autocommit=True) as conn:

        def exists(t: str) -> bool:
            return conn.execute("SELECT to_regclass(%s) IS NOT NULL", [t]).fetchone()[0]

        made = []
        if need_big and not exists("transactions"):
            print("creating transactions (10M rows) with generate_series …", flush=True)
            t0 = time.perf_counter()
            with conn.transaction():
                conn.execute(CREATE_SQL.format(t="transactions", n=10_000_000))
                conn.execute(INDEX_SQL.format(t="transactions"))
            print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
            made.append("transactions")
        if "1m" in sizes and not exists("transactions_1m"):
            with conn.transaction():
                conn.execute(COPY_SQL.format(t="transactions_1m", src="transactions", n=1_000_000))
            made.append("transactions_1m")
        for t in made:
            # Set hint bits and the visibility map now, so that no path pays for them on its first read.
            conn.execute(f"VACUUM (FREEZE, ANALYZE) {t}")


def pg_check(table: str) -> dict:
    """Row count and sums of the money columns in PostgreSQL."""
    import psycopg

    with psycopg.connect(URL) as conn:
        n, a, b = conn.execute(f"SELECT count(*), sum(amount), sum(balance_after) FROM {table}").fetchone()
    return {"rows": n, "amount": str(a), "balance_after": str(b)}


def pg_numeric_columns(table: str) -> dict[str, tuple[int, int]]:
    import psycopg

    with psycopg.connect(URL) as conn:
        rows = conn.execute(
            "SELECT column_name, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_name = %s AND data_type = 'numeric'",
            [table],
        ).fetchall()
    return {c: (p, s) for c, p, s in rows}


def relpages(table: str) -> int:
    import psycopg

    with psycopg.connect(URL) as conn:
        return conn.execute(
            "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int", [table]
        ).fetchone()[0]


# ---------------------------------------------------------------------------------------------------
# The peers, each in a child process (`run.py child PATH TABLE OUTDIR`); each prints one JSON line:
# {"seconds": work time from connecting to the committed, closed DuckDB file}


def child(path: str, table: str, outdir: str) -> None:
    import duckdb

    db = os.path.join(outdir, "peer.duckdb")
    if path == "pandas":
        import pandas as pd
        import sqlalchemy

        sa_url = URL.replace("postgresql://", "postgresql+psycopg://", 1)
        t0 = time.perf_counter()
        engine = sqlalchemy.create_engine(sa_url)
        parts = os.path.join(outdir, "parquet")
        os.makedirs(parts)
        with engine.connect() as con:
            for i, df in enumerate(pd.read_sql(f"SELECT * FROM {table}", con, chunksize=PANDAS_CHUNK)):
                df.to_parquet(os.path.join(parts, f"part-{i:05d}.parquet"), index=False)
        engine.dispose()
        duck = duckdb.connect(db)
        duck.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{parts}/*.parquet', union_by_name = true)"
        )
        duck.close()
    elif path == "adbc":
        import adbc_driver_postgresql.dbapi as adbc

        numeric = pg_numeric_columns(table)  # catalog lookup, before the clock starts
        t0 = time.perf_counter()
        with adbc.connect(URL) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT * FROM {table}")
            reader = cur.fetch_record_batch()
            cols = []
            for f in reader.schema:
                if f.name in numeric:  # arrives as an opaque extension type stored as strings
                    p, s = numeric[f.name]
                    cols.append(f'CAST("{f.name}" AS DECIMAL({p},{s})) AS "{f.name}"')
                else:
                    cols.append(f'"{f.name}"')
            duck = duckdb.connect(db)
            duck.register("src", reader)
            duck.execute(f"CREATE TABLE {table} AS SELECT {', '.join(cols)} FROM src")
            duck.close()
    elif path == "scanner":
        ext = glob.glob(
            os.path.join(
                sys.prefix,
                "lib",
                "python3*",
                "site-packages",
                "duckdb_ext",
                "extensions",
                "v1.4.4",
                "*",
                "postgres_scanner.duckdb_extension",
            )
        )[0]
        t0 = time.perf_counter()
        duck = duckdb.connect(db)
        duck.execute(f"LOAD '{ext}'")
        duck.execute(f"ATTACH '{URL}' AS pg (TYPE postgres, READ_ONLY)")
        duck.execute(f"CREATE TABLE {table} AS SELECT * FROM pg.public.{table}")
        duck.close()
    else:
        raise SystemExit(f"unknown path {path}")
    print(json.dumps({"seconds": time.perf_counter() - t0}))


# ---------------------------------------------------------------------------------------------------
# Running a child and measuring it


def spawn(cmd: list[str], *, stdout=None) -> dict:
    """Run cmd to completion: wall seconds, peak RSS of its process tree, its stdout.

    The peak RSS comes from GNU time (`/usr/bin/time -f %M`: ru_maxrss of wait4, the largest process of the
    tree), not from this process's own wait4: Linux records a process's RSS high-water mark before exec too,
    so a child forked straight from this (larger) Python process would report at least our RSS."""
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        t0 = time.perf_counter()
        p = subprocess.run(
            ["/usr/bin/time", "-q", "-f", "%M", "-o", rss.name, *cmd],
            stdout=stdout if stdout is not None else out,
            stderr=err,
        )
        wall = time.perf_counter() - t0
        rss_kib = rss.read().strip().splitlines()
    out.seek(0)
    err.seek(0)
    text, etext = out.read().decode(), err.read().decode()
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} exited {p.returncode}: {etext.strip()[-2000:]}")
    return {"wall": wall, "rss_mib": int(rss_kib[-1]) / 1024, "stdout": text, "stderr": etext}


def check_duck(db: str, table: str, expect: dict, raw: bool = False, lossy: bool = False) -> dict:
    """Assert the DuckDB copy reconciles with PostgreSQL; its money columns' types. lossy: the seed's
    pandas path turns numeric into float64 (read_sql's coerce_float), so its sums are compared to the cent
    rather than exactly."""
    import duckdb

    con = duckdb.connect(db, read_only=True)
    t = f"raw.{table}" if raw else table
    n, a, b = con.execute(f"SELECT count(*), sum(amount), sum(balance_after) FROM {t}").fetchone()
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
            "AND column_name IN ('amount', 'balance_after')",
            [table],
        ).fetchall()
    )
    con.close()
    got = {"rows": n, "amount": str(a), "balance_after": str(b)}
    if lossy:
        from decimal import Decimal

        # Floats cannot hold every cent: over 10M rows their sums drift (by 0.12 in one run). That is the
        # seed path's defect, reported rather than failing the benchmark; the row count must still match.
        ok = n == expect["rows"]
        drift = {c: str(Decimal(got[c]) - Decimal(expect[c])) for c in ("amount", "balance_after")}
        if ok and any(Decimal(v) != 0 for v in drift.values()):
            print(f"note: {t} in {db} (float money) drifts from PostgreSQL's exact sums by {drift}",
                  file=sys.stderr)
    else:
        ok = got == expect and all(v.startswith("DECIMAL") for v in types.values())
    if not ok:
        raise RuntimeError(f"{db}: {t} does not reconcile with PostgreSQL: {got} {types} != {expect}")
    return types


def check_incremental(db: str, table: str, expect: dict, changed: int, window: int) -> None:
    import duckdb

    con = duckdb.connect(db, read_only=True)
    last = con.execute(f"SELECT count(*) FROM raw.{table} WHERE _fh_load_id = 2").fetchone()[0]
    n, a, b = con.execute(
        f"""SELECT count(*), sum(amount), sum(balance_after) FROM (
              SELECT * FROM raw.{table}
              QUALIFY row_number() OVER (PARTITION BY id ORDER BY _fh_load_id DESC) = 1)
            WHERE _fh_op <> 'delete'"""
    ).fetchone()
    con.close()
    if last != window or window < changed:
        raise RuntimeError(f"incremental load read {last} rows; {changed} changed, {window} in its window")
    got = {"rows": n, "amount": str(a), "balance_after": str(b)}
    if got != expect:
        raise RuntimeError(f"{db}: deduplicated raw.{table} does not reconcile: {got} != {expect}")


def run_path(path: str, table: str, rows: int, expect: dict, state: dict) -> dict:
    """One run of one path; returns {seconds, wall, rss_mib, rows_per_s, ...}."""
    run_dir = tempfile.mkdtemp(prefix=f"{path}-", dir=WORKDIR)
    try:
        if path == "copy1":
            r = spawn(
                [
                    "psql",
                    URL,
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    f"COPY (SELECT * FROM {table}) TO STDOUT (FORMAT binary)",
                ],
                stdout=subprocess.DEVNULL,
            )
            r["seconds"] = r["wall"]
        elif path == "copy2":
            half = relpages(table) // 2
            q1 = f"COPY (SELECT * FROM {table} WHERE ctid < '({half},0)'::tid) TO STDOUT (FORMAT binary)"
            q2 = f"COPY (SELECT * FROM {table} WHERE ctid >= '({half},0)'::tid) TO STDOUT (FORMAT binary)"
            sh = (
                f"psql '{URL}' -X -q -v ON_ERROR_STOP=1 -c \"{q1}\" >/dev/null & a=$!; "
                f"psql '{URL}' -X -q -v ON_ERROR_STOP=1 -c \"{q2}\" >/dev/null & b=$!; "
                "wait $a && wait $b"
            )
            r = spawn(["bash", "-c", sh])
            r["seconds"] = r["wall"]
        elif path == "fhload_reconcile":
            r = run_reconcile(table, state)
        elif path in ("fhload_history", "fhload_upgrade"):
            r = run_history(path, table, rows, expect, state)
        elif path in ("fhload", "fhload_incr"):
            if path == "fhload":
                db = os.path.join(WORKDIR, f"fhload-{table}.duckdb")
                for f in (db, db + ".wal"):
                    if os.path.exists(f):
                        os.remove(f)
                state["fhload_db"] = db
            else:
                db = state["fhload_db"]
                import psycopg

                with psycopg.connect(URL, autocommit=True) as conn:
                    mark = conn.execute(f"SELECT max(updated_at) FROM {table}").fetchone()[
                        0
                    ]  # = the watermark
                    changed = conn.execute(
                        f"UPDATE {table} SET updated_at = now(), amount = amount + 0.01 WHERE id % 100 = 0"
                    ).rowcount
                    # what the incremental must read: the changed rows, plus any other row inside the
                    # lookback window (900 s) before the watermark
                    window = conn.execute(
                        f"SELECT count(*) FROM {table} WHERE updated_at > %s - interval '900 seconds'", [mark]
                    ).fetchone()[0]
                expect = pg_check(table)
            r = spawn(
                [FHLOAD, "--source", URL, "--warehouse", db, "--registry", str(REGISTRY), "--json", table]
            )
            summary = json.loads(r["stdout"].strip().splitlines()[-1])
            r["seconds"] = r["wall"]
            r["fhload_seconds"] = summary["seconds"]
            r["mode"] = summary["mode"]
            if path == "fhload":
                check_duck(db, table, expect, raw=True)
                assert summary["rows"] == rows, summary
            else:
                check_incremental(db, table, expect, changed, window)
                r["rows_read"] = summary["rows"]
                import psycopg

                with psycopg.connect(URL, autocommit=True) as conn:
                    conn.execute(f"VACUUM (ANALYZE) {table}")  # keep the table steady for the next run
                if state["last_fhload_path"] == "fhload_incr":
                    os.remove(db)
        else:
            r = spawn([sys.executable, __file__, "child", path, table, run_dir])
            r["seconds"] = json.loads(r["stdout"].strip().splitlines()[-1])["seconds"]
            r["money_types"] = check_duck(
                os.path.join(run_dir, "peer.duckdb"), table, expect, lossy=path == "pandas"
            )
        r["rows_per_s"] = rows / r["seconds"]
        r.pop("stdout", None)
        r.pop("stderr", None)
        return r
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def fhload_cmd(db: str, table: str, *extra: str) -> list[str]:
    return [FHLOAD, "--source", URL, "--warehouse", db, "--registry", str(REGISTRY), "--json", *extra, table]


def check_raw_current(db: str, table: str, expect: dict) -> tuple[int, int]:
    """raw's latest version of each key reconciles with PostgreSQL; (rows in raw, versions a key)."""
    import duckdb

    con = duckdb.connect(db, read_only=True)
    n, a, b = con.execute(
        f"""SELECT count(*), sum(amount), sum(balance_after) FROM raw.{table} r
            JOIN raw._fh_current_{table} c USING (id) WHERE r._fh_load_id = c._fh_load_id"""
    ).fetchone()
    total = con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
    con.close()
    got = {"rows": n, "amount": str(a), "balance_after": str(b)}
    if got != expect:
        raise RuntimeError(f"{db}: raw.{table}'s current keys do not reconcile: {got} != {expect}")
    return total, round(total / max(n, 1))


@contextlib.contextmanager
def source_changed(table: str, delete_where: str, update_where: str | None = None):
    """Change the source for one step — the rows `update_where` selects get amount + 0.01 and a cursor a day
    old (what an incremental load misses), those `delete_where` selects are deleted — and put it back
    after. Yields (rows updated, rows deleted)."""
    import psycopg

    with psycopg.connect(URL, autocommit=True) as conn:
        updated = 0
        if update_where:
            updated = conn.execute(f"UPDATE {table} SET amount = amount + 0.01, updated_at = updated_at - "
                                   f"interval '1 day' WHERE {update_where}").rowcount
        conn.execute("DROP TABLE IF EXISTS bench_deleted")
        conn.execute(f"CREATE TABLE bench_deleted AS SELECT * FROM {table} WHERE {delete_where}")
        deleted = conn.execute(f"DELETE FROM {table} WHERE {delete_where}").rowcount
    try:
        yield updated, deleted
    finally:
        with psycopg.connect(URL, autocommit=True) as conn:
            if update_where:
                conn.execute(f"UPDATE {table} SET amount = amount - 0.01, updated_at = updated_at + "
                             f"interval '1 day' WHERE {update_where}")
            conn.execute(f"INSERT INTO {table} SELECT * FROM bench_deleted")
            conn.execute("DROP TABLE bench_deleted")
            conn.execute(f"VACUUM (ANALYZE) {table}")


def raw_rows(db: str, table: str) -> int:
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]


def run_history(path: str, table: str, rows: int, expect: dict, state: dict) -> dict:
    """(g) and (h): a full load that records 1% deletes into a warehouse whose raw holds VERSIONS versions a
    key; (h) with the current-keys table dropped first, as an older fhload left it."""
    import duckdb

    db = state["fhload_db"]
    if path == "fhload_history":
        with duckdb.connect(db, read_only=True) as con:
            loads = con.execute("SELECT count(*) FROM raw._fh_loads WHERE mode = 'full'").fetchone()[0]
        for i in range(loads, VERSIONS):  # untimed: the history
            spawn(fhload_cmd(db, table, "--full"))
            print(f"  history: full load {i + 1}/{VERSIONS} done", flush=True)
    else:
        spawn(fhload_cmd(db, table, "--full"))  # untimed: the rows (g) deleted are back
        with duckdb.connect(db) as con:
            con.execute(f"DROP TABLE raw._fh_current_{table}")
    with source_changed(table, "id % 100 = 1") as (_, deleted):
        history = raw_rows(db, table)
        r = spawn(fhload_cmd(db, table, "--full"))
        summary = json.loads(r["stdout"].strip().splitlines()[-1])
        if summary["deleted"] != deleted or summary["mode"] != "full":
            raise RuntimeError(f"{path}: {summary} — expected {deleted} deletes of a full load")
        check_raw_current(db, table, pg_check(table))
    r["seconds"] = r["wall"]
    r["fhload_seconds"] = summary["seconds"]
    r["history_rows"] = history
    r["deleted"] = deleted
    if path == state["last_fhload_path"]:
        os.remove(db)
    return r


def run_reconcile(table: str, state: dict) -> dict:
    """(h): what incremental loads miss — rows changed with a cursor behind the watermark, hard deletes —
    repaired by fhload --reconcile, which writes only those."""
    db = state["fhload_db"]
    spawn(fhload_cmd(db, table, "--full"))  # untimed: the rows (g) deleted are back
    with source_changed(table, "id % 1000 = 5", update_where="id % 1000 = 3") as (changed, deleted):
        history = raw_rows(db, table)
        r = spawn(fhload_cmd(db, table, "--reconcile"))
        summary = json.loads(r["stdout"].strip().splitlines()[-1])
        if (summary["mode"], summary["rows"], summary["deleted"]) != ("reconcile", changed, deleted):
            raise RuntimeError(f"reconcile: {summary} — expected {changed} rows and {deleted} deletes")
        check_raw_current(db, table, pg_check(table))
    r["seconds"] = r["wall"]
    r["fhload_seconds"] = summary["seconds"]
    r["history_rows"] = history
    r["repaired"] = changed + deleted
    return r


# ---------------------------------------------------------------------------------------------------
# Report


def machine() -> dict:
    import duckdb

    def cmd(c: list[str]) -> str:
        try:
            return subprocess.run(c, capture_output=True, text=True, check=True).stdout.rstrip()
        except Exception as e:  # noqa: BLE001 — a missing tool only blanks one line
            return f"({e})"

    from importlib.metadata import version

    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import psycopg

    with psycopg.connect(URL) as conn:
        pgv = conn.execute("SHOW server_version").fetchone()[0]
        sb = conn.execute("SHOW shared_buffers").fetchone()[0]
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": cmd(["nproc"]),
        "cpu": cpu,
        "free_g": cmd(["free", "-g"]),
        "kernel": platform.release(),
        "postgresql": f"{pgv} (shared_buffers {sb}, same machine, 127.0.0.1)",
        "fhload": cmd([FHLOAD, "--version"]),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "versions": {
            p: version(p)
            for p in [
                "pandas",
                "pyarrow",
                "sqlalchemy",
                "psycopg",
                "adbc-driver-postgresql",
                "duckdb-ext-postgres",
            ]
        },
        "psql": cmd(["psql", "--version"]),
    }


def summarize(runs: list[dict], rows: int) -> dict:
    secs = [r["seconds"] for r in runs]
    med = statistics.median(secs)
    return {
        "runs": len(runs),
        "seconds_median": med,
        "seconds_all": secs,
        "rows_per_s": rows / med,
        "rss_mib_max": max(r["rss_mib"] for r in runs),
        "wall_median": statistics.median(r["wall"] for r in runs),
        **({"money_types": runs[0]["money_types"]} if "money_types" in runs[0] else {}),
        "loadavg_1min": [r["loadavg"] for r in runs],
        **({"rows_read": runs[0]["rows_read"]} if "rows_read" in runs[0] else {}),
        **({k: runs[0][k] for k in ("history_rows", "deleted", "repaired") if k in runs[0]}),
    }


def ratios(s: dict) -> dict:
    f = s["fhload"]
    out: dict = {}
    limits = [s[k]["rows_per_s"] for k in ("copy1", "copy2") if k in s]
    if limits:
        out["physical_limit_rows_per_s"] = max(limits)
        out["fhload_vs_limit"] = f["rows_per_s"] / max(limits)
        for k in ("copy1", "copy2"):
            if k in s:
                out[f"fhload_vs_{k}"] = f["rows_per_s"] / s[k]["rows_per_s"]
    for p in PEERS:
        if p in s:
            out[f"speedup_vs_{p}"] = s[p]["seconds_median"] / f["seconds_median"]
    out["fhload_rss_mib"] = max(s[k]["rss_mib_max"] for k in FHLOAD_PATHS if k in s)
    if "fhload_incr" in s:
        out["incr_over_full"] = s["fhload_incr"]["seconds_median"] / f["seconds_median"]
    for k in HISTORY_PATHS:
        if k in s:
            out[f"{k}_over_first"] = s[k]["seconds_median"] / f["seconds_median"]
            out[f"{k}_rss_mib"] = s[k]["rss_mib_max"]
    return out


def targets(r: dict) -> dict:
    t = {}
    if "fhload_vs_limit" in r:
        t["≥ 0.8× physical limit"] = r["fhload_vs_limit"] >= 0.8
    peers = [r[k] for k in r if k.startswith("speedup_vs_")]
    if peers:
        t["ahead of every peer"] = min(peers) > 1.0
    if "speedup_vs_pandas" in r:
        t["≥ 10× pandas"] = r["speedup_vs_pandas"] >= 10
    t["RSS < 256 MiB"] = r["fhload_rss_mib"] < 256
    if "fhload_history_rss_mib" in r:
        t["full load with history: RSS < 256 MiB"] = r["fhload_history_rss_mib"] < 256
    if "incr_over_full" in r:
        t["incremental ≤ 3% of full"] = r["incr_over_full"] <= 0.03
    return t


def target_figure(target: str, r: dict) -> str:
    if target.startswith("≥ 0.8×"):
        return f"fhload {r['fhload_vs_limit']:.2f}× the faster COPY's rows/s"
    if target.startswith("ahead"):
        return ", ".join(
            f"{k.removeprefix('speedup_vs_')} {v:.1f}×" for k, v in r.items() if k.startswith("speedup_vs_")
        )
    if target.startswith("≥ 10×"):
        return f"{r['speedup_vs_pandas']:.1f}×"
    if target.startswith("RSS"):
        return f"{r['fhload_rss_mib']:.0f} MiB, the largest of fhload's loads"
    if target.startswith("full load with history"):
        return (f"{r['fhload_history_rss_mib']:.0f} MiB, {r['fhload_history_over_first']:.2f}× the first "
                "load's time")
    return f"{100 * r['incr_over_full']:.1f}%"


def render(results: dict) -> str:
    m = results["machine"]
    lines = [
        "<!-- results: written by bench/ingest/run.py; edits here are overwritten -->",
        f"### Results — {m['date']}",
        "",
        f"Machine: {m['nproc']} vCPU ({m['cpu']}), kernel {m['kernel']}; PostgreSQL {m['postgresql']};",
        f"{m['fhload']}; Python {m['python']}, duckdb {m['duckdb']}, "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + ".",
        "",
        "```",
        "$ free -g",
        m["free_g"],
        "```",
        "",
    ]
    for res in results["sizes"].values():
        s = res["paths"]
        lines += [
            f"#### {res['rows']:,} rows (`{res['table']}`, {res['table_mib']:.0f} MiB heap in PostgreSQL)",
            "",
            "Load average (1 min) before the runs: "
            + f"{min(min(x['loadavg_1min']) for x in s.values()):.1f}–"
            + f"{max(max(x['loadavg_1min']) for x in s.values()):.1f} on {results['machine']['nproc']} vCPU.",
            "",
            "| path | runs | median s | rows/s | peak RSS MiB | fhload is … faster |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for p in PATHS:
            if p not in s:
                continue
            x = s[p]
            if p in PEERS:
                vs = f"{x['seconds_median'] / s['fhload']['seconds_median']:.1f}×" if "fhload" in s else ""
            elif p in ("copy1", "copy2") and "fhload" in s:
                vs = f"({s['fhload']['rows_per_s'] / x['rows_per_s']:.2f}× its rows/s)"
            else:
                vs = ""
            rows_s = f"{x['rows_per_s']:,.0f}"
            if p == "fhload_incr":
                rows_s = f"{x['rows_read']:,} rows read"
            elif p in HISTORY_PATHS:
                rows_s = f"{x['history_rows']:,} rows in raw"
                vs = f"({x['seconds_median'] / s['fhload']['seconds_median']:.2f}× the first load)"
            lines.append(
                f"| {LABELS[p]} | {x['runs']} | {x['seconds_median']:.2f} | {rows_s} | "
                f"{x['rss_mib_max']:.0f} | {vs} |"
            )
        r = res["ratios"]
        lines += ["", "Targets:", ""]
        for k, ok in res["targets"].items():
            lines.append(f"- {k}: {'**met**' if ok else '**missed**'} ({target_figure(k, r)})")
        lines.append("")
    if results.get("notes"):
        lines += ["Notes on this run:", ""] + [f"- {n}" for n in results["notes"]] + [""]
    lines.append("<!-- /results -->")
    return "\n".join(lines)


def write_readme(block: str) -> None:
    text = README.read_text()
    start = text.index("<!-- results")
    end = text.index("<!-- /results -->") + len("<!-- /results -->")
    README.write_text(text[:start] + block + text[end:])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(*sys.argv[2:5])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1m,10m", help="comma-separated: 1m, 10m (default both)")
    ap.add_argument("--runs", type=int, default=3, help="runs per path at 1M rows (default 3)")
    ap.add_argument("--runs-large", type=int, default=3, help="runs per path at 10M rows (default 3)")
    ap.add_argument("--pandas-runs-large", type=int, default=1, help="pandas runs at 10M rows (default 1)")
    ap.add_argument("--history-runs", type=int, default=1,
                    help="runs of fhload_history, _reconcile and _upgrade per size (each builds a history of "
                    f"{VERSIONS} full loads first; default 1)")
    ap.add_argument("--paths", default=",".join(PATHS), help="comma-separated subset of " + ",".join(PATHS))
    ap.add_argument("--no-readme", action="store_true", help="do not rewrite README.md / results.json")
    args = ap.parse_args()
    sizes = args.sizes.split(",")
    paths = [p for p in PATHS if p in args.paths.split(",")]
    for p in FHLOAD_PATHS[1:]:
        if p in paths and "fhload" not in paths:
            sys.exit(f"{p} needs fhload (it loads into the full load's file)")
    if not os.access(FHLOAD, os.X_OK):
        sys.exit(f"{FHLOAD} not found: run `make engine` first")
    WORKDIR.mkdir(parents=True, exist_ok=True)
    ensure_tables(sizes)
    results: dict = {"machine": machine(), "sizes": {}, "notes": []}
    for size in sizes:
        table, rows = SIZES[size]
        large = rows > 1_000_000
        nruns = args.runs_large if large else args.runs
        runs: dict[str, list] = {p: [] for p in paths}
        for i in range(nruns):
            expect = pg_check(table)
            assert expect["rows"] == rows, expect
            with_history = i < args.history_runs
            state: dict = {"paths": paths, "history": with_history and any(p in paths for p in HISTORY_PATHS)}
            state["last_fhload_path"] = [p for p in FHLOAD_PATHS if p in paths
                                         and (state["history"] or p not in HISTORY_PATHS)][-1:]
            state["last_fhload_path"] = (state["last_fhload_path"] or [None])[0]
            # The peers first, fhload last: its incremental step changes 1% of the rows.
            for p in [p for p in paths if p not in FHLOAD_PATHS] + [p for p in FHLOAD_PATHS if p in paths]:
                if p == "pandas" and large and i >= args.pandas_runs_large:
                    continue
                if p in HISTORY_PATHS and not state["history"]:
                    continue
                load = round(os.getloadavg()[0], 2)  # what else ran on the machine (1-minute average)
                r = run_path(p, table, rows, expect, state)
                r["loadavg"] = load
                runs[p].append(r)
                print(
                    f"{size} run {i + 1}/{nruns} {p:12s} {r['seconds']:8.2f} s "
                    f"{r['rows_per_s']:12,.0f} rows/s {r['rss_mib']:7.0f} MiB  (load {load})",
                    flush=True,
                )
        s = {p: summarize(v, rows) for p, v in runs.items() if v}
        r = ratios(s) if "fhload" in s else {}
        import psycopg

        with psycopg.connect(URL) as conn:
            mib = conn.execute("SELECT pg_relation_size(%s::regclass)", [table]).fetchone()[0] / MIB
        results["sizes"][size] = {
            "table": table,
            "rows": rows,
            "table_mib": mib,
            "paths": s,
            "ratios": r,
            "targets": targets(r) if r else {},
        }
        if large and "pandas" in s and s["pandas"]["runs"] < nruns:
            results["notes"].append(
                f"pandas ran {s['pandas']['runs']}× at {rows:,} rows (--pandas-runs-large), "
                f"the others {nruns}×."
            )
    print(json.dumps({k: v["ratios"] for k, v in results["sizes"].items()}, indent=1))
    if not args.no_readme:
        RESULTS.write_text(json.dumps(results, indent=1, default=str) + "\n")
        write_readme(render(results))
        print(f"wrote {RESULTS.relative_to(ROOT)} and {README.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
