"""Repayment schedules to the cent, against examples computed by hand (the arithmetic is in the comments)."""

import datetime as dt
from decimal import Decimal as D

import pytest

from loans.schedule import add_months, build_schedule, due_dates


def rows(schedule):
    return [(p.number, p.due_on, p.principal, p.interest) for p in schedule]


def test_declining_monthly_1000_at_12pct_over_12():
    # r = 12% / 12 = 0.01 a month; A = 1000 × 0.01 / (1 − 1.01^−12) = 88.8488 → 88.85.
    # Each month: interest = balance × 0.01 (half-up to the cent), principal = 88.85 − interest.
    #  1: 1000.00 × .01 = 10.00 → principal 78.85, balance 921.15
    #  2:  921.15 × .01 =  9.2115 →  9.21 → 79.64, balance 841.51
    #  3:  841.51 → 8.4151 → 8.42 → 80.43, balance 761.08
    #  4:  761.08 → 7.6108 → 7.61 → 81.24, balance 679.84
    #  5:  679.84 → 6.7984 → 6.80 → 82.05, balance 597.79
    #  6:  597.79 → 5.9779 → 5.98 → 82.87, balance 514.92
    #  7:  514.92 → 5.1492 → 5.15 → 83.70, balance 431.22
    #  8:  431.22 → 4.3122 → 4.31 → 84.54, balance 346.68
    #  9:  346.68 → 3.4668 → 3.47 → 85.38, balance 261.30
    # 10:  261.30 → 2.6130 → 2.61 → 86.24, balance 175.06
    # 11:  175.06 → 1.7506 → 1.75 → 87.10, balance  87.96
    # 12: the last installment takes the whole balance 87.96, interest 0.8796 → 0.88: 88.84 (rounding).
    # Disbursed on 31 Jan 2025: due dates are month-ends (28 Feb, 31 Mar, 30 Apr, …).
    schedule = build_schedule(
        principal=D("1000.00"),
        annual_rate=D("0.12"),
        term=12,
        frequency="monthly",
        interest_method="declining",
        start=dt.date(2025, 1, 31),
    )
    expected = [
        ("2025-02-28", "78.85", "10.00"),
        ("2025-03-31", "79.64", "9.21"),
        ("2025-04-30", "80.43", "8.42"),
        ("2025-05-31", "81.24", "7.61"),
        ("2025-06-30", "82.05", "6.80"),
        ("2025-07-31", "82.87", "5.98"),
        ("2025-08-31", "83.70", "5.15"),
        ("2025-09-30", "84.54", "4.31"),
        ("2025-10-31", "85.38", "3.47"),
        ("2025-11-30", "86.24", "2.61"),
        ("2025-12-31", "87.10", "1.75"),
        ("2026-01-31", "87.96", "0.88"),
    ]
    assert rows(schedule) == [
        (k + 1, dt.date.fromisoformat(d), D(p), D(i)) for k, (d, p, i) in enumerate(expected)
    ]
    assert [p.total for p in schedule] == [D("88.85")] * 11 + [D("88.84")]
    assert sum(p.principal for p in schedule) == D("1000.00")
    assert sum(p.interest for p in schedule) == D("66.19")  # 88.85 × 11 + 88.84 − 1000


def test_declining_weekly_500_at_26pct_over_4():
    # r = 26% / 52 = 0.005 a week; A = 500 × 0.005 / (1 − 1.005^−4) = 126.5664 → 126.57.
    # 1: 500.00 × .005 = 2.50 → 124.07, balance 375.93
    # 2: 375.93 × .005 = 1.87965 → 1.88 → 124.69, balance 251.24
    # 3: 251.24 × .005 = 1.2562 → 1.26 → 125.31, balance 125.93
    # 4: last: 125.93 + 0.62965 → 0.63 = 126.56
    schedule = build_schedule(
        principal=D("500.00"),
        annual_rate=D("0.26"),
        term=4,
        frequency="weekly",
        interest_method="declining",
        start=dt.date(2025, 1, 6),
    )
    assert rows(schedule) == [
        (1, dt.date(2025, 1, 13), D("124.07"), D("2.50")),
        (2, dt.date(2025, 1, 20), D("124.69"), D("1.88")),
        (3, dt.date(2025, 1, 27), D("125.31"), D("1.26")),
        (4, dt.date(2025, 2, 3), D("125.93"), D("0.63")),
    ]


def test_flat_weekly_1000_at_26pct_over_10():
    # Interest on the original principal for the whole term: 1000 × 26% × 10 / 52 = 50.00.
    # Each week: 1000 / 10 = 100.00 principal and 50 / 10 = 5.00 interest; no rounding left over.
    schedule = build_schedule(
        principal=D("1000.00"),
        annual_rate=D("0.26"),
        term=10,
        frequency="weekly",
        interest_method="flat",
        start=dt.date(2025, 1, 6),
    )
    assert rows(schedule) == [
        (k, dt.date(2025, 1, 6) + dt.timedelta(weeks=k), D("100.00"), D("5.00")) for k in range(1, 11)
    ]


