"""Writes about the institution's people and places: branches, staff, customers (soft-deleted, never
erased), solidarity groups and their members."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.clock import business_date
from core.db import lock, next_id
from core.exceptions import BusinessError
from customers.models import Branch, Customer, GroupMembership, SolidarityGroup, Staff

ADULT_AGE = 18


def _years_between(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@transaction.atomic
def branch_create(*, code: str, name: str, region: str, opened_on: dt.date | None = None) -> Branch:
    """Open a branch. Refuses a code already used."""
    if Branch.objects.filter(code=code).exists():
        raise BusinessError(f"branch {code} refused: the code is already used")
    return Branch.objects.create(code=code, name=name, region=region, opened_on=business_date(opened_on))


@transaction.atomic
def staff_create(
    *,
    username: str,
    first_name: str,
    last_name: str,
    role: str,
    branch: Branch,
    hired_on: dt.date | None = None,
    employee_number: str | None = None,
    email: str = "",
    password: str | None = None,
) -> Staff:
    """Hire a member of staff: a Django user (with an unusable password unless one is given) and their
    staff record (role, branch), from which their permissions are read (access.policy). Refuses an
    unknown role and a username or employee number already used."""
    if role not in Staff.Role.values:
        raise BusinessError(
            f"staff {username} refused: unknown role {role!r}; expected one of {', '.join(Staff.Role.values)}"
        )
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise BusinessError(f"staff {username} refused: the username is already used")
    if employee_number and Staff.objects.filter(employee_number=employee_number).exists():
        raise BusinessError(f"staff {username} refused: employee number {employee_number} is already used")
    hired_on = business_date(hired_on)  # refused before the user is created
    user = User.objects.create_user(
        username=username,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
        is_staff=True,
    )
    staff_id = next_id(Staff)
    return Staff.objects.create(
        id=staff_id,
        user=user,
        employee_number=employee_number or f"E{staff_id:06d}",
        role=role,
        branch=branch,
        hired_on=hired_on,
    )


NATIONAL_ID_REFUSED = "the national ID could not be accepted; check it or ask a supervisor"


def national_id_refused(who: str) -> BusinessError:
    """The one refusal of a national ID already registered. It names neither the holder nor the ID and
    has the code of every other refusal: a clerk (or an API client) must not learn from it whose ID it
    is, nor use registration to probe whether someone is a customer; a supervisor looks it up."""
    return BusinessError(f"{who} refused: {NATIONAL_ID_REFUSED}")


@transaction.atomic
def customer_create(
    *,
    first_name: str,
    last_name: str,
    gender: str,
    date_of_birth: dt.date,
    national_id: str,
    phone: str,
    branch: Branch,
    business_sector: str,
    loan_officer: Staff | None = None,
    joined_on: dt.date | None = None,
    kyc_status: str = Customer.KycStatus.PENDING,
    customer_number: str | None = None,
) -> Customer:
    """Register a customer at `branch`. The customer number is CU + the id (unless given).

    Refuses a minor (under 18 on the joining date), a national ID already registered (even to a
    deleted customer), an unknown gender or KYC status, and a loan officer of another branch or
    who is not a loan officer or branch manager."""
    joined_on = business_date(joined_on)
    who = f"customer {first_name} {last_name}"
    if gender not in Customer.Gender.values:
        raise BusinessError(f"{who} refused: unknown gender {gender!r}")
    if kyc_status not in Customer.KycStatus.values:
        raise BusinessError(f"{who} refused: unknown KYC status {kyc_status!r}")
    if _years_between(date_of_birth, joined_on) < ADULT_AGE:
        raise BusinessError(f"{who} refused: born {date_of_birth}, under {ADULT_AGE} on {joined_on}")
    if Customer.all_objects.filter(national_id=national_id).exists():
        raise national_id_refused(who)
    if loan_officer is not None:
        if loan_officer.branch_id != branch.pk:
            raise BusinessError(
                f"{who} refused: loan officer {loan_officer.employee_number} works at another "
                f"branch than {branch.code}"
            )
        if loan_officer.role == Staff.Role.TELLER:
            raise BusinessError(
                f"{who} refused: {loan_officer.employee_number} is a teller, not a loan officer"
            )
    customer_id = next_id(Customer)
    try:
        with transaction.atomic():  # a savepoint: the unique constraint may still refuse, below
            return Customer.objects.create(
                id=customer_id,
                customer_number=customer_number or f"CU{customer_id:08d}",
                first_name=first_name,
                last_name=last_name,
                gender=gender,
                date_of_birth=date_of_birth,
                national_id=national_id,
                phone=phone,
                branch=branch,
                loan_officer=loan_officer,
                kyc_status=kyc_status,
                business_sector=business_sector,
                joined_on=joined_on,
            )
    except IntegrityError:
        # Registered by a concurrent request between the check above and this insert: the same refusal,
        # not a server error (which would tell the client something the message does not).
        if Customer.all_objects.filter(national_id=national_id).exists():
            raise national_id_refused(who) from None
        raise


@transaction.atomic
def customer_kyc_verify(*, customer: Customer) -> Customer:
    """Mark the customer's KYC verified. This is maker-checker's performer (access.services): one user
    asks, a branch manager who is someone else approves, and only then does this run.

    Refuses a customer already verified, deleted or exited."""
    lock(customer)
    who = f"KYC verification of {customer.customer_number}"
    if customer.deleted_at is not None or customer.status == Customer.Status.EXITED:
        raise BusinessError(f"{who} refused: the customer has exited")
    if customer.kyc_status == Customer.KycStatus.VERIFIED:
        raise BusinessError(f"{who} refused: already verified")
    customer.kyc_status = Customer.KycStatus.VERIFIED
    customer.save(update_fields=["kyc_status"])
    return customer


@transaction.atomic
def customer_delete(*, customer: Customer, on: dt.date | None = None) -> Customer:
    """Soft-delete a customer: `deleted_at` is set and the status becomes exited, so `objects` hides the
    row while `all_objects` (and the warehouse) still see it; open group memberships end on `on`.

    Refuses a customer already deleted, or one who still has an outstanding loan, a savings account
    that is not closed, or an active fixed deposit."""
    from investments.models import Investment
    from loans.models import Loan
    from savings.models import SavingsAccount

    lock(customer)
    who = f"deletion of customer {customer.customer_number}"
    if customer.deleted_at is not None:
        raise BusinessError(f"{who} refused: already deleted on {customer.deleted_at:%Y-%m-%d}")
    if loan := Loan.objects.filter(customer=customer, status__in=Loan.OUTSTANDING).first():
        raise BusinessError(f"{who} refused: loan {loan.loan_number} is still outstanding")
    if (
        account := SavingsAccount.objects.filter(customer=customer)
        .exclude(status=SavingsAccount.Status.CLOSED)
        .first()
    ):
        raise BusinessError(f"{who} refused: savings account {account.account_number} is not closed")
    if fd := Investment.objects.filter(customer=customer, status=Investment.Status.ACTIVE).first():
        raise BusinessError(f"{who} refused: fixed deposit {fd.investment_number} is still active")
    on = business_date(on)
    GroupMembership.objects.filter(customer=customer, left_on__isnull=True).update(left_on=on)
    customer.deleted_at = timezone.now()
    customer.status = Customer.Status.EXITED
    customer.save(update_fields=["deleted_at", "status"])
    return customer


@transaction.atomic
def group_create(
    *,
    name: str,
    branch: Branch,
    loan_officer: Staff,
    meeting_day: int,
    formed_on: dt.date | None = None,
    code: str | None = None,
) -> SolidarityGroup:
    """Form a solidarity group at `branch`, run by `loan_officer`. The code is GR + the id unless given.

    Refuses a loan officer of another branch, an unknown meeting day and a code already used."""
    if loan_officer.branch_id != branch.pk:
        raise BusinessError(
            f"group {name} refused: loan officer {loan_officer.employee_number} works at "
            f"another branch than {branch.code}"
        )
    if meeting_day not in SolidarityGroup.MeetingDay.values:
        raise BusinessError(
            f"group {name} refused: unknown meeting day {meeting_day!r} (0 = Monday … 5 = Saturday)"
        )
    if code and SolidarityGroup.objects.filter(code=code).exists():
        raise BusinessError(f"group {name} refused: code {code} is already used")
    formed_on = business_date(formed_on)  # refused before an id is drawn
    group_id = next_id(SolidarityGroup)
    return SolidarityGroup.objects.create(
        id=group_id,
        code=code or f"GR{group_id:06d}",
        name=name,
        branch=branch,
        loan_officer=loan_officer,
        meeting_day=meeting_day,
        formed_on=formed_on,
    )


@transaction.atomic
def group_member_add(
    *,
    group: SolidarityGroup,
    customer: Customer,
    role: str = GroupMembership.Role.MEMBER,
    on: dt.date | None = None,
) -> GroupMembership:
    """Add `customer` to `group` from `on`.

    Refuses a deleted or exited customer, a customer of another branch, and one who is already a
    member of a group (a customer stands in one solidarity group at a time)."""
    who = f"membership of {customer.customer_number} in group {group.code}"
    lock(customer)
    if customer.deleted_at is not None or customer.status == Customer.Status.EXITED:
        raise BusinessError(f"{who} refused: the customer has exited")
    if customer.branch_id != group.branch_id:
        raise BusinessError(f"{who} refused: the customer belongs to another branch than the group")
    if role not in GroupMembership.Role.values:
        raise BusinessError(f"{who} refused: unknown role {role!r}")
    current = (
        GroupMembership.objects.filter(customer=customer, left_on__isnull=True)
        .select_related("group")
        .first()
    )
    if current is not None:
        raise BusinessError(f"{who} refused: the customer is already a member of group {current.group.code}")
    return GroupMembership.objects.create(
        group=group, customer=customer, role=role, joined_on=business_date(on)
    )


@transaction.atomic
def group_member_remove(
    *, group: SolidarityGroup, customer: Customer, on: dt.date | None = None
) -> GroupMembership:
    """End `customer`'s membership of `group` on `on` (the membership row stays, with its left date).

    Refuses a customer who is not a member and one with a loan still outstanding under the group's
    joint liability."""
    from loans.models import Loan

    who = f"removal of {customer.customer_number} from group {group.code}"
    membership = (
        GroupMembership.objects.select_for_update()
        .filter(group=group, customer=customer, left_on__isnull=True)
        .first()
    )
    if membership is None:
        raise BusinessError(f"{who} refused: the customer is not a member")
    if loan := Loan.objects.filter(customer=customer, group=group, status__in=Loan.OUTSTANDING).first():
        raise BusinessError(
            f"{who} refused: loan {loan.loan_number} under the group's guarantee is outstanding"
        )
    on = business_date(on)
    if on < membership.joined_on:
        raise BusinessError(f"{who} refused: {on} is before the customer joined on {membership.joined_on}")
    membership.left_on = on
    membership.save(update_fields=["left_on"])
    return membership
