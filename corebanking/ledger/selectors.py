"""Reads of the general ledger: an account's balance and the trial balance, on any date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, Sum

from core.models import ZERO
from ledger.models import GLAccount, JournalLine

DEBIT_NORMAL = {GLAccount.Type.ASSET, GLAccount.Type.EXPENSE}


def _lines(as_of: dt.date | None):
    lines = JournalLine.objects.all()
    return lines if as_of is None else lines.filter(entry__posted_on__lte=as_of)


def gl_balance(code: str, as_of: dt.date | None = None) -> Decimal:
    """The balance of GL account `code` from all entries posted on or before `as_of` (default: all),
    on the account type's normal side: debits − credits for assets and expenses, credits − debits for
    liabilities, equity and income. The loan-loss reserve 1150 is a contra-asset, so its balance is
    normally negative (its reserve is −gl_balance("1150"))."""
    account = GLAccount.objects.get(code=code)
    totals = _lines(as_of).filter(gl_account=account).aggregate(debit=Sum("debit"), credit=Sum("credit"))
    debit, credit = totals["debit"] or ZERO, totals["credit"] or ZERO
    return debit - credit if account.type in DEBIT_NORMAL else credit - debit


@dataclass(frozen=True, slots=True)
class TrialBalanceRow:
    code: str
    name: str
    type: str
    debit: Decimal  # the net balance when it is on the debit side, else 0
    credit: Decimal  # the net balance when it is on the credit side, else 0


def trial_balance(as_of: dt.date | None = None) -> list[TrialBalanceRow]:
    """Every GL account with postings on or before `as_of` (default: all), in code order, with its net
    balance on the debit or the credit side. The debit column's total equals the credit column's when
    the books balance (they always do: every entry is balanced)."""
    # One filter() on the relation before annotate(): the sums run over exactly the filtered lines.
    date_filter = Q(lines__isnull=False) if as_of is None else Q(lines__entry__posted_on__lte=as_of)
    rows = (
        GLAccount.objects.filter(date_filter)
        .annotate(debits=Sum("lines__debit"), credits=Sum("lines__credit"))
        .order_by("code")
        .values_list("code", "name", "type", "debits", "credits")
    )
    result = []
    for code, name, type_, debits, credits in rows:
        net = (debits or ZERO) - (credits or ZERO)
        result.append(TrialBalanceRow(code, name, type_, max(net, ZERO), max(-net, ZERO)))
    return result
