"""Idempotent operations (api.idempotency): a retry with the same Idempotency-Key replays the first result
and posts nothing; the key reused for another request is a 422; two requests with one key at the same
time give one posting and one 409, never a 500; every operation endpoint honours the header."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
from django.db import connection
from django.urls import URLPattern, URLResolver
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from api.models import IdempotencyKey
from core.testing import unbalanced_entries
from ledger.models import SavingsTransaction
from loans.models import Repayment

KEY = "7d0e4f3c-5b1a-4f9e-9a57-2f1e8c6b9d10"


@pytest.fixture
def user(make_staff):
    """A teller of the branch: deposits and withdrawals are theirs (access.policy)."""
    return make_staff("teller", username="manager").user


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def deposit(client: APIClient, account, amount: str = "100.00", key: str | None = KEY, **extra):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(f"/api/accounts/{account.pk}/deposit/", {"amount": amount, **extra}, format="json",
                       headers=headers)


def deposits(account) -> int:
    return SavingsTransaction.objects.filter(account=account, type__code="deposit").count()


# --- every operation ------------------------------------------------------------------------------------


def operation_views() -> list[tuple[str, object]]:
    """(route, handler) of every POST of the API's URL conf: an APIView's post, a viewset's create."""
    from api import urls

    found = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = pattern.callback
                actions = getattr(view, "actions", None)
                if actions is not None:
                    handler = actions.get("post") and getattr(view.cls, actions["post"])
                else:
                    handler = getattr(getattr(view, "view_class", None), "post", None)
                route = (prefix + str(pattern.pattern)).replace("^", "").replace("$", "")
                if handler is not None and "<format>" not in route:
                    found.append((route, handler))

    walk(urls.urlpatterns)
    return found


def test_every_operation_endpoint_is_idempotent():
    views = operation_views()
    routes = {route for route, _ in views}
    assert {"loans/<int:pk>/disburse/", "customers/", "transfers/"} <= routes
    # Signing in is no operation: it posts nothing, and a retry simply signs in again.
    missing = [route for route, handler in views
               if not getattr(handler, "idempotent", False) and route != "auth/token/"]
    assert missing == []
    # 22 operations (5 file maker-checker requests, 1 closes the books) and the token endpoint
    assert len(views) == 23


def test_the_schema_documents_the_header_and_its_refusals_on_every_operation():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    posts = {path: ops["post"] for path, ops in schema["paths"].items()
             if "post" in ops and path != "/api/auth/token/"}
    assert len(posts) >= 16
    for path, op in posts.items():
        headers = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
        assert "Idempotency-Key" in headers, path
        assert {"409", "422"} <= set(op["responses"]), path


# --- replay ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_retry_replays_the_first_result_and_posts_nothing(user, make_account):
    account = make_account()
    client = client_for(user)
    first = deposit(client, account)
    assert first.status_code == 201, first.json()
    assert "Idempotent-Replayed" not in first
    retry = deposit(client, account)
    assert retry.status_code == 201
    assert retry.content == first.content  # the same body, byte for byte
    assert retry["Idempotent-Replayed"] == "true"
    assert deposits(account) == 1
    account.refresh_from_db()
    assert account.balance == D("100.00")
    # Key order and whitespace of the JSON do not make another request.
    again = client.post(f"/api/accounts/{account.pk}/deposit/", data='{ "amount" : "100.00" }',
                        content_type="application/json", headers={"Idempotency-Key": KEY})
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert deposits(account) == 1


@pytest.mark.django_db
def test_without_the_header_each_request_posts(user, make_account):
    account = make_account()
    client = client_for(user)
    assert deposit(client, account, key=None).status_code == 201
    assert deposit(client, account, key=None).status_code == 201
    assert deposits(account) == 2
    assert IdempotencyKey.objects.count() == 0


@pytest.mark.django_db
def test_the_same_key_for_a_different_request_is_a_422(user, make_account):
    account = make_account()
    client = client_for(user)
    assert deposit(client, account, "100.00").status_code == 201
    other = deposit(client, account, "200.00")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    other_path = client.post(f"/api/accounts/{account.pk}/withdraw/", {"amount": "100.00"}, format="json",
                             headers={"Idempotency-Key": KEY})
    assert other_path.status_code == 422
    assert deposits(account) == 1


@pytest.mark.django_db
def test_keys_are_per_user(user, make_staff, make_account):
    account = make_account()
    other = make_staff("teller", username="teller2").user
    assert deposit(client_for(user), account).status_code == 201
    second = deposit(client_for(other), account)
    assert second.status_code == 201 and "Idempotent-Replayed" not in second
    assert deposits(account) == 2


