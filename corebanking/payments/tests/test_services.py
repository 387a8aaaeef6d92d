"""Payment recording: unique references, the institution's currency, refusals."""

from decimal import Decimal as D

import pytest

from core.testing import DAY0
from payments.models import Payment
from payments.services import payment_record, payment_reference_new, payment_reverse

pytestmark = pytest.mark.django_db


def test_record_generates_a_unique_reference(branch, customer, settings):
    args = dict(
        purpose="deposit",
        direction="inbound",
        channel="cash",
        amount=D("10.00"),
        branch=branch,
        customer=customer,
        on=DAY0,
    )
    first, second = payment_record(**args), payment_record(**args)
    assert first.reference.startswith("DP-") and first.reference != second.reference
    assert (first.currency, first.status, first.completed_at) == (
        settings.FINHOUSE_CURRENCY,
        "completed",
        first.initiated_at,
    )
    assert first.initiated_at.date() == DAY0


def test_record_refusals(branch, refused):
    args = dict(
        purpose="deposit", direction="inbound", channel="cash", amount=D("10.00"), branch=branch, on=DAY0
    )
    payment_record(reference="MP-1", **args)
    with refused("reference MP-1 is already recorded"):
        payment_record(reference="MP-1", **args)
    with refused("unknown direction 'sideways'"):
        payment_record(**{**args, "direction": "sideways"})
    with refused("unknown purpose 'gift'"):
        payment_record(**{**args, "purpose": "gift"})


def test_reverse_once(branch, refused):
    payment = payment_record(
        purpose="funding", direction="inbound", channel="bank", amount=D("1.00"), branch=branch, on=DAY0
    )
    payment_reverse(payment=payment)
    assert Payment.objects.get(pk=payment.pk).status == "reversed"
    with refused("it is reversed, not completed"):
        payment_reverse(payment=payment)


def test_reference_prefixes():
    assert payment_reference_new("loan_repayment").startswith("RP-")
    assert len(payment_reference_new("other")) == 3 + 32
