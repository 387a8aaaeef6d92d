"""Writes on customers' savings accounts: open, close, deposit, withdraw, transfer, interest, fees and
the reversal of a mistaken deposit or withdrawal. Each moves the balance through
ledger.services.savings_transaction_record and posts its one journal entry (docs/ledger.md)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction

from core.clock import business_date, business_moment
from core.db import lock, next_id
from core.exceptions import BusinessError
from core.models import ZERO
from core.money import CENT, money_amount
from customers.models import Branch, Customer
from ledger import chart, types
from ledger.models import JournalEntry, SavingsTransaction, Transfer
from ledger.services import (
    cash_account_for,
    journal_entry_reverse,
    journal_post,
    reference_new,
    savings_transaction_record,
)
from payments.models import Payment
from payments.services import payment_record, payment_reverse
from savings.models import SavingsAccount, SavingsProduct

SOURCE = "savings_transactions"
DAYS_PER_YEAR = Decimal(365)


def _require_open(account: SavingsAccount, what: str, *, allow_dormant: bool = False) -> None:
    if account.status == SavingsAccount.Status.CLOSED:
        raise BusinessError(
            f"{what} refused: account {account.account_number} is closed", code="account_closed"
        )
    if account.status == SavingsAccount.Status.DORMANT and not allow_dormant:
        raise BusinessError(
            f"{what} refused: account {account.account_number} is dormant; a deposit reactivates it",
            code="account_dormant",
        )


def _payout(
    *,
    account: SavingsAccount,
    amount: Decimal,
    channel: str,
    on: dt.date,
    reference: str | None = None,
) -> tuple[Payment, SavingsTransaction]:
    """Pay `amount` out of `account` through `channel` on `on`: the outbound withdrawal payment and
    its `withdrawal` savings transaction (no fee, no journal entry: the caller posts those). Shared by
    a withdrawal and the closing payout."""
    payment = payment_record(
        purpose=Payment.Purpose.WITHDRAWAL,
        direction=Payment.Direction.OUTBOUND,
        channel=channel,
        amount=amount,
        branch=account.branch,
        customer=account.customer,
        on=on,
        reference=reference,
    )
    txn = savings_transaction_record(
        account=account,
        type_code=types.WITHDRAWAL,
        amount=amount,
        on=on,
        reference=payment.reference,
        channel=channel,
        payment=payment,
    )
    return payment, txn


@transaction.atomic
def account_open(
    *,
    customer: Customer,
    product: SavingsProduct,
    branch: Branch | None = None,
    on: dt.date | None = None,
    account_number: str | None = None,
) -> SavingsAccount:
    """Open a savings account of `product` for `customer` at their branch (or `branch`), with a zero
    balance; the account number is SA + the id unless given.

    Refuses a deleted or exited customer, an inactive product and an account number already used."""
    lock(customer)
    who = f"savings account for {customer.customer_number}"
    if customer.deleted_at is not None or customer.status == Customer.Status.EXITED:
        raise BusinessError(f"{who} refused: the customer has exited")
    if not product.is_active:
        raise BusinessError(f"{who} refused: product {product.code} is no longer offered")
    if account_number and SavingsAccount.objects.filter(account_number=account_number).exists():
        raise BusinessError(f"{who} refused: account number {account_number} is already used")
    account_id = next_id(SavingsAccount)
    return SavingsAccount.objects.create(
        id=account_id,
        account_number=account_number or f"SA{account_id:08d}",
        customer=customer,
        product=product,
        branch=branch or customer.branch,
        opened_on=business_date(on),
    )


@transaction.atomic
def account_deposit(
    *,
    account: SavingsAccount,
    amount: Decimal,
    channel: str = Payment.Channel.CASH,
    on: dt.date | None = None,
    reference: str | None = None,
) -> SavingsTransaction:
    """Deposit `amount` received through `channel`: inbound payment, `deposit` savings transaction,
    journal D CASH(ch) / C 2000. A deposit into a dormant account reactivates it.

    Refuses a non-positive or float amount, a closed account, an unknown channel and a reference
    already used."""
    amount = money_amount(amount, what="deposit")
    lock(account)
    what = f"deposit of {amount} to {account.account_number}"
    _require_open(account, what, allow_dormant=True)
    cash = cash_account_for(channel)
    on = business_date(on)
    payment = payment_record(
        purpose=Payment.Purpose.DEPOSIT,
        direction=Payment.Direction.INBOUND,
        channel=channel,
        amount=amount,
        branch=account.branch,
        customer=account.customer,
        on=on,
        reference=reference,
    )
    if account.status == SavingsAccount.Status.DORMANT:
        account.status = SavingsAccount.Status.ACTIVE
        account.save(update_fields=["status"])
    txn = savings_transaction_record(
        account=account,
        type_code=types.DEPOSIT,
        amount=amount,
        on=on,
        reference=payment.reference,
        channel=channel,
        payment=payment,
    )
    journal_post(
        kind=JournalEntry.Kind.DEPOSIT,
        posted_on=on,
        lines=[(cash, amount, ZERO), (chart.SAVINGS_DEPOSITS, ZERO, amount)],
        description=f"Deposit to {account.account_number}",
        source_type=SOURCE,
        source_id=txn.pk,
        branch=account.branch,
    )
    return txn


@transaction.atomic
def account_withdraw(
    *,
    account: SavingsAccount,
    amount: Decimal,
    channel: str = Payment.Channel.CASH,
    on: dt.date | None = None,
    reference: str | None = None,
) -> SavingsTransaction:
    """Pay out `amount` through `channel`, charging the product's withdrawal fee: outbound payment of
    `amount`, `withdrawal` (+ `fee`) savings transactions, journal D 2000 amount + fee / C CASH(ch)
    amount, C 4030 fee. Returns the withdrawal transaction.

    Refuses a non-positive or float amount, a closed or dormant account, an unknown channel, and a
    withdrawal that would take the balance (after the fee) below the product's minimum balance."""
    amount = money_amount(amount, what="withdrawal")
    lock(account)
    what = f"withdrawal of {amount} from {account.account_number}"
    _require_open(account, what)
    cash = cash_account_for(channel)
    product = account.product
    fee = product.withdrawal_fee
    after = account.balance - amount - fee
    if after < product.minimum_balance:
        fee_note = f" (after the withdrawal fee of {fee})" if fee else ""
        raise BusinessError(
            f"{what} refused: the balance would fall to {after}{fee_note}, below the product's minimum "
            f"balance of {product.minimum_balance}",
            code="insufficient_balance",
        )
    on = business_date(on)
    payment, txn = _payout(account=account, amount=amount, channel=channel, on=on, reference=reference)
    if fee:
        savings_transaction_record(
            account=account,
            type_code=types.FEE,
            amount=fee,
            on=on,
            reference=f"{payment.reference}-FEE",
            channel=channel,
            payment=payment,
        )
    journal_post(
        kind=JournalEntry.Kind.WITHDRAWAL,
        posted_on=on,
        lines=[
            (chart.SAVINGS_DEPOSITS, amount + fee, ZERO),
            (cash, ZERO, amount),
            (chart.FEE_INCOME_SAVINGS, ZERO, fee),
        ],
        description=f"Withdrawal from {account.account_number}",
        source_type=SOURCE,
        source_id=txn.pk,
        branch=account.branch,
    )
    return txn


