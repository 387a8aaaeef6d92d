"""The dbt project builds on a simulated institution and its KPIs are the core banking system's own numbers.

A throwaway OLTP database is migrated by the backend and filled by its simulator (150 customers over two
years, fixed seed and --until: a few restructures and write-offs), `fhload` loads it into a temporary DuckDB
file, and `dbt build` runs every model, snapshot, data test and unit test on it. Then a few KPIs of the
marts are computed again, by hand, in SQL on PostgreSQL itself and compared: gross loan portfolio, PAR30
and PAR90 (DPD from the oldest installment not fully paid), the arrears rate, the last 12 months' write-offs
and the last full month's OSS from the GL.

Nothing is mocked: without PostgreSQL or a built fhload the test fails and says why. The database is named
after FINHOUSE_TEST_DB (per session, to keep parallel runs apart) and dropped at the end."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from decimal import Decimal

import duckdb
import psycopg
import pytest

from finhouse.config import ROOT

pytestmark = pytest.mark.slow

PG_ADMIN = os.environ.get("FINHOUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
DB = f"{os.environ.get('FINHOUSE_TEST_DB') or 'test_finhouse'}_dbt_{os.getpid()}"
URL = f"{PG_ADMIN}/{DB}"
FHLOAD = ROOT / "ingest" / "engine" / "build" / "fhload"
PROJECT = ROOT / "transform" / "finhouse"
DBT = ROOT / ".finhouse" / "venv" / "bin" / "dbt"
UNTIL = dt.date(2026, 6, 30)
TOLERANCE = Decimal("0.000001")


def _admin(sql: str) -> None:
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def _run(args: list[str], env: dict, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """A simulated institution loaded into a fresh DuckDB file and built by dbt; yields (path, seconds).
    How long the build takes is measured by bench/transform, not asserted here."""
    assert FHLOAD.exists(), f"{FHLOAD} is not built: run `make engine`"
    tmp = tmp_path_factory.mktemp("dbt")
    path = tmp / "warehouse.duckdb"
    _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{DB}"')
    env = dict(os.environ, FINHOUSE_OLTP_URL=URL, DJANGO_SETTINGS_MODULE="config.settings",
               FINHOUSE_DUCKDB_PATH=str(path), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    try:
        for args in (["migrate", "--no-input", "-v", "0"],
                     ["simulate", "--customers", "150", "--years", "2", "--seed", "7",
                      "--until", UNTIL.isoformat(), "--reset", "-v", "0"]):
            proc = _run([sys.executable, "corebanking/manage.py", *args], env, 600)
            assert proc.returncode == 0, f"manage.py {args[0]} failed: {proc.stderr[-2000:]}"
        proc = _run([str(FHLOAD), "--source", URL, "--warehouse", str(path), "--quiet"], env, 300)
        assert proc.returncode == 0, f"fhload failed: {proc.stderr[-2000:]}"
        started = time.monotonic()
        proc = _run([str(DBT), "build", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
                     "--target", "duckdb", "--target-path", str(tmp / "target"),
                     "--log-path", str(tmp / "logs")], env, 600)
        seconds = time.monotonic() - started
        assert proc.returncode == 0, f"dbt build failed:\n{proc.stdout[-6000:]}"
        assert "ERROR=0" in proc.stdout and "FAIL" not in proc.stdout.split("Done.")[-1]
        yield path, seconds
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


def _mart(path, sql: str, *params):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, list(params)).fetchone()


def _oltp(sql: str, **params):
    with psycopg.connect(URL) as conn:
        return conn.execute(sql, params).fetchone()


def _as_of(path) -> dt.date:
    return _mart(path, "select as_of_date from intermediate.int_calendar_as_of")[0]


def test_as_of_date_is_the_data_last_day(warehouse):
    path, _ = warehouse
    as_of = _as_of(path)
    assert UNTIL - dt.timedelta(days=7) <= as_of <= UNTIL


# DPD per outstanding loan, by hand on the OLTP: as-of − due date of the oldest installment of the current
# schedule due before the as-of date and not fully paid by it (loans.selectors.loan_days_past_due).
OLTP_PORTFOLIO = """
with dpd as (
    select l.id, l.principal_outstanding,
           coalesce(%(as_of)s::date - min(i.due_on) filter (
               where i.due_on < %(as_of)s::date and not i.superseded
                 and (i.completed_on is null or i.completed_on > %(as_of)s::date)), 0) as dpd,
           coalesce(sum(i.principal_due - i.principal_paid) filter (
               where i.due_on < %(as_of)s::date and not i.superseded
                 and (i.completed_on is null or i.completed_on > %(as_of)s::date)), 0) as overdue
    from loans l
    left join loan_installments i on i.loan_id = l.id
    where l.status in ('active', 'restructured')
    group by l.id, l.principal_outstanding
)
select sum(principal_outstanding),
       sum(principal_outstanding) filter (where dpd > 30) / sum(principal_outstanding),
       sum(principal_outstanding) filter (where dpd > 90) / sum(principal_outstanding),
       sum(overdue) / sum(principal_outstanding),
       count(*)
