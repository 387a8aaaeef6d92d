#!/usr/bin/env python3
"""Benchmark of the transformation: a full `dbt build` of the 10M-transaction institution against the
incremental `dbt build` after 1% new activity, side by side, and proof that both leave the same tables.

The institution: 151,000 customers over 3 years (seed 7, up to 2026-11-20) — about 10M journal entries
(every movement of money posts one: a ledger transaction) and 61M rows in all — in its own database
FINHOUSE_BENCH_TRANSFORM_URL (default postgresql://postgres@127.0.0.1:5432/fh_bench_transform).

    run.py prepare    simulate the institution when the database holds none (≈ 26 min on 2 cores), and
                      load it with fhload into a fresh warehouse DIR/raw1.duckdb (the RAW layer only)
    run.py activity   new activity through the services (`simulate --live`) in --processes processes,
                      until the journal has grown by --growth percent (default 1)
    run.py measure    1. full: `dbt build --full-refresh` on a copy of raw1 (the RAW layer before the
                         activity) → DIR/finhouse.duckdb
                      2. fhload's incremental load of the new activity into it (timed apart)
                      3. incremental: `dbt build` on it (kept aside as DIR/incremental.duckdb)
                      4. no-op: `dbt build` on it again, with no new data (the cost of any build)
                      5. rebuild: `dbt build --full-refresh` on it (the same RAW layer from scratch)
                      6. warehouse_diff: the incremental build and the rebuild hold the same rows
                      and writes the figures into README.md and results.json
    run.py all        the three, with the activity running beside the full build (step 1 reads only
                      the DuckDB copy; step 2 waits for the activity to end)

The ratio is incremental / rebuild (the same data); the full build of raw1 is reported beside it. Each
dbt build is its own process (wall time of the process, dbt's start included); the slowest models of each
come from dbt's run_results.json. The builds run as a deployment's do: on one warehouse file, in one
target directory, so dbt parses the project in the first build and reuses that parse after (partial
parsing; the project does not change between them). `activity` changes the OLTP for good: each
`measure` after it needs a new raw1 (`prepare --reload`), since the incremental load must bring exactly
the activity that raw1 lacks.
Scratch files go to DIR (FINHOUSE_BENCH_DIR, default .finhouse/bench-transform/).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
VENV = ROOT / ".finhouse" / "venv" / "bin"
MANAGE = ROOT / "corebanking" / "manage.py"
FHLOAD = ROOT / "ingest" / "engine" / "build" / "fhload"
PROJECT = ROOT / "transform" / "finhouse"
README = HERE / "README.md"
RESULTS = HERE / "results.json"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/fh_bench_transform"
INSTITUTION = {"customers": 151_000, "years": 3, "seed": 7, "until": "2026-11-20"}


def _say(message: str) -> None:
    print(f"bench-transform: {message}", flush=True)


def _env(url: str, warehouse: Path | None = None) -> dict[str, str]:
    sys.path.insert(0, str(ROOT / "src"))
    from finhouse import config as fh_config  # dbt keeps no default of its own: .env.example's, filled in

    env = dict(
        fh_config.environ(),
        FINHOUSE_OLTP_URL=url,
        DJANGO_SETTINGS_MODULE="config.settings",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_LOG_LEVEL_FILE="info",  # as the transform DAG's builds
    )
    if warehouse is not None:
        env["FINHOUSE_DUCKDB_PATH"] = str(warehouse)
    return env


def _timed(cmd: list[str], env: dict[str, str], log: Path) -> float:
    """Run `cmd` with its output in `log`; its wall time in seconds. Exits with the log's tail on failure."""
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(
            f"bench-transform: {' '.join(cmd[:3])} failed (exit {proc.returncode}); see {log}\n{tail}"
        )
    return seconds


