"""Maker-checker: file a request for an operation that needs a second user, and approve or reject it.

A request names the operation (a permission code of access.policy with `checked_by`), the row it acts
on and its input. Approving performs the operation through its service, as the checker, in the same
transaction that marks the request approved; if the service refuses (the loan was repaid meanwhile,
say), nothing changes and the request stays pending for the checker to reject.

The maker and the checker are read from core.actor: the user acting through the API or the admin.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import IntegrityError, transaction
from django.utils import timezone

from access import policy
from access.models import ApprovalRequest
from access.scope import branch_id_of
from core.actor import current_actor
from core.db import lock
from core.exceptions import BusinessError


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _decimal(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _write_off(loan: Any, p: dict) -> Any:
    from loans.services import loan_write_off

    return loan_write_off(loan=loan, reason=p["reason"], on=_date(p.get("on")))


def _restructure(loan: Any, p: dict) -> Any:
    from loans.services import loan_restructure

    return loan_restructure(loan=loan, new_term=int(p["new_term"]), reason=p["reason"],
                            new_rate=_decimal(p.get("new_rate")), on=_date(p.get("on")))


def _kyc_verify(customer: Any, p: dict) -> Any:
    from customers.services import customer_kyc_verify

    return customer_kyc_verify(customer=customer)


def _savings_reverse(txn: Any, p: dict) -> Any:
    from savings.services import account_transaction_reverse

    return account_transaction_reverse(savings_transaction=txn, reason=p["reason"], on=_date(p.get("on")))


def _ledger_reverse(entry: Any, p: dict) -> Any:
    from ledger.services import journal_entry_reverse

    return journal_entry_reverse(entry=entry, reason=p["reason"], on=_date(p.get("on")))


@dataclass(frozen=True)
class Checked:
    """How a checked operation is performed once approved: on which model, by which service call."""

    model: str
    perform: Callable[[Any, dict], Any]


CHECKED: dict[str, Checked] = {
    "loan.write_off": Checked("loans.loan", _write_off),
    "loan.restructure": Checked("loans.loan", _restructure),
    "customer.kyc_verify": Checked("customers.customer", _kyc_verify),
    "savings.reverse": Checked("ledger.savingstransaction", _savings_reverse),
    "ledger.reverse": Checked("ledger.journalentry", _ledger_reverse),
}
assert set(CHECKED) == {p.code for p in policy.PERMISSIONS if p.needs_checker}, \
    "every checked permission of access.policy needs its performer here, and only those"


def _json_value(value: Any) -> Any:
    """Input as JSON that round-trips exactly: amounts and dates as strings, rows as their ids."""
    if isinstance(value, Decimal | dt.date):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    if hasattr(value, "_meta"):
        return value.pk
    return value


def _acting_user(what: str) -> Any:
    user = current_actor().user
    if user is None:
        raise BusinessError(f"{what} refused: maker-checker needs a signed-in user, and none is acting")
    return user


@transaction.atomic
def approval_request(*, operation: str, target: Any, params: dict, summary: str) -> ApprovalRequest:
    """File a request for `operation` on `target` with input `params`, made by the acting user.

    Refuses an operation that is not maker-checked, a target of the wrong kind, and a second pending
    request for the same operation and row."""
    checked = CHECKED.get(operation)
    if checked is None:
        raise BusinessError(f"request refused: {operation} does not go through maker-checker")
    if target._meta.label_lower != checked.model:
        raise BusinessError(f"request refused: {operation} acts on {checked.model}, "
                            f"not {target._meta.label_lower}")
    maker = _acting_user(f"request for {operation}")
    branch_id = branch_id_of(target)
    try:
        with transaction.atomic():
            return ApprovalRequest.objects.create(
                operation=operation, target_model=checked.model, target_id=target.pk, branch_id=branch_id,
                params={k: _json_value(v) for k, v in params.items() if v is not None},
                summary=summary[:200], maker=maker, made_at=timezone.now(),
            )
    except IntegrityError:
        raise BusinessError(
            f"request refused: a {operation} request for {target} is already pending; "
            "approve or reject it first"
        ) from None


def approval_target(request: ApprovalRequest) -> Any:
    model = apps.get_model(request.target_model)
    return model._base_manager.get(pk=request.target_id)


def _decide(request: ApprovalRequest, what: str) -> Any:
    lock(request)
    if request.status != ApprovalRequest.Status.PENDING:
        raise BusinessError(f"{what} refused: request #{request.pk} is already {request.status}")
    checker = _acting_user(what)
    if checker.pk == request.maker_id:
        raise BusinessError(
            f"{what} refused: you made request #{request.pk}; maker-checker needs a different user to decide"
        )
    return checker


@transaction.atomic
def approval_approve(*, request: ApprovalRequest, note: str = "") -> ApprovalRequest:
    """Approve `request` as the acting user and perform its operation; the service's refusal (a
    BusinessError) rolls everything back and leaves the request pending."""
    what = f"approval of request #{request.pk} ({request.operation})"
    checker = _decide(request, what)
    result = CHECKED[request.operation].perform(approval_target(request), request.params)
    request.status, request.checker, request.checked_at, request.note = (
        ApprovalRequest.Status.APPROVED, checker, timezone.now(), note[:200])
    if result is not None and hasattr(result, "_meta"):
        request.result_model, request.result_id = result._meta.label_lower, result.pk
    request.save()
    return request


@transaction.atomic
def approval_reject(*, request: ApprovalRequest, note: str) -> ApprovalRequest:
    """Reject `request` as the acting user, with the reason; nothing is performed."""
    what = f"rejection of request #{request.pk} ({request.operation})"
    if not note.strip():
        raise BusinessError(f"{what} refused: give the reason for the maker")
    checker = _decide(request, what)
    request.status, request.checker, request.checked_at, request.note = (
        ApprovalRequest.Status.REJECTED, checker, timezone.now(), note[:200])
    request.save()
    return request
