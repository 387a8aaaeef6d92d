"""A 200,000-row source transaction through `fhload stream`, with logical_decoding_work_mem at its
minimum (64kB, ALTER SYSTEM + reload on the test cluster, reset afterwards), so that the server cannot hold
it in memory: it streams it before its commit (fhload stream asks for streaming 'on' and spools the
blocks), or spills it to its disk with streaming 'off' (pg_stat_replication_slots says which; either
exercises the case). It applies whole — all its rows carry its commit LSN — and the stream's
peak resident memory (VmHWM of /proc/PID/status, sampled until it exits) is printed and stays within
fhload's documented bound (256 MiB at the default FINHOUSE_DUCKDB_MEMORY_LIMIT; the issue's target is
128 MiB: see bench/cdc/README.md).

A transaction three times larger (600,000 rows) applies too: cdc_dest finds superseded versions with an
aggregate of the keys changed twice, not a window over the whole group (which ran out of DuckDB's 100MB
about half the time). The bound is not "any size" yet — 1.5M changes of one table in one transaction
still exhaust the 100MB limit (issue 18's note) — and this test fails, not xfails, if 600,000 stops
fitting."""

from __future__ import annotations

import os
import time

import duckdb
from cdc_support import admin, reconcile, vm_hwm_kib

ROWS = int(os.environ.get("FINHOUSE_CDC_LARGE_ROWS") or 200_000)
RSS_BOUND_MIB = 256


def test_large_streamed_transaction_applies_whole_in_bounded_memory(source, tmp_path):
    _large_transaction(source, tmp_path / "large.duckdb", ROWS)


def test_transaction_larger_than_the_memory_limit_applies(source, tmp_path):
    _large_transaction(source, tmp_path / "larger.duckdb", 600_000)


def _large_transaction(source, warehouse, rows: int) -> None:
    source.catch_up(warehouse)
    admin("ALTER SYSTEM SET logical_decoding_work_mem = '64kB'")
    admin("SELECT pg_reload_conf()")
    try:
        loan = source.one("SELECT min(id) FROM loans")
        source.sql(
            "INSERT INTO loan_collateral (created_at, updated_at, kind, description, value, loan_id) "
            "SELECT now(), now(), 'other', 'bulk' || %s || ' ' || g, 1 + g %% 1000, %s "
            "FROM generate_series(1, %s) g",
            [str(rows), loan, rows],
        )
        lsn = source.lsn()
        proc = source.popen(warehouse, "--stop-at-lsn", lsn)
        peak = 0
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            peak = max(peak, vm_hwm_kib(proc.pid) or 0)
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, f"fhload stream exited {proc.returncode}: {err[-2000:]}"
    finally:
        admin("ALTER SYSTEM RESET logical_decoding_work_mem")
        admin("SELECT pg_reload_conf()")
    spilled = streamed = 0
    for _ in range(50):  # the walsender's statistics reach the view shortly after it exits
        spilled, streamed = source.sql(
            "SELECT coalesce(sum(spill_txns), 0), coalesce(sum(stream_txns), 0) "
            "FROM pg_stat_replication_slots WHERE slot_name = %s",
            [source.slot],
        )[0]
        if spilled or streamed:
            break
        time.sleep(0.1)
    assert spilled or streamed, "the server neither spilled nor streamed it: the case was not exercised"
    how = "streamed" if streamed else "spilled"
    print(f"\npeak RSS of fhload stream over a {rows}-row transaction ({how}): {peak / 1024:.1f} MiB")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        lsns = con.execute(
            "SELECT _fh_commit_lsn, count(*) FROM raw.loan_collateral WHERE description LIKE ? "
            "AND _fh_commit_lsn IS NOT NULL GROUP BY 1",
            [f"bulk{rows} %"],
        ).fetchall()
    assert len(lsns) == 1 and lsns[0][1] == rows, f"the transaction did not land whole: {lsns}"
    reconcile(source, warehouse, tables={"loan_collateral", "loans"})
    assert peak and peak / 1024 <= RSS_BOUND_MIB, f"peak RSS {peak / 1024:.1f} MiB > {RSS_BOUND_MIB} MiB"
