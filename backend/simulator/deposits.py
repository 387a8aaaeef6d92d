"""A customer's savings accounts and fixed deposits in the simulator: deposits, withdrawals, fees, interest,
and fixed-deposit placements, earnings and payouts."""

from __future__ import annotations

import bisect

from ledger import chart
from ledger import types as tt
from simulator.context import MONTH_ENDS, Ctx, pct_of, ppm
from simulator.world import INVESTMENT_PRODUCTS, SAVINGS_PRODUCTS

SAVINGS_BY_ID = {p.id: p for p in SAVINGS_PRODUCTS}

# --- fixed deposits ----------------------------------------------------------------------------------------
def simulate_fixed_deposits(ctx: Ctx, wealth: float, primary: int, exit_day: int | None) -> None:
    w, rng, ch = ctx.w, ctx.rng, ctx.ch
    rows = ch.rows
    gl = w.gl
    cal = w.cal
    until = w.until
    day = w.join[ctx.ci] + 30 + int(rng.random() * 700)
    seq = 0
    while day <= until and (exit_day is None or day < exit_day):
        product = INVESTMENT_PRODUCTS[int(rng.random() * len(INVESTMENT_PRODUCTS))]
        principal = max(
            product.minimum_amount, int(wealth * (20_000 + rng.random() * 180_000)) // 1000 * 100_000
        )
        seq += 1
        rate = product.annual_rate
        rate_ppm = ppm(rate)
        maturity = cal.add_months(day, product.term_months)
        early = rng.random() < 0.1
        end = day + 15 + int(rng.random() * (maturity - day - 16)) if early else maturity
        to_savings = exit_day is None and rng.random() < 0.4
        ch_in = "bank" if principal >= 20_000_000 else ctx.channel(day)
        t = ctx.moment(day, ch_in)
        ctx.payment(t, ch_in, "inbound", "fixed_deposit", principal)
        iid = len(rows["investments"]) + 1
        ctx.journal(
            "fd_placement",
            t,
            "Fixed deposit placement",
            "investments",
            iid,
            [
                (gl[chart.CASH_ACCOUNT_BY_CHANNEL[ch_in]], principal, 0),
                (gl[chart.FIXED_DEPOSITS], 0, principal),
            ],
        )
        pay_ch = "bank" if rng.random() < 0.5 else "mobile_money"

        def pay_out(
            t_: int, amount: int, to_savings=to_savings, iid=iid, pay_ch=pay_ch
        ) -> tuple[int, int, int]:
            if to_savings:
                ctx.ext[primary].append(
                    (
                        t_,
                        1,
                        tt.INVESTMENT_PAYOUT,
                        amount,
                        None,
                        "",
                        f"FP-{ctx.cid:07d}-{iid:05d}-{t_ % 10_000_000:07d}",
                    )
                )
                credit = (gl[chart.SAVINGS_DEPOSITS], 0, amount)
            else:
                ctx.payment(t_, pay_ch, "outbound", "fixed_deposit_payout", amount)
                credit = (gl[chart.CASH_ACCOUNT_BY_CHANNEL[pay_ch]], 0, amount)
            return credit

        earnings = rows["investment_earnings"]
        unpaid: list[int] = []  # indexes into earnings of accrued, unpaid
        earned = 0  # every earning accrued, paid or not: what an early redemption's penalty is a share of
        period_start = day
        last_t = t
        accruals = 0
        stop = min(end, until)
        m = bisect.bisect_left(MONTH_ENDS, day)
        boundaries = [me for me in MONTH_ENDS[m:] if me < stop]
        if end <= until:
            boundaries.append(end)
        for pe in boundaries:
            days = pe - period_start
            amount = (principal * rate_ppm * days + 182_500_000) // 365_000_000
            if days <= 0 or amount <= 0:
                continue
            ta = pe * 1440 + 1200
            eid = len(earnings) + 1
            earnings.append(
                [eid, ta, ta, period_start + (1 if period_start != day else 0), pe, amount, pe, None, iid]
            )
            ctx.journal(
                "fd_accrual",
                ta,
                "Fixed deposit interest accrual",
                "investment_earnings",
                eid,
                [
                    (gl[chart.INTEREST_EXPENSE_FIXED_DEPOSITS], amount, 0),
                    (gl[chart.FIXED_DEPOSIT_INTEREST_PAYABLE], 0, amount),
                ],
            )
            unpaid.append(eid - 1)
            earned += amount
            accruals += 1
            period_start = pe
            last_t = ta
            periodic = product.compounding == "monthly" or (
                product.compounding == "quarterly" and accruals % 3 == 0
            )
            if periodic and pe != end:
                total = sum(earnings[x][5] for x in unpaid)
                tp = ta + 10
                credit = pay_out(tp, total)
                ctx.journal(
                    "fd_payout",
                    tp,
                    "Fixed deposit interest payout",
                    "investments",
                    iid,
                    [(gl[chart.FIXED_DEPOSIT_INTEREST_PAYABLE], total, 0), credit],
                )
                for x in unpaid:
                    earnings[x][7] = pe
                    earnings[x][2] = tp
                unpaid = []
                last_t = tp
        status, closed_on = "active", None
        if end <= until:
            accrued = sum(earnings[x][5] for x in unpaid)
            penalty = pct_of(earned, ppm(product.early_withdrawal_penalty_rate)) if early else 0
            paid = principal + accrued - penalty
            tr = end * 1440 + 1230
            credit = pay_out(tr, paid)
            lines = [(gl[chart.FIXED_DEPOSITS], principal, 0)]
            if accrued:
                lines.append((gl[chart.FIXED_DEPOSIT_INTEREST_PAYABLE], accrued, 0))
            lines.append(credit)
            if penalty:
                lines.append((gl[chart.INTEREST_EXPENSE_FIXED_DEPOSITS], 0, penalty))
            ctx.journal("fd_redemption", tr, "Fixed deposit redemption", "investments", iid, lines)
            for x in unpaid:
                earnings[x][7] = end
                earnings[x][2] = tr
            status, closed_on = ("withdrawn_early" if early else "matured"), end
            last_t = tr
        rows["investments"].append(
            (
                iid,
                t,
                last_t,
                f"FD{ctx.cid:07d}{seq:02d}",
                principal,
                f"{rate:.6f}",
                day,
                maturity,
                status,
                closed_on,
                ctx.bid,
                ctx.cid,
                primary if to_savings else None,
                product.id,
            )
        )
        if end > until or rng.random() > 0.4:  # 40% roll over into a new deposit
            break
        day = end + (0 if rng.random() < 0.5 else 1 + int(rng.random() * 20))


