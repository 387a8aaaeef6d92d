"""Fixed-deposit services: placement, accrual, payout and redemption, with their exact entries."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.testing import assert_books_consistent, entry_lines
from investments.models import InvestmentEarning
from investments.services import (
    investment_accrue,
    investment_pay_earnings,
    investment_place,
    investment_redeem,
)
from ledger.models import JournalEntry
from ledger.selectors import gl_balance

Z = D("0.00")
pytestmark = pytest.mark.django_db
START = dt.date(2025, 1, 1)


def kind_lines(kind):
    return [entry_lines(e) for e in JournalEntry.objects.filter(kind=kind).order_by("id")]


def test_place_in_cash(customer, fd_product, refused):
    fd = investment_place(
        customer=customer, product=fd_product, amount=D("10000.00"), on=START, channel="bank"
    )
    assert fd.investment_number == f"FD{fd.pk:08d}"
    assert (fd.maturity_on, fd.annual_rate, fd.status) == (dt.date(2026, 1, 1), D("0.100000"), "active")
    assert kind_lines("fd_placement") == [[("1020", D("10000.00"), Z), ("2100", Z, D("10000.00"))]]
    with refused("product FD12 takes at least 1000.00"):
        investment_place(customer=customer, product=fd_product, amount=D("999.99"), on=START)
    with refused("never a float"):
        investment_place(customer=customer, product=fd_product, amount=5000.0, on=START)


def test_place_from_savings_respects_the_minimum_balance(customer, fd_product, make_account, refused):
    account = make_account(D("1500.00"), on=START)
    with refused("the balance of 1500.00 would fall to 0.00, below the product's minimum balance of 50.00"):
        investment_place(
            customer=customer, product=fd_product, amount=D("1500.00"), on=START, funding_account=account
        )
    investment_place(
        customer=customer, product=fd_product, amount=D("1000.00"), on=START, funding_account=account
    )
    account.refresh_from_db()
    assert account.balance == D("500.00")
    assert kind_lines("fd_placement") == [[("2000", D("1000.00"), Z), ("2100", Z, D("1000.00"))]]


def test_accrue_and_pay_earnings(customer, fd_product, refused):
    fd = investment_place(customer=customer, product=fd_product, amount=D("10000.00"), on=START)
    earning = investment_accrue(investment=fd, period_end=dt.date(2025, 2, 1))
    # 31 days: 10000 × 10% × 31 / 365 = 84.9315 → 84.93
    assert (earning.period_start, earning.amount) == (START, D("84.93"))
    assert kind_lines("fd_accrual") == [[("2110", Z, D("84.93")), ("5010", D("84.93"), Z)]]
    with refused("earnings are already accrued to 2025-02-01"):
        investment_accrue(investment=fd, period_end=dt.date(2025, 2, 1))
    with refused("it matures on 2026-01-01"):
        investment_accrue(investment=fd, period_end=dt.date(2026, 1, 2))
    investment_accrue(investment=fd, period_end=dt.date(2025, 3, 1))  # 28 days: 76.7123 → 76.71
    paid = investment_pay_earnings(investment=fd, on=dt.date(2025, 3, 1), channel="mobile_money")
    assert [e.amount for e in paid] == [D("84.93"), D("76.71")]
    assert kind_lines("fd_payout") == [[("1030", Z, D("161.64")), ("2110", D("161.64"), Z)]]
    with refused("no accrued earnings are unpaid"):
        investment_pay_earnings(investment=fd, on=dt.date(2025, 3, 1))
    assert_books_consistent()


def test_redeem_at_maturity_accrues_the_rest(customer, fd_product, make_account):
    account = make_account(on=START)
    fd = investment_place(
        customer=customer, product=fd_product, amount=D("10000.00"), on=START, payout_account=account
    )
    investment_accrue(investment=fd, period_end=dt.date(2025, 7, 1))  # 181 days: 495.8904 → 495.89
    investment_redeem(investment=fd, on=dt.date(2026, 1, 15))
    fd.refresh_from_db()
    assert (fd.status, fd.closed_on) == ("matured", dt.date(2026, 1, 15))
    # the rest, to maturity only: 184 days: 504.1096 → 504.11; total 1000.00 = exactly a year at 10%
    assert [e.amount for e in fd.earnings.order_by("period_end")] == [D("495.89"), D("504.11")]
    assert kind_lines("fd_redemption") == [
        [("2000", Z, D("11000.00")), ("2100", D("10000.00"), Z), ("2110", D("1000.00"), Z)]
    ]
    account.refresh_from_db()
    assert account.balance == D("11000.00")
    assert gl_balance("2100") == Z and gl_balance("2110") == Z
    assert_books_consistent()


def test_early_redemption_forfeits_part_of_the_earnings(customer, fd_product, refused):
    fd = investment_place(customer=customer, product=fd_product, amount=D("10000.00"), on=START)
    investment_redeem(investment=fd, on=dt.date(2025, 4, 1), channel="bank")
    fd.refresh_from_db()
    assert fd.status == "withdrawn_early"
    # 90 days: 246.5753 → 246.58 accrued; half forfeited: 123.29; paid 10000 + 246.58 − 123.29 = 10123.29
    assert kind_lines("fd_redemption") == [
        [
            ("1020", Z, D("10123.29")),
            ("2100", D("10000.00"), Z),
            ("2110", D("246.58"), Z),
            ("5010", Z, D("123.29")),
        ]
    ]
    assert InvestmentEarning.objects.get(investment=fd).paid_on == dt.date(2025, 4, 1)
    with refused("is withdrawn early"):
        investment_redeem(investment=fd, on=dt.date(2025, 4, 2))
    assert_books_consistent()


def test_early_redemption_forfeits_a_share_of_every_earning_paid_or_not(customer, fd_product):
    """The product's rule: the penalty rate × all earnings accrued so far; what was already paid out
    monthly comes back out of the principal, so paying earnings early does not dodge the penalty."""
    fd = investment_place(customer=customer, product=fd_product, amount=D("10000.00"), on=START)
    investment_accrue(investment=fd, period_end=dt.date(2025, 2, 1))  # 31 days: 84.93
    investment_pay_earnings(investment=fd, on=dt.date(2025, 2, 1))
    investment_accrue(investment=fd, period_end=dt.date(2025, 3, 1))  # 28 days: 76.71
    investment_pay_earnings(investment=fd, on=dt.date(2025, 3, 1))
    investment_redeem(investment=fd, on=dt.date(2025, 3, 11), channel="bank")
    # 10 more days: 10000 × 10% × 10 / 365 = 27.3973 → 27.40 accrued and unpaid;
    # earned 84.93 + 76.71 + 27.40 = 189.04, half forfeited: 94.52;
    # paid 10000 + 27.40 − 94.52 = 9932.88 (the 161.64 paid before is recovered from the principal)
    assert kind_lines("fd_redemption") == [
        [
            ("1020", Z, D("9932.88")),
            ("2100", D("10000.00"), Z),
            ("2110", D("27.40"), Z),
            ("5010", Z, D("94.52")),
        ]
    ]
    # the customer got 161.64 + 9932.88 = 10094.52 = 10000 + 189.04 − 94.52
    assert gl_balance("2100") == Z and gl_balance("2110") == Z
    assert_books_consistent()


def test_redeeming_at_a_future_maturity_is_refused_and_today_is_early(customer, fd_product, refused):
    """The reported hole: a deposit redeemed "on" its maturity date before that date came earned its
    full interest with no penalty. Now a future date is refused, and redeeming today is early."""
    from core.clock import institution_today

    today = institution_today()
    start = today - dt.timedelta(days=73)
    fd = investment_place(customer=customer, product=fd_product, amount=D("10000.00"), on=start)
    with refused(f"the business date {fd.maturity_on} is after today {today}"):
        investment_redeem(investment=fd, on=fd.maturity_on)
    investment_redeem(investment=fd)
    fd.refresh_from_db()
    assert (fd.status, fd.closed_on) == ("withdrawn_early", today)
    # 73 days: 10000 × 10% × 73 / 365 = 200.00 earned; half forfeited; paid 10000 + 200 − 100 = 10100
    assert kind_lines("fd_redemption") == [
        [("1010", Z, D("10100.00")), ("2100", D("10000.00"), Z), ("2110", D("200.00"), Z),
         ("5010", Z, D("100.00"))]
    ]
    assert_books_consistent()
