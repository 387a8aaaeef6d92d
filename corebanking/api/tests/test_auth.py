"""Authentication and the settings around it: token and session auth (no Basic), CSRF on session writes,
throttling, login lockout (admin and token endpoint), leavers losing access at once, and production mode
refusing the demo key and passing `check --deploy`."""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from customers.models import Staff

BACKEND = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-test-password-9"


@pytest.fixture
def teller(make_staff):
    staff = make_staff("teller")
    staff.user.set_password(PASSWORD)
    staff.user.save()
    return staff


def obtain_token(username: str, password: str = PASSWORD, client: APIClient | None = None):
    return (client or APIClient()).post("/api/auth/token/", {"username": username, "password": password},
                                        format="json")


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# --- token and session -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_gets_a_token_challenge_not_basic():
    response = APIClient().get("/api/customers/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_http_basic_is_not_accepted(teller):
    basic = base64.b64encode(f"{teller.user.username}:{PASSWORD}".encode()).decode()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {basic}")
    assert client.get("/api/customers/").status_code == 401


@pytest.mark.django_db
def test_token_obtained_with_a_password_authenticates_until_it_expires_or_is_revoked(teller):
    response = obtain_token(teller.user.username)
    assert response.status_code == 200, response.json()
    key = response.json()["token"]
    assert obtain_token(teller.user.username).json()["token"] == key  # one token per user
    client = token_client(key)
    assert client.get("/api/customers/").status_code == 200

    # Expired: refused, and the endpoint then issues a new one.
    Token.objects.filter(key=key).update(
        created=timezone.now() - dt.timedelta(hours=settings.FINHOUSE_API_TOKEN_HOURS, seconds=1))
    expired = client.get("/api/customers/")
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    fresh = obtain_token(teller.user.username).json()["token"]
    assert fresh != key and token_client(fresh).get("/api/customers/").status_code == 200

    # Revoked by its holder.
    assert token_client(fresh).delete("/api/auth/token/").status_code == 204
    assert token_client(fresh).get("/api/customers/").status_code == 401


@pytest.mark.django_db
def test_wrong_password_is_a_400_that_does_not_say_which_part_was_wrong(teller):
    wrong = obtain_token(teller.user.username, "nope")
    unknown = obtain_token("nobody-by-that-name", "nope")
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()


@pytest.mark.django_db
def test_session_writes_need_the_csrf_token_token_writes_do_not(teller, make_account):
    account = make_account()
    url = f"/api/accounts/{account.pk}/deposit/"
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(teller.user)
    refused = session.post(url, {"amount": "10.00"}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert session.get("/api/customers/").status_code == 200  # reads need none

    key = obtain_token(teller.user.username).json()["token"]
    assert token_client(key).post(url, {"amount": "10.00"}, format="json").status_code == 201


# --- throttling ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_over_the_rate_are_throttled(teller, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "2/minute",
                                                               "auth": "2/minute"})
    client = APIClient()
    client.force_authenticate(teller.user)
    assert [client.get("/api/branches/").status_code for _ in range(4)] == [200, 200, 200, 429]
    # The token endpoint has its own, tighter scope (per address for anonymous clients).
    statuses = [obtain_token(teller.user.username, "wrong").status_code for _ in range(3)]
    assert statuses == [400, 400, 429]


# --- login lockout -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_token_endpoint_locks_a_username_out_after_repeated_failures(teller):
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [obtain_token(teller.user.username, "wrong").status_code for _ in range(limit)]
    assert statuses[:-1] == [400] * (limit - 1) and statuses[-1] == 429
    # Locked: even the right password is refused, with a message that says why.
    locked = obtain_token(teller.user.username)
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    assert "too many failed login attempts" in locked.json()["detail"]


@pytest.mark.django_db
def test_admin_login_locks_a_username_out_after_repeated_failures(client, teller):
    teller.user.is_staff = True
    teller.user.save()
    form = {"username": teller.user.username, "password": "wrong", "next": "/admin/"}
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [client.post("/admin/login/", form).status_code for _ in range(limit)]
    assert statuses == [200] * (limit - 1) + [429]  # the form again with its error, then locked
    locked = client.post("/admin/login/", {**form, "password": PASSWORD})
    assert locked.status_code == 429
    assert b"too many failed login attempts" in locked.content
    assert "_auth_user_id" not in client.session


