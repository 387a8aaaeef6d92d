"""How the warehouse takes three users at once (issue 18, item 5): measured, not argued.

A stream writes RAW in small group commits while dbt builds and dashboards read. This measures:

  1. writer alone — group commits of 10, 1,000 and 20,000 rows over 5 tables (plus the 1-row progress
     update cdc_dest.h commits with every group) back to back: on a DuckDB file, on DuckLake (catalog in
     PostgreSQL) without data inlining and with it; files created per commit, and what DuckLake's
     maintenance costs afterwards (flush inlined data, merge adjacent files, expire + clean up);
  2. the three at once on DuckLake — a paced stream (a commit every 200 ms, 10/1,000/20,000 rows in turn),
     a "dbt build" (CREATE OR REPLACE TABLE of aggregates over 10M rows + the streamed rows, in a loop)
     writing into the lake or into a DuckDB file of its own, a dashboard (an aggregate every 200 ms: its
     latency and how stale what it sees is against the writer's last commit) and a maintenance loop;
  3. DuckDB's single-file lock, verified: a second process opening a file another process writes, read-only
     or not; and option (b)'s cost: how long the bench build holds the file, and the applying of the
     backlog a stream spooled meanwhile.

    make bench-warehouse            # or: .finhouse/venv/bin/python bench/warehouse/run.py [--quick]

Needs the `bench-warehouse` dependency group (duckdb-ext-ducklake, duckdb-ext-postgres; `make
bench-warehouse` syncs it) and PostgreSQL at 127.0.0.1:5432 (user postgres, trust). Its catalog databases
are named wtlake_bench_* (override the prefix with FINHOUSE_BENCH_WAREHOUSE_DB) and dropped at the end.
Writes results.json beside this file. Takes about 4 minutes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TABLES = ("payments", "journal_lines", "loan_events", "savings_transactions", "audit_log")
SHAPES = (10, 1_000, 20_000)  # rows per group commit, spread evenly over TABLES
INLINE_LIMIT = 1_000  # rows per insert (per table) DuckLake keeps in the catalog when inlining is on
PG = "host=127.0.0.1 port=5432 user=postgres"
DB_PREFIX = os.environ.get("FINHOUSE_BENCH_WAREHOUSE_DB", "wtlake_bench")
HIST_ROWS = 10_000_000


def ext_dir() -> Path:
    import duckdb_ext  # noqa: F401  (the bench-warehouse group)

    base = Path(sys.modules["duckdb_ext"].__path__[0]) / "extensions" / f"v{duckdb.__version__}"
    dirs = list(base.glob("*"))
    if not dirs:
        raise SystemExit(f"no DuckDB extensions under {base}: `make bench-warehouse` syncs them")
    return dirs[0]


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)


# --- connections -------------------------------------------------------------------------------------

def connect(target: dict, inline: int | None = None) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A connection and the prefix RAW's tables are named with."""
    if target["kind"] == "file":
        return duckdb.connect(target["path"]), ""
    con = duckdb.connect()
    d = target["ext"]
    con.execute(f"LOAD '{d}/postgres_scanner.duckdb_extension'")
    con.execute(f"LOAD '{d}/ducklake.duckdb_extension'")
    limit = target.get("inline", 0) if inline is None else inline
    con.execute(f"ATTACH 'ducklake:postgres:dbname={target['db']} {PG}' AS lake "
                f"(DATA_PATH '{target['data']}/', DATA_INLINING_ROW_LIMIT {limit})")
    return con, "lake."


def create_raw(target: dict) -> None:
    con, p = connect(target)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {p}raw")
    for t in TABLES:
        con.execute(f"CREATE TABLE {p}raw.{t} (id BIGINT, k BIGINT, amount DECIMAL(18,2), ts TIMESTAMP, "
                    f"note VARCHAR, _fh_commit_lsn BIGINT)")
    con.execute(f"CREATE TABLE {p}raw._fh_stream (slot_name VARCHAR, confirmed_lsn BIGINT, "
                f"confirmed_commit_ts TIMESTAMP)")
    con.execute(f"INSERT INTO {p}raw._fh_stream VALUES ('bench', 0, now())")
    con.close()