from dpd
"""


def test_portfolio_at_risk_equals_the_oltp(warehouse):
    path, _ = warehouse
    as_of = _as_of(path)
    glp, par30, par90, arrears, loans = _oltp(OLTP_PORTFOLIO, as_of=as_of)
    mart = _mart(path, """
        select gross_loan_portfolio, par_30_ratio, par_90_ratio, arrears_rate, active_loans
        from marts.portfolio_at_risk_monthly where grain = 'institution' and period_end = ?""", as_of)
    assert mart is not None, "no institution row on the as-of date"
    assert Decimal(str(mart[0])) == glp
    assert abs(Decimal(str(mart[1])) - (par30 or 0)) < TOLERANCE
    assert abs(Decimal(str(mart[2])) - (par90 or 0)) < TOLERANCE
    assert abs(Decimal(str(mart[3])) - arrears) < TOLERANCE
    assert mart[4] == loans
    assert par30 and par30 > 0, "the simulated institution has late loans: PAR30 should not be zero"


def test_write_offs_of_the_last_12_months_equal_the_oltp(warehouse):
    path, _ = warehouse
    as_of = _as_of(path)
    (expected,) = _oltp("""
        select coalesce(sum(principal_amount), 0) from loan_write_offs
        where written_off_on between date_trunc('month', %(as_of)s::date) - interval '11 months'
                                 and %(as_of)s::date""", as_of=as_of)
    (actual,) = _mart(path, """select written_off_principal from marts.write_offs_and_recoveries
                               where period_type = 'trailing_12_months' and grain = 'institution'
                                 and period_end = ?""", as_of)
    assert expected > 0, "the simulated institution wrote loans off in its last year"
    assert Decimal(str(actual)) == expected


def test_oss_of_the_last_full_month_equals_the_general_ledger(warehouse):
    path, _ = warehouse
    month_end = _as_of(path).replace(day=1) - dt.timedelta(days=1)
    revenue, expenses = _oltp("""
        select sum(jl.credit - jl.debit) filter (where a.type = 'income'),
               sum(jl.debit - jl.credit) filter (
                   where a.code in ('5000', '5010', '5020', '5100') or a.code like '52%%')
        from journal_lines jl
        join journal_entries je on je.id = jl.entry_id
        join gl_accounts a on a.id = jl.gl_account_id
        where je.posted_on between date_trunc('month', %(end)s::date) and %(end)s::date""", end=month_end)
    (oss,) = _mart(path, """select operational_self_sufficiency from marts.financial_health_monthly
                            where period_type = 'month' and period_end = ?""", month_end)
    assert abs(Decimal(str(oss)) - revenue / expenses) < TOLERANCE


def test_audit_activity_counts_every_audit_entry_and_names_the_simulator(warehouse):
    """The audit mart summarises the whole audit log (migrate's role groups, the simulator's bulk run) per
    day, source and user; the bulk run is one entry by system.simulator."""
    path, _ = warehouse
    (entries,) = _oltp("select count(*) from audit_log")
    (changes,) = _mart(path, "select sum(change_count) from marts.audit_activity_daily")
    assert entries > 0 and changes == entries
    (simulated,) = _mart(path, """select sum(creates) from marts.audit_activity_daily
                                  where source = 'simulator' and actor_username = 'system.simulator'""")
    assert simulated == 1


def test_a_broken_column_rule_fails_its_model_test_which_names_column_rule_and_rows(warehouse, tmp_path):
    """column_rules checks all the rules of a model in one test — not null, accepted values, ranges, the
    key's uniqueness and the references to the dimensions: breaking one of each (on a copy of the
    warehouse) fails it, and its stored failures name each column and rule with the number of rows that
    break it."""
    import shutil

    path, _ = warehouse
    broken = tmp_path / path.name  # the same file name: DuckDB names the database after it
    shutil.copyfile(path, broken)
    with duckdb.connect(str(broken)) as con:
        keys = [k for (k,) in con.execute(
            "select par_key from marts.portfolio_at_risk_monthly where grain = 'branch' "
            "order by par_key limit 7").fetchall()]
        par = "update marts.portfolio_at_risk_monthly set"
        con.execute(f"{par} grain = null where par_key = ?", [keys[0]])
        con.execute(f"{par} grain = 'region' where par_key = ?", [keys[1]])
        con.execute(f"{par} par_30_ratio = 1.5 where par_key in (?, ?)", keys[2:4])
        con.execute(f"{par} par_key = ? where par_key = ?", [keys[5], keys[4]])  # two rows, one key
        con.execute(f"{par} branch_id = -1 where par_key = ?", [keys[6]])  # no such branch
    env = dict(os.environ, FINHOUSE_DUCKDB_PATH=str(broken), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    proc = _run([str(DBT), "test", "--select", "portfolio_at_risk_monthly_column_rules", "--store-failures",
                 "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT), "--target", "duckdb",
                 "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")], env, 300)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "Failure in test portfolio_at_risk_monthly_column_rules" in proc.stdout
    assert "Got 7 results" in proc.stdout, proc.stdout[-3000:]  # rows breaking a rule: 1 + 1 + 2 + 2 + 1
    with duckdb.connect(str(broken), read_only=True) as con:
        failures = set(con.execute("select column_name, rule, failing_rows "
                                   "from dbt_test__audit.portfolio_at_risk_monthly_column_rules").fetchall())
    assert failures == {("grain", "not null", 1),
                        ("grain", "one of institution, branch, officer, product", 1),
                        ("par_30_ratio", "in [0, 1]", 2),
                        ("par_key", "unique", 2),
                        ("branch_id", "references dim_branches.branch_id", 1)}


def _pii_declared() -> list[tuple[str, str, str]]:
    """(table, column, kind) of every column declared PII on dbt's sources (tests/test_pii_declaration.py)."""
    import yaml

    doc = yaml.safe_load((PROJECT / "models" / "staging" / "oltp" / "_oltp__sources.yml").read_text())
    return [(t["name"], c["name"], c["config"]["meta"]["pii"]) for s in doc["sources"] for t in s["tables"]
            for c in t.get("columns", []) if c.get("config", {}).get("meta", {}).get("pii", "none") != "none"]


