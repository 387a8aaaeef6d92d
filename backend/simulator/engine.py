"""The per-customer simulation: one customer's whole history — savings, loans and their repayments,
fixed deposits — as rows of the business tables and the journal entries that book them, exactly as the
services book the same operations (docs/ledger.md).

Everything is integer cents and integer days (simulator.calendar). Each customer draws from its own
random stream, rng_for(seed, 2, customer index), so a customer's history does not depend on which
process simulates it or on any other customer. Ids are chunk-local here (1, 2, … per table within a
chunk of customers); simulator.parallel turns them into global ids by prefix sums over chunks.
"""

from __future__ import annotations

import bisect
from decimal import Decimal

from ledger import chart
from ledger import types as tt
from loans.rules import PROVISION_POLICY, WRITE_OFF_AFTER_DPD, days_past_due, provision_bucket
from loans.schedule import build_schedule, due_dates
from simulator.tables import CHUNKED, SRC
from simulator.world import INVESTMENT_PRODUCTS, LOAN_PRODUCTS, SAVINGS_PRODUCTS, World, rng_for, uuid_from

W: World | None = None  # set in the main process before the workers fork

N_BUCKETS = len(PROVISION_POLICY)  # the month-end aging is by provisioning bucket
PURPOSES = {
    "retail trade": ["stock purchase", "working capital", "shop expansion"],
    "agriculture": ["farm inputs", "seeds and fertiliser", "irrigation equipment"],
    "food vending": ["working capital", "cooking equipment", "stock purchase"],
    "tailoring": ["sewing machine", "fabric stock", "working capital"],
    "transport": ["motorbike repair", "vehicle deposit", "working capital"],
    "services": ["equipment", "working capital", "premises"],
    "livestock": ["dairy cow", "poultry", "animal feed"],
    "crafts": ["raw materials", "tools", "working capital"],
}
COLLATERAL = [
    ("household", "Household goods"),
    ("business_equipment", "Business equipment"),
    ("vehicle", "Motorbike logbook"),
    ("land_title", "Land title deed"),
    ("guarantor", "Personal guarantor"),
]
SEASON = [0, 1.3, 1.1, 1.0, 0.9, 0.85, 0.8, 0.85, 0.95, 1.0, 1.05, 1.2, 1.3]  # by month number
REF_PREFIX = {
    "loan_repayment": "RP",
    "loan_disbursement": "DB",
    "recovery": "RC",
    "deposit": "DP",
    "withdrawal": "WD",
    "fixed_deposit": "FD",
    "fixed_deposit_payout": "FP",
}
PRODUCT_BY_ID = {p.id: p for p in LOAN_PRODUCTS}
SAVINGS_BY_ID = {p.id: p for p in SAVINGS_PRODUCTS}
FIRST_AMOUNT = {
    "GRP-W": (8_000, 20_000),
    "GRP-F": (10_000, 30_000),
    "IND-M": (30_000, 100_000),
    "IND-F": (15_000, 50_000),
    "AGR-M": (20_000, 60_000),
}
TERMS = {
    "GRP-W": (16, 20, 24, 26),
    "GRP-F": (8, 10, 12, 13),
    "IND-M": (6, 9, 12, 12, 18),
    "IND-F": (12, 18, 24, 26),
    "AGR-M": (6, 9, 12),
}


def ppm(rate: Decimal) -> int:
    return int(rate * 1_000_000)


def pct_of(cents: int, rate_ppm: int) -> int:
    """rate × cents, rounded half up to the cent (non-negative)."""
    return (cents * rate_ppm + 500_000) // 1_000_000


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


MONTH_ENDS: list[int] = []  # month-ends from the start to the until date (set by prepare())


def prepare(w: World) -> None:
    global W, MONTH_ENDS
    W = w
    MONTH_ENDS = [me for me in w.cal.month_ends if w.start <= me <= w.until]


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


# --- loans -------------------------------------------------------------------------------------------------
def seasonal(rng, day: int, month_num: list[int]) -> int:
    while rng.random() > SEASON[month_num[day]] / 1.3:
        day += 3 + int(rng.random() * 10)
    return day


def choose_product(rng, gid: int, sector: str, cycle: int, previous):
    if gid and not (cycle >= 4 and rng.random() < 0.25):
        if previous is not None and previous.lending_type == "group":
            return previous, gid
        return (LOAN_PRODUCTS[0] if rng.random() < 0.65 else LOAN_PRODUCTS[1]), gid
    if previous is not None and previous.lending_type == "individual":
        return previous, 0
    if sector in ("agriculture", "livestock") and rng.random() < 0.6:
        return LOAN_PRODUCTS[4], 0
    return (LOAN_PRODUCTS[2] if rng.random() < 0.55 else LOAN_PRODUCTS[3]), 0


