"""The audit trail: who, when, from where and what, for changes made through the API, the admin, the
simulator and the services; append-only in the database; shown read-only in the admin and the API."""

from __future__ import annotations

import io
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection, transaction
from django.db.utils import DatabaseError
from rest_framework.test import APIClient

from audit.models import AuditLogEntry
from core.actor import acting_as, system_user
from core.admin_testing import admin_url

User = get_user_model()


def entries_of(model_label: str, **filters):
    return AuditLogEntry.objects.filter(object_model=model_label, **filters).order_by("id")


@pytest.fixture
def teller_client(make_staff) -> APIClient:
    user = make_staff("teller", username="teller.audit").user
    client = APIClient(REMOTE_ADDR="10.1.2.3")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def auditor_client(make_staff) -> APIClient:
    """The audit trail is read by auditors (access.policy: audit.view)."""
    client = APIClient()
    client.force_login(make_staff("auditor").user)
    return client


# --- who, when, from where, what ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_deposit_through_the_api_records_the_user_and_source_api(teller_client, make_account, day0):
    account = make_account(balance=D("100.00"))
    start = AuditLogEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = teller_client.post(f"/api/accounts/{account.pk}/deposit/",
                                  {"amount": "250.50", "channel": "cash", "on": day0.isoformat()},
                                  format="json")
    assert response.status_code == 201, response.json()
    new = AuditLogEntry.objects.filter(id__gt=start)
    models = set(new.values_list("object_model", flat=True))
    assert {"ledger.savingstransaction", "ledger.journalentry", "savings.savingsaccount"} <= models
    for entry in new:
        assert (entry.actor_id, entry.actor_username, entry.source, entry.remote_addr) == (
            teller_client.user.pk, "teller.audit", "api", "10.1.2.3"), entry.object_model
        assert entry.timestamp is not None
    movement = new.get(object_model="ledger.savingstransaction")
    assert movement.action == AuditLogEntry.Action.CREATE and movement.changes["amount"][1] == "250.50"
    balance = new.get(object_model="savings.savingsaccount")
    assert balance.action == AuditLogEntry.Action.UPDATE
    assert balance.changes == {"balance": ["100.00", "350.50"]}  # updated_at is not a change


@pytest.mark.django_db
def test_a_deposit_through_the_admin_records_source_admin(admin_client, admin_user, make_account, day0):
    from django.urls import reverse

    account = make_account(balance=D("100.00"))
    url = reverse("admin:savings_savingsaccount_operation", args=[account.pk, "deposit"])
    response = admin_client.post(url, {"amount": "25.00", "on": day0.isoformat(), "channel": "agent",
                                       "reference": ""})
    assert response.status_code == 302
    entry = entries_of("ledger.savingstransaction", object_id__isnull=False).last()
    assert (entry.actor_id, entry.source) == (admin_user.pk, "admin")
    assert entries_of("savings.savingsaccount", object_id=account.pk).last().source == "admin"


@pytest.mark.django_db
def test_services_without_an_actor_are_recorded_as_anonymous_shell(make_account):
    account = make_account(balance=D("10.00"))
    entry = entries_of("savings.savingsaccount", object_id=account.pk).first()
    assert (entry.actor_id, entry.actor_username, entry.source) == (None, "<anonymous shell>", "shell")


@pytest.mark.django_db
def test_a_command_acting_as_a_system_user_is_named(make_customer):
    with acting_as(system_user("nightly"), "command"):
        customer = make_customer()
    entry = entries_of("customers.customer", object_id=customer.pk).get()
    assert (entry.actor_username, entry.source) == ("system.nightly", "command")
    assert entry.changes["last_name"][1] == customer.last_name


