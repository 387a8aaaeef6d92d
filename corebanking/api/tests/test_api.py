"""The REST API: authentication on every endpoint, pagination and filters, PII masked for roles without a
need, operations that call the services (a refusal is a 400 with the service's message and changes
nothing), and an OpenAPI schema that validates without warnings. Who may do what, where, is walked by
access/tests/test_matrix.py."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from core.testing import db_snapshot, unbalanced_entries
from ledger.models import JournalEntry
from loans.models import Loan
from savings.models import SavingsAccount

METHODS = ("get", "post", "put", "patch", "delete")
# The one endpoint open to anonymous clients: signing in (it answers 400 to a POST without credentials).
PUBLIC = {("post", "/api/auth/token/")}


@pytest.fixture
def staff_client(db) -> APIClient:
    """The platform's administrator (a superuser: every permission, every branch). What each role may
    do is walked by access/tests/test_matrix.py."""
    user = get_user_model().objects.create_superuser("admin", password="x")
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def client_as(make_staff):
    """`client_as("teller")`: an API client signed in as a new member of staff of the branch in that
    role."""

    def make(role: str) -> APIClient:
        client = APIClient()
        client.force_login(make_staff(role).user)
        return client

    return make


@pytest.fixture
def user_client(make_staff) -> APIClient:
    """A head-office accountant: reads customers, without customer.view_pii, so PII is masked."""
    client = APIClient()
    client.force_login(make_staff("accountant").user)
    return client


def api_operations() -> list[tuple[str, str]]:
    """(method, path) of every operation in the schema, with path parameters filled in, plus the pages
    that serve the schema itself."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = [(m, re.sub(r"\{[^}]+\}", "1", path)) for path, ops in schema["paths"].items()
             for m in ops if m in METHODS]
    return found + [("get", "/api/"), ("get", "/api/docs/"), ("get", "/api/schema/")]


# --- authentication ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_endpoint_refuses_anonymous_requests():
    operations = api_operations()
    assert len(operations) > 60  # every entity and every operation is in the schema
    client = APIClient()
    allowed = [(m, p, r.status_code) for m, p in operations if (m, p) not in PUBLIC
               and (r := getattr(client, m)(p, {}, format="json")).status_code != 401]
    assert allowed == []


def resolver_urls() -> list[str]:
    """Every named route of api.urls, reversed with 1 for each path parameter (format suffixes aside)."""
    from django.urls import URLPattern, URLResolver, reverse

    from api import urls

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                params = set(pattern.pattern.regex.groupindex)
                if "format" not in params:
                    yield reverse(pattern.name, kwargs=dict.fromkeys(params, "1"))

    return sorted(set(walk(urls.urlpatterns)))


@pytest.mark.django_db
def test_every_route_of_the_resolver_refuses_anonymous_requests():
    """The same, walking the URL resolver, so that no route missing from the schema escapes."""
    urls = resolver_urls()
    assert "/api/loans/1/repayments/" in urls and "/api/docs/" in urls
    client = APIClient()
    allowed = [(m, u, r.status_code) for u in urls for m in ("get", "post") if (m, u) not in PUBLIC
               and (r := getattr(client, m)(u, {}, format="json")).status_code != 401]
    assert allowed == []


@pytest.mark.django_db
def test_schema_and_docs_need_a_login_and_serve_with_one(staff_client):
    assert APIClient().get("/api/schema/").status_code == 401
    assert staff_client.get("/api/schema/").status_code == 200
    assert staff_client.get("/api/docs/").status_code == 200


def test_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


# --- reading -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_is_paginated(staff_client, make_customer):
    for _ in range(53):
        make_customer()
    first = staff_client.get("/api/customers/").json()
    assert first["count"] == 53 and len(first["results"]) == 50 and first["next"]
    second = staff_client.get(first["next"]).json()
    assert len(second["results"]) == 3 and second["next"] is None


