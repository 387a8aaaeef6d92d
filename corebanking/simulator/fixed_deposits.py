"""A customer's fixed deposits in the simulator: placements, monthly earnings, payouts at maturity or
early, booked as the investments services book them (docs/ledger.md)."""

from __future__ import annotations

import bisect

from ledger import chart
from ledger import types as tt
from simulator.context import MONTH_ENDS, Ctx, pct_of, ppm
from simulator.world import INVESTMENT_PRODUCTS


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