def test_flat_rounding_goes_to_the_last_installment():
    # 1000 at 20% flat over 7 months: interest 1000 × 0.20 × 7 / 12 = 116.6667 → 116.67.
    # Principal 1000 / 7 = 142.857 → 142.86 for six months, the last 1000 − 6 × 142.86 = 142.84.
    # Interest 116.67 / 7 = 16.667 → 16.67 for six months, the last 116.67 − 6 × 16.67 = 16.65.
    schedule = build_schedule(
        principal=D("1000.00"),
        annual_rate=D("0.20"),
        term=7,
        frequency="monthly",
        interest_method="flat",
        start=dt.date(2025, 1, 6),
    )
    assert [(p.principal, p.interest) for p in schedule] == [(D("142.86"), D("16.67"))] * 6 + [
        (D("142.84"), D("16.65"))
    ]
    assert sum(p.principal for p in schedule) == D("1000.00")
    assert sum(p.interest for p in schedule) == D("116.67")


@pytest.mark.parametrize("method", ["flat", "declining"])
def test_zero_rate_splits_the_principal_with_the_remainder_last(method):
    # 1000 / 3 = 333.33 twice, the last 1000 − 666.66 = 333.34; no interest at all.
    schedule = build_schedule(
        principal=D("1000.00"),
        annual_rate=D("0"),
        term=3,
        frequency="fortnightly",
        interest_method=method,
        start=dt.date(2025, 1, 6),
    )
    assert rows(schedule) == [
        (1, dt.date(2025, 1, 20), D("333.33"), D("0.00")),
        (2, dt.date(2025, 2, 3), D("333.33"), D("0.00")),
        (3, dt.date(2025, 2, 17), D("333.34"), D("0.00")),
    ]


def test_single_installment_declining():
    # One month at 1%: interest 1000 × 0.01 = 10.00, all the principal at once.
    schedule = build_schedule(
        principal=D("1000.00"),
        annual_rate=D("0.12"),
        term=1,
        frequency="monthly",
        interest_method="declining",
        start=dt.date(2025, 1, 6),
    )
    assert rows(schedule) == [(1, dt.date(2025, 2, 6), D("1000.00"), D("10.00"))]


@pytest.mark.parametrize("method", ["flat", "declining"])
@pytest.mark.parametrize(
    "principal,rate,term,freq",
    [
        ("12345.67", "0.365", 52, "weekly"),
        ("999.99", "0.18", 7, "monthly"),
        ("50.00", "0.40", 26, "fortnightly"),
    ],
)
def test_principal_parts_always_sum_to_the_principal(method, principal, rate, term, freq):
    schedule = build_schedule(
        principal=D(principal),
        annual_rate=D(rate),
        term=term,
        frequency=freq,
        interest_method=method,
        start=dt.date(2025, 3, 1),
    )
    assert sum(p.principal for p in schedule) == D(principal)
    assert all(p.principal > 0 and p.interest >= 0 for p in schedule)
    assert all(p.principal == p.principal.quantize(D("0.01")) for p in schedule)


def test_month_end_dates_clamp_and_do_not_drift():
    # Each date is start + k months, clamped: 31 Jan → 29 Feb (2024 is a leap year) → 31 Mar, not 29 Mar.
    assert due_dates(dt.date(2024, 1, 31), "monthly", 3) == [
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 31),
        dt.date(2024, 4, 30),
    ]
    assert add_months(dt.date(2025, 11, 30), 3) == dt.date(2026, 2, 28)


def test_grace_days_push_the_first_due_date():
    # Disbursed Monday 6 Jan with 3 grace days: the weeks run from Thursday 9 Jan.
    assert due_dates(dt.date(2025, 1, 6), "weekly", 2, grace_days=3) == [
        dt.date(2025, 1, 16),
        dt.date(2025, 1, 23),
    ]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"principal": D("0")}, "principal must be positive"),
        ({"term": 0}, "term must be at least one"),
        ({"annual_rate": D("-0.01")}, "must not be negative"),
        ({"interest_method": "balloon"}, "unknown interest method"),
        ({"frequency": "daily"}, "unknown repayment frequency"),
    ],
)
def test_invalid_terms_are_refused(kwargs, message):
    args = dict(
        principal=D("1000.00"),
        annual_rate=D("0.12"),
        term=12,
        frequency="monthly",
        interest_method="declining",
        start=dt.date(2025, 1, 6),
    )
    with pytest.raises(ValueError, match=message):
        build_schedule(**{**args, **kwargs})
