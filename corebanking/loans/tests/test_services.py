"""Loan services and selectors: the life of a loan, its exact journal entries, refusals that leave the
database unchanged, days past due and arrears, provisioning, and the GL identities."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.testing import DAY0, assert_books_consistent, entry_lines
from customers.services import group_create, group_member_add
from ledger.models import JournalEntry, SavingsTransaction
from ledger.selectors import gl_balance
from loans.models import Loan, LoanInstallment, LoanLossProvision, Repayment
from loans.rules import PROVISION_POLICY, provision_rate
from loans.schedule import build_schedule
from loans.selectors import (
    loan_arrears_get,
    loan_days_past_due,
    loan_owed_get,
    provision_required,
)
from loans.services import (
    installment_penalize,
    loan_apply,
    loan_approve,
    loan_disburse,
    loan_reject,
    loan_restructure,
    loan_write_off,
    provision_post,
    recovery_post,
    repayment_post,
)

Z = D("0.00")
pytestmark = pytest.mark.django_db


def entry_for(source_type, pk):
    return JournalEntry.objects.get(source_type=source_type, source_id=pk)


def installments(loan):
    return list(LoanInstallment.objects.filter(loan=loan).order_by("number"))


# -- application, approval, rejection ------------------------------------------------------------


def test_apply_copies_the_product_terms(customer, monthly_product, officer):
    loan = loan_apply(
        customer=customer, product=monthly_product, amount=D("1000.00"), term=12, purpose="stock", on=DAY0
    )
    assert loan.loan_number == f"LN{loan.pk:08d}"
    assert (loan.status, loan.annual_rate, loan.interest_method, loan.frequency) == (
        "applied",
        D("0.120000"),
        "declining",
        "monthly",
    )
    assert (loan.officer, loan.branch, loan.cycle, loan.principal_outstanding) == (
        officer,
        customer.branch,
        1,
        Z,
    )


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"amount": D("99.99")}, "product IND-M lends 100.00 to 50000.00"),
        ({"amount": D("50000.01")}, "product IND-M lends 100.00 to 50000.00"),
        ({"term": 2}, "a term of 2 installments is outside product IND-M's 3 to 24"),
        ({"amount": -5}, "must be positive"),
        ({"amount": 1000.0}, "never a float"),
    ],
)
def test_apply_refusals(customer, monthly_product, refused, kwargs, message):
    args = dict(
        customer=customer, product=monthly_product, amount=D("1000.00"), term=12, purpose="x", on=DAY0
    )
    with refused(message):
        loan_apply(**{**args, **kwargs})


def test_apply_needs_verified_kyc(make_customer, monthly_product, refused):
    pending = make_customer(kyc_status="pending")
    with refused("KYC is pending, not verified"):
        loan_apply(
            customer=pending, product=monthly_product, amount=D("500.00"), term=6, purpose="x", on=DAY0
        )


def test_group_products_need_a_group_the_customer_belongs_to(
    customer, make_customer, branch, officer, weekly_group_product, monthly_product, refused
):
    group = group_create(name="Umoja", branch=branch, loan_officer=officer, meeting_day=1, formed_on=DAY0)
    args = dict(customer=customer, amount=D("500.00"), term=10, purpose="x", on=DAY0)
    with refused("lends to group members; no group given"):
        loan_apply(product=weekly_group_product, **args)
    with refused(f"not a member of group {group.code}"):
        loan_apply(product=weekly_group_product, group=group, **args)
    with refused("is an individual loan"):
        loan_apply(product=monthly_product, group=group, **args)
    group_member_add(group=group, customer=customer, on=DAY0)
    loan = loan_apply(product=weekly_group_product, group=group, **args)
    assert loan.group == group


def test_approve_and_reject(make_loan, refused):
    loan = make_loan(disburse=False)
    assert (loan.status, loan.amount_approved, loan.approved_on) == ("approved", D("1000.00"), DAY0)
    with refused("is approved, not applied"):
        loan_approve(loan=loan, on=DAY0)
    loan_reject(loan=loan, on=DAY0)
    assert loan.status == "rejected"
    with refused("is rejected, not approved"):
        loan_disburse(loan=loan, on=DAY0)


def test_approve_refuses_more_than_applied(customer, monthly_product, refused):
    loan = loan_apply(
        customer=customer, product=monthly_product, amount=D("800.00"), term=6, purpose="x", on=DAY0
    )
    with refused("more than the 800.00 applied for"):
        loan_approve(loan=loan, amount=D("800.01"), on=DAY0)
    with refused("before the loan was applied for"):
        loan_approve(loan=loan, on=DAY0 - dt.timedelta(days=1))
    loan_approve(loan=loan, amount=D("600.00"), on=DAY0)
    assert loan.amount_approved == D("600.00")


# -- disbursement -----------------------------------------------------------------------------


def test_disburse_builds_the_schedule_and_deducts_the_fee(make_loan):
    loan = make_loan(D("1000.00"), term=12, channel="mobile_money")
    assert (loan.status, loan.disbursed_on, loan.amount_disbursed) == ("active", DAY0, D("1000.00"))
    assert (loan.fee_amount, loan.principal_outstanding) == (D("20.00"), D("1000.00"))  # 2% × 1000
    plan = build_schedule(
        principal=D("1000.00"),
        annual_rate=D("0.12"),
        term=12,
        frequency="monthly",
        interest_method="declining",
        start=DAY0,
    )
    assert [(i.number, i.due_on, i.principal_due, i.interest_due) for i in installments(loan)] == [
        (p.number, p.due_on, p.principal, p.interest) for p in plan
    ]
    entry = entry_for("loans", loan.pk)
    assert entry.kind == "disbursement"
    assert entry_lines(entry) == [
        ("1030", Z, D("980.00")),
        ("1100", D("1000.00"), Z),
        ("4010", Z, D("20.00")),
    ]
    payment = loan.customer.payments.get(purpose="loan_disbursement")
    assert (payment.direction, payment.amount, payment.channel) == ("outbound", D("980.00"), "mobile_money")
    assert_books_consistent()


def test_disburse_into_a_savings_account(make_loan, make_account):
    account = make_account()
    loan = make_loan(D("500.00"), term=6, disbursement_account=account)
    account.refresh_from_db()
    assert (loan.disbursement_account, account.balance) == (account, D("490.00"))
    txn = SavingsTransaction.objects.get(account=account, type__code="disbursement_credit")
    assert txn.balance_after == D("490.00")
    assert entry_lines(entry_for("loans", loan.pk)) == [
        ("1100", D("500.00"), Z),
        ("2000", Z, D("490.00")),
        ("4010", Z, D("10.00")),
    ]
    assert_books_consistent()


def test_disburse_refuses_someone_elses_account(make_loan, make_account, make_customer, refused):
    other = make_account(customer_=make_customer())
    loan = make_loan(disburse=False)
    with refused("belongs to another customer"):
        loan_disburse(loan=loan, on=DAY0, disbursement_account=other)


# -- repayment --------------------------------------------------------------------------------


def test_repayment_of_one_installment(make_loan):
    loan = make_loan()
    repayment = repayment_post(loan=loan, amount=D("88.85"), channel="agent", on=dt.date(2025, 2, 6))
    assert (
        repayment.principal_amount,
        repayment.interest_amount,
        repayment.fee_amount,
        repayment.penalty_amount,
    ) == (D("78.85"), D("10.00"), Z, Z)
    first = installments(loan)[0]
    assert (first.principal_paid, first.interest_paid, first.completed_on) == (
        D("78.85"),
        D("10.00"),
        dt.date(2025, 2, 6),
    )
    loan.refresh_from_db()
    assert loan.principal_outstanding == D("921.15")
    assert entry_lines(entry_for("loan_repayments", repayment.pk)) == [
        ("1040", D("88.85"), Z),
        ("1100", Z, D("78.85")),
        ("4000", Z, D("10.00")),
    ]
    assert repayment.payment.direction == "inbound" and repayment.payment.purpose == "loan_repayment"
    assert_books_consistent()


def test_partial_repayments_are_allocated_oldest_first(make_loan):
    loan = make_loan()
    r1 = repayment_post(loan=loan, amount=D("50.00"), on=dt.date(2025, 2, 6))  # 10 interest, 40 principal
    r2 = repayment_post(loan=loan, amount=D("100.00"), on=dt.date(2025, 3, 6))
    # r2: the 38.85 principal left on installment 1, then 9.21 interest and 51.94 principal on installment 2
    assert [(a.installment.number, a.interest_amount, a.principal_amount) for a in r1.allocations.all()] == [
        (1, D("10.00"), D("40.00"))
    ]
    assert sorted(
        (a.installment.number, a.interest_amount, a.principal_amount) for a in r2.allocations.all()
    ) == [(1, Z, D("38.85")), (2, D("9.21"), D("51.94"))]
    first, second = installments(loan)[:2]
    assert first.completed_on == dt.date(2025, 3, 6) and second.completed_on is None
    loan.refresh_from_db()
    assert loan.principal_outstanding == D("1000.00") - D("40.00") - D("38.85") - D("51.94")


def test_paying_everything_closes_the_loan(make_loan, refused):
    loan = make_loan(D("300.00"), term=3)
    owed = loan_owed_get(loan).total
    repayment_post(loan=loan, amount=owed, on=dt.date(2025, 2, 1))
    loan.refresh_from_db()
    assert (loan.status, loan.closed_on, loan.principal_outstanding) == ("closed", dt.date(2025, 2, 1), Z)
    assert all(i.completed_on for i in installments(loan))
    with refused(
        f"repayment of 10.00 on {loan.loan_number} refused: loan {loan.loan_number} is closed (repaid)"
    ):
        repayment_post(loan=loan, amount=D("10.00"), on=dt.date(2025, 2, 2))
    assert_books_consistent()


def test_overpayment_is_refused_and_changes_nothing(make_loan, refused):
    loan = make_loan(D("300.00"), term=3)
    owed = loan_owed_get(loan)
    too_much = owed.total + D("0.01")
    with refused(
        f"repayment of {too_much} on {loan.loan_number} refused: it exceeds everything still owed, "
        f"{owed.total} (principal 300.00, interest {owed.interest}, fees 0.00, penalties 0.00)"
    ):
        repayment_post(loan=loan, amount=too_much, on=dt.date(2025, 2, 6))
    assert Repayment.objects.count() == 0


@pytest.mark.parametrize(
    "amount,message",
    [
        (D("-1.00"), "repayment -1.00 refused: it must be positive"),
        (D("0.00"), "must be positive"),
        (88.85, "repayment 88.85 refused: money must be a Decimal"),
    ],
)
def test_bad_repayment_amounts_are_refused(make_loan, refused, amount, message):
    loan = make_loan()
    with refused(message):
        repayment_post(loan=loan, amount=amount, on=dt.date(2025, 2, 6))


def test_repaying_a_loan_not_yet_disbursed_is_refused(make_loan, refused):
    loan = make_loan(disburse=False)
    with refused("is approved, not active (disbursed) or restructured"):
        repayment_post(loan=loan, amount=D("10.00"), on=DAY0)


def test_repayment_from_savings_respects_the_minimum_balance(make_loan, make_account, refused):
    loan = make_loan()
    account = make_account(D("100.00"))
    with refused("would fall to 11.15, below the product's minimum balance of 50.00"):
        repayment_post(loan=loan, amount=D("88.85"), on=dt.date(2025, 2, 6), savings_account=account)
    repayment = repayment_post(loan=loan, amount=D("50.00"), on=dt.date(2025, 2, 6), savings_account=account)
    assert repayment.payment is None and repayment.savings_account == account
    assert entry_lines(entry_for("loan_repayments", repayment.pk)) == [
        ("1100", Z, D("40.00")),
        ("2000", D("50.00"), Z),
        ("4000", Z, D("10.00")),
    ]
    assert_books_consistent()


# -- penalties, arrears, days past due ---------------------------------------------------------


def test_penalty_after_the_grace_days_is_paid_first(make_loan, refused):
    loan = make_loan()
    first = installments(loan)[0]  # due 2025-02-06, 88.85; grace 3 days
    with refused("with 3 grace days it is not late on 2025-02-09"):
        installment_penalize(installment=first, on=dt.date(2025, 2, 9))
    installment_penalize(installment=first, on=dt.date(2025, 2, 10))
    first.refresh_from_db()
    assert first.penalty_due == D("4.44")  # 5% × 88.85 = 4.4425 → 4.44
    with refused("a penalty of 4.44 is already charged"):
        installment_penalize(installment=first, on=dt.date(2025, 2, 11))
    repayment = repayment_post(loan=loan, amount=D("20.00"), on=dt.date(2025, 2, 12))
    assert (repayment.penalty_amount, repayment.interest_amount, repayment.principal_amount) == (
        D("4.44"),
        D("10.00"),
        D("5.56"),
    )
    assert entry_lines(entry_for("loan_repayments", repayment.pk)) == [
        ("1010", D("20.00"), Z),
        ("1100", Z, D("5.56")),
        ("4000", Z, D("10.00")),
        ("4020", Z, D("4.44")),
    ]


def test_days_past_due_run_from_the_oldest_unpaid_installment(make_loan):
    loan = make_loan()  # due on the 6th of each month from February 2025
    assert loan_days_past_due(loan, dt.date(2025, 2, 6)) == 0  # due today is not late
    assert loan_days_past_due(loan, dt.date(2025, 2, 7)) == 1
    assert loan_days_past_due(loan, dt.date(2025, 3, 10)) == 32  # from 6 Feb, not from 6 Mar
    arrears = loan_arrears_get(loan, dt.date(2025, 3, 10))
    assert (arrears.days_past_due, arrears.installments_missed, arrears.oldest_due_on) == (
        32,
        2,
        dt.date(2025, 2, 6),
    )
    assert (arrears.principal, arrears.interest, arrears.total) == (D("158.49"), D("19.21"), D("177.70"))
    repayment_post(loan=loan, amount=D("88.85"), on=dt.date(2025, 3, 9))  # pays installment 1 only
    assert loan_days_past_due(loan, dt.date(2025, 3, 10)) == 4  # now from 6 Mar
    assert loan_days_past_due(loan, dt.date(2025, 3, 8)) == 30  # on 8 Mar installment 1 was still unpaid
    assert loan_arrears_get(loan, dt.date(2025, 3, 10)).installments_missed == 1


def test_days_past_due_is_never_measured_from_maturity(make_loan):
    loan = make_loan(D("300.00"), term=3)  # due 6 Feb, 6 Mar, 6 Apr
    repayment_post(loan=loan, amount=loan_owed_get(loan).total - D("1.00"), on=dt.date(2025, 2, 1))
    # only the last installment is short by 1.00: 10 days late on 16 Apr
    assert loan_days_past_due(loan, dt.date(2025, 4, 16)) == 10
    assert loan_arrears_get(loan, dt.date(2025, 4, 16)).total == D("1.00")


# -- restructure, write-off, recovery, provisioning -------------------------------------------


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"new_term": 2}, "a new term of 2 installments is outside product IND-M's 3 to 24"),
        ({"new_term": 25}, "a new term of 25 installments is outside product IND-M's 3 to 24"),
        ({"new_term": 0}, "outside product IND-M's 3 to 24"),
        ({"new_rate": D("0.120001")}, "the new rate 0.120001 is above 0.120000, the most product IND-M"),
        ({"new_rate": D("-0.01")}, "must be a non-negative Decimal"),
        ({"new_rate": 0.1}, "must be a non-negative Decimal"),
    ],
)
def test_restructure_is_bounded_by_the_product(make_loan, refused, kwargs, message):
    loan = make_loan()
    with refused(message):
        loan_restructure(**{"loan": loan, "new_term": 12, "reason": "drought", "on": dt.date(2025, 4, 1),
                            **kwargs})


def test_restructure_at_the_products_limits_is_allowed(make_loan):
    for term in (3, 24):
        loan = make_loan()
        loan_restructure(loan=loan, new_term=term, new_rate=D("0.120000"), reason="drought",
                         on=dt.date(2025, 4, 1))
        loan.refresh_from_db()
        assert (loan.term, loan.annual_rate, loan.status) == (term, D("0.120000"), "restructured")


def test_a_loan_priced_above_a_since_lowered_product_rate_keeps_its_rate(make_loan, monthly_product):
    loan = make_loan()
    monthly_product.annual_rate = D("0.100000")
    monthly_product.save(update_fields=["annual_rate"])
    loan_restructure(loan=loan, new_term=12, reason="drought", on=dt.date(2025, 4, 1))  # rate unchanged
    loan.refresh_from_db()
    assert loan.annual_rate == D("0.120000")


def test_approval_rechecks_the_products_range(customer, monthly_product, refused):
    loan = loan_apply(customer=customer, product=monthly_product, amount=D("40000.00"), term=12,
                      purpose="x", on=DAY0)
    monthly_product.max_amount = D("30000.00")
    monthly_product.save(update_fields=["max_amount"])
    with refused("product IND-M lends 100.00 to 30000.00"):
        loan_approve(loan=loan, on=DAY0)
    loan_approve(loan=loan, amount=D("30000.00"), on=DAY0)


def test_restructure_supersedes_open_installments(make_loan, refused):
    loan = make_loan()
    repayment_post(loan=loan, amount=D("50.00"), on=dt.date(2025, 2, 6))  # part of installment 1
    restructure = loan_restructure(
        loan=loan, new_term=6, new_rate=D("0.06"), reason="harvest failed", on=dt.date(2025, 4, 1)
    )
    loan.refresh_from_db()
    assert (loan.status, loan.term, loan.annual_rate, loan.principal_outstanding) == (
        "restructured",
        6,
        D("0.060000"),
        D("960.00"),
    )
    assert (restructure.old_term, restructure.new_term, restructure.principal_outstanding) == (
        12,
        6,
        D("960.00"),
    )
    old, new = installments(loan)[:12], installments(loan)[12:]
    assert all(i.superseded and i.completed_on == dt.date(2025, 4, 1) for i in old)
    assert (old[0].principal_due, old[0].interest_due) == (D("40.00"), D("10.00"))  # closed at what was paid
    assert [i.number for i in new] == list(range(13, 19))
    assert sum(i.principal_due for i in new) == D("960.00") and new[0].due_on == dt.date(2025, 5, 1)
    assert loan_days_past_due(loan, dt.date(2025, 4, 2)) == 0
    assert not JournalEntry.objects.filter(source_type="loan_restructures").exists()
    repayment_post(loan=loan, amount=loan_owed_get(loan).total, on=dt.date(2025, 5, 1))
    loan.refresh_from_db()
    assert loan.status == "closed"
    assert_books_consistent()


def test_write_off_and_recovery(make_loan, refused):
    loan = make_loan()
    with refused("no reason given"):
        loan_write_off(loan=loan, reason=" ", on=dt.date(2025, 9, 1))
    with refused("is before the loan was disbursed"):
        loan_write_off(loan=loan, reason="absconded", on=loan.disbursed_on - dt.timedelta(days=1))
    write_off = loan_write_off(loan=loan, reason="absconded", on=dt.date(2025, 9, 1))
    loan.refresh_from_db()
    assert (loan.status, loan.principal_outstanding, write_off.principal_amount) == (
        "written_off",
        Z,
        D("1000.00"),
    )
    # unpaid interest due by 1 Sep (Feb … Aug): 10.00 + 9.21 + 8.42 + 7.61 + 6.80 + 5.98 + 5.15
    assert write_off.interest_amount == D("53.17")
    assert entry_lines(entry_for("loan_write_offs", write_off.pk)) == [
        ("1100", Z, D("1000.00")),
        ("1150", D("1000.00"), Z),
    ]
    with refused("is written off, not active (disbursed) or restructured"):
        repayment_post(loan=loan, amount=D("10.00"), on=dt.date(2025, 9, 2))
    recovery = recovery_post(loan=loan, amount=D("100.00"), channel="mobile_money", on=dt.date(2025, 10, 1))
    assert entry_lines(entry_for("loan_recoveries", recovery.pk)) == [
        ("1030", D("100.00"), Z),
        ("1150", Z, D("100.00")),
    ]
    with refused("only 953.17 of what was written off is unrecovered"):
        recovery_post(loan=loan, amount=D("953.18"), on=dt.date(2025, 10, 2))
    assert_books_consistent()


def test_write_off_is_not_dated_before_the_last_repayment(make_loan, refused):
    """The principal written off is what is owed on the day it is recorded: dated before a repayment, the
    books would keep that repayment's principal in the portfolio after the loan had left it."""
    loan = make_loan()
    repayment_post(loan=loan, amount=D("100.00"), on=dt.date(2025, 3, 1))
    with refused("is before the loan was last repaid on 2025-03-01"):
        loan_write_off(loan=loan, reason="absconded", on=dt.date(2025, 2, 28))
    loan_write_off(loan=loan, reason="absconded", on=dt.date(2025, 3, 1))
    assert_books_consistent()


