"""The staff admin of customers: pages render, a customer is found by number, name, national ID or
phone, registration goes through the service, deletion is soft and deleted rows sit behind a filter."""

from __future__ import annotations

import datetime as dt

import pytest

from core.admin_testing import admin_url, assert_admin_pages_render, build_world, registered_models
from customers.models import Customer


@pytest.fixture
def world(branch, officer, make_customer, make_account, make_loan, fd_product, day0):
    return build_world(branch=branch, officer=officer, make_customer=make_customer, make_account=make_account,
                       make_loan=make_loan, fd_product=fd_product, day0=day0)


@pytest.mark.django_db
@pytest.mark.parametrize("model", registered_models("customers"), ids=lambda m: m.__name__)
def test_admin_pages_render(admin_client, world, model):
    assert_admin_pages_render(admin_client, model)


@pytest.mark.django_db
def test_customer_page_shows_loans_savings_and_fixed_deposits(admin_client, world):
    response = admin_client.get(admin_url(Customer, "change", world.customer.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert world.loan.loan_number in page
    assert world.account.account_number in page
    assert world.investment.investment_number in page
    assert world.group.code in page


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["customer_number", "last_name", "national_id", "phone"])
def test_search_finds_a_customer(admin_client, world, make_customer, field):
    make_customer(first_name="Other", last_name="Person")  # a customer the search must leave out
    term = getattr(world.customer, field)
    response = admin_client.get(admin_url(Customer, "changelist"), {"q": term})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [world.customer]


@pytest.mark.django_db
def test_changelist_filters_by_branch_officer_and_status(admin_client, world, branch, officer):
    response = admin_client.get(admin_url(Customer, "changelist"),
                                {"branch__id__exact": branch.pk, "loan_officer__id__exact": officer.pk,
                                 "status__exact": "active"})
    assert response.status_code == 200
    assert world.customer in response.context["cl"].result_list


@pytest.mark.django_db
def test_add_customer_registers_through_the_service(admin_client, branch, officer):
    response = admin_client.post(admin_url(Customer, "add"), {
        "first_name": "Njeri", "last_name": "Mwangi", "gender": "F", "date_of_birth": "1991-03-04",
        "business_sector": "tailoring", "national_id": "NID-42", "phone": "+254700000042",
        "kyc_status": "pending", "branch": branch.pk, "loan_officer": officer.pk, "status": "active",
        "joined_on": "2025-01-06",
        **_empty_inlines(),
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    customer = Customer.objects.get(national_id="NID-42")
    assert customer.customer_number.startswith("CU")  # numbered by customers.services.customer_create


@pytest.mark.django_db
def test_add_customer_refused_by_the_service_shows_the_message(admin_client, branch, officer):
    before = Customer.all_objects.count()
    response = admin_client.post(admin_url(Customer, "add"), {
        "first_name": "Too", "last_name": "Young", "gender": "M",
        "date_of_birth": dt.date.today().isoformat(),
        "business_sector": "retail", "national_id": "NID-43", "phone": "+254700000043",
        "kyc_status": "pending", "branch": branch.pk, "loan_officer": officer.pk, "status": "active",
        "joined_on": dt.date.today().isoformat(),
        **_empty_inlines(),
    }, follow=True)
    assert "under 18" in response.content.decode()
    assert Customer.all_objects.count() == before


@pytest.mark.django_db
def test_soft_deleted_customers_are_behind_a_filter(admin_client, make_customer):
    from customers.services import customer_delete

    gone = customer_delete(customer=make_customer(last_name="Gone"))
    kept = make_customer(last_name="Kept")
    url = admin_url(Customer, "changelist")
    assert list(admin_client.get(url).context["cl"].result_list) == [kept]
    assert list(admin_client.get(url, {"deleted": "yes"}).context["cl"].result_list) == [gone]
    assert admin_client.get(admin_url(Customer, "change", gone.pk)).status_code == 200


@pytest.mark.django_db
def test_delete_action_is_soft_and_uses_the_service(admin_client, make_customer):
    customer = make_customer()
    response = admin_client.post(admin_url(Customer, "changelist"),
                                 {"action": "soft_delete_selected", "_selected_action": [customer.pk]},
                                 follow=True)
    assert response.status_code == 200
    customer = Customer.all_objects.get(pk=customer.pk)
    assert customer.deleted_at is not None and customer.status == Customer.Status.EXITED


@pytest.mark.django_db
def test_delete_action_refused_shows_the_service_message(admin_client, world):
    response = admin_client.post(admin_url(Customer, "changelist"),
                                 {"action": "soft_delete_selected", "_selected_action": [world.customer.pk]},
                                 follow=True)
    assert "still outstanding" in response.content.decode()
    assert Customer.objects.filter(pk=world.customer.pk).exists()


def _empty_inlines() -> dict[str, str]:
    """Management forms of the customer page's inlines (all read-only, so empty)."""
    prefixes = ["loans", "savings_accounts", "investments", "memberships"]
    return {f"{p}-{k}": v for p in prefixes for k, v in
            {"TOTAL_FORMS": "0", "INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0", "MAX_NUM_FORMS": "1000"}.items()}


@pytest.mark.django_db
def test_group_members_join_and_leave_through_the_services(admin_client, world, make_customer, day0):
    from django.urls import reverse

    from customers.models import GroupMembership

    newcomer = make_customer()
    url = reverse("admin:customers_solidaritygroup_operation", args=[world.group.pk, "add-member"])
    response = admin_client.post(url, {"customer_number": newcomer.customer_number, "role": "member",
                                       "on": day0.isoformat()})
    assert response.status_code == 302
    assert GroupMembership.objects.filter(group=world.group, customer=newcomer, left_on__isnull=True).exists()
    # a customer stands in one group at a time: adding them again is refused with the service's message
    response = admin_client.post(url, {"customer_number": newcomer.customer_number, "role": "member",
                                       "on": day0.isoformat()}, follow=True)
    assert "already a member" in response.content.decode()
    url = reverse("admin:customers_solidaritygroup_operation", args=[world.group.pk, "remove-member"])
    response = admin_client.post(url, {"customer_number": newcomer.customer_number, "on": day0.isoformat()})
    assert response.status_code == 302
    assert GroupMembership.objects.get(group=world.group, customer=newcomer).left_on == day0


@pytest.mark.django_db
def test_hiring_staff_creates_the_user_through_the_service(admin_client, branch):
    from customers.models import Staff

    response = admin_client.post(admin_url(Staff, "add"), {
        "username": "teller7", "first_name": "Mary", "last_name": "Achieng", "email": "",
        "role": "teller", "branch": branch.pk, "hired_on": "2025-01-06", "employee_number": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    staff = Staff.objects.get(user__username="teller7")
    assert staff.employee_number.startswith("E") and staff.user.is_staff


@pytest.mark.django_db
def test_customer_page_buttons_apply_for_a_loan_open_an_account_and_place_a_deposit(
        admin_client, customer, monthly_product, savings_product, fd_product, day0):
    from django.urls import reverse

    def op(name):
        return reverse("admin:customers_customer_operation", args=[customer.pk, name])

    page = admin_client.get(admin_url(Customer, "change", customer.pk)).content.decode()
    assert op("apply-loan") in page and op("open-account") in page
    for name in ("apply-loan", "open-account", "place-fixed-deposit"):
        assert admin_client.get(op(name)).status_code == 200
    response = admin_client.post(op("apply-loan"), {"product": monthly_product.pk, "amount": "1500.00",
                                                    "term": "6", "purpose": "stock", "on": day0.isoformat()})
    assert response.status_code == 302
    assert customer.loans.get().status == "applied"
    response = admin_client.post(op("open-account"), {"product": savings_product.pk, "on": day0.isoformat()})
    assert response.status_code == 302 and customer.savings_accounts.count() == 1
    response = admin_client.post(op("place-fixed-deposit"), {
        "product": fd_product.pk, "amount": "1500.00", "on": day0.isoformat(), "channel": "cash"})
    assert response.status_code == 302 and customer.investments.count() == 1
    # below the product's minimum: refused by the service, shown, nothing placed
    response = admin_client.post(op("place-fixed-deposit"), {
        "product": fd_product.pk, "amount": "10.00", "on": day0.isoformat(), "channel": "cash"})
    assert response.status_code == 200 and customer.investments.count() == 1
