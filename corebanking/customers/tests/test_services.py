"""Branch, staff, customer and group services; soft deletion."""

import datetime as dt
from decimal import Decimal as D

import pytest

from core.testing import DAY0
from customers.models import Customer, GroupMembership
from customers.services import (
    branch_create,
    customer_create,
    customer_delete,
    group_create,
    group_member_add,
    group_member_remove,
    staff_create,
)
from savings.services import account_close

pytestmark = pytest.mark.django_db


def test_branch_and_staff(branch, refused):
    with refused("branch NBO01 refused: the code is already used"):
        branch_create(code="NBO01", name="Again", region="Nairobi", opened_on=DAY0)
    teller = staff_create(
        username="tina", first_name="Tina", last_name="Mwangi", role="teller", branch=branch
    )
    assert teller.employee_number == f"E{teller.pk:06d}" and teller.user.is_staff
    assert not teller.user.has_usable_password()
    with refused("the username is already used"):
        staff_create(username="tina", first_name="T", last_name="M", role="teller", branch=branch)
    with refused("unknown role 'cashier'"):
        staff_create(username="tom", first_name="T", last_name="M", role="cashier", branch=branch)


def test_customer_create(make_customer, branch, officer, make_staff, refused):
    customer = make_customer(national_id="27182818")
    assert customer.customer_number == f"CU{customer.pk:08d}"
    assert (customer.kyc_status, customer.status, customer.loan_officer) == ("verified", "active", officer)
    with refused("the national ID could not be accepted; check it or ask a supervisor") as refusal:
        make_customer(national_id="27182818")
    # Neither whose it is nor the ID itself, and the code of any refusal.
    assert customer.customer_number not in refusal.value.message and "27182818" not in refusal.value.message
    assert refusal.value.code == "refused"
    with refused("under 18 on 2024-01-02"):
        make_customer(date_of_birth=dt.date(2006, 1, 3))
    other_branch = branch_create(code="KSM01", name="Kisumu", region="Nyanza", opened_on=DAY0)
    with refused("works at another branch than KSM01"):
        make_customer(branch=other_branch)
    teller = make_staff("teller")
    with refused("is a teller, not a loan officer"):
        make_customer(loan_officer=teller)
    with refused("unknown gender 'X'"):
        make_customer(gender="X")


def test_soft_deleted_customers_are_hidden_but_kept(customer, make_account, refused):
    account = make_account(D("100.00"))
    with refused(f"savings account {account.account_number} is not closed"):
        customer_delete(customer=customer)
    account_close(account=account, on=DAY0)
    customer_delete(customer=customer, on=DAY0)
    assert not Customer.objects.filter(pk=customer.pk).exists()
    kept = Customer.all_objects.get(pk=customer.pk)
    assert kept.deleted_at is not None and kept.status == "exited"
    with refused("already deleted"):
        customer_delete(customer=customer)


def test_customer_with_an_outstanding_loan_is_not_deleted(customer, make_loan, refused):
    loan = make_loan()
    with refused(f"loan {loan.loan_number} is still outstanding"):
        customer_delete(customer=customer)


def test_groups_and_membership(branch, officer, make_customer, refused):
    group = group_create(name="Umoja", branch=branch, loan_officer=officer, meeting_day=3, formed_on=DAY0)
    assert group.code == f"GR{group.pk:06d}"
    a, b = make_customer(), make_customer()
    group_member_add(group=group, customer=a, role="leader", on=DAY0)
    with refused(f"already a member of group {group.code}"):
        group_member_add(group=group, customer=a, on=DAY0)
    group_member_add(group=group, customer=b, on=DAY0)
    with refused("unknown meeting day 6"):
        group_create(name="Sunday", branch=branch, loan_officer=officer, meeting_day=6)
    membership = group_member_remove(group=group, customer=b, on=DAY0 + dt.timedelta(days=30))
    assert membership.left_on == DAY0 + dt.timedelta(days=30)
    with refused("the customer is not a member"):
        group_member_remove(group=group, customer=b, on=DAY0)
    group_member_add(group=group, customer=b, on=DAY0 + dt.timedelta(days=60))  # may rejoin
    assert GroupMembership.objects.filter(group=group, customer=b).count() == 2


def test_member_with_a_group_loan_cannot_leave(branch, officer, customer, weekly_group_product, refused):
    from loans.services import loan_apply, loan_approve, loan_disburse

    group = group_create(name="Umoja", branch=branch, loan_officer=officer, meeting_day=3, formed_on=DAY0)
    group_member_add(group=group, customer=customer, on=DAY0)
    loan = loan_apply(
        customer=customer,
        product=weekly_group_product,
        group=group,
        amount=D("200.00"),
        term=4,
        purpose="x",
        on=DAY0,
    )
    loan_approve(loan=loan, on=DAY0)
    loan_disburse(loan=loan, on=DAY0)
    with refused("under the group's guarantee is outstanding"):
        group_member_remove(group=group, customer=customer, on=DAY0)


def test_deleting_ends_group_memberships(branch, officer, customer):
    group = group_create(name="Umoja", branch=branch, loan_officer=officer, meeting_day=3, formed_on=DAY0)
    group_member_add(group=group, customer=customer, on=DAY0)
    customer_delete(customer=customer, on=DAY0 + dt.timedelta(days=7))
    assert GroupMembership.objects.get(customer=customer).left_on == DAY0 + dt.timedelta(days=7)


def test_direct_customer_create_without_officer(branch):
    customer = customer_create(
        first_name="Ali",
        last_name="Hassan",
        gender="M",
        date_of_birth=dt.date(1980, 1, 1),
        national_id="31415926",
        phone="+254711000000",
        branch=branch,
        business_sector="farming",
        joined_on=DAY0,
    )
    assert customer.loan_officer is None and customer.kyc_status == "pending"
