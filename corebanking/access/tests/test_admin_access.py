"""The admin follows access.policy like the API: a role without an action's permission is refused it
(403), and sees only its own branch's rows."""

from __future__ import annotations

import pytest
from django.urls import reverse

from access.models import ApprovalRequest
from access.services import approval_request
from audit.models import AuditLogEntry
from core.actor import acting_as
from customers.models import Customer


@pytest.fixture
def signed_in(client, make_staff):
    def as_role(role: str, **kwargs):
        staff = make_staff(role, **kwargs)
        client.force_login(staff.user)
        return staff

    return as_role


@pytest.mark.django_db
def test_a_teller_can_neither_close_the_books_nor_read_the_audit_trail(client, signed_in):
    signed_in("teller")
    assert client.get(reverse("admin:ledger_periodclose_close")).status_code == 403
    assert client.get(reverse("admin:audit_auditlogentry_changelist")).status_code == 403


@pytest.mark.django_db
def test_an_accountant_closes_the_books_and_an_auditor_reads_the_trail(client, signed_in):
    signed_in("accountant")
    assert client.get(reverse("admin:ledger_periodclose_close")).status_code == 200
    signed_in("auditor")
    assert client.get(reverse("admin:audit_auditlogentry_changelist")).status_code == 200


@pytest.mark.django_db
def test_a_role_that_does_not_check_the_operation_cannot_approve_it_in_the_admin(client, signed_in, make_loan,
                                                                                 make_staff):
    loan = make_loan()
    with acting_as(make_staff("branch_manager").user, "shell"):
        request = approval_request(operation="loan.write_off", target=loan, params={"reason": "x"},
                                   summary="write off")
    signed_in("branch_manager")  # write-offs are checked by a credit manager
    approve = reverse("admin:access_approvalrequest_operation", args=[request.pk, "approve"])
    page = client.get(reverse("admin:access_approvalrequest_change", args=[request.pk])).content.decode()
    assert approve not in page
    assert client.post(approve, {"note": "ok"}).status_code == 403
    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.PENDING


@pytest.mark.django_db
def test_the_customer_list_shows_only_the_own_branch(client, signed_in, make_customer, make_staff):
    from customers.services import branch_create

    other = branch_create(code="OTH01", name="Other", region="R")
    officer = make_staff("loan_officer", branch_=other)
    theirs = make_customer(branch=other, loan_officer=officer)
    ours = make_customer()
    signed_in("teller")
    page = client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert ours.customer_number in page and theirs.customer_number not in page
    other_page = reverse("admin:customers_customer_change", args=[theirs.pk])
    assert client.get(other_page).status_code == 302  # "does not exist": back to the admin index
    assert Customer.objects.count() == 2 and AuditLogEntry.objects.exists()
