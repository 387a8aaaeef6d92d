"""Business dates: no operation is dated after the institution's today (in its time zone) or within a
closed accounting period — every service that takes a date refuses both, and the database refuses a
journal entry in a closed period on its own; closing the books follows its rules; "today" is the
institution's, not UTC's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from types import SimpleNamespace
from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from core.clock import business_date, business_moment, institution_today
from core.exceptions import BusinessError
from core.testing import DAY0, assert_books_consistent
from ledger import chart
from ledger.models import JournalEntry, PeriodClose

pytestmark = pytest.mark.django_db
days = dt.timedelta
CLOSE_THROUGH = DAY0 + days(90)  # the world below is built before it; the closed-date cases fall before it


@pytest.fixture
def w(branch, officer, make_customer, make_account, make_loan, monthly_product, fd_product):
    """One object of every kind an operation acts on, booked on DAY0 … DAY0 + 30."""
    from customers.services import group_create, group_member_add
    from investments.services import investment_place
    from ledger.services import operating_expense_post
    from loans.services import loan_apply, loan_write_off

    customer = make_customer()
    account = make_account(D("1000.00"), customer_=customer)
    member = make_customer()
    group = group_create(name="Umoja", branch=branch, loan_officer=officer, meeting_day=1, formed_on=DAY0)
    group_member_add(group=group, customer=member, on=DAY0)
    applied = loan_apply(customer=customer, product=monthly_product, amount=D("500.00"), term=6,
                         purpose="stock", on=DAY0)
    approved = make_loan(customer_=make_customer(), disburse=False)
    written_off = make_loan(customer_=make_customer())
    loan_write_off(loan=written_off, reason="absconded", on=DAY0 + days(30))
    return SimpleNamespace(
        branch=branch,
        officer=officer,
        customer=customer,
        spare_customer=make_customer(),
        account=account,
        other_account=make_account(customer_=make_customer()),
        deposit=account.transactions.get(type__code="deposit"),
        group=group,
        member=member,
        product=monthly_product,
        fd_product=fd_product,
        loan=make_loan(customer_=customer),
        applied=applied,
        approved=approved,
        written_off=written_off,
        fd=investment_place(customer=customer, product=fd_product, amount=D("2000.00"), on=DAY0),
        expense=operating_expense_post(category="administrative", amount=D("10.00"), branch=branch, on=DAY0),
    )


def _customers(w, on):
    from customers import services as s

    return {
        "branch_create": lambda: s.branch_create(code="MSA01", name="Mombasa", region="Coast", opened_on=on),
        "staff_create": lambda: s.staff_create(username="teller9", first_name="Ann", last_name="Njeri",
                                               role="teller", branch=w.branch, hired_on=on),
        "customer_create": lambda: s.customer_create(
            first_name="Jane", last_name="Achieng", gender="F", date_of_birth=dt.date(1990, 1, 1),
            national_id="ID-NEW-1", phone="+254700000999", branch=w.branch, business_sector="retail",
            loan_officer=w.officer, joined_on=on),
        "customer_delete": lambda: s.customer_delete(customer=w.spare_customer, on=on),
        "group_create": lambda: s.group_create(name="Tumaini", branch=w.branch, loan_officer=w.officer,
                                               meeting_day=2, formed_on=on),
        "group_member_add": lambda: s.group_member_add(group=w.group, customer=w.customer, on=on),
        "group_member_remove": lambda: s.group_member_remove(group=w.group, customer=w.member, on=on),
    }


def _savings(w, on):
    from savings import services as s

    return {
        "account_open": lambda: s.account_open(customer=w.customer, product=w.account.product, on=on),
        "account_deposit": lambda: s.account_deposit(account=w.account, amount=D("10.00"), channel="cash",
                                                     on=on),
        "account_withdraw": lambda: s.account_withdraw(account=w.account, amount=D("10.00"), channel="cash",
                                                       on=on),
        "account_transfer": lambda: s.account_transfer(from_account=w.account, to_account=w.other_account,
                                                       amount=D("10.00"), on=on),
        "account_interest_post": lambda: s.account_interest_post(account=w.account, period_start=DAY0,
                                                                 period_end=on),
        "account_fee_charge": lambda: s.account_fee_charge(account=w.account, on=on),
        "account_close": lambda: s.account_close(account=w.other_account, on=on),
        "account_transaction_reverse": lambda: s.account_transaction_reverse(
            savings_transaction=w.deposit, reason="keyed twice", on=on),
    }


def _ledger_and_payments(w, on):
    from ledger import services as s
    from payments.services import payment_record

    return {
        "journal_post": lambda: s.journal_post(
            kind="operating_expense", posted_on=on, branch=w.branch,
            lines=[(chart.OPERATING_EXPENSE_ACCOUNTS["administrative"], D("5.00"), D(0)),
                   (chart.BANK, D(0), D("5.00"))]),
        "journal_entry_reverse": lambda: s.journal_entry_reverse(entry=w.expense, on=on, reason="wrong"),
        "operating_expense_post": lambda: s.operating_expense_post(category="administrative",
                                                                   amount=D("5.00"), branch=w.branch, on=on),
        "funding_receive": lambda: s.funding_receive(kind="borrowing", amount=D("1000.00"), funder="Bank",
                                                     branch=w.branch, on=on),
        "funding_interest_pay": lambda: s.funding_interest_pay(amount=D("5.00"), funder="Bank",
                                                               branch=w.branch, on=on),
        "payment_record": lambda: payment_record(purpose="deposit", direction="inbound", channel="cash",
                                                 amount=D("5.00"), branch=w.branch, on=on),
    }


def _loans(w, on):
    from loans import services as s

    return {
        "loan_apply": lambda: s.loan_apply(customer=w.customer, product=w.product, amount=D("500.00"), term=6,
                                           purpose="stock", on=on),
        "loan_approve": lambda: s.loan_approve(loan=w.applied, on=on),
        "loan_reject": lambda: s.loan_reject(loan=w.applied, on=on),
        "loan_disburse": lambda: s.loan_disburse(loan=w.approved, on=on),
        "repayment_post": lambda: s.repayment_post(loan=w.loan, amount=D("10.00"), on=on),
        "installment_penalize": lambda: s.installment_penalize(
            installment=w.loan.installments.order_by("number").first(), on=on),
        "loan_restructure": lambda: s.loan_restructure(loan=w.loan, new_term=12, reason="drought", on=on),
        "loan_write_off": lambda: s.loan_write_off(loan=w.loan, reason="absconded", on=on),
        "recovery_post": lambda: s.recovery_post(loan=w.written_off, amount=D("10.00"), on=on),
        "provision_post": lambda: s.provision_post(on=on),
    }


def _investments(w, on):
    from investments import services as s

    return {
        "investment_place": lambda: s.investment_place(customer=w.customer, product=w.fd_product,
                                                       amount=D("1000.00"), on=on),
        "investment_accrue": lambda: s.investment_accrue(investment=w.fd, period_end=on),
        "investment_pay_earnings": lambda: s.investment_pay_earnings(investment=w.fd, on=on),
        "investment_redeem": lambda: s.investment_redeem(investment=w.fd, on=on),
    }


def operations(w, on) -> dict:
    """Every service that takes a business date, called on `on` with otherwise valid input."""
    return {**_customers(w, on), **_savings(w, on), **_ledger_and_payments(w, on), **_loans(w, on),
            **_investments(w, on)}


OPERATIONS = sorted(operations(SimpleNamespace(), None))


def test_every_dated_service_is_covered():
    """A new service taking `on` (or another business date) must be added to operations() above."""
    import inspect

    from customers import services as customers
    from investments import services as investments
    from ledger import services as ledger
    from loans import services as loans
    from payments import services as payments
    from savings import services as savings

    date_params = {"on", "opened_on", "hired_on", "joined_on", "formed_on", "posted_on", "period_end"}
    dated = {
        name
        for module in (customers, savings, ledger, payments, loans, investments)
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if fn.__module__ == module.__name__ and not name.startswith("_")
        and date_params & set(inspect.signature(fn).parameters)
    }
    # savings_transaction_record is a helper of the services above; its date is stamped through
    # business_moment, which bounds it the same way (test_a_stamp_is_bounded_too). account_interest_due
    # only computes (a read).
    assert dated - {"savings_transaction_record", "account_interest_due"} == set(OPERATIONS)


@pytest.mark.parametrize("name", OPERATIONS)
def test_an_operation_dated_after_today_is_refused(w, refused, name):
    tomorrow = institution_today() + days(1)
    with refused(f"the business date {tomorrow} is after today {institution_today()}") as excinfo:
        operations(w, tomorrow)[name]()
    assert excinfo.value.code == "future_date"


@pytest.mark.parametrize("name", OPERATIONS)
def test_an_operation_dated_in_a_closed_period_is_refused(w, refused, name):
    from ledger.services import period_close

    period_close(through=CLOSE_THROUGH)
    with refused(f"is in a closed accounting period (the books are closed through {CLOSE_THROUGH})") as exc:
        operations(w, CLOSE_THROUGH - days(10))[name]()
    assert exc.value.code == "period_closed"


def test_back_dated_operations_in_the_open_period_stay_allowed(w):
    from ledger.services import journal_entry_reverse, period_close
    from loans.services import repayment_post
    from savings.services import account_deposit

    period_close(through=CLOSE_THROUGH)
    repayment = repayment_post(loan=w.loan, amount=D("10.00"), on=CLOSE_THROUGH + days(1))
    deposit = account_deposit(account=w.account, amount=D("10.00"), channel="cash", on=institution_today())
    assert repayment.paid_on == CLOSE_THROUGH + days(1) and deposit.value_date == institution_today()
    # a mistake found in a closed period is corrected by a reversal dated in the open one
    reversal = journal_entry_reverse(entry=w.expense, on=CLOSE_THROUGH + days(1), reason="wrong branch")
    assert reversal.reversal_of == w.expense
    assert_books_consistent()


def test_a_stamp_is_bounded_too():
    """business_moment (the stamp of every payment, savings transaction and entry) refuses what
    business_date refuses, so a helper called with a raw date cannot escape the rule."""
    with pytest.raises(BusinessError, match="operations cannot be dated in the future"):
        business_moment(institution_today() + days(1))
    assert business_moment(DAY0) == timezone.make_aware(dt.datetime(2025, 1, 6, 12, 0))


def test_reads_are_not_bounded(w):
    """A read as of a future or closed date is a question, not an operation."""
    from ledger.services import period_close
    from loans.selectors import loan_arrears_get

    period_close(through=CLOSE_THROUGH)
    assert loan_arrears_get(w.loan, as_of=institution_today() + days(30)).days_past_due > 0
    assert loan_arrears_get(w.loan, as_of=DAY0).days_past_due == 0


# --- the institution's time zone -----------------------------------------------------------------------

LATE_EVENING_UTC = dt.datetime(2026, 12, 1, 22, 30, tzinfo=dt.UTC)  # 01:30 on 2 December in Nairobi


@override_settings(TIME_ZONE="Africa/Nairobi")
def test_today_is_the_institutions_today_not_utcs():
    with mock.patch("django.utils.timezone.now", return_value=LATE_EVENING_UTC):
        assert institution_today() == dt.date(2026, 12, 2)
        assert business_date() == dt.date(2026, 12, 2)
        assert business_date(dt.date(2026, 12, 2)) == dt.date(2026, 12, 2)  # Nairobi's today: allowed
        with pytest.raises(BusinessError) as excinfo:
            business_date(dt.date(2026, 12, 3))
    assert excinfo.value.message == (
        "the business date 2026-12-03 is after today 2026-12-02 (Africa/Nairobi): operations cannot be "
        "dated in the future; leave the date out for today, or give today's or an earlier date"
    )


@override_settings(TIME_ZONE="UTC")
def test_in_utc_the_same_moment_is_still_the_day_before():
    with mock.patch("django.utils.timezone.now", return_value=LATE_EVENING_UTC):
        assert institution_today() == dt.date(2026, 12, 1)
        with pytest.raises(BusinessError, match="after today 2026-12-01 \\(UTC\\)"):
            business_date(dt.date(2026, 12, 2))


@override_settings(TIME_ZONE="Africa/Nairobi")
def test_a_deposit_at_half_past_one_in_nairobi_is_dated_that_day(customer, make_account):
    from savings.services import account_deposit

    account = make_account()
    with mock.patch("django.utils.timezone.now", return_value=LATE_EVENING_UTC):
        txn = account_deposit(account=account, amount=D("100.00"), channel="cash")
    assert txn.value_date == dt.date(2026, 12, 2) and txn.posted_at == LATE_EVENING_UTC
    entry = JournalEntry.objects.get(kind="deposit", posted_on=dt.date(2026, 12, 2))
    assert timezone.localdate(entry.posted_at) == entry.posted_on


# --- closing the books -------------------------------------------------------------------------------


def test_period_close_records_who_and_the_trial_balance(w, admin_user):
    from core.actor import acting_as
    from ledger.selectors import trial_balance
    from ledger.services import period_close

    with acting_as(admin_user, "admin"):
        close = period_close(through=CLOSE_THROUGH, note="Q1 review")
    rows = trial_balance(as_of=CLOSE_THROUGH)
    total = sum(r.debit for r in rows)
    assert total > 0
    # the record holds the sums of every line (both sides), not the net trial balance
    from django.db.models import Sum

    from ledger.models import JournalLine

    sums = JournalLine.objects.filter(entry__posted_on__lte=CLOSE_THROUGH).aggregate(d=Sum("debit"),
                                                                                      c=Sum("credit"))
    assert (close.closed_through, close.closed_by, close.note) == (CLOSE_THROUGH, admin_user, "Q1 review")
    assert close.total_debits == close.total_credits == sums["d"] == sums["c"]


def test_period_close_rules(w, refused):
    from ledger.services import period_close

    today = institution_today()
    with refused(f"a period can be closed only once it has ended, and today is {today}") as excinfo:
        period_close(through=today)
    assert excinfo.value.code == "period_not_ended"
    with refused("only once it has ended"):
        period_close(through=today + days(400))
    period_close(through=CLOSE_THROUGH)
    with refused(f"the books are already closed through {CLOSE_THROUGH}; periods close forward only"):
        period_close(through=CLOSE_THROUGH)
    with refused(f"already closed through {CLOSE_THROUGH}"):
        period_close(through=CLOSE_THROUGH - days(1))
    later = period_close(through=CLOSE_THROUGH + days(30))
    assert PeriodClose.objects.first() == later  # the latest close is in force


def test_period_close_refuses_books_that_do_not_balance(w, refused):
    from ledger.services import period_close

    # An unbalanced entry can only exist if the balance trigger was bypassed: simulate that.
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE wants no deferred checks pending
        cur.execute("ALTER TABLE journal_lines DISABLE TRIGGER journal_lines_balanced")
        cur.execute(
            "INSERT INTO journal_lines (entry_id, gl_account_id, debit, credit, created_at, updated_at) "
            "SELECT %s, id, 1.00, 0, now(), now() FROM gl_accounts WHERE code = %s",
            [w.expense.pk, chart.BANK],
        )
        cur.execute("ALTER TABLE journal_lines ENABLE TRIGGER journal_lines_balanced")
    with refused(f"the trial balance through {CLOSE_THROUGH} does not balance"):
        period_close(through=CLOSE_THROUGH)


def _insert_entry(posted_on: dt.date) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO journal_entries (posted_on, posted_at, kind, description, source_type, created_at, "
            "updated_at) VALUES (%s, now(), 'operating_expense', 'raw', '', now(), now())",
            [posted_on],
        )


def test_the_database_refuses_an_entry_in_a_closed_period(w):
    from ledger.services import period_close

    period_close(through=CLOSE_THROUGH)
    for posted_on in (CLOSE_THROUGH, DAY0):
        with pytest.raises(IntegrityError, match=f"the books are closed through {CLOSE_THROUGH}"):
            with transaction.atomic():
                _insert_entry(posted_on)
    with transaction.atomic():
        _insert_entry(CLOSE_THROUGH + days(1))  # the open period takes it
    with pytest.raises(IntegrityError, match="closed through"), transaction.atomic():
        JournalEntry.objects.filter(pk=w.expense.pk).update(description="edited after the close")
    with pytest.raises(IntegrityError, match="closed through"), transaction.atomic():
        JournalEntry.objects.filter(posted_on__gt=CLOSE_THROUGH).update(posted_on=CLOSE_THROUGH)


def test_the_database_lets_entries_in_when_nothing_is_closed(w):
    with transaction.atomic():
        _insert_entry(DAY0 - days(400))


# --- the API and the admin ---------------------------------------------------------------------------


@pytest.fixture
def api(db, make_staff):
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    def client(is_accountant: bool) -> APIClient:
        """An accountant (closes the books: access.policy ledger.close_period), or a plain account."""
        user = (make_staff("accountant").user if is_accountant
                else get_user_model().objects.create_user("partner", password="x"))
        c = APIClient()
        c.force_login(user)
        c.user = user
        return c

    return client


def test_api_closes_the_books_and_says_why_it_refuses(api, w):
    staff = api(True)
    response = staff.post("/api/period-closes/", {"through": CLOSE_THROUGH.isoformat(), "note": "Q1"},
                          format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["closed_through"], body["closed_by"], body["note"]) == (CLOSE_THROUGH.isoformat(),
                                                                         staff.user.pk, "Q1")
    assert body["total_debits"] == body["total_credits"] and body["closed_at"]
    again = staff.post("/api/period-closes/", {"through": CLOSE_THROUGH.isoformat()}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "period_closed"
    assert [c["closed_through"] for c in staff.get("/api/period-closes/").json()["results"]] == [
        CLOSE_THROUGH.isoformat()
    ]
    # an operation dated in the closed period, or in the future, is a 400 with the service's code
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    admin = APIClient()
    admin.force_login(get_user_model().objects.create_superuser("root", password="x"))
    account = f"/api/accounts/{w.account.pk}/deposit/"
    for on, code in ((CLOSE_THROUGH, "period_closed"), (institution_today() + days(1), "future_date")):
        refused = admin.post(account, {"amount": "10.00", "on": on.isoformat()}, format="json")
        assert refused.status_code == 400 and refused.json()["code"] == code, refused.json()


def test_api_close_is_for_accountants_only(api, w):
    response = api(False).post("/api/period-closes/", {"through": CLOSE_THROUGH.isoformat()}, format="json")
    assert response.status_code == 403
    assert not PeriodClose.objects.exists()


def test_the_close_operation_is_the_role_permission_ledger_close_period():
    from api.ledger import PeriodCloseViewSet

    assert PeriodCloseViewSet.create_permission == "ledger.close_period"


def test_admin_closes_the_books(admin_client, w):
    from django.urls import reverse

    changelist = admin_client.get(reverse("admin:ledger_periodclose_changelist"))
    close_url = reverse("admin:ledger_periodclose_close")
    assert close_url.encode() in changelist.content
    assert admin_client.get(close_url).status_code == 200
    future = admin_client.post(close_url, {"through": institution_today().isoformat()}, follow=True)
    assert b"a period can be closed only once it has ended" in future.content
    assert not PeriodClose.objects.exists()
    done = admin_client.post(close_url, {"through": CLOSE_THROUGH.isoformat(), "note": "Q1"})
    assert done.status_code == 302
    close = PeriodClose.objects.get()
    assert (close.closed_through, close.closed_by.username, close.note) == (CLOSE_THROUGH, "admin", "Q1")


def test_admin_close_needs_the_permission(client, w):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    clerk = get_user_model().objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(clerk)
    assert client.post(reverse("admin:ledger_periodclose_close"),
                       {"through": CLOSE_THROUGH.isoformat()}).status_code == 403
    assert not PeriodClose.objects.exists()
