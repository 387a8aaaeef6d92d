"""The staff admin of savings: every page renders for a superuser."""

from __future__ import annotations

import pytest

from core.admin_testing import assert_admin_pages_render, build_world, registered_models


@pytest.fixture
def world(branch, officer, make_customer, make_account, make_loan, fd_product, day0):
    return build_world(branch=branch, officer=officer, make_customer=make_customer, make_account=make_account,
                       make_loan=make_loan, fd_product=fd_product, day0=day0)


@pytest.mark.django_db
@pytest.mark.parametrize("model", registered_models("savings"), ids=lambda m: m.__name__)
def test_admin_pages_render(admin_client, world, model):
    assert_admin_pages_render(admin_client, model)


def _operation_url(account, name: str) -> str:
    from django.urls import reverse

    return reverse("admin:savings_savingsaccount_operation", args=[account.pk, name])


@pytest.mark.django_db
def test_account_page_shows_balance_with_currency_and_recent_transactions(admin_client, world, settings):
    from core.admin_testing import admin_url
    from savings.models import SavingsAccount

    page = admin_client.get(admin_url(SavingsAccount, "change", world.account.pk)).content.decode()
    assert f"{world.account.balance:,.2f} {settings.FINHOUSE_CURRENCY}" in page
    assert "Transfer out" in page and _operation_url(world.account, "deposit") in page


@pytest.mark.django_db
def test_deposit_button_calls_the_service(admin_client, world, day0):
    from decimal import Decimal as D

    before = world.account.balance
    response = admin_client.post(_operation_url(world.account, "deposit"),
                                 {"amount": "25.00", "on": day0.isoformat(), "channel": "agent",
                                  "reference": ""})
    assert response.status_code == 302
    world.account.refresh_from_db()
    assert world.account.balance == before + D("25.00")


@pytest.mark.django_db
def test_withdrawal_below_the_minimum_is_refused_with_the_message(admin_client, world, day0):
    from django.contrib.messages import get_messages

    from core.testing import db_snapshot

    before = db_snapshot()
    response = admin_client.post(_operation_url(world.account, "withdraw"), {
        "amount": str(world.account.balance), "on": day0.isoformat(), "channel": "cash", "reference": ""})
    assert response.status_code == 200
    errors = [m.message for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    assert errors and "minimum balance" in errors[0]
    assert db_snapshot() == before
