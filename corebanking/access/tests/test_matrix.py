"""The permission matrix: every API endpoint × every role (and no role, a leaver, an administrator,
anonymous) × own branch / other branch → the status access.policy implies. Generated: the endpoints
come from the URL conf, the permission each needs from its view, the expectation from the table, so a
new endpoint or a changed grant is covered without editing this file.

One institution with two branches is built once for the module (inside a transaction rolled back at
the end); each case runs in its own savepoint, so an operation that succeeds changes nothing for the
next."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.test import APIClient

from access import policy
from access.services import approval_request
from api import urls as api_urls
from core.actor import acting_as

DAY0 = dt.date(2025, 1, 6)
OWN, OTHER = "own", "other"
_serial = itertools.count(1)


@dataclass
class World:
    users: dict[str, Any]
    objects: dict[tuple[str, str], Any]  # (model label or object kind, branch) -> row
    refs: dict[str, Any]


def _build() -> World:
    from audit.models import AuditLogEntry
    from customers.models import Staff
    from customers.services import (
        branch_create,
        customer_create,
        group_create,
        group_member_add,
        staff_create,
    )
    from investments.models import InvestmentProduct
    from investments.services import investment_accrue, investment_place
    from ledger.models import GLAccount, TransactionType
    from loans.models import Collateral, LoanProduct
    from loans.services import (
        loan_apply,
        loan_approve,
        loan_disburse,
        loan_restructure,
        loan_write_off,
        provision_post,
        recovery_post,
        repayment_post,
    )
    from savings.models import SavingsProduct
    from savings.services import account_deposit, account_open, account_transfer

    refs = {
        "savings_product": SavingsProduct.objects.create(
            code="VOL", name="Voluntary", kind="voluntary", interest_rate=D("0.06"),
            minimum_balance=D("50.00"), monthly_fee=D("0.00"), withdrawal_fee=D("0.00")),
        "loan_product": LoanProduct.objects.create(
            code="IND-M", name="Individual monthly", lending_type="individual", interest_method="declining",
            annual_rate=D("0.12"), frequency="monthly", min_term=3, max_term=24, min_amount=D("100.00"),
            max_amount=D("50000.00"), fee_rate=D("0.00"), penalty_rate=D("0.00"), penalty_grace_days=3),
        "fd_product": InvestmentProduct.objects.create(
            code="FD12", name="FD 12", term_months=12, annual_rate=D("0.10"), minimum_amount=D("1000.00"),
            compounding="none", early_withdrawal_penalty_rate=D("0.50")),
    }
    objects: dict[tuple[str, str], Any] = {}
    users: dict[str, Any] = {}
    for side, code in ((OWN, "OWN01"), (OTHER, "OTH01")):
        branch = branch_create(code=code, name=f"Branch {side}", region="R", opened_on=dt.date(2020, 1, 1))
        officer = staff_create(username=f"lo_{side}", first_name="L", last_name="O", role="loan_officer",
                               branch=branch, hired_on=dt.date(2020, 1, 1))
        customer = customer_create(
            first_name="Amina", last_name=f"Otieno {side}", gender="F", date_of_birth=dt.date(1990, 5, 17),
            national_id=f"ID-{side}", phone="+254700000001", branch=branch, loan_officer=officer,
            business_sector="retail", joined_on=dt.date(2024, 1, 2), kyc_status="verified")
        account = account_open(customer=customer, product=refs["savings_product"], on=DAY0)
        account_deposit(account=account, amount=D("5000.00"), channel="cash", on=DAY0)
        account2 = account_open(customer=customer, product=refs["savings_product"], on=DAY0)
        account_deposit(account=account2, amount=D("1000.00"), channel="cash", on=DAY0)
        transfer = account_transfer(from_account=account, to_account=account2, amount=D("10.00"), on=DAY0)

        def loan(stage: str, customer=customer):
            made = loan_apply(customer=customer, product=refs["loan_product"], amount=D("1000.00"), term=12,
                              purpose="stock", on=DAY0)
            if stage != "applied":
                loan_approve(loan=made, on=DAY0)
            if stage in ("active", "written_off"):
                loan_disburse(loan=made, on=DAY0)
            made.refresh_from_db()
            return made

        applied, approved, active, written_off = (loan(s) for s in ("applied", "approved", "active",
                                                                     "written_off"))
        repayment = repayment_post(loan=active, amount=D("50.00"), on=DAY0 + dt.timedelta(days=20))
        restructured = loan("active")
        restructure = loan_restructure(loan=restructured, new_term=12, reason="hardship",
                                       on=DAY0 + dt.timedelta(days=40))
        write_off = loan_write_off(loan=written_off, reason="absconded", on=DAY0 + dt.timedelta(days=60))
        recovery = recovery_post(loan=written_off, amount=D("20.00"), on=DAY0 + dt.timedelta(days=70))
        investment = investment_place(customer=customer, product=refs["fd_product"], amount=D("1000.00"),
                                      on=DAY0)
        earning = investment_accrue(investment=investment, period_end=DAY0 + dt.timedelta(days=31))
        group = group_create(name=f"Group {side}", branch=branch, loan_officer=officer, meeting_day=0,
                             formed_on=DAY0)
        membership = group_member_add(group=group, customer=customer, on=DAY0)
        collateral = Collateral.objects.create(loan=active, kind="household", description="TV",
                                               value=D("300.00"))
        pending_kyc = customer_create(
            first_name="Baraka", last_name=f"Kamau {side}", gender="M", date_of_birth=dt.date(1985, 3, 1),
            national_id=f"IDP-{side}", phone="+254700000003", branch=branch, loan_officer=officer,
            business_sector="farming", joined_on=dt.date(2024, 1, 2))
        manager = staff_create(username=f"bm_{side}", first_name="B", last_name="M", role="branch_manager",
                               branch=branch, hired_on=dt.date(2020, 1, 1))
        to_write_off = loan("active")
        with acting_as(manager.user, "shell"):
            pending_write_off = approval_request(operation=PENDING_OPERATION, target=to_write_off,
                                                 params={"reason": "absconded"}, summary="write off")
        from ledger.models import JournalEntry, JournalLine, SavingsTransaction
        from loans.models import LoanInstallment, RepaymentAllocation
        from payments.models import Payment

        objects.update({
            ("customers.branch", side): branch,
            ("customers.staff", side): officer,
            ("customers.customer", side): customer,
            ("customer_pending_kyc", side): pending_kyc,
            ("access.approvalrequest", side): pending_write_off,
            ("customers.solidaritygroup", side): group,
            ("customers.groupmembership", side): membership,
            ("savings.savingsaccount", side): account,
            ("account_to_close", side): account2,
            ("ledger.transfer", side): transfer,
            ("ledger.savingstransaction", side): SavingsTransaction.objects.filter(account=account).first(),
            ("ledger.journalentry", side): JournalEntry.objects.filter(branch=branch).first(),
            ("ledger.journalline", side): JournalLine.objects.filter(entry__branch=branch).first(),
            ("payments.payment", side): Payment.objects.filter(branch=branch).first(),
            ("loans.loan", side): active,
            ("loan_applied", side): applied,
            ("loan_approved", side): approved,
            ("loan_written_off", side): written_off,
            ("loans.loaninstallment", side): LoanInstallment.objects.filter(loan=active).first(),
            ("loans.repayment", side): repayment,
            ("loans.repaymentallocation", side):
                RepaymentAllocation.objects.filter(repayment=repayment).first(),
            ("loans.collateral", side): collateral,
            ("loans.restructure", side): restructure,
            ("loans.writeoff", side): write_off,
            ("loans.recovery", side): recovery,
            ("investments.investment", side): investment,
            ("investments.investmentearning", side): earning,
        })
    provision = provision_post(on=DAY0 + dt.timedelta(days=90))
    for side in (OWN, OTHER):  # the institution's reference data and institution-level rows
        objects.update({
            ("savings.savingsproduct", side): refs["savings_product"],
            ("loans.loanproduct", side): refs["loan_product"],
            ("investments.investmentproduct", side): refs["fd_product"],
            ("ledger.transactiontype", side): TransactionType.objects.order_by("id").first(),
            ("ledger.glaccount", side): GLAccount.objects.order_by("id").first(),
            ("loans.loanlossprovision", side): provision,
            ("audit.auditlogentry", side): AuditLogEntry.objects.order_by("-id").first(),
        })
    own_branch = objects[("customers.branch", OWN)]
    for role in policy.ROLE_CODES:
        users[role] = staff_create(username=f"u_{role}", first_name="U", last_name=role, role=role,
                                   branch=own_branch, hired_on=dt.date(2020, 1, 1)).user
    leaver = staff_create(username="u_left", first_name="U", last_name="left", role="branch_manager",
                          branch=own_branch, hired_on=dt.date(2020, 1, 1))
    Staff.objects.filter(pk=leaver.pk).update(left_on=DAY0)
    users["left"] = get_user_model().objects.get(pk=leaver.user_id)  # a fresh user: no cached staff row
    users["no_role"] = get_user_model().objects.create_user("u_partner", password=None)
    users["admin"] = get_user_model().objects.create_superuser("u_admin", password=None)
    from ledger.services import period_close

    first_close = period_close(through=DAY0 - dt.timedelta(days=1), note="before the world opened")
    for side in (OWN, OTHER):
        objects[("ledger.periodclose", side)] = first_close
    return World(users=users, objects=objects, refs=refs)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield _build()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


# --- the endpoints, from the URL conf --------------------------------------------------------------------

# The object an operation acts on (by kind in the world), and a valid request body.
OPERATION_TARGET = {
    "loan.approve": "loan_applied", "loan.reject": "loan_applied", "loan.disburse": "loan_approved",
    "loan.repay": "loans.loan", "loan.restructure": "loans.loan", "loan.write_off": "loans.loan",
    "loan.recover": "loan_written_off", "savings.deposit": "savings.savingsaccount",
    "savings.withdraw": "savings.savingsaccount", "savings.close": "account_to_close",
    "investment.redeem": "investments.investment", "customer.kyc_verify": "customer_pending_kyc",
    "savings.reverse": "ledger.savingstransaction", "ledger.reverse": "ledger.journalentry",
    "approval.view": "access.approvalrequest",
}
# The world's pending maker-checker request, which the approve and reject endpoints decide.
PENDING_OPERATION = "loan.write_off"


def _body(code: str, w: World, side: str) -> dict:
    o = w.objects
    n = next(_serial)
    return {
        "customer.create": {
            "first_name": "New", "last_name": "Customer", "gender": "F", "date_of_birth": "1990-01-01",
            "national_id": f"NEW{n:06d}", "phone": "+254700000002",
            "branch": o[("customers.branch", side)].pk,
            "business_sector": "retail", "joined_on": DAY0.isoformat()},
        "loan.apply": {"customer": o[("customers.customer", side)].pk, "product": w.refs["loan_product"].pk,
                       "amount": "1000.00", "term": 12, "purpose": "stock"},
        "savings.open": {"customer": o[("customers.customer", side)].pk,
                         "product": w.refs["savings_product"].pk},
        "savings.transfer": {"from_account": o[("savings.savingsaccount", side)].pk,
                             "to_account": o[("account_to_close", side)].pk, "amount": "10.00"},
        "investment.place": {"customer": o[("customers.customer", side)].pk,
                             "product": w.refs["fd_product"].pk,
                             "amount": "1000.00"},
        "loan.repay": {"amount": "10.00"},
        "loan.recover": {"amount": "10.00"},
        "loan.restructure": {"new_term": 12, "reason": "hardship"},
        "loan.write_off": {"reason": "deceased"},
        "savings.deposit": {"amount": "10.00"},
        "savings.withdraw": {"amount": "10.00"},
        "ledger.close_period": {"through": (DAY0 + dt.timedelta(days=100)).isoformat()},
        "savings.reverse": {"reason": "keyed twice"},
        "ledger.reverse": {"reason": "wrong account"},
        "approval.view": {"note": "checked the file"},
    }.get(code, {})


@dataclass(frozen=True)
class Endpoint:
    method: str
    kind: str  # list, detail, create, operation
    url: str  # with {pk} for detail and operation
    permission: str
    target: str  # the world's object kind the URL or the body names
    decides: bool = False  # approves or rejects the world's pending request: checker roles decide

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


def endpoints() -> list[Endpoint]:
    found = []
    for prefix, viewset, _ in api_urls.router.registry:
        label = viewset.queryset.model._meta.label_lower
        found.append(Endpoint("GET", "list", f"/api/{prefix}/", viewset.read_permission, label))
        found.append(Endpoint("GET", "detail", f"/api/{prefix}/{{pk}}/", viewset.read_permission, label))
        for extra in viewset.get_extra_actions():
            assert set(extra.mapping) == {"get"}, f"{prefix}.{extra.__name__}: only GET actions are walked"
            found.append(Endpoint("GET", "detail", f"/api/{prefix}/{{pk}}/{extra.url_path}/",
                                  viewset.read_permission, label))
        if getattr(viewset, "create_permission", None):
            found.append(Endpoint("POST", "create", f"/api/{prefix}/", viewset.create_permission, label))
    for pattern in api_urls.operations:
        view = pattern.callback.view_class
        url = "/api/" + str(pattern.pattern).replace("<int:pk>", "{pk}")
        found.append(Endpoint("POST", "operation", url, view.permission, OPERATION_TARGET[view.permission],
                              decides=getattr(view, "decides", False)))
    return found


ENDPOINTS = endpoints()
ACTORS = (*policy.ROLE_CODES, "no_role", "left", "admin")


def test_every_endpoint_of_the_api_is_walked():
    """Every route of the API resolver is one of ENDPOINTS (the schema and its docs aside)."""
    from api.tests.test_api import resolver_urls

    walked = {e.url.replace("{pk}", "1") for e in ENDPOINTS}
    served_elsewhere = ("/api/schema", "/api/docs", "/api/auth/")  # auth: signing in (api/tests/test_auth.py)
    unwalked = [u for u in resolver_urls()
                if u not in walked and not u.startswith(served_elsewhere) and u != "/api/"]
    assert unwalked == []
    assert len(ENDPOINTS) > 70


# Rows every branch reads alike: reference data, and institution-level rows.
INSTITUTION_WIDE = {"customers.branch", "savings.savingsproduct", "loans.loanproduct",
                    "investments.investmentproduct", "ledger.transactiontype", "ledger.glaccount",
                    "loans.loanlossprovision", "audit.auditlogentry", "ledger.periodclose"}


def _expected(actor: str, endpoint: Endpoint, side: str) -> str:
    """'ok', 'forbidden' (403), 'hidden' (404, or absent from a list), or 'invalid' (400: a body naming
    another branch's row). The view's permission is checked first, then the row's branch, then (for a
    maker-checker decision) the checker roles of the request's operation."""
    if actor == "admin":
        return "ok"
    if actor not in policy.BY_CODE[endpoint.permission].roles:
        return "forbidden"
    if side == OTHER and actor not in policy.HEAD_OFFICE_ROLES and endpoint.target not in INSTITUTION_WIDE:
        return "invalid" if endpoint.kind == "create" else "hidden"
    if endpoint.decides and actor not in policy.BY_CODE[PENDING_OPERATION].checked_by:
        return "forbidden"
    return "ok"