def test_provision_policy_buckets():
    assert [provision_rate(d) for d in (0, 1, 30, 31, 60, 61, 90, 91, 1000)] == [
        D("0"),
        D("0.10"),
        D("0.10"),
        D("0.25"),
        D("0.25"),
        D("0.50"),
        D("0.50"),
        D("1.00"),
        D("1.00"),
    ]
    assert PROVISION_POLICY[0] == (0, 0, D("0.00"))


def test_provisioning_tops_up_then_releases_the_reserve(make_loan, make_customer, refused):
    current = make_loan(D("1000.00"))
    late = make_loan(D("2000.00"), customer_=make_customer(), on=dt.date(2024, 11, 20))  # due the 20th
    on = dt.date(2025, 2, 1)  # `late` missed 20 Dec and 20 Jan: 43 DPD → 25%; `current` owes nothing yet
    assert (loan_days_past_due(late, on), loan_days_past_due(current, on)) == (43, 0)
    assert provision_required(on).required_reserve == D("500.00")  # 25% × 2000
    run = provision_post(on=on)
    assert (run.required_reserve, run.expense_amount) == (D("500.00"), D("500.00"))
    assert entry_lines(entry_for("loan_loss_provisions", run.pk)) == [
        ("1150", Z, D("500.00")),
        ("5100", D("500.00"), Z),
    ]
    assert gl_balance("1150") == D("-500.00")
    with refused("it has already run that day"):
        provision_post(on=on)
    # both overdue installments are paid: `late` is now current (its next is due 20 Feb)
    repayment_post(loan=late, amount=sum(i.total_due for i in installments(late)[:2]), on=dt.date(2025, 2, 2))
    late.refresh_from_db()
    release = provision_post(on=dt.date(2025, 2, 3))
    assert (release.required_reserve, release.expense_amount) == (Z, D("-500.00"))
    assert entry_lines(entry_for("loan_loss_provisions", release.pk)) == [
        ("1150", D("500.00"), Z),
        ("5100", Z, D("500.00")),
    ]
    quiet = provision_post(on=dt.date(2025, 2, 4))  # nothing changed: a run without an entry
    assert (
        quiet.expense_amount == Z
        and not JournalEntry.objects.filter(source_type="loan_loss_provisions", source_id=quiet.pk).exists()
    )
    assert LoanLossProvision.objects.count() == 3


