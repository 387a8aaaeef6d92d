"""Fixed-deposit products, customers' fixed deposits and their earnings (ingestion group `investments`).
A fixed deposit is a liability of the institution: principal in GL 2100, accrued earnings in 2110."""

from django.db import models
from django.db.models import F, Q

from core.models import ZERO, MoneyField, RateField, TimeStampedModel


class InvestmentProduct(TimeStampedModel):
    class Compounding(models.TextChoices):
        NONE = "none", "Simple, paid at maturity"
        MONTHLY = "monthly", "Paid monthly"
        QUARTERLY = "quarterly", "Paid quarterly"

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    term_months = models.PositiveSmallIntegerField()
    annual_rate = RateField()
    minimum_amount = MoneyField()
    compounding = models.CharField(max_length=10, choices=Compounding.choices)
    early_withdrawal_penalty_rate = RateField(
        default=ZERO,
        help_text="on redemption before maturity, the share of all earnings accrued so far (paid out or "
        "not) that is forfeited; earnings already paid are recovered from the principal",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "investment_products"
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(term_months__gte=1) & Q(annual_rate__gte=0)
                                   & Q(minimum_amount__gt=0),
                                   name="investment_product_valid")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Investment(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        MATURED = "matured", "Matured (paid out)"
        WITHDRAWN_EARLY = "withdrawn_early", "Withdrawn early"

    investment_number = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="investments")
    product = models.ForeignKey(InvestmentProduct, on_delete=models.PROTECT, related_name="investments")
    branch = models.ForeignKey("customers.Branch", on_delete=models.PROTECT, related_name="investments")
    principal = MoneyField()
    annual_rate = RateField()
    start_on = models.DateField()
    maturity_on = models.DateField(db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    closed_on = models.DateField(null=True, blank=True)
    payout_account = models.ForeignKey("savings.SavingsAccount", on_delete=models.PROTECT, null=True,
                                       blank=True, related_name="+")

    class Meta:
        db_table = "investments"
        ordering = ["-start_on"]
        constraints = [
            models.CheckConstraint(condition=Q(principal__gt=0), name="investment_principal_positive"),
            models.CheckConstraint(condition=Q(maturity_on__gt=F("start_on")),
                                   name="investment_matures_after_start"),
            models.CheckConstraint(condition=Q(status="active") | Q(closed_on__isnull=False),
                                   name="investment_closed_has_date"),
        ]

    def __str__(self) -> str:
        return self.investment_number


class InvestmentEarning(TimeStampedModel):
    """Interest earned by a fixed deposit over one period: accrued (an expense of the institution and
    a payable to the customer), then paid."""

    investment = models.ForeignKey(Investment, on_delete=models.PROTECT, related_name="earnings")
    period_start = models.DateField()
    period_end = models.DateField()
    amount = MoneyField()
    accrued_on = models.DateField()
    paid_on = models.DateField(null=True, blank=True)

    class Meta:
        db_table = "investment_earnings"
        ordering = ["investment", "period_end"]
        constraints = [
            models.UniqueConstraint(fields=["investment", "period_end"], name="earning_one_per_period"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="earning_non_negative"),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")),
                                   name="earning_period_valid"),
        ]
