"""Bad configurations stop `fhload stream` before it writes anything: each with its exit code
(fh_error.h) and a one-line message saying what to do, and the warehouse as it was.

- wal_level = replica (the machine's own server, FINHOUSE_TEST_PG): 6
- the slot dropped while the warehouse holds progress for it: 7, "run fhload stream --resync"
- the slot in use by another stream: 8, naming the pid holding it
- a role without REPLICATION: 9
- a captured table without a primary key: 4, naming the table"""

from __future__ import annotations

import os
import time

import psycopg
import pytest
from cdc_support import (
    EXIT_BUSY,
    EXIT_PERM,
    EXIT_SCHEMA,
    EXIT_SLOT,
    EXIT_WAL,
    PREFIX,
    Source,
    admin,
    drop_slot,
    fingerprint,
    nothing_written,
    one_line_message,
    stop,
)

MACHINE_PG = os.environ.get("FINHOUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


def test_wal_level_replica_exits_6(cdc_template, tmp_path):
    warehouse = tmp_path / "wal.duckdb"
    name = f"{PREFIX}_replica"
    with psycopg.connect(f"{MACHINE_PG}/postgres", autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SHOW wal_level").fetchone()[0] == "logical":
            pytest.fail(f"{MACHINE_PG} runs with wal_level = logical: this case needs a replica server")
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        src = Source.__new__(Source)
        src.name, src.url, src.slot = name, f"{MACHINE_PG}/{name}", name
        proc = src.stream(warehouse, "--max-seconds", "5", expect=EXIT_WAL, timeout=60)
        assert "wal_level" in one_line_message(proc.stderr)
        nothing_written(None, warehouse)
    finally:
        with psycopg.connect(f"{MACHINE_PG}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_missing_slot_after_progress_exits_7(fresh_source, tmp_path):
    warehouse = tmp_path / "slot.duckdb"
    fresh_source.catch_up(warehouse)
    drop_slot(fresh_source.slot)
    before = fingerprint(warehouse)
    proc = fresh_source.stream(warehouse, "--max-seconds", "5", expect=EXIT_SLOT, timeout=60)
    assert "--resync" in one_line_message(proc.stderr)
    nothing_written(before, warehouse)


def test_slot_busy_exits_8(fresh_source, tmp_path):
    first = tmp_path / "first.duckdb"
    fresh_source.catch_up(first)
    holder = fresh_source.popen(first)
    try:
        for _ in range(100):  # until the first stream's walsender holds the slot
            pid = fresh_source.one(
                "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", [fresh_source.slot]
            )
            if pid:
                break
            time.sleep(0.1)
        assert pid, "the first stream never took the slot"
        second = tmp_path / "second.duckdb"
        proc = fresh_source.stream(second, "--max-seconds", "5", expect=EXIT_BUSY, timeout=60)
        assert str(pid) in one_line_message(proc.stderr), f"the message does not name pid {pid}"
        nothing_written(None, second)
    finally:
        stop(holder)


def test_role_without_replication_exits_9(fresh_source, tmp_path):
    warehouse = tmp_path / "perm.duckdb"
    role = f"{PREFIX}_norepl"
    admin(f'DROP ROLE IF EXISTS "{role}"')
    admin(f'CREATE ROLE "{role}" LOGIN NOREPLICATION')
    try:
        fresh_source.sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
        src = Source(fresh_source.name)
        src.url = fresh_source.url.replace("postgres@", f"{role}@")
        proc = src.stream(warehouse, "--max-seconds", "5", expect=EXIT_PERM, timeout=60)
        one_line_message(proc.stderr)
        nothing_written(None, warehouse)
    finally:
        fresh_source.sql(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"')
        admin(f'DROP ROLE IF EXISTS "{role}"')


def test_table_without_primary_key_exits_4(fresh_source, tmp_path):
    warehouse = tmp_path / "pk.duckdb"
    fresh_source.sql("ALTER TABLE loan_collateral DROP CONSTRAINT loan_collateral_pkey")
    proc = fresh_source.stream(warehouse, "--max-seconds", "5", expect=EXIT_SCHEMA, timeout=60)
    assert "loan_collateral" in one_line_message(proc.stderr)
    nothing_written(None, warehouse)