@pytest.mark.django_db
def test_list_filters_by_branch_status_customer_and_dates(staff_client, make_customer, make_loan, day0):
    from customers.services import branch_create

    other_branch = branch_create(code="MSA01", name="Mombasa", region="Coast", opened_on=dt.date(2021, 1, 1))
    first, second = make_customer(), make_customer()
    early = make_loan(customer_=first, on=day0)
    late = make_loan(customer_=second, on=day0 + dt.timedelta(days=40))
    applied = make_loan(customer_=second, on=day0, disburse=False)

    def ids(url, **params):
        body = staff_client.get(url, params).json()
        return {row["id"] for row in body["results"]}

    assert ids("/api/loans/", branch=early.branch_id) == {early.pk, late.pk, applied.pk}
    assert ids("/api/loans/", branch=other_branch.pk) == set()
    assert ids("/api/loans/", status="active") == {early.pk, late.pk}
    assert ids("/api/loans/", status="approved") == {applied.pk}
    assert ids("/api/loans/", customer=second.pk) == {late.pk, applied.pk}
    assert ids("/api/loans/", disbursed_on_after=(day0 + dt.timedelta(days=1)).isoformat()) == {late.pk}
    assert ids("/api/loans/", outstanding="true") == {early.pk, late.pk}
    assert ids("/api/installments/", loan=early.pk) == set(early.installments.values_list("pk", flat=True))
    assert ids("/api/customers/", search=first.customer_number) == {first.pk}
    ordered = staff_client.get("/api/loans/", {"ordering": "-disbursed_on", "status": "active"}).json()
    assert [row["id"] for row in ordered["results"]] == [late.pk, early.pk]


@pytest.mark.django_db
def test_amounts_are_strings(staff_client, make_loan):
    loan = make_loan(amount=D("1000.00"))
    body = staff_client.get(f"/api/loans/{loan.pk}/").json()
    assert body["amount_disbursed"] == "1000.00" and body["principal_outstanding"] == "1000.00"


@pytest.mark.django_db
def test_pii_in_full_for_roles_with_a_need_masked_for_others(staff_client, user_client, customer):
    as_staff = staff_client.get(f"/api/customers/{customer.pk}/").json()
    as_user = user_client.get(f"/api/customers/{customer.pk}/").json()
    assert as_staff["national_id"] == customer.national_id and as_staff["phone"] == customer.phone
    assert as_staff["first_name"] == customer.first_name
    assert as_staff["date_of_birth"] == customer.date_of_birth.isoformat()
    assert as_user["national_id"] != customer.national_id
    assert as_user["national_id"].endswith(customer.national_id[-2:])
    assert set(as_user["phone"][:-2]) == {"*"}
    assert set(as_user["last_name"][:-2]) == {"*"} and as_user["date_of_birth"] is None
    assert as_user["customer_number"] == customer.customer_number  # identifies the customer, is not PII


@pytest.mark.django_db
def test_only_roles_seeing_pii_can_search_by_national_id(staff_client, user_client, customer):
    assert staff_client.get("/api/customers/", {"search": customer.national_id}).json()["count"] == 1
    assert user_client.get("/api/customers/", {"search": customer.national_id}).json()["count"] == 0


@pytest.mark.django_db
def test_loan_arrears_endpoint_uses_the_oldest_unpaid_installment(staff_client, make_loan, day0):
    loan = make_loan(term=12, on=day0)
    first_due = loan.installments.order_by("number").first().due_on
    as_of = first_due + dt.timedelta(days=45)  # the first two installments are late; the loan runs a year
    body = staff_client.get(f"/api/loans/{loan.pk}/arrears/", {"as_of": as_of.isoformat()}).json()
    assert body["days_past_due"] == 45 and body["installments_missed"] == 2
    assert body["oldest_due_on"] == first_due.isoformat()


@pytest.mark.django_db
def test_journal_entries_come_with_their_lines(staff_client, make_account):
    account = make_account(balance=D("100.00"))
    entry = JournalEntry.objects.get(kind="deposit", source_type="savings_transactions")
    body = staff_client.get(f"/api/journal-entries/{entry.pk}/").json()
    assert {(line["gl_code"], line["debit"], line["credit"]) for line in body["lines"]} == {
        ("1010", "100.00", "0.00"), ("2000", "0.00", "100.00")}
    assert staff_client.get("/api/savings-transactions/", {"account": account.pk}).json()["count"] == 1


