"""What each staff role may do in the admin: one Django group per role, kept in step with this table
after every migrate, and every member of staff in the group of their role (customers.services.staff_create
for staff hired one by one; `staff_groups_assign` for the simulator's bulk staff).

Reads are open to every role within the platform's apps; writes follow the job: tellers move money on
savings and take repayments, loan officers enrol customers and originate loans, branch managers do both
and approve, restructure and write off. (The admin's operation buttons ask for the change permission of
the object they act on.)"""

from __future__ import annotations

from django.db import connection

APPS = ("customers", "savings", "loans", "payments", "ledger", "investments")

GROUP_OF_ROLE = {
    "teller": "Tellers",
    "loan_officer": "Loan officers",
    "branch_manager": "Branch managers",
}

# role -> (app_label, "add"/"change", model) beyond viewing everything
WRITES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "teller": (
        ("savings", "add", "savingsaccount"), ("savings", "change", "savingsaccount"),
        ("loans", "change", "loan"), ("investments", "change", "investment"),
    ),
    "loan_officer": (
        ("customers", "add", "customer"), ("customers", "change", "customer"),
        ("customers", "add", "solidaritygroup"), ("customers", "change", "solidaritygroup"),
        ("customers", "add", "groupmembership"), ("customers", "change", "groupmembership"),
        ("loans", "add", "loan"), ("loans", "change", "loan"),
        ("loans", "add", "collateral"), ("loans", "change", "collateral"),
        ("savings", "add", "savingsaccount"),
    ),
    "branch_manager": (
        ("customers", "add", "customer"), ("customers", "change", "customer"),
        ("customers", "delete", "customer"),
        ("customers", "add", "staff"), ("customers", "change", "staff"),
        ("customers", "add", "solidaritygroup"), ("customers", "change", "solidaritygroup"),
        ("customers", "add", "groupmembership"), ("customers", "change", "groupmembership"),
        ("savings", "add", "savingsaccount"), ("savings", "change", "savingsaccount"),
        ("loans", "add", "loan"), ("loans", "change", "loan"),
        ("loans", "add", "collateral"), ("loans", "change", "collateral"),
        ("investments", "add", "investment"), ("investments", "change", "investment"),
    ),
}


def sync_role_groups(sender=None, **kwargs) -> None:
    """Create or update the role groups (post_migrate; idempotent). Acts once the permissions of every
    platform app exist, i.e. on the post_migrate of the last of them."""
    from django.contrib.auth.models import Group, Permission

    if sender is not None and sender.label != APPS[-1]:
        return
    views = Permission.objects.filter(content_type__app_label__in=APPS, codename__startswith="view_")
    for role, group_name in GROUP_OF_ROLE.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        writes = [
            Permission.objects.get(content_type__app_label=app, codename=f"{action}_{model}")
            for app, action, model in WRITES[role]
        ]
        group.permissions.set([*views, *writes])


def staff_groups_assign() -> int:
    """Put every member of staff in the group of their role (for staff written in bulk); returns how
    many memberships were added."""
    values = ", ".join(["(%s, %s)"] * len(GROUP_OF_ROLE))
    params = [x for pair in GROUP_OF_ROLE.items() for x in pair]
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO auth_user_groups (user_id, group_id)
            SELECT s.user_id, g.id
            FROM staff s
            JOIN (VALUES {values}) AS r(role, group_name) ON r.role = s.role
            JOIN auth_group g ON g.name = r.group_name
            ON CONFLICT DO NOTHING
            """,
            params,
        )
        return cur.rowcount