def test_the_privacy_test_catches_every_declared_column_by_name_and_values_by_content(warehouse, tmp_path):
    """A copy of the warehouse with a mart that carries each declared PII column under its own name, and one
    that hides a national ID, a phone and a full name in innocently named columns: the privacy test fails
    and names every one of them."""
    import shutil

    path, _ = warehouse
    leaky = tmp_path / path.name
    shutil.copyfile(path, leaky)
    declared = _pii_declared()
    with duckdb.connect(str(leaky)) as con:
        columns = ", ".join(dict.fromkeys(f"null as {column}" for _, column, _ in declared))
        con.execute(f"create table marts.leak_by_name as select {columns}")
        con.execute("""create table marts.leak_by_value as
                       select customer_number as ref_a, national_id as note_b, phone as note_c,
                              first_name || ' ' || last_name as note_d
                       from staging.stg_oltp__customers limit 3""")
    env = dict(os.environ, FINHOUSE_DUCKDB_PATH=str(leaky), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    proc = _run([str(DBT), "test", "--select", "assert_no_pii_in_marts", "--store-failures",
                 "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT), "--target", "duckdb",
                 "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")], env, 300)
    assert proc.returncode == 1, proc.stdout[-3000:]
    with duckdb.connect(str(leaky), read_only=True) as con:
        problems = {p for (p,) in con.execute("select problem from dbt_test__audit.assert_no_pii_in_marts")
                    .fetchall()}
    expected = {f"marts.leak_by_name.{column}" for _, column, _ in declared}
    expected |= {"marts.leak_by_value.note_b", "marts.leak_by_value.note_c", "marts.leak_by_value.note_d"}
    assert problems == expected


