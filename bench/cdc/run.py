#!/usr/bin/env python3
"""CDC benchmark: `fhload stream` against the server's own decoding and the batch loader, side by side in
one run, on the private wal_level=logical cluster (scripts/pg-logical; FINHOUSE_CDC_PG_PORT/_DIR).

The source: a 10-column `transactions`-like table of --rows rows (1M) in the database
FINHOUSE_BENCH_CDC_DB (default fh_bench_cdc), created with generate_series when missing, in a publication.
Two workloads, each generated ONCE into the WAL after every consumer's starting point was fixed (a slot
per consumer and run, created before it), so every consumer and every run decodes exactly the same
changes from the retained WAL — a catch-up throughput, measured from process start to exit:

  steady  pgbench, 4 clients: small transactions of 5 row updates each (--steady-txns per client)
  bulk    one UPDATE of all --rows rows in one transaction (the server streams it: protocol v2)

and three consumers, each its own child process under GNU time (peak RSS of its process):

  recvlogical  pg_recvlogical --plugin=pgoutput -o proto_version=2 -o publication_names=P -o binary=true
               -o streaming=on -f /dev/null, to the workload's end LSN (-E): the server's decoding and
               the wire, nothing applied — the limit
  recvlogical_off  the same with -o streaming=off: the server holds a large transaction (spilling it to
               its disk past logical_decoding_work_mem) and sends it at commit — what fhload stream asked
               for before it spooled streamed blocks
  stream       fhload stream --stop-at-lsn END into a warehouse whose snapshot it read before the
               workload: every change applied to RAW and committed with its progress
  batch        fhload (incremental, by the updated_at cursor) into a warehouse fully loaded before the
               workload: the same changes as the batch loader sees them (the final state of each changed
               row only; throughput counted in the workload's row changes all the same)

Latency (commit → visible in RAW), with a running `fhload stream` while pgbench writes steadily
(rate-limited) in the background: a probe writer commits one small row every 50 ms and notes the wall
clock when COMMIT returned and pg_current_wal_lsn() right after (≥ its commit's end LSN); a poller
reads the slot's confirmed_flush_lsn every 5 ms. fhload stream acknowledges an LSN only after the
warehouse transaction holding everything up to it committed (cdc_dest.h), so the first poll that sees
confirmed_flush_lsn ≥ the probe's LSN is after the probe became visible in RAW: an upper bound (it adds
the status update's trip and up to one poll interval). The lower bound from the warehouse afterwards,
raw._fh_loads.finished_at − the row's _fh_commit_ts (both this machine's clock), is reported beside it.

Medians over --runs, peak RSS = the largest. Writes bench/cdc/results.json and the results section of
bench/cdc/README.md, with the machine's load (uptime) before and after.

Usage: run.py [--rows 1000000] [--steady-txns 25000] [--runs 3] [--latency-seconds 20]
              [--legs recvlogical,recvlogical_off,stream,batch] [--no-readme]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FHLOAD = os.environ.get("FHLOAD", str(ROOT / "ingest" / "engine" / "build" / "fhload"))
REGISTRY = HERE / "registry.tsv"
PORT = int(os.environ.get("FINHOUSE_CDC_PG_PORT") or 5441)
DB = os.environ.get("FINHOUSE_BENCH_CDC_DB") or "fh_bench_cdc"
ADMIN = f"postgresql://postgres@127.0.0.1:{PORT}/postgres"
URL = f"postgresql://postgres@127.0.0.1:{PORT}/{DB}"
PUB = "fh_bench_cdc"
ROWS_PER_TXN = 5
RETRY_MEMORY_LIMIT = "1GB"
CLIENTS = 4
STEADY_SQL = f"""\\set id random(1, :rows - {ROWS_PER_TXN})
UPDATE transactions SET amount = amount + 0.01, updated_at = now()
  WHERE id BETWEEN :id AND :id + {ROWS_PER_TXN - 1};
