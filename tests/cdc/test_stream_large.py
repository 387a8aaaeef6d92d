"""A 200,000-row source transaction through `fhload stream`, with logical_decoding_work_mem at its
minimum (64kB, ALTER SYSTEM + reload on the test cluster, reset afterwards) so the server streams it in
pieces before its commit (Stream Start/Stop/Commit, protocol v2): it applies whole — all its rows carry
its commit LSN — and the stream's peak resident memory (VmHWM of /proc/PID/status, sampled until it exits)
stays within the issue's bound of 128 MiB whatever the transaction's size."""

from __future__ import annotations

import time

import duckdb
from cdc_support import REGISTRY, admin, reconcile, vm_hwm_kib

ROWS = 200_000
RSS_BOUND_MIB = 128


def test_large_streamed_transaction_applies_whole_in_bounded_memory(source, tmp_path):
    warehouse = tmp_path / "large.duckdb"
    source.catch_up(warehouse)
    admin("ALTER SYSTEM SET logical_decoding_work_mem = '64kB'")
    admin("SELECT pg_reload_conf()")
    try:
        loan = source.one("SELECT min(id) FROM loans")
        source.sql(
            "INSERT INTO loan_collateral (created_at, updated_at, kind, description, value, loan_id) "
            "SELECT now(), now(), 'other', 'bulk ' || g, 1 + g % 1000, %s FROM generate_series(1, %s) g",
            [loan, ROWS],
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
    print(f"\npeak RSS of fhload stream over a {ROWS}-row streamed transaction: {peak / 1024:.1f} MiB")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        lsns = con.execute(
            "SELECT _fh_commit_lsn, count(*) FROM raw.loan_collateral WHERE description LIKE 'bulk %' "
            "GROUP BY 1"
        ).fetchall()
    assert len(lsns) == 1 and lsns[0][1] == ROWS, f"the transaction did not land whole: {lsns}"
    reconcile(source, warehouse, tables={"loan_collateral", "loans"})
    assert peak and peak / 1024 <= RSS_BOUND_MIB, f"peak RSS {peak / 1024:.1f} MiB > {RSS_BOUND_MIB} MiB"
    assert REGISTRY.exists()
