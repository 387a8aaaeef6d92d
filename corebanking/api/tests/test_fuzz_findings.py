"""What the API fuzz run (tests/test_api_fuzz.py) found, each kept fixed by a test of its own: query values
Python accepts but PostgreSQL cannot compare (500s), responses that broke the schema (a pending request's
checker is null; a body that is not JSON answered without the error's `code`), and an impossible term
filed for a checker to decide."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from access.models import ApprovalRequest


@pytest.fixture
def admin_client(db) -> APIClient:
    client = APIClient()
    client.force_login(get_user_model().objects.create_superuser("admin", password="x"))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["/api/payments/?amount_min=1E-100000", "/api/payments/?amount_max=1E%2B30",
                                   "/api/accounts/?balance_max=1E-100000"])
def test_an_amount_bound_with_more_digits_than_an_amount_is_invalid_not_a_500(admin_client, query):
    # PostgreSQL: "value overflows numeric format"
    assert admin_client.get(query).status_code == 400


@pytest.mark.django_db
def test_an_amount_bound_in_cents_filters(admin_client, make_account):
    make_account(balance="120.50")
    assert admin_client.get("/api/accounts/?balance_min=120.50").json()["count"] == 1
    assert admin_client.get("/api/accounts/?balance_min=120.51").json()["count"] == 0


@pytest.mark.django_db
def test_a_date_time_offset_postgresql_refuses_is_moved_to_utc(admin_client, make_account):
    make_account(balance="100.00")  # a cash deposit: one payment
    # +17:00 is valid ISO 8601 (Python takes up to ±23:59) but "time zone displacement out of range" for
    # PostgreSQL; the same instant in UTC is 2137-12-02T08:33Z.
    far = admin_client.get("/api/payments/?initiated_at_before=2137-12-03T01:33:24%2B17:00")
    assert far.status_code == 200 and far.json()["count"] == 1
    west = admin_client.get("/api/transfers/?transferred_at_after=2000-01-01T00:00:00-18:00")
    assert west.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["/api/payments/?initiated_at_before=9999-12-31T23:00:00-17:00",
                                   "/api/audit-log/?timestamp_after=0001-01-01T00:00:00%2B17:00"])
def test_an_instant_without_a_utc_equivalent_is_invalid(admin_client, query):
    response = admin_client.get(query)
    assert response.status_code == 400, response.content


@pytest.mark.django_db
def test_a_body_that_is_not_json_is_an_error_with_its_code(admin_client, make_account):
    account = make_account()
    response = admin_client.post(f"/api/accounts/{account.pk}/deposit/", b"\x9d{",
                                 content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": response.json()["detail"], "code": "parse_error"}
    # and the other layers' errors too: not found, permission denied
    assert admin_client.get("/api/loans/999999/").json()["code"] == "not_found"
    assert APIClient().get("/api/loans/").json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_a_pending_requests_checker_is_null_and_the_schema_allows_it(admin_client, make_loan):
    loan = make_loan()
    response = admin_client.post(f"/api/loans/{loan.pk}/write-off/", {"reason": "absconded"}, format="json")
    assert response.status_code == 202 and response.json()["checker"] is None
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["components"]["schemas"]["ApprovalRequest"]["properties"]["checker"]["nullable"] is True


@pytest.mark.django_db
@pytest.mark.parametrize("term", [0, -146740031775725728, 32768])
def test_a_restructure_to_an_impossible_term_is_invalid_and_files_no_request(admin_client, make_loan, term):
    loan = make_loan()
    response = admin_client.post(f"/api/loans/{loan.pk}/restructure/", {"new_term": term, "reason": "x"},
                                 format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert not ApprovalRequest.objects.exists()