"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sql(query: str, params=None, url: str = URL):
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else None


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def setup(rows: int) -> None:
    proc = subprocess.run([str(ROOT / "scripts" / "pg-logical"), "start"], capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"pg-logical start failed: {proc.stderr}")
    if not sql("SELECT 1 FROM pg_database WHERE datname = %s", [DB], url=ADMIN):
        sql(f'CREATE DATABASE "{DB}"', url=ADMIN)
    have = sql("SELECT to_regclass('transactions') IS NOT NULL")[0][0]
    if have and sql("SELECT count(*) FROM transactions")[0][0] != rows:
        sql("DROP TABLE transactions")
        have = False
    if not have:
        log(f"creating transactions with {rows} rows")
        sql(
            """CREATE TABLE transactions (
                 id bigint PRIMARY KEY, account_id bigint NOT NULL, amount numeric(18,2) NOT NULL,
                 balance_after numeric(18,2) NOT NULL, currency char(3) NOT NULL, kind text NOT NULL,
                 description text, value_date date NOT NULL, created_at timestamptz NOT NULL,
                 updated_at timestamptz NOT NULL)"""
        )
        sql(
            """INSERT INTO transactions SELECT g, g %% 50000, (g %% 100000) / 100.0, (g %% 7777777) / 100.0,
                 'KES', (ARRAY['deposit','withdrawal','repayment','fee'])[1 + g %% 4],
                 'transaction ' || g, date '2024-01-01' + (g %% 700), now() - interval '1 day',
                 now() - interval '1 day' FROM generate_series(1, %s) g""",
            [rows],
        )
        sql("VACUUM ANALYZE transactions")
    sql(
        "CREATE TABLE IF NOT EXISTS cdc_probe (id bigserial PRIMARY KEY, note text, "
        "updated_at timestamptz NOT NULL DEFAULT now())"
    )
    if not sql("SELECT 1 FROM pg_publication WHERE pubname = %s", [PUB]):
        sql(f"CREATE PUBLICATION {PUB} FOR TABLE transactions, cdc_probe")
    for (slot,) in sql("SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'fhb\\_%%'"):
        sql("SELECT pg_drop_replication_slot(%s)", [slot])


