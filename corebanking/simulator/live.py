"""Live mode: keep the institution busy through the service functions — deposits, withdrawals, repayments,
new loans (apply → approve → disburse), fixed deposits — at about `rate` operations a second, dated
today, until stopped (SIGINT/SIGTERM or --duration). Every operation is one service call in its own
transaction, exactly as a teller or the API would make it; what a business rule refuses is counted and
skipped. Every operation acts as the system user `system.simulator` (source "simulator"), so the audit
trail names it. This is what incremental loads and freshness checks watch."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from decimal import Decimal

from core.actor import acting_as, system_user
from core.exceptions import BusinessError

OPERATIONS = (
    ("deposit", 34),
    ("repayment", 36),
    ("withdrawal", 12),
    ("new_loan", 12),
    ("fixed_deposit", 2),
    ("transfer", 4),
)


def _pick(model, rng: random.Random, **filters):
    """A random row of `model` matching `filters`: the first at or after a random id (cheap on big tables)."""
    qs = model.objects.filter(**filters)
    bounds = model.objects.order_by("id").values_list("id", flat=True)
    first, last = bounds.first(), bounds.last()
    if first is None:
        return None
    start = rng.randint(first, last)
    return qs.filter(id__gte=start).order_by("id").first() or qs.order_by("id").first()


class Live:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.done: Counter = Counter()
        self.refused: Counter = Counter()

    def channel(self) -> str:
        u = self.rng.random()
        return "mobile_money" if u < 0.65 else "cash" if u < 0.85 else "agent" if u < 0.95 else "bank"

    def money(self, low: int, high: int, step: int = 50) -> Decimal:
        return Decimal(self.rng.randrange(low, high + 1, step))

    # --- operations ----------------------------------------------------------------------------------------
    def deposit(self) -> bool:
        from savings.models import SavingsAccount
        from savings.services import account_deposit

        account = _pick(SavingsAccount, self.rng, status="active")
        if not account:
            return False
        account_deposit(account=account, amount=self.money(100, 5000), channel=self.channel())
        return True

    def withdrawal(self) -> bool:
        from savings.models import SavingsAccount
        from savings.services import account_withdraw

        account = _pick(SavingsAccount, self.rng, status="active", balance__gt=1000)
        if not account:
            return False
        amount = (account.balance * Decimal("0.3")).quantize(Decimal("1"))
        account_withdraw(account=account, amount=max(Decimal(100), amount), channel=self.channel())
        return True

    def transfer(self) -> bool:
        from savings.models import SavingsAccount
        from savings.services import account_transfer

        source = _pick(SavingsAccount, self.rng, status="active", balance__gt=2000)
        target = _pick(SavingsAccount, self.rng, status="active")
        if not (source and target and source.pk != target.pk):
            return False
        account_transfer(from_account=source, to_account=target, amount=self.money(100, 1000))
        return True

    def repayment(self) -> bool:
        from loans.models import Loan
        from loans.selectors import installment_owed, loan_open_installments
        from loans.services import repayment_post

        loan = _pick(Loan, self.rng, status__in=Loan.OUTSTANDING)
        if not loan:
            return False
        installment = loan_open_installments(loan).order_by("number").first()
        if installment is None:
            return False
        owed = installment_owed(installment).total
        if owed <= 0:
            return False
        repayment_post(loan=loan, amount=owed, channel=self.channel())
        return True

    def new_loan(self) -> bool:
        from customers.models import Customer
        from loans.models import Loan, LoanProduct
        from loans.services import loan_apply, loan_approve, loan_disburse

        customer = _pick(Customer, self.rng, status="active", kyc_status="verified")
        if (
            customer is None
            or Loan.objects.filter(
                customer=customer, status__in=("applied", "approved", "active", "restructured")
            ).exists()
        ):
            return False
        membership = customer.memberships.filter(left_on__isnull=True).select_related("group").first()
        kind = "group" if membership else "individual"
        product = self.rng.choice(list(LoanProduct.objects.filter(lending_type=kind, is_active=True)))
        amount = max(product.min_amount, min(product.max_amount, self.money(5000, 60000, 500)))
        term = self.rng.randint(product.min_term, product.max_term)
        # Maker-checker: three different users apply, approve and disburse (access.policy), each a named
        # system user in the audit trail; the disbursement is the ambient simulator's.
        with acting_as(system_user("simulator-officer"), "simulator"):
            loan = loan_apply(
                customer=customer,
                product=product,
                amount=amount,
                term=term,
                purpose="working capital",
                officer=customer.loan_officer,
                group=membership.group if membership else None,
            )
        self.done["loan_apply"] += 1
        with acting_as(system_user("simulator-manager"), "simulator"):
            loan_approve(loan=loan)
        self.done["loan_approve"] += 1
        loan_disburse(loan=loan, channel="mobile_money" if self.rng.random() < 0.6 else "cash")
        return True

    def fixed_deposit(self) -> bool:
        from customers.models import Customer
        from investments.models import InvestmentProduct
        from investments.services import investment_place

        customer = _pick(Customer, self.rng, status="active")
        product = self.rng.choice(list(InvestmentProduct.objects.filter(is_active=True)))
        if not customer:
            return False
        investment_place(
            customer=customer,
            product=product,
            amount=max(product.minimum_amount, self.money(10_000, 100_000, 1000)),
            channel="bank",
        )
        return True

    def step(self) -> None:
        names, weights = zip(*OPERATIONS, strict=True)
        name = self.rng.choices(names, weights)[0]
        try:
            if getattr(self, name)():
                self.done[name] += 1
        except BusinessError as exc:
            self.refused[name] += 1
            self.last_refusal = exc.message


def run_live(
    *, rate: float, duration: float | None, seed: int, out, operations: int | None = None
) -> Counter:
    """Write about `rate` operations a second until SIGINT/SIGTERM, `duration` seconds or `operations`
    operations done (refusals do not count); print a summary."""
    from django.db import connection

    connection.ensure_connection()
    from customers.models import Customer

    if not Customer.objects.exists():
        raise BusinessError("live mode needs an institution to work on: run `simulate` (bulk) first")
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    live = Live(seed)
    simulator = system_user("simulator")
    started = time.monotonic()
    interval = 1.0 / rate
    next_at = started
    limit = "until stopped"
    if duration or operations:
        limit = f"for {duration:g} s" if duration else f"for {operations} operations"
    out.write(f"live: writing about {rate:g} operations a second through the services ({limit})")
    try:
        while not stop.is_set():
            now = time.monotonic()
            if duration is not None and now - started >= duration:
                break
            if operations is not None and sum(live.done.values()) >= operations:
                break
            if now < next_at:
                stop.wait(min(next_at - now, 0.5))
                continue
            with acting_as(simulator, "simulator"):
                live.step()
            next_at += interval
            if next_at < now - 1:  # fell behind (slow operations): do not burst to catch up
                next_at = now
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    seconds = time.monotonic() - started
    total = sum(live.done.values())
    parts = ", ".join(f"{k} {v}" for k, v in sorted(live.done.items()))
    out.write(
        f"live: {total} operations in {seconds:.1f} s ({total / seconds if seconds else 0:.1f}/s): {parts}; "
        f"refused by business rules: {sum(live.refused.values())}"
    )
    return live.done
