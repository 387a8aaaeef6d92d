"""What the simulation of one customer runs on: the chunk of rows it appends to (Chunk), the customer's
shared state and money movements (Ctx: payments, journal entries), the month-ends of the simulated years,
and integer-cent arithmetic. Everything is integer cents and integer days (simulator.calendar)."""

from __future__ import annotations

import bisect
from decimal import Decimal

from loans.rules import PROVISION_POLICY
from simulator.tables import CHUNKED, SRC
from simulator.world import World, rng_for, uuid_from

N_BUCKETS = len(PROVISION_POLICY)  # the month-end aging is by provisioning bucket
REF_PREFIX = {
    "loan_repayment": "RP",
    "loan_disbursement": "DB",
    "recovery": "RC",
    "deposit": "DP",
    "withdrawal": "WD",
    "fixed_deposit": "FD",
    "fixed_deposit_payout": "FP",
}
# month-ends from the start to the until date (set_month_ends, by engine.prepare in the main process before
# the workers fork); changed in place, so every module that imported it sees the same list
MONTH_ENDS: list[int] = []


def set_month_ends(w: World) -> None:
    MONTH_ENDS[:] = [me for me in w.cal.month_ends if w.start <= me <= w.until]


def ppm(rate: Decimal) -> int:
    return int(rate * 1_000_000)


def pct_of(cents: int, rate_ppm: int) -> int:
    """rate × cents, rounded half up to the cent (non-negative)."""
    return (cents * rate_ppm + 500_000) // 1_000_000


class Chunk:
    """The rows of one chunk of customers, by table, and the chunk's aggregates for the main process."""

    def __init__(self, n_months: int) -> None:
        self.rows: dict[str, list[tuple]] = {name: [] for name in CHUNKED}
        self.rows.update(customers=[], group_memberships=[], savings_accounts=[])
        self.aging = [[0] * N_BUCKETS for _ in range(n_months)]  # outstanding principal at month-ends
        self.write_offs = [0] * (n_months + 1)  # by month index of the day
        self.recoveries = [0] * (n_months + 1)
        self.cash = [0] * (n_months + 1)  # net cash in (+) / out (-) of the customer operations
        self.active_clients = [0] * (n_months + 1)
        self.stats = {"loans": 0, "disbursed_loans": 0, "written_off_loans": 0, "restructured_loans": 0}

    def counts(self) -> list[int]:
        return [len(self.rows[name]) for name in CHUNKED]


class Ctx:
    """What the simulation of one customer shares across its loans, savings and fixed deposits."""

    __slots__ = (
        "w",
        "ch",
        "rng",
        "cid",
        "ci",
        "bid",
        "pay_k",
        "txn_k",
        "mm_json",
        "months",
        "month_idx",
        "ext",
        "last_activity",
        "cash",
        "span",
    )

    def __init__(self, w: World, ch: Chunk, ci: int) -> None:
        self.w, self.ch, self.ci, self.cid = w, ch, ci, ci + 1
        self.rng = rng_for(w.seed, 2, ci)
        self.bid = w.branch[ci]
        self.pay_k = 0
        self.txn_k = 0
        self.mm_json = f'{{"provider": "M-Pesa", "msisdn": "+2547{self.rng.randint(0, 99_999_999):08d}"}}'
        self.ext: dict[int, list[tuple]] = {}  # account id → external credits (t, order, kind, amount, …)
        self.last_activity = w.join[ci]
        self.cash = ch.cash
        self.span = max(1, w.until - w.start)

    # --- money movements -------------------------------------------------------------------------------
    def channel(self, day: int) -> str:
        rng = self.rng
        years = (day - self.w.start) / 365.25
        if rng.random() < min(0.72, 0.08 + 0.2 * years):
            return "mobile_money"
        u = rng.random()
        return "cash" if u < 0.6 else "agent" if u < 0.9 else "bank"

    def moment(self, day: int, channel: str = "cash") -> int:
        if channel == "mobile_money":
            return day * 1440 + 360 + int(self.rng.random() * 960)
        return day * 1440 + 480 + int(self.rng.random() * 540)

    def payment(self, t: int, channel: str, direction: str, purpose: str, amount: int) -> int:
        rows = self.ch.rows["payments"]
        pid = len(rows) + 1
        self.pay_k += 1
        ref = f"{REF_PREFIX[purpose]}-{self.cid:07d}-{self.pay_k:05d}"
        rows.append(
            (
                pid,
                t,
                t,
                ref,
                uuid_from(self.rng),
                channel,
                direction,
                purpose,
                amount,
                self.w.currency,
                "completed",
                t,
                t,
                self.mm_json if channel == "mobile_money" else "{}",
                self.bid,
                self.cid,
            )
        )
        mi = self.month_of(t // 1440)
        if direction == "inbound":
            self.cash[mi] += amount
        else:
            self.cash[mi] -= amount
        d = t // 1440
        if d > self.last_activity:
            self.last_activity = d
        return pid

    def month_of(self, day: int) -> int:
        return bisect.bisect_left(MONTH_ENDS, day)

    def journal(
        self, kind: str, t: int, desc: str, src: str, src_id: int, lines: list[tuple[int, int, int]]
    ) -> int:
        rows = self.ch.rows
        je = rows["journal_entries"]
        jl = rows["journal_lines"]
        eid = len(je) + 1
        je.append((eid, t, t, t // 1440, t, kind, desc, SRC[src], src_id, self.bid))
        n = len(jl)
        for gl, debit, credit in lines:
            n += 1
            jl.append((n, t, t, debit, credit, eid, gl))
        return eid
