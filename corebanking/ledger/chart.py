"""The chart of accounts: one place for every GL account code the services and the simulator post to.

Loans are booked on a cash basis for interest (income when received); fixed-deposit interest is accrued
monthly. Normal balances: assets and expenses are debit accounts; liabilities, equity and income are
credit accounts; the loan-loss reserve is a contra-asset (credit balance)."""

from typing import NamedTuple


class Account(NamedTuple):
    code: str
    name: str
    type: str  # asset, liability, equity, income, expense


CASH_VAULT = "1010"
BANK = "1020"
MOBILE_MONEY_FLOAT = "1030"
AGENT_FLOAT = "1040"
LOAN_PORTFOLIO = "1100"
LOAN_LOSS_RESERVE = "1150"
SAVINGS_DEPOSITS = "2000"
FIXED_DEPOSITS = "2100"
FIXED_DEPOSIT_INTEREST_PAYABLE = "2110"
BORROWINGS = "2200"
SHARE_CAPITAL = "3000"
DONATED_EQUITY = "3010"
RETAINED_EARNINGS = "3100"
INTEREST_INCOME_LOANS = "4000"
FEE_INCOME_LOANS = "4010"
PENALTY_INCOME_LOANS = "4020"
FEE_INCOME_SAVINGS = "4030"
INTEREST_EXPENSE_SAVINGS = "5000"
INTEREST_EXPENSE_FIXED_DEPOSITS = "5010"
INTEREST_EXPENSE_BORROWINGS = "5020"
LOAN_LOSS_PROVISION_EXPENSE = "5100"
PERSONNEL_EXPENSE = "5200"
ADMINISTRATIVE_EXPENSE = "5210"
OCCUPANCY_EXPENSE = "5220"
TRANSPORT_EXPENSE = "5230"
DEPRECIATION_EXPENSE = "5240"

ACCOUNTS: tuple[Account, ...] = (
    Account(CASH_VAULT, "Cash in vaults and tills", "asset"),
    Account(BANK, "Cash at bank", "asset"),
    Account(MOBILE_MONEY_FLOAT, "Mobile money float", "asset"),
    Account(AGENT_FLOAT, "Agent float", "asset"),
    Account(LOAN_PORTFOLIO, "Gross loan portfolio", "asset"),
    Account(LOAN_LOSS_RESERVE, "Loan-loss reserve", "asset"),
    Account(SAVINGS_DEPOSITS, "Savings deposits", "liability"),
    Account(FIXED_DEPOSITS, "Fixed deposits", "liability"),
    Account(FIXED_DEPOSIT_INTEREST_PAYABLE, "Interest payable on fixed deposits", "liability"),
    Account(BORROWINGS, "Borrowings", "liability"),
    Account(SHARE_CAPITAL, "Share capital", "equity"),
    Account(DONATED_EQUITY, "Donated equity (grants)", "equity"),
    Account(RETAINED_EARNINGS, "Retained earnings", "equity"),
    Account(INTEREST_INCOME_LOANS, "Interest income on loans", "income"),
    Account(FEE_INCOME_LOANS, "Fee income on loans", "income"),
    Account(PENALTY_INCOME_LOANS, "Penalty income on loans", "income"),
    Account(FEE_INCOME_SAVINGS, "Fee income on savings", "income"),
    Account(INTEREST_EXPENSE_SAVINGS, "Interest expense on savings", "expense"),
    Account(INTEREST_EXPENSE_FIXED_DEPOSITS, "Interest expense on fixed deposits", "expense"),
    Account(INTEREST_EXPENSE_BORROWINGS, "Interest expense on borrowings", "expense"),
    Account(LOAN_LOSS_PROVISION_EXPENSE, "Loan-loss provision expense", "expense"),
    Account(PERSONNEL_EXPENSE, "Personnel expense", "expense"),
    Account(ADMINISTRATIVE_EXPENSE, "Administrative expense", "expense"),
    Account(OCCUPANCY_EXPENSE, "Occupancy expense", "expense"),
    Account(TRANSPORT_EXPENSE, "Transport expense", "expense"),
    Account(DEPRECIATION_EXPENSE, "Depreciation expense", "expense"),
)

# Where the money of a payment channel sits on the balance sheet.
CASH_ACCOUNT_BY_CHANNEL = {
    "cash": CASH_VAULT,
    "agent": AGENT_FLOAT,
    "mobile_money": MOBILE_MONEY_FLOAT,
    "bank": BANK,
}

OPERATING_EXPENSE_ACCOUNTS = {
    "personnel": PERSONNEL_EXPENSE,
    "administrative": ADMINISTRATIVE_EXPENSE,
    "occupancy": OCCUPANCY_EXPENSE,
    "transport": TRANSPORT_EXPENSE,
    "depreciation": DEPRECIATION_EXPENSE,
}

FUNDING_ACCOUNTS = {
    "borrowing": BORROWINGS,
    "equity": SHARE_CAPITAL,
    "grant": DONATED_EQUITY,
}
