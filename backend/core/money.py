"""Exact money arithmetic: every amount is a Decimal rounded half-up to the cent."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_money(value: Decimal | int | str) -> Decimal:
    """`value` as a Decimal rounded half-up to the cent. Floats are refused: they are not exact."""
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass a Decimal, an int or a string")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
