"""A customer's savings accounts in the simulator: what happens on each account (deposits, withdrawals of
a share of what is available, monthly fees, quarterly interest, credits booked elsewhere, closing when the
customer leaves), put in time order and booked as the savings services book them (docs/ledger.md)."""

from __future__ import annotations

import bisect

from ledger import chart
from ledger import types as tt
from simulator.context import MONTH_ENDS, Ctx, ppm
from simulator.world import SAVINGS_PRODUCTS

SAVINGS_BY_ID = {p.id: p for p in SAVINGS_PRODUCTS}

# What an event on an account is (the third field of an event tuple: time or None, order within a
# minute, kind, value, day). A credit booked elsewhere (a disbursement into savings, a fixed-deposit
# payout) comes from ctx.ext as a 7-tuple and becomes an EXTERNAL_CREDIT event.
DEPOSIT, WITHDRAWAL, MONTHLY_FEE, INTEREST, CLOSE, EXTERNAL_CREDIT = 0, 1, 2, 3, 4, 9


def simulate_savings(
    ctx: Ctx, accounts, gid: int, wealth: float, exit_day: int | None, wrote_off: bool
) -> None:
    """Each of the customer's accounts: open it, plan its events, and book them in time order."""
    w, rng, ch = ctx.w, ctx.rng, ctx.ch
    until = w.until
    for k, (acc_id, product_id, acc_no, opened) in enumerate(accounts):
        product = SAVINGS_BY_ID[product_id]
        t_open = opened * 1440 + 540 + int(rng.random() * 400)
        if opened > until or (exit_day is not None and opened >= exit_day):
            if opened <= until:
                ch.rows["savings_accounts"].append(
                    (acc_id, t_open, t_open, acc_no, "active", opened, None, 0, ctx.bid, ctx.cid, product_id)
                )
            continue
        events = plan_events(ctx, acc_id, product, opened, k == 0, wealth, exit_day, wrote_off)
        account = SavingsAccountBook(ctx, acc_id, acc_no, product, opened, t_open)
        account.book(in_time_order(ctx, events))
        status = account.status
        if status == "active" and ctx.last_activity < until - 180:
            status = "dormant"
        ch.rows["savings_accounts"].append(
            (
                acc_id,
                t_open,
                max(t_open, account.last_t),
                acc_no,
                status,
                opened,
                account.closed_on,
                account.balance,
                ctx.bid,
                ctx.cid,
                product_id,
            )
        )


def plan_events(
    ctx: Ctx, acc_id: int, product, opened: int, primary: bool, wealth: float, exit_day: int | None,
    wrote_off: bool,
) -> list[tuple]:
    """What will happen on an account: the credits booked elsewhere, deposits at the customer's rhythm
    (weekly or fortnightly on compulsory savings) while active, now and then a withdrawal of a share of
    what is available, the month-end fees and quarter-end interest, and the closing when the customer
    leaves."""
    w, rng = ctx.w, ctx.rng
    until = w.until
    stop = exit_day if exit_day is not None else until
    events: list[tuple] = list(ctx.ext[acc_id])
    if product.kind == "compulsory":
        interval = 7 if rng.random() < 0.3 else 14
        mean = 250 * wealth
    else:
        interval = 14 if rng.random() < 0.3 else 30
        mean = (900 if primary else 2500) * wealth
    day = opened + int(rng.random() * interval)
    active_until = min(stop, ctx.last_activity) if wrote_off else stop if exit_day is None else exit_day - 1
    while day <= active_until:
        if rng.random() < 0.82:
            amount = max(50, int(mean * (0.4 + rng.random() * 1.2))) // 10 * 1000
            events.append((None, 2, DEPOSIT, amount, day))
        if rng.random() < (0.05 if product.kind == "compulsory" else 0.12):
            events.append((None, 3, WITHDRAWAL, 0.3 + rng.random() * 0.6, day + 1 + int(rng.random() * 5)))
        day += interval - 2 + int(rng.random() * 5)
    m = bisect.bisect_left(MONTH_ENDS, opened)
    for me in MONTH_ENDS[m:]:
        if me > stop:
            break
        if product.monthly_fee:
            events.append((me * 1440 + 1380, 4, MONTHLY_FEE, product.monthly_fee, me))
        if product.interest_rate and w.cal.month_num[me] in (3, 6, 9, 12):
            events.append((me * 1440 + 1390, 5, INTEREST, 0, me))
    if exit_day is not None and exit_day <= until:
        events.append((exit_day * 1440 + 1430, 6, CLOSE, 0, exit_day))
    return events