# --- operations --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_deposit_endpoint_posts_through_the_service(staff_client, make_account, day0):
    account = make_account(balance=D("100.00"))
    response = staff_client.post(f"/api/accounts/{account.pk}/deposit/",
                                 {"amount": "250.50", "channel": "mobile_money", "on": day0.isoformat(),
                                  "reference": "MPESA-123"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["amount"] == "250.50" and response.json()["balance_after"] == "350.50"
    account.refresh_from_db()
    assert account.balance == D("350.50")
    assert unbalanced_entries() == []


@pytest.mark.django_db
def test_refused_withdrawal_is_a_400_with_the_message_and_changes_nothing(staff_client, make_account):
    account = make_account(balance=D("100.00"))
    before = db_snapshot()
    response = staff_client.post(f"/api/accounts/{account.pk}/withdraw/", {"amount": "90.00"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "minimum balance" in body["detail"] and body["code"]
    assert db_snapshot() == before


@pytest.mark.django_db
def test_invalid_input_is_a_400_in_the_same_shape(staff_client, make_account):
    account = make_account(balance=D("100.00"))
    before = db_snapshot()
    response = staff_client.post(f"/api/accounts/{account.pk}/deposit/", {"amount": "ten"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "amount" in body["errors"] and "amount" in body["detail"]
    assert db_snapshot() == before


@pytest.mark.django_db
def test_negative_amount_is_refused_by_the_service(staff_client, make_account):
    account = make_account(balance=D("100.00"))
    before = db_snapshot()
    response = staff_client.post(f"/api/accounts/{account.pk}/deposit/", {"amount": "-5.00"}, format="json")
    assert response.status_code == 400 and "positive" in response.json()["detail"]
    assert db_snapshot() == before


@pytest.mark.django_db
def test_operation_on_a_missing_object_is_a_404(staff_client):
    response = staff_client.post("/api/accounts/999999/deposit/", {"amount": "1.00"}, format="json")
    assert response.status_code == 404


@pytest.mark.django_db
def test_loan_life_through_the_api(staff_client, client_as, customer, monthly_product, day0):
    """Applied by one user, approved by a branch manager, disbursed by a teller: maker-checker forbids
    the applicant or the approver to disburse (access/tests/test_maker_checker.py)."""
    response = staff_client.post("/api/loans/", {
        "customer": customer.pk, "product": monthly_product.pk, "amount": "1200.00", "term": 6,
        "purpose": "stock", "on": day0.isoformat()}, format="json")
    assert response.status_code == 201, response.json()
    loan_id = response.json()["id"]
    assert response.json()["status"] == "applied"

    manager, teller = client_as("branch_manager"), client_as("teller")
    response = manager.post(f"/api/loans/{loan_id}/approve/", {"on": day0.isoformat()}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    response = teller.post(f"/api/loans/{loan_id}/disburse/",
                                 {"on": day0.isoformat(), "channel": "mobile_money"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "active"

    response = staff_client.post(f"/api/loans/{loan_id}/repayments/",
                                 {"amount": "100.00", "on": (day0 + dt.timedelta(days=30)).isoformat()},
                                 format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["amount"] == "100.00" and body["allocations"]
    parts = ("penalty_amount", "fee_amount", "interest_amount", "principal_amount")
    assert sum(D(body[part]) for part in parts) == D("100.00")
    assert unbalanced_entries() == []


@pytest.mark.django_db
def test_overpayment_is_refused_and_changes_nothing(staff_client, make_loan):
    loan = make_loan(amount=D("1000.00"))
    before = db_snapshot()
    response = staff_client.post(f"/api/loans/{loan.pk}/repayments/", {"amount": "50000.00"}, format="json")
    assert response.status_code == 400
    assert loan.loan_number in response.json()["detail"]
    assert db_snapshot() == before


@pytest.mark.django_db
def test_repaying_a_loan_not_yet_disbursed_is_refused(staff_client, make_loan):
    loan = make_loan(disburse=False)
    response = staff_client.post(f"/api/loans/{loan.pk}/repayments/", {"amount": "10.00"}, format="json")
    assert response.status_code == 400 and response.json()["detail"]


@pytest.mark.django_db
def test_write_off_endpoint_files_a_request_a_credit_manager_approves(staff_client, client_as, make_loan,
                                                                       day0):
    loan = make_loan()
    response = staff_client.post(f"/api/loans/{loan.pk}/write-off/",
                                 {"reason": "absconded", "on": (day0 + dt.timedelta(days=200)).isoformat()},
                                 format="json")
    assert response.status_code == 202, response.json()
    request = response.json()
    assert request["status"] == "pending" and request["operation"] == "loan.write_off"
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE  # nothing happens until a checker approves
    response = client_as("credit_manager").post(f"/api/approval-requests/{request['id']}/approve/", {},
                                                format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved" and response.json()["result_model"] == "loans.writeoff"
    loan.refresh_from_db()
    assert loan.status == Loan.Status.WRITTEN_OFF and loan.principal_outstanding == 0


@pytest.mark.django_db
def test_customer_registration_and_account_opening(staff_client, branch, officer, savings_product):
    response = staff_client.post("/api/customers/", {
        "first_name": "Akinyi", "last_name": "Odhiambo", "gender": "F", "date_of_birth": "1988-02-29",
        "national_id": "NID-900", "phone": "+254711000900", "branch": branch.pk, "business_sector": "farming",
        "loan_officer": officer.pk}, format="json")
    assert response.status_code == 201, response.json()
    customer = response.json()
    assert customer["customer_number"].startswith("CU")
    response = staff_client.post("/api/accounts/", {"customer": customer["id"],
                                                    "product": savings_product.pk}, format="json")
    assert response.status_code == 201, response.json()
    assert SavingsAccount.objects.get(pk=response.json()["id"]).balance == 0


@pytest.mark.django_db
def test_registering_the_same_national_id_twice_is_refused(staff_client, customer, branch):
    response = staff_client.post("/api/customers/", {
        "first_name": "Copy", "last_name": "Cat", "gender": "M", "date_of_birth": "1980-01-01",
        "national_id": customer.national_id, "phone": "+254700000000", "branch": branch.pk,
        "business_sector": "retail"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "customer Copy Cat refused: the national ID could not be accepted; "
                                         "check it or ask a supervisor", "code": "refused"}


@pytest.mark.django_db
def test_a_national_id_registered_at_the_same_moment_is_the_same_refusal(staff_client, customer, branch,
                                                                          monkeypatch):
    """The service checks, then inserts; a registration committed in between is caught by the unique
    constraint and refused the same way, not a 500 that would tell the ID is taken some other way."""
    from django.db.models import QuerySet

    from customers.models import Customer

    real_exists = QuerySet.exists
    missed = []

    def exists_missing_the_other_registration_once(qs):
        if qs.model is Customer and not missed:
            missed.append(qs)
            return False
        return real_exists(qs)

    monkeypatch.setattr(QuerySet, "exists", exists_missing_the_other_registration_once)
    response = staff_client.post("/api/customers/", {
        "first_name": "Copy", "last_name": "Cat", "gender": "M", "date_of_birth": "1980-01-01",
        "national_id": customer.national_id, "phone": "+254700000000", "branch": branch.pk,
        "business_sector": "retail"}, format="json")
    assert missed and response.status_code == 400
    assert response.json()["code"] == "refused" and "could not be accepted" in response.json()["detail"]


@pytest.mark.django_db
def test_transfer_endpoint(staff_client, make_account, make_customer, day0):
    source = make_account(balance=D("500.00"))
    target = make_account(customer_=make_customer())
    response = staff_client.post("/api/transfers/", {
        "from_account": source.pk, "to_account": target.pk, "amount": "120.00", "on": day0.isoformat()},
        format="json")
    assert response.status_code == 201, response.json()
    target.refresh_from_db()
    assert target.balance == D("120.00")


@pytest.mark.django_db
def test_fixed_deposit_place_and_redeem(staff_client, customer, fd_product, day0):
    response = staff_client.post("/api/investments/", {
        "customer": customer.pk, "product": fd_product.pk, "amount": "5000.00", "on": day0.isoformat()},
        format="json")
    assert response.status_code == 201, response.json()
    investment_id = response.json()["id"]
    response = staff_client.post(f"/api/investments/{investment_id}/redeem/",
                                 {"on": (day0 + dt.timedelta(days=100)).isoformat()}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "withdrawn_early"
    assert unbalanced_entries() == []


@pytest.mark.django_db
def test_placing_below_the_product_minimum_is_refused(staff_client, customer, fd_product):
    before = db_snapshot()
    response = staff_client.post("/api/investments/", {
        "customer": customer.pk, "product": fd_product.pk, "amount": "10.00"}, format="json")
    assert response.status_code == 400 and response.json()["detail"]
    assert db_snapshot() == before


@pytest.mark.django_db
def test_deleted_customers_are_not_listed(staff_client, make_customer):
    from customers.services import customer_delete

    gone = customer_delete(customer=make_customer())
    kept = make_customer()
    ids = {row["id"] for row in staff_client.get("/api/customers/").json()["results"]}
    assert kept.pk in ids and gone.pk not in ids
    assert staff_client.get(f"/api/customers/{gone.pk}/").status_code == 404
