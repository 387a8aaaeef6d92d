"""Checks the tests share (the services' tests and the simulator's): the books balance, the general
ledger agrees with the sub-ledgers, and a refused operation left the database as it was."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.apps import apps
from django.db import connection
from django.db.models import Sum

from core.models import ZERO
from ledger import chart
from ledger.models import JournalEntry, JournalLine
from ledger.selectors import gl_balance

# A fixed business calendar, so no test depends on today's date. 2025-01-06 is a Monday. Tests import it
# from here, not from conftest.py: two conftest modules (corebanking/ and tests/) share that module name.
DAY0 = dt.date(2025, 1, 6)


def entry_lines(entry: JournalEntry) -> list[tuple[str, Decimal, Decimal]]:
    """An entry's lines as sorted (GL code, debit, credit) tuples, for exact comparisons in tests."""
    return sorted(entry.lines.values_list("gl_account__code", "debit", "credit"))


def unbalanced_entries() -> list[tuple[int, Decimal, Decimal]]:
    """(entry id, debits, credits) of every entry whose debits ≠ credits, and of entries without lines."""
    bad = [
        (row["entry_id"], row["d"], row["c"])
        for row in JournalLine.objects.values("entry_id").annotate(d=Sum("debit"), c=Sum("credit"))
        if row["d"] != row["c"]
    ]
    bad += [
        (pk, ZERO, ZERO)
        for pk in JournalEntry.objects.filter(lines__isnull=True).values_list("pk", flat=True)
    ]
    return bad


def subledger_differences() -> dict[str, tuple[Decimal, Decimal]]:
    """The GL identities of docs/ledger.md that do not hold: name → (GL balance, sub-ledger total)."""
    from investments.models import Investment, InvestmentEarning
    from loans.models import Loan
    from savings.models import SavingsAccount

    def total(qs, field: str) -> Decimal:
        return qs.aggregate(t=Sum(field))["t"] or ZERO

    checks = {
        "2000 savings = Σ account balances": (
            gl_balance(chart.SAVINGS_DEPOSITS),
            total(SavingsAccount.objects.all(), "balance"),
        ),
        "1100 portfolio = Σ principal outstanding": (
            gl_balance(chart.LOAN_PORTFOLIO),
            total(Loan.objects.filter(status__in=Loan.OUTSTANDING), "principal_outstanding"),
        ),
        "2100 fixed deposits = Σ active principal": (
            gl_balance(chart.FIXED_DEPOSITS),
            total(Investment.objects.filter(status=Investment.Status.ACTIVE), "principal"),
        ),
        "2110 payable = Σ accrued unpaid earnings": (
            gl_balance(chart.FIXED_DEPOSIT_INTEREST_PAYABLE),
            total(InvestmentEarning.objects.filter(paid_on__isnull=True), "amount"),
        ),
    }
    return {name: pair for name, pair in checks.items() if pair[0] != pair[1]}


def assert_books_consistent() -> None:
    """Every entry is balanced, Σ debits = Σ credits overall, and the GL agrees with the sub-ledgers."""
    assert unbalanced_entries() == []
    totals = JournalLine.objects.aggregate(d=Sum("debit"), c=Sum("credit"))
    assert totals["d"] == totals["c"]
    assert subledger_differences() == {}


def db_snapshot() -> dict[str, tuple[int, str]]:
    """Every finhouse table's row count and a digest of all its rows' contents: equal snapshots before
    and after an operation mean it wrote nothing (no row added, removed or changed)."""
    tables = sorted(
        m._meta.db_table
        for m in apps.get_models()
        if m._meta.app_label in {"customers", "savings", "loans", "payments", "ledger", "investments"}
    )
    snapshot: dict[str, tuple[int, str]] = {}
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {table} t"
            )
            snapshot[table] = cur.fetchone()
    return snapshot
