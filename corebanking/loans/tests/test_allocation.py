"""Repayment allocation: oldest installment first; within one, penalty → fee → interest → principal."""

from decimal import Decimal as D

import pytest

from loans.allocation import Owed, allocate


def parts(a):
    return (a.key, a.penalty, a.fee, a.interest, a.principal)


def owed():
    return [
        Owed("#1", penalty=D("5.00"), fee=D("2.00"), interest=D("10.00"), principal=D("80.00")),  # 97.00
        Owed("#2", penalty=D("0.00"), fee=D("0.00"), interest=D("9.00"), principal=D("81.00")),  # 90.00
    ]


def test_order_within_an_installment_is_penalty_fee_interest_principal():
    # 12.00 pays the 5.00 penalty, the 2.00 fee, then 5.00 of the 10.00 interest; no principal.
    allocations, left = allocate(D("12.00"), owed())
    assert [parts(a) for a in allocations] == [("#1", D("5.00"), D("2.00"), D("5.00"), D("0.00"))]
    assert left == D("0.00")


def test_oldest_installment_is_paid_in_full_before_the_next():
    # 100.00: installment 1 takes all its 97.00; the 3.00 left pays interest on installment 2.
    allocations, left = allocate(D("100.00"), owed())
    assert [parts(a) for a in allocations] == [
        ("#1", D("5.00"), D("2.00"), D("10.00"), D("80.00")),
        ("#2", D("0"), D("0"), D("3.00"), D("0")),
    ]
    assert left == D("0.00")


def test_partial_payments_continue_where_the_last_stopped():
    first, _ = allocate(D("3.00"), owed())  # part of the penalty only
    assert [parts(a) for a in first] == [("#1", D("3.00"), D("0"), D("0"), D("0"))]
    remaining = owed()
    remaining[0].penalty -= first[0].penalty
    second, _ = allocate(D("4.00"), remaining)  # 2.00 of penalty, then the 2.00 fee
    assert [parts(a) for a in second] == [("#1", D("2.00"), D("2.00"), D("0"), D("0"))]


def test_exact_payment_of_everything_leaves_nothing():
    allocations, left = allocate(D("187.00"), owed())
    assert sum(a.total for a in allocations) == D("187.00") and left == D("0.00")


def test_more_than_owed_is_returned_as_unallocated():
    allocations, left = allocate(D("200.00"), owed())
    assert sum(a.total for a in allocations) == D("187.00") and left == D("13.00")


def test_installments_owing_nothing_are_skipped():
    items = [Owed("#1"), Owed("#2", interest=D("1.00"), principal=D("9.00"))]
    allocations, _ = allocate(D("5.00"), items)
    assert [parts(a) for a in allocations] == [("#2", D("0"), D("0"), D("1.00"), D("4.00"))]


@pytest.mark.parametrize("amount", [D("0"), D("-1.00")])
def test_non_positive_amounts_are_refused(amount):
    with pytest.raises(ValueError, match="must be positive"):
        allocate(amount, owed())