# --- savings -----------------------------------------------------------------------------------------------
def simulate_savings(
    ctx: Ctx, accounts, gid: int, wealth: float, exit_day: int | None, wrote_off: bool
) -> None:
    w, rng, ch = ctx.w, ctx.rng, ctx.ch
    rows = ch.rows
    gl = w.gl
    until = w.until
    ttype = w.ttype
    stop = exit_day if exit_day is not None else until
    txns = rows["savings_transactions"]
    cal = w.cal
    for k, (acc_id, product_id, acc_no, opened) in enumerate(accounts):
        product = SAVINGS_BY_ID[product_id]
        t_open = opened * 1440 + 540 + int(rng.random() * 400)
        if opened > until or (exit_day is not None and opened >= exit_day):
            if opened <= until:
                ch.rows["savings_accounts"].append(
                    (acc_id, t_open, t_open, acc_no, "active", opened, None, 0, ctx.bid, ctx.cid, product_id)
                )
            continue
        events: list[tuple] = list(ctx.ext[acc_id])
        # deposits
        primary = k == 0
        if product.kind == "compulsory":
            interval = 7 if rng.random() < 0.3 else 14
            mean = 250 * wealth
        else:
            interval = 14 if rng.random() < 0.3 else 30
            mean = (900 if primary else 2500) * wealth
        day = opened + int(rng.random() * interval)
        active_until = (
            min(stop, ctx.last_activity) if wrote_off else stop if exit_day is None else exit_day - 1
        )
        while day <= active_until:
            if rng.random() < 0.82:
                amount = max(50, int(mean * (0.4 + rng.random() * 1.2))) // 10 * 1000
                events.append((None, 2, 0, amount, day))
            if rng.random() < (0.05 if product.kind == "compulsory" else 0.12):
                events.append((None, 3, 1, 0.3 + rng.random() * 0.6, day + 1 + int(rng.random() * 5)))
            day += interval - 2 + int(rng.random() * 5)
        # month-end fees and quarter-end interest
        m = bisect.bisect_left(MONTH_ENDS, opened)
        for me in MONTH_ENDS[m:]:
            if me > stop:
                break
            if product.monthly_fee:
                events.append((me * 1440 + 1380, 4, 2, product.monthly_fee, me))
            if product.interest_rate and cal.month_num[me] in (3, 6, 9, 12):
                events.append((me * 1440 + 1390, 5, 3, 0, me))
        if exit_day is not None and exit_day <= until:
            events.append((exit_day * 1440 + 1430, 6, 4, 0, exit_day))
        # order: timed events by their time; deposits/withdrawals get a moment on their day
        timed = []
        for ev in events:
            if ev[0] is None:
                t = ctx.moment(ev[4], "cash")
                timed.append((t, ev[1], ev[2], ev[3], ev[4]))
            elif len(ev) == 7:  # external credit: (t, order, type code, amount, payment, channel, reference)
                timed.append((ev[0], 0, 9, ev, ev[0] // 1440))
            else:
                timed.append(ev)
        timed.sort(key=lambda e: (e[0], e[1]))
        balance = 0
        last_t = t_open
        status, closed_on = "active", None
        min_bal = product.minimum_balance
        wfee = product.withdrawal_fee
        rate_ppm = ppm(product.interest_rate)
        last_interest_day = opened
        for t, _order, kind, value, day in timed:
            if day > until:
                continue
            if kind == 9:  # external credit booked elsewhere (disbursement into savings, FD payout)
                _t, _o, code, amount, pay, chn, ref = value
                balance += amount
                txns.append(
                    (len(txns) + 1, t, t, amount, balance, chn, ref, day, t, acc_id, pay, ttype[code])
                )
                last_t = t
                if code == tt.DISBURSEMENT_CREDIT:  # most of a disbursement is drawn soon after
                    if t % 1440 < 1400:
                        amt = (amount * (80 + int(rng.random() * 20)) // 100) // 10_000 * 10_000
                        if amt > 0 and balance - amt - wfee >= min_bal:
                            last_t = withdraw(
                                ctx, acc_id, acc_no, day, amt, wfee, balance, gl, ttype, txns, t + 30
                            )
                            balance -= amt + wfee
                continue
            if kind == 0:  # deposit
                chn = ctx.channel(day)
                if t < last_t:
                    t = last_t + 1
                pid = ctx.payment(t, chn, "inbound", "deposit", value)
                balance += value
                ctx.txn_k += 1
                tid = len(txns) + 1
                txns.append(
                    (
                        tid,
                        t,
                        t,
                        value,
                        balance,
                        chn,
                        f"DP-{ctx.cid:07d}-{ctx.pay_k:05d}",
                        day,
                        t,
                        acc_id,
                        pid,
                        ttype[tt.DEPOSIT],
                    )
                )
                ctx.journal(
                    "deposit",
                    t,
                    "Savings deposit",
                    "savings_transactions",
                    tid,
                    [
                        (gl[chart.CASH_ACCOUNT_BY_CHANNEL[chn]], value, 0),
                        (gl[chart.SAVINGS_DEPOSITS], 0, value),
                    ],
                )
                last_t = t
            elif kind == 1:  # withdrawal of a share of what is available
                avail = balance - min_bal - wfee
                amt = int(avail * value) // 10_000 * 10_000
                if amt >= 10_000:
                    if t < last_t:
                        t = last_t + 1
                    last_t = withdraw(ctx, acc_id, acc_no, day, amt, wfee, balance, gl, ttype, txns, t)
                    balance -= amt + wfee
            elif kind == 2:  # monthly fee
                if balance >= value and day <= until:
                    balance -= value
                    ctx.txn_k += 1
                    tid = len(txns) + 1
                    txns.append(
                        (
                            tid,
                            t,
                            t,
                            value,
                            balance,
                            "",
                            f"FEE-{ctx.cid:07d}-{ctx.txn_k:05d}",
                            day,
                            t,
                            acc_id,
                            None,
                            ttype[tt.FEE],
                        )
                    )
                    ctx.journal(
                        "savings_fee",
                        t,
                        "Monthly account fee",
                        "savings_transactions",
                        tid,
                        [(gl[chart.SAVINGS_DEPOSITS], value, 0), (gl[chart.FEE_INCOME_SAVINGS], 0, value)],
                    )
                    last_t = t
            elif kind == 3:  # quarterly interest on the balance
                days = day - last_interest_day
                last_interest_day = day
                if balance >= min_bal and balance > 0:
                    interest = (balance * rate_ppm * days + 182_500_000) // 365_000_000
                    if interest > 0:
                        balance += interest
                        tid = len(txns) + 1
                        txns.append(
                            (
                                tid,
                                t,
                                t,
                                interest,
                                balance,
                                "",
                                f"INT-{acc_no}-{cal.day_str[day].replace('-', '')}",
                                day,
                                t,
                                acc_id,
                                None,
                                ttype[tt.INTEREST],
                            )
                        )
                        ctx.journal(
                            "savings_interest",
                            t,
                            "Interest on savings",
                            "savings_transactions",
                            tid,
                            [
                                (gl[chart.INTEREST_EXPENSE_SAVINGS], interest, 0),
                                (gl[chart.SAVINGS_DEPOSITS], 0, interest),
                            ],
                        )
                        last_t = t
            elif kind == 4:  # the customer leaves: pay out and close
                if balance > 0:
                    if t < last_t:
                        t = last_t + 1
                    last_t = withdraw(ctx, acc_id, acc_no, day, balance, 0, balance, gl, ttype, txns, t)
                    balance = 0
                status, closed_on = "closed", day
                last_t = max(last_t, t)
        if status == "active" and ctx.last_activity < until - 180:
            status = "dormant"
        ch.rows["savings_accounts"].append(
            (
                acc_id,
                t_open,
                max(t_open, last_t),
                acc_no,
                status,
                opened,
                closed_on,
                balance,
                ctx.bid,
                ctx.cid,
                product_id,
            )
        )


def withdraw(
    ctx: Ctx, acc_id: int, acc_no: str, day: int, amount: int, fee: int, balance: int, gl, ttype, txns, t: int
) -> int:
    chn = "mobile_money" if ctx.rng.random() < 0.4 else "cash"
    pid = ctx.payment(t, chn, "outbound", "withdrawal", amount)
    balance -= amount
    tid = len(txns) + 1
    ref = f"WD-{ctx.cid:07d}-{ctx.pay_k:05d}"
    txns.append((tid, t, t, amount, balance, chn, ref, day, t, acc_id, pid, ttype[tt.WITHDRAWAL]))
    lines = [
        (gl[chart.SAVINGS_DEPOSITS], amount + fee, 0),
        (gl[chart.CASH_ACCOUNT_BY_CHANNEL[chn]], 0, amount),
    ]
    if fee:
        balance -= fee
        txns.append((tid + 1, t, t, fee, balance, "", f"{ref}-FEE", day, t, acc_id, None, ttype[tt.FEE]))
        lines.append((gl[chart.FEE_INCOME_SAVINGS], 0, fee))
    ctx.journal("withdrawal", t, "Savings withdrawal", "savings_transactions", tid, lines)
    return t
