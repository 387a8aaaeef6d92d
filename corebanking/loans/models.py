"""Loan products, loans and their life (ingestion group `loans`): the repayment schedule, repayments and
how each was allocated, collateral, restructures, write-offs, recoveries and loan-loss provisioning.

A loan's status moves applied → approved → active → closed, or to rejected, written_off, or
restructured (still outstanding, on a new schedule). `principal_outstanding` is kept on the loan by
loans.services in the same transaction as the journal entry that moves the GL's loan portfolio."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.models import ZERO, MoneyField, RateField, SoftDeleteModel, TimeStampedModel


class Frequency(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    FORTNIGHTLY = "fortnightly", "Fortnightly"
    MONTHLY = "monthly", "Monthly"


class InterestMethod(models.TextChoices):
    FLAT = "flat", "Flat (on the original principal)"
    DECLINING = "declining", "Declining balance (equal installments)"


class LoanProduct(TimeStampedModel):
    class LendingType(models.TextChoices):
        INDIVIDUAL = "individual", "Individual"
        GROUP = "group", "Group (joint liability)"

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    lending_type = models.CharField(max_length=10, choices=LendingType.choices)
    interest_method = models.CharField(max_length=10, choices=InterestMethod.choices)
    annual_rate = RateField(help_text="nominal annual rate as a fraction (0.24 = 24%)")
    frequency = models.CharField(max_length=12, choices=Frequency.choices)
    min_term = models.PositiveSmallIntegerField(help_text="installments")
    max_term = models.PositiveSmallIntegerField(help_text="installments")
    min_amount = MoneyField()
    max_amount = MoneyField()
    fee_rate = RateField(default=ZERO, help_text="upfront fee on the disbursed principal, as a fraction")
    penalty_rate = RateField(
        default=ZERO, help_text="penalty on an installment's unpaid amount once it is past the grace days"
    )
    penalty_grace_days = models.PositiveSmallIntegerField(default=0)
    grace_period_days = models.PositiveSmallIntegerField(
        default=0, help_text="extra days between disbursement and the first due date"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "loan_products"
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(min_term__gte=1) & Q(max_term__gte=F("min_term")),
                                   name="loan_product_term_range"),
            models.CheckConstraint(condition=Q(min_amount__gt=0) & Q(max_amount__gte=F("min_amount")),
                                   name="loan_product_amount_range"),
            models.CheckConstraint(condition=Q(annual_rate__gte=0) & Q(fee_rate__gte=0)
                                   & Q(penalty_rate__gte=0),
                                   name="loan_product_rates_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Loan(TimeStampedModel):
    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        ACTIVE = "active", "Active (disbursed)"
        RESTRUCTURED = "restructured", "Restructured (outstanding, rescheduled)"
        CLOSED = "closed", "Closed (repaid)"
        WRITTEN_OFF = "written_off", "Written off"

    OUTSTANDING = (Status.ACTIVE, Status.RESTRUCTURED)

    loan_number = models.CharField(max_length=20, unique=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="loans")
    group = models.ForeignKey(
        "customers.SolidarityGroup", on_delete=models.PROTECT, related_name="loans", null=True, blank=True,
        help_text="set for a member's loan under a solidarity group's joint liability",
    )
    product = models.ForeignKey(LoanProduct, on_delete=models.PROTECT, related_name="loans")
    officer = models.ForeignKey("customers.Staff", on_delete=models.PROTECT, related_name="loans")
    branch = models.ForeignKey("customers.Branch", on_delete=models.PROTECT, related_name="loans")
    cycle = models.PositiveSmallIntegerField(default=1, help_text="the customer's nth loan")
    purpose = models.CharField(max_length=50)
    amount_applied = MoneyField()
    amount_approved = MoneyField(null=True, blank=True)
    amount_disbursed = MoneyField(null=True, blank=True)
    fee_amount = MoneyField(default=ZERO)
    annual_rate = RateField()
    interest_method = models.CharField(max_length=10, choices=InterestMethod.choices)
    frequency = models.CharField(max_length=12, choices=Frequency.choices)
    term = models.PositiveSmallIntegerField(help_text="number of installments")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.APPLIED, db_index=True)
    applied_on = models.DateField()
    approved_on = models.DateField(null=True, blank=True)
    # Who applied and approved (core.actor; null for history written in bulk): maker-checker forbids
    # them to disburse the loan themselves.
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    rejected_on = models.DateField(null=True, blank=True)
    disbursed_on = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    written_off_on = models.DateField(null=True, blank=True)
    principal_outstanding = MoneyField(default=ZERO)
    disbursement_account = models.ForeignKey(
        "savings.SavingsAccount", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="when set, the loan was disbursed into this savings account instead of paid out",
    )

    class Meta:
        db_table = "loans"
        ordering = ["-applied_on", "loan_number"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_applied__gt=0), name="loan_applied_positive"),
            models.CheckConstraint(condition=Q(amount_approved__isnull=True) | Q(amount_approved__gt=0),
                                   name="loan_approved_positive"),
            models.CheckConstraint(condition=Q(amount_disbursed__isnull=True) | Q(amount_disbursed__gt=0),
                                   name="loan_disbursed_positive"),
            models.CheckConstraint(condition=Q(amount_disbursed__isnull=True)
                                   | Q(amount_disbursed__lte=F("amount_approved")),
                                   name="loan_disbursed_within_approved"),
            models.CheckConstraint(condition=Q(principal_outstanding__gte=0)
                                   & (Q(amount_disbursed__isnull=True) & Q(principal_outstanding=0)
                                      | Q(principal_outstanding__lte=F("amount_disbursed"))),
                                   name="loan_outstanding_within_disbursed"),
            models.CheckConstraint(condition=Q(fee_amount__gte=0) & Q(annual_rate__gte=0) & Q(term__gte=1),
                                   name="loan_terms_valid"),
            models.CheckConstraint(condition=~Q(status__in=["active", "restructured", "closed",
                                                            "written_off"])
                                   | Q(disbursed_on__isnull=False),
                                   name="loan_disbursed_has_date"),
            models.CheckConstraint(condition=~Q(status="closed") | Q(principal_outstanding=0),
                                   name="loan_closed_is_repaid"),
        ]
        indexes = [models.Index(fields=["branch", "status"]), models.Index(fields=["officer", "status"])]

    def __str__(self) -> str:
        return self.loan_number

    @property
    def is_outstanding(self) -> bool:
        return self.status in self.OUTSTANDING


class Collateral(SoftDeleteModel):
    class Kind(models.TextChoices):
        HOUSEHOLD = "household", "Household goods"
        BUSINESS = "business_equipment", "Business equipment"
        VEHICLE = "vehicle", "Vehicle"
        LAND = "land_title", "Land title"
        GUARANTOR = "guarantor", "Personal guarantor"
        SAVINGS_LIEN = "savings_lien", "Lien on savings"

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="collateral")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=200)
    value = MoneyField()

    class Meta:
        db_table = "loan_collateral"
        verbose_name_plural = "collateral"
        constraints = [models.CheckConstraint(condition=Q(value__gt=0), name="collateral_value_positive")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class LoanInstallment(TimeStampedModel):
    """One installment of a loan's repayment schedule. On a restructure the open installments are
    closed at what was paid (`superseded`) and the new schedule continues the numbering."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="installments")
    number = models.PositiveSmallIntegerField()
    due_on = models.DateField(db_index=True)
    principal_due = MoneyField()
    interest_due = MoneyField()
    fee_due = MoneyField(default=ZERO)
    penalty_due = MoneyField(default=ZERO)
    principal_paid = MoneyField(default=ZERO)
    interest_paid = MoneyField(default=ZERO)
    fee_paid = MoneyField(default=ZERO)
    penalty_paid = MoneyField(default=ZERO)
    completed_on = models.DateField(null=True, blank=True)
    superseded = models.BooleanField(default=False)

    class Meta:
        db_table = "loan_installments"
        ordering = ["loan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "number"], name="installment_unique_number"),
            models.CheckConstraint(
                condition=Q(principal_due__gte=0) & Q(interest_due__gte=0) & Q(fee_due__gte=0)
                & Q(penalty_due__gte=0),
                name="installment_dues_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(principal_paid__gte=0) & Q(principal_paid__lte=F("principal_due"))
                & Q(interest_paid__gte=0) & Q(interest_paid__lte=F("interest_due"))
                & Q(fee_paid__gte=0) & Q(fee_paid__lte=F("fee_due"))
                & Q(penalty_paid__gte=0) & Q(penalty_paid__lte=F("penalty_due")),
                name="installment_paid_within_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.loan_id}#{self.number}"

    @property
    def total_due(self):
        return self.principal_due + self.interest_due + self.fee_due + self.penalty_due

    @property
    def total_paid(self):
        return self.principal_paid + self.interest_paid + self.fee_paid + self.penalty_paid


class Repayment(TimeStampedModel):
    """Money received against a loan, split penalty → fee → interest → principal."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="repayments")
    payment = models.ForeignKey("payments.Payment", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="repayments")
    savings_account = models.ForeignKey("savings.SavingsAccount", on_delete=models.PROTECT, null=True,
                                        blank=True, related_name="+",
                                        help_text="set when repaid by a debit of this savings account")
    paid_on = models.DateField(db_index=True)
    amount = MoneyField()
    principal_amount = MoneyField(default=ZERO)
    interest_amount = MoneyField(default=ZERO)
    fee_amount = MoneyField(default=ZERO)
    penalty_amount = MoneyField(default=ZERO)

    class Meta:
        db_table = "loan_repayments"
        ordering = ["-paid_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="repayment_positive"),
            models.CheckConstraint(
                condition=Q(principal_amount__gte=0) & Q(interest_amount__gte=0) & Q(fee_amount__gte=0)
                & Q(penalty_amount__gte=0),
                name="repayment_parts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount=F("principal_amount") + F("interest_amount") + F("fee_amount")
                            + F("penalty_amount")),
                name="repayment_parts_sum_to_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} on {self.paid_on}"


class RepaymentAllocation(TimeStampedModel):
    """The part of a repayment applied to one installment (what collection-efficiency KPIs need)."""

    repayment = models.ForeignKey(Repayment, on_delete=models.PROTECT, related_name="allocations")
    installment = models.ForeignKey(LoanInstallment, on_delete=models.PROTECT, related_name="allocations")
    principal_amount = MoneyField(default=ZERO)
    interest_amount = MoneyField(default=ZERO)
    fee_amount = MoneyField(default=ZERO)
    penalty_amount = MoneyField(default=ZERO)

    class Meta:
        db_table = "loan_repayment_allocations"
        constraints = [
            models.UniqueConstraint(fields=["repayment", "installment"], name="allocation_unique"),
            models.CheckConstraint(
                condition=Q(principal_amount__gte=0) & Q(interest_amount__gte=0) & Q(fee_amount__gte=0)
                & Q(penalty_amount__gte=0),
                name="allocation_parts_non_negative",
            ),
        ]


class Restructure(TimeStampedModel):
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="restructures")
    restructured_on = models.DateField()
    principal_outstanding = MoneyField()
    old_term = models.PositiveSmallIntegerField()
    new_term = models.PositiveSmallIntegerField(help_text="installments of the new schedule")
    old_rate = RateField()
    new_rate = RateField()
    reason = models.CharField(max_length=200)

    class Meta:
        db_table = "loan_restructures"
        constraints = [
            models.CheckConstraint(condition=Q(principal_outstanding__gt=0) & Q(new_term__gte=1),
                                   name="restructure_valid")
        ]


class WriteOff(TimeStampedModel):
    loan = models.OneToOneField(Loan, on_delete=models.PROTECT, related_name="write_off")
    written_off_on = models.DateField(db_index=True)
    principal_amount = MoneyField()
    interest_amount = MoneyField(default=ZERO, help_text="interest due and unpaid, never booked as income")
    reason = models.CharField(max_length=200)

    class Meta:
        db_table = "loan_write_offs"
        constraints = [models.CheckConstraint(condition=Q(principal_amount__gt=0), name="write_off_positive")]


class Recovery(TimeStampedModel):
    """Money collected on a written-off loan."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="recoveries")
    payment = models.ForeignKey("payments.Payment", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="recoveries")
    recovered_on = models.DateField(db_index=True)
    amount = MoneyField()

    class Meta:
        db_table = "loan_recoveries"
        verbose_name_plural = "recoveries"
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="recovery_positive")]


class LoanLossProvision(TimeStampedModel):
    """A provisioning run: the reserve required by the aging policy, and the expense posted to reach it
    (negative when the reserve is released)."""

    provisioned_on = models.DateField(unique=True)
    required_reserve = MoneyField()
    expense_amount = MoneyField(help_text="provision expense posted; negative for a release")
    policy = models.CharField(max_length=200)

    class Meta:
        db_table = "loan_loss_provisions"
        ordering = ["-provisioned_on"]
        constraints = [
            models.CheckConstraint(condition=Q(required_reserve__gte=0),
                                   name="provision_reserve_non_negative")
        ]
