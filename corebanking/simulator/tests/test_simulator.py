"""The simulator on the real PostgreSQL test database: the history it writes obeys the same invariants as
the services' (simulator.checks), is deterministic per seed, looks like a real MFI, and bad input is
refused in one line.

The bulk loader commits (and forks workers), so these tests do not run inside pytest-django's
per-test transaction: a module fixture unblocks the database and empties the business tables again
at the end, leaving the chart of accounts and transaction types as the migrations seeded them. It runs
on a test database (pytest-django's, or its own when no django_db test was collected), never on the
database FINHOUSE_OLTP_URL names."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import setup_databases, teardown_databases

from simulator import bulk, checks, writer

UNTIL = dt.date(2025, 6, 30)
BACKEND = Path(__file__).resolve().parents[2]


# Read at collection, before pytest-django switches the connection to its test database.
CONFIGURED_DB = connection.settings_dict["NAME"]


@pytest.fixture(scope="module")
def sim_db(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        own = None
        # pytest-django creates its test database only when a collected test asks for it (a django_db
        # test); when none was (tests picked one by one), the connection still names FINHOUSE_OLTP_URL's
        # database: make the test database here, never simulate over that one.
        if connection.settings_dict["NAME"] == CONFIGURED_DB:
            own = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        try:
            yield
            with transaction.atomic(), connection.cursor() as cur:
                writer.reset(cur)
        finally:
            if own is not None:
                teardown_databases(own, verbosity=0)


def simulate(customers: int, years: float, seed: int, **kw) -> bulk.Summary:
    opts = bulk.Options(
        customers=customers, years=years, seed=seed, until=kw.pop("until", UNTIL), reset=True, **kw
    )
    return bulk.run(opts)


def checksums() -> dict[str, str]:
    out = {}
    connection.ensure_connection()
    raw = connection.connection
    for table in (*writer.WORLD_TABLES, "auth_user", *(t.name for t in writer.TABLES)):
        digest = hashlib.md5()
        with raw.cursor() as cur, cur.copy(f"COPY (SELECT * FROM {table} ORDER BY id) TO STDOUT") as cp:
            for block in cp:
                digest.update(block)
        out[table] = digest.hexdigest()
    return out


@pytest.fixture(scope="module")
def small(sim_db):
    summary = simulate(150, 2, 11)
    return summary


def test_small_history_obeys_every_invariant(small):
    with connection.cursor() as cur:
        assert checks.violations(cur) == []
        assert checks.not_after(cur, UNTIL) == []
        assert checks.stamped_off_their_day(cur) == []


def test_small_history_has_the_shape_of_an_mfi(small):
    assert small.rows["customers"] == 150
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(DISTINCT p.frequency), count(DISTINCT p.lending_type), "
            "count(*) FILTER (WHERE l.group_id IS NOT NULL), max(l.cycle) "
            "FROM loans l JOIN loan_products p ON p.id = l.product_id"
        )
        frequencies, lending_types, group_loans, max_cycle = cur.fetchone()
        assert frequencies == 3 and lending_types == 2 and group_loans > 0 and max_cycle >= 3
        # repeat borrowers borrow more
        cur.execute(
            "SELECT avg(amount_disbursed) FILTER (WHERE cycle = 1), avg(amount_disbursed) FILTER "
            "(WHERE cycle >= 3) FROM loans WHERE amount_disbursed IS NOT NULL"
        )
        first, later = cur.fetchone()
        assert later > first
        cur.execute("SELECT status, count(*) FROM loans GROUP BY status")
        statuses = dict(cur.fetchall())
        assert {"active", "closed", "rejected"} <= statuses.keys()
        # the mobile-money share of payments grows over the years
        cur.execute(
            "SELECT extract(year FROM initiated_at), avg((channel = 'mobile_money')::int) FROM payments "
            "WHERE customer_id IS NOT NULL GROUP BY 1 ORDER BY 1"
        )
        shares = [float(s) for _, s in cur.fetchall()]
        assert shares[-1] > shares[0] + 0.15
        for table in ("loan_loss_provisions", "investments", "investment_earnings", "savings_transactions"):
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone()[0] > 0, table
        cur.execute("SELECT DISTINCT kind FROM journal_entries")
        kinds = {k for (k,) in cur.fetchall()}
        assert {
            "disbursement",
            "repayment",
            "deposit",
            "withdrawal",
            "savings_interest",
            "savings_fee",
            "fd_placement",
            "fd_accrual",
            "provision",
            "operating_expense",
            "funding",
            "funding_interest",
        } <= kinds
        # created_at carries the simulated history, not the moment of the load
        cur.execute("SELECT min(created_at)::date, max(created_at)::date FROM journal_entries")
        first_day, last_day = cur.fetchone()
        assert first_day <= UNTIL - dt.timedelta(days=600) and last_day <= UNTIL


def test_allocations_go_oldest_installment_first(small):
    """Within a repayment, every installment but the newest one it touches is left fully paid."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT a.repayment_id FROM loan_repayment_allocations a
            JOIN loan_installments i ON i.id = a.installment_id
            JOIN loan_repayments r ON r.id = a.repayment_id
            WHERE i.number < (SELECT max(i2.number) FROM loan_repayment_allocations a2
                              JOIN loan_installments i2 ON i2.id = a2.installment_id
                              WHERE a2.repayment_id = a.repayment_id)
              AND (i.completed_on IS NULL OR i.completed_on > r.paid_on)
            LIMIT 5
            """
        )
        assert cur.fetchall() == []


def test_refuses_a_database_that_holds_an_institution(small):
    with pytest.raises(writer.RefusedError, match="--reset"):
        bulk.run(bulk.Options(customers=10, years=1, seed=1, until=UNTIL, reset=False))


def test_the_simulated_institution_carries_the_mark(small):
    with connection.cursor() as cur:
        cur.execute("SELECT customers, seed, until FROM simulated_institution")
        assert cur.fetchall() == [(150, 11, UNTIL)]
        # COPY bypasses the audit trail's signals: the run records one entry, by the simulator's system user
        cur.execute("""SELECT a.source, a.actor_username, a.additional_data -> 'rows' ->> 'customers'
                       FROM audit_log a JOIN simulated_institution m ON a.object_id = m.id
                       WHERE a.object_model = 'simulator.simulatedinstitution'""")
        assert cur.fetchall() == [("simulator", "system.simulator", "150")]


# --- the simulator replaces only what it wrote (in the test's transaction, rolled back) ---------------
@pytest.fixture
def no_institution(db):
    """This test's view of the database: no business rows and no mark (whatever the module simulated)."""
    with connection.cursor() as cur:
        writer.reset(cur)