def round_amount(cents: int, product) -> int:
    cents = (cents // 50_000) * 50_000
    return max(product.min_amount, min(product.max_amount, cents))


def simulate_loans(
    ctx: Ctx, profile: int, wealth: float, sector: str, gid: int, primary: int, exit_day: int | None
) -> tuple[int | None, bool]:
    w, rng, ch = ctx.w, ctx.rng, ctx.ch
    until = w.until
    cal = w.cal
    day = w.join[ctx.ci] + 7 + int(rng.random() * 40)
    cycle = 0
    app = 0
    product = None
    amount = 0
    loans = ch.rows["loans"]

    def undisbursed_row(updated: int, status: str, approved=None, approved_on=None, rejected_on=None):
        """The `loans` row of the current application (the loop's variables) that ends undisbursed:
        still applied, rejected, or approved but not yet disbursed by the until date."""
        return (
            lid,
            t_apply,
            updated,
            *common,
            approved,
            None,
            0,
            rate_s,
            product.interest_method,
            product.frequency,
            term,
            status,
            day,
            approved_on,
            rejected_on,
            None,
            None,
            None,
            0,
            *tail,
            None,
            group_id or None,
            officer,
            product.id,
        )

    while True:
        day = seasonal(rng, day, cal.month_num)
        if day > until:
            return exit_day, False
        new_product, group_id = choose_product(rng, gid, sector, cycle + 1, product)
        if new_product is not product:
            lo, hi = FIRST_AMOUNT[new_product.code]
            base = int((lo + rng.random() * (hi - lo)) * wealth) * 100
            amount = round_amount(max(base, amount), new_product)
            product = new_product
        if product.code == "AGR-M":  # farmers borrow before planting: Feb-Mar and Aug-Sep
            while cal.month_num[day] not in (2, 3, 8, 9):
                day += 7
        if day > until:
            return exit_day, False
        app += 1
        lid = len(loans) + 1
        terms = TERMS[product.code]
        term = terms[int(rng.random() * len(terms))]
        if cycle >= 2 and product.frequency != "monthly":
            term = max(term, terms[-2])
        term = max(product.min_term, min(product.max_term, term))
        t_apply = day * 1440 + 540 + int(rng.random() * 420)
        number = f"LN{ctx.cid:07d}{app:02d}"
        purposes = PURPOSES.get(sector, PURPOSES["services"])
        purpose = purposes[int(rng.random() * len(purposes))]
        officer = w.officer[ctx.ci]
        ch.stats["loans"] += 1
        if product.lending_type == "individual" and rng.random() < 0.9:
            kind, label = COLLATERAL[int(rng.random() * len(COLLATERAL))]
            ch.rows["loan_collateral"].append(
                (
                    len(ch.rows["loan_collateral"]) + 1,
                    t_apply,
                    t_apply,
                    kind,
                    label,
                    amount * (12 + int(rng.random() * 20)) // 10,
                    lid,
                )
            )
        elif group_id and rng.random() < 0.3:
            ch.rows["loan_collateral"].append(
                (
                    len(ch.rows["loan_collateral"]) + 1,
                    t_apply,
                    t_apply,
                    "savings_lien",
                    "Lien on compulsory savings",
                    amount // 10,
                    lid,
                )
            )
        rate_s = f"{product.annual_rate:.6f}"
        common = (number, uuid_from(rng), cycle + 1, purpose, amount)
        tail = (ctx.bid, ctx.cid)
        reject_p = 0.08 if cycle == 0 else 0.03
        decision = day + 1 + int(rng.random() * 6)
        # an application is decided on `decision`: rejected, or approved (for less, at times); one
        # still undecided on the until date stays `applied` (the approval draw is taken first, so the
        # random stream is the same whichever way it goes)
        rejected = rng.random() < reject_p
        if not rejected:
            approved = amount if rng.random() < 0.88 else round_amount(amount * 8 // 10, product)
        if decision > until:
            loans.append(undisbursed_row(t_apply, "applied"))
            return exit_day, False
        t_dec = decision * 1440 + 600 + int(rng.random() * 300)
        if rejected:
            loans.append(undisbursed_row(t_dec, "rejected", rejected_on=decision))
            if rng.random() < 0.4:
                return (decision + 30 + int(rng.random() * 60)), False
            day = decision + 30 + int(rng.random() * 60)
            amount = round_amount(amount * 8 // 10, product)
            continue
        disb = decision + int(rng.random() * 5)
        if group_id:  # group loans are disbursed at the group's meeting
            meet = w.group_meeting[group_id]
            while cal.weekday[disb] != meet:
                disb += 1
        if disb > until:
            loans.append(undisbursed_row(t_dec, "approved", approved=approved, approved_on=decision))
            return exit_day, False
        # behaviour on this loan
        p_default = (0.02, 0.08, 0.34)[profile] * (1.6 if cycle == 0 else 1.0 if cycle < 3 else 0.7)
        p_late = (0.08, 0.6, 0.45)[profile]
        u = rng.random()
        mode = 2 if u < p_default else 1 if u < p_default + p_late else 0
        into_savings = product.lending_type == "individual" and rng.random() < 0.25
        outcome, end_day, st = simulate_loan(
            ctx, lid, product, approved, term, disb, mode, into_savings, primary
        )
        # a restructured loan carries its new rate and term (the old ones are on loan_restructures)
        loans.append(
            (
                lid,
                t_apply,
                st["updated"],
                *common,
                approved,
                approved,
                st["fee"],
                st["new_rate"] or rate_s,
                product.interest_method,
                product.frequency,
                st["term"],
                st["status"],
                day,
                decision,
                None,
                disb,
                st["closed"],
                st["written_off"],
                st["outstanding"],
                *tail,
                primary if into_savings else None,
                group_id or None,
                officer,
                product.id,
            )
        )
        ch.stats["disbursed_loans"] += 1
        cycle += 1
        if outcome == "open":
            return exit_day, False
        if outcome == "written_off":
            ch.stats["written_off_loans"] += 1
            return end_day, True
        # closed: come back for a bigger loan, or leave
        if rng.random() < 0.10 + 0.02 * cycle:
            return end_day + 30 + int(rng.random() * 90), False
        day = end_day + int(rng.random() * 50)
        amount = round_amount(int(approved * (1.12 + rng.random() * 0.35)), product)


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
