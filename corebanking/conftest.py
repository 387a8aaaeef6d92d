"""Fixtures shared by every app's tests: a branch, its staff, customers, products, and factories that
make accounts, loans and fixed deposits through the services (never by saving models directly), so
every fixture is itself booked the way production data is."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from core.exceptions import BusinessError
from core.testing import DAY0, db_snapshot

D = Decimal

_serial = itertools.count(1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A transactional test (`django_db(transaction=True)`: real commits, for tests of concurrency) ends
    with the database flushed, which also removes what the migrations put in it (the chart of accounts,
    transaction types, role groups). Put that back, so the tests after it (the simulator's, which use
    the database outside a test transaction) find the database as migrate left it."""
    yield
    marker = item.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    from django.db import connection
    from pytest_django.plugin import blocking_manager_key

    contents = getattr(connection, "_test_serialized_contents", None)
    if contents:  # serialized when a test asked for serialized_rollback
        with item.config.stash[blocking_manager_key].unblock():
            connection.creation.deserialize_db_from_string(contents)


@pytest.fixture(autouse=True)
def _no_throttle_history():
    """API throttle counts live in the process's cache: no test inherits another's requests."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def day0() -> dt.date:
    return DAY0


@pytest.fixture
def branch(db):
    from customers.services import branch_create

    return branch_create(
        code="NBO01", name="Nairobi Central", region="Nairobi", opened_on=dt.date(2020, 1, 1)
    )


@pytest.fixture
def make_staff(db, branch):
    from customers.services import staff_create

    def make(role: str = "loan_officer", branch_=None, **kwargs):
        n = next(_serial)
        kwargs.setdefault("username", f"staff{n}")
        kwargs.setdefault("first_name", "Grace")
        kwargs.setdefault("last_name", f"Wanjiru{n}")
        kwargs.setdefault("hired_on", dt.date(2020, 1, 1))
        return staff_create(role=role, branch=branch_ or branch, **kwargs)

    return make


@pytest.fixture
def officer(make_staff):
    return make_staff("loan_officer")


@pytest.fixture
def make_customer(db, branch, officer):
    from customers.services import customer_create

    def make(**kwargs):
        n = next(_serial)
        kwargs.setdefault("first_name", "Amina")
        kwargs.setdefault("last_name", f"Otieno{n}")
        kwargs.setdefault("gender", "F")
        kwargs.setdefault("date_of_birth", dt.date(1990, 5, 17))
        kwargs.setdefault("national_id", f"ID{n:08d}")
        kwargs.setdefault("phone", f"+2547{n:08d}")
        kwargs.setdefault("branch", branch)
        kwargs.setdefault("loan_officer", officer)
        kwargs.setdefault("business_sector", "retail")
        kwargs.setdefault("joined_on", dt.date(2024, 1, 2))
        kwargs.setdefault("kyc_status", "verified")
        return customer_create(**kwargs)

    return make


@pytest.fixture
def customer(make_customer):
    return make_customer()


@pytest.fixture
def savings_product(db):
    from savings.models import SavingsProduct

    return SavingsProduct.objects.create(
        code="VOL",
        name="Voluntary savings",
        kind="voluntary",
        interest_rate=D("0.060000"),
        minimum_balance=D("50.00"),
        monthly_fee=D("1.00"),
        withdrawal_fee=D("2.00"),
    )


@pytest.fixture
def make_account(db, customer, savings_product):
    """A savings account opened on DAY0 (with an opening cash deposit when `balance` is given)."""
    from savings.services import account_deposit, account_open

    def make(balance: Decimal | None = None, customer_=None, product=None, on: dt.date = DAY0):
        account = account_open(customer=customer_ or customer, product=product or savings_product, on=on)
        if balance:
            account_deposit(account=account, amount=balance, channel="cash", on=on)
            account.refresh_from_db()
        return account

    return make


@pytest.fixture
def monthly_product(db):
    """Individual loans, declining balance at 12% a year, monthly; 2% upfront fee; a 5% penalty once
    an installment is more than 3 days late."""
    from loans.models import LoanProduct

    return LoanProduct.objects.create(
        code="IND-M",
        name="Individual monthly",
        lending_type="individual",
        interest_method="declining",
        annual_rate=D("0.120000"),
        frequency="monthly",
        min_term=3,
        max_term=24,
        min_amount=D("100.00"),
        max_amount=D("50000.00"),
        fee_rate=D("0.020000"),
        penalty_rate=D("0.050000"),
        penalty_grace_days=3,
    )


@pytest.fixture
def weekly_group_product(db):
    """Group loans, flat 26% a year, weekly, no fee."""
    from loans.models import LoanProduct

    return LoanProduct.objects.create(
        code="GRP-W",
        name="Group weekly",
        lending_type="group",
        interest_method="flat",
        annual_rate=D("0.260000"),
        frequency="weekly",
        min_term=4,
        max_term=52,
        min_amount=D("50.00"),
        max_amount=D("5000.00"),
    )


@pytest.fixture
def make_loan(db, customer, monthly_product):
    """A loan through the services: applied, approved and (unless `disburse=False`) disbursed in cash
    on `on`."""
    from loans.services import loan_apply, loan_approve, loan_disburse

    def make(
        amount="1000.00",
        term: int = 12,
        product=None,
        customer_=None,
        on: dt.date = DAY0,
        disburse: bool = True,
        **disburse_kwargs,
    ):
        loan = loan_apply(
            customer=customer_ or customer,
            product=product or monthly_product,
            amount=amount,
            term=term,
            purpose="working capital",
            on=on,
        )
        loan_approve(loan=loan, on=on)
        if disburse:
            loan_disburse(loan=loan, on=on, **disburse_kwargs)
        loan.refresh_from_db()
        return loan

    return make


@pytest.fixture
def fd_product(db):
    """12-month fixed deposits at 10% a year, simple, from 1,000.00; early withdrawal forfeits half
    of the accrued earnings."""
    from investments.models import InvestmentProduct

    return InvestmentProduct.objects.create(
        code="FD12",
        name="Fixed deposit 12 months",
        term_months=12,
        annual_rate=D("0.100000"),
        minimum_amount=D("1000.00"),
        compounding="none",
        early_withdrawal_penalty_rate=D("0.500000"),
    )


@pytest.fixture
def refused():
    """`with refused("below the product's minimum balance"): service(...)` — the service raises a
    BusinessError whose message contains the text, and the database is exactly as before."""
    from contextlib import contextmanager

    @contextmanager
    def check(message_part: str):
        before = db_snapshot()
        with pytest.raises(BusinessError) as excinfo:
            yield excinfo
        assert message_part in excinfo.value.message, excinfo.value.message
        assert db_snapshot() == before

    return check
