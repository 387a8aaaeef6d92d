"""The per-customer simulation: one customer's whole history — savings, loans and their repayments,
fixed deposits — as rows of the business tables and the journal entries that book them, exactly as the
services book the same operations (docs/ledger.md).

Everything is integer cents and integer days (simulator.calendar). Each customer draws from its own
random stream, rng_for(seed, 2, customer index), so a customer's history does not depend on which
process simulates it or on any other customer. Ids are chunk-local here (1, 2, … per table within a
chunk of customers); simulator.parallel turns them into global ids by prefix sums over chunks.

The steps live in their own modules: simulator.context (the chunk, the customer's context, month-ends),
simulator.lending (applications and the loan cycle), simulator.loan_life (one loan's life),
simulator.savings and simulator.fixed_deposits.
"""

from __future__ import annotations

import bisect

from simulator.context import MONTH_ENDS, N_BUCKETS, Chunk, Ctx, set_month_ends
from simulator.fixed_deposits import simulate_fixed_deposits
from simulator.lending import simulate_loans
from simulator.savings import simulate_savings
from simulator.world import World

__all__ = ["MONTH_ENDS", "N_BUCKETS", "Chunk", "W", "n_months", "prepare", "simulate_chunk"]

W: World | None = None  # set in the main process before the workers fork


def prepare(w: World) -> None:
    global W
    W = w
    set_month_ends(w)


def n_months() -> int:
    return len(MONTH_ENDS)


# ---------------------------------------------------------------------------------------------------------
def simulate_chunk(first: int, last: int) -> Chunk:
    """Customers first … last-1."""
    ch = Chunk(len(MONTH_ENDS))
    for ci in range(first, last):
        simulate_customer(W, ch, ci)
    return ch


def simulate_customer(w: World, ch: Chunk, ci: int) -> None:
    ctx = Ctx(w, ch, ci)
    rng = ctx.rng
    join = w.join[ci]
    gid = w.group[ci]
    profile_u = rng.random()
    profile = 0 if profile_u < 0.74 else 1 if profile_u < 0.93 else 2  # good, late payer, risky
    wealth = rng.lognormvariate(0, 0.45)
    sector = w.static[ci].rsplit("\t", 1)[1]
    borrower = rng.random() < (0.97 if gid else 0.72)
    exit_day = None
    if not borrower and rng.random() < 0.25:
        exit_day = join + rng.randint(200, 900)

    accounts = w.accounts[ci]
    primary = accounts[0][0]
    for acc in accounts:
        ctx.ext[acc[0]] = []

    wrote_off = False
    if borrower:
        exit_day, wrote_off = simulate_loans(ctx, profile, wealth, sector, gid, primary, exit_day)
    if rng.random() < 0.035 * min(3.0, wealth * wealth):
        simulate_fixed_deposits(ctx, wealth, primary, exit_day)
    if exit_day is not None and exit_day > w.until:
        exit_day = None
    simulate_savings(ctx, accounts, gid, wealth, None if wrote_off else exit_day, wrote_off)

    # the customer row, the membership row
    until = w.until
    kyc_day = min(until, join + 1 + int(rng.random() * 6))
    kyc = "verified" if kyc_day < until else "pending"
    if exit_day is not None:
        status, updated = "exited", exit_day
    elif ctx.last_activity < until - 180:
        status, updated = "dormant", ctx.last_activity + 180
    else:
        status, updated = "active", kyc_day
    t_join = join * 1440 + 540 + int(rng.random() * 420)
    t_upd = max(t_join, updated * 1440 + 600)
    ch.rows["customers"].append(
        (ctx.cid, t_join, t_upd, None, w.static[ci], kyc, status, join, ctx.bid, w.officer[ci])
    )
    if gid:
        left = exit_day
        ch.rows["group_memberships"].append(
            (
                w.membership[ci],
                t_join,
                t_upd if left is not None else t_join,
                None,
                "leader" if w.leader[ci] else "member",
                join,
                left,
                ctx.cid,
                gid,
            )
        )
    # activity months for the active-client count
    end = exit_day if exit_day is not None else min(until, ctx.last_activity + 180)
    a, b = bisect.bisect_left(MONTH_ENDS, join), bisect.bisect_left(MONTH_ENDS, end)
    ac = ch.active_clients
    for k in range(a, b):
        ac[k] += 1
