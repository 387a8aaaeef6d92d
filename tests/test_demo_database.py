"""`finhouse demo` replaces only a database it may (issue 15): a new one, or one the simulator marked as
its own; anyone else's books — here a new MFI's branches and staff, without customers yet — are refused
in one line before anything is touched, the warehouse file included. `finhouse simulate --reset` refuses
them the same way.

On the real PostgreSQL: each test creates throwaway databases (named after FINHOUSE_TEST_DB, with this
process's id) and drops them at the end. The demo's steps up to the simulation are run for real
(demo.prepare_database: migrate, `manage.py simulate`), the refusals through the `finhouse` command."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from finhouse import config as fh_config
from finhouse import demo
from finhouse.config import ROOT

PG_ADMIN = os.environ.get("FINHOUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
PREFIX = f"{os.environ.get('FINHOUSE_TEST_DB') or 'test_finhouse'}_demo_{os.getpid()}"

# A new MFI's set-up, through the services: a branch and its manager, no customers yet.
NEW_MFI = """
import datetime as dt
from customers.services import branch_create, staff_create
b = branch_create(code="KSM01", name="Kisumu", region="Nyanza", opened_on=dt.date(2025, 1, 6))
staff_create(username="otieno", first_name="Jane", last_name="Otieno", role="branch_manager", branch=b)
"""
A_CUSTOMER = """
import datetime as dt
from customers.models import Branch, Staff
from customers.services import customer_create
customer_create(first_name="Amina", last_name="Wanjiru", gender="F", date_of_birth=dt.date(1990, 5, 17),
                national_id="ID00000001", phone="+254700000001", branch=Branch.objects.get(code="KSM01"),
                loan_officer=Staff.objects.get(user__username="otieno"), business_sector="retail",
                joined_on=dt.date(2025, 2, 3), kyc_status="verified")
"""


def _admin(sql: str) -> None:
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


@pytest.fixture
def new_database() -> Iterator[Callable[[str], str]]:
    """new_database("x") creates an empty database and returns its URL; all are dropped at the end."""
    made: list[str] = []

    def make(suffix: str) -> str:
        name = f"{PREFIX}_{suffix}"
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"{PG_ADMIN}/{name}"

    try:
        yield make
    finally:
        for name in made:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, FINHOUSE_OLTP_URL=url, DJANGO_SETTINGS_MODULE="config.settings",
                FINHOUSE_HOME=str(tmp_path / "home"), FINHOUSE_DUCKDB_PATH=str(tmp_path / "w.duckdb"))


def _cfg(url: str, tmp_path: Path) -> fh_config.Config:
    return dataclasses.replace(fh_config.load(), oltp_url=url, home=tmp_path / "home", demo_customers=30,
                               demo_years=1, demo_seed=3)


def _manage(url: str, *args: str) -> None:
    env = dict(os.environ, FINHOUSE_OLTP_URL=url, DJANGO_SETTINGS_MODULE="config.settings")
    proc = subprocess.run([sys.executable, "corebanking/manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"manage.py {args[0]} failed: {proc.stderr[-2000:]}"


def _rows(url: str) -> dict[str, int]:
    """Every table's row count."""
    with psycopg.connect(url) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _warehouse(tmp_path: Path, content: bytes = b"the previous institution's warehouse") -> Path:
    path = tmp_path / "w.duckdb"
    path.write_bytes(content)
    return path


def test_a_new_database_is_simulated_and_the_old_warehouse_goes(new_database, tmp_path):
    url = new_database("new")  # not even migrated
    warehouse = _warehouse(tmp_path)
    assert demo.prepare_database(_cfg(url, tmp_path), _env(url, tmp_path), reset=False) == "simulate"
    rows = _rows(url)
    assert rows["customers"] == 30 and rows["simulated_institution"] == 1
    assert not warehouse.exists()

    # the next run keeps it, and its warehouse
    warehouse = _warehouse(tmp_path, b"this institution's warehouse")
    assert demo.prepare_database(_cfg(url, tmp_path), _env(url, tmp_path), reset=False) == "keep"
    assert _rows(url) == rows and warehouse.read_bytes() == b"this institution's warehouse"


def test_reset_replaces_a_database_the_demo_simulated(new_database, tmp_path):
    url = new_database("made")
    cfg, env = _cfg(url, tmp_path), _env(url, tmp_path)
    assert demo.prepare_database(cfg, env, reset=False) == "simulate"
    _manage(url, "shell", "-c", NEW_MFI)  # something the simulation did not write, gone after the reset
    with psycopg.connect(url) as conn:
        first_mark = conn.execute("SELECT id FROM simulated_institution").fetchone()[0]
    warehouse = _warehouse(tmp_path)

    assert demo.prepare_database(cfg, env, reset=True) == "resimulate"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM branches WHERE code = 'KSM01'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 30
        marks = conn.execute("SELECT id FROM simulated_institution").fetchall()
        assert len(marks) == 1 and marks[0][0] != first_mark
    assert not warehouse.exists()


@pytest.fixture
def new_mfi(new_database) -> str:
    """A new MFI's database: migrated by a finhouse from before the mark existed (no simulated_institution
    table, so a migration would show), its branch and manager set up, no customers, no mark."""
    url = new_database("mfi")
    _manage(url, "migrate", "--no-input", "-v", "0")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE simulated_institution")
        conn.execute("DELETE FROM django_migrations WHERE app = 'simulator'")
    _manage(url, "shell", "-c", NEW_MFI)
    return url


@pytest.mark.parametrize("command", [["demo", "--reset"], ["demo"], ["simulate", "--reset"], ["simulate"]],
                         ids=lambda c: " ".join(c))
def test_an_institutions_books_are_refused_and_untouched(new_mfi, tmp_path, command):
    rows = _rows(new_mfi)
    assert rows["branches"] == 1 and rows["staff"] == 1 and rows["customers"] == 0
    warehouse = _warehouse(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "finhouse.cli", *command], cwd=ROOT,
                          env=_env(new_mfi, tmp_path), capture_output=True, text=True, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0
    assert len(lines) == 1, proc.stderr
    assert "did not" in lines[0] and "branches" in lines[0] and "staff" in lines[0], lines[0]
    assert "point FINHOUSE_OLTP_URL at a new database" in lines[0], lines[0]
    assert _rows(new_mfi) == rows  # not a row changed, not even a migration applied
    assert warehouse.read_bytes() == b"the previous institution's warehouse"
    assert not (tmp_path / "home").exists()  # no admin password generated either


def test_an_institution_with_customers_is_shown_as_it_is(new_mfi, tmp_path):
    """The demo runs on books it did not write when they hold customers — migrated, never reset."""
    _manage(new_mfi, "shell", "-c", A_CUSTOMER)
    rows = _rows(new_mfi)
    warehouse = _warehouse(tmp_path, b"this institution's warehouse")
    assert demo.prepare_database(_cfg(new_mfi, tmp_path), _env(new_mfi, tmp_path), reset=False) == "keep"
    after = _rows(new_mfi)
    assert after.pop("simulated_institution") == 0  # migrated: the table is there, and empty
    assert after.pop("django_migrations") == rows.pop("django_migrations") + 1
    assert after == rows and warehouse.read_bytes() == b"this institution's warehouse"
