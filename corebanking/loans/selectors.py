"""Reads about loans that need care, in one place for the services, the admin and the API: days past
due, arrears, what is owed, and the reserve the loan-loss provisioning policy requires — the rules
themselves (what DPD is, the policy) are loans.rules, applied here to the installments in the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, Min, Q, QuerySet, Sum

from core.clock import as_of_date
from core.models import ZERO
from loans import rules
from loans.allocation import Owed
from loans.models import Loan, LoanInstallment


def overdue_on(as_of: dt.date) -> Q:
    """Installments due before `as_of` and not fully paid by the end of it: the oldest one's due date gives
    the days past due (rules.days_past_due), their dues the arrears. An installment a restructure
    superseded was closed on the restructure date (completed_on), so it counts until then, as in the dbt
    aging (macro installment_overdue) and the simulator: a loan was in arrears before it was restructured."""
    return Q(due_on__lt=as_of) & (Q(completed_on__isnull=True) | Q(completed_on__gt=as_of))


def loan_days_past_due(loan: Loan, as_of: dt.date | None = None) -> int:
    """Days past due of `loan` on `as_of` (default today): as_of − due date of its oldest installment
    not fully paid by then, or 0 when none is overdue (an installment due on as_of is not yet late)."""
    as_of = as_of_date(as_of)
    oldest = LoanInstallment.objects.filter(overdue_on(as_of), loan=loan).aggregate(
        oldest=Min("due_on")
    )["oldest"]
    return rules.days_past_due(as_of, oldest)


def loans_days_past_due(loans: QuerySet[Loan], as_of: dt.date | None = None) -> dict[int, int]:
    """Days past due of many loans at once (one query): loan id → DPD on `as_of`; loans with nothing
    overdue map to 0."""
    as_of = as_of_date(as_of)
    result = dict.fromkeys(loans.values_list("id", flat=True), 0)
    rows = (
        LoanInstallment.objects.filter(overdue_on(as_of), loan__in=loans)
        .values("loan_id")
        .annotate(oldest=Min("due_on"))
    )
    for row in rows:
        result[row["loan_id"]] = rules.days_past_due(as_of, row["oldest"])
    return result


@dataclass(frozen=True, slots=True)
class LoanArrears:
    """What of a loan is overdue on `as_of` (installments due before it and not fully paid)."""

    as_of: dt.date
    days_past_due: int
    installments_missed: int
    oldest_due_on: dt.date | None
    principal: Decimal
    interest: Decimal
    fees: Decimal
    penalties: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fees + self.penalties

    @property
    def in_arrears(self) -> bool:
        return self.days_past_due > 0


def loan_arrears_get(loan: Loan, as_of: dt.date | None = None) -> LoanArrears:
    """The arrears of `loan` on `as_of` (default today): overdue principal, interest, fees and
    penalties (due minus paid so far), the number of installments due before `as_of` and not fully
    paid, the oldest such due date and the days past due (`loan_days_past_due`)."""
    as_of = as_of_date(as_of)
    overdue = LoanInstallment.objects.filter(overdue_on(as_of), loan=loan)
    agg = overdue.aggregate(
        n=Count("id"),
        oldest=Min("due_on"),
        principal=Sum(F("principal_due") - F("principal_paid")),
        interest=Sum(F("interest_due") - F("interest_paid")),
        fees=Sum(F("fee_due") - F("fee_paid")),
        penalties=Sum(F("penalty_due") - F("penalty_paid")),
    )
    oldest = agg["oldest"]
    return LoanArrears(
        as_of=as_of,
        days_past_due=rules.days_past_due(as_of, oldest),
        installments_missed=agg["n"] or 0,
        oldest_due_on=oldest,
        principal=agg["principal"] or ZERO,
        interest=agg["interest"] or ZERO,
        fees=agg["fees"] or ZERO,
        penalties=agg["penalties"] or ZERO,
    )


def loan_open_installments(loan: Loan) -> QuerySet[LoanInstallment]:
    """The installments of the current schedule with something still owed, oldest first."""
    return LoanInstallment.objects.filter(loan=loan, superseded=False, completed_on__isnull=True).order_by(
        "due_on", "number"
    )


def installment_owed(installment: LoanInstallment) -> Owed:
    """What is still owed on one installment, by part (keyed by the installment itself)."""
    return Owed(
        key=installment,
        penalty=installment.penalty_due - installment.penalty_paid,
        fee=installment.fee_due - installment.fee_paid,
        interest=installment.interest_due - installment.interest_paid,
        principal=installment.principal_due - installment.principal_paid,
    )


def loan_owed_get(loan: Loan) -> Owed:
    """Everything still owed on `loan` (all open installments, due or not), by part."""
    agg = loan_open_installments(loan).aggregate(
        principal=Sum(F("principal_due") - F("principal_paid")),
        interest=Sum(F("interest_due") - F("interest_paid")),
        fee=Sum(F("fee_due") - F("fee_paid")),
        penalty=Sum(F("penalty_due") - F("penalty_paid")),
    )
    return Owed(
        key=loan.pk, **{part: agg[part] or ZERO for part in ("principal", "interest", "fee", "penalty")}
    )


@dataclass(frozen=True, slots=True)
class ProvisionRequirement:
    as_of: dt.date
    required_reserve: Decimal
    # bucket rate → (number of loans, outstanding principal)
    buckets: dict[Decimal, tuple[int, Decimal]]


def provision_required(as_of: dt.date | None = None) -> ProvisionRequirement:
    """The loan-loss reserve the aging policy (loans.rules.PROVISION_POLICY) requires on `as_of`: over the
    outstanding loans, Σ rate(DPD bucket) × principal outstanding, rounded half-up to the cent once
    per bucket."""
    as_of = as_of_date(as_of)
    loans = Loan.objects.filter(status__in=Loan.OUTSTANDING, principal_outstanding__gt=0)
    dpd = loans_days_past_due(loans, as_of)
    buckets: dict[Decimal, tuple[int, Decimal]] = {rate: (0, ZERO) for rate in rules.PROVISION_RATES}
    for loan_id, principal in loans.values_list("id", "principal_outstanding"):
        rate = rules.provision_rate(dpd[loan_id])
        count, total = buckets[rate]
        buckets[rate] = (count + 1, total + principal)
    required = rules.required_reserve((rate, total) for rate, (_, total) in buckets.items())
    return ProvisionRequirement(as_of=as_of, required_reserve=required, buckets=buckets)
