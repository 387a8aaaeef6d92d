"""`fhload stream` against the real core-banking schema while the simulator writes through the services:
the snapshot handoff, streaming under live activity, a hard delete, a transaction held open across
hundreds of later commits, and a TOASTed value that an update does not resend. After each, every registry
table reconciles exactly with PostgreSQL (count, key set, sum of every integer/numeric column) in RAW's
current view (tests/cdc/cdc_support.py)."""

from __future__ import annotations

import json
import time

import duckdb
import psycopg
import pytest
from cdc_support import assert_no_doubles, reconcile, stop

from simulator.testing import finish_live, live


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return tmp_path_factory.mktemp("cdc") / "stream.duckdb"


def test_snapshot_then_streaming_under_live_activity_reconciles(source, warehouse):
    """The first start reads every table in the slot's exported snapshot, then follows the changes the
    simulator's live mode makes meanwhile (and a hard delete in an incremental table): nothing missed,
    nothing doubled, the delete removes the key from the current view and is stored as a 'delete' row.
    SIGTERM commits what is whole and exits 0; a restart resumes from the stored LSN."""
    before = source.one("SELECT count(*) FROM journal_entries")
    stream = source.popen(warehouse)
    try:
        finish_live(live(source.url, 6, rate=30))
        gone = source.one("SELECT min(id) FROM loan_collateral")
        source.sql("DELETE FROM loan_collateral WHERE id = %s", [gone])
        source.sql(
            "UPDATE loan_collateral SET value = value + 1.25 WHERE id = (SELECT max(id) FROM loan_collateral)"
        )
        time.sleep(1)
    finally:
        stop(stream)
    source.catch_up(warehouse)  # whatever SIGTERM left uncommitted, from the stored LSN
    rows = reconcile(source, warehouse)
    assert rows["journal_entries"] > before, "live mode posted nothing"
    assert_no_doubles(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ops = con.execute(
            "SELECT _fh_op FROM raw.loan_collateral WHERE id = ? "
            "ORDER BY _fh_load_id, _fh_commit_lsn NULLS FIRST",
            [gone],
        ).fetchall()
        modes = {r[0] for r in con.execute("SELECT DISTINCT mode FROM raw._fh_loads").fetchall()}
    assert ops[-1] == ("delete",), f"the hard delete is not the key's last row: {ops}"
    assert "stream" in modes, f"no streamed load recorded: {modes}"


def test_transaction_open_across_later_commits_lands_in_commit_order(source, warehouse):
    """A transaction that updated a row stays open while 300 later transactions commit and the stream
    acknowledges them; it commits last. Its row arrives, with a commit LSN above every later one's — the
    order of commits, not of starts — though its updated_at (the trigger's now() = its start) is older
    than theirs: the batch loader's cursor would already have passed it."""
    old_id, new_id = (
        r[0]
        for r in source.sql("SELECT id FROM savings_accounts WHERE status = 'active' ORDER BY id LIMIT 2")
    )
    stream = source.popen(warehouse)
    late = psycopg.connect(source.url)
    try:
        late.execute("UPDATE savings_accounts SET balance = balance + 123.45 WHERE id = %s", [old_id])
        with psycopg.connect(source.url, autocommit=True) as conn:
            for _ in range(300):
                conn.execute("UPDATE savings_accounts SET balance = balance + 0.01 WHERE id = %s", [new_id])
        time.sleep(1.5)  # the stream commits and acknowledges the 300 while the late one is still open
        late.commit()
        time.sleep(0.5)
    finally:
        late.close()
        stop(stream)
    source.catch_up(warehouse)
    stamp_old, stamp_new = source.sql(
        "SELECT (SELECT updated_at FROM savings_accounts WHERE id = %s), "
        "(SELECT updated_at FROM savings_accounts WHERE id = %s)",
        [old_id, new_id],
    )[0]
    assert stamp_old < stamp_new, "the race did not happen: the late row is not older than the others"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        late_lsn, late_balance = con.execute(
            "SELECT _fh_commit_lsn, balance FROM raw.savings_accounts "
            "WHERE id = ? AND _fh_commit_lsn IS NOT NULL "
            "ORDER BY _fh_commit_lsn DESC LIMIT 1",
            [old_id],
        ).fetchone()
        others, top = con.execute(
            "SELECT count(DISTINCT _fh_commit_lsn), max(_fh_commit_lsn) FROM raw.savings_accounts "
            "WHERE id = ? AND _fh_commit_lsn IS NOT NULL",
            [new_id],
        ).fetchone()
    assert others >= 300, f"only {others} of the 300 later commits are in raw"
    assert late_lsn > top, (
        f"the late transaction's commit LSN {late_lsn} is not above the later ones' ({top})"
    )
    assert late_balance == source.one("SELECT balance FROM savings_accounts WHERE id = %s", [old_id])
    reconcile(source, warehouse)
    assert_no_doubles(warehouse)


def test_toasted_value_not_resent_by_an_update_stays(source, warehouse):
    """With STORAGE EXTERNAL a > 2 kB value is stored out of line uncompressed (STACK.md: compressed,
    a repetitive value would fit inline and never show the case), and an update of another column sends
    it as 'unchanged TOAST' ('u'), without the value: RAW's new version still holds the long value,
    never NULL."""
    source.sql("ALTER TABLE payments ALTER COLUMN provider_data SET STORAGE EXTERNAL")
    pid = source.one("SELECT max(id) FROM payments")
    doc = {"note": "".join(chr(97 + (i * 7919) % 26) for i in range(6000)), "n": 1}
    source.sql("UPDATE payments SET provider_data = %s WHERE id = %s", [json.dumps(doc), pid])
    toasted = source.one("SELECT pg_column_size(provider_data) FROM payments WHERE id = %s", [pid])
    assert toasted > 2000
    source.catch_up(warehouse)
    source.sql("UPDATE payments SET updated_at = updated_at + interval '1 second' WHERE id = %s", [pid])
    source.catch_up(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        versions = con.execute(
            "SELECT provider_data, _fh_op FROM raw.payments WHERE id = ? AND _fh_superseded IS NOT TRUE "
            "ORDER BY _fh_load_id DESC LIMIT 2",
            [pid],
        ).fetchall()
    assert len(versions) == 2 and versions[0][1] == "update", versions
    assert versions[0][0] is not None, "the unchanged TOASTed value became NULL"
    value = versions[0][0]
    assert (json.loads(value) if isinstance(value, str) else value) == doc
    reconcile(source, warehouse, tables={"payments"})