def test_what_superset_reads_holds_no_declared_pii(warehouse, tmp_path):
    """The serving copy — all Superset's DuckDB connection opens — holds the marts and nothing else: no
    staging or raw schema, no column named after a declared PII column, and none of the customers' national
    IDs, phone numbers or full names in any text column."""
    from finhouse.serve import serving

    path, _ = warehouse
    published = serving.publish(path, tmp_path / "serving.duckdb")
    declared = _pii_declared()
    with duckdb.connect(str(path), read_only=True) as con:
        customers = "from staging.stg_oltp__customers"
        secrets = {v for (v,) in con.execute(
            f"select national_id {customers} union select phone {customers} "
            f"union select first_name || ' ' || last_name {customers}").fetchall() if v}
    with duckdb.connect(str(published.path), read_only=True) as con:
        schemas = {s for (s,) in con.execute("select distinct table_schema from information_schema.tables "
                                             "where table_catalog = current_database()").fetchall()}
        assert schemas == {"marts"}
        columns = con.execute("select table_name, column_name, data_type from information_schema.columns "
                              "where table_catalog = current_database()").fetchall()
        named = [f"{t}.{c}" for t, c, _ in columns if c.lower() in {col for _, col, _ in declared}]
        assert not named, f"declared PII columns in the serving copy: {named}"
        leaked = []
        for table, column, data_type in columns:
            if data_type.upper().startswith("VARCHAR"):
                distinct = f'select distinct "{column}" from marts."{table}"'
                values = {v for (v,) in con.execute(distinct).fetchall()}
                if values & secrets:
                    leaked.append(f"{table}.{column}")
        assert not leaked, f"customers' national IDs, phones or names in the serving copy: {leaked}"


# Keep these two tests last in the module, in this order: they add activity to the OLTP and rebuild the
# warehouse incrementally, so the tests above (which compare the marts with the OLTP as of the first build)
# must have run, and the second starts from the warehouse the first built.
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def _env(path) -> dict:
    return dict(os.environ, FINHOUSE_OLTP_URL=URL, DJANGO_SETTINGS_MODULE="config.settings",
                FINHOUSE_DUCKDB_PATH=str(path), DBT_SEND_ANONYMOUS_USAGE_STATS="false")