def in_time_order(ctx: Ctx, events: list[tuple]) -> list[tuple]:
    """The events by time: a deposit or withdrawal gets a moment on its day, then all sort by (time,
    order within the minute)."""
    timed = []
    for ev in events:
        if ev[0] is None:
            t = ctx.moment(ev[4], "cash")
            timed.append((t, ev[1], ev[2], ev[3], ev[4]))
        elif len(ev) == 7:  # external credit: (t, order, type code, amount, payment, channel, reference)
            timed.append((ev[0], 0, EXTERNAL_CREDIT, ev, ev[0] // 1440))
        else:
            timed.append(ev)
    timed.sort(key=lambda e: (e[0], e[1]))
    return timed


class SavingsAccountBook:
    """One account's balance and transactions as its events are booked, in time order."""

    __slots__ = ("ctx", "acc_id", "acc_no", "product", "balance", "last_t", "status", "closed_on",
                 "last_interest_day", "txns")

    def __init__(self, ctx: Ctx, acc_id: int, acc_no: str, product, opened: int, t_open: int) -> None:
        self.ctx, self.acc_id, self.acc_no, self.product = ctx, acc_id, acc_no, product
        self.balance = 0
        self.last_t = t_open
        self.status, self.closed_on = "active", None
        self.last_interest_day = opened
        self.txns = ctx.ch.rows["savings_transactions"]

    def book(self, timed: list[tuple]) -> None:
        until = self.ctx.w.until
        for t, _order, kind, value, day in timed:
            if day > until:
                continue
            if kind == EXTERNAL_CREDIT:
                self.external_credit(t, value, day)
            elif kind == DEPOSIT:
                self.deposit(t, value, day)
            elif kind == WITHDRAWAL:
                self.withdraw_share(t, value, day)
            elif kind == MONTHLY_FEE:
                self.monthly_fee(t, value, day)
            elif kind == INTEREST:
                self.quarterly_interest(t, day)
            elif kind == CLOSE:
                self.close(t, day)

    def external_credit(self, t: int, credit: tuple, day: int) -> None:
        """A credit booked elsewhere (disbursement into savings, fixed-deposit payout): only the savings
        transaction here. Most of a disbursement is drawn soon after."""
        ctx, product = self.ctx, self.product
        _t, _o, code, amount, pay, chn, ref = credit
        self.balance += amount
        txns = self.txns
        txns.append((len(txns) + 1, t, t, amount, self.balance, chn, ref, day, t, self.acc_id, pay,
                     ctx.w.ttype[code]))
        self.last_t = t
        if code == tt.DISBURSEMENT_CREDIT:
            if t % 1440 < 1400:
                amt = (amount * (80 + int(ctx.rng.random() * 20)) // 100) // 10_000 * 10_000
                fee = product.withdrawal_fee
                if amt > 0 and self.balance - amt - fee >= product.minimum_balance:
                    self.last_t = withdraw(ctx, self.acc_id, self.acc_no, day, amt, fee, self.balance,
                                           ctx.w.gl, ctx.w.ttype, txns, t + 30)
                    self.balance -= amt + fee

    def deposit(self, t: int, amount: int, day: int) -> None:
        ctx, gl = self.ctx, self.ctx.w.gl
        chn = ctx.channel(day)
        if t < self.last_t:
            t = self.last_t + 1
        pid = ctx.payment(t, chn, "inbound", "deposit", amount)
        self.balance += amount
        ctx.txn_k += 1
        txns = self.txns
        tid = len(txns) + 1
        txns.append(
            (
                tid,
                t,
                t,
                amount,
                self.balance,
                chn,
                f"DP-{ctx.cid:07d}-{ctx.pay_k:05d}",
                day,
                t,
                self.acc_id,
                pid,
                ctx.w.ttype[tt.DEPOSIT],
            )
        )
        ctx.journal(
            "deposit",
            t,
            "Savings deposit",
            "savings_transactions",
            tid,
            [
                (gl[chart.CASH_ACCOUNT_BY_CHANNEL[chn]], amount, 0),
                (gl[chart.SAVINGS_DEPOSITS], 0, amount),
            ],
        )
        self.last_t = t

    def withdraw_share(self, t: int, share: float, day: int) -> None:
        """Withdraw `share` of what is available above the minimum balance and the fee, in round amounts."""
        product = self.product
        fee = product.withdrawal_fee
        avail = self.balance - product.minimum_balance - fee
        amt = int(avail * share) // 10_000 * 10_000
        if amt >= 10_000:
            if t < self.last_t:
                t = self.last_t + 1
            ctx = self.ctx
            self.last_t = withdraw(ctx, self.acc_id, self.acc_no, day, amt, fee, self.balance, ctx.w.gl,
                                   ctx.w.ttype, self.txns, t)
            self.balance -= amt + fee

    def monthly_fee(self, t: int, fee: int, day: int) -> None:
        ctx, gl = self.ctx, self.ctx.w.gl
        if self.balance >= fee and day <= ctx.w.until:
            self.balance -= fee
            ctx.txn_k += 1
            txns = self.txns
            tid = len(txns) + 1
            txns.append(
                (
                    tid,
                    t,
                    t,
                    fee,
                    self.balance,
                    "",
                    f"FEE-{ctx.cid:07d}-{ctx.txn_k:05d}",
                    day,
                    t,
                    self.acc_id,
                    None,
                    ctx.w.ttype[tt.FEE],
                )
            )
            ctx.journal(
                "savings_fee",
                t,
                "Monthly account fee",
                "savings_transactions",
                tid,
                [(gl[chart.SAVINGS_DEPOSITS], fee, 0), (gl[chart.FEE_INCOME_SAVINGS], 0, fee)],
            )
            self.last_t = t

    def quarterly_interest(self, t: int, day: int) -> None:
        """Interest on the balance for the days since the last posting, rounded half up to the cent."""
        ctx, gl, product = self.ctx, self.ctx.w.gl, self.product
        days = day - self.last_interest_day
        self.last_interest_day = day
        balance = self.balance
        if balance >= product.minimum_balance and balance > 0:
            interest = (balance * ppm(product.interest_rate) * days + 182_500_000) // 365_000_000
            if interest > 0:
                self.balance = balance = balance + interest
                txns = self.txns
                tid = len(txns) + 1
                txns.append(
                    (
                        tid,
                        t,
                        t,
                        interest,
                        balance,
                        "",
                        f"INT-{self.acc_no}-{ctx.w.cal.day_str[day].replace('-', '')}",
                        day,
                        t,
                        self.acc_id,
                        None,
                        ctx.w.ttype[tt.INTEREST],
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
                self.last_t = t

    def close(self, t: int, day: int) -> None:
        """The customer leaves: pay out the balance and close the account."""
        if self.balance > 0:
            if t < self.last_t:
                t = self.last_t + 1
            ctx = self.ctx
            self.last_t = withdraw(ctx, self.acc_id, self.acc_no, day, self.balance, 0, self.balance,
                                   ctx.w.gl, ctx.w.ttype, self.txns, t)
            self.balance = 0
        self.status, self.closed_on = "closed", day
        self.last_t = max(self.last_t, t)


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
