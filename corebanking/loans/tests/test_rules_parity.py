"""The Python and SQL versions of the loan domain rules give the same answers on the same loans.

Days past due and the provisioning policy are written once in Python (loans.rules, applied to the
database by loans.selectors) and once in SQL (transform/finhouse/macros/loan_rules.sql, applied by the dbt
aging macro loans_aged). Small hand-made loans are booked through the services (never paid, partly
paid, paid late, closed, written off, restructured, current), each looked at on dates that put it exactly
on the policy's bucket boundaries; their rows are copied into DuckDB under the relation names dbt gives
its staging models, and the SQL the dbt project itself renders (`dbt compile --inline` of
`loans_aged` + `provision_rate` + `dpd_bucket`, never re-typed here) runs on them. Both sides must agree
on every loan and date: days past due, installments missed, the provisioning rate, and on the last date
the overdue amounts and the loans (and principal) in each provisioning bucket.

Nothing is mocked: without dbt installed in .finhouse/venv the test fails and says why."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from django.conf import settings

from loans import rules
from loans.models import Loan, LoanInstallment, Repayment, RepaymentAllocation, Restructure
from loans.selectors import loan_arrears_get, loan_days_past_due, loan_owed_get, provision_required
from loans.services import loan_restructure, loan_write_off, repayment_post

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

D = Decimal
ROOT = Path(__file__).resolve().parents[3]
PROJECT = ROOT / "transform" / "finhouse"
DBT = ROOT / ".finhouse" / "venv" / "bin" / "dbt"
FIRST_DUE = dt.date(2025, 2, 6)  # make_loan disburses on 2025-01-06, monthly: due the 6th from February
BOUNDARIES = (0, 1, 30, 31, 60, 61, 90, 91, 180, 181)  # DPD on each side of every bucket bound
FINAL = dt.date(2025, 10, 1)  # after every event of the fixture loans: the date provisioning is compared on
STAGING = ("stg_oltp__loans", "stg_oltp__loan_restructures", "stg_oltp__loan_repayments",
           "stg_oltp__loan_installments", "int_loan_installment_payments")

# The SQL under test: the project's own aging macro and policy macros over a list of dates. The first
# line names the relations the refs compile to, so the fixture rows can be put where the SQL reads them.
INLINE = (
    "-- " + "|".join(f"{{{{ ref('{name}') }}}}" for name in STAGING) + "\n"
    + """with checks as (select distinct as_of_date from parity_dates),
{{ loans_aged('checks') }}
select
    loan_id, as_of_date, days_past_due, installments_missed,
    principal_outstanding, overdue_principal, overdue_interest, overdue_fees, overdue_penalties,
    {{ provision_rate('days_past_due') }} as provision_rate,
    {{ dpd_bucket('days_past_due') }} as dpd_bucket
from loans_aged
"""
)


def _dbt_compile(sql: str, tmp: Path) -> str:
    assert DBT.exists(), f"{DBT} is missing: run `make env`"
    # dbt keeps no default of its own: it is given .env.example's, as Make gives them (not the derived ones)
    env = {**{k: v for k, v in settings.FINHOUSE_DEFAULTS.items() if "${" not in v},
           **{k: v for k, v in os.environ.items() if v},
           "FINHOUSE_DUCKDB_PATH": str(tmp / "parity.duckdb"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    proc = subprocess.run(
        [str(DBT), "compile", "--quiet", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
         "--target", "duckdb", "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"),
         "--inline", sql],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"dbt compile failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _fixture_rows() -> dict[str, tuple[str, list[tuple]]]:
    """The loans' rows as the staging models present them: relation → (column DDL, rows)."""
    loans = [(lo.pk, lo.customer_id, lo.branch_id, lo.officer_id, lo.product_id, lo.amount_disbursed,
              lo.disbursed_on, lo.closed_on, lo.written_off_on, False)
             for lo in Loan.objects.filter(disbursed_on__isnull=False)]
    restructures = [(r.loan_id, r.restructured_on, False) for r in Restructure.objects.all()]
    repayments = [(r.pk, r.loan_id, r.paid_on, r.principal_amount, False) for r in Repayment.objects.all()]
    installments = [(i.pk, i.loan_id, i.due_on, i.completed_on, i.principal_due, i.interest_due, i.fee_due,
                     i.penalty_due, False) for i in LoanInstallment.objects.all()]
    allocations = [(a.installment_id, a.repayment.paid_on, a.principal_amount, a.interest_amount,
                    a.fee_amount, a.penalty_amount)
                   for a in RepaymentAllocation.objects.select_related("repayment")]
    money = "decimal(18, 2)"
    return {
        "stg_oltp__loans": (
            "loan_id bigint, customer_id bigint, branch_id bigint, officer_id bigint, "
            f"loan_product_id bigint, amount_disbursed {money}, disbursed_on date, closed_on date, "
            "written_off_on date, is_deleted boolean", loans),
        "stg_oltp__loan_restructures": (
            "loan_id bigint, restructured_on date, is_deleted boolean", restructures),
        "stg_oltp__loan_repayments": (
            f"repayment_id bigint, loan_id bigint, paid_on date, principal_amount {money}, "
            "is_deleted boolean", repayments),
        "stg_oltp__loan_installments": (
            f"installment_id bigint, loan_id bigint, due_on date, completed_on date, principal_due {money}, "
            f"interest_due {money}, fee_due {money}, penalty_due {money}, is_deleted boolean", installments),
        "int_loan_installment_payments": (
            f"installment_id bigint, paid_on date, principal_amount {money}, interest_amount {money}, "
            f"fee_amount {money}, penalty_amount {money}", allocations),
    }


