"""What the audit trail records: which models, and which of their fields.

Every money movement writes rows in the tables below (a repayment, a savings transaction, a transfer,
a journal entry, a payment, a write-off …), so the `create` entry of such a row, with its actor and
source, is the record of who moved the money; every change of a customer, loan, account, product or
role (auth user and group, with their memberships and permissions) is an `update` entry with the fields
that changed, old → new.

Left out, because another recorded row already says the same and they would only multiply the log:
journal lines (their entry is recorded; lines are immutable anyway), repayment allocations (derived
from the repayment), loan installments (the schedule a disbursement or restructure generates, and
their paid amounts that every repayment moves). `updated_at` is never a change worth a line (a trigger
moves it on every UPDATE); `last_login` neither.
"""

from __future__ import annotations

from auditlog.registry import auditlog
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

NOT_A_CHANGE = ["updated_at"]

RECORDED = (
    # customers and the institution
    "customers.Branch",
    "customers.Staff",
    "customers.Customer",
    "customers.SolidarityGroup",
    "customers.GroupMembership",
    # savings
    "savings.SavingsProduct",
    "savings.SavingsAccount",
    # loans
    "loans.LoanProduct",
    "loans.Loan",
    "loans.Collateral",
    "loans.Repayment",
    "loans.Restructure",
    "loans.WriteOff",
    "loans.Recovery",
    "loans.LoanLossProvision",
    # payments and transactions
    "payments.Payment",
    "ledger.TransactionType",
    "ledger.GLAccount",
    "ledger.SavingsTransaction",
    "ledger.Transfer",
    "ledger.JournalEntry",
    # maker-checker requests: who asked for a write-off, restructure, reversal or KYC, who decided
    "access.ApprovalRequest",
    # investments
    "investments.InvestmentProduct",
    "investments.Investment",
    "investments.InvestmentEarning",
)


def hidden(value: str) -> str:
    """Mask of a secret: the log says that it changed, never any part of it (auditlog's default mask
    keeps half of the value, which for a password hash is half the hash)."""
    return "<hidden>"


def register_models() -> None:
    """Connect auditlog to every recorded model (AuditConfig.ready; idempotent, as auditlog's registry
    replaces a registration)."""
    for label in RECORDED:
        auditlog.register(apps.get_model(label), exclude_fields=list(NOT_A_CHANGE))
    # roles: who is staff, superuser, active, in which group; what each group may do
    auditlog.register(
        get_user_model(),
        exclude_fields=["last_login"],
        mask_fields=["password"],
        mask_callable="audit.registration.hidden",
        m2m_fields={"groups", "user_permissions"},
    )
    auditlog.register(Group, m2m_fields={"permissions"})