@pytest.mark.django_db
def test_ensure_admin_acts_as_its_own_system_user(monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("FINHOUSE_ADMIN_USER", "boss")
    monkeypatch.setenv("FINHOUSE_ADMIN_PASSWORD", "a-long-demo-password")
    call_command("ensure_admin", stdout=io.StringIO())
    boss = User.objects.get(username="boss")
    entry = entries_of("auth.user", object_id=boss.pk, action=AuditLogEntry.Action.CREATE).get()
    assert (entry.actor_username, entry.source) == ("system.ensure_admin", "command")


@pytest.mark.django_db
def test_role_changes_are_recorded_without_password_hashes(db):
    user = User.objects.create_user("clerk", password="first-secret")
    group = Group.objects.create(name="Auditors")
    with acting_as(system_user("hr"), "command"):
        group.permissions.add(Permission.objects.get(codename="view_customer"))
        user.groups.add(group)
        user.is_staff = True
        user.set_password("second-secret")
        user.save()
    role = entries_of("auth.group", object_id=group.pk).last()
    assert role.changes["permissions"]["operation"] == "add" and role.actor_username == "system.hr"
    membership = entries_of("auth.user", object_id=user.pk, changes__has_key="groups").get()
    assert membership.changes["groups"]["objects"] == ["Auditors"]
    update = entries_of("auth.user", object_id=user.pk, action=AuditLogEntry.Action.UPDATE,
                        changes__has_key="is_staff").get()
    assert update.changes["password"] == ["<hidden>", "<hidden>"]
    assert user.password not in str(update.changes)


# --- append-only -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("sql", ["UPDATE audit_log SET actor_username = 'someone else'",
                                 "DELETE FROM audit_log"])
def test_the_database_refuses_to_edit_or_delete_audit_entries(make_customer, sql):
    make_customer()
    assert AuditLogEntry.objects.exists()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql)


@pytest.mark.django_db
def test_deleting_a_user_leaves_the_audit_entries_untouched(teller_client, make_account, day0):
    account = make_account()
    teller_client.post(f"/api/accounts/{account.pk}/deposit/", {"amount": "5.00", "on": day0.isoformat()},
                       format="json")
    user, user_id = teller_client.user, teller_client.user.pk
    ids = list(AuditLogEntry.objects.filter(actor_id=user_id).values_list("id", flat=True))
    assert ids
    with acting_as(system_user("hr"), "command"):
        user.staff.delete()
        user.delete()
    assert list(AuditLogEntry.objects.filter(actor_id=user_id).values_list("id", flat=True)) == ids
    assert entries_of("auth.user", object_id=user_id).last().action == AuditLogEntry.Action.DELETE


# --- the admin and the API ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_shows_the_log_read_only_and_filters_it(admin_client, make_customer):
    make_customer()
    entry = AuditLogEntry.objects.first()
    listing = admin_client.get(admin_url(AuditLogEntry, "changelist"), {"source": "shell"})
    assert listing.status_code == 200 and entry.object_repr in listing.content.decode()
    assert admin_client.get(admin_url(AuditLogEntry, "changelist"),
                            {"object_model": "customers.customer", "actor_username": "<anonymous shell>",
                             "action__exact": "0"}).status_code == 200
    assert admin_client.get(admin_url(AuditLogEntry, "change", entry.pk)).status_code == 200
    assert admin_client.get(admin_url(AuditLogEntry, "add")).status_code == 403
    assert admin_client.post(admin_url(AuditLogEntry, "delete", entry.pk), {"post": "yes"}).status_code == 403
    assert AuditLogEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_api_lists_and_filters_the_log(teller_client, auditor_client, make_account, day0):
    account = make_account()
    teller_client.post(f"/api/accounts/{account.pk}/deposit/", {"amount": "5.00", "on": day0.isoformat()},
                       format="json")
    log = "/api/audit-log/"
    body = auditor_client.get(log, {"source": "api", "model": "ledger.savingstransaction"}).json()
    assert body["count"] == 1
    (row,) = body["results"]
    assert (row["actor_username"], row["source"], row["action"]) == ("teller.audit", "api", "create")
    by_object = auditor_client.get("/api/audit-log/", {"model": "savings.savingsaccount",
                                                      "object_id": account.pk, "action": "update"}).json()
    assert by_object["count"] == 1 and by_object["results"][0]["changes"]["balance"][1] == str(account.balance
                                                                                               + D("5.00"))
    assert auditor_client.get("/api/audit-log/", {"actor": teller_client.user.pk}).json()["count"] >= 3
    assert auditor_client.get("/api/audit-log/", {"source": "admin"}).json()["count"] == 0
    assert auditor_client.get(log, {"timestamp_after": "2999-01-01T00:00:00Z"}).json()["count"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_api_is_read_only(auditor_client, make_customer, method):
    make_customer()
    entry = AuditLogEntry.objects.first()
    path = "/api/audit-log/" if method == "post" else f"/api/audit-log/{entry.pk}/"
    assert getattr(auditor_client, method)(path, {"source": "api"}, format="json").status_code == 405


@pytest.mark.django_db
def test_api_log_is_for_auditors_only(teller_client):
    assert teller_client.get("/api/audit-log/").status_code == 403
