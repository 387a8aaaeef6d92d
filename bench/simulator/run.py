#!/usr/bin/env python3
"""Benchmark of the simulator's bulk load against the same operations written one ORM save at a time.

1. bulk: `manage.py simulate` sized to about 1M journal entries (ledger transactions) with their schedules,
   payments and journal lines, as a child process: whole-process wall time, rows/s, peak RSS (the largest
   of the command and its worker processes, from getrusage(RUSAGE_CHILDREN));
2. services: a sample of the same kinds of operations (deposits, repayments, withdrawals, new loans,
   fixed deposits, transfers, in the live mode's mix) written one at a time through the service
   functions — each a Django ORM transaction posting one journal entry — on the institution the bulk
   run left behind;
3. the ratio of the per-operation costs: seconds per operation through the services / seconds per
   journal entry in bulk.

Medians of --runs runs go into bench/simulator/README.md. Uses its own database (FINHOUSE_BENCH_URL,
default postgresql://postgres@127.0.0.1:5432/fh_bench_simulator), created and migrated when missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".finhouse" / "venv" / "bin" / "python")
MANAGE = str(ROOT / "corebanking" / "manage.py")
README = Path(__file__).resolve().parent / "README.md"

SERVICE_SAMPLE = """
import io, time, django
django.setup()
from simulator.live import Live
live = Live(seed=9)
n = {n}
t = time.perf_counter()
while sum(live.done.values()) + sum(live.refused.values()) < n:
    live.step()
print("SERVICE", sum(live.done.values()), time.perf_counter() - t)
"""


def ensure_database(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([PYTHON, MANAGE, "migrate", "--no-input", "-v", "0"], env=env(url), check=True)


def env(url: str) -> dict:
    return {
        **os.environ,
        "FINHOUSE_OLTP_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(ROOT / "corebanking"),
    }


def bulk_run(url: str, customers: int, years: float) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    result = subprocess.run(
        [
            PYTHON,
            MANAGE,
            "simulate",
            "--customers",
            str(customers),
            "--years",
            str(years),
            "--seed",
            "1",
            "--until",
            "2025-06-30",
            "--reset",
        ],
        env=env(url),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"bench: simulate failed: {result.stderr.strip()}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, max over every waited-for descendant
    out = result.stdout
    rows = int(re.search(r"total rows\s+([\d,]+)", out).group(1).replace(",", ""))
    entries = int(re.search(r"journal entries ([\d,]+)", out).group(1).replace(",", ""))
    lines = int(re.search(r"journal_lines\s+([\d,]+)", out).group(1).replace(",", ""))
    par30 = re.search(r"PAR30 ([\d.]+%)", out).group(1)
    return {
        "wall": wall,
        "rows": rows,
        "entries": entries,
        "lines": lines,
        "rss_mib": max(rss, before) / 1024,
        "par30": par30,
        "stdout": out,
    }


def service_run(url: str, n: int) -> dict:
    started = time.perf_counter()
    result = subprocess.run(
        [PYTHON, "-c", SERVICE_SAMPLE.format(n=n)],
        env=env(url),
        capture_output=True,
        text=True,
        cwd=ROOT / "corebanking",
    )
    if result.returncode != 0:
        sys.exit(f"bench: service sample failed: {result.stderr.strip()[-2000:]}")
    m = re.search(r"SERVICE (\d+) ([\d.]+)", result.stdout)
    return {"ops": int(m.group(1)), "seconds": float(m.group(2)), "wall": time.perf_counter() - started}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load average {load:.1f} at the start"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--customers", type=int, default=15000, help="bulk size (default 15000 ≈ 1M journal entries)"
    )
    ap.add_argument("--years", type=float, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sample", type=int, default=2000, help="operations written through the services")
    ap.add_argument("--no-readme", action="store_true", help="print, do not rewrite README.md")
    args = ap.parse_args()
    url = os.environ.get("FINHOUSE_BENCH_URL", "postgresql://postgres@127.0.0.1:5432/fh_bench_simulator")
    where = machine()
    ensure_database(url)
    bulks, services = [], []
    for i in range(args.runs):
        b = bulk_run(url, args.customers, args.years)
        bulks.append(b)
        print(
            f"bulk run {i + 1}: {b['wall']:.1f} s, {b['entries']:,} journal entries, {b['rows']:,} rows, "
            f"{b['rows'] / b['wall']:,.0f} rows/s, peak RSS {b['rss_mib']:.0f} MiB, PAR30 {b['par30']}",
            flush=True,
        )
        s = service_run(url, args.sample)
        services.append(s)
        print(
            f"services run {i + 1}: {s['ops']} operations in {s['seconds']:.1f} s "
            f"({s['seconds'] / s['ops'] * 1000:.2f} ms/operation)",
            flush=True,
        )
    wall = statistics.median(b["wall"] for b in bulks)
    entries = statistics.median(b["entries"] for b in bulks)
    rows = statistics.median(b["rows"] for b in bulks)
    rss = max(b["rss_mib"] for b in bulks)
    per_entry = statistics.median(b["wall"] / b["entries"] for b in bulks)
    per_op = statistics.median(s["seconds"] / s["ops"] for s in services)
    ratio = per_op / per_entry
    lines = statistics.median(b["lines"] for b in bulks)
    table = (
        "| | bulk (`simulate`, COPY) | services (one ORM transaction per operation) |\n"
        "|---|---|---|\n"
        f"| size | {args.customers:,} customers × {args.years:g} years: {entries:,.0f} journal entries, "
        f"{lines:,.0f} journal lines, {rows:,.0f} rows in all | {args.sample:,} operations |\n"
        f"| wall time (median of {args.runs}) | {wall:.1f} s (whole process) | "
        f"{statistics.median(s['seconds'] for s in services):.1f} s |\n"
        f"| throughput | {rows / wall:,.0f} rows/s; {entries / wall:,.0f} journal entries/s | "
        f"{1 / per_op:,.0f} operations/s |\n"
        f"| per operation | {per_entry * 1e6:.1f} µs per journal entry | "
        f"{per_op * 1e3:.2f} ms per operation |\n"
        f"| peak RSS | {rss:.0f} MiB (largest process) | |\n"
        f"| **ratio** | **{ratio:,.0f}× faster per operation in bulk** | |\n"
    )
    runs = "\n".join(
        f"- run {i + 1}: bulk {b['wall']:.1f} s ({b['entries']:,} entries, PAR30 {b['par30']}); "
        f"services {s['seconds'] / s['ops'] * 1000:.2f} ms/operation"
        for i, (b, s) in enumerate(zip(bulks, services, strict=True))
    )
    report = f"Measured {dt.date.today()} on {where}.\n\n{table}\nRuns:\n{runs}\n"
    print(report)
    if not args.no_readme:
        text = README.read_text() if README.exists() else "# Simulator benchmark\n\n<!-- results -->\n"
        head = text.split("<!-- results -->")[0]
        README.write_text(f"{head}<!-- results -->\n{report}")


if __name__ == "__main__":
    main()
