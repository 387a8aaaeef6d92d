"""Which branch a row belongs to, and which branches a user may see: the one place that narrows what a
member of staff reads (API lists and details, admin changelists) to their own branch.

`BRANCH_PATH` names, for each model, the lookup from a row to its branch. Models not listed are the
institution's reference data (products, transaction types, the chart of accounts) and are not narrowed.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django.utils import timezone

from access.policy import HEAD_OFFICE_ROLES

BRANCH_PATH: dict[str, str] = {
    "customers.branch": "id",
    "customers.staff": "branch",
    "customers.customer": "branch",
    "customers.solidaritygroup": "branch",
    "customers.groupmembership": "group__branch",
    "savings.savingsaccount": "branch",
    "loans.loan": "branch",
    "loans.loaninstallment": "loan__branch",
    "loans.repayment": "loan__branch",
    "loans.repaymentallocation": "repayment__loan__branch",
    "loans.collateral": "loan__branch",
    "loans.restructure": "loan__branch",
    "loans.writeoff": "loan__branch",
    "loans.recovery": "loan__branch",
    "payments.payment": "branch",
    "ledger.savingstransaction": "account__branch",
    "ledger.transfer": "from_account__branch",
    "ledger.journalentry": "branch",
    "ledger.journalline": "entry__branch",
    "investments.investment": "branch",
    "investments.investmentearning": "investment__branch",
    "access.approvalrequest": "branch",
}
# Reference data every role may read whatever its branch (branches are listed so that staff can pick one).
UNSCOPED = {"customers.branch"}


def has_left(staff: Any) -> bool:
    """Whether a member of staff's leaving date has come (a date still to come keeps them on until then).
    The one rule for "left": authentication (api.authentication) refuses them, permissions drop them."""
    return staff is not None and staff.left_on is not None and staff.left_on <= timezone.localdate()


def staff_of(user: Any) -> Any:
    """The user's staff record if they are current staff (active user, not left), else None."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    staff = getattr(user, "staff", None)
    return None if staff is None or has_left(staff) else staff


def sees_every_branch(user: Any) -> bool:
    if user is not None and getattr(user, "is_superuser", False) and user.is_active:
        return True
    staff = staff_of(user)
    return staff is not None and staff.role in HEAD_OFFICE_ROLES


def _label(model: type[Model] | Model) -> str:
    return model._meta.label_lower


def scope_queryset(queryset: QuerySet, user: Any, *, acting: bool = False) -> QuerySet:
    """`queryset` narrowed to the rows `user` may see: all for head office and superusers, their own
    branch's for branch staff, none for anyone else. `acting`: the rows they may act on or name in an
    operation — then even the list of branches narrows to their own (a teller reads every branch's
    name, but registers customers in their own branch only)."""
    label = _label(queryset.model)
    unscoped = label in UNSCOPED and not acting
    if label not in BRANCH_PATH or unscoped or sees_every_branch(user):
        return queryset if (staff_of(user) or sees_every_branch(user)) else queryset.none()
    staff = staff_of(user)
    if staff is None:
        return queryset.none()
    return queryset.filter(**{BRANCH_PATH[label]: staff.branch_id})


def branch_id_of(obj: Model) -> int | None:
    """The id of the branch `obj` belongs to (None for reference data or an institution-level row)."""
    label = _label(obj)
    if label not in BRANCH_PATH:
        return None
    *hops, last = BRANCH_PATH[label].split("__")
    if last == "id":
        return obj.pk
    target = obj
    for hop in hops:
        target = getattr(target, hop)
        if target is None:
            return None
    return getattr(target, f"{last}_id")


def in_scope(user: Any, obj: Model | None) -> bool:
    """Whether `user` may act on `obj` by branch (None: no object, e.g. a list or a create)."""
    if obj is None or sees_every_branch(user):
        return True
    staff = staff_of(user)
    if staff is None:
        return False
    label = _label(obj)
    if label not in BRANCH_PATH or label in UNSCOPED:
        return True
    return branch_id_of(obj) == staff.branch_id


def staff_change_refusal(user: Any, *, role: str, branch_id: int, target: Any = None) -> str | None:
    """Why `user` may not give `role` in branch `branch_id` (to `target`, an existing staff record, or to a
    new hire), or None if they may. Superusers may give any role; a branch manager only the roles of
    policy.GRANTABLE_BY_BRANCH_MANAGER, in their own branch, and never to themselves."""
    from access.policy import GRANTABLE_BY_BRANCH_MANAGER

    if getattr(user, "is_superuser", False):
        return None
    staff = staff_of(user)
    if staff is None or not user.has_perm("staff.manage"):
        return "your role does not manage staff"
    if target is not None and target.pk == staff.pk:
        return "nobody may change their own role or branch; ask another manager or an administrator"
    if role not in GRANTABLE_BY_BRANCH_MANAGER:
        return f"a branch manager may give only the roles {', '.join(sorted(GRANTABLE_BY_BRANCH_MANAGER))}"
    if branch_id != staff.branch_id:
        return "a branch manager may hire and change staff of their own branch only"
    return None
