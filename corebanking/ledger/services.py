"""Writes to the books: the one helper every money-moving service posts its journal entry with
(`journal_post`), reversing an entry, the savings-ledger helper that moves an account's balance
(`savings_transaction_record`), the institution-level operations that touch no customer account:
operating expenses and funding (see docs/ledger.md for every entry), and closing the books through a date
(`period_close`)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum

from core.actor import current_actor
from core.clock import business_date, business_moment, closed_through, institution_today
from core.exceptions import BusinessError
from core.models import ZERO
from core.money import money_amount
from customers.models import Branch
from ledger import chart
from ledger.models import (
    GLAccount,
    JournalEntry,
    JournalLine,
    PeriodClose,
    SavingsTransaction,
    TransactionType,
    Transfer,
)
from payments.models import Payment
from payments.services import payment_record
from savings.models import SavingsAccount

# One line of a journal entry: (GL account code, debit, credit); exactly one side is positive.
Line = tuple[str, Decimal, Decimal]


def journal_post(
    *,
    kind: str,
    posted_on: dt.date,
    lines: Sequence[Line],
    description: str = "",
    source_type: str = "",
    source_id: int | None = None,
    branch: Branch | None = None,
    reversal_of: JournalEntry | None = None,
) -> JournalEntry:
    """Post one balanced journal entry: the entry row, then all its lines in ONE INSERT (so the
    statement-level balance trigger checks the whole entry at once).

    Lines whose debit and credit are both zero are dropped (e.g. a fee of 0.00). Refuses (BusinessError)
    an entry with no lines left, a line with both sides or a negative side, an unknown GL code, or
    debits ≠ credits; the database refuses an unbalanced entry again on its own."""
    if kind not in JournalEntry.Kind.values:
        raise BusinessError(f"journal entry refused: unknown kind {kind!r}")
    kept: list[Line] = []
    for code, debit, credit in lines:
        debit, credit = Decimal(debit), Decimal(credit)
        if debit < 0 or credit < 0 or (debit > 0 and credit > 0):
            raise BusinessError(
                f"{kind} journal entry refused: line {code} has debit {debit} and credit {credit}; "
                "a line has exactly one positive side"
            )
        if debit > 0 or credit > 0:
            kept.append((code, debit, credit))
    if not kept:
        raise BusinessError(f"{kind} journal entry refused: it has no non-zero lines")
    debits, credits = sum(d for _, d, _ in kept), sum(c for _, _, c in kept)
    if debits != credits:
        raise BusinessError(f"{kind} journal entry refused: debits {debits} ≠ credits {credits}")
    codes = {code for code, _, _ in kept}
    accounts = dict(GLAccount.objects.filter(code__in=codes).values_list("code", "id"))
    if missing := sorted(codes - accounts.keys()):
        raise BusinessError(f"{kind} journal entry refused: unknown GL account(s) {', '.join(missing)}")
    with transaction.atomic():  # the entry and its lines, or neither
        entry = JournalEntry.objects.create(
            kind=kind,
            posted_on=posted_on,
            posted_at=business_moment(posted_on),
            description=description[:200] or JournalEntry.Kind(kind).label,
            branch=branch,
            source_type=source_type,
            source_id=source_id,
            reversal_of=reversal_of,
        )
        JournalLine.objects.bulk_create(
            [JournalLine(entry=entry, gl_account_id=accounts[c], debit=d, credit=k) for c, d, k in kept]
        )
    return entry


@transaction.atomic
def journal_entry_reverse(*, entry: JournalEntry, on: dt.date | None = None, reason: str) -> JournalEntry:
    """Post the mirror image of `entry` (every debit becomes a credit and vice versa) as a `reversal`
    entry linked to it. Posted lines are never changed; this is how a posting is corrected.

    Refuses a reversal entry itself and an entry that is already reversed."""
    if entry.kind == JournalEntry.Kind.REVERSAL:
        raise BusinessError(f"reversal of {entry} refused: it is itself a reversal; post the operation again")
    if JournalEntry.objects.filter(reversal_of=entry).exists():
        raise BusinessError(f"reversal of {entry} refused: it is already reversed")
    lines = [
        (code, credit, debit)
        for code, debit, credit in entry.lines.values_list("gl_account__code", "debit", "credit").order_by(
            "id"
        )
    ]
    return journal_post(
        kind=JournalEntry.Kind.REVERSAL,
        posted_on=business_date(on),
        lines=lines,
        description=f"Reversal of JE{entry.pk}: {reason}",
        source_type=entry.source_type,
        source_id=entry.source_id,
        branch=entry.branch,
        reversal_of=entry,
    )


def reference_new(prefix: str) -> str:
    """A reference that is unique without asking the database: `prefix` + a random UUID's hex."""
    return f"{prefix}-{uuid.uuid4().hex}"