@transaction.atomic
def account_transfer(
    *,
    from_account: SavingsAccount,
    to_account: SavingsAccount,
    amount: Decimal,
    on: dt.date | None = None,
    reference: str | None = None,
) -> Transfer:
    """Move `amount` between two savings accounts: a `transfers` row with its `transfer_out` and
    `transfer_in` legs, journal D 2000 / C 2000 (no money leaves the institution; no fee).

    Refuses the same account on both sides, a non-positive or float amount, a closed or dormant
    source, a closed destination, and a transfer taking the source below its minimum balance."""
    amount = money_amount(amount, what="transfer")
    if from_account.pk == to_account.pk:
        raise BusinessError(
            f"transfer of {amount} refused: {from_account.account_number} is both source and destination"
        )
    for account in sorted((from_account, to_account), key=lambda a: a.pk):  # one lock order: no deadlock
        lock(account)
    what = f"transfer of {amount} from {from_account.account_number} to {to_account.account_number}"
    _require_open(from_account, what)
    _require_open(to_account, what, allow_dormant=True)
    reference = reference or reference_new("TR")
    if Transfer.objects.filter(reference=reference).exists():
        raise BusinessError(f"{what} refused: reference {reference} is already used")
    on = business_date(on)
    transfer = Transfer.objects.create(
        reference=reference,
        from_account=from_account,
        to_account=to_account,
        amount=amount,
        transferred_at=business_moment(on),
    )
    savings_transaction_record(
        account=from_account,
        type_code=types.TRANSFER_OUT,
        amount=amount,
        on=on,
        reference=f"{reference}-OUT",
        transfer=transfer,
        floor=from_account.product.minimum_balance,
        action=what,
    )
    savings_transaction_record(
        account=to_account,
        type_code=types.TRANSFER_IN,
        amount=amount,
        on=on,
        reference=f"{reference}-IN",
        transfer=transfer,
    )
    if to_account.status == SavingsAccount.Status.DORMANT:
        to_account.status = SavingsAccount.Status.ACTIVE
        to_account.save(update_fields=["status"])
    journal_post(
        kind=JournalEntry.Kind.TRANSFER,
        posted_on=on,
        lines=[(chart.SAVINGS_DEPOSITS, amount, ZERO), (chart.SAVINGS_DEPOSITS, ZERO, amount)],
        description=f"Transfer {from_account.account_number} → {to_account.account_number}",
        source_type="transfers",
        source_id=transfer.pk,
        branch=from_account.branch,
    )
    return transfer