def _journal_entries(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM journal_entries").fetchone()[0]


def _raw1_journal_entries(url: str, out: Path) -> int:
    """The journal entries raw1 holds (recorded by prepare), else the OLTP's count now."""
    raw1 = out / "raw1.json"
    return json.loads(raw1.read_text())["journal_entries_raw1"] if raw1.exists() else _journal_entries(url)


def _newest_journal_entry(url: str) -> int:
    """The newest journal entry's id: an index lookup, cheap enough to poll (count(*) scans 10M rows)."""
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM journal_entries").fetchone()[0]


def _database_ready(url: str) -> bool:
    """Create and migrate the database when missing; True when it holds an institution."""
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [str(VENV / "python"), str(MANAGE), "migrate", "--no-input", "-v", "0"],
        env=_env(url),
        cwd=ROOT,
        check=True,
    )
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM customers").fetchone()[0] > 0


# --- prepare ---------------------------------------------------------------------------------------------
def prepare(url: str, out: Path, reload: bool) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    facts: dict = {}
    if not _database_ready(url):
        _say(
            f"simulating {INSTITUTION['customers']:,} customers over {INSTITUTION['years']} years "
            "(≈ 26 min on 2 cores)"
        )
        seconds = _timed(
            [
                str(VENV / "python"),
                str(MANAGE),
                "simulate",
                "--customers",
                str(INSTITUTION["customers"]),
                "--years",
                str(INSTITUTION["years"]),
                "--seed",
                str(INSTITUTION["seed"]),
                "--until",
                INSTITUTION["until"],
            ],
            _env(url),
            out / "simulate.log",
        )
        facts["simulate_seconds"] = round(seconds, 1)
    raw1 = out / "raw1.duckdb"
    if raw1.exists() and not reload:
        _say(f"{raw1} exists: keeping it (prepare --reload loads it anew)")
        return facts
    for stale in (raw1, raw1.with_name(raw1.name + ".wal")):
        stale.unlink(missing_ok=True)
    _say("loading the RAW layer with fhload (full)")
    seconds = _timed(
        [str(FHLOAD), "--source", url, "--warehouse", str(raw1), "--quiet"],
        _env(url),
        out / "fhload-full.log",
    )
    facts.update(fhload_full_seconds=round(seconds, 1), journal_entries_raw1=_journal_entries(url))
    (out / "raw1.json").write_text(json.dumps(facts))
    _say(f"raw1: {facts['journal_entries_raw1']:,} journal entries loaded in {seconds:.0f} s")
    return facts


