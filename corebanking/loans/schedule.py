"""Repayment schedules, by the standard formulas, to the cent.

- Flat: interest on the original principal for the whole term, I = P × annual_rate × n / periods_per_year;
  every installment pays P/n of principal and I/n of interest.
- Declining balance (annuity): equal installments A = P·r / (1 − (1 + r)^−n) with r = annual_rate /
  periods_per_year; each period's interest is the outstanding balance × r, the rest of A is principal.

Amounts are rounded half-up to the cent; the rounding differences go to the last installment, so the
principal parts always sum to P exactly. Used by loans.services and by the simulator alike."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

CENT = Decimal("0.01")
PERIODS_PER_YEAR = {"weekly": 52, "fortnightly": 26, "monthly": 12}


@dataclass(frozen=True, slots=True)
class PlannedInstallment:
    number: int
    due_on: dt.date
    principal: Decimal
    interest: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_dates(start: dt.date, frequency: str, term: int, grace_days: int = 0) -> list[dt.date]:
    """The `term` due dates of a loan disbursed on `start`: one period apart, the first one period
    (plus `grace_days`) after `start`."""
    if frequency not in PERIODS_PER_YEAR:
        raise ValueError(
            f"unknown repayment frequency {frequency!r}; expected one of {sorted(PERIODS_PER_YEAR)}"
        )
    anchor = start + dt.timedelta(days=grace_days)
    if frequency == "monthly":
        return [add_months(anchor, k) for k in range(1, term + 1)]
    step = 7 if frequency == "weekly" else 14
    return [anchor + dt.timedelta(days=step * k) for k in range(1, term + 1)]


def build_schedule(
    *,
    principal: Decimal,
    annual_rate: Decimal,
    term: int,
    frequency: str,
    interest_method: str,
    start: dt.date,
    grace_days: int = 0,
) -> list[PlannedInstallment]:
    """The installments of a loan of `principal` disbursed on `start`. `annual_rate` is a fraction
    (0.24 = 24% a year); `interest_method` is "flat" or "declining"."""
    if principal <= 0:
        raise ValueError(f"principal must be positive, got {principal}")
    if term < 1:
        raise ValueError(f"term must be at least one installment, got {term}")
    if annual_rate < 0:
        raise ValueError(f"annual rate must not be negative, got {annual_rate}")
    principal = _cents(Decimal(principal))
    dates = due_dates(start, frequency, term, grace_days)
    rate = Decimal(annual_rate) / PERIODS_PER_YEAR[frequency]
    with localcontext() as ctx:
        ctx.prec = 34
        if interest_method == "flat":
            parts = _flat(principal, Decimal(annual_rate), term, PERIODS_PER_YEAR[frequency])
        elif interest_method == "declining":
            parts = _declining(principal, rate, term)
        else:
            raise ValueError(f"unknown interest method {interest_method!r}; expected 'flat' or 'declining'")
    return [PlannedInstallment(k + 1, dates[k], p, i) for k, (p, i) in enumerate(parts)]


def _flat(
    principal: Decimal, annual_rate: Decimal, term: int, per_year: int
) -> list[tuple[Decimal, Decimal]]:
    total_interest = _cents(principal * annual_rate * term / per_year)
    principal_each, interest_each = _cents(principal / term), _cents(total_interest / term)
    parts = [(principal_each, interest_each)] * (term - 1)
    parts.append((principal - principal_each * (term - 1), total_interest - interest_each * (term - 1)))
    return parts


def _declining(principal: Decimal, rate: Decimal, term: int) -> list[tuple[Decimal, Decimal]]:
    if rate == 0:
        return [(p, Decimal("0.00")) for p, _ in _flat(principal, Decimal(0), term, 1)]
    installment = _cents(principal * rate / (1 - (1 + rate) ** -term))
    parts, balance = [], principal
    for k in range(term):
        interest = _cents(balance * rate)
        part = balance if k == term - 1 else min(installment - interest, balance)
        parts.append((part, interest))
        balance -= part
    return parts