def test_gl_identities_after_a_loan_book(
    make_loan, make_customer, make_account, branch, weekly_group_product, officer
):
    from customers.services import group_create, group_member_add
    from ledger.services import funding_receive

    funding_receive(kind="borrowing", amount=D("100000.00"), funder="Kiva", branch=branch, on=DAY0)
    a = make_loan(D("1000.00"))
    b = make_loan(D("2400.00"), term=24, customer_=make_customer())
    c = make_loan(D("600.00"), term=6, customer_=make_customer())
    member = make_customer()
    group = group_create(name="Tumaini", branch=branch, loan_officer=officer, meeting_day=2, formed_on=DAY0)
    group_member_add(group=group, customer=member, on=DAY0)
    loan = loan_apply(
        customer=member,
        product=weekly_group_product,
        group=group,
        amount=D("520.00"),
        term=10,
        purpose="x",
        on=DAY0,
    )
    loan_approve(loan=loan, on=DAY0)
    loan_disburse(loan=loan, on=DAY0, channel="agent")
    account = make_account(D("300.00"), customer_=b.customer)
    for week in range(1, 5):
        repayment_post(loan=loan, amount=D("54.00"), on=DAY0 + dt.timedelta(weeks=week))  # 52 + 2 interest
    repayment_post(loan=a, amount=D("200.00"), on=dt.date(2025, 3, 6))
    repayment_post(loan=b, amount=D("100.00"), on=dt.date(2025, 2, 6), savings_account=account)
    installment_penalize(installment=installments(c)[0], on=dt.date(2025, 3, 1))
    repayment_post(loan=c, amount=loan_owed_get(c).total, on=dt.date(2025, 3, 1))
    loan_restructure(loan=b, new_term=24, reason="sick", on=dt.date(2025, 4, 1))
    loan_write_off(loan=a, reason="died", on=dt.date(2025, 9, 1))
    recovery_post(loan=a, amount=D("50.00"), on=dt.date(2025, 9, 15))
    provision_post(on=dt.date(2025, 9, 30))
    assert set(Loan.objects.values_list("status", flat=True)) == {
        "written_off",
        "restructured",
        "closed",
        "active",
    }
    assert_books_consistent()
    outstanding = sum(x.principal_outstanding for x in Loan.objects.filter(status__in=Loan.OUTSTANDING))
    assert (
        gl_balance("1100")
        == outstanding
        == sum(
            i.principal_due - i.principal_paid
            for i in LoanInstallment.objects.filter(loan__status__in=Loan.OUTSTANDING)
        )
    )