def test_reset_refuses_books_the_simulator_did_not_write(no_institution, branch, make_staff):
    """A new MFI's database — branches and staff, no customers yet, no mark: --reset leaves it whole."""
    from core.testing import db_snapshot

    make_staff("branch_manager")
    before = db_snapshot()
    expected = r"did not write \(1 branches, 1 staff\); point FINHOUSE_OLTP_URL at a new database"
    with pytest.raises(writer.RefusedError, match=expected):
        bulk.run(bulk.Options(customers=10, years=1, seed=1, until=UNTIL, reset=True))
    assert db_snapshot() == before


def test_refuses_a_database_holding_only_products(no_institution, monthly_product):
    """Any business row counts, not only customers or branches: products alone are someone's set-up (and
    --reset is not offered as the way out)."""
    with pytest.raises(writer.RefusedError, match=r"did not write \(rows in loan_products\); point"):
        bulk.run(bulk.Options(customers=10, years=1, seed=1, until=UNTIL, reset=False))
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM loan_products")
        assert cur.fetchone()[0] == 1


def test_live_mode_writes_through_the_services(small, sim_db):
    from simulator.live import run_live

    with connection.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM journal_entries), (SELECT count(*) FROM payments)")
        before = cur.fetchone()
        cur.execute("SELECT COALESCE(max(id), 0) FROM audit_log")
        (last_entry,) = cur.fetchone()
    done = run_live(rate=25, duration=2.5, seed=3, out=io.StringIO())
    assert sum(done.values()) > 10
    with connection.cursor() as cur:  # every live operation is in the audit trail, by a simulator user
        cur.execute("SELECT source, actor_username, count(*) FROM audit_log WHERE id > %s GROUP BY 1, 2",
                    [last_entry])
        by_whom = {(source, user): n for source, user, n in cur.fetchall()}
        # new loans: applied, approved and disbursed by three users (maker-checker)
        simulator_users = {("simulator", f"system.simulator{who}") for who in ("", "-officer", "-manager")}
        assert set(by_whom) <= simulator_users
        assert by_whom[("simulator", "system.simulator")] >= sum(done.values()) - done["loan_apply"] * 2
    with connection.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM journal_entries), (SELECT count(*) FROM payments)")
        after = cur.fetchone()
        assert after[0] > before[0] and after[1] > before[1]
        assert checks.violations(cur) == []


def test_live_mode_stops_after_the_operations_asked_for(small, sim_db):
    from simulator.live import run_live

    done = run_live(rate=1000, duration=None, operations=7, seed=4, out=io.StringIO())
    assert sum(done.values()) == 7


# --- the command line: bad input is one clear line and a non-zero exit ------------------------------------
def run_cli(*args: str, url: str | None = None) -> subprocess.CompletedProcess:
    db = connection.settings_dict
    env = dict(os.environ)
    env["FINHOUSE_OLTP_URL"] = url or f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return subprocess.run(
        [sys.executable, str(BACKEND / "manage.py"), "simulate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "url", "expected"),
    [
        (["--customers", "0"], None, "--customers must be at least 1"),
        (["--customers", "ten"], None, "must be a whole number"),
        (["--frobnicate"], None, "unrecognized arguments"),
        (["--until", "2025-13-01"], None, "--until must be a date"),
        (["--until", "2099-01-01"], None, "the simulated history cannot reach into the future"),
        (["--customers", "5"], "postgresql://postgres@127.0.0.1:1/nowhere", "cannot use the database"),
        (
            ["--customers", "5"],
            "postgresql://no_such_role@127.0.0.1:5432/postgres",
            "cannot use the database",
        ),
        (["--customers", "5", "--until", "2025-06-30"], None, "pass --reset"),
    ],
)
def test_bad_input_is_refused_in_one_line(small, args, url, expected):
    result = run_cli(*args, url=url)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


# --- these replace the institution: they run last ------------------------------------------------------
def test_same_seed_same_tables_other_seed_other_tables(sim_db):
    simulate(80, 1, 5, workers=2)
    first = checksums()
    simulate(80, 1, 5, workers=1)  # the number of processes does not change a byte
    assert checksums() == first
    simulate(80, 1, 6)
    other = checksums()
    assert other["journal_lines"] != first["journal_lines"] and other["customers"] != first["customers"]


@pytest.mark.slow
def test_medium_history_portfolio_quality(sim_db):
    summary = simulate(1000, 3, 42)
    assert 0.03 <= summary.par30 <= 0.15, summary.par30
    assert summary.written_off_loans > 0 and 0 < summary.write_off_ratio < 0.1
    assert summary.restructured_loans > 0
    with connection.cursor() as cur:
        assert checks.violations(cur) == []