CASES = [pytest.param(a, e, s, id=f"{a}-{s}-{e}") for e in ENDPOINTS for a in ACTORS
         for s in ((OWN,) if e.kind == "list" else (OWN, OTHER))]


@pytest.mark.django_db
@pytest.mark.parametrize("actor, endpoint, side", CASES)
def test_permission_matrix(world, actor, endpoint, side):
    client = APIClient()
    client.force_authenticate(world.users[actor])
    target = world.objects[(endpoint.target, side)]
    url = endpoint.url.format(pk=target.pk)
    if endpoint.method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, _body(endpoint.permission, world, side), format="json")
    expected = _expected(actor, endpoint, side)
    detail = getattr(response, "data", None)
    if expected == "forbidden":
        assert response.status_code == 403, detail
    elif expected == "hidden" and endpoint.kind == "list":
        assert response.status_code == 200, detail
        assert world.objects[(endpoint.target, OTHER)].pk not in {r["id"] for r in response.data["results"]}
    elif expected == "hidden":
        assert response.status_code == 404, detail
    elif expected == "invalid":
        assert response.status_code == 400 and response.data["code"] == "invalid", detail
    else:
        needs_checker = policy.BY_CODE[endpoint.permission].needs_checker and endpoint.method == "POST"
        needs_checker = needs_checker and endpoint.kind == "operation"
        assert response.status_code == (202 if needs_checker else response.status_code), detail
        assert 200 <= response.status_code < 300, detail
        if endpoint.kind == "list" and response.data["next"] is None:  # all on one page
            ids = {r["id"] for r in response.data["results"]}
            assert target.pk in ids


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_anonymous_requests_are_refused_with_401(world, endpoint):
    target = world.objects[(endpoint.target, OWN)]
    url = endpoint.url.format(pk=target.pk)
    response = getattr(APIClient(), endpoint.method.lower())(url, {}, format="json")
    assert response.status_code == 401


def test_the_permissions_doc_is_rendered_from_the_table():
    from pathlib import Path

    from django.conf import settings

    doc = Path(settings.ROOT_DIR, "docs", "permissions.md").read_text()
    assert doc == policy.render_markdown(), "stale: manage.py permissions_table > docs/permissions.md"
