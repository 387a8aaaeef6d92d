"""Recording money that crosses the institution's boundary. Other apps' services call
`payment_record` in the same transaction as the journal entry that books the payment."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from core.clock import business_moment
from core.exceptions import BusinessError
from customers.models import Branch, Customer
from payments.models import Payment

# The prefix of generated references, by purpose: short, so a teller can read one out.
REFERENCE_PREFIX = {
    Payment.Purpose.LOAN_REPAYMENT: "RP",
    Payment.Purpose.LOAN_DISBURSEMENT: "DB",
    Payment.Purpose.RECOVERY: "RC",
    Payment.Purpose.DEPOSIT: "DP",
    Payment.Purpose.WITHDRAWAL: "WD",
    Payment.Purpose.FIXED_DEPOSIT: "FD",
    Payment.Purpose.FIXED_DEPOSIT_PAYOUT: "FP",
    Payment.Purpose.OPERATING_EXPENSE: "OX",
    Payment.Purpose.FUNDING: "FN",
    Payment.Purpose.FUNDING_SERVICE: "FS",
}


def payment_reference_new(purpose: str) -> str:
    """A unique reference for a payment the institution originates: a prefix by purpose and a UUID4."""
    return f"{REFERENCE_PREFIX.get(purpose, 'PM')}-{uuid.uuid4().hex}"


@transaction.atomic
def payment_record(
    *,
    purpose: str,
    direction: str,
    channel: str,
    amount: Decimal,
    branch: Branch,
    customer: Customer | None = None,
    on: dt.date | None = None,
    reference: str | None = None,
    provider_data: dict | None = None,
) -> Payment:
    """Record a completed payment of `amount` (already validated by the caller) in the institution's
    currency. `reference` is the provider's (unique); without one, a unique reference is generated.

    Refuses an unknown channel, direction or purpose and a reference that is already used (the same
    money must not be booked twice)."""
    for value, choices, what in (
        (channel, Payment.Channel, "channel"),
        (direction, Payment.Direction, "direction"),
        (purpose, Payment.Purpose, "purpose"),
    ):
        if value not in choices.values:
            raise BusinessError(
                f"payment of {amount} refused: unknown {what} {value!r}; expected one of "
                f"{', '.join(choices.values)}"
            )
    if reference is None:
        reference = payment_reference_new(purpose)
    elif Payment.objects.filter(reference=reference).exists():
        raise BusinessError(
            f"payment of {amount} refused: reference {reference} is already recorded",
            code="duplicate_reference",
        )
    moment = business_moment(on)
    return Payment.objects.create(
        reference=reference,
        channel=channel,
        direction=direction,
        purpose=purpose,
        amount=amount,
        currency=settings.FINHOUSE_CURRENCY,
        status=Payment.Status.COMPLETED,
        customer=customer,
        branch=branch,
        initiated_at=moment,
        completed_at=moment,
        provider_data=provider_data or {},
    )


@transaction.atomic
def payment_reverse(*, payment: Payment) -> Payment:
    """Mark a completed payment reversed (the money went back). The caller posts the reversing
    journal entry. Refuses a payment that is not completed."""
    payment.refresh_from_db(from_queryset=Payment.objects.select_for_update())
    if payment.status != Payment.Status.COMPLETED:
        raise BusinessError(
            f"reversal of payment {payment.reference} refused: it is {payment.status}, not completed"
        )
    payment.status = Payment.Status.REVERSED
    payment.save(update_fields=["status"])
    return payment
