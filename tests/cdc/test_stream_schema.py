"""Schema changes under `fhload stream` (run in this order on the module's own database):

1. ADD COLUMN on a captured table flows through: the raw table gains the column, the new rows hold it.
2. TRUNCATE is recorded: a row in raw._fh_truncates, and the table's current view in RAW is empty.
3. An incompatible type change (numeric → text) stops the stream with exit 4 (FH_ESCHEMA), a message
   naming the table and the column, and nothing of the offending transaction committed."""

from __future__ import annotations

import duckdb
from cdc_support import EXIT_SCHEMA, assert_no_doubles, current_view, fingerprint, reconcile


def test_add_column_flows_through(source, tmp_path_factory):
    warehouse = tmp_path_factory.getbasetemp() / "schema.duckdb"
    source.catch_up(warehouse)
    source.sql("ALTER TABLE loan_collateral ADD COLUMN cdc_note text")
    source.sql(
        "UPDATE loan_collateral SET cdc_note = 'appraised again' "
        "WHERE id = (SELECT max(id) FROM loan_collateral)"
    )
    source.catch_up(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        notes = con.execute(
            f"SELECT cdc_note, count(*) FROM {current_view('loan_collateral', ['id'])} GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert ("appraised again", 1) in notes, notes
    reconcile(source, warehouse)
    assert_no_doubles(warehouse)


def test_truncate_is_recorded(source, tmp_path_factory):
    warehouse = tmp_path_factory.getbasetemp() / "schema.duckdb"
    source.sql("TRUNCATE loan_collateral")
    source.catch_up(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        live_rows = con.execute(f"SELECT count(*) FROM {current_view('loan_collateral', ['id'])}").fetchone()[
            0
        ]
        truncates = con.execute("SELECT count(*) FROM raw._fh_truncates").fetchone()[0]
    assert live_rows == 0 and truncates >= 1, (live_rows, truncates)
    reconcile(source, warehouse)


def test_incompatible_type_change_stops_with_exit_4(source, tmp_path_factory):
    warehouse = tmp_path_factory.getbasetemp() / "schema.duckdb"
    source.sql(
        "INSERT INTO loan_collateral (kind, description, value, loan_id) "
        "SELECT 'other', 'before', 10, min(id) FROM loans"
    )
    source.catch_up(warehouse)
    before = fingerprint(warehouse)
    source.sql("ALTER TABLE loan_collateral DROP CONSTRAINT collateral_value_positive")
    source.sql("ALTER TABLE loan_collateral ALTER COLUMN value TYPE text USING value::text")
    source.sql(
        "INSERT INTO loan_collateral (kind, description, value, loan_id) "
        "SELECT 'other', 'after', 'ten', min(id) FROM loans"
    )
    proc = source.stream(warehouse, "--stop-at-lsn", source.lsn(), expect=EXIT_SCHEMA, timeout=60)
    assert "loan_collateral" in proc.stderr and "value" in proc.stderr, proc.stderr
    after = fingerprint(warehouse)
    for state in (before, after):  # a keepalive may move the progress of an idle slot: not data
        state.pop("_fh_stream rows", None)
    assert after == before, "rows of the offending transaction were committed"
