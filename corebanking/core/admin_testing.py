"""Helpers for the admin tests of every app: each registered admin's pages render for a superuser."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.test import Client
from django.urls import reverse


def admin_url(model: type[models.Model], view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def registered_models(app_label: str) -> list[type[models.Model]]:
    models_ = (m for m in admin.site._registry if m._meta.app_label == app_label)
    return sorted(models_, key=lambda m: m.__name__)


def assert_admin_pages_render(client: Client, model: type[models.Model]) -> None:
    """The changelist of `model` and the change page of its first row (which must exist) answer 200;
    so does the add page when the admin offers one."""
    model_admin = admin.site._registry[model]
    response = client.get(admin_url(model, "changelist"))
    assert response.status_code == 200, f"{model.__name__} changelist: {response.status_code}"
    manager = getattr(model, "all_objects", model._default_manager)
    obj = manager.order_by("pk").first()
    assert obj is not None, f"no {model.__name__} row to open: the test must create one"
    response = client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200, f"{model.__name__} change page: {response.status_code}"
    if model_admin.has_add_permission(_superuser_request(client)):
        response = client.get(admin_url(model, "add"))
        assert response.status_code == 200, f"{model.__name__} add page: {response.status_code}"


def _superuser_request(client: Client):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = _user_of(client)
    return request


def _user_of(client: Client):
    from django.contrib.auth import get_user_model

    user_id = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id)


def build_world(*, branch, officer, make_customer, make_account, make_loan, fd_product, day0):
    """A small institution with at least one row in every table the admin shows, booked through the
    services: savings with a transfer, an active loan with a repayment and collateral (and overdue
    installments, as its schedule started long before today), a restructured loan, a written-off loan
    with a recovery, a provisioning run, an application, a solidarity group, a fixed deposit with
    accrued earnings, and a close of the books (through a day before anything happened). Returns the
    interesting objects by name."""
    import datetime as dt
    from decimal import Decimal as D
    from types import SimpleNamespace

    from customers.services import group_create, group_member_add
    from investments.services import investment_accrue, investment_place
    from ledger.services import period_close
    from loans.models import Collateral
    from loans.services import (
        loan_apply,
        loan_restructure,
        loan_write_off,
        provision_post,
        recovery_post,
        repayment_post,
    )
    from savings.services import account_transfer

    days = dt.timedelta
    customer = make_customer(first_name="Wanjiku", last_name="Kamau")
    account = make_account(balance=D("500.00"), customer_=customer)
    other_account = make_account(customer_=make_customer())
    transfer = account_transfer(from_account=account, to_account=other_account, amount=D("100.00"), on=day0)
    loan = make_loan(customer_=customer)
    repayment = repayment_post(loan=loan, amount=D("120.00"), on=day0 + days(31), channel="mobile_money")
    collateral = Collateral.objects.create(loan=loan, kind="household", description="Television",
                                           value=D("300.00"))
    restructured = make_loan(customer_=make_customer())
    loan_restructure(loan=restructured, new_term=18, reason="drought", on=day0 + days(60))
    written_off = make_loan(customer_=make_customer())
    loan_write_off(loan=written_off, reason="absconded", on=day0 + days(200))
    recovery_post(loan=written_off, amount=D("50.00"), on=day0 + days(210))
    provision = provision_post(on=day0 + days(90))
    application = loan_apply(customer=make_customer(), product=loan.product, amount=D("800.00"), term=6,
                             purpose="stock", on=day0)
    group = group_create(name="Umoja", branch=branch, loan_officer=officer, meeting_day=1, formed_on=day0)
    membership = group_member_add(group=group, customer=customer, on=day0)
    investment = investment_place(customer=customer, product=fd_product, amount=D("2000.00"), on=day0)
    earning = investment_accrue(investment=investment, period_end=day0 + days(31))
    # closed before the branch opened, so it refuses nothing the tests do
    books_closed = period_close(through=dt.date(2019, 12, 31), note="before the first operation")
    for obj in (loan, restructured, written_off, application, account):
        obj.refresh_from_db()
    return SimpleNamespace(
        customer=customer, account=account, other_account=other_account, transfer=transfer, loan=loan,
        repayment=repayment, collateral=collateral, restructured=restructured, written_off=written_off,
        provision=provision, application=application, group=group, membership=membership,
        investment=investment, earning=earning, books_closed=books_closed,
    )
