"""Every movement of money across the institution's boundary (ingestion group `payments`): cash at a
branch, an agent, mobile money or a bank transfer. Repayments, deposits and the like point here."""

import uuid

from django.db import models
from django.db.models import Q

from core.models import MoneyField, TimeStampedModel


class Payment(TimeStampedModel):
    class Channel(models.TextChoices):
        CASH = "cash", "Cash at branch"
        AGENT = "agent", "Agent"
        MOBILE_MONEY = "mobile_money", "Mobile money"
        BANK = "bank", "Bank transfer"

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound (received)"
        OUTBOUND = "outbound", "Outbound (paid out)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        REVERSED = "reversed", "Reversed"

    class Purpose(models.TextChoices):
        LOAN_REPAYMENT = "loan_repayment", "Loan repayment"
        LOAN_DISBURSEMENT = "loan_disbursement", "Loan disbursement"
        RECOVERY = "recovery", "Recovery of a written-off loan"
        DEPOSIT = "deposit", "Savings deposit"
        WITHDRAWAL = "withdrawal", "Savings withdrawal"
        FIXED_DEPOSIT = "fixed_deposit", "Fixed deposit placement"
        FIXED_DEPOSIT_PAYOUT = "fixed_deposit_payout", "Fixed deposit payout"
        OPERATING_EXPENSE = "operating_expense", "Operating expense"
        FUNDING = "funding", "Funding received"
        FUNDING_SERVICE = "funding_service", "Interest or repayment to a funder"

    reference = models.CharField(max_length=64, unique=True, help_text="the provider's reference")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    purpose = models.CharField(max_length=24, choices=Purpose.choices)
    amount = MoneyField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="payments")
    branch = models.ForeignKey("customers.Branch", on_delete=models.PROTECT, related_name="payments")
    initiated_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    provider_data = models.JSONField(default=dict, blank=True, help_text="what the channel's provider sent")

    class Meta:
        db_table = "payments"
        ordering = ["-initiated_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=~Q(status="completed") | Q(completed_at__isnull=False),
                                   name="payment_completed_has_time"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount} {self.currency}"
