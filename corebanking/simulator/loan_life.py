"""One loan's life in the simulator, from disbursement to the until date: the schedule, the repayment
behaviour, penalties, a restructure, write-off and recoveries, and its month-end aging for provisioning —
booked as the services book the same operations (docs/ledger.md)."""

from __future__ import annotations

import bisect
from decimal import Decimal

from ledger import chart
from ledger import types as tt
from loans.rules import WRITE_OFF_AFTER_DPD, days_past_due, provision_bucket
from loans.schedule import build_schedule, due_dates
from simulator.context import MONTH_ENDS, Ctx, pct_of, ppm

_schedule_cache: dict = {}


def schedule_amounts(principal: int, product, term: int, rate: Decimal) -> tuple[list[int], list[int]]:
    """Principal and interest parts in cents, by loans.schedule.build_schedule (cached: amounts do not
    depend on the start date)."""
    key = (principal, product.frequency, product.interest_method, term, rate)
    hit = _schedule_cache.get(key)
    if hit is None:
        import datetime as dt

        plan = build_schedule(
            principal=Decimal(principal) / 100,
            annual_rate=rate,
            term=term,
            frequency=product.frequency,
            interest_method=product.interest_method,
            start=dt.date(2000, 1, 3),
        )
        hit = ([int(p.principal * 100) for p in plan], [int(p.interest * 100) for p in plan])
        if len(_schedule_cache) > 200_000:
            _schedule_cache.clear()
        _schedule_cache[key] = hit
    return hit


# A borrower's behaviour on one loan (drawn by simulator.lending): pays on time, pays late, defaults.
ON_TIME, LATE, DEFAULTS = 0, 1, 2


def simulate_loan(
    ctx: Ctx,
    lid: int,
    product,
    principal: int,
    term: int,
    disb: int,
    mode: int,
    into_savings: bool,
    account: int,
) -> tuple[str, int | None, dict]:
    """Disburse a loan and live its repayment history up to the until date. Returns (outcome, day, the
    loan row's final values): ("closed", day, …), ("written_off", day, …) or ("open", None, …).

    The steps, in the order they draw from the customer's random stream: disburse, lay the schedule,
    repay by the behaviour `mode` (ON_TIME, LATE or DEFAULTS; a defaulter may be restructured), a
    defaulter's last sporadic payments, then settle (closed, written off with recoveries, or still open),
    and write the installments and the month-end aging."""
    loan = LoanLife(ctx, lid, product, principal, term, disb)
    loan.disburse(into_savings, account)
    loan.lay_schedule()
    stop, written_off = loan.repay_by_behaviour(mode)
    if written_off is None and stop is not None and loan.first_open() < loan.n:
        written_off = loan.pay_sporadically()
    status, closed, wo_day, final_t = loan.settle(written_off)
    loan.write_installments()
    loan.age_month_ends(closed if closed is not None else wo_day if wo_day is not None else loan.until + 1)
    result = dict(
        updated=max(final_t, loan.disbursed_t),
        fee=loan.fee,
        term=loan.current_term,
        status=status,
        closed=closed,
        written_off=wo_day,
        outstanding=loan.outstanding if status in ("active", "restructured") else 0,
        new_rate=loan.new_rate,
    )
    if status == "closed":
        return "closed", closed, result
    if status == "written_off":
        return "written_off", wo_day, result
    return "open", None, result