def savings_transaction_record(
    *,
    account: SavingsAccount,
    type_code: str,
    amount: Decimal,
    on: dt.date,
    reference: str,
    channel: str = "",
    payment: Payment | None = None,
    transfer: Transfer | None = None,
    reversal_of: SavingsTransaction | None = None,
    floor: Decimal = ZERO,
    action: str | None = None,
) -> SavingsTransaction:
    """Move `account`'s balance by `amount` in the direction of the transaction type and record the
    savings-ledger row with the balance after. The caller holds the account's row lock
    (select_for_update) and posts the journal entry.

    Refuses a debit that would take the balance below `floor` (zero, or the product's minimum balance
    for a customer's own withdrawal), and a reference already used."""
    ttype = TransactionType.objects.get(code=type_code)
    sign = 1 if ttype.direction == TransactionType.Direction.CREDIT else -1
    after = account.balance + sign * amount
    if after < floor:
        what = action or f"{ttype.name.lower()} of {amount} from {account.account_number}"
        rule = "below zero" if floor == 0 else f"below the product's minimum balance of {floor}"
        raise BusinessError(
            f"{what} refused: the balance of {account.balance} would fall to {after}, {rule}",
            code="insufficient_balance",
        )
    if SavingsTransaction.objects.filter(reference=reference).exists():
        raise BusinessError(f"savings transaction refused: reference {reference} is already used")
    account.balance = after
    account.save(update_fields=["balance"])
    return SavingsTransaction.objects.create(
        account=account,
        type=ttype,
        amount=amount,
        balance_after=after,
        channel=channel,
        reference=reference,
        payment=payment,
        transfer=transfer,
        reversal_of=reversal_of,
        value_date=on,
        posted_at=business_moment(on),
    )


def cash_account_for(channel: str) -> str:
    """The GL account holding a payment channel's money (docs/ledger.md's CASH(ch)); refuses an
    unknown channel."""
    if channel not in chart.CASH_ACCOUNT_BY_CHANNEL:
        raise BusinessError(
            f"channel {channel!r} refused: expected one of {', '.join(sorted(chart.CASH_ACCOUNT_BY_CHANNEL))}"
        )
    return chart.CASH_ACCOUNT_BY_CHANNEL[channel]


@transaction.atomic
def operating_expense_post(
    *,
    category: str,
    amount: Decimal,
    branch: Branch,
    on: dt.date | None = None,
    description: str = "",
    reference: str | None = None,
) -> JournalEntry:
    """Pay an operating expense from the bank: D 52xx (by category) / C 1020, with an outbound payment.

    `category` is one of ledger.chart.OPERATING_EXPENSE_ACCOUNTS (personnel, administrative, occupancy,
    transport, depreciation). Refuses an unknown category and a non-positive or float amount."""
    amount = money_amount(amount, what="operating expense")
    if category not in chart.OPERATING_EXPENSE_ACCOUNTS:
        raise BusinessError(
            f"operating expense of {amount} refused: unknown category {category!r}; expected one of "
            f"{', '.join(sorted(chart.OPERATING_EXPENSE_ACCOUNTS))}"
        )
    on = business_date(on)
    payment = payment_record(
        purpose=Payment.Purpose.OPERATING_EXPENSE,
        direction=Payment.Direction.OUTBOUND,
        channel=Payment.Channel.BANK,
        amount=amount,
        branch=branch,
        on=on,
        reference=reference,
        provider_data={"category": category, "description": description},
    )
    return journal_post(
        kind=JournalEntry.Kind.OPERATING_EXPENSE,
        posted_on=on,
        lines=[(chart.OPERATING_EXPENSE_ACCOUNTS[category], amount, ZERO), (chart.BANK, ZERO, amount)],
        description=description or f"{category.capitalize()} expense",
        source_type="payments",
        source_id=payment.pk,
        branch=branch,
    )


