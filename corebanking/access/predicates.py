"""The table of access.policy as django-rules permissions, so that `user.has_perm(code, obj)` answers for
the API, the admin and the services alike (AUTHENTICATION_BACKENDS has rules' ObjectPermissionBackend).

`has_perm("loan.disburse")` asks "may this user disburse loans at all" (their role);
`has_perm("loan.disburse", loan)` also asks "…this loan" (its branch is theirs, or they are head office).
"""

from __future__ import annotations

import rules

from access import policy
from access.scope import in_scope, staff_of


def _has_role(roles: frozenset[str]) -> rules.Predicate:
    @rules.predicate(name=f"role in {sorted(roles)}")
    def has_role(user) -> bool:
        staff = staff_of(user)
        return staff is not None and staff.role in roles

    return has_role


@rules.predicate
def in_branch(user, obj=None) -> bool:
    return in_scope(user, obj)


def register() -> None:
    """Add one rule per permission, per maker-checker approval, per admin model permission and per admin
    app (its index entry). Idempotent (set_perm), so a reload in tests does not fail."""
    for p in policy.PERMISSIONS:
        rules.set_perm(p.code, _has_role(p.roles) & in_branch)
        if p.needs_checker:
            rules.set_perm(policy.check_code(p.code), _has_role(p.checked_by) & in_branch)
    apps: dict[str, set[str]] = {}
    for model, actions in policy.MODEL_PERMISSIONS.items():
        app, name = model.split(".")
        for action, code in actions.items():
            permission = policy.BY_CODE[code]
            rules.set_perm(f"{app}.{action}_{name}", _has_role(permission.roles) & in_branch)
            apps.setdefault(app, set()).update(permission.roles)
    for app, roles in apps.items():
        rules.set_perm(app, _has_role(frozenset(roles)))
