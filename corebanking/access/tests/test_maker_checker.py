"""Maker-checker: the user who applies for or approves a loan cannot disburse it; write-offs,
restructures, reversals and KYC verification are requests that a different user with a checker role
approves or rejects (API and admin); a refused approval changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from access.models import ApprovalRequest
from access.services import approval_approve, approval_reject, approval_request
from core.actor import acting_as
from core.exceptions import BusinessError
from core.testing import db_snapshot
from loans.models import Loan


@pytest.fixture
def as_role(make_staff):
    """`as_role("teller")` → (user, API client) of a new member of staff of the branch in that role."""

    def make(role: str):
        user = make_staff(role).user
        client = APIClient()
        client.force_authenticate(user)
        return user, client

    return make


@pytest.fixture
def application(customer, monthly_product, day0, as_role):
    officer, client = as_role("loan_officer")
    response = client.post("/api/loans/", {"customer": customer.pk, "product": monthly_product.pk,
                                           "amount": "1000.00", "term": 6, "purpose": "stock",
                                           "on": day0.isoformat()}, format="json")
    assert response.status_code == 201, response.data
    return Loan.objects.get(pk=response.data["id"]), officer


@pytest.mark.django_db
def test_the_applicant_cannot_approve_and_the_approver_cannot_disburse(application, as_role, day0, refused):
    loan, officer = application
    manager, manager_client = as_role("branch_manager")
    with acting_as(officer, "api"), refused("you applied for this loan"):
        from loans.services import loan_approve

        loan_approve(loan=loan, on=day0)
    assert manager_client.post(f"/api/loans/{loan.pk}/approve/", {"on": day0.isoformat()},
                               format="json").status_code == 200
    loan.refresh_from_db()
    assert loan.applied_by == officer and loan.approved_by == manager
    response = manager_client.post(f"/api/loans/{loan.pk}/disburse/", {"on": day0.isoformat()}, format="json")
    assert response.status_code == 400 and "maker-checker" in response.data["detail"]
    _, teller_client = as_role("teller")
    response = teller_client.post(f"/api/loans/{loan.pk}/disburse/", {"on": day0.isoformat()}, format="json")
    assert response.status_code == 200 and response.data["status"] == "active"


@pytest.mark.django_db
def test_a_write_off_waits_for_a_checker_who_is_not_the_maker(make_loan, as_role, day0):
    loan = make_loan()
    _, manager_client = as_role("branch_manager")
    _, other_manager = as_role("branch_manager")
    credit, credit_client = as_role("credit_manager")
    response = manager_client.post(f"/api/loans/{loan.pk}/write-off/", {"reason": "absconded"}, format="json")
    assert response.status_code == 202
    request_id = response.data["id"]
    # a second request for the same loan would be performed twice
    again = manager_client.post(f"/api/loans/{loan.pk}/write-off/", {"reason": "again"}, format="json")
    assert again.status_code == 400 and "already pending" in again.data["detail"]
    # a branch manager does not check write-offs (the credit manager does)
    assert other_manager.post(f"/api/approval-requests/{request_id}/approve/", {},
                              format="json").status_code == 403
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE
    response = credit_client.post(f"/api/approval-requests/{request_id}/approve/", {"note": "file checked"},
                                  format="json")
    assert response.status_code == 200, response.data
    assert response.data["checker"] == credit.username and response.data["status"] == "approved"
    loan.refresh_from_db()
    assert loan.status == Loan.Status.WRITTEN_OFF
    # decided once
    response = credit_client.post(f"/api/approval-requests/{request_id}/reject/", {"note": "no"},
                                  format="json")
    assert response.status_code == 400 and "already approved" in response.data["detail"]


@pytest.mark.django_db
def test_the_maker_cannot_check_their_own_request_even_as_administrator(make_loan, django_user_model):
    loan = make_loan()
    admin = django_user_model.objects.create_superuser("root", password=None)
    client = APIClient()
    client.force_authenticate(admin)
    request_id = client.post(f"/api/loans/{loan.pk}/write-off/", {"reason": "x"}, format="json").data["id"]
    before = db_snapshot()
    response = client.post(f"/api/approval-requests/{request_id}/approve/", {}, format="json")
    assert response.status_code == 400 and "different user" in response.data["detail"]
    assert db_snapshot() == before


@pytest.mark.django_db
def test_the_database_refuses_a_checker_who_is_the_maker(make_loan, make_staff):
    maker, loan = make_staff("branch_manager").user, make_loan()
    with acting_as(maker, "shell"):
        request = approval_request(operation="loan.write_off", target=loan, params={"reason": "x"},
                                   summary="write off")
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalRequest.objects.filter(pk=request.pk).update(status="approved", checker=maker)


@pytest.mark.django_db
def test_rejection_needs_a_reason_and_performs_nothing(make_loan, make_staff):
    loan = make_loan()
    with acting_as(make_staff("loan_officer").user, "shell"):
        request = approval_request(operation="loan.restructure", target=loan,
                                   params={"new_term": 18, "reason": "harvest failed"}, summary="restructure")
    with acting_as(make_staff("branch_manager").user, "shell"):
        with pytest.raises(BusinessError, match="give the reason"):
            approval_reject(request=request, note=" ")
        approval_reject(request=request, note="income does not support it")
    request.refresh_from_db()
    loan.refresh_from_db()
    assert request.status == "rejected" and loan.term == 12 and not loan.restructures.exists()


@pytest.mark.django_db
def test_a_refused_operation_leaves_the_request_pending(make_loan, make_staff, day0):
    from loans.services import loan_write_off

    loan = make_loan()
    with acting_as(make_staff("branch_manager").user, "shell"):
        request = approval_request(operation="loan.write_off", target=loan, params={"reason": "x"},
                                   summary="write off")
    loan_write_off(loan=loan, reason="meanwhile", on=day0 + dt.timedelta(days=100))
    checker = make_staff("credit_manager").user
    before = db_snapshot()
    with acting_as(checker, "shell"), pytest.raises(BusinessError):
        approval_approve(request=request)
    assert db_snapshot() == before
    request.refresh_from_db()
    assert request.status == "pending"


@pytest.mark.django_db
def test_kyc_verification_through_a_request(make_customer, as_role):
    customer = make_customer(kyc_status="pending")
    _, officer_client = as_role("loan_officer")
    _, manager_client = as_role("branch_manager")
    response = officer_client.post(f"/api/customers/{customer.pk}/verify-kyc/", {}, format="json")
    assert response.status_code == 202
    customer.refresh_from_db()
    assert customer.kyc_status == "pending"
    request_id = response.data["id"]
    response = manager_client.post(f"/api/approval-requests/{request_id}/approve/", {}, format="json")
    assert response.status_code == 200, response.data
    customer.refresh_from_db()
    assert customer.kyc_status == "verified"


@pytest.mark.django_db
def test_registering_a_customer_through_the_api_never_skips_kyc(as_role, branch):
    _, client = as_role("loan_officer")
    response = client.post("/api/customers/", {
        "first_name": "A", "last_name": "B", "gender": "F", "date_of_birth": "1990-01-01",
        "national_id": "KYC-1", "phone": "+254700000009", "branch": branch.pk, "business_sector": "retail",
        "kyc_status": "verified"}, format="json")
    assert response.status_code == 201 and response.data["kyc_status"] == "pending"


@pytest.mark.django_db
def test_reversal_of_a_deposit_needs_a_second_user(make_account, as_role):
    account = make_account(balance=D("500.00"))
    deposit = account.transactions.order_by("-id").first()
    _, maker = as_role("branch_manager")
    _, checker = as_role("branch_manager")
    response = maker.post(f"/api/savings-transactions/{deposit.pk}/reverse/", {"reason": "keyed twice"},
                          format="json")
    assert response.status_code == 202
    response = checker.post(f"/api/approval-requests/{response.data['id']}/approve/", {}, format="json")
    assert response.status_code == 200, response.data
    account.refresh_from_db()
    assert account.balance == D("0.00")


@pytest.mark.django_db
def test_admin_write_off_button_files_a_request_and_the_checker_approves_it(client, make_loan, make_staff):
    loan = make_loan()
    client.force_login(make_staff("branch_manager").user)
    url = reverse("admin:loans_loan_operation", args=[loan.pk, "write-off"])
    response = client.post(url, {"reason": "absconded", "on": loan.disbursed_on.isoformat()})
    assert response.status_code == 302
    request = ApprovalRequest.objects.get(target_id=loan.pk)
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE and request.status == "pending"
    client.force_login(make_staff("credit_manager").user)
    page = client.get(reverse("admin:access_approvalrequest_change", args=[request.pk])).content.decode()
    approve = reverse("admin:access_approvalrequest_operation", args=[request.pk, "approve"])
    assert approve in page
    assert client.post(approve, {"note": "ok"}).status_code == 302
    loan.refresh_from_db()
    assert loan.status == Loan.Status.WRITTEN_OFF
