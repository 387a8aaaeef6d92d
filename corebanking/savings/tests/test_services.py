"""Savings account services: each posts its exact journal entry, moves the balance with a savings
transaction carrying the balance after, and refuses wrong operations without writing anything."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.testing import DAY0, assert_books_consistent, entry_lines
from ledger.models import JournalEntry, SavingsTransaction, Transfer
from payments.models import Payment
from savings.models import SavingsAccount
from savings.services import (
    account_close,
    account_deposit,
    account_fee_charge,
    account_interest_due,
    account_interest_post,
    account_open,
    account_transaction_reverse,
    account_transfer,
    account_withdraw,
)

Z = D("0.00")
pytestmark = pytest.mark.django_db


def entry_of(txn):
    return JournalEntry.objects.get(source_type="savings_transactions", source_id=txn.pk, reversal_of=None)


def test_open_numbers_the_account_from_its_id(customer, savings_product):
    account = account_open(customer=customer, product=savings_product, on=DAY0)
    assert account.account_number == f"SA{account.pk:08d}"
    assert (account.balance, account.status, account.branch) == (Z, "active", customer.branch)


def test_open_refusals(customer, savings_product, refused):
    savings_product.is_active = False
    savings_product.save()
    with refused("product VOL is no longer offered"):
        account_open(customer=customer, product=savings_product, on=DAY0)


def test_deposit_posts_cash_against_savings(make_account):
    account = make_account()
    txn = account_deposit(account=account, amount=D("250.00"), channel="mobile_money", on=DAY0)
    account.refresh_from_db()
    assert account.balance == D("250.00")
    assert (txn.type.code, txn.amount, txn.balance_after, txn.value_date) == (
        "deposit",
        D("250.00"),
        D("250.00"),
        DAY0,
    )
    assert (txn.payment.direction, txn.payment.purpose, txn.payment.amount, txn.payment.status) == (
        "inbound",
        "deposit",
        D("250.00"),
        "completed",
    )
    entry = entry_of(txn)
    assert entry.kind == "deposit"
    assert entry_lines(entry) == [("1030", D("250.00"), Z), ("2000", Z, D("250.00"))]


def test_withdraw_charges_the_fee(make_account):
    account = make_account(D("500.00"))
    txn = account_withdraw(account=account, amount=D("100.00"), channel="cash", on=DAY0)
    account.refresh_from_db()
    assert account.balance == D("398.00")  # 500 − 100 − 2.00 fee
    fee = SavingsTransaction.objects.get(account=account, type__code="fee")
    assert (txn.balance_after, fee.amount, fee.balance_after) == (D("400.00"), D("2.00"), D("398.00"))
    assert entry_lines(entry_of(txn)) == [
        ("1010", Z, D("100.00")),
        ("2000", D("102.00"), Z),
        ("4030", Z, D("2.00")),
    ]
    assert txn.payment.direction == "outbound" and txn.payment.amount == D("100.00")
    assert_books_consistent()


def test_withdrawal_below_the_minimum_balance_is_refused(make_account, refused):
    account = make_account(D("500.00"))
    # 500 − 448 − 2.00 fee = 50.00 is allowed; one cent more is not.
    with refused("withdrawal of 448.01 from SA") as excinfo:
        account_withdraw(account=account, amount=D("448.01"), on=DAY0)
    assert excinfo.value.message == (
        f"withdrawal of 448.01 from {account.account_number} refused: the balance would fall to 49.99 "
        "(after the withdrawal fee of 2.00), below the product's minimum balance of 50.00"
    )
    account_withdraw(account=account, amount=D("448.00"), on=DAY0)
    account.refresh_from_db()
    assert account.balance == D("50.00")


@pytest.mark.parametrize(
    "amount,message",
    [
        (D("-10.00"), "must be positive"),
        (D("0"), "must be positive"),
        (10.0, "never a float"),
        (D("10.005"), "fractions of a cent"),
        ("ten", "not an amount of money"),
    ],
)
def test_bad_amounts_are_refused(make_account, refused, amount, message):
    account = make_account(D("500.00"))
    with refused(message):
        account_deposit(account=account, amount=amount, on=DAY0)
    with refused(message):
        account_withdraw(account=account, amount=amount, on=DAY0)


def test_unknown_channel_and_duplicate_reference_are_refused(make_account, refused):
    account = make_account(D("100.00"))
    with refused("channel 'pigeon' refused"):
        account_deposit(account=account, amount=D("1.00"), channel="pigeon", on=DAY0)
    account_deposit(account=account, amount=D("1.00"), on=DAY0, reference="MPESA-QX1")
    with refused("reference MPESA-QX1 is already recorded"):
        account_deposit(account=account, amount=D("1.00"), on=DAY0, reference="MPESA-QX1")


def test_transfer_moves_money_inside_savings(make_account, make_customer, savings_product, refused):
    source = make_account(D("300.00"))
    target = make_account(customer_=make_customer())
    transfer = account_transfer(from_account=source, to_account=target, amount=D("120.00"), on=DAY0)
    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.balance, target.balance) == (D("180.00"), D("120.00"))
    legs = {leg.type.code: leg.balance_after for leg in transfer.legs.all()}
    assert legs == {"transfer_out": D("180.00"), "transfer_in": D("120.00")}
    entry = JournalEntry.objects.get(source_type="transfers", source_id=transfer.pk)
    assert entry_lines(entry) == [("2000", Z, D("120.00")), ("2000", D("120.00"), Z)]
    with refused("the balance of 180.00 would fall to 49.99, below the product's minimum balance of 50.00"):
        account_transfer(from_account=source, to_account=target, amount=D("130.01"), on=DAY0)
    with refused("is both source and destination"):
        account_transfer(from_account=source, to_account=source, amount=D("1.00"), on=DAY0)
    assert Transfer.objects.count() == 1


def test_interest_on_the_daily_balance(make_account):
    account = make_account(D("1000.00"), on=dt.date(2025, 1, 1))
    account_deposit(account=account, amount=D("500.00"), on=dt.date(2025, 1, 16))
    # 15 days at 1000 (1–15 Jan) and 16 days at 1500 (16–31 Jan): (15 × 1000 + 16 × 1500) × 6% / 365
    # = 39000 × 0.06 / 365 = 6.4110 → 6.41
    period = dict(period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 1, 31))
    assert account_interest_due(account=account, **period) == D("6.41")
    txn = account_interest_post(account=account, **period)
    account.refresh_from_db()
    assert (txn.amount, txn.balance_after, account.balance) == (D("6.41"), D("1506.41"), D("1506.41"))
    assert entry_lines(entry_of(txn)) == [("2000", Z, D("6.41")), ("5000", D("6.41"), Z)]


def test_interest_is_posted_once_per_period(make_account, refused):
    account = make_account(D("1000.00"), on=dt.date(2025, 1, 1))
    period = dict(period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 1, 31))
    account_interest_post(account=account, **period)
    with refused("interest through 2025-01-31 is already posted"):
        account_interest_post(account=account, **period)
    with refused("the account opened on 2025-01-01"):
        account_interest_post(
            account=account, period_start=dt.date(2024, 12, 1), period_end=dt.date(2024, 12, 31)
        )


def test_fee_may_dip_below_the_minimum_but_never_below_zero(make_account, refused):
    account = make_account(D("50.50"))
    txn = account_fee_charge(account=account, on=DAY0)  # the product's monthly fee, 1.00
    assert (txn.amount, txn.balance_after) == (D("1.00"), D("49.50"))
    assert entry_lines(entry_of(txn)) == [("2000", D("1.00"), Z), ("4030", Z, D("1.00"))]
    with refused("the balance of 49.50 would fall to -0.50, below zero"):
        account_fee_charge(account=account, amount=D("50.00"), on=DAY0, reason="ledger fee")


def test_close_pays_out_the_balance(make_account, refused):
    account = make_account(D("75.00"))
    account_close(account=account, on=DAY0 + dt.timedelta(days=10), channel="agent")
    account.refresh_from_db()
    assert (account.status, account.balance, account.closed_on) == ("closed", Z, DAY0 + dt.timedelta(days=10))
    payout = SavingsTransaction.objects.filter(account=account, type__code="withdrawal").get()
    assert entry_lines(entry_of(payout)) == [("1040", Z, D("75.00")), ("2000", D("75.00"), Z)]
    with refused("it is already closed"):
        account_close(account=account, on=DAY0)
    with refused(f"account {account.account_number} is closed"):
        account_deposit(account=account, amount=D("5.00"), on=DAY0)
    assert_books_consistent()


def test_dormant_accounts_take_deposits_not_withdrawals(make_account, refused):
    account = make_account(D("100.00"))
    SavingsAccount.objects.filter(pk=account.pk).update(status="dormant")
    with refused("is dormant"):
        account_withdraw(account=account, amount=D("1.00"), on=DAY0)
    account_deposit(account=account, amount=D("1.00"), on=DAY0)
    account.refresh_from_db()
    assert account.status == "active"


def test_reverse_a_withdrawal_and_its_fee(make_account, refused):
    account = make_account(D("500.00"))
    txn = account_withdraw(account=account, amount=D("100.00"), on=DAY0)
    reversal = account_transaction_reverse(
        savings_transaction=txn, reason="paid to the wrong customer", on=DAY0
    )
    account.refresh_from_db()
    assert account.balance == D("500.00")
    assert (reversal.type.code, reversal.reversal_of, reversal.balance_after) == (
        "reversal_credit",
        txn,
        D("498.00"),
    )  # 398 + 100; the fee comes back next
    assert Payment.objects.get(pk=txn.payment_id).status == "reversed"
    mirror = JournalEntry.objects.get(reversal_of=entry_of(txn))
    assert entry_lines(mirror) == [("1010", D("100.00"), Z), ("2000", Z, D("102.00")), ("4030", D("2.00"), Z)]
    with refused("it is already reversed"):
        account_transaction_reverse(savings_transaction=txn, reason="again", on=DAY0)
    assert_books_consistent()


def test_reverse_a_deposit_never_overdraws(make_account, refused):
    account = make_account(D("100.00"))
    txn = account_deposit(account=account, amount=D("80.00"), on=DAY0)
    account_withdraw(account=account, amount=D("120.00"), on=DAY0)  # 180 − 120 − 2 = 58.00
    with refused("would fall to -22.00, below zero"):
        account_transaction_reverse(savings_transaction=txn, reason="bounced", on=DAY0)
    fee = account_fee_charge(account=account, on=DAY0)
    with refused("only deposits and withdrawals"):
        account_transaction_reverse(savings_transaction=fee, reason="waived", on=DAY0)


def test_books_after_a_day_of_savings(make_account, make_customer):
    a, b = make_account(D("1000.00")), make_account(D("200.00"), customer_=make_customer())
    account_withdraw(account=a, amount=D("300.00"), channel="mobile_money", on=DAY0)
    account_transfer(from_account=a, to_account=b, amount=D("150.00"), on=DAY0)
    account_fee_charge(account=b, on=DAY0)
    account_interest_post(account=a, period_start=DAY0, period_end=DAY0 + dt.timedelta(days=30))
    account_close(account=b, on=DAY0 + dt.timedelta(days=31))
    assert_books_consistent()
