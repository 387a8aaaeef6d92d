"""Who may do what, and where: the one table of the institution's roles and permissions.

Everything that authorizes reads this table and nothing else — the API's permission class
(access.drf), the admin (access.admin, core.admin_tools.Operation), maker-checker (access.services)
and the documentation (docs/permissions.md, rendered from it by `manage.py permissions_table`;
a test fails when the file is stale). Grants are evaluated on every request from the user's staff
record (role, branch, left_on) by django-rules, so a member of staff who changes role or leaves has
their new access at once: there is no group membership to keep in step.

- A **role** is a job. Branch roles act on their own branch's customers, accounts, loans and postings;
  head-office roles see every branch. A user without a staff record (and not a superuser) has no role
  and may do nothing.
- A **permission** is one business operation, or the reading of one area. `roles` may perform it;
  `checked_by` (maker-checker) means performing it only files a request, which takes effect when a
  *different* user holding one of those roles approves it.
- Superusers (the platform's administrators) pass every permission check, but not maker-checker: they
  cannot approve their own requests either.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Role:
    code: str
    label: str
    head_office: bool
    job: str


TELLER, LOAN_OFFICER, BRANCH_MANAGER = "teller", "loan_officer", "branch_manager"
CREDIT_MANAGER, ACCOUNTANT, AUDITOR = "credit_manager", "accountant", "auditor"

ROLES: tuple[Role, ...] = (
    Role(TELLER, "Teller", False, "the cash desk: deposits, withdrawals, repayments, disbursements"),
    Role(LOAN_OFFICER, "Loan officer", False, "enrols customers and groups, originates loans"),
    Role(BRANCH_MANAGER, "Branch manager", False, "runs the branch: approves loans, checks its officers"),
    Role(CREDIT_MANAGER, "Credit manager", True, "head office credit: approvals, restructures, write-offs"),
    Role(ACCOUNTANT, "Accountant", True, "head office finance: the ledger, provisions, period close"),
    Role(AUDITOR, "Auditor", True, "internal audit: reads everything, the audit trail too; writes nothing"),
)
ROLE_CODES = tuple(r.code for r in ROLES)
ROLE_CHOICES = [(r.code, r.label) for r in ROLES]
HEAD_OFFICE_ROLES = frozenset(r.code for r in ROLES if r.head_office)
ALL = frozenset(ROLE_CODES)


@dataclass(frozen=True)
class Permission:
    code: str
    description: str
    roles: frozenset[str]
    checked_by: frozenset[str] = field(default_factory=frozenset)

    @property
    def needs_checker(self) -> bool:
        return bool(self.checked_by)


def _p(code: str, description: str, *roles: str, checked_by: tuple[str, ...] = ()) -> Permission:
    return Permission(code, description, frozenset(roles), frozenset(checked_by))


T, LO, BM, CM, AC, AU = TELLER, LOAN_OFFICER, BRANCH_MANAGER, CREDIT_MANAGER, ACCOUNTANT, AUDITOR

PERMISSIONS: tuple[Permission, ...] = (
    # reference data: products, transaction types, the chart of accounts, branches
    _p("reference.view", "read products, transaction types, GL accounts and branches", *ALL),
    # people
    _p("staff.view", "read the staff directory", *ALL),
    _p("staff.manage", "hire staff and change their role (branch roles only, own branch)", BM),
    _p("customer.view", "read customers (names, date of birth, national ID and phone masked)", *ALL),
    _p("customer.view_pii", "see customers' names, date of birth, national ID and phone in full",
       T, LO, BM, AU),
    _p("customer.create", "register a customer", LO, BM),
    _p("customer.edit", "change a customer's details", LO, BM),
    _p("customer.kyc_verify", "mark a customer's KYC verified", LO, BM, checked_by=(BM,)),
    _p("customer.delete", "remove a customer (soft delete)", BM),
    _p("group.view", "read solidarity groups and memberships", *ALL),
    _p("group.manage", "form groups, add and remove members", LO, BM),
    # savings
    _p("savings.view", "read savings accounts, their transactions and transfers", *ALL),
    _p("savings.open", "open a savings account", T, LO, BM),
    _p("savings.deposit", "deposit into a savings account", T, BM),
    _p("savings.withdraw", "withdraw from a savings account", T, BM),
    _p("savings.transfer", "transfer between savings accounts", T, BM),
    _p("savings.close", "close a savings account, paying out its balance", T, BM),
    _p("savings.reverse", "reverse a savings transaction", BM, AC, checked_by=(BM, AC)),
    # loans
    _p("loan.view", "read loans, schedules, repayments, collateral, restructures, write-offs", *ALL),
    _p("loan.apply", "apply for a loan for a customer", LO, BM),
    _p("loan.approve", "approve a loan application", BM, CM),
    _p("loan.reject", "reject a loan application", BM, CM),
    _p("loan.disburse", "disburse an approved loan (not by whoever applied for or approved it)", T, BM),
    _p("loan.repay", "post a repayment", T, BM),
    _p("loan.restructure", "restructure an outstanding loan", LO, BM, checked_by=(BM, CM)),
    _p("loan.write_off", "write off an outstanding loan", BM, CM, checked_by=(CM,)),
    _p("loan.recover", "post a recovery on a written-off loan", T, BM),
    _p("loan.collateral", "record and change a loan's collateral", LO, BM),
    _p("loan.provision", "post the loan-loss provisioning run", AC),
    # payments and fixed deposits
    _p("payment.view", "read payments", *ALL),
    _p("investment.view", "read fixed deposits and their earnings", *ALL),
    _p("investment.place", "place a fixed deposit", T, BM),
    _p("investment.redeem", "redeem a fixed deposit", T, BM),
    # ledger
    _p("ledger.view", "read journal entries and lines", BM, AC, AU),
    _p("ledger.reverse", "reverse a journal entry", AC, checked_by=(AC,)),
    _p("ledger.close_period", "close an accounting period", AC),
    # oversight
    _p("approval.view", "read maker-checker requests", *ALL),
    _p("audit.view", "read the audit trail", AU),
)

BY_CODE: dict[str, Permission] = {p.code: p for p in PERMISSIONS}
assert len(BY_CODE) == len(PERMISSIONS), "a permission code is listed twice"
assert all(p.roles <= ALL and p.checked_by <= ALL for p in PERMISSIONS), "a permission names an unknown role"


# Roles a branch manager may give (staff.manage): the roles they supervise, never their own or a
# head-office one, so that nobody can raise anyone (themselves included) above their own station.
GRANTABLE_BY_BRANCH_MANAGER = frozenset({TELLER, LOAN_OFFICER})


def check_code(code: str) -> str:
    """The permission of approving a maker-checker request for `code`."""
    return f"{code}.check"


# What the Django admin asks ("<app>.<action>_<model>") → the business permission that answers it.
# A model or action not listed here is for superusers only (products, users, posted rows' edits).
MODEL_PERMISSIONS: dict[str, dict[str, str]] = {
    "customers.branch": {"view": "reference.view"},
    "customers.staff": {"view": "staff.view", "add": "staff.manage", "change": "staff.manage"},
    "customers.customer": {"view": "customer.view", "add": "customer.create", "change": "customer.edit"},
    "customers.solidaritygroup": {"view": "group.view", "add": "group.manage", "change": "group.manage"},
    "customers.groupmembership": {"view": "group.view", "add": "group.manage", "change": "group.manage"},
    "savings.savingsproduct": {"view": "reference.view"},
    "savings.savingsaccount": {"view": "savings.view", "add": "savings.open"},
    "loans.loanproduct": {"view": "reference.view"},
    "loans.loan": {"view": "loan.view"},
    "loans.repayment": {"view": "loan.view"},
    "loans.collateral": {"view": "loan.view", "add": "loan.collateral", "change": "loan.collateral"},
    "loans.restructure": {"view": "loan.view"},
    "loans.writeoff": {"view": "loan.view"},
    "loans.recovery": {"view": "loan.view"},
    "loans.loanlossprovision": {"view": "loan.view"},
    "payments.payment": {"view": "payment.view"},
    "ledger.transactiontype": {"view": "reference.view"},
    "ledger.glaccount": {"view": "reference.view"},
    "ledger.transfer": {"view": "savings.view"},
    "ledger.savingstransaction": {"view": "savings.view"},
    "ledger.journalentry": {"view": "ledger.view"},
    "ledger.journalline": {"view": "ledger.view"},
    "ledger.periodclose": {"view": "ledger.view"},
    "investments.investmentproduct": {"view": "reference.view"},
    "investments.investment": {"view": "investment.view"},
    "investments.investmentearning": {"view": "investment.view"},
    "access.approvalrequest": {"view": "approval.view"},
    "audit.auditlogentry": {"view": "audit.view"},
}


def render_markdown() -> str:
    """docs/permissions.md: the roles, and every permission with who holds it and who checks it."""
    lines = [
        "# Roles and permissions",
        "",
        "Generated from `corebanking/access/policy.py` by `python corebanking/manage.py permissions_table`;",
        "a test fails when this file and the table differ. Branch roles act on their own branch only;",
        "head-office roles on every branch. ✓ may perform; ☑ may perform, and a different user must",
        "approve (maker-checker); ◆ approves others' requests.",
        "",
        "| Role | Where | Job |",
        "|---|---|---|",
    ]
    lines += [f"| {r.label} | {'head office' if r.head_office else 'own branch'} | {r.job} |" for r in ROLES]
    lines += ["", "| Permission | What | " + " | ".join(r.label for r in ROLES) + " |",
              "|---|---|" + "---|" * len(ROLES)]
    for p in PERMISSIONS:
        cells = []
        for r in ROLES:
            mark = ("☑" if p.needs_checker else "✓") if r.code in p.roles else ""
            if r.code in p.checked_by:
                mark += "◆"
            cells.append(mark)
        lines.append(f"| `{p.code}` | {p.description} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
