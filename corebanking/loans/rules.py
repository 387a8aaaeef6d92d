"""The loan domain rules, written once for the selectors, the admin, the services and the simulator: days
past due, the loan-loss provisioning policy and the journal lines of a provisioning run.

Pure functions of plain values (no ORM, no database), so that the simulator, which works in integer days
and cents, runs the very same rules as the services. The SQL side has one implementation of each too, the
dbt macros of transform/finhouse/macros/loan_rules.sql; tests/test_loan_rules_parity.py holds the two to the
same answers on the same loans.

Days past due (DPD) of a loan on a date = that date − the due date of its OLDEST installment due before the
date and not fully paid by then (never measured from the final maturity); 0 when nothing is overdue."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from core.money import CENT
from ledger import chart

# The aging policy of loan-loss provisioning: (lowest DPD, highest DPD or None, share of the outstanding
# principal to hold in reserve). The one place the policy is written in Python; the dbt macro
# provision_rate is tested against it (tests/test_loan_rules_parity.py).
PROVISION_POLICY: tuple[tuple[int, int | None, Decimal], ...] = (
    (0, 0, Decimal("0.00")),  # current
    (1, 30, Decimal("0.10")),
    (31, 60, Decimal("0.25")),
    (61, 90, Decimal("0.50")),
    (91, None, Decimal("1.00")),
)
PROVISION_RATES: tuple[Decimal, ...] = tuple(rate for _, _, rate in PROVISION_POLICY)
# the highest DPD of each bucket but the last, for a bisect (the simulator ages every loan every month-end)
_BUCKET_HIGHS: tuple[int, ...] = tuple(high for _, high, _ in PROVISION_POLICY if high is not None)
assert all(low == prev + 1 for (low, _, _), prev in zip(PROVISION_POLICY[1:], _BUCKET_HIGHS, strict=False)), (
    "the provisioning buckets follow each other without a gap"
)

# Loans more than this many days past due are written off (the simulator's collections give up then).
WRITE_OFF_AFTER_DPD = 180


def days_past_due(as_of, oldest_overdue_due_on) -> int:
    """Days past due on `as_of`, given the due date of the loan's oldest installment due before `as_of`
    and not fully paid by then (None when there is none): 0 when nothing is overdue (an installment due
    on `as_of` is not yet late). Dates, or integer day numbers as the simulator counts them."""
    if oldest_overdue_due_on is None or oldest_overdue_due_on >= as_of:
        return 0
    days = as_of - oldest_overdue_due_on
    return days if isinstance(days, int) else days.days


# Portfolio at risk: PAR>N is the outstanding principal of the loans MORE than N days past due (DPD > N;
# docs/kpis.md). The thresholds the admin and the dashboards show; the marts also publish 60 and 180.
# The SQL side says the same (`days_past_due > N` in transform/finhouse/models/marts/portfolio/).
PAR_THRESHOLDS: tuple[int, ...] = (1, 30, 90)


def in_par(dpd: int, n: int) -> bool:
    """Whether a loan `dpd` days past due counts in PAR>N: strictly more than N days (at DPD 30 a loan is
    not yet in PAR>30; at 31 it is)."""
    return dpd > n


def par_due_before(as_of, n: int):
    """The same rule as a bound on the loan's oldest overdue due date, for a query: a loan is in PAR>N on
    `as_of` exactly when that date is strictly before the returned one (`oldest_unpaid_due_on__lt=`).
    Dates, or integer day numbers as the simulator counts them."""
    return as_of - (n if isinstance(as_of, int) else dt.timedelta(days=n))


def provision_bucket(dpd: int) -> int:
    """The index in PROVISION_POLICY of the bucket of a loan `dpd` days past due."""
    if dpd < 0:
        raise ValueError(f"days past due must not be negative, got {dpd}")
    return bisect.bisect_left(_BUCKET_HIGHS, dpd)


def provision_rate(dpd: int) -> Decimal:
    """The share of outstanding principal to reserve for a loan `dpd` days in arrears."""
    return PROVISION_RATES[provision_bucket(dpd)]


def provision_policy_text() -> str:
    """The policy in words, as stored on each provisioning run."""
    parts = []
    for low, high, rate in PROVISION_POLICY:
        days = "current" if high == 0 else f"{low}+ DPD" if high is None else f"{low}-{high} DPD"
        parts.append(f"{rate * 100:g}% {days}")
    return ", ".join(parts)


def required_reserve(outstanding_by_rate: Iterable[tuple[Decimal, Decimal]]) -> Decimal:
    """The reserve the policy requires: Σ rate × outstanding principal over (rate, principal of the loans
    in that bucket), rounded half-up to the cent once per bucket."""
    return sum(
        ((rate * total).quantize(CENT, rounding=ROUND_HALF_UP) for rate, total in outstanding_by_rate),
        Decimal("0.00"),
    )


def provision_lines(expense, zero=Decimal("0.00")) -> list[tuple[str, object, object]]:
    """The journal lines (GL code, debit, credit) of a provisioning run that moves the reserve (GL 1150's
    credit balance) by `expense`: D 5100 / C 1150 to top it up, D 1150 / C 5100 to release a surplus,
    none when nothing changes. `zero` is the amount type's zero (the simulator counts in int cents)."""
    if expense > 0:
        return [(chart.LOAN_LOSS_PROVISION_EXPENSE, expense, zero), (chart.LOAN_LOSS_RESERVE, zero, expense)]
    if expense < 0:
        release = -expense
        return [(chart.LOAN_LOSS_RESERVE, release, zero), (chart.LOAN_LOSS_PROVISION_EXPENSE, zero, release)]
    return []