# --- activity --------------------------------------------------------------------------------------------
class Activity:
    """New activity through the services (`simulate --live`) in `processes` processes, until the journal
    has grown by `growth_pct` percent (or `operations` operations in all, when given). Operations that post
    no entry (a refused withdrawal, an application not yet disbursed) do not count towards the growth.
    Runs in the background: the full build of raw1 (a DuckDB copy) does not read PostgreSQL."""

    def __init__(self, url: str, out: Path, growth_pct: float, operations: int | None, processes: int):
        self.url, self.out, self.operations = url, out, operations
        now = _journal_entries(url)
        self.before = _raw1_journal_entries(url, out)  # growth counts from raw1 (entries written since count)
        self.wanted = max(1, round(self.before * growth_pct / 100) - (now - self.before))
        self.first_new_id = _newest_journal_entry(url)
        self.started = time.monotonic()
        self.procs: list[tuple[subprocess.Popen, object]] = []
        goal = f"{operations:,} operations" if operations else f"+{growth_pct}% journal entries"
        _say(f"activity: {goal} through the services in {processes} processes (from {self.before:,} entries)")
        for i in range(processes):
            cmd = [
                str(VENV / "python"),
                str(MANAGE),
                "simulate",
                "--live",
                "--rate",
                "10000",
                "--seed",
                str(100 + i),
            ]
            if operations:
                cmd += [
                    "--operations",
                    str(operations // processes + (1 if i < operations % processes else 0)),
                ]
            log = (out / f"live-{i}.log").open("w")
            proc = subprocess.Popen(cmd, env=_env(url), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            self.procs.append((proc, log))

    def wait(self) -> dict:
        last_report = 0.0
        while any(proc.poll() is None for proc, _ in self.procs):
            new = _newest_journal_entry(self.url) - self.first_new_id  # ids are a sequence: ≈ new entries
            if not self.operations and new >= self.wanted:
                for proc, _ in self.procs:
                    proc.terminate()  # simulate --live stops cleanly after the operation in progress
                break
            if time.monotonic() - last_report > 60:
                last_report = time.monotonic()
                _say(f"    activity {new:,} of {self.wanted:,} new journal entries")
            time.sleep(5)
        for proc, log in self.procs:
            proc.wait()
            log.close()
            if proc.returncode not in (0, -15):
                raise SystemExit(f"bench-transform: simulate --live failed; see {log.name}")
        after = _journal_entries(self.url)
        facts = {
            "operations": sum(_operations_done(log.name) for _, log in self.procs),
            "activity_seconds": round(time.monotonic() - self.started, 1),
            "journal_entries_before": self.before,
            "journal_entries_after": after,
            "new_journal_entries_pct": round(100 * (after - self.before) / self.before, 2),
        }
        (self.out / "activity.json").write_text(json.dumps(facts))
        _say(
            f"activity: {after - self.before:,} new journal entries (+{facts['new_journal_entries_pct']}%), "
            f"{facts['operations']:,} operations, in {facts['activity_seconds']:.0f} s"
        )
        return facts


def _operations_done(log: str) -> int:
    """The operations a `simulate --live` process reports in its summary ("live: N operations in …")."""
    found = re.findall(r"^live: (\d+) operations in", Path(log).read_text(), re.MULTILINE)
    return int(found[-1]) if found else 0


# --- measure ---------------------------------------------------------------------------------------------
def _dbt_build(warehouse: Path, out: Path, name: str, *extra: str) -> dict:
    """`dbt build` on `warehouse`, as a deployment runs it: in the project's one target directory, so
    from the second build on dbt reuses its parse of the project (partial parsing), and without the unit
    tests, as the transform DAG (they run in CI). Keeps the build's run_results.json as
    DIR/run_results-NAME.json."""
    target = out / "target"
    seconds = _timed(
        [
            str(VENV / "dbt"),
            "build",
            "--project-dir",
            str(PROJECT),
            "--profiles-dir",
            str(PROJECT),
            "--target",
            "duckdb",
            "--target-path",
            str(target),
            "--log-path",
            str(out / "logs"),
            "--exclude-resource-type",
            "unit_test",
            *extra,
        ],
        _env("", warehouse),
        out / f"dbt-{name}.log",
    )
    kept = out / f"run_results-{name}.json"
    shutil.copyfile(target / "run_results.json", kept)
    run = json.loads(kept.read_text())
    results = run["results"]
    by_kind: dict[str, float] = {}
    for r in results:
        kind = r["unique_id"].split(".")[0]
        by_kind[kind] = by_kind.get(kind, 0.0) + r["execution_time"]
    slowest = sorted(
        (
            (r["execution_time"], r["unique_id"].split(".", 2)[-1])
            for r in results
            if r["unique_id"].startswith(("model.", "snapshot."))
        ),
        reverse=True,
    )[:8]
    return {
        "seconds": round(seconds, 1),
        # dbt's start: reading the project (a full parse, or partial from the second build on), connecting
        "startup_seconds": round(seconds - run["elapsed_time"], 1),
        "load_average_at_end": round(os.getloadavg()[0], 1),
        "nodes": len(results),
        "node_seconds": {k: round(v, 1) for k, v in sorted(by_kind.items())},
        "slowest": [[name, round(t, 1)] for t, name in slowest],
    }


def _copy(src: Path, dst: Path) -> None:
    for stale in (dst, dst.with_name(dst.name + ".wal")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(src, dst)


def measure(url: str, out: Path, activity: Activity | None = None) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    from finhouse.transform import warehouse_diff

    raw1 = out / "raw1.duckdb"
    if not raw1.exists():
        raise SystemExit(f"bench-transform: {raw1} is missing: run `run.py prepare` (then `activity`) first")
    # Every build runs on the same warehouse file and target directory, as a deployment's do (dbt then
    # parses the project once); the incremental result is kept aside for the comparison with the rebuild.
    warehouse, incremental_copy = out / "finhouse.duckdb", out / "incremental.duckdb"
    shutil.rmtree(out / "target", ignore_errors=True)
    _copy(raw1, warehouse)
    _say("1/5 full build of the RAW layer before the activity (dbt build --full-refresh)")
    full = _dbt_build(warehouse, out, "full", "--full-refresh")
    _say(f"    {full['seconds']:.0f} s")
    if activity is not None:
        activity.wait()
    _say("2/5 fhload: the incremental load of the new activity")
    load_seconds = _timed(
        [str(FHLOAD), "--source", url, "--warehouse", str(warehouse), "--quiet"],
        _env(url),
        out / "fhload-incremental.log",
    )
    _say(f"    {load_seconds:.1f} s")
    _say("3/5 incremental build (dbt build)")
    incremental = _dbt_build(warehouse, out, "incremental")
    _say(f"    {incremental['seconds']:.0f} s")
    _copy(warehouse, incremental_copy)
    _say("4/5 the same build again, with no new data: what an incremental build costs whatever the activity")
    noop = _dbt_build(warehouse, out, "noop")
    _say(f"    {noop['seconds']:.0f} s")
    _say("5/5 rebuild of the same RAW layer (dbt build --full-refresh), then the comparison")
    rebuild = _dbt_build(warehouse, out, "rebuild", "--full-refresh")
    _say(f"    {rebuild['seconds']:.0f} s")
    compared, problems = warehouse_diff.differences(incremental_copy, warehouse)
    for line in problems:
        _say(f"DIFFERS {line}")
    return {
        "full": full,
        "fhload_incremental_seconds": round(load_seconds, 1),
        "incremental": incremental,
        "rebuild": rebuild,
        "noop": noop,
        "tables_compared": compared,
        "tables_differing": len(problems),
        "ratio_incremental_to_rebuild": round(incremental["seconds"] / rebuild["seconds"], 3),
        "ratio_incremental_to_full": round(incremental["seconds"] / full["seconds"], 3),
    }


def _machine() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from finhouse import config as fh_config  # the defaults of .env.example

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory:.0f} GiB, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, dbt {fh_config.get('FINHOUSE_DBT_THREADS')} threads, "
        f"DuckDB memory_limit {fh_config.get('FINHOUSE_DBT_MEMORY_LIMIT')}"
    )


def write_readme(result: dict) -> None:
    m = result["measure"]
    act = result.get("activity", {})
    rows = []
    for name, label in (
        ("full", "full build — RAW before the activity (`--full-refresh`)"),
        ("incremental", "**incremental build** after the activity (`dbt build`)"),
        ("noop", "the same build again, with no new data (`dbt build`)"),
        ("rebuild", "full rebuild — the same RAW as the incremental (`--full-refresh`)"),
    ):
        if name not in m:
            continue
        b = m[name]
        kinds = b["node_seconds"]
        rows.append(
            f"| {label} | {b['seconds']:.0f} s | {b.get('load_average_at_end', '?')} | "
            f"{kinds.get('model', 0):.0f} s | "
            f"{kinds.get('test', 0):.0f} s | {', '.join(f'{n} {t:.0f} s' for n, t in b['slowest'][:4])} |"
        )
    text = "\n".join(
        [
            f"Measured {result['date']} on {result['machine']}.",
            "",
            f"Institution: {result['institution']}. New activity: {act.get('operations', 0):,} "
            f"operations through the services, +{act.get('new_journal_entries_pct', 0)}% journal entries "
            f"({act.get('journal_entries_before', 0):,} → {act.get('journal_entries_after', 0):,}); fhload's "
            f"incremental load of it: {m['fhload_incremental_seconds']:.1f} s."
            + (f" Note: {act['stopped_early']}." if act.get("stopped_early") else ""),
            "",
            "| build | wall time | load average at the end | Σ model time | Σ test time | slowest models |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"**Incremental / full rebuild of the same data: "
            f"{100 * m['ratio_incremental_to_rebuild']:.1f}%** "
            f"(target ≤ 15%); incremental / full build before the activity: "
            f"{100 * m['ratio_incremental_to_full']:.1f}%. Σ model and Σ test time add up each node's "
            "own time over dbt's 4 threads (they exceed the wall time when nodes overlap).",
            "",
            f"Incremental build against the rebuild: {m['tables_compared']} tables compared "
            "(finhouse.transform.warehouse_diff), "
            f"{m['tables_differing']} differ.",
        ]
    )
    readme = README.read_text()
    start, end = "<!-- RESULTS -->", "<!-- /RESULTS -->"
    head, _, rest = readme.partition(start)
    _, _, tail = rest.partition(end)
    README.write_text(f"{head}{start}\n{text}\n{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument("step", choices=["prepare", "activity", "measure", "all"])
    parser.add_argument(
        "--operations",
        type=int,
        default=None,
        help="activity: stop after this many operations in all, not at --growth",
    )
    parser.add_argument(
        "--growth",
        type=float,
        default=1.0,
        help="activity: stop when the journal has grown by this many percent (default 1)",
    )
    parser.add_argument("--processes", type=int, default=4, help="activity: live processes (default 4)")
    parser.add_argument("--reload", action="store_true", help="prepare: load raw1 anew even if it exists")
    parser.add_argument("--no-readme", action="store_true", help="measure: do not write README.md")
    args = parser.parse_args(argv)
    url = os.environ.get("FINHOUSE_BENCH_TRANSFORM_URL", DEFAULT_URL)
    out = Path(os.environ.get("FINHOUSE_BENCH_DIR", ROOT / ".finhouse" / "bench-transform")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not FHLOAD.exists():
        raise SystemExit(f"bench-transform: {FHLOAD} is not built: run `make engine`")
    if args.step in ("prepare", "all"):
        # raw1 must hold exactly the OLTP before this run's activity: load it anew after an earlier one
        raw1, done = out / "raw1.duckdb", out / "activity.json"
        stale = raw1.exists() and done.exists() and done.stat().st_mtime > raw1.stat().st_mtime
        prepare(url, out, args.reload or (args.step == "all" and stale))
    background = None
    if args.step == "activity":
        Activity(url, out, args.growth, args.operations, args.processes).wait()
    elif args.step == "all":  # the activity runs beside the full build of raw1; measure waits for it
        (out / "activity.json").unlink(missing_ok=True)
        background = Activity(url, out, args.growth, args.operations, args.processes)
    if args.step in ("measure", "all"):
        result = {
            "date": dt.date.today().isoformat(),
            "machine": _machine(),
            "institution": f"{INSTITUTION['customers']:,} customers × {INSTITUTION['years']} years "
            f"(seed {INSTITUTION['seed']}), {_raw1_journal_entries(url, out):,} journal entries "
            "before the activity",
        }
        result["measure"] = measure(url, out, background)
        activity_file = out / "activity.json"  # read after: the activity may end while the full build runs
        if activity_file.exists():
            result["activity"] = json.loads(activity_file.read_text())
        result["machine"] = _machine()
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        if not args.no_readme:
            write_readme(result)
        m = result["measure"]
        _say(
            f"full {m['full']['seconds']:.0f} s, incremental {m['incremental']['seconds']:.0f} s, rebuild "
            f"{m['rebuild']['seconds']:.0f} s: incremental = {100 * m['ratio_incremental_to_rebuild']:.1f}% "
            f"of the rebuild; {m['tables_differing']} of {m['tables_compared']} tables differ"
        )
        return 1 if m["tables_differing"] else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