def group_commit(con, p: str, seq: int, rows: int) -> None:
    """One group: rows spread over the 5 tables, plus the progress row, in one transaction."""
    per = max(1, rows // len(TABLES))
    con.execute("BEGIN")
    for t in TABLES:
        con.execute(f"INSERT INTO {p}raw.{t} SELECT {seq}::BIGINT * 1000000 + range, range % 997, "
                    f"(range % 100000) / 100.0, now(), 'n' || range, {seq} FROM range({per})")
    con.execute(f"UPDATE {p}raw._fh_stream SET confirmed_lsn = {seq}, confirmed_commit_ts = now()")
    con.execute("COMMIT")


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def summary(xs: list[float]) -> dict:
    return {"n": len(xs), "p50_ms": _ms(pct(xs, 0.5)), "p95_ms": _ms(pct(xs, 0.95)),
            "p99_ms": _ms(pct(xs, 0.99)), "max_ms": _ms(max(xs) if xs else None)}


def _ms(x):
    return None if x is None else round(x * 1000, 1)


def parquet_files(target: dict) -> int:
    if target["kind"] != "lake":
        return 0
    return sum(1 for _ in Path(target["data"]).rglob("*.parquet"))


# --- 1. the writer alone -----------------------------------------------------------------------------

def writer_alone(target: dict, seconds: float, seq0: int) -> list[dict]:
    out = []
    con, p = connect(target)
    seq = seq0
    for rows in SHAPES:
        files0 = parquet_files(target)
        lat = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            seq += 1
            t0 = time.perf_counter()
            group_commit(con, p, seq, rows)
            lat.append(time.perf_counter() - t0)
        files = parquet_files(target) - files0
        span = sum(lat)
        out.append({"target": target["name"], "rows_per_commit": rows, "commits": len(lat),
                    "commits_per_s": round(len(lat) / span, 1),
                    "rows_per_s": round(len(lat) * (rows // len(TABLES)) * len(TABLES) / span),
                    "files_per_commit": round(files / len(lat), 2), **summary(lat)})
        print(f"  {target['name']:<22} {rows:>6} rows/commit: {out[-1]['commits_per_s']:>7} commits/s "
              f"p50 {out[-1]['p50_ms']} ms p99 {out[-1]['p99_ms']} ms, "
              f"{out[-1]['files_per_commit']} files/commit",
              flush=True)
    con.close()
    return out


def scan_seconds(con, p: str) -> float:
    t0 = time.perf_counter()
    con.execute(f"SELECT count(*), sum(amount) FROM {p}raw.payments").fetchall()
    return time.perf_counter() - t0


def maintenance(target: dict) -> dict:
    """DuckLake's maintenance after phase 1: each step's time, files and the scan before and after."""
    con, p = connect(target)
    by_table = {}
    for f in Path(target["data"]).rglob("*.parquet"):
        by_table[f.parent.name] = by_table.get(f.parent.name, 0) + 1
    res = {"target": target["name"], "files_before": parquet_files(target), "files_by_table": by_table,
           "scan_before_ms": _ms(min(scan_seconds(con, p) for _ in range(3)))}
    steps = [("flush_inlined_data", "CALL ducklake_flush_inlined_data('lake')"),
             ("merge_adjacent_files", "CALL ducklake_merge_adjacent_files('lake')"),
             ("expire_snapshots", "CALL ducklake_expire_snapshots('lake', older_than => now())"),
             ("cleanup_old_files", "CALL ducklake_cleanup_old_files('lake', cleanup_all => true)")]
    for name, sql in steps:
        t0 = time.perf_counter()
        try:
            con.execute(sql).fetchall()
            res[name + "_s"] = round(time.perf_counter() - t0, 2)
        except duckdb.Error as e:
            res[name + "_s"] = None
            res[name + "_error"] = str(e).splitlines()[0][:200]
        res[name + "_files_after"] = parquet_files(target)
    res["files_after"] = parquet_files(target)
    res["scan_after_ms"] = _ms(min(scan_seconds(con, p) for _ in range(3)))
    con.close()
    return res


def progress_files(target: dict, commits: int = 50) -> dict:
    """Parquet files the progress leaves per commit with inlining on: an appended row vs the UPDATE."""
    con, p = connect(target)
    con.execute(f"CREATE TABLE {p}raw._fh_stream_log (slot_name VARCHAR, confirmed_lsn BIGINT, ts TIMESTAMP)")
    f0 = parquet_files(target)
    for i in range(commits):
        con.execute(f"INSERT INTO {p}raw._fh_stream_log VALUES ('bench', {i}, now())")
    f1 = parquet_files(target)
    for i in range(commits):
        con.execute(f"UPDATE {p}raw._fh_stream SET confirmed_lsn = {i}")
    f2 = parquet_files(target)
    con.close()
    return {"commits": commits, "files_appending": f1 - f0, "files_updating": f2 - f1}


# --- 2. the three at once ----------------------------------------------------------------------------

def _err(errors: list, e: BaseException) -> None:
    errors.append(f"{type(e).__name__}: {str(e).splitlines()[0][:240]}")


def proc_writer(target, start, seconds, period, seq0, commit_times, last_seq, q):
    con, p = connect(target)
    lat, errors, seq, i = [], [], seq0, 0
    t_next = start
    while True:
        now = time.time()
        if now >= start + seconds:
            break
        if now < t_next:
            time.sleep(t_next - now)
        t_next += period
        rows = SHAPES[i % len(SHAPES)]
        i += 1
        t0 = time.perf_counter()
        try:
            group_commit(con, p, seq + 1, rows)
        except duckdb.Error as e:
            _err(errors, e)
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            continue  # the same seq is retried with the next group, as the stream would
        seq += 1
        lat.append(time.perf_counter() - t0)
        commit_times[seq - seq0] = time.time()
        last_seq.value = seq
    q.put(("writer", {**summary(lat), "commits": len(lat), "errors": len(errors),
                      "first_errors": errors[:3],
                      "behind_schedule_s": round(max(0.0, time.time() - t_next), 1)}))


def transform_sql(src: str, dst: str) -> str:
    return (f"CREATE OR REPLACE TABLE {dst}.daily_by_k AS SELECT k, count(*) AS n, sum(amount) AS amount, "
            f"max(_fh_commit_lsn) AS lsn FROM (SELECT k, amount, _fh_commit_lsn FROM {src}.hist "
            f"UNION ALL SELECT k, amount, _fh_commit_lsn FROM {src}.payments) GROUP BY k")


def proc_dbt(target, start, seconds, into, q):
    """A build in a loop. into = 'lake': results in the lake (schema marts); 'file': results in a DuckDB
    file of dbt's own that ATTACHes the lake for reading."""
    con, p = connect(target)
    dst = "lake.marts"
    if into == "file":
        con.execute(f"ATTACH '{target['dbt_file']}' AS wh")
        con.execute("CREATE SCHEMA IF NOT EXISTS wh.marts")
        dst = "wh.marts"
    else:
        con.execute("CREATE SCHEMA IF NOT EXISTS lake.marts")
    while time.time() < start:
        time.sleep(0.01)
    lat, errors = [], []
    while time.time() < start + seconds:
        t0 = time.perf_counter()
        try:
            con.execute(transform_sql(f"{p}raw", dst))
            lat.append(time.perf_counter() - t0)
        except duckdb.Error as e:
            _err(errors, e)
    q.put(("dbt", {"builds": len(lat), "build_s_median": round(pct(lat, 0.5) or 0, 2),
                   "build_s_max": round(max(lat) if lat else 0, 2), "errors": len(errors),
                   "first_errors": errors[:3]}))


def proc_dashboard(target, start, seconds, period, seq0, commit_times, q):
    con, p = connect(target)
    lat, stale, errors = [], [], []
    t_next = start
    while time.time() < start + seconds:
        now = time.time()
        if now < t_next:
            time.sleep(t_next - now)
        t_next += period
        r = time.time()
        t0 = time.perf_counter()
        try:
            seen, _n, _amt = con.execute(
                f"SELECT coalesce(max(_fh_commit_lsn), 0), count(*), sum(amount) FROM {p}raw.payments "
                f"WHERE _fh_commit_lsn > {seq0}").fetchone()
        except duckdb.Error as e:
            _err(errors, e)
            continue
        lat.append(time.perf_counter() - t0)
        nxt = max(int(seen), seq0) - seq0 + 1  # the first commit it did not see
        ct = commit_times[nxt] if nxt < len(commit_times) else 0.0
        stale.append(r - ct if 0 < ct < r else 0.0)  # committed before the read began, yet unseen
    q.put(("dashboard", {**summary(lat), "stale_p50_ms": _ms(pct(stale, 0.5)),
                         "stale_p95_ms": _ms(pct(stale, 0.95)),
                         "stale_max_ms": _ms(max(stale) if stale else None),
                         "errors": len(errors), "first_errors": errors[:3]}))


def proc_maint(target, start, seconds, every, q):
    con, _ = connect(target)
    runs, errors = [], []
    t_next = start + every
    while t_next < start + seconds:
        time.sleep(max(0.0, t_next - time.time()))
        t_next += every
        t0 = time.perf_counter()
        try:
            con.execute("CALL ducklake_flush_inlined_data('lake')").fetchall()
            con.execute("CALL ducklake_merge_adjacent_files('lake')").fetchall()
            runs.append(time.perf_counter() - t0)
        except duckdb.Error as e:
            _err(errors, e)
    q.put(("maintenance", {"runs": len(runs), "run_s_median": round(pct(runs, 0.5) or 0, 2),
                           "run_s_max": round(max(runs) if runs else 0, 2), "errors": len(errors),
                           "first_errors": errors[:3]}))


def seed_hist(target: dict) -> float:
    con, p = connect(target)
    t0 = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TABLE {p}raw.hist AS SELECT range AS id, range % 997 AS k, "
                f"((range % 100000) / 100.0)::DECIMAL(18,2) AS amount, 0::BIGINT AS _fh_commit_lsn "
                f"FROM range({HIST_ROWS})")
    con.close()
    return time.perf_counter() - t0


def three_at_once(ctx, target: dict, seconds: float, into: str, seq0: int, maint: bool) -> dict:
    q = ctx.Queue()
    commit_times = ctx.Array("d", 100_000, lock=False)
    last_seq = ctx.Value("q", seq0, lock=False)
    start = time.time() + 3.0  # every process connected by then
    procs = [ctx.Process(target=proc_writer,
                         args=(target, start, seconds, 0.2, seq0, commit_times, last_seq, q)),
             ctx.Process(target=proc_dbt, args=(target, start, seconds, into, q)),
             ctx.Process(target=proc_dashboard, args=(target, start, seconds, 0.2, seq0, commit_times, q))]
    if maint:
        procs.append(ctx.Process(target=proc_maint, args=(target, start, seconds, 10.0, q)))
    for pr in procs:
        pr.start()
    res = {"dbt_into": into, "seconds": seconds, "maintenance_every_s": 10 if maint else None}
    deadline = time.time() + seconds + 300
    got = 0
    while got < len(procs) and time.time() < deadline:
        try:
            name, r = q.get(timeout=1.0)
        except queue.Empty:
            if not any(pr.is_alive() for pr in procs) and q.empty():
                break  # a process died without reporting (its traceback is on stderr)
            continue
        res[name] = r
        got += 1
    for pr in procs:
        pr.join()
        res.setdefault("exit_codes", []).append(pr.exitcode)
    return res


# --- 3. DuckDB's file lock, and option (b) -------------------------------------------------------------

def proc_hold(path, read_only, ready, release):
    con = duckdb.connect(path, read_only=read_only)
    con.execute("SELECT 1").fetchall()
    ready.set()
    release.wait(30)
    con.close()


def lock_matrix(ctx, path: str) -> list[dict]:
    out = []
    duckdb.connect(path).close()
    for holder_ro in (False, True):
        ready, release = ctx.Event(), ctx.Event()
        pr = ctx.Process(target=proc_hold, args=(path, holder_ro, ready, release))
        pr.start()
        ready.wait(30)
        for second_ro in (True, False):
            try:
                duckdb.connect(path, read_only=second_ro).close()
                outcome = "opens"
            except duckdb.Error as e:
                outcome = str(e).splitlines()[0][:160]
            out.append({"holder": "read-only" if holder_ro else "read-write",
                        "second_process": "read-only" if second_ro else "read-write", "outcome": outcome})
        release.set()
        pr.join()
    return out


def option_b(file_target: dict, seconds_of_stream: float) -> dict:
    """How long the bench build holds a DuckDB file, and applying what a stream spooled meanwhile."""
    con, p = connect(file_target)
    t0 = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TABLE raw.hist AS SELECT range AS id, range % 997 AS k, "
                f"((range % 100000) / 100.0)::DECIMAL(18,2) AS amount, 0::BIGINT AS _fh_commit_lsn "
                f"FROM range({HIST_ROWS})")
    seed = time.perf_counter() - t0
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    builds = []
    for _ in range(3):
        t0 = time.perf_counter()
        con.execute(transform_sql("raw", "marts"))
        builds.append(time.perf_counter() - t0)
    # the spool: what a stream at 5 commits/s (10/1,000/20,000 rows in turn) writes in `seconds_of_stream`
    commits = int(seconds_of_stream * 5)
    spool = Path(file_target["path"]).with_suffix(".spool")
    spool.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    rows = 0
    for i in range(commits):
        n = SHAPES[i % len(SHAPES)] // len(TABLES)
        rows += n * len(TABLES)
        con.execute(f"COPY (SELECT {i}::BIGINT * 1000000 + range AS id, range % 997 AS k, "
                    f"(range % 100000) / 100.0 AS amount, "
                    f"now() AS ts, 'n' || range AS note, {10**6 + i} AS _fh_commit_lsn FROM range({n})) "
                    f"TO '{spool}/{i:06d}.parquet' (FORMAT parquet)")
    spool_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    con.execute("BEGIN")
    for t in TABLES:
        con.execute(f"INSERT INTO raw.{t} SELECT * FROM read_parquet('{spool}/*.parquet')")
    con.execute(f"UPDATE raw._fh_stream SET confirmed_lsn = {10**6 + commits}")
    con.execute("COMMIT")
    apply_s = time.perf_counter() - t0
    con.close()
    shutil.rmtree(spool)
    return {"seed_10M_s": round(seed, 1), "bench_build_s_median": round(pct(builds, 0.5), 2),
            "spooled_seconds": seconds_of_stream, "spooled_commits": commits,
            "spooled_rows_per_table": rows // len(TABLES),
            "spool_write_s": round(spool_s, 2), "apply_backlog_s": round(apply_s, 2)}


# --- main ----------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter phases (a smoke run)")
    args = ap.parse_args()
    alone_s, together_s = (1.5, 12) if args.quick else (5, 40)
    ctx = mp.get_context("spawn")
    ext = str(ext_dir())
    work = Path(tempfile.mkdtemp(prefix="bench-warehouse-", dir=os.environ.get("FINHOUSE_HOME", "/tmp")))
    dbs = [f"{DB_PREFIX}_{n}" for n in ("plain", "inline", "together")]
    results: dict = {"duckdb": duckdb.__version__, "python": platform.python_version(),
                     "cpus": os.cpu_count(), "uptime_before": _uptime(), "quick": args.quick}
    try:
        for db in dbs:
            psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            psql(f"CREATE DATABASE {db}")
        file_t = {"name": "duckdb file", "kind": "file", "path": str(work / "warehouse.duckdb")}
        plain = {"name": "ducklake, no inlining", "kind": "lake", "ext": ext, "db": dbs[0],
                 "data": str(work / "plain"), "inline": 0}
        inline = {"name": f"ducklake, inlining {INLINE_LIMIT}", "kind": "lake", "ext": ext, "db": dbs[1],
                  "data": str(work / "inline"), "inline": INLINE_LIMIT}
        con = duckdb.connect()
        con.execute(f"LOAD '{ext}/ducklake.duckdb_extension'")
        results["ducklake"] = con.execute("SELECT extension_version FROM duckdb_extensions() "
                                          "WHERE extension_name = 'ducklake'").fetchone()[0]
        con.close()

        print("1. the writer alone", flush=True)
        results["alone"] = []
        for t in (file_t, plain, inline):
            create_raw(t)
            results["alone"] += writer_alone(t, alone_s, 0)
        print("   maintenance afterwards", flush=True)
        results["maintenance"] = [maintenance(plain), maintenance(inline)]
        for m in results["maintenance"]:
            print(f"  {m}", flush=True)
        results["progress_files"] = progress_files(inline)
        print(f"   progress with inlining: {results['progress_files']}", flush=True)

        print("2. the three at once on DuckLake", flush=True)
        tog = {"name": "ducklake together", "kind": "lake", "ext": ext, "db": dbs[2],
               "data": str(work / "together"), "inline": INLINE_LIMIT, "dbt_file": str(work / "dbt.duckdb")}
        create_raw(tog)
        results["seed_hist_lake_s"] = round(seed_hist(tog), 1)
        results["together"] = []
        for i, into in enumerate(("lake", "file")):
            r = three_at_once(ctx, tog, together_s, into, seq0=(i + 1) * 100_000, maint=True)
            print(f"  dbt into {into}: {json.dumps(r)}", flush=True)
            results["together"].append(r)

        print("3. DuckDB's file lock; option (b)", flush=True)
        results["lock_matrix"] = lock_matrix(ctx, str(work / "lock.duckdb"))
        for r in results["lock_matrix"]:
            print(f"  {r}", flush=True)
        results["option_b"] = option_b(file_t, 30.0)
        print(f"  {results['option_b']}", flush=True)
        results["uptime_after"] = _uptime()
    finally:
        for db in dbs:
            try:
                psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            except subprocess.CalledProcessError:
                print(f"could not drop {db}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    if not args.quick:
        (HERE / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    return 0


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
