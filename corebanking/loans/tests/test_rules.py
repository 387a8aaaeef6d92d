"""loans.rules on plain values: the same answers for dates and for the simulator's integer days and cents.
(The SQL versions are held to these by test_rules_parity.py.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from loans import rules

D = Decimal


def test_days_past_due_from_the_oldest_overdue_due_date():
    on = dt.date(2025, 3, 10)
    assert rules.days_past_due(on, None) == 0
    assert rules.days_past_due(on, on) == 0  # due today is not yet late
    assert rules.days_past_due(on, dt.date(2025, 3, 11)) == 0
    assert rules.days_past_due(on, dt.date(2025, 2, 6)) == 32
    # the simulator's integer day numbers
    assert rules.days_past_due(100, 68) == 32
    assert rules.days_past_due(100, None) == rules.days_past_due(100, 100) == 0


def test_provision_buckets_and_rates_at_every_bound():
    expected = {0: (0, "0.00"), 1: (1, "0.10"), 30: (1, "0.10"), 31: (2, "0.25"), 60: (2, "0.25"),
                61: (3, "0.50"), 90: (3, "0.50"), 91: (4, "1.00"), 180: (4, "1.00"), 181: (4, "1.00")}
    for dpd, (bucket, rate) in expected.items():
        assert (rules.provision_bucket(dpd), rules.provision_rate(dpd)) == (bucket, D(rate)), dpd
    with pytest.raises(ValueError, match="must not be negative"):
        rules.provision_rate(-1)
    assert rules.provision_policy_text() == (  # as stored on every provisioning run so far
        "0.00% current, 10.00% 1-30 DPD, 25.00% 31-60 DPD, 50.00% 61-90 DPD, 100.00% 91+ DPD"
    )


def test_required_reserve_rounds_half_up_once_per_bucket():
    assert rules.required_reserve([(D("0.10"), D("0.05"))]) == D("0.01")  # 0.005: half up, not to even
    assert rules.required_reserve([(D("0.25"), D("1000.02")), (D("1.00"), D("3.33"))]) == D("253.34")
    assert rules.required_reserve([]) == D("0.00")


def test_provision_lines_top_up_release_or_nothing():
    z = D("0.00")
    assert rules.provision_lines(D("12.50")) == [("5100", D("12.50"), z), ("1150", z, D("12.50"))]
    assert rules.provision_lines(D("-3.00")) == [("1150", D("3.00"), z), ("5100", z, D("3.00"))]
    assert rules.provision_lines(D("0.00")) == []
    assert rules.provision_lines(1250, 0) == [("5100", 1250, 0), ("1150", 0, 1250)]  # the simulator's cents


def test_par_is_more_than_n_days_past_due():
    """PAR>N counts a loan strictly more than N days past due (docs/kpis.md): 30 is not in PAR>30, 31 is."""
    assert not rules.in_par(30, 30) and rules.in_par(31, 30)
    assert not rules.in_par(0, 1) and not rules.in_par(1, 1) and rules.in_par(2, 1)
    as_of = dt.date(2026, 6, 30)
    for n in rules.PAR_THRESHOLDS:  # the query's bound is the same rule, in dates and in day numbers
        for dpd in range(0, 120):
            due = as_of - dt.timedelta(days=dpd)
            assert (due < rules.par_due_before(as_of, n)) == rules.in_par(rules.days_past_due(as_of, due), n)
            assert (1000 - dpd < rules.par_due_before(1000, n)) == rules.in_par(dpd, n)
