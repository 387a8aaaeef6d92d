"""The savings ledger's transaction types: code → (name, direction). Seeded by a migration; services and
the simulator refer to them by code."""

DEPOSIT = "deposit"
WITHDRAWAL = "withdrawal"
FEE = "fee"
INTEREST = "interest"
TRANSFER_IN = "transfer_in"
TRANSFER_OUT = "transfer_out"
DISBURSEMENT_CREDIT = "disbursement_credit"
REPAYMENT_DEBIT = "repayment_debit"
INVESTMENT_PLACEMENT = "investment_placement"
INVESTMENT_PAYOUT = "investment_payout"
REVERSAL_CREDIT = "reversal_credit"
REVERSAL_DEBIT = "reversal_debit"

TRANSACTION_TYPES: dict[str, tuple[str, str]] = {
    DEPOSIT: ("Deposit", "credit"),
    WITHDRAWAL: ("Withdrawal", "debit"),
    FEE: ("Fee", "debit"),
    INTEREST: ("Interest", "credit"),
    TRANSFER_IN: ("Transfer in", "credit"),
    TRANSFER_OUT: ("Transfer out", "debit"),
    DISBURSEMENT_CREDIT: ("Loan disbursement credit", "credit"),
    REPAYMENT_DEBIT: ("Loan repayment debit", "debit"),
    INVESTMENT_PLACEMENT: ("Fixed deposit placement", "debit"),
    INVESTMENT_PAYOUT: ("Fixed deposit payout", "credit"),
    REVERSAL_CREDIT: ("Reversal (credit)", "credit"),
    REVERSAL_DEBIT: ("Reversal (debit)", "debit"),
}
