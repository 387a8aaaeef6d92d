"""Writes on customers' fixed deposits: place, accrue earnings, pay them, and redeem at maturity or
early. Simple interest on the principal, actual/365; each money-moving service posts its journal entry
(docs/ledger.md)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum

from core.clock import business_date
from core.db import lock, next_id
from core.exceptions import BusinessError
from core.models import ZERO
from core.money import CENT, money_amount
from customers.models import Customer
from investments.models import Investment, InvestmentEarning, InvestmentProduct
from ledger import chart, types
from ledger.models import JournalEntry
from ledger.services import cash_account_for, journal_post, reference_new, savings_transaction_record
from loans.schedule import add_months
from payments.models import Payment
from payments.services import payment_record
from savings.models import SavingsAccount

DAYS_PER_YEAR = Decimal(365)


def _own_active_account(customer: Customer, account: SavingsAccount, what: str) -> SavingsAccount:
    lock(account)
    if account.customer_id != customer.pk:
        raise BusinessError(
            f"{what} refused: savings account {account.account_number} belongs to another customer"
        )
    if account.status != SavingsAccount.Status.ACTIVE:
        raise BusinessError(f"{what} refused: savings account {account.account_number} is {account.status}")
    return account


def _require_active(investment: Investment, what: str) -> None:
    if investment.status != Investment.Status.ACTIVE:
        raise BusinessError(
            f"{what} refused: fixed deposit {investment.investment_number} is "
            f"{investment.get_status_display().lower()}"
        )


def investment_interest(principal: Decimal, annual_rate: Decimal, start: dt.date, end: dt.date) -> Decimal:
    """Simple interest on `principal` from `start` to `end` (end − start days, actual/365), to the cent."""
    days = (end - start).days
    return (principal * annual_rate * days / DAYS_PER_YEAR).quantize(CENT, rounding=ROUND_HALF_UP)


@transaction.atomic
def investment_place(
    *,
    customer: Customer,
    product: InvestmentProduct,
    amount: Decimal,
    on: dt.date | None = None,
    channel: str = Payment.Channel.CASH,
    funding_account: SavingsAccount | None = None,
    payout_account: SavingsAccount | None = None,
    reference: str | None = None,
    investment_number: str | None = None,
) -> Investment:
    """Place a fixed deposit of `amount` at the product's rate, maturing term_months after `on`; the
    number is FD + the id unless given. Journal D CASH(ch) (or 2000 when funded from `funding_account`)
    / C 2100; an inbound payment, or an `investment_placement` savings transaction. Earnings and the
    redemption go to `payout_account` when set, else are paid out through a channel.

    Refuses a non-positive or float amount, an amount below the product's minimum, an inactive
    product, a deleted or exited customer, savings accounts that are not the customer's or not active,
    and a funding account that would fall below its minimum balance."""
    amount = money_amount(amount, what="fixed deposit")
    lock(customer)
    what = f"fixed deposit of {amount} by {customer.customer_number}"
    if customer.deleted_at is not None or customer.status == Customer.Status.EXITED:
        raise BusinessError(f"{what} refused: the customer has exited")
    if not product.is_active:
        raise BusinessError(f"{what} refused: product {product.code} is no longer offered")
    if amount < product.minimum_amount:
        raise BusinessError(f"{what} refused: product {product.code} takes at least {product.minimum_amount}")
    if payout_account is not None:
        _own_active_account(customer, payout_account, what)
    if funding_account is not None:
        _own_active_account(customer, funding_account, what)
        funds = chart.SAVINGS_DEPOSITS
    else:
        funds = cash_account_for(channel)
    on = business_date(on)
    investment_id = next_id(Investment)
    investment = Investment.objects.create(
        id=investment_id,
        investment_number=investment_number or f"FD{investment_id:08d}",
        customer=customer,
        product=product,
        branch=customer.branch,
        principal=amount,
        annual_rate=product.annual_rate,
        start_on=on,
        maturity_on=add_months(on, product.term_months),
        payout_account=payout_account,
    )
    if funding_account is not None:
        savings_transaction_record(
            account=funding_account,
            type_code=types.INVESTMENT_PLACEMENT,
            amount=amount,
            on=on,
            reference=reference or f"FD-{investment.investment_number}",
            floor=funding_account.product.minimum_balance,
            action=what + f" from {funding_account.account_number}",
        )
    else:
        payment_record(
            purpose=Payment.Purpose.FIXED_DEPOSIT,
            direction=Payment.Direction.INBOUND,
            channel=channel,
            amount=amount,
            branch=investment.branch,
            customer=customer,
            on=on,
            reference=reference,
            provider_data={"investment": investment.investment_number},
        )
    journal_post(
        kind=JournalEntry.Kind.FD_PLACEMENT,
        posted_on=on,
        lines=[(funds, amount, ZERO), (chart.FIXED_DEPOSITS, ZERO, amount)],
        description=f"Placement of {investment.investment_number}",
        source_type="investments",
        source_id=investment.pk,
        branch=investment.branch,
    )
    return investment


def early_redemption_forfeit(investment: Investment) -> Decimal:
    """What redeeming `investment` before maturity forfeits, by the product's rule
    (InvestmentProduct.early_withdrawal_penalty_rate): that share of the earnings accrued so far, paid
    out or not, rounded half up to the cent. Counting paid earnings too keeps the penalty from vanishing
    on a product that pays its earnings monthly or quarterly."""
    earned = investment.earnings.aggregate(total=Sum("amount"))["total"] or ZERO
    return (investment.product.early_withdrawal_penalty_rate * earned).quantize(CENT, rounding=ROUND_HALF_UP)


def _accrued_through(investment: Investment) -> dt.date:
    last = investment.earnings.order_by("-period_end").values_list("period_end", flat=True).first()
    return last or investment.start_on


@transaction.atomic
def investment_accrue(*, investment: Investment, period_end: dt.date) -> InvestmentEarning:
    """Accrue the earnings of a fixed deposit from where the last accrual ended (or its start) to
    `period_end` (half-open: the days period_start ≤ d < period_end earn), as an `investment_earnings`
    row accrued on `period_end`; journal D 5010 / C 2110 (none when the amount is zero).

    Refuses a fixed deposit that is not active, and a period end not after the last one accrued, beyond
    the maturity date, after today or in a closed period."""
    lock(investment)
    what = f"accrual to {period_end} on {investment.investment_number}"
    business_date(period_end)  # the entry is dated period_end: not in the future, not in a closed period
    _require_active(investment, what)
    start = _accrued_through(investment)
    if period_end <= start:
        raise BusinessError(f"{what} refused: earnings are already accrued to {start}")
    if period_end > investment.maturity_on:
        raise BusinessError(f"{what} refused: it matures on {investment.maturity_on}")
    amount = investment_interest(investment.principal, investment.annual_rate, start, period_end)
    earning = InvestmentEarning.objects.create(
        investment=investment, period_start=start, period_end=period_end, amount=amount, accrued_on=period_end
    )
    if amount:
        journal_post(
            kind=JournalEntry.Kind.FD_ACCRUAL,
            posted_on=period_end,
            lines=[
                (chart.INTEREST_EXPENSE_FIXED_DEPOSITS, amount, ZERO),
                (chart.FIXED_DEPOSIT_INTEREST_PAYABLE, ZERO, amount),
            ],
            description=f"Earnings of {investment.investment_number} to {period_end}",
            source_type="investment_earnings",
            source_id=earning.pk,
            branch=investment.branch,
        )
    return earning


def _pay_out(
    investment: Investment, amount: Decimal, on: dt.date, channel: str, reference: str | None, what: str
) -> str:
    """Pay `amount` to the customer (into the payout account, else through `channel`); returns the GL
    account to credit."""
    if investment.payout_account is not None:
        account = _own_active_account(investment.customer, investment.payout_account, what)
        savings_transaction_record(
            account=account,
            type_code=types.INVESTMENT_PAYOUT,
            amount=amount,
            on=on,
            reference=reference or reference_new("FP"),
        )
        return chart.SAVINGS_DEPOSITS
    cash = cash_account_for(channel)
    payment_record(
        purpose=Payment.Purpose.FIXED_DEPOSIT_PAYOUT,
        direction=Payment.Direction.OUTBOUND,
        channel=channel,
        amount=amount,
        branch=investment.branch,
        customer=investment.customer,
        on=on,
        reference=reference,
        provider_data={"investment": investment.investment_number},
    )
    return cash


@transaction.atomic
def investment_pay_earnings(
    *,
    investment: Investment,
    on: dt.date | None = None,
    channel: str = Payment.Channel.CASH,
    reference: str | None = None,
) -> list[InvestmentEarning]:
    """Pay all accrued, unpaid earnings of an active fixed deposit: journal D 2110 / C CASH(ch) or 2000
    (into the payout account); an outbound payment or an `investment_payout` savings transaction; the
    earnings get their paid date. Returns the earnings paid.

    Refuses a fixed deposit that is not active and one with nothing accrued and unpaid."""
    lock(investment)
    on = business_date(on)
    what = f"payment of earnings on {investment.investment_number}"
    _require_active(investment, what)
    unpaid = list(investment.earnings.select_for_update().filter(paid_on__isnull=True, accrued_on__lte=on))
    amount = sum((e.amount for e in unpaid), ZERO)
    if amount <= 0:
        raise BusinessError(f"{what} refused: no accrued earnings are unpaid on {on}")
    funds = _pay_out(investment, amount, on, channel, reference, what)
    InvestmentEarning.objects.filter(pk__in=[e.pk for e in unpaid]).update(paid_on=on)
    journal_post(
        kind=JournalEntry.Kind.FD_PAYOUT,
        posted_on=on,
        lines=[(chart.FIXED_DEPOSIT_INTEREST_PAYABLE, amount, ZERO), (funds, ZERO, amount)],
        description=f"Earnings paid on {investment.investment_number}",
        source_type="investments",
        source_id=investment.pk,
        branch=investment.branch,
    )
    for e in unpaid:
        e.paid_on = on
    return unpaid


@transaction.atomic
def investment_redeem(
    *,
    investment: Investment,
    on: dt.date | None = None,
    channel: str = Payment.Channel.CASH,
    reference: str | None = None,
) -> Investment:
    """Redeem a fixed deposit on `on` (today at the latest: a deposit is redeemed "at maturity" only once
    it has matured): first accrue its earnings to `on` (or to maturity, whichever is earlier; an
    `fd_accrual` entry as investment_accrue posts), then pay out the principal and the accrued unpaid
    earnings, less — when redeemed before maturity — the penalty `early_redemption_forfeit` computes:
    the product's early_withdrawal_penalty_rate × every earning accrued to `on`, paid or not (what was
    already paid out is recovered from the principal). Journal `fd_redemption`: D 2100 principal,
    D 2110 unpaid earnings / C CASH(ch) or 2000 the payout, C 5010 the forfeit. Status → matured, or
    withdrawn_early; closed on `on`.

    Refuses a fixed deposit that is not active, a date before it started, and a date after today or in
    a closed period (core.clock.business_date)."""
    lock(investment)
    on = business_date(on)
    what = f"redemption of {investment.investment_number}"
    _require_active(investment, what)
    if on < investment.start_on:
        raise BusinessError(f"{what} refused: {on} is before it started on {investment.start_on}")
    accrue_to = min(on, investment.maturity_on)
    if accrue_to > _accrued_through(investment):
        investment_accrue(investment=investment, period_end=accrue_to)
    early = on < investment.maturity_on
    unpaid_qs = investment.earnings.select_for_update().filter(paid_on__isnull=True)
    unpaid = unpaid_qs.aggregate(total=Sum("amount"))["total"] or ZERO
    forfeit = early_redemption_forfeit(investment) if early else ZERO
    payout = investment.principal + unpaid - forfeit
    funds = _pay_out(investment, payout, on, channel, reference, what)
    unpaid_qs.update(paid_on=on)
    investment.status = Investment.Status.WITHDRAWN_EARLY if early else Investment.Status.MATURED
    investment.closed_on = on
    investment.save(update_fields=["status", "closed_on"])
    journal_post(
        kind=JournalEntry.Kind.FD_REDEMPTION,
        posted_on=on,
        lines=[
            (chart.FIXED_DEPOSITS, investment.principal, ZERO),
            (chart.FIXED_DEPOSIT_INTEREST_PAYABLE, unpaid, ZERO),
            (funds, ZERO, payout),
            (chart.INTEREST_EXPENSE_FIXED_DEPOSITS, ZERO, forfeit),
        ],
        description=f"Redemption of {investment.investment_number}{' (early)' if early else ''}",
        source_type="investments",
        source_id=investment.pk,
        branch=investment.branch,
    )
    return investment
