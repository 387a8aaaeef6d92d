"""The people and places of the institution (ingestion group `customers`): branches, staff, customers,
solidarity groups and their memberships. National ID and phone are PII: masked before any mart."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from access.policy import ROLES
from core.models import SoftDeleteModel, TimeStampedModel


class Branch(TimeStampedModel):
    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=100)
    region = models.CharField(max_length=100)
    opened_on = models.DateField()

    class Meta:
        db_table = "branches"
        ordering = ["code"]
        verbose_name_plural = "branches"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Staff(TimeStampedModel):
    # The roles are defined, with what each may do, in the one table of access.policy.
    Role = models.TextChoices("Role", [(r.code.upper(), (r.code, r.label)) for r in ROLES])

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="staff")
    employee_number = models.CharField(max_length=20, unique=True)
    role = models.CharField(max_length=20, choices=Role.choices)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="staff")
    hired_on = models.DateField()
    left_on = models.DateField(null=True, blank=True)

    class Meta:
        db_table = "staff"
        ordering = ["employee_number"]
        verbose_name_plural = "staff"
        constraints = [
            models.CheckConstraint(
                condition=Q(left_on__isnull=True) | Q(left_on__gte=models.F("hired_on")),
                name="staff_left_after_hired",
            )
        ]

    def __str__(self) -> str:
        name = self.user.get_full_name() or self.user.get_username()
        return f"{name} ({self.get_role_display()})"


class Customer(SoftDeleteModel):
    class Gender(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        OTHER = "O", "Other"

    class KycStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DORMANT = "dormant", "Dormant"
        EXITED = "exited", "Exited"

    customer_number = models.CharField(max_length=20, unique=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    gender = models.CharField(max_length=1, choices=Gender.choices)
    date_of_birth = models.DateField()
    national_id = models.CharField(max_length=30, unique=True, help_text="PII")
    phone = models.CharField(max_length=20, help_text="PII")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="customers")
    loan_officer = models.ForeignKey(
        Staff, on_delete=models.PROTECT, related_name="customers", null=True, blank=True
    )
    kyc_status = models.CharField(max_length=10, choices=KycStatus.choices, default=KycStatus.PENDING)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    business_sector = models.CharField(max_length=50)
    joined_on = models.DateField()

    class Meta:
        db_table = "customers"
        ordering = ["customer_number"]
        indexes = [models.Index(fields=["last_name", "first_name"])]

    def __str__(self) -> str:
        return f"{self.customer_number} {self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class SolidarityGroup(TimeStampedModel):
    class MeetingDay(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="groups")
    loan_officer = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="groups")
    meeting_day = models.SmallIntegerField(choices=MeetingDay.choices)
    formed_on = models.DateField()

    class Meta:
        db_table = "solidarity_groups"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class GroupMembership(SoftDeleteModel):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        LEADER = "leader", "Leader"

    group = models.ForeignKey(SolidarityGroup, on_delete=models.PROTECT, related_name="memberships")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_on = models.DateField()
    left_on = models.DateField(null=True, blank=True)

    class Meta:
        db_table = "group_memberships"
        constraints = [
            models.CheckConstraint(
                condition=Q(left_on__isnull=True) | Q(left_on__gte=models.F("joined_on")),
                name="membership_left_after_joined",
            ),
            models.UniqueConstraint(
                fields=["group", "customer"],
                condition=Q(left_on__isnull=True, deleted_at__isnull=True),
                name="membership_one_open_per_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.group_id}"
