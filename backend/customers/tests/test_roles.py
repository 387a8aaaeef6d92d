"""Staff log into the admin with the permissions of their role (customers.roles)."""

import pytest
from django.contrib.auth.models import Group
from django.http import HttpRequest

from customers import roles
from customers.services import staff_create


@pytest.fixture
def login(client, branch):
    def as_role(role: str):
        staff_create(username=f"u_{role}", first_name="A", last_name="B", role=role, branch=branch,
                     password="a-long-test-password")
        # django-axes (login lockout) needs a request to count attempts against.
        client.login(request=HttpRequest(), username=f"u_{role}", password="a-long-test-password")
        return client

    return as_role


@pytest.mark.django_db
def test_every_role_has_its_group_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.GROUP_OF_ROLE.values())


@pytest.mark.django_db
def test_branch_manager_sees_customers_and_loans_and_may_add_a_customer(login, customer):
    client = login("branch_manager")
    assert client.get("/admin/customers/customer/").status_code == 200
    assert client.get(f"/admin/customers/customer/{customer.pk}/change/").status_code == 200
    assert client.get("/admin/loans/loan/").status_code == 200
    assert client.get("/admin/customers/customer/add/").status_code == 200


@pytest.mark.django_db
def test_teller_reads_but_does_not_originate_loans_or_edit_the_journal(login):
    client = login("teller")
    assert client.get("/admin/loans/loan/").status_code == 200
    assert client.get("/admin/loans/loan/add/").status_code == 403
    assert client.get("/admin/customers/customer/add/").status_code == 403
    assert client.get("/admin/ledger/journalentry/add/").status_code == 403


@pytest.mark.django_db
def test_bulk_staff_join_their_role_groups(make_staff):
    staff = make_staff(role="loan_officer")
    staff.user.groups.clear()
    assert roles.staff_groups_assign() >= 1
    assert staff.user.groups.filter(name="Loan officers").exists()
