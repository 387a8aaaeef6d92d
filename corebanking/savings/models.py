"""Savings products and customers' savings accounts (ingestion group `savings`). An account's balance
is kept on the row and moved only by ledger.services, in the same transaction as the ledger row that
explains it (the savings ledger is `ledger.SavingsTransaction`)."""

from django.db import models
from django.db.models import F, Q

from core.models import ZERO, MoneyField, RateField, TimeStampedModel


class SavingsProduct(TimeStampedModel):
    class Kind(models.TextChoices):
        VOLUNTARY = "voluntary", "Voluntary savings"
        COMPULSORY = "compulsory", "Compulsory savings (loan-linked)"

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    interest_rate = RateField(help_text="annual, as a fraction (0.05 = 5%)")
    minimum_balance = MoneyField(default=ZERO)
    monthly_fee = MoneyField(default=ZERO)
    withdrawal_fee = MoneyField(default=ZERO)
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "savings_products"
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(interest_rate__gte=0) & Q(minimum_balance__gte=0) & Q(monthly_fee__gte=0)
                & Q(withdrawal_fee__gte=0),
                name="savings_product_non_negative",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SavingsAccount(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DORMANT = "dormant", "Dormant"
        CLOSED = "closed", "Closed"

    account_number = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT,
                                 related_name="savings_accounts")
    product = models.ForeignKey(SavingsProduct, on_delete=models.PROTECT, related_name="accounts")
    branch = models.ForeignKey("customers.Branch", on_delete=models.PROTECT, related_name="savings_accounts")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    opened_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    balance = MoneyField(default=ZERO)

    class Meta:
        db_table = "savings_accounts"
        ordering = ["account_number"]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="savings_balance_non_negative"),
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | Q(closed_on__gte=F("opened_on")),
                name="savings_closed_after_opened",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(balance=0), name="savings_closed_has_no_balance"
            ),
        ]

    def __str__(self) -> str:
        return self.account_number