def _sql_aged(tmp: Path, dates: set[dt.date]) -> dict[tuple[int, dt.date], dict]:
    """(loan id, date) → the SQL's row of loans_aged, for every loan outstanding on each date."""
    compiled = _dbt_compile(INLINE, tmp)
    first, _, query = compiled.partition("\n")
    relations = dict(zip(STAGING, first.removeprefix("-- ").split("|"), strict=True))
    con = duckdb.connect(str(tmp / "parity.duckdb"))
    try:
        for name, (columns, rows) in _fixture_rows().items():
            relation = relations[name]
            parts = re.findall(r'"([^"]+)"', relation)
            assert parts and parts[-1] == name, f"unexpected relation {relation} for {name}"
            if len(parts) > 1:
                con.execute(f'create schema if not exists "{parts[-2]}"')
            con.execute(f"create or replace table {relation} ({columns})")
            if rows:
                placeholders = ", ".join("?" * len(rows[0]))
                con.executemany(f"insert into {relation} values ({placeholders})", rows)
        con.execute("create or replace table parity_dates (as_of_date date)")
        con.executemany("insert into parity_dates values (?)", [(d,) for d in sorted(dates)])
        cur = con.execute(query)
        names = [c[0] for c in cur.description]
        return {(row[0], row[1]): dict(zip(names, row, strict=True)) for row in cur.fetchall()}
    finally:
        con.close()


@pytest.fixture
def loans(make_loan, make_customer):
    """The hand-made loans, each with the dates it is looked at on. All booked through the services."""
    def new(**kwargs):
        return make_loan(customer_=make_customer(), **kwargs)

    boundary_dates = [FIRST_DUE + dt.timedelta(days=k) for k in BOUNDARIES]
    out = {}
    # never paid: every bucket bound, counted from the first installment
    out["unpaid"] = (new(), boundary_dates)
    # partly paid on its first due date: still overdue from it
    partly = new()
    repayment_post(loan=partly, amount=D("50.00"), on=FIRST_DUE)
    out["partly paid"] = (partly, boundary_dates[:6])
    # installment 1 paid 31 days late (on 9 March, installment 2 due 6 March unpaid): 30 DPD the day
    # before, then counted from installment 2
    late = new()
    repayment_post(loan=late, amount=D("88.85"), on=dt.date(2025, 3, 9))
    out["paid late"] = (late, [dt.date(2025, 3, 8), dt.date(2025, 3, 9), dt.date(2025, 3, 10),
                               dt.date(2025, 4, 5), dt.date(2025, 4, 6), dt.date(2025, 4, 7)])
    # paid off early after a late start: outstanding until it closes
    closed = new()
    repayment_post(loan=closed, amount=loan_owed_get(closed).total, on=dt.date(2025, 3, 7))
    out["closed"] = (closed, [dt.date(2025, 2, 20), dt.date(2025, 3, 6), dt.date(2025, 3, 7), FINAL])
    # never paid, written off at 207 DPD
    written = new()
    loan_write_off(loan=written, reason="absconded", on=dt.date(2025, 9, 1))
    out["written off"] = (written, [dt.date(2025, 8, 5), dt.date(2025, 8, 6), dt.date(2025, 8, 31),
                                    dt.date(2025, 9, 1), FINAL])
    # part paid, restructured on 1 April (new schedule due the 1st from May), then nothing paid
    restructured = new()
    repayment_post(loan=restructured, amount=D("50.00"), on=FIRST_DUE)
    loan_restructure(loan=restructured, new_term=6, reason="harvest failed", on=dt.date(2025, 4, 1))
    # (the eve of the restructure: still in arrears on the superseded schedule)
    out["restructured"] = (restructured, [dt.date(2025, 3, 31), dt.date(2025, 4, 1), dt.date(2025, 4, 2),
                                          dt.date(2025, 5, 1), dt.date(2025, 5, 2), dt.date(2025, 5, 31),
                                          dt.date(2025, 6, 1), FINAL])
    # current: disbursed in June, every installment paid on its due date
    current = new(on=dt.date(2025, 6, 2), term=6)
    for number, due in enumerate([dt.date(2025, m, 2) for m in (7, 8, 9)], start=1):
        owed = LoanInstallment.objects.get(loan=current, number=number)
        repayment_post(loan=current, amount=owed.total_due, on=due)
    out["current"] = (current, [dt.date(2025, 7, 2), dt.date(2025, 7, 3), FINAL])
    # a few loans never paid at all, disbursed so that FINAL falls on each bucket bound
    for k in BOUNDARIES[1:]:
        due = FINAL - dt.timedelta(days=k)
        loan = new(on=due.replace(month=due.month - 1), term=3)  # first due a month after disbursement
        assert LoanInstallment.objects.filter(loan=loan).order_by("number").first().due_on == due
        out[f"{k} DPD on {FINAL}"] = (loan, [FINAL])
    for loan, _ in out.values():
        loan.refresh_from_db()
    return out