def account_interest_due(*, account: SavingsAccount, period_start: dt.date, period_end: dt.date) -> Decimal:
    """Interest earned by `account` over the days period_start … period_end (inclusive): the sum over
    the days of the end-of-day balance × the product's annual rate / 365, rounded half-up to the cent."""
    rate = account.product.interest_rate
    if rate == 0:
        return ZERO
    txns = SavingsTransaction.objects.filter(account=account).order_by("value_date", "posted_at", "id")
    opening = txns.filter(value_date__lt=period_start).values_list("balance_after", flat=True).last()
    balance = opening if opening is not None else ZERO
    moves = list(
        txns.filter(value_date__range=(period_start, period_end)).values_list("value_date", "balance_after")
    )
    total, i, day = Decimal(0), 0, period_start
    while day <= period_end:
        while i < len(moves) and moves[i][0] <= day:
            balance = moves[i][1]
            i += 1
        total += balance
        day += dt.timedelta(days=1)
    return (total * rate / DAYS_PER_YEAR).quantize(CENT, rounding=ROUND_HALF_UP)


@transaction.atomic
def account_interest_post(
    *,
    account: SavingsAccount,
    period_start: dt.date,
    period_end: dt.date,
    amount: Decimal | None = None,
) -> SavingsTransaction | None:
    """Credit interest for period_start … period_end (computed by `account_interest_due` unless
    `amount` is given), on `period_end`: `interest` savings transaction, journal D 5000 / C 2000.
    Returns None when the interest rounds to zero (nothing is posted).

    Refuses a closed account, a period that ends before it starts or before the account opened, and a
    second posting for the same account and period end (the reference INT-<account>-<yyyymmdd> is unique)."""
    lock(account)
    what = f"interest for {period_start}…{period_end} on {account.account_number}"
    _require_open(account, what, allow_dormant=True)
    if period_end < period_start:
        raise BusinessError(f"{what} refused: the period ends before it starts")
    if period_start < account.opened_on:
        raise BusinessError(f"{what} refused: the account opened on {account.opened_on}")
    reference = f"INT-{account.account_number}-{period_end:%Y%m%d}"
    if SavingsTransaction.objects.filter(reference=reference).exists():
        raise BusinessError(f"{what} refused: interest through {period_end} is already posted ({reference})")
    if amount is None:
        amount = account_interest_due(account=account, period_start=period_start, period_end=period_end)
        if amount == 0:
            return None
    amount = money_amount(amount, what="interest")
    txn = savings_transaction_record(
        account=account,
        type_code=types.INTEREST,
        amount=amount,
        on=period_end,
        reference=reference,
    )
    journal_post(
        kind=JournalEntry.Kind.SAVINGS_INTEREST,
        posted_on=period_end,
        lines=[(chart.INTEREST_EXPENSE_SAVINGS, amount, ZERO), (chart.SAVINGS_DEPOSITS, ZERO, amount)],
        description=f"Interest on {account.account_number} to {period_end}",
        source_type=SOURCE,
        source_id=txn.pk,
        branch=account.branch,
    )
    return txn


@transaction.atomic
def account_fee_charge(
    *,
    account: SavingsAccount,
    amount: Decimal | None = None,
    on: dt.date | None = None,
    reason: str = "monthly fee",
) -> SavingsTransaction:
    """Charge a fee (the product's monthly fee unless `amount` is given): `fee` savings transaction,
    journal D 2000 / C 4030. A fee may take the balance below the minimum balance, never below zero.

    Refuses a closed account, a zero, negative or float fee, and a fee larger than the balance."""
    lock(account)
    fee = money_amount(account.product.monthly_fee if amount is None else amount, what=reason)
    what = f"{reason} of {fee} on {account.account_number}"
    _require_open(account, what, allow_dormant=True)
    on = business_date(on)
    txn = savings_transaction_record(
        account=account,
        type_code=types.FEE,
        amount=fee,
        on=on,
        reference=reference_new("FEE"),
        action=what,
    )
    journal_post(
        kind=JournalEntry.Kind.SAVINGS_FEE,
        posted_on=on,
        lines=[(chart.SAVINGS_DEPOSITS, fee, ZERO), (chart.FEE_INCOME_SAVINGS, ZERO, fee)],
        description=f"{reason.capitalize()} on {account.account_number}",
        source_type=SOURCE,
        source_id=txn.pk,
        branch=account.branch,
    )
    return txn


