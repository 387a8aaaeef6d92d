"""Exact money arithmetic: every amount is a Decimal rounded half-up to the cent."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_money(value: Decimal | int | str) -> Decimal:
    """`value` as a Decimal rounded half-up to the cent. Floats are refused: they are not exact."""
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass a Decimal, an int or a string")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money_amount(value: object, *, what: str = "amount", allow_zero: bool = False) -> Decimal:
    """`value` as an exact amount of money for a service, or a BusinessError saying why not.

    Refused: floats (not exact), anything that is not a number, fractions of a cent, and amounts that
    are negative (or zero, unless `allow_zero`)."""
    from core.exceptions import BusinessError

    if isinstance(value, float):
        raise BusinessError(
            f"{what} {value!r} refused: money must be a Decimal (or an int or a string), never a float, "
            "which cannot hold cents exactly",
            code="float_amount",
        )
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise BusinessError(f"{what} {value!r} refused: not an amount of money", code="invalid_amount")
    try:
        amount = Decimal(value)
    except ArithmeticError:
        raise BusinessError(
            f"{what} {value!r} refused: not an amount of money", code="invalid_amount"
        ) from None
    if not amount.is_finite():
        raise BusinessError(f"{what} {value!r} refused: not an amount of money", code="invalid_amount")
    if amount != amount.quantize(CENT):
        raise BusinessError(f"{what} {amount} refused: it has fractions of a cent", code="invalid_amount")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise BusinessError(
            f"{what} {amount} refused: it must be {'zero or more' if allow_zero else 'positive'}",
            code="non_positive_amount",
        )
    return amount.quantize(CENT)