# --- leavers -------------------------------------------------------------------------------------------


def _signed_in_twice(user) -> tuple[APIClient, APIClient]:
    session = APIClient()
    session.force_login(user)
    key = obtain_token(user.username).json()["token"]
    tok = token_client(key)
    assert session.get("/api/branches/").status_code == tok.get("/api/branches/").status_code == 200
    return session, tok


@pytest.mark.django_db
def test_staff_who_leave_lose_session_and_token_at_once(teller):
    session, tok = _signed_in_twice(teller.user)
    teller.left_on = timezone.localdate()
    teller.save()  # as the admin's staff page does
    assert session.get("/api/branches/").status_code == 401
    assert tok.get("/api/branches/").status_code == 401
    teller.user.refresh_from_db()
    assert not teller.user.is_active
    assert not Token.objects.filter(user=teller.user).exists()
    sessions = [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()]
    assert str(teller.user.pk) not in sessions
    assert obtain_token(teller.user.username).status_code == 400  # and cannot sign in again


@pytest.mark.django_db
def test_a_leaving_date_is_enforced_on_every_request_even_without_the_signal(teller):
    session, tok = _signed_in_twice(teller.user)
    Staff.objects.filter(pk=teller.pk).update(left_on=timezone.localdate())  # bulk: no signal
    assert session.get("/api/branches/").status_code == 401
    assert tok.get("/api/branches/").status_code == 401


@pytest.mark.django_db
def test_a_leaving_date_to_come_keeps_access_until_that_day(teller):
    session, tok = _signed_in_twice(teller.user)
    teller.left_on = timezone.localdate() + dt.timedelta(days=30)
    teller.save()
    assert session.get("/api/branches/").status_code == tok.get("/api/branches/").status_code == 200


@pytest.mark.django_db
def test_deactivated_users_lose_session_and_token_at_once(teller):
    user = teller.user
    session, tok = _signed_in_twice(user)
    user.is_active = False
    user.save()
    assert session.get("/api/branches/").status_code == 401
    assert tok.get("/api/branches/").status_code == 401
    assert not Token.objects.filter(user=user).exists()
    user.is_active = True  # reinstated: the old token and cookie stay dead
    user.save()
    assert session.get("/api/branches/").status_code == tok.get("/api/branches/").status_code == 401


# --- production mode -----------------------------------------------------------------------------------


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FINHOUSE_LOCKOUT"))}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BACKEND, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_production_mode_refuses_the_demo_secret_key():
    for key in ("", "insecure-demo-key-set-DJANGO_SECRET_KEY-in-production", "short"):
        result = _manage("check", DJANGO_DEBUG="false", DJANGO_SECRET_KEY=key)
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and "set DJANGO_SECRET_KEY" in result.stderr


def test_check_deploy_is_clean_in_production_mode():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_DEBUG="0",
                     DJANGO_SECRET_KEY=secrets.token_urlsafe(64), DJANGO_ALLOWED_HOSTS="bank.example.org")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_mode_turns_on_https_hsts_and_secure_cookies():
    code = ("from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
            "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
            "s.SECURE_PROXY_SSL_HEADER)")
    # Empty knobs, as .env.example lists them, mean the production defaults.
    prod = _manage("shell", "-c", code, DJANGO_DEBUG="off", DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
                   DJANGO_SECURE_COOKIES="", DJANGO_SECURE_HSTS_SECONDS="", DJANGO_SECURE_PROXY_SSL_HEADER="")
    assert prod.stdout.strip().splitlines()[-1] == (
        "True True True 31536000 True ('HTTP_X_FORWARDED_PROTO', 'https')"), prod.stderr
    demo = _manage("shell", "-c", code)  # the demo: plain http on localhost
    assert demo.stdout.strip().splitlines()[-1] == "False False False 0 False None", demo.stderr