@pytest.mark.django_db
def test_a_business_refusal_is_replayed_but_invalid_input_is_not_stored(user, make_account):
    account = make_account(balance=D("100.00"))
    client = client_for(user)
    withdraw = {"amount": "5000.00"}
    refused = client.post(f"/api/accounts/{account.pk}/withdraw/", withdraw, format="json",
                          headers={"Idempotency-Key": "w-1"})
    assert refused.status_code == 400 and refused.json()["code"] != "invalid"
    replay = client.post(f"/api/accounts/{account.pk}/withdraw/", withdraw, format="json",
                         headers={"Idempotency-Key": "w-1"})
    assert replay.status_code == 400 and replay.content == refused.content
    assert replay["Idempotent-Replayed"] == "true"

    invalid = deposit(client, account, "not-a-number", key="d-1")
    assert invalid.status_code == 400 and invalid.json()["code"] == "invalid"
    fixed = deposit(client, account, "10.00", key="d-1")  # the corrected request may use the same key
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed


@pytest.mark.django_db
def test_a_bad_key_is_refused(user, make_account):
    account = make_account()
    client = client_for(user)
    for bad in ("x" * 256, "tab\there", ""):
        response = deposit(client, account, key=bad)
        assert response.status_code == 400 and response.json()["code"] == "invalid_idempotency_key", bad
    assert deposits(account) == 0


@pytest.mark.django_db
def test_a_loan_repayment_retried_posts_once(user, make_loan, day0):
    loan = make_loan()
    client = client_for(user)
    body = {"amount": "50.00", "on": (day0 + dt.timedelta(days=30)).isoformat()}
    responses = [client.post(f"/api/loans/{loan.pk}/repayments/", body, format="json",
                             headers={"Idempotency-Key": "repay-1"}) for _ in range(3)]
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert len({r.content for r in responses}) == 1
    assert Repayment.objects.filter(loan=loan).count() == 1
    assert unbalanced_entries() == []


@pytest.mark.django_db
def test_expired_keys_start_afresh_and_are_purged(user, make_account, settings):
    from django.core.management import call_command

    account = make_account()
    client = client_for(user)
    assert deposit(client, account).status_code == 201
    IdempotencyKey.objects.update(
        created_at=timezone.now() - dt.timedelta(hours=settings.FINHOUSE_IDEMPOTENCY_HOURS, seconds=1))
    again = deposit(client, account)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert deposits(account) == 2
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(days=2))
    call_command("purge_idempotency_keys")
    assert IdempotencyKey.objects.count() == 0


# --- concurrency: real transactions on separate connections --------------------------------------------


def _in_thread(results: list, fn, *args) -> threading.Thread:
    def run():
        try:
            results.append(fn(*args))
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_identical_requests_post_once_one_409(user, make_account, monkeypatch):
    """The first request is held inside its transaction (in the service) while the second arrives:
    the second finds the key locked and answers 409 at once; the first then commits its one posting."""
    from savings import services

    account = make_account()
    started, release = threading.Event(), threading.Event()
    real_deposit = services.account_deposit

    def held_deposit(**kwargs):
        started.set()
        release.wait(timeout=30)
        return real_deposit(**kwargs)

    monkeypatch.setattr(services, "account_deposit", held_deposit)
    first: list = []
    thread = _in_thread(first, deposit, client_for(user), account)
    assert started.wait(timeout=30)
    second: list = []
    _in_thread(second, deposit, client_for(user), account).join(timeout=30)
    release.set()
    thread.join(timeout=30)

    assert second[0].status_code == 409, second[0].content
    assert second[0].json()["code"] == "idempotency_in_progress"
    assert first[0].status_code == 201, first[0].content
    assert deposits(account) == 1
    # Once the first has committed, the retry gets its result.
    monkeypatch.setattr(services, "account_deposit", real_deposit)
    retry = deposit(client_for(user), account)
    assert retry.status_code == 201 and retry.content == first[0].content


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_burst_of_identical_requests_posts_once_and_never_fails(user, make_account):
    account = make_account()
    n = 8
    barrier = threading.Barrier(n)

    def fire():
        barrier.wait(timeout=30)
        return deposit(client_for(user), account)

    results: list = []
    threads = [_in_thread(results, fire) for _ in range(n)]
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(r.status_code for r in results)
    assert len(statuses) == n and set(statuses) <= {201, 409}, statuses
    created = [r for r in results if r.status_code == 201]
    assert len({r.content for r in created}) == 1  # every 2xx is the one posting (first or replayed)
    assert sum("Idempotent-Replayed" not in r for r in created) == 1
    assert deposits(account) == 1
    assert unbalanced_entries() == []
