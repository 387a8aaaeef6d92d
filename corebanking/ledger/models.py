"""The books (ingestion group `ledger`): the savings ledger (one row per movement on a savings
account), transfers between accounts, and the general ledger — chart of accounts, journal entries and
their lines. Every service that moves money posts one balanced journal entry; the database refuses an
unbalanced one and any change to a posted line (core/triggers.py)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.models import ZERO, MoneyField, TimeStampedModel


class TransactionType(TimeStampedModel):
    class Direction(models.TextChoices):
        CREDIT = "credit", "Credit (increases the balance)"
        DEBIT = "debit", "Debit (decreases the balance)"

    code = models.CharField(max_length=24, unique=True)
    name = models.CharField(max_length=100)
    direction = models.CharField(max_length=6, choices=Direction.choices)

    class Meta:
        db_table = "transaction_types"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Transfer(TimeStampedModel):
    reference = models.CharField(max_length=64, unique=True)
    from_account = models.ForeignKey("savings.SavingsAccount", on_delete=models.PROTECT, related_name="+")
    to_account = models.ForeignKey("savings.SavingsAccount", on_delete=models.PROTECT, related_name="+")
    amount = MoneyField()
    transferred_at = models.DateTimeField()

    class Meta:
        db_table = "transfers"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="transfer_positive"),
            models.CheckConstraint(condition=~Q(from_account=F("to_account")), name="transfer_two_accounts"),
        ]


class SavingsTransaction(TimeStampedModel):
    account = models.ForeignKey("savings.SavingsAccount", on_delete=models.PROTECT,
                                related_name="transactions")
    type = models.ForeignKey(TransactionType, on_delete=models.PROTECT, related_name="+")
    amount = MoneyField(help_text="always positive; the type's direction gives the sign")
    balance_after = MoneyField()
    channel = models.CharField(max_length=12, blank=True, default="")
    reference = models.CharField(max_length=64, unique=True)
    payment = models.ForeignKey("payments.Payment", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="savings_transactions")
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="legs")
    reversal_of = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="reversed_by")
    value_date = models.DateField(db_index=True)
    posted_at = models.DateTimeField()

    class Meta:
        db_table = "savings_transactions"
        ordering = ["-posted_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="savings_txn_positive"),
            models.CheckConstraint(condition=Q(balance_after__gte=0),
                                   name="savings_txn_balance_non_negative"),
        ]
        indexes = [models.Index(fields=["account", "posted_at"])]


class GLAccount(TimeStampedModel):
    class Type(models.TextChoices):
        ASSET = "asset", "Asset"
        LIABILITY = "liability", "Liability"
        EQUITY = "equity", "Equity"
        INCOME = "income", "Income"
        EXPENSE = "expense", "Expense"

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=Type.choices)
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "gl_accounts"
        ordering = ["code"]
        verbose_name = "GL account"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class JournalEntry(TimeStampedModel):
    class Kind(models.TextChoices):
        DISBURSEMENT = "disbursement", "Loan disbursement"
        REPAYMENT = "repayment", "Loan repayment"
        RECOVERY = "recovery", "Recovery"
        WRITE_OFF = "write_off", "Write-off"
        PROVISION = "provision", "Loan-loss provision"
        DEPOSIT = "deposit", "Savings deposit"
        WITHDRAWAL = "withdrawal", "Savings withdrawal"
        TRANSFER = "transfer", "Transfer between accounts"
        SAVINGS_INTEREST = "savings_interest", "Interest on savings"
        SAVINGS_FEE = "savings_fee", "Savings fee"
        FD_PLACEMENT = "fd_placement", "Fixed deposit placement"
        FD_ACCRUAL = "fd_accrual", "Fixed deposit interest accrual"
        FD_PAYOUT = "fd_payout", "Fixed deposit interest payout"
        FD_REDEMPTION = "fd_redemption", "Fixed deposit redemption"
        OPERATING_EXPENSE = "operating_expense", "Operating expense"
        FUNDING = "funding", "Funding received"
        FUNDING_INTEREST = "funding_interest", "Interest on funding"
        REVERSAL = "reversal", "Reversal"

    posted_on = models.DateField(db_index=True)
    posted_at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=Kind.choices, db_index=True)
    description = models.CharField(max_length=200)
    branch = models.ForeignKey("customers.Branch", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+")
    source_type = models.CharField(max_length=40, blank=True, default="",
                                   help_text="the table of the business row this entry books, "
                                   "e.g. loan_repayments")
    source_id = models.BigIntegerField(null=True, blank=True)
    reversal_of = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="reversed_by")

    class Meta:
        db_table = "journal_entries"
        ordering = ["-posted_on", "-id"]
        verbose_name_plural = "journal entries"
        indexes = [models.Index(fields=["source_type", "source_id"])]

    def __str__(self) -> str:
        return f"JE{self.pk} {self.get_kind_display()} {self.posted_on}"


class JournalLine(TimeStampedModel):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    gl_account = models.ForeignKey(GLAccount, on_delete=models.PROTECT, related_name="lines")
    debit = MoneyField(default=ZERO)
    credit = MoneyField(default=ZERO)

    class Meta:
        db_table = "journal_lines"
        constraints = [
            models.CheckConstraint(
                condition=(Q(debit__gt=0) & Q(credit=0)) | (Q(debit=0) & Q(credit__gt=0)),
                name="journal_line_one_side",
            )
        ]


class PeriodClose(TimeStampedModel):
    """One closing of the books: every date on or before `closed_through` is a closed accounting period,
    which no operation may be dated in (the services refuse it, and a trigger on journal_entries refuses
    it again in the database). Closes only move forward; the latest one is in force. Made by
    ledger.services.period_close, which records the trial balance of the closed books as evidence that
    they balanced; `created_at` is when the books were closed."""

    closed_through = models.DateField(unique=True, help_text="the last day of the closed period")
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", help_text="empty when closed by a system process")
    note = models.CharField(max_length=200, blank=True, default="")
    total_debits = MoneyField(help_text="the sum of every journal line's debit through closed_through")
    total_credits = MoneyField(help_text="the sum of every journal line's credit through closed_through")

    class Meta:
        db_table = "accounting_period_closes"
        ordering = ["-closed_through"]
        constraints = [
            models.CheckConstraint(condition=Q(total_debits=F("total_credits")),
                                   name="period_close_trial_balance_balanced")
        ]

    def __str__(self) -> str:
        return f"books closed through {self.closed_through}"