def _add_activity(env: dict, seed: int) -> None:
    """New activity through the services, some of it backdated into closed months (the period-end models
    must recompute from them) and some moving dimensions."""
    proc = _run([sys.executable, "corebanking/manage.py", "simulate", "--live", "--rate", "1000",
                 "--operations", "60", "--seed", str(seed)], env, 300)
    assert proc.returncode == 0, f"simulate --live failed: {proc.stderr[-2000:]}"
    with open(ROOT / "tests" / "backdated_activity.py") as script:
        proc = subprocess.run([sys.executable, "corebanking/manage.py", "shell"], cwd=ROOT, env=env,
                              stdin=script, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"the backdated activity failed: {proc.stderr[-2000:]}"


def _build(env: dict, warehouse_path, tmp_path, *extra) -> None:
    run_env = dict(env, FINHOUSE_DUCKDB_PATH=str(warehouse_path))
    proc = _run([str(DBT), "build", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
                 "--target", "duckdb", "--target-path", str(tmp_path / "target"),
                 "--log-path", str(tmp_path / "logs"), *extra], run_env, 600)
    assert proc.returncode == 0, f"dbt build {' '.join(extra)} failed:\n{proc.stdout[-6000:]}"


def _assert_an_incremental_build_equals_a_full_rebuild(env: dict, path, tmp_path) -> None:
    """`dbt build` (incremental models read only what was loaded since) leaves exactly the tables a
    --full-refresh of the same RAW builds, and rewrote only a part of them."""
    import shutil

    from finhouse.transform import warehouse_diff

    _build(env, path, tmp_path)
    with duckdb.connect(str(path), read_only=True) as con:
        rewritten, total = con.execute("""
            select count(*) filter (where transformed_at = (select max(transformed_at)
                                                            from staging.stg_oltp__journal_lines)),
                   count(*)
            from staging.stg_oltp__journal_lines""").fetchone()
    assert 0 < rewritten < total / 10, f"the incremental build rewrote {rewritten} of {total} journal lines"

    rebuilt = tmp_path / "rebuilt.duckdb"
    shutil.copyfile(path, rebuilt)
    _build(env, rebuilt, tmp_path, "--full-refresh")
    compared, problems = warehouse_diff.differences(path, rebuilt)
    assert compared > 30
    # The daily snapshot keeps each day as it was recorded: a backdated operation restates the months
    # (PAR, balances) but not the snapshot days already taken. Every other table must be identical.
    assert [p for p in problems if not p.startswith("marts.portfolio_snapshot_daily:")] == []


def test_an_incremental_build_after_new_activity_equals_a_full_rebuild(warehouse, tmp_path):
    """New activity through the services, some of it backdated into closed months → fhload's incremental
    load → `dbt build` (incremental models read only what was loaded since) leaves exactly the tables a
    --full-refresh of the same RAW builds."""
    path, _ = warehouse
    env = _env(path)
    _add_activity(env, seed=5)
    proc = _run([str(FHLOAD), "--source", URL, "--warehouse", str(path), "--quiet"], env, 300)
    assert proc.returncode == 0, f"fhload failed: {proc.stderr[-2000:]}"
    _assert_an_incremental_build_equals_a_full_rebuild(env, path, tmp_path)


def test_a_load_under_a_clock_set_back_is_not_missed_by_the_incremental_build(warehouse, tmp_path):
    """The loader's clock steps back (an NTP correction, a restored VM, a loader on another host): fhload
    runs under libfaketime a day in the past, so the rows it loads carry an `_fh_loaded_at` older than
    every row the incremental models hold. The models order loads by load id, not by that clock: the
    incremental build picks the rows up and equals a full rebuild."""
    if not os.path.exists(LIBFAKETIME):
        pytest.fail(f"{LIBFAKETIME} is missing: run scripts/system-deps (as root) or apt-get install "
                    "faketime")
    path, _ = warehouse
    env = _env(path)
    with duckdb.connect(str(path), read_only=True) as con:
        (last_load,) = con.execute("select max(load_id) from raw._fh_loads").fetchone()
    _add_activity(env, seed=9)
    proc = _run([str(FHLOAD), "--source", URL, "--warehouse", str(path), "--quiet"],
                dict(env, LD_PRELOAD=LIBFAKETIME, FAKETIME="-1d"), 300)
    assert proc.returncode == 0, f"fhload under faketime failed: {proc.stderr[-2000:]}"
    with duckdb.connect(str(path), read_only=True) as con:
        new_rows, new_loaded_at, old_loaded_at, now = con.execute("""
            select count(*) filter (where _fh_load_id > $1),
                   max(_fh_loaded_at) filter (where _fh_load_id > $1),
                   max(_fh_loaded_at) filter (where _fh_load_id <= $1),
                   now()
            from raw.journal_lines""", [last_load]).fetchone()
    # DuckDB's now() inside fhload really moved: the new rows were loaded "a day ago", before the loads
    # the warehouse already holds (the previous test's, minutes ago).
    assert new_rows > 0, "the activity added no journal lines"
    assert new_loaded_at < old_loaded_at, (new_loaded_at, old_loaded_at)
    assert now - new_loaded_at > dt.timedelta(hours=23), (now, new_loaded_at)
    _assert_an_incremental_build_equals_a_full_rebuild(env, path, tmp_path)
