"""`fhload stream` killed and its source restarted: exactly once survives both.

1. SIGKILL at KILLS random points (FINHOUSE_E2E_SEED picks them; printed on failure) while the simulator
   writes: in the snapshot (every fifth run starts with --resync, which reads it again), in apply, group
   commit and the status update — the delays are uniform over 0.1–2.5 s, which the ~200 ms group commit
   interval divides into all of these; each run's log tells whether it was killed before streaming began
   (checks, snapshot) or while streaming, and both must have happened. Restarted each time; along the
   way and at the end no key is twice among one load's non-superseded rows and every row's load is
   recorded; at the end everything reconciles exactly.
2. PostgreSQL restarted under a running stream (scripts/pg-logical restart): the stream reconnects,
   resumes from its stored LSN and applies what is written after the restart, without exiting."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest
from cdc_support import EXIT_BUSY, assert_no_doubles, pg_logical, reconcile

from simulator.testing import finish_live, live

KILLS = int(os.environ.get("FINHOUSE_CDC_KILLS") or 40)
SEED = int(os.environ.get("FINHOUSE_E2E_SEED", str(int(time.time()))))


def test_sigkill_at_random_points_loses_and_doubles_nothing(source, tmp_path):
    warehouse = tmp_path / "killed.duckdb"
    rng = random.Random(SEED)
    activity = live(source.url, 300, rate=20)
    kills = attempts = busy = 0
    phases = {"start or snapshot": 0, "streaming": 0}
    try:
        while kills < KILLS:
            attempts += 1
            assert attempts <= 2 * KILLS + busy, (
                f"only {kills} of {attempts} runs were alive when killed (seed {SEED})"
            )
            proc = source.popen(warehouse, *(["--resync"] if attempts % 5 == 1 else []), quiet=False)
            time.sleep(rng.uniform(0.1, 2.5))
            killed = proc.poll() is None
            if killed:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            _, err = proc.communicate(timeout=30)
            if killed:  # its log says whether it had got past the checks and the snapshot
                phases["streaming" if "streaming slot" in err else "start or snapshot"] += 1
            if proc.returncode == EXIT_BUSY:  # the killed run's walsender had not noticed yet: try again
                busy += 1
                time.sleep(0.2)
                continue
            assert proc.returncode == -signal.SIGKILL, (
                f"fhload stream exited {proc.returncode}: {err[-2000:]}"
            )
            if attempts % 6 == 0 and warehouse.exists():
                assert_no_doubles(warehouse)
    finally:
        activity.send_signal(signal.SIGTERM)
        finish_live(activity)
    print(f"\n{kills} kills (seed {SEED}): {phases}, {busy} runs found the slot still held")
    assert all(phases.values()), f"the kills did not spread over start/snapshot and streaming: {phases}"
    source.catch_up(warehouse)
    assert_no_doubles(warehouse)
    reconcile(source, warehouse)


def test_postgres_restart_mid_stream_reconnects_and_resumes(source, tmp_path):
    warehouse = tmp_path / "restart.duckdb"
    source.catch_up(warehouse)  # snapshot and progress first
    account = source.one("SELECT min(id) FROM savings_accounts WHERE status = 'active'")
    stream = source.popen(warehouse, "--max-seconds", "12")
    try:
        time.sleep(1)
        for _ in range(20):
            source.sql("UPDATE savings_accounts SET balance = balance + 1 WHERE id = %s", [account])
        restart = pg_logical("restart")
        assert restart.returncode == 0, restart.stderr
        for _ in range(20):  # after the restart: only a reconnected stream can see these
            source.sql("UPDATE savings_accounts SET balance = balance + 2 WHERE id = %s", [account])
        out, err = stream.communicate(timeout=60)
    finally:
        if stream.poll() is None:
            stream.kill()
            stream.wait()
    assert stream.returncode == 0, f"the stream exited {stream.returncode} after the restart: {err[-2000:]}"
    reconcile(source, warehouse, tables={"savings_accounts"})
    assert_no_doubles(warehouse)


@pytest.fixture(autouse=True)
def _cluster_is_up():
    yield
    assert pg_logical("status").returncode == 0 or pg_logical("start").returncode == 0