@transaction.atomic
def funding_receive(
    *,
    kind: str,
    amount: Decimal,
    funder: str,
    branch: Branch,
    on: dt.date | None = None,
    reference: str | None = None,
) -> JournalEntry:
    """Receive funding into the bank: D 1020 / C 2200 borrowings (`kind="borrowing"`), 3000 share
    capital ("equity") or 3010 donated equity ("grant"), with an inbound payment.

    Refuses an unknown kind, an empty funder and a non-positive or float amount."""
    amount = money_amount(amount, what="funding")
    if kind not in chart.FUNDING_ACCOUNTS:
        raise BusinessError(
            f"funding of {amount} refused: unknown kind {kind!r}; expected one of "
            f"{', '.join(sorted(chart.FUNDING_ACCOUNTS))}"
        )
    if not funder.strip():
        raise BusinessError(f"funding of {amount} refused: the funder is not named")
    on = business_date(on)
    payment = payment_record(
        purpose=Payment.Purpose.FUNDING,
        direction=Payment.Direction.INBOUND,
        channel=Payment.Channel.BANK,
        amount=amount,
        branch=branch,
        on=on,
        reference=reference,
        provider_data={"funder": funder, "kind": kind},
    )
    return journal_post(
        kind=JournalEntry.Kind.FUNDING,
        posted_on=on,
        lines=[(chart.BANK, amount, ZERO), (chart.FUNDING_ACCOUNTS[kind], ZERO, amount)],
        description=f"{kind.capitalize()} from {funder}",
        source_type="payments",
        source_id=payment.pk,
        branch=branch,
    )


@transaction.atomic
def funding_interest_pay(
    *,
    amount: Decimal,
    funder: str,
    branch: Branch,
    on: dt.date | None = None,
    reference: str | None = None,
) -> JournalEntry:
    """Pay interest to a funder from the bank: D 5020 / C 1020, with an outbound payment.

    Refuses an empty funder and a non-positive or float amount."""
    amount = money_amount(amount, what="interest to a funder")
    if not funder.strip():
        raise BusinessError(f"interest payment of {amount} refused: the funder is not named")
    on = business_date(on)
    payment = payment_record(
        purpose=Payment.Purpose.FUNDING_SERVICE,
        direction=Payment.Direction.OUTBOUND,
        channel=Payment.Channel.BANK,
        amount=amount,
        branch=branch,
        on=on,
        reference=reference,
        provider_data={"funder": funder, "kind": "interest"},
    )
    return journal_post(
        kind=JournalEntry.Kind.FUNDING_INTEREST,
        posted_on=on,
        lines=[(chart.INTEREST_EXPENSE_BORROWINGS, amount, ZERO), (chart.BANK, ZERO, amount)],
        description=f"Interest to {funder}",
        source_type="payments",
        source_id=payment.pk,
        branch=branch,
    )


@transaction.atomic
def period_close(*, through: dt.date, note: str = "") -> PeriodClose:
    """Close the books through `through`: from then on no operation may be dated on or before it (the
    services refuse it; a trigger on journal_entries refuses it in the database). Records the trial
    balance of the closed books (every line posted on or before `through`) and who closed them (the
    acting user, core.actor; None for a system process).

    Refuses a date that is not before the institution's today (a period closes once it has ended), a
    date not after the last close (closes only move forward; a closed period is never reopened), and
    books whose debits and credits through the date differ."""
    what = f"closing the books through {through}"
    today = institution_today()
    if through >= today:
        raise BusinessError(
            f"{what} refused: a period can be closed only once it has ended, and today is {today} "
            f"({settings.TIME_ZONE}); close through {today - dt.timedelta(days=1)} at the latest",
            code="period_not_ended",
        )
    with connection.cursor() as cur:
        # SHARE on journal_entries waits for every transaction that is posting an entry to commit and
        # holds new postings until this close commits; after it, the trigger sees the close. The lock on
        # the closes themselves makes two closes run one after the other.
        cur.execute("LOCK TABLE accounting_period_closes IN SHARE ROW EXCLUSIVE MODE")
        cur.execute("LOCK TABLE journal_entries IN SHARE MODE")
    last = closed_through()
    if last is not None and through <= last:
        raise BusinessError(
            f"{what} refused: the books are already closed through {last}; periods close forward only, "
            f"so close through a date after {last}",
            code="period_closed",
        )
    totals = JournalLine.objects.filter(entry__posted_on__lte=through).aggregate(
        debits=Sum("debit"), credits=Sum("credit")
    )
    debits, credits = totals["debits"] or ZERO, totals["credits"] or ZERO
    if debits != credits:
        raise BusinessError(
            f"{what} refused: the trial balance through {through} does not balance (debits {debits} ≠ "
            f"credits {credits}); find the unbalanced entries before closing"
        )
    return PeriodClose.objects.create(
        closed_through=through, closed_by=current_actor().user, note=note[:200], total_debits=debits,
        total_credits=credits,
    )
