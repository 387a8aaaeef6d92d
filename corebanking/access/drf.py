"""The API side of access.policy: every view names the permission each of its requests needs, one DRF
permission class checks it (by role, then by the object's branch), and one mixin narrows every queryset
to the user's branch. A view that names no permission refuses everyone (fail closed), and the
permission-matrix test (access/tests/test_matrix.py) walks every endpoint, so one cannot slip through.

How a view names its permissions:
- a read-only viewset: `read_permission = "loan.view"` (list, retrieve and its GET actions), and
  `create_permission = "loan.apply"` if it creates through a service (POST on the list);
- an operation view (one POST): `permission = "loan.disburse"`.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

from access.policy import BY_CODE
from access.scope import scope_queryset


def required_permission(view: Any, request: Any) -> str | None:
    """The permission code `request` needs on `view`, or None if the view names none (refused)."""
    action = getattr(view, "action", None)
    if action is None and hasattr(view, "action_map"):  # a viewset asked a method it lacks: readers get 405
        code = getattr(view, "read_permission", None)
    elif action is None:  # an APIView: one operation
        code = getattr(view, "permission", None)
    elif request.method in SAFE_METHODS:
        code = getattr(view, "read_permission", None)
    else:
        code = getattr(view, f"{action}_permission", None)
    assert code is None or code in BY_CODE, f"{type(view).__name__} names unknown permission {code!r}"
    return code


class RolePermission(BasePermission):
    """Allows a request when the user's role holds the view's permission (access.policy), and an object
    when it is in their branch. Anonymous requests get 401 (DRF: not authenticated), others 403."""

    message = "your role does not allow this operation (see docs/permissions.md)"

    def has_permission(self, request: Any, view: Any) -> bool:
        code = required_permission(view, request)
        return code is not None and request.user.has_perm(code)

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        code = required_permission(view, request)
        return code is not None and request.user.has_perm(code, obj)


class BranchScopedMixin:
    """For a viewset or operation view: every queryset it reads is narrowed to the user's branch
    (access.scope), so a row of another branch is absent from lists and a 404 in details."""

    def get_queryset(self) -> Any:
        return scope_queryset(super().get_queryset(), self.request.user)  # type: ignore[misc]

    def scoped(self, queryset: Any) -> Any:
        return scope_queryset(queryset, self.request.user)  # type: ignore[attr-defined]
