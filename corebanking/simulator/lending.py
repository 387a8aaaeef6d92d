"""A customer's borrowing in the simulator: when they apply, for which product and amount, the lender's
decision, and the cycle of loans that follows (each loan's own life is simulator.loan_life)."""

from __future__ import annotations

from simulator.context import Ctx
from simulator.loan_life import DEFAULTS, LATE, ON_TIME, simulate_loan
from simulator.world import LOAN_PRODUCTS, uuid_from

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
        mode = DEFAULTS if u < p_default else LATE if u < p_default + p_late else ON_TIME
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
