"""The staff admin of loans: every page renders; a loan's page shows its schedule, repayments and their
allocations, collateral and arrears (from loans.selectors); the operations call the services and show
a refusal as an error message, leaving the database unchanged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from core.admin_testing import admin_url, assert_admin_pages_render, build_world, registered_models
from core.testing import db_snapshot
from loans import selectors
from loans.models import Loan


@pytest.fixture
def world(branch, officer, make_customer, make_account, make_loan, fd_product, day0):
    return build_world(branch=branch, officer=officer, make_customer=make_customer, make_account=make_account,
                       make_loan=make_loan, fd_product=fd_product, day0=day0)


@pytest.mark.django_db
@pytest.mark.parametrize("model", registered_models("loans"), ids=lambda m: m.__name__)
def test_admin_pages_render(admin_client, world, model):
    assert_admin_pages_render(admin_client, model)


@pytest.mark.django_db
def test_loan_page_shows_schedule_repayments_collateral_and_arrears(admin_client, world):
    loan = world.loan
    response = admin_client.get(admin_url(Loan, "change", loan.pk))
    assert response.status_code == 200
    page = response.content.decode()
    # the schedule: one row per installment, with its state
    formsets = response.context["inline_admin_formsets"]
    schedule = next(f for f in formsets if f.opts.verbose_name_plural == "schedule")
    assert len(list(schedule)) == loan.installments.count() == loan.term
    assert "overdue" in page  # the schedule started in 2025: its installments are late today
    # repayments and their allocation to installments
    assert "120.00" in page and "Television" in page
    assert world.repayment.allocations.exists()
    # arrears computed by loans.selectors, as of today
    arrears = selectors.loan_arrears_get(loan, as_of=timezone.localdate())
    assert arrears.days_past_due > 0
    assert f"{arrears.days_past_due} (oldest unpaid installment due {arrears.oldest_due_on})" in page
    assert f"{arrears.principal:,.2f}" in page
    assert str(arrears.installments_missed) in page


@pytest.mark.django_db
def test_changelist_shows_days_past_due_and_filters_par30(admin_client, world):
    url = admin_url(Loan, "changelist")
    response = admin_client.get(url, {"arrears": "par30"})
    loans = list(response.context["cl"].result_list)
    assert world.loan in loans and world.application not in loans and world.written_off not in loans
    shown = next(row for row in loans if row.pk == world.loan.pk)
    expected = selectors.loan_days_past_due(world.loan, timezone.localdate())
    assert (timezone.localdate() - shown.oldest_unpaid_due_on).days == expected


@pytest.mark.django_db
def test_par_filters_count_a_loan_more_than_n_days_past_due(admin_client, make_loan):
    """PAR>N is DPD > N (docs/kpis.md, the marts, loans.rules.in_par): a loan exactly 30 days past due is
    in PAR>1 but not yet in PAR>30; one 31 days past due is in PAR>30, not in PAR>90."""
    today = timezone.localdate()
    loans = {}
    for dpd in (1, 30, 31):
        loan = make_loan()
        for inst in loan.installments.all():  # the oldest unpaid installment due `dpd` days ago
            inst.due_on = today - dt.timedelta(days=dpd) + dt.timedelta(days=31 * (inst.number - 1))
            inst.save(update_fields=["due_on"])
        assert selectors.loan_days_past_due(loan, today) == dpd
        loans[dpd] = loan.pk

    def shown(value: str) -> set[int]:
        response = admin_client.get(admin_url(Loan, "changelist"), {"arrears": value})
        return {row.pk for row in response.context["cl"].result_list} & set(loans.values())

    assert shown("par1") == {loans[30], loans[31]}  # at DPD 1 a loan is overdue, not in PAR>1
    assert shown("par30") == {loans[31]}
    assert shown("par90") == set()
    page = admin_client.get(admin_url(Loan, "changelist")).content.decode()
    assert "PAR&gt;1" in page and "PAR&gt;30" in page and "PAR&gt;90" in page


@pytest.mark.django_db
def test_changelist_filters_by_branch_officer_and_status(admin_client, world, branch, officer):
    response = admin_client.get(admin_url(Loan, "changelist"), {
        "branch__id__exact": branch.pk, "officer__id__exact": officer.pk, "status__exact": "applied"})
    assert list(response.context["cl"].result_list) == [world.application]


def _operation_url(loan: Loan, name: str) -> str:
    from django.urls import reverse

    return reverse("admin:loans_loan_operation", args=[loan.pk, name])


@pytest.mark.django_db
def test_approve_and_disburse_buttons_call_the_services(admin_client, client, make_staff, world, day0):
    loan = world.application
    page = admin_client.get(admin_url(Loan, "change", loan.pk)).content.decode()
    assert _operation_url(loan, "approve") in page
    response = admin_client.post(_operation_url(loan, "approve"), {"amount": "", "on": day0.isoformat()})
    assert response.status_code == 302
    client.force_login(make_staff("teller").user)  # not the approver: maker-checker
    page = client.get(admin_url(Loan, "change", loan.pk)).content.decode()
    assert _operation_url(loan, "disburse") in page and _operation_url(loan, "approve") not in page
    response = client.post(_operation_url(loan, "disburse"),
                           {"on": day0.isoformat(), "channel": "mobile_money", "reference": ""})
    assert response.status_code == 302
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE and loan.installments.count() == loan.term


@pytest.mark.django_db
def test_repayment_button_posts_a_repayment(admin_client, world, day0):
    loan = world.loan
    before = loan.repayments.count()
    response = admin_client.post(_operation_url(loan, "repay"), {
        "amount": "50.00", "on": day0.isoformat(), "channel": "cash", "reference": "ADMIN-RP-1"})
    assert response.status_code == 302
    assert loan.repayments.count() == before + 1


@pytest.mark.django_db
def test_refused_operation_shows_the_message_and_changes_nothing(admin_client, world, day0):
    loan = world.loan
    before = db_snapshot()
    response = admin_client.post(_operation_url(loan, "repay"), {
        "amount": "999999.00", "on": day0.isoformat(), "channel": "cash", "reference": ""})
    assert response.status_code == 200  # the form again, with the refusal
    errors = [m.message for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
    assert errors and "refused" in errors[0]
    assert db_snapshot() == before


@pytest.mark.django_db
def test_posted_rows_are_read_only(admin_client, world):
    from loans.models import Repayment

    response = admin_client.get(admin_url(Repayment, "change", world.repayment.pk))
    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    delete = admin_client.post(admin_url(Repayment, "delete", world.repayment.pk), {"post": "yes"})
    assert delete.status_code == 403
    assert Repayment.objects.filter(pk=world.repayment.pk).exists()
    assert world.repayment.amount == D("120.00")


@pytest.mark.django_db
def test_every_operation_form_renders(admin_client, world):
    from django.contrib import admin

    from customers.models import SolidarityGroup
    from investments.models import Investment
    from savings.models import SavingsAccount

    targets = {Loan: world.loan, SavingsAccount: world.account, Investment: world.investment,
               SolidarityGroup: world.group}
    for model, obj in targets.items():
        for op in admin.site._registry[model].operations:
            url = admin_url(model, "operation", obj.pk, op.name)
            response = admin_client.get(url)
            assert response.status_code == 200, url
            assert op.label in response.content.decode()