def timed(cmd: list[str], env=None) -> dict:
    """Run a child under GNU time: wall seconds and peak RSS (MiB) of its process."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-o", tf.name, "-f", "%M"] + cmd, capture_output=True, text=True, env=env
        )
        wall = time.perf_counter() - t0
        rss = int((tf.read().strip().splitlines() or ["0"])[-1] or 0) / 1024
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:3])} … exited {proc.returncode}: {proc.stderr[-1500:]}")
    return {"seconds": wall, "rss_mib": rss}


def fhload_stream(warehouse: Path, slot: str, *extra: str) -> list[str]:
    return [
        FHLOAD, "stream", "--source", URL, "--warehouse", str(warehouse), "--registry", str(REGISTRY),
        "--slot", slot, "--publication", PUB, "--quiet", *extra,
    ]  # fmt: skip


def fhload_batch(warehouse: Path) -> list[str]:
    return [FHLOAD, "--source", URL, "--warehouse", str(warehouse), "--registry", str(REGISTRY), "--quiet",
            "transactions"]  # fmt: skip


def lsn() -> str:
    return sql("SELECT pg_current_wal_lsn()::text")[0][0]


def prepare(legs: list[str], work: Path, name: str, runs: int, batch_base: Path | None) -> dict:
    """Every consumer's starting point, fixed before the workload."""
    ctx = {}
    for r in range(runs):
        for leg in ("recvlogical", "recvlogical_off"):
            if leg in legs:
                slot = f"fhb_{leg}_{name}_{r}"
                sql("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [slot])
                ctx[(leg, r)] = slot
        if "stream" in legs:
            slot, wh = f"fhb_stream_{name}_{r}", work / f"stream_{name}_{r}.duckdb"
            subprocess.run(fhload_stream(wh, slot, "--stop-at-lsn", lsn()), check=True, timeout=900)
            ctx[("stream", r)] = (slot, wh)
        if "batch" in legs:
            wh = work / f"batch_{name}_{r}.duckdb"
            shutil.copy(batch_base, wh)
            ctx[("batch", r)] = wh
    return ctx


def workload(name: str, rows: int, steady_txns: int, work: Path) -> dict:
    start = lsn()
    t0 = time.perf_counter()
    if name == "steady":
        script = work / "steady.sql"
        script.write_text(STEADY_SQL)
        subprocess.run(
            ["pgbench", "-n", "-c", str(CLIENTS), "-j", "2", "-t", str(steady_txns), "-D",
             f"rows={rows}", "-f", str(script), URL],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        changes, txns = CLIENTS * steady_txns * ROWS_PER_TXN, CLIENTS * steady_txns
    else:
        sql("UPDATE transactions SET amount = amount + 0.01, updated_at = now()")
        changes, txns = rows, 1
    secs = time.perf_counter() - t0
    end = lsn()
    wal = sql("SELECT %s::pg_lsn - %s::pg_lsn", [end, start])[0][0]
    return {"changes": changes, "transactions": txns, "seconds": secs, "end_lsn": end, "wal_bytes": int(wal)}


def consume(leg: str, ctx, end: str) -> dict:
    if leg in ("recvlogical", "recvlogical_off"):
        streaming = "on" if leg == "recvlogical" else "off"
        return timed(
            ["pg_recvlogical", "-d", URL, "--slot", ctx, "--start", "-E", end, "--no-loop",
             "-o", "proto_version=2", "-o", f"publication_names={PUB}", "-o", "binary=true",
             "-o", f"streaming={streaming}", "-f", "/dev/null"]
        )  # fmt: skip
    if leg == "stream":
        slot, wh = ctx
        try:
            return timed(fhload_stream(wh, slot, "--stop-at-lsn", end))
        except RuntimeError as exc:
            if "Out of Memory" not in str(exc):
                raise
            # nothing was committed nor acknowledged: the same run again, with a larger DuckDB limit
            log(f"  stream: DuckDB out of memory at the default limit; again with {RETRY_MEMORY_LIMIT}")
            env = dict(os.environ, FINHOUSE_DUCKDB_MEMORY_LIMIT=RETRY_MEMORY_LIMIT)
            m = timed(fhload_stream(wh, slot, "--stop-at-lsn", end), env=env)
            m["note"] = (
                f"Out of Memory at the default limit; FINHOUSE_DUCKDB_MEMORY_LIMIT={RETRY_MEMORY_LIMIT}"
            )
            return m
    return timed(fhload_batch(ctx))


def check_stream(wh: Path) -> list:
    """The streamed warehouse against PostgreSQL: count and Σ amount of RAW's current view."""
    with duckdb.connect(str(wh), read_only=True) as con:
        got = con.execute(
            """SELECT count(*), sum(amount) FROM (SELECT * FROM raw.transactions
                 WHERE _fh_superseded IS NOT TRUE
                 QUALIFY row_number() OVER (PARTITION BY id ORDER BY _fh_load_id DESC) = 1)
               WHERE _fh_op <> 'delete'"""
        ).fetchone()
    want = sql("SELECT count(*), sum(amount) FROM transactions")[0]
    assert tuple(got) == tuple(want), f"{wh.name}: raw {got} != postgres {want}"
    return list(map(str, want))


def latency(work: Path, seconds: float, rows: int) -> dict:
    slot, wh = "fhb_latency", work / "latency.duckdb"
    subprocess.run(fhload_stream(wh, slot, "--stop-at-lsn", lsn()), check=True, timeout=900)
    stream = subprocess.Popen(
        fhload_stream(wh, slot, "--max-seconds", str(int(seconds) + 3)), stderr=subprocess.PIPE
    )
    script = work / "steady.sql"
    script.write_text(STEADY_SQL)
    bg = subprocess.Popen(
        ["pgbench", "-n", "-c", "2", "-j", "1", "-R", "200", "-T", str(int(seconds)), "-D",
         f"rows={rows}", "-f", str(script), URL],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    probes: list[list] = []  # [committed_at, lsn, seen_at]
    done = threading.Event()
    peak = [0]

    def poller():
        with psycopg.connect(URL, autocommit=True) as conn:
            while not done.is_set() or any(p[2] is None for p in probes):
                (flushed,) = conn.execute(
                    "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s", [slot]
                ).fetchone()
                now = time.time()
                if flushed:
                    for p in probes:
                        if p[2] is None and _lsn_int(p[1]) <= _lsn_int(flushed):
                            p[2] = now
                try:
                    text = Path(f"/proc/{stream.pid}/status").read_text()
                    peak[0] = max(peak[0], int(text.split("VmHWM:")[1].split()[0]))
                except (OSError, IndexError):
                    pass
                if stream.poll() is not None:
                    break
                time.sleep(0.005)

    th = threading.Thread(target=poller)
    time.sleep(1)
    th.start()
    with psycopg.connect(URL, autocommit=True) as conn:
        t_end = time.time() + seconds - 1
        while time.time() < t_end:
            conn.execute("INSERT INTO cdc_probe (note) VALUES ('probe')")
            committed = time.time()
            probes.append([committed, conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0], None])
            time.sleep(0.05)
    done.set()
    th.join(timeout=seconds + 30)
    bg.wait()
    _, err = stream.communicate(timeout=120)
    assert stream.returncode == 0, f"fhload stream exited {stream.returncode}: {err[-1500:]}"
    seen = sorted(p[2] - p[0] for p in probes if p[2] is not None)
    with duckdb.connect(str(wh), read_only=True) as con:
        lower = [
            r[0]
            for r in con.execute(
                """SELECT epoch(l.finished_at) - epoch(p._fh_commit_ts) FROM raw.cdc_probe p
                   JOIN raw._fh_loads l ON l.table_name = 'cdc_probe' AND l.load_id = p._fh_load_id
                   WHERE p._fh_commit_ts IS NOT NULL ORDER BY 1"""
            ).fetchall()
        ]
    return {
        "probes": len(probes),
        "acknowledged": len(seen),
        "ack_ms": _percentiles(seen),
        "raw_commit_ms": _percentiles(sorted(lower)),
        "rss_mib": peak[0] / 1024,
    }


def _lsn_int(text: str) -> int:
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def _percentiles(xs: list[float]) -> dict:
    if not xs:
        return {}

    def q(p):
        return 1000 * xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]

    return {"p50": q(0.50), "p95": q(0.95), "p99": q(0.99), "max": 1000 * xs[-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--steady-txns", type=int, default=25000, help="small transactions per pgbench client")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--latency-seconds", type=float, default=20)
    ap.add_argument("--legs", default="recvlogical,recvlogical_off,stream,batch")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    legs = args.legs.split(",")
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"nproc": os.cpu_count(), "platform": platform.platform()},
        "uptime_before": uptime(),
        "rows": args.rows,
        "runs": args.runs,
        "workloads": {},
    }
    log(results["uptime_before"])
    setup(args.rows)
    with tempfile.TemporaryDirectory(prefix="bench-cdc-", dir=os.environ.get("TMPDIR")) as tmp:
        work = Path(tmp)
        batch_base = None
        if "batch" in legs:
            batch_base = work / "batch_base.duckdb"
            log("batch: full load of the table, the base every batch run starts from")
            subprocess.run(fhload_batch(batch_base), check=True)
        for name in ("steady", "bulk"):
            log(f"{name}: fixing every consumer's starting point")
            ctx = prepare(legs, work, name, args.runs, batch_base)
            wl = workload(name, args.rows, args.steady_txns, work)
            log(
                f"{name}: {wl['changes']} row changes in {wl['transactions']} transactions, "
                f"{wl['seconds']:.1f} s"
            )
            runs: dict[str, list] = {leg: [] for leg in legs}
            for r in range(args.runs):
                for leg in legs:
                    load = os.getloadavg()[0]
                    m = consume(leg, ctx[(leg, r)], wl["end_lsn"])
                    m["loadavg"] = load
                    m["changes_per_s"] = wl["changes"] / m["seconds"]
                    runs[leg].append(m)
                    log(f"  {name} run {r} {leg}: {m['seconds']:.2f} s, {m['changes_per_s']:,.0f} changes/s, "
                        f"{m['rss_mib']:.0f} MiB")  # fmt: skip
            if batch_base is not None:  # caught up with this workload: where the next one's batch runs start
                batch_base = ctx[("batch", 0)]
            if "stream" in legs:
                wl["checked"] = check_stream(ctx[("stream", args.runs - 1)][1])
            for key, val in ctx.items():
                if key[0] in ("recvlogical", "recvlogical_off"):
                    sql("SELECT pg_drop_replication_slot(%s)", [val])
                elif key[0] == "stream":
                    sql("SELECT pg_drop_replication_slot(%s)", [val[0]])
            wl["legs"] = {
                leg: {
                    "seconds": statistics.median(m["seconds"] for m in ms),
                    "changes_per_s": statistics.median(m["changes_per_s"] for m in ms),
                    "rss_mib": max(m["rss_mib"] for m in ms),
                    "runs": ms,
                }
                for leg, ms in runs.items()
            }
            results["workloads"][name] = wl
        if "stream" in legs and args.latency_seconds > 0:
            log("latency: probes under steady pgbench load")
            results["latency"] = latency(work, args.latency_seconds, args.rows)
            sql("SELECT pg_drop_replication_slot('fhb_latency')")
    results["uptime_after"] = uptime()
    (HERE / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    text = render(results)
    print(text)
    if not args.no_readme:
        readme = HERE / "README.md"
        body = readme.read_text()
        a, b = (
            "<!-- results: written by bench/cdc/run.py; edits here are overwritten -->",
            "<!-- /results -->",
        )
        head, rest = body.split(a, 1)
        readme.write_text(head + a + "\n" + text + "\n" + b + rest.split(b, 1)[1])


def render(res: dict) -> str:
    lines = [
        f"Run {res['date']} on {res['machine']['nproc']} vCPU ({res['machine']['platform']}), "
        f"{res['rows']:,} rows, medians of {res['runs']} runs.",
        "",
        f"Machine load before: `{res['uptime_before']}`; after: `{res['uptime_after']}` "
        "(the machine is shared: other work ran at the same time).",
        "",
        "| workload | row changes | consumer | seconds | row changes/s | × pg_recvlogical | peak RSS MiB |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for name, wl in res["workloads"].items():
        base = wl["legs"].get("recvlogical", {}).get("changes_per_s")
        for leg, m in wl["legs"].items():
            ratio = f"{m['changes_per_s'] / base:.2f}" if base else "–"
            lines.append(
                f"| {name} ({wl['transactions']:,} txns) | {wl['changes']:,} | {leg} | {m['seconds']:.2f} | "
                f"{m['changes_per_s']:,.0f} | {ratio} | {m['rss_mib']:.0f} |"
            )
    notes = sorted(
        {f"{name}/{leg}: {m['note']}" for name, wl in res["workloads"].items()
         for leg, x in wl["legs"].items() for m in x["runs"] if m.get("note")}
    )  # fmt: skip
    if notes:
        lines += ["", "Runs that needed a retry: " + "; ".join(notes) + "."]
    lat = res.get("latency")
    if lat:
        a, lo = lat["ack_ms"], lat["raw_commit_ms"]
        lines += [
            "",
            f"Commit → visible in RAW ({lat['acknowledged']} of {lat['probes']} probes, under 200 tps of "
            "steady pgbench): upper bound (acknowledged, seen by the poller) "
            f"p50 {a.get('p50', 0):.0f} ms, p95 {a.get('p95', 0):.0f} ms, p99 {a.get('p99', 0):.0f} ms, "
            f"max {a.get('max', 0):.0f} ms; lower bound (raw._fh_loads.finished_at − _fh_commit_ts) "
            f"p50 {lo.get('p50', 0):.0f} ms, p99 {lo.get('p99', 0):.0f} ms. Peak RSS of the running stream "
            f"{lat['rss_mib']:.0f} MiB.",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