class LoanLife:
    """One disbursed loan lived up to the until date. Its schedule is parallel lists indexed by installment
    (due day, parts due and paid, completion day, last update time); a restructure closes the open
    installments at what was paid (superseded) and appends the new schedule after them."""

    __slots__ = (
        "ctx", "lid", "product", "principal", "term", "disbursed_on", "until", "gl", "rows",
        "penalty_ppm", "grace",
        # disbursement
        "fee", "disbursed_t",
        # the schedule, by installment
        "n", "installment_id_base", "due_on", "principal_due", "interest_due", "penalty_due",
        "principal_paid", "interest_paid", "penalty_paid", "completed_on", "updated_t", "superseded",
        "penalized", "first_open_hint",
        # the loan's running state
        "outstanding", "last_t", "last_day", "repaid", "restructured", "new_rate", "current_term",
        "restructured_t",
    )

    def __init__(self, ctx: Ctx, lid: int, product, principal: int, term: int, disb: int) -> None:
        self.ctx, self.lid, self.product = ctx, lid, product
        self.principal, self.term, self.disbursed_on = principal, term, disb
        self.until = ctx.w.until
        self.gl = ctx.w.gl
        self.rows = ctx.ch.rows
        self.penalty_ppm = ppm(product.penalty_rate)
        self.grace = product.penalty_grace_days
        self.outstanding = principal
        self.repaid: list[tuple[int, int]] = []  # (day, principal part), for the month-end aging
        self.restructured = False
        self.new_rate: str | None = None
        self.current_term = term
        self.restructured_t = 0

    # --- disbursement and schedule ------------------------------------------------------------------------
    def disburse(self, into_savings: bool, account: int) -> None:
        """Pay out the principal less the upfront fee (in cash, mobile money, to the bank or into the
        customer's savings account) and book it."""
        ctx, gl, principal, lid = self.ctx, self.gl, self.principal, self.lid
        self.fee = fee = pct_of(principal, ppm(self.product.fee_rate))
        net = principal - fee
        rng = ctx.rng
        channel = "bank" if principal >= 10_000_000 else ("mobile_money" if rng.random() < 0.5 else "cash")
        t0 = ctx.moment(self.disbursed_on)
        if into_savings:
            reference = f"DC-{ctx.cid:07d}-{lid:06d}"
            ctx.ext[account].append((t0, 0, tt.DISBURSEMENT_CREDIT, net, None, "", reference))
            cash_line = (gl[chart.SAVINGS_DEPOSITS], 0, net)
        else:
            ctx.payment(t0, channel, "outbound", "loan_disbursement", net)
            cash_line = (gl[chart.CASH_ACCOUNT_BY_CHANNEL[channel]], 0, net)
        lines = [(gl[chart.LOAN_PORTFOLIO], principal, 0), cash_line]
        if fee:
            lines.append((gl[chart.FEE_INCOME_LOANS], 0, fee))
        ctx.journal("disbursement", t0, "Loan disbursement", "loans", lid, lines)
        self.disbursed_t = self.last_t = t0
        self.last_day = self.disbursed_on

    def lay_schedule(self) -> None:
        """The installments of loans.schedule, as the services would write them at disbursement."""
        product, term, cal = self.product, self.term, self.ctx.w.cal
        principal_parts, interest_parts = schedule_amounts(self.principal, product, term, product.annual_rate)
        start = cal.date(self.disbursed_on)
        dates = due_dates(start, product.frequency, term, product.grace_period_days)
        self.due_on = [cal.day(d) for d in dates]
        self.installment_id_base = len(self.rows["loan_installments"])  # installment i has id base + i + 1
        self.principal_due = list(principal_parts)
        self.interest_due = list(interest_parts)
        self.penalty_due = [0] * term
        self.principal_paid = [0] * term
        self.interest_paid = [0] * term
        self.penalty_paid = [0] * term
        self.completed_on: list[int | None] = [None] * term
        self.updated_t = [self.disbursed_t] * term
        self.superseded = [False] * term
        self.penalized = [False] * term
        self.n = term
        self.first_open_hint = 0

    # --- reading the schedule ------------------------------------------------------------------------------
    def first_open(self) -> int:
        """The first installment not completed (n when all are)."""
        i, n, completed_on = self.first_open_hint, self.n, self.completed_on
        while i < n and completed_on[i] is not None:
            i += 1
        self.first_open_hint = i
        return i

    def owed_through(self, first: int, last: int) -> int:
        """What installments first … last still owe, penalties included."""
        pd, pp, idue, ip = self.principal_due, self.principal_paid, self.interest_due, self.interest_paid
        pen, penp = self.penalty_due, self.penalty_paid
        return sum(pd[i] - pp[i] + idue[i] - ip[i] + pen[i] - penp[i] for i in range(first, last + 1))

    def write_off_day(self, before: int) -> int | None:
        """The first month-end ≥ the last event with the oldest unpaid installment more than
        WRITE_OFF_AFTER_DPD days past due, if it comes before `before` and by the until date."""
        k = self.first_open()
        if k >= self.n:
            return None
        target = max(self.last_day, self.due_on[k] + WRITE_OFF_AFTER_DPD + 1)
        m = bisect.bisect_left(MONTH_ENDS, target)
        if m < len(MONTH_ENDS) and MONTH_ENDS[m] < before and MONTH_ENDS[m] <= self.until:
            return MONTH_ENDS[m]
        return None

    # --- what happens to it --------------------------------------------------------------------------------
    def charge_penalties(self, day: int) -> None:
        """Installments past due + grace days and unpaid get the product's penalty, once, as of the night
        they became late."""
        if not self.penalty_ppm:
            return
        completed_on, penalized, due_on, grace = self.completed_on, self.penalized, self.due_on, self.grace
        penalty_due, updated_t, penalty_ppm = self.penalty_due, self.updated_t, self.penalty_ppm
        principal_due, principal_paid = self.principal_due, self.principal_paid
        interest_due, interest_paid = self.interest_due, self.interest_paid
        for i in range(self.n):
            if completed_on[i] is not None or penalized[i]:
                continue
            if due_on[i] + grace >= day:
                break
            penalized[i] = True
            unpaid = principal_due[i] - principal_paid[i] + interest_due[i] - interest_paid[i]
            amount = pct_of(unpaid, penalty_ppm)
            if amount > 0:
                penalty_due[i] += amount
                late_t = (due_on[i] + grace + 1) * 1440 + 60
                if late_t > updated_t[i]:
                    updated_t[i] = late_t

    def repay(self, day: int, amount: int, first: int) -> None:
        """A repayment of `amount` on `day`, allocated installment by installment from `first` (penalty,
        then interest, then principal, as loans.allocation does) and booked."""
        ctx, gl, rows = self.ctx, self.gl, self.rows
        channel = ctx.channel(day)
        t = ctx.moment(day, channel)
        if t < self.last_t:
            t = self.last_t + 1
        pid = ctx.payment(t, channel, "inbound", "loan_repayment", amount)
        repayments, allocations = rows["loan_repayments"], rows["loan_repayment_allocations"]
        rid = len(repayments) + 1
        principal_due, principal_paid = self.principal_due, self.principal_paid
        interest_due, interest_paid = self.interest_due, self.interest_paid
        penalty_due, penalty_paid = self.penalty_due, self.penalty_paid
        completed_on, updated_t, base = self.completed_on, self.updated_t, self.installment_id_base
        left = amount
        to_principal = to_interest = to_penalty = 0
        i, n = first, self.n
        while left > 0 and i < n:
            if completed_on[i] is None:
                a_pen = min(left, penalty_due[i] - penalty_paid[i])
                left -= a_pen
                a_int = min(left, interest_due[i] - interest_paid[i])
                left -= a_int
                a_pr = min(left, principal_due[i] - principal_paid[i])
                left -= a_pr
                if a_pen or a_int or a_pr:
                    penalty_paid[i] += a_pen
                    interest_paid[i] += a_int
                    principal_paid[i] += a_pr
                    to_principal += a_pr
                    to_interest += a_int
                    to_penalty += a_pen
                    allocations.append((len(allocations) + 1, t, t, a_pr, a_int, 0, a_pen, base + i + 1, rid))
                    updated_t[i] = t
                    if (principal_paid[i] == principal_due[i] and interest_paid[i] == interest_due[i]
                            and penalty_paid[i] == penalty_due[i]):
                        completed_on[i] = day
            i += 1
        assert left == 0, "the simulator never pays more than is owed"
        repayments.append(
            (rid, t, t, day, amount, to_principal, to_interest, 0, to_penalty, self.lid, pid, None)
        )
        lines = [(gl[chart.CASH_ACCOUNT_BY_CHANNEL[channel]], amount, 0)]
        if to_principal:
            lines.append((gl[chart.LOAN_PORTFOLIO], 0, to_principal))
        if to_interest:
            lines.append((gl[chart.INTEREST_INCOME_LOANS], 0, to_interest))
        if to_penalty:
            lines.append((gl[chart.PENALTY_INCOME_LOANS], 0, to_penalty))
        ctx.journal("repayment", t, "Loan repayment", "loan_repayments", rid, lines)
        self.outstanding -= to_principal
        self.repaid.append((day, to_principal))
        self.last_t, self.last_day = t, day

    def restructure(self, day: int, first_open: int) -> None:
        """Close the open installments at what was paid (superseded) and append a new schedule of the
        outstanding principal on a longer term (within the product's limits), at times a lower rate."""
        product, rng, cal = self.product, self.ctx.rng, self.ctx.w.cal
        rate = product.annual_rate
        t = day * 1440 + 720
        if t < self.last_t:
            t = self.last_t + 1
        for i in range(self.n):
            if self.completed_on[i] is None:
                self.principal_due[i] = self.principal_paid[i]
                self.interest_due[i] = self.interest_paid[i]
                self.penalty_due[i] = self.penalty_paid[i]
                self.completed_on[i] = day
                self.superseded[i] = True
                self.updated_t[i] = t
        remaining = self.outstanding
        old_term = self.current_term
        new_term = max(3, self.n - first_open) + (4 if product.frequency != "monthly" else 3)
        new_term = min(max(new_term, product.min_term), product.max_term)  # the product's limits bind
        new_rate = rate if rng.random() < 0.6 else (rate * Decimal("0.8")).quantize(Decimal("0.000001"))
        principal_parts, interest_parts = schedule_amounts(remaining, product, new_term, new_rate)
        self.due_on += [cal.day(d) for d in due_dates(cal.date(day), product.frequency, new_term)]
        self.principal_due += principal_parts
        self.interest_due += interest_parts
        self.penalty_due += [0] * new_term
        self.principal_paid += [0] * new_term
        self.interest_paid += [0] * new_term
        self.penalty_paid += [0] * new_term
        self.completed_on += [None] * new_term
        self.updated_t += [t] * new_term
        self.superseded += [False] * new_term
        self.penalized += [False] * new_term
        self.n += new_term
        restructures = self.rows["loan_restructures"]
        restructures.append(
            (
                len(restructures) + 1,
                t,
                t,
                day,
                remaining,
                old_term,
                new_term,
                f"{rate:.6f}",
                f"{new_rate:.6f}",
                "Arrears after a business setback; rescheduled on a longer term",
                self.lid,
            )
        )
        self.restructured = True
        self.new_rate = f"{new_rate:.6f}"
        self.current_term = new_term
        self.restructured_t = t

    # --- the borrower's behaviour ------------------------------------------------------------------------
    def repay_by_behaviour(self, mode: int) -> tuple[int | None, int | None]:
        """Installment after installment: an ON_TIME payer pays around the due date (at times a few days
        early, or the whole loan off), a LATE payer days to weeks late (at times only part of it), a
        defaulter stops at an installment drawn early in the term — and is restructured in 15% of cases,
        after which most pay on time. Stops when the loan is paid, at the until date, or when it is due
        for write-off. Returns (the installment the defaulter stopped at or None, the write-off day or
        None)."""
        rng, until, due_on = self.ctx.rng, self.until, self.due_on
        stop = None
        if mode == DEFAULTS:
            stop = int(rng.random() ** 1.5 * self.term)  # defaulters mostly stop early
        will_restructure = mode == DEFAULTS and rng.random() < 0.15
        written_off = None
        while True:
            k = self.first_open()
            if k >= self.n:
                break
            if stop is not None and k >= stop:
                if will_restructure and not self.restructured:
                    r_day = due_on[k] + 35 + int(rng.random() * 50)
                    if r_day <= until and r_day > self.last_day and self.outstanding > 0:
                        self.charge_penalties(r_day)
                        self.restructure(r_day, k)
                        self.last_day = r_day
                        if rng.random() < 0.65:
                            stop = None
                            mode = ON_TIME
                        else:
                            stop = self.first_open() + int(rng.random() * 4)
                        continue
                break
            u = rng.random()
            if mode == ON_TIME:
                delay = (
                    0 if u < 0.72 else -1 - int(rng.random() * 3) if u < 0.87 else 1 + int(rng.random() * 6)
                )
            else:
                delay = (
                    int(rng.random() * 4)
                    if u < 0.45
                    else 4 + int(rng.random() * 17)
                    if u < 0.82
                    else 21 + int(rng.random() * 35)
                )
            pay_day = due_on[k] + delay
            if pay_day <= self.last_day:
                pay_day = self.last_day + (1 if k and self.completed_on[k - 1] == self.last_day else 0)
            if pay_day < self.disbursed_on:
                pay_day = self.disbursed_on
            if pay_day > until:
                break
            wo = self.write_off_day(pay_day)
            if wo is not None:
                written_off = wo
                break
            self.charge_penalties(pay_day)
            j = k  # every installment due by the payment day
            while j + 1 < self.n and due_on[j + 1] <= pay_day:
                j += 1
            amount = self.owed_through(k, j)
            if mode == LATE and rng.random() < 0.15 and amount > 20_000:
                amount = max(10_000, (amount * (40 + int(rng.random() * 50)) // 100) // 5_000 * 5_000)
            elif mode == ON_TIME and rng.random() < 0.015:  # pays the loan off early
                amount = self.owed_through(k, self.n - 1)
            if amount <= 0:
                break
            self.repay(pay_day, amount, k)
            if mode == LATE and amount and self.completed_on[k] is None:
                self.last_day = pay_day + 6  # a partial payer comes back a week later at the earliest
        return stop, written_off

    def pay_sporadically(self) -> int | None:
        """A defaulter who stopped: a few part payments at times, then nothing. Returns the write-off day
        (None when the loan is not due for write-off by the until date)."""
        rng, until, n = self.ctx.rng, self.until, self.n
        if rng.random() < 0.4:
            k = self.first_open()
            unit = self.principal_due[k] + self.interest_due[k]
            for _ in range(1 + int(rng.random() * 3)):
                p_day = max(self.last_day + 1, self.due_on[min(k, n - 1)] + 20 + int(rng.random() * 130))
                if p_day > until:
                    break
                wo = self.write_off_day(p_day)
                if wo is not None:
                    return wo
                k = self.first_open()
                if k >= n:
                    break
                self.charge_penalties(p_day)
                part = max(5_000, unit * (20 + int(rng.random() * 40)) // 100)
                amount = min(self.owed_through(k, n - 1), part)
                self.repay(p_day, amount, k)
        return self.write_off_day(until + 1)

    # --- the end state -------------------------------------------------------------------------------------
    def settle(self, written_off: int | None) -> tuple[str, int | None, int | None, int]:
        """The loan's status at the until date: closed when all is paid, written off (with recoveries)
        when due, else still open (with the penalties charged by the until date). Returns (status, closed
        day, write-off day, time of its last change)."""
        status = "active" if not self.restructured else "restructured"
        closed = wo_day = None
        final_t = self.last_t
        if self.first_open() >= self.n:
            status, closed = "closed", self.last_day
        elif written_off is not None:
            self.charge_penalties(written_off)
            wo_day = written_off
            final_t = self.write_off(wo_day)
            status = "written_off"
        else:
            self.charge_penalties(self.until)
            if self.restructured:
                final_t = max(final_t, self.restructured_t)
        if self.restructured:
            self.ctx.ch.stats["restructured_loans"] += 1
        return status, closed, wo_day, final_t

    def write_off(self, wo_day: int) -> int:
        """Write off the outstanding principal on `wo_day` (D 1150 / C 1100), then some recoveries follow.
        Returns the time of the write-off."""
        ctx, gl, rows, outstanding = self.ctx, self.gl, self.rows, self.outstanding
        t = wo_day * 1440 + 1000
        if t <= self.last_t:
            t = self.last_t + 1
        interest_unpaid = sum(
            self.interest_due[i] - self.interest_paid[i]
            for i in range(self.n)
            if self.completed_on[i] is None and self.due_on[i] <= wo_day
        )
        woid = len(rows["loan_write_offs"]) + 1
        rows["loan_write_offs"].append(
            (
                woid,
                t,
                t,
                wo_day,
                outstanding,
                interest_unpaid,
                "More than 180 days past due; collection efforts exhausted",
                self.lid,
            )
        )
        ctx.journal(
            "write_off",
            t,
            "Loan write-off",
            "loan_write_offs",
            woid,
            [(gl[chart.LOAN_LOSS_RESERVE], outstanding, 0), (gl[chart.LOAN_PORTFOLIO], 0, outstanding)],
        )
        ctx.ch.write_offs[ctx.month_of(wo_day)] += outstanding
        self.recover(wo_day, outstanding, interest_unpaid)
        self.outstanding = 0
        return t

    def recover(self, wo_day: int, written_amount: int, interest_unpaid: int) -> None:
        """In 30% of cases one or two recoveries on the written-off loan (D cash / C 1150)."""
        ctx, gl, rows, rng, until = self.ctx, self.gl, self.rows, self.ctx.rng, self.until
        if rng.random() < 0.3:
            recoverable = written_amount + interest_unpaid
            r_day = wo_day
            for _ in range(1 + int(rng.random() * 2)):
                r_day += 30 + int(rng.random() * 150)
                if r_day > until:
                    break
                amount = min(recoverable, max(50_000, written_amount * (10 + int(rng.random() * 30)) // 100))
                amount = amount // 100 * 100 or amount
                if amount <= 0:
                    break
                recoverable -= amount
                channel = ctx.channel(r_day)
                t = ctx.moment(r_day, channel)
                pid = ctx.payment(t, channel, "inbound", "recovery", amount)
                rcid = len(rows["loan_recoveries"]) + 1
                rows["loan_recoveries"].append((rcid, t, t, r_day, amount, self.lid, pid))
                ctx.journal(
                    "recovery",
                    t,
                    "Recovery on a written-off loan",
                    "loan_recoveries",
                    rcid,
                    [
                        (gl[chart.CASH_ACCOUNT_BY_CHANNEL[channel]], amount, 0),
                        (gl[chart.LOAN_LOSS_RESERVE], 0, amount),
                    ],
                )
                ctx.ch.recoveries[ctx.month_of(r_day)] += amount

    def write_installments(self) -> None:
        """The `loan_installments` rows in their final state."""
        inst = self.rows["loan_installments"]
        base = self.installment_id_base
        for i in range(self.n):
            created = self.disbursed_t if i < self.term else self.restructured_t
            inst.append(
                (
                    base + i + 1,
                    created,
                    max(created, self.updated_t[i]),
                    i + 1,
                    self.due_on[i],
                    self.principal_due[i],
                    self.interest_due[i],
                    0,
                    self.penalty_due[i],
                    self.principal_paid[i],
                    self.interest_paid[i],
                    0,
                    self.penalty_paid[i],
                    self.completed_on[i],
                    "t" if self.superseded[i] else "f",
                    self.lid,
                )
            )

    def age_month_ends(self, end: int) -> None:
        """Add the loan's outstanding principal at each month-end before `end` (closed, written off or
        past the until date) to its provisioning bucket by days past due (loans.rules), for the
        institution's provisioning runs."""
        m = bisect.bisect_left(MONTH_ENDS, self.disbursed_on)
        aging = self.ctx.ch.aging
        repaid, n, due_on, completed_on = self.repaid, self.n, self.due_on, self.completed_on
        pi = paid = oldest_open = 0
        while m < len(MONTH_ENDS) and MONTH_ENDS[m] < end:
            me = MONTH_ENDS[m]
            while pi < len(repaid) and repaid[pi][0] <= me:
                paid += repaid[pi][1]
                pi += 1
            while oldest_open < n and (done := completed_on[oldest_open]) is not None and done <= me:
                oldest_open += 1
            out = self.principal - paid
            if out > 0:
                dpd = days_past_due(me, due_on[oldest_open] if oldest_open < n else None)
                aging[m][provision_bucket(dpd)] += out
            m += 1
