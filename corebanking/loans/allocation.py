"""How a repayment is split over a loan's open installments: oldest installment first and, within an
installment, penalty → fee → interest → principal (the order DOMAIN.md prescribes). Pure functions on
plain values, shared by loans.services and the simulator."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal("0.00")
ORDER = ("penalty", "fee", "interest", "principal")


@dataclass(slots=True)
class Owed:
    """What is still owed on one installment."""

    key: object
    penalty: Decimal = ZERO
    fee: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.penalty + self.fee + self.interest + self.principal


@dataclass(slots=True)
class Allocation:
    key: object
    penalty: Decimal = ZERO
    fee: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.penalty + self.fee + self.interest + self.principal


def allocate(amount: Decimal, owed: list[Owed]) -> tuple[list[Allocation], Decimal]:
    """Split `amount` over `owed` (oldest first). Returns the allocations (installments that got
    nothing are left out) and what remains unallocated (positive when `amount` exceeds all that is owed)."""
    if amount <= 0:
        raise ValueError(f"a repayment must be positive, got {amount}")
    remaining, allocations = amount, []
    for item in owed:
        if remaining <= 0:
            break
        allocation = Allocation(item.key)
        for part in ORDER:
            take = min(remaining, getattr(item, part))
            if take > 0:
                setattr(allocation, part, take)
                remaining -= take
        if allocation.total > 0:
            allocations.append(allocation)
    return allocations, remaining
