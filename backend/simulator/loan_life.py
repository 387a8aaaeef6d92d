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
    loan row's final values): ("closed", day, …), ("written_off", day, …) or ("open", None, …)."""
    w, rng, ch = ctx.w, ctx.rng, ctx.ch
    until = w.until
    gl = w.gl
    rows = ch.rows
    cal = w.cal
    rate = product.annual_rate
    pen_ppm = ppm(product.penalty_rate)
    grace = product.penalty_grace_days
    # --- disbursement
    fee = pct_of(principal, ppm(product.fee_rate))
    net = principal - fee
    channel = "bank" if principal >= 10_000_000 else ("mobile_money" if rng.random() < 0.5 else "cash")
    t0 = ctx.moment(disb)
    if into_savings:
        ctx.ext[account].append((t0, 0, tt.DISBURSEMENT_CREDIT, net, None, "", f"DC-{ctx.cid:07d}-{lid:06d}"))
        cash_line = (gl[chart.SAVINGS_DEPOSITS], 0, net)
    else:
        ctx.payment(t0, channel, "outbound", "loan_disbursement", net)
        cash_line = (gl[chart.CASH_ACCOUNT_BY_CHANNEL[channel]], 0, net)
    lines = [(gl[chart.LOAN_PORTFOLIO], principal, 0), cash_line]
    if fee:
        lines.append((gl[chart.FEE_INCOME_LOANS], 0, fee))
    ctx.journal("disbursement", t0, "Loan disbursement", "loans", lid, lines)

    # --- schedule
    p_parts, i_parts = schedule_amounts(principal, product, term, rate)
    start_date = cal.date(disb)
    dues = [cal.day(d) for d in due_dates(start_date, product.frequency, term, product.grace_period_days)]
    inst = rows["loan_installments"]
    base = len(inst)  # installment k has local id base + k + 1
    pd = list(p_parts)
    idue = list(i_parts)
    pen = [0] * term
    pp = [0] * term
    ip = [0] * term
    penp = [0] * term
    done: list[int | None] = [None] * term
    upd = [t0] * term
    sup = [False] * term
    penalized = [False] * term
    n = term
    pays: list[tuple[int, int]] = []  # (day, principal part), for the month-end aging
    state = {"restructured": False, "new_rate": None, "term": term}
    reps = rows["loan_repayments"]
    allocs = rows["loan_repayment_allocations"]
    outstanding = principal
    last_t = t0
    last_day = disb

    def charge_penalties(day: int) -> None:
        """Installments past due + grace days and unpaid get the product's penalty, once, as of the night
        they became late."""
        if not pen_ppm:
            return
        for i in range(n):
            if done[i] is not None or penalized[i]:
                continue
            if dues[i] + grace >= day:
                break
            penalized[i] = True
            amount = pct_of(pd[i] - pp[i] + idue[i] - ip[i], pen_ppm)
            if amount > 0:
                pen[i] += amount
                late_t = (dues[i] + grace + 1) * 1440 + 60
                if late_t > upd[i]:
                    upd[i] = late_t

    def repay(day: int, amount: int, first: int) -> None:
        nonlocal outstanding, last_t, last_day
        ch_ = ctx.channel(day)
        t = ctx.moment(day, ch_)
        if t < last_t:
            t = last_t + 1
        pid = ctx.payment(t, ch_, "inbound", "loan_repayment", amount)
        rid = len(reps) + 1
        rem = amount
        tp = ti = tpen = 0
        i = first
        while rem > 0 and i < n:
            if done[i] is None:
                a_pen = min(rem, pen[i] - penp[i])
                rem -= a_pen
                a_int = min(rem, idue[i] - ip[i])
                rem -= a_int
                a_pr = min(rem, pd[i] - pp[i])
                rem -= a_pr
                if a_pen or a_int or a_pr:
                    penp[i] += a_pen
                    ip[i] += a_int
                    pp[i] += a_pr
                    tp += a_pr
                    ti += a_int
                    tpen += a_pen
                    allocs.append((len(allocs) + 1, t, t, a_pr, a_int, 0, a_pen, base + i + 1, rid))
                    upd[i] = t
                    if pp[i] == pd[i] and ip[i] == idue[i] and penp[i] == pen[i]:
                        done[i] = day
            i += 1
        assert rem == 0, "the simulator never pays more than is owed"
        reps.append((rid, t, t, day, amount, tp, ti, 0, tpen, lid, pid, None))
        lines = [(gl[chart.CASH_ACCOUNT_BY_CHANNEL[ch_]], amount, 0)]
        if tp:
            lines.append((gl[chart.LOAN_PORTFOLIO], 0, tp))
        if ti:
            lines.append((gl[chart.INTEREST_INCOME_LOANS], 0, ti))
        if tpen:
            lines.append((gl[chart.PENALTY_INCOME_LOANS], 0, tpen))
        ctx.journal("repayment", t, "Loan repayment", "loan_repayments", rid, lines)
        outstanding -= tp
        pays.append((day, tp))
        last_t, last_day = t, day

    fo = [0]

    def first_open() -> int:
        i = fo[0]
        while i < n and done[i] is not None:
            i += 1
        fo[0] = i
        return i

    def owed_through(first: int, j: int) -> int:
        return sum(pd[i] - pp[i] + idue[i] - ip[i] + pen[i] - penp[i] for i in range(first, j + 1))

    def write_off_day(before: int) -> int | None:
        """The first month-end ≥ the last event with the oldest unpaid installment > 180 days past due,
        if it comes before `before` and by the until date."""
        k = first_open()
        if k >= n:
            return None
        target = max(last_day, dues[k] + WRITE_OFF_AFTER_DPD + 1)
        m = bisect.bisect_left(MONTH_ENDS, target)
        if m < len(MONTH_ENDS) and MONTH_ENDS[m] < before and MONTH_ENDS[m] <= until:
            return MONTH_ENDS[m]
        return None

    def restructure(day: int) -> None:
        nonlocal n, dues, pd, idue, pen, pp, ip, penp, done, upd, sup, penalized
        t = day * 1440 + 720
        if t < last_t:
            t = last_t + 1
        for i in range(n):
            if done[i] is None:
                pd[i], idue[i], pen[i] = pp[i], ip[i], penp[i]
                done[i] = day
                sup[i] = True
                upd[i] = t
        remaining = outstanding
        old_term = state["term"]
        new_term = max(3, n - first_unsup_index[0]) + (4 if product.frequency != "monthly" else 3)
        new_term = min(max(new_term, product.min_term), product.max_term)  # the product's limits bind
        new_rate = rate if rng.random() < 0.6 else (rate * Decimal("0.8")).quantize(Decimal("0.000001"))
        p2, i2 = schedule_amounts(remaining, product, new_term, new_rate)
        d2 = [cal.day(d) for d in due_dates(cal.date(day), product.frequency, new_term)]
        dues = dues + d2
        pd = pd + list(p2)
        idue = idue + list(i2)
        pen = pen + [0] * new_term
        pp = pp + [0] * new_term
        ip = ip + [0] * new_term
        penp = penp + [0] * new_term
        done = done + [None] * new_term
        upd = upd + [t] * new_term
        sup = sup + [False] * new_term
        penalized = penalized + [False] * new_term
        n += new_term
        rows["loan_restructures"].append(
            (
                len(rows["loan_restructures"]) + 1,
                t,
                t,
                day,
                remaining,
                old_term,
                new_term,
                f"{rate:.6f}",
                f"{new_rate:.6f}",
                "Arrears after a business setback; rescheduled on a longer term",
                lid,
            )
        )
        state["restructured"] = True
        state["new_rate"] = f"{new_rate:.6f}"
        state["term"] = new_term
        state["created_t"] = t
        state["restructure_day"] = day

    first_unsup_index = [0]
    # --- the repayment behaviour
    stop = None
    if mode == 2:
        stop = int(rng.random() ** 1.5 * term)  # defaulters mostly stop early
    will_restructure = mode == 2 and rng.random() < 0.15
    k = 0
    written_off = None
    while True:
        k = first_open()
        if k >= n:
            break
        if stop is not None and k >= stop:
            if will_restructure and not state["restructured"]:
                r_day = dues[k] + 35 + int(rng.random() * 50)
                if r_day <= until and r_day > last_day and outstanding > 0:
                    charge_penalties(r_day)
                    first_unsup_index[0] = k
                    restructure(r_day)
                    last_day = r_day
                    if rng.random() < 0.65:
                        stop = None
                        mode = 0
                    else:
                        stop = first_open() + int(rng.random() * 4)
                    continue
            break
        if mode == 0:
            u = rng.random()
            delay = 0 if u < 0.72 else -1 - int(rng.random() * 3) if u < 0.87 else 1 + int(rng.random() * 6)
        else:
            u = rng.random()
            delay = (
                int(rng.random() * 4)
                if u < 0.45
                else 4 + int(rng.random() * 17)
                if u < 0.82
                else 21 + int(rng.random() * 35)
            )
        pay_day = dues[k] + delay
        if pay_day <= last_day:
            pay_day = last_day + (1 if k and done[k - 1] == last_day else 0)
        if pay_day < disb:
            pay_day = disb
        if pay_day > until:
            break
        wo = write_off_day(pay_day)
        if wo is not None:
            written_off = wo
            break
        charge_penalties(pay_day)
        j = k
        while j + 1 < n and dues[j + 1] <= pay_day:
            j += 1
        amount = owed_through(k, j)
        if mode == 1 and rng.random() < 0.15 and amount > 20_000:
            amount = max(10_000, (amount * (40 + int(rng.random() * 50)) // 100) // 5_000 * 5_000)
        elif mode == 0 and rng.random() < 0.015:  # pays the loan off early
            amount = owed_through(k, n - 1)
        if amount <= 0:
            break
        repay(pay_day, amount, k)
        if mode == 1 and amount and done[k] is None:
            last_day = pay_day + 6  # a partial payer comes back a week later at the earliest
    # defaulters: a few sporadic part payments, then nothing
    if written_off is None and stop is not None and first_open() < n:
        if rng.random() < 0.4:
            k = first_open()
            unit = pd[k] + idue[k]
            for _ in range(1 + int(rng.random() * 3)):
                p_day = max(last_day + 1, dues[min(k, n - 1)] + 20 + int(rng.random() * 130))
                if p_day > until:
                    break
                wo = write_off_day(p_day)
                if wo is not None:
                    written_off = wo
                    break
                k = first_open()
                if k >= n:
                    break
                charge_penalties(p_day)
                amount = min(owed_through(k, n - 1), max(5_000, unit * (20 + int(rng.random() * 40)) // 100))
                repay(p_day, amount, k)
        if written_off is None:
            written_off = write_off_day(until + 1)

    # --- the end state
    status = "active" if not state["restructured"] else "restructured"
    closed = None
    wo_day = None
    final_t = last_t
    if first_open() >= n:
        status, closed = "closed", last_day
    elif written_off is not None:
        charge_penalties(written_off)
        wo_day = written_off
        t = wo_day * 1440 + 1000
        if t <= last_t:
            t = last_t + 1
        interest_unpaid = sum(idue[i] - ip[i] for i in range(n) if done[i] is None and dues[i] <= wo_day)
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
                lid,
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
        status = "written_off"
        final_t = t
        written_amount = outstanding
        # some recoveries follow
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
                ch_ = ctx.channel(r_day)
                t = ctx.moment(r_day, ch_)
                pid = ctx.payment(t, ch_, "inbound", "recovery", amount)
                rcid = len(rows["loan_recoveries"]) + 1
                rows["loan_recoveries"].append((rcid, t, t, r_day, amount, lid, pid))
                ctx.journal(
                    "recovery",
                    t,
                    "Recovery on a written-off loan",
                    "loan_recoveries",
                    rcid,
                    [
                        (gl[chart.CASH_ACCOUNT_BY_CHANNEL[ch_]], amount, 0),
                        (gl[chart.LOAN_LOSS_RESERVE], 0, amount),
                    ],
                )
                ctx.ch.recoveries[ctx.month_of(r_day)] += amount
        outstanding = 0
    else:
        charge_penalties(until)
        if state["restructured"]:
            final_t = max(final_t, state["created_t"])
    if state["restructured"]:
        ch.stats["restructured_loans"] += 1

    # installments, final state
    for i in range(n):
        created = t0 if i < term else state["created_t"]
        inst.append(
            (
                base + i + 1,
                created,
                max(created, upd[i]),
                i + 1,
                dues[i],
                pd[i],
                idue[i],
                0,
                pen[i],
                pp[i],
                ip[i],
                0,
                penp[i],
                done[i],
                "t" if sup[i] else "f",
                lid,
            )
        )

    # month-end aging of this loan, for the provisioning runs
    end = closed if closed is not None else wo_day if wo_day is not None else until + 1
    m = bisect.bisect_left(MONTH_ENDS, disb)
    aging = ch.aging
    pi = 0
    paid = 0
    ptr = 0
    npays = len(pays)
    while m < len(MONTH_ENDS) and MONTH_ENDS[m] < end:
        me = MONTH_ENDS[m]
        while pi < npays and pays[pi][0] <= me:
            paid += pays[pi][1]
            pi += 1
        while ptr < n and done[ptr] is not None and done[ptr] <= me:
            ptr += 1
        out = principal - paid
        if out > 0:
            dpd = days_past_due(me, dues[ptr] if ptr < n else None)
            aging[m][provision_bucket(dpd)] += out
        m += 1

    result = dict(
        updated=max(final_t, t0),
        fee=fee,
        term=state["term"],
        status=status,
        closed=closed,
        written_off=wo_day,
        outstanding=outstanding if status in ("active", "restructured") else 0,
        new_rate=state["new_rate"],
    )
    if status == "closed":
        return "closed", closed, result
    if status == "written_off":
        return "written_off", wo_day, result
    return "open", None, result