def test_python_and_sql_rules_agree_on_the_same_loans(loans, tmp_path):
    dates = {d for _, ds in loans.values() for d in ds}
    sql = _sql_aged(tmp_path, dates)
    checked = 0
    for name, (loan, ds) in loans.items():
        for as_of in ds:
            row = sql.get((loan.pk, as_of))
            python_dpd = loan_days_past_due(loan, as_of)
            if row is None:  # not outstanding on as_of in SQL: closed or written off by then
                ended = loan.closed_on or loan.written_off_on
                assert ended and ended <= as_of, f"{name}: SQL has no row on {as_of}, when it was outstanding"
                continue
            missed = loan_arrears_get(loan, as_of).installments_missed
            assert (python_dpd, missed) == (row["days_past_due"], row["installments_missed"]), (
                f"{name} on {as_of}: Python DPD {python_dpd} ({missed} missed), "
                f"SQL {row['days_past_due']} ({row['installments_missed']} missed)")
            assert rules.provision_rate(python_dpd) == row["provision_rate"], f"{name} on {as_of}"
            checked += 1
    assert checked >= 40, "the fixture loans are looked at on enough dates"
    # the boundaries are really hit, on both sides of every bound
    assert {row["days_past_due"] for row in sql.values()} >= set(BOUNDARIES)

    # on the last date: what is overdue, and the loans and principal in each provisioning bucket
    final = {loan_id: row for (loan_id, as_of), row in sql.items() if as_of == FINAL}
    for name, (loan, _) in loans.items():
        if loan.pk in final:
            a, row = loan_arrears_get(loan, FINAL), final[loan.pk]
            assert (a.principal, a.interest, a.fees, a.penalties) == (
                row["overdue_principal"], row["overdue_interest"], row["overdue_fees"],
                row["overdue_penalties"]), name
            assert loan.principal_outstanding == row["principal_outstanding"], name
    buckets = provision_required(FINAL).buckets
    sql_buckets = {rate: (0, D("0.00")) for rate in rules.PROVISION_RATES}
    for row in final.values():
        if row["principal_outstanding"] > 0:
            count, total = sql_buckets[row["provision_rate"]]
            sql_buckets[row["provision_rate"]] = (count + 1, total + row["principal_outstanding"])
    assert buckets == sql_buckets
    assert sum(count for count, _ in buckets.values()) >= 8


def test_the_sql_policy_is_the_python_policy_at_every_dpd(tmp_path):
    """provision_rate (and the first bounds of dpd_bucket, which the aging KPIs share with the policy)
    for every DPD from 0 to 400, rendered by dbt and evaluated by DuckDB, against loans.rules."""
    compiled = _dbt_compile(
        "select dpd, {{ provision_rate('dpd') }} as rate, {{ dpd_bucket('dpd') }} as bucket "
        "from range(0, 401) as t(dpd) order by dpd", tmp_path)
    rows = duckdb.sql(compiled).fetchall()
    assert [(dpd, rate) for dpd, rate, _ in rows] == [(dpd, rules.provision_rate(dpd)) for dpd in range(401)]
    # the KPI aging buckets split no provisioning bucket: a DPD bucket has one rate
    rates_by_bucket: dict[str, set] = {}
    for _, rate, bucket in rows:
        rates_by_bucket.setdefault(bucket, set()).add(rate)
    assert all(len(rates) == 1 for rates in rates_by_bucket.values()), rates_by_bucket