@transaction.atomic
def account_close(
    *,
    account: SavingsAccount,
    on: dt.date | None = None,
    channel: str = Payment.Channel.CASH,
) -> SavingsAccount:
    """Close an account, paying out what is left on it (no fee, the minimum balance no longer
    applies): outbound payment, `withdrawal` savings transaction, journal D 2000 / C CASH(ch); then
    status closed with its closing date. An empty account closes without any entry.

    Refuses an account already closed, one that received a loan's disbursement and the loan is still
    outstanding, and one that a fixed deposit still pays out to."""
    from investments.models import Investment
    from loans.models import Loan

    lock(account)
    what = f"closing of {account.account_number}"
    if account.status == SavingsAccount.Status.CLOSED:
        raise BusinessError(f"{what} refused: it is already closed (on {account.closed_on})")
    if loan := Loan.objects.filter(disbursement_account=account, status__in=Loan.OUTSTANDING).first():
        raise BusinessError(f"{what} refused: loan {loan.loan_number} disbursed into it is outstanding")
    if fd := Investment.objects.filter(payout_account=account, status=Investment.Status.ACTIVE).first():
        raise BusinessError(f"{what} refused: fixed deposit {fd.investment_number} pays out to it")
    on = business_date(on)
    if on < account.opened_on:
        raise BusinessError(f"{what} refused: {on} is before it opened on {account.opened_on}")
    if account.balance > 0:
        cash = cash_account_for(channel)
        amount = account.balance
        _payment, txn = _payout(account=account, amount=amount, channel=channel, on=on)
        journal_post(
            kind=JournalEntry.Kind.WITHDRAWAL,
            posted_on=on,
            lines=[(chart.SAVINGS_DEPOSITS, amount, ZERO), (cash, ZERO, amount)],
            description=f"Closing payout of {account.account_number}",
            source_type=SOURCE,
            source_id=txn.pk,
            branch=account.branch,
        )
    account.status = SavingsAccount.Status.CLOSED
    account.closed_on = on
    account.save(update_fields=["status", "closed_on"])
    return account


@transaction.atomic
def account_transaction_reverse(
    *,
    savings_transaction: SavingsTransaction,
    reason: str,
    on: dt.date | None = None,
) -> SavingsTransaction:
    """Reverse a mistaken deposit or withdrawal (with its fee): `reversal_debit` / `reversal_credit`
    savings transactions linked to the originals, the mirror image of the original journal entry
    (`reversal`), and the payment marked reversed. Returns the reversal of the main transaction.

    Refuses any other kind of transaction (a transfer is undone by a transfer back, interest and fees
    by the opposite operation), a transaction already reversed, a reversal of a reversal, and a deposit
    reversal that would take the balance below zero."""
    txn = SavingsTransaction.objects.select_related("type", "payment").get(pk=savings_transaction.pk)
    what = f"reversal of {txn.type.code} {txn.reference}"
    if txn.type.code not in (types.DEPOSIT, types.WITHDRAWAL) or txn.payment is None:
        raise BusinessError(
            f"{what} refused: only deposits and withdrawals paid through a channel are reversed this way"
        )
    account = lock(txn.account)
    if SavingsTransaction.objects.filter(reversal_of=txn).exists():
        raise BusinessError(f"{what} refused: it is already reversed")
    if account.status == SavingsAccount.Status.CLOSED:
        raise BusinessError(f"{what} refused: account {account.account_number} is closed")
    entry = JournalEntry.objects.exclude(kind=JournalEntry.Kind.REVERSAL).get(
        source_type=SOURCE, source_id=txn.pk
    )
    on = business_date(on)
    originals = [txn]
    if txn.type.code == types.WITHDRAWAL:
        originals += list(SavingsTransaction.objects.filter(payment=txn.payment, type__code=types.FEE))
    reversals = []
    for original in originals:
        reversal_type = types.REVERSAL_DEBIT if original.type.direction == "credit" else types.REVERSAL_CREDIT
        reversals.append(
            savings_transaction_record(
                account=account,
                type_code=reversal_type,
                amount=original.amount,
                on=on,
                reference=f"{original.reference}-REV",
                channel=original.channel,
                payment=original.payment,
                reversal_of=original,
                action=f"{what} of {original.amount} on {account.account_number}",
            )
        )
    payment_reverse(payment=txn.payment)
    journal_entry_reverse(entry=entry, on=on, reason=reason)
    return reversals[0]
