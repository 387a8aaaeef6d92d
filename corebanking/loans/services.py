"""Writes in a loan's life: apply, approve or reject, disburse (with its schedule), repay (allocated
penalty → fee → interest → principal, oldest installment first), penalize, restructure, write off,
recover, and the loan-loss provisioning run. Each money-moving one posts its one journal entry
(docs/ledger.md) and keeps `loan.principal_outstanding` in step with GL 1100."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Max, Sum

from core.actor import current_actor
from core.clock import business_date
from core.db import lock, next_id
from core.exceptions import BusinessError
from core.models import ZERO
from core.money import CENT, money_amount
from customers.models import Customer, GroupMembership, SolidarityGroup, Staff
from ledger import chart, types
from ledger.models import JournalEntry
from ledger.selectors import gl_balance
from ledger.services import cash_account_for, journal_post, reference_new, savings_transaction_record
from loans.allocation import allocate
from loans.models import (
    Loan,
    LoanInstallment,
    LoanLossProvision,
    LoanProduct,
    Recovery,
    Repayment,
    RepaymentAllocation,
    Restructure,
    WriteOff,
)
from loans.rules import provision_lines, provision_policy_text
from loans.schedule import build_schedule
from loans.selectors import (
    installment_owed,
    loan_open_installments,
    provision_required,
)
from payments.models import Payment
from payments.services import payment_record
from savings.models import SavingsAccount


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _require_status(loan: Loan, what: str, *allowed: str) -> None:
    if loan.status not in allowed:
        wanted = " or ".join(Loan.Status(s).label.lower() for s in allowed)
        raise BusinessError(
            f"{what} refused: loan {loan.loan_number} is {loan.get_status_display().lower()}, not {wanted}",
            code="loan_status",
        )


def _require_not_before(on: dt.date, earlier: dt.date | None, what: str, event: str) -> None:
    if earlier is not None and on < earlier:
        raise BusinessError(f"{what} refused: {on} is before the loan was {event} on {earlier}")


def _savings_account_of(loan: Loan, account: SavingsAccount, what: str) -> SavingsAccount:
    lock(account)
    if account.customer_id != loan.customer_id:
        raise BusinessError(
            f"{what} refused: savings account {account.account_number} belongs to another customer"
        )
    if account.status != SavingsAccount.Status.ACTIVE:
        raise BusinessError(f"{what} refused: savings account {account.account_number} is {account.status}")
    return account


@transaction.atomic
def loan_apply(
    *,
    customer: Customer,
    product: LoanProduct,
    amount: Decimal,
    term: int,
    purpose: str,
    officer: Staff | None = None,
    group: SolidarityGroup | None = None,
    on: dt.date | None = None,
    loan_number: str | None = None,
) -> Loan:
    """Record a loan application on the product's terms (rate, interest method, frequency copied onto
    the loan). The officer defaults to the customer's; the loan number is LN + the id unless given;
    `cycle` counts the customer's disbursed loans.

    Refuses: a deleted or exited customer, KYC not verified, an inactive product, an amount or term
    outside the product's range, a group product without a group (or with a group the customer is
    not a member of), an individual product with a group, and no loan officer."""
    amount = money_amount(amount, what="loan amount")
    who = f"loan application of {amount} by {customer.customer_number}"
    if customer.deleted_at is not None or customer.status == Customer.Status.EXITED:
        raise BusinessError(f"{who} refused: the customer has exited")
    if customer.kyc_status != Customer.KycStatus.VERIFIED:
        raise BusinessError(f"{who} refused: KYC is {customer.kyc_status}, not verified")
    if not product.is_active:
        raise BusinessError(f"{who} refused: product {product.code} is no longer offered")
    if not product.min_amount <= amount <= product.max_amount:
        raise BusinessError(
            f"{who} refused: product {product.code} lends {product.min_amount} to {product.max_amount}"
        )
    if not product.min_term <= term <= product.max_term:
        raise BusinessError(
            f"{who} refused: a term of {term} installments is outside product {product.code}'s "
            f"{product.min_term} to {product.max_term}"
        )
    if product.lending_type == LoanProduct.LendingType.GROUP:
        if group is None:
            raise BusinessError(
                f"{who} refused: product {product.code} lends to group members; no group given"
            )
        if not GroupMembership.objects.filter(group=group, customer=customer, left_on__isnull=True).exists():
            raise BusinessError(f"{who} refused: the customer is not a member of group {group.code}")
    elif group is not None:
        raise BusinessError(f"{who} refused: product {product.code} is an individual loan; no group is taken")
    officer = officer or customer.loan_officer
    if officer is None:
        raise BusinessError(f"{who} refused: no loan officer given and the customer has none")
    on = business_date(on)
    loan_id = next_id(Loan)
    return Loan.objects.create(
        id=loan_id,
        loan_number=loan_number or f"LN{loan_id:08d}",
        customer=customer,
        group=group,
        product=product,
        officer=officer,
        branch=customer.branch,
        cycle=Loan.objects.filter(customer=customer, disbursed_on__isnull=False).count() + 1,
        purpose=purpose,
        amount_applied=amount,
        annual_rate=product.annual_rate,
        interest_method=product.interest_method,
        frequency=product.frequency,
        term=term,
        applied_on=on,
        applied_by=current_actor().user,
    )


@transaction.atomic
def loan_approve(*, loan: Loan, amount: Decimal | None = None, on: dt.date | None = None) -> Loan:
    """Approve an application for `amount` (default: the amount applied for).

    Refuses a loan that is not applied, an amount above the amount applied for or outside the product's
    range, a date before the application, and an approval by the user who applied (core.actor)."""
    lock(loan)
    amount = loan.amount_applied if amount is None else money_amount(amount, what="approved amount")
    what = f"approval of {amount} on {loan.loan_number}"
    _require_status(loan, what, Loan.Status.APPLIED)
    if amount > loan.amount_applied:
        raise BusinessError(f"{what} refused: more than the {loan.amount_applied} applied for")
    if not loan.product.min_amount <= amount <= loan.product.max_amount:
        # the product's range is checked again: it may have changed since the application
        raise BusinessError(
            f"{what} refused: product {loan.product.code} lends {loan.product.min_amount} to "
            f"{loan.product.max_amount}"
        )
    on = business_date(on)
    _require_not_before(on, loan.applied_on, what, "applied for")
    approver = current_actor().user
    if approver is not None and approver.pk == loan.applied_by_id:
        raise BusinessError(f"{what} refused: you applied for this loan; another user must approve it "
                            "(maker-checker)")
    loan.amount_approved, loan.approved_on, loan.status = amount, on, Loan.Status.APPROVED
    loan.approved_by = approver
    loan.save(update_fields=["amount_approved", "approved_on", "status", "approved_by"])
    return loan


@transaction.atomic
def loan_reject(*, loan: Loan, on: dt.date | None = None) -> Loan:
    """Reject an application (applied or approved, not yet disbursed).

    Refuses a loan in any other status and a date before the application."""
    lock(loan)
    what = f"rejection of {loan.loan_number}"
    _require_status(loan, what, Loan.Status.APPLIED, Loan.Status.APPROVED)
    on = business_date(on)
    _require_not_before(on, loan.applied_on, what, "applied for")
    loan.rejected_on, loan.status = on, Loan.Status.REJECTED
    loan.save(update_fields=["rejected_on", "status"])
    return loan


@transaction.atomic
def loan_disburse(
    *,
    loan: Loan,
    channel: str = Payment.Channel.CASH,
    on: dt.date | None = None,
    disbursement_account: SavingsAccount | None = None,
    reference: str | None = None,
) -> Loan:
    """Disburse the approved amount on `on`: the schedule (loans.schedule.build_schedule, first due
    date one period plus the product's grace days after `on`), the upfront fee = product.fee_rate ×
    principal deducted from what is paid out, loan → active with principal_outstanding = principal.
    Journal D 1100 principal / C CASH(ch) (or 2000 when paid into `disbursement_account`) principal − fee,
    C 4010 fee; an outbound payment, or a `disbursement_credit` savings transaction.

    Refuses a loan that is not approved, a date before approval, a fee that would swallow the whole
    principal, a disbursement account that is not the borrower's or not active, and a disbursement by
    the user who applied for or approved the loan (core.actor)."""
    lock(loan)
    what = f"disbursement of {loan.loan_number}"
    _require_status(loan, what, Loan.Status.APPROVED)
    disburser = current_actor().user
    if disburser is not None and disburser.pk in (loan.applied_by_id, loan.approved_by_id):
        raise BusinessError(f"{what} refused: you applied for or approved this loan; another user must "
                            "disburse it (maker-checker)")
    on = business_date(on)
    _require_not_before(on, loan.approved_on, what, "approved")
    principal = loan.amount_approved
    fee = _cents(loan.product.fee_rate * principal)
    net = principal - fee
    if net <= 0:
        raise BusinessError(f"{what} refused: the fee of {fee} leaves nothing of the {principal} to pay out")
    if disbursement_account is not None:
        account = _savings_account_of(loan, disbursement_account, what)
        funds = chart.SAVINGS_DEPOSITS
    else:
        funds = cash_account_for(channel)
    plan = build_schedule(
        principal=principal,
        annual_rate=loan.annual_rate,
        term=loan.term,
        frequency=loan.frequency,
        interest_method=loan.interest_method,
        start=on,
        grace_days=loan.product.grace_period_days,
    )
    LoanInstallment.objects.bulk_create(
        LoanInstallment(
            loan=loan, number=p.number, due_on=p.due_on, principal_due=p.principal, interest_due=p.interest
        )
        for p in plan
    )
    loan.amount_disbursed, loan.fee_amount, loan.principal_outstanding = principal, fee, principal
    loan.disbursed_on, loan.status, loan.disbursement_account = on, Loan.Status.ACTIVE, disbursement_account
    loan.save(
        update_fields=[
            "amount_disbursed",
            "fee_amount",
            "principal_outstanding",
            "disbursed_on",
            "status",
            "disbursement_account",
        ]
    )
    if disbursement_account is not None:
        savings_transaction_record(
            account=account,
            type_code=types.DISBURSEMENT_CREDIT,
            amount=net,
            on=on,
            reference=reference or f"DB-{loan.loan_number}",
        )
    else:
        payment_record(
            purpose=Payment.Purpose.LOAN_DISBURSEMENT,
            direction=Payment.Direction.OUTBOUND,
            channel=channel,
            amount=net,
            branch=loan.branch,
            customer=loan.customer,
            on=on,
            reference=reference,
            provider_data={"loan": loan.loan_number},
        )
    journal_post(
        kind=JournalEntry.Kind.DISBURSEMENT,
        posted_on=on,
        lines=[
            (chart.LOAN_PORTFOLIO, principal, ZERO),
            (funds, ZERO, net),
            (chart.FEE_INCOME_LOANS, ZERO, fee),
        ],
        description=f"Disbursement of {loan.loan_number}",
        source_type="loans",
        source_id=loan.pk,
        branch=loan.branch,
    )
    return loan


@transaction.atomic
def repayment_post(
    *,
    loan: Loan,
    amount: Decimal,
    channel: str = Payment.Channel.CASH,
    on: dt.date | None = None,
    reference: str | None = None,
    savings_account: SavingsAccount | None = None,
) -> Repayment:
    """Receive a repayment and allocate it over the open installments, oldest first, each penalty →
    fee → interest → principal (loans.allocation.allocate); paying ahead of schedule is allowed.
    Installments fully paid get their completion date; principal_outstanding drops by the principal
    part; the loan closes when nothing is owed. Journal D CASH(ch) (or 2000 when debited from
    `savings_account`) amount / C 1100 principal, 4000 interest, 4010 fees, 4020 penalties; an inbound
    payment, or a `repayment_debit` savings transaction.

    Refuses a non-positive or float amount, a loan that is not outstanding (closed, written off, not
    yet disbursed…), an amount above everything still owed, and a savings debit below the account's
    minimum balance."""
    amount = money_amount(amount, what="repayment")
    lock(loan)
    what = f"repayment of {amount} on {loan.loan_number}"
    _require_status(loan, what, *Loan.OUTSTANDING)
    on = business_date(on)
    _require_not_before(on, loan.disbursed_on, what, "disbursed")
    installments = list(loan_open_installments(loan).select_for_update())
    owed = [installment_owed(i) for i in installments]
    total_owed = sum((o.total for o in owed), ZERO)
    if amount > total_owed:
        by_part = {
            part: sum((getattr(o, part) for o in owed), ZERO)
            for part in ("principal", "interest", "fee", "penalty")
        }
        raise BusinessError(
            f"{what} refused: it exceeds everything still owed, {total_owed} "
            f"(principal {by_part['principal']}, interest {by_part['interest']}, "
            f"fees {by_part['fee']}, penalties {by_part['penalty']})",
            code="overpayment",
        )
    if savings_account is not None:
        account = _savings_account_of(loan, savings_account, what)
        funds = chart.SAVINGS_DEPOSITS
    else:
        funds = cash_account_for(channel)
    allocations, _ = allocate(amount, owed)
    parts = {
        part: sum((getattr(a, part) for a in allocations), ZERO)
        for part in ("penalty", "fee", "interest", "principal")
    }
    payment = None
    if savings_account is not None:
        savings_transaction_record(
            account=account,
            type_code=types.REPAYMENT_DEBIT,
            amount=amount,
            on=on,
            reference=reference or reference_new("RP"),
            floor=account.product.minimum_balance,
            action=what + f" from {account.account_number}",
        )
    else:
        payment = payment_record(
            purpose=Payment.Purpose.LOAN_REPAYMENT,
            direction=Payment.Direction.INBOUND,
            channel=channel,
            amount=amount,
            branch=loan.branch,
            customer=loan.customer,
            on=on,
            reference=reference,
            provider_data={"loan": loan.loan_number},
        )
    repayment = Repayment.objects.create(
        loan=loan,
        payment=payment,
        savings_account=savings_account,
        paid_on=on,
        amount=amount,
        principal_amount=parts["principal"],
        interest_amount=parts["interest"],
        fee_amount=parts["fee"],
        penalty_amount=parts["penalty"],
    )
    touched = []
    for a in allocations:
        inst: LoanInstallment = a.key
        inst.penalty_paid += a.penalty
        inst.fee_paid += a.fee
        inst.interest_paid += a.interest
        inst.principal_paid += a.principal
        if inst.total_paid == inst.total_due:
            inst.completed_on = on
        touched.append(inst)
    LoanInstallment.objects.bulk_update(
        touched, ["penalty_paid", "fee_paid", "interest_paid", "principal_paid", "completed_on"]
    )
    RepaymentAllocation.objects.bulk_create(
        RepaymentAllocation(
            repayment=repayment,
            installment=a.key,
            penalty_amount=a.penalty,
            fee_amount=a.fee,
            interest_amount=a.interest,
            principal_amount=a.principal,
        )
        for a in allocations
    )
    loan.principal_outstanding -= parts["principal"]
    fields = ["principal_outstanding"]
    if amount == total_owed:
        loan.status, loan.closed_on = Loan.Status.CLOSED, on
        fields += ["status", "closed_on"]
    loan.save(update_fields=fields)
    journal_post(
        kind=JournalEntry.Kind.REPAYMENT,
        posted_on=on,
        lines=[
            (funds, amount, ZERO),
            (chart.LOAN_PORTFOLIO, ZERO, parts["principal"]),
            (chart.INTEREST_INCOME_LOANS, ZERO, parts["interest"]),
            (chart.FEE_INCOME_LOANS, ZERO, parts["fee"]),
            (chart.PENALTY_INCOME_LOANS, ZERO, parts["penalty"]),
        ],
        description=f"Repayment on {loan.loan_number}",
        source_type="loan_repayments",
        source_id=repayment.pk,
        branch=loan.branch,
    )
    return repayment


@transaction.atomic
def installment_penalize(
    *,
    installment: LoanInstallment,
    on: dt.date | None = None,
    amount: Decimal | None = None,
) -> LoanInstallment:
    """Charge the late-payment penalty on an installment: product.penalty_rate × what is unpaid of its
    principal, interest and fee (or `amount`), added to penalty_due. No journal entry: penalties are
    income when received (cash basis).

    Refuses an installment of a loan that is not outstanding, one fully paid or superseded, one not
    yet past its due date plus the product's penalty grace days, one already penalized, and a
    penalty that comes to zero."""
    lock(installment)
    loan = lock(installment.loan)
    on = business_date(on)
    what = f"penalty on installment {installment.number} of {loan.loan_number}"
    _require_status(loan, what, *Loan.OUTSTANDING)
    if installment.superseded or installment.completed_on is not None:
        raise BusinessError(
            f"{what} refused: the installment is {'superseded' if installment.superseded else 'paid'}"
        )
    late_from = installment.due_on + dt.timedelta(days=loan.product.penalty_grace_days)
    if on <= late_from:
        raise BusinessError(
            f"{what} refused: due on {installment.due_on}, with {loan.product.penalty_grace_days} "
            f"grace days it is not late on {on}"
        )
    if installment.penalty_due > 0:
        raise BusinessError(f"{what} refused: a penalty of {installment.penalty_due} is already charged")
    if amount is None:
        owed = installment_owed(installment)
        penalty = _cents(loan.product.penalty_rate * (owed.principal + owed.interest + owed.fee))
        if penalty <= 0:
            raise BusinessError(
                f"{what} refused: product {loan.product.code}'s penalty rule comes to {penalty}"
            )
    else:
        penalty = money_amount(amount, what="penalty")
    installment.penalty_due += penalty
    installment.save(update_fields=["penalty_due"])
    return installment


@transaction.atomic
def loan_restructure(
    *,
    loan: Loan,
    new_term: int,
    reason: str,
    new_rate: Decimal | None = None,
    on: dt.date | None = None,
) -> Restructure:
    """Reschedule an outstanding loan: its open installments are closed at what was paid on them
    (`superseded`; the unpaid interest, fees and penalties on them are forgiven — never booked, as
    income is recognised on receipt), and a new schedule of `new_term` installments at `new_rate`
    (default: unchanged) on the outstanding principal starts on `on`, numbered after the old ones. The
    loan's rate and term become the new ones (the old are kept on the `loan_restructures` row); status
    → restructured. No journal entry: the principal stays in GL 1100.

    Refuses a loan that is not outstanding or owes no principal, a new term outside the product's
    min_term … max_term installments, a negative or float rate, a rate above the product's (or the
    loan's own, when higher: a restructure relieves a borrower, it does not reprice the loan upwards),
    and a date before the disbursement."""
    lock(loan)
    what = f"restructure of {loan.loan_number}"
    _require_status(loan, what, *Loan.OUTSTANDING)
    if loan.principal_outstanding <= 0:
        raise BusinessError(f"{what} refused: no principal is outstanding")
    product = loan.product
    if not product.min_term <= new_term <= product.max_term:
        raise BusinessError(
            f"{what} refused: a new term of {new_term} installments is outside product {product.code}'s "
            f"{product.min_term} to {product.max_term}"
        )
    if new_rate is None:
        new_rate = loan.annual_rate
    if isinstance(new_rate, float) or Decimal(new_rate) < 0:
        raise BusinessError(f"{what} refused: the new rate {new_rate!r} must be a non-negative Decimal")
    ceiling = max(product.annual_rate, loan.annual_rate)
    if Decimal(new_rate) > ceiling:
        raise BusinessError(
            f"{what} refused: the new rate {new_rate} is above {ceiling}, the most product {product.code} "
            "(or the loan itself) charges"
        )
    if not reason.strip():
        raise BusinessError(f"{what} refused: no reason given")
    on = business_date(on)
    _require_not_before(on, loan.disbursed_on, what, "disbursed")
    open_installments = list(loan_open_installments(loan).select_for_update())
    for inst in open_installments:
        inst.principal_due, inst.interest_due = inst.principal_paid, inst.interest_paid
        inst.fee_due, inst.penalty_due = inst.fee_paid, inst.penalty_paid
        inst.superseded, inst.completed_on = True, on
    LoanInstallment.objects.bulk_update(
        open_installments,
        ["principal_due", "interest_due", "fee_due", "penalty_due", "superseded", "completed_on"],
    )
    last_number = LoanInstallment.objects.filter(loan=loan).aggregate(n=Max("number"))["n"] or 0
    plan = build_schedule(
        principal=loan.principal_outstanding,
        annual_rate=Decimal(new_rate),
        term=new_term,
        frequency=loan.frequency,
        interest_method=loan.interest_method,
        start=on,
    )
    LoanInstallment.objects.bulk_create(
        LoanInstallment(
            loan=loan,
            number=last_number + p.number,
            due_on=p.due_on,
            principal_due=p.principal,
            interest_due=p.interest,
        )
        for p in plan
    )
    restructure = Restructure.objects.create(
        loan=loan,
        restructured_on=on,
        principal_outstanding=loan.principal_outstanding,
        old_term=loan.term,
        new_term=new_term,
        old_rate=loan.annual_rate,
        new_rate=new_rate,
        reason=reason[:200],
    )
    loan.term, loan.annual_rate, loan.status = new_term, new_rate, Loan.Status.RESTRUCTURED
    loan.save(update_fields=["term", "annual_rate", "status"])
    return restructure


@transaction.atomic
def loan_write_off(*, loan: Loan, reason: str, on: dt.date | None = None) -> WriteOff:
    """Write off an outstanding loan's principal against the loan-loss reserve: journal D 1150 / C 1100
    principal outstanding; a `loan_write_offs` row (also recording the interest due and unpaid, which
    was never booked as income); loan → written_off with principal_outstanding 0.

    Refuses a loan that is not outstanding or owes no principal, an empty reason, and a date before
    the disbursement or before the loan's last repayment: the principal written off is what is owed now,
    so an earlier date would leave the later repayments in the books' portfolio after the loan left it."""
    lock(loan)
    what = f"write-off of {loan.loan_number}"
    _require_status(loan, what, *Loan.OUTSTANDING)
    if loan.principal_outstanding <= 0:
        raise BusinessError(f"{what} refused: no principal is outstanding")
    if not reason.strip():
        raise BusinessError(f"{what} refused: no reason given")
    on = business_date(on)
    _require_not_before(on, loan.disbursed_on, what, "disbursed")
    _require_not_before(on, loan.repayments.aggregate(last=Max("paid_on"))["last"], what, "last repaid")
    principal = loan.principal_outstanding
    unpaid = (
        loan_open_installments(loan)
        .filter(due_on__lte=on)
        .aggregate(due=Sum("interest_due"), paid=Sum("interest_paid"))
    )
    interest = (unpaid["due"] or ZERO) - (unpaid["paid"] or ZERO)
    write_off = WriteOff.objects.create(
        loan=loan,
        written_off_on=on,
        principal_amount=principal,
        interest_amount=interest,
        reason=reason[:200],
    )
    loan.principal_outstanding, loan.status, loan.written_off_on = ZERO, Loan.Status.WRITTEN_OFF, on
    loan.save(update_fields=["principal_outstanding", "status", "written_off_on"])
    journal_post(
        kind=JournalEntry.Kind.WRITE_OFF,
        posted_on=on,
        lines=[(chart.LOAN_LOSS_RESERVE, principal, ZERO), (chart.LOAN_PORTFOLIO, ZERO, principal)],
        description=f"Write-off of {loan.loan_number}",
        source_type="loan_write_offs",
        source_id=write_off.pk,
        branch=loan.branch,
    )
    return write_off


@transaction.atomic
def recovery_post(
    *,
    loan: Loan,
    amount: Decimal,
    channel: str = Payment.Channel.CASH,
    on: dt.date | None = None,
    reference: str | None = None,
) -> Recovery:
    """Receive money on a written-off loan: inbound payment, `loan_recoveries` row, journal D CASH(ch) /
    C 1150 (the reserve is replenished; the next provisioning run releases what is not needed).

    Refuses a non-positive or float amount, a loan that is not written off, and more than was written
    off (principal and unpaid interest) less what was already recovered."""
    amount = money_amount(amount, what="recovery")
    lock(loan)
    what = f"recovery of {amount} on {loan.loan_number}"
    _require_status(loan, what, Loan.Status.WRITTEN_OFF)
    write_off = loan.write_off
    recovered = loan.recoveries.aggregate(total=Sum("amount"))["total"] or ZERO
    recoverable = write_off.principal_amount + write_off.interest_amount - recovered
    if amount > recoverable:
        raise BusinessError(
            f"{what} refused: only {recoverable} of what was written off is unrecovered", code="overpayment"
        )
    cash = cash_account_for(channel)
    on = business_date(on)
    _require_not_before(on, loan.written_off_on, what, "written off")
    payment = payment_record(
        purpose=Payment.Purpose.RECOVERY,
        direction=Payment.Direction.INBOUND,
        channel=channel,
        amount=amount,
        branch=loan.branch,
        customer=loan.customer,
        on=on,
        reference=reference,
        provider_data={"loan": loan.loan_number},
    )
    recovery = Recovery.objects.create(loan=loan, payment=payment, recovered_on=on, amount=amount)
    journal_post(
        kind=JournalEntry.Kind.RECOVERY,
        posted_on=on,
        lines=[(cash, amount, ZERO), (chart.LOAN_LOSS_RESERVE, ZERO, amount)],
        description=f"Recovery on {loan.loan_number}",
        source_type="loan_recoveries",
        source_id=recovery.pk,
        branch=loan.branch,
    )
    return recovery


@transaction.atomic
def provision_post(*, on: dt.date | None = None) -> LoanLossProvision:
    """Bring the loan-loss reserve (GL 1150's credit balance) to what the aging policy requires on `on`
    (loans.rules.PROVISION_POLICY over each outstanding loan's days past due): journal D 5100 / C 1150
    for the difference, or D 1150 / C 5100 to release a surplus; no entry when nothing changes. Records
    the run in `loan_loss_provisions`.

    Refuses a second run on the same date."""
    on = business_date(on)
    if LoanLossProvision.objects.filter(provisioned_on=on).exists():
        raise BusinessError(f"provisioning on {on} refused: it has already run that day")
    required = provision_required(on).required_reserve
    reserve = -gl_balance(chart.LOAN_LOSS_RESERVE, as_of=on)
    expense = required - reserve
    provision = LoanLossProvision.objects.create(
        provisioned_on=on,
        required_reserve=required,
        expense_amount=expense,
        policy=provision_policy_text()[:200],
    )
    if expense:
        journal_post(
            kind=JournalEntry.Kind.PROVISION,
            posted_on=on,
            lines=provision_lines(expense, ZERO),
            description=f"Loan-loss provision to a reserve of {required}",
            source_type="loan_loss_provisions",
            source_id=provision.pk,
        )
    return provision
