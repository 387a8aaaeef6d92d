"""What the institution does as a whole, computed in the main process: the reference rows (branches,
staff and their users, products, solidarity groups) and, from the customers' monthly aggregates, the
month-end loan-loss provisioning runs, operating expenses and funding — booked as docs/ledger.md says."""

from __future__ import annotations

import math
from decimal import Decimal

from ledger import chart
from loans.rules import PROVISION_RATES, provision_lines, provision_policy_text, required_reserve
from simulator import engine
from simulator.context import N_BUCKETS
from simulator.tables import SRC
from simulator.world import INVESTMENT_PRODUCTS, LOAN_PRODUCTS, SAVINGS_PRODUCTS, World, rng_for

SALARY = {"branch_manager": 9_000_000, "loan_officer": 4_500_000, "teller": 3_500_000}  # cents a month
assert len(PROVISION_RATES) == N_BUCKETS, "the simulator's aging buckets are loans.rules.PROVISION_POLICY's"


def _c(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def world_copy_data(w: World) -> list[tuple[str, str, str]]:
    """(table, column list, COPY text) of the reference rows."""
    D, M = w.cal.day_str, w.cal.minute_str

    def ts(day: int, minute: int = 540) -> str:
        return f"{D[day]} {M[minute]}"

    created = min(b[4] for b in w.branches) - 60
    out = []
    out.append(
        (
            "branches",
            "id, created_at, updated_at, code, name, region, opened_on",
            "".join(
                f"{bid}\t{ts(opened)}\t{ts(opened)}\t{code}\t{name}\t{region}\t{D[opened]}\n"
                for bid, code, name, region, opened in w.branches
            ),
        )
    )
    out.append(
        (
            "auth_user",
            "id, password, is_superuser, username, first_name, last_name, email, is_staff, "
            "is_active, date_joined",
            "".join(
                f"{s.user_id}\t{s.password}\tf\t{s.username}\t{s.first_name}\t{s.last_name}\t"
                f"{s.username}@finhouse.example\t{'t' if s.role == 'branch_manager' else 'f'}\tt\t"
                f"{ts(s.hired_on)}\n"
                for s in w.staff
            ),
        )
    )
    out.append(
        (
            "staff",
            "id, created_at, updated_at, employee_number, role, hired_on, branch_id, user_id",
            "".join(
                f"{s.id}\t{ts(s.hired_on)}\t{ts(s.hired_on)}\t{s.employee_number}\t{s.role}\t{D[s.hired_on]}\t"
                f"{s.branch_id}\t{s.user_id}\n"
                for s in w.staff
            ),
        )
    )
    out.append(
        (
            "savings_products",
            "id, created_at, updated_at, code, name, kind, interest_rate, minimum_balance, "
            "monthly_fee, withdrawal_fee, is_active",
            "".join(
                f"{p.id}\t{ts(created)}\t{ts(created)}\t{p.code}\t{p.name}\t{p.kind}\t{p.interest_rate:.6f}\t"
                f"{_c(p.minimum_balance)}\t{_c(p.monthly_fee)}\t{_c(p.withdrawal_fee)}\tt\n"
                for p in SAVINGS_PRODUCTS
            ),
        )
    )
    out.append(
        (
            "loan_products",
            "id, created_at, updated_at, code, name, lending_type, interest_method, annual_rate, "
            "frequency, min_term, max_term, min_amount, max_amount, fee_rate, penalty_rate, "
            "penalty_grace_days, "
            "grace_period_days, is_active",
            "".join(
                f"{p.id}\t{ts(created)}\t{ts(created)}\t{p.code}\t{p.name}\t{p.lending_type}\t{p.interest_method}\t"
                f"{p.annual_rate:.6f}\t{p.frequency}\t{p.min_term}\t{p.max_term}\t{_c(p.min_amount)}\t"
                f"{_c(p.max_amount)}\t{p.fee_rate:.6f}\t{p.penalty_rate:.6f}\t{p.penalty_grace_days}\t"
                f"{p.grace_period_days}\tt\n"
                for p in LOAN_PRODUCTS
            ),
        )
    )
    out.append(
        (
            "investment_products",
            "id, created_at, updated_at, code, name, term_months, annual_rate, "
            "minimum_amount, compounding, early_withdrawal_penalty_rate, is_active",
            "".join(
                f"{p.id}\t{ts(created)}\t{ts(created)}\t{p.code}\t{p.name}\t{p.term_months}\t{p.annual_rate:.6f}\t"
                f"{_c(p.minimum_amount)}\t{p.compounding}\t{p.early_withdrawal_penalty_rate:.6f}\tt\n"
                for p in INVESTMENT_PRODUCTS
            ),
        )
    )
    out.append(
        (
            "solidarity_groups",
            "id, created_at, updated_at, code, name, meeting_day, formed_on, branch_id, loan_officer_id",
            "".join(
                f"{g.id}\t{ts(g.formed_on)}\t{ts(g.formed_on)}\t{g.code}\t{g.name}\t{g.meeting_day}\t"
                f"{D[g.formed_on]}\t{g.branch_id}\t{g.officer_id}\n"
                for g in w.groups
            ),
        )
    )
    return out


class Books:
    """Chunk-like row lists for the institution-level rows (they get ids after every customer chunk)."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.rows: dict[str, list[tuple]] = {
            "payments": [],
            "journal_entries": [],
            "journal_lines": [],
            "loan_loss_provisions": [],
        }
        self.rng = rng_for(w.seed, 3)
        self.ref_k = 0

    def payment(
        self, t: int, direction: str, purpose: str, amount: int, branch: int, prefix: str, data: str
    ) -> int:
        rows = self.rows["payments"]
        pid = len(rows) + 1
        self.ref_k += 1
        from simulator.world import uuid_from

        rows.append(
            (
                pid,
                t,
                t,
                f"{prefix}-{self.ref_k:07d}",
                uuid_from(self.rng),
                "bank",
                direction,
                purpose,
                amount,
                self.w.currency,
                "completed",
                t,
                t,
                data,
                branch,
                None,
            )
        )
        return pid

    def journal(
        self,
        kind: str,
        t: int,
        desc: str,
        src: str,
        src_id: int,
        branch: int | None,
        lines: list[tuple[str, int, int]],
    ) -> None:
        je, jl = self.rows["journal_entries"], self.rows["journal_lines"]
        eid = len(je) + 1
        je.append((eid, t, t, t // 1440, t, kind, desc, SRC[src], src_id, branch))
        for code, debit, credit in lines:
            jl.append((len(jl) + 1, t, t, debit, credit, eid, self.w.gl[code]))


def institution_books(w: World, agg: dict) -> tuple[Books, dict]:
    """Provisioning, operating expenses and funding, month by month, from the customers' aggregates."""
    books = Books(w)
    rng = books.rng
    MONTH_ENDS = engine.MONTH_ENDS
    n = len(MONTH_ENDS)
    stats = {"provision_runs": 0, "borrowed": 0, "opex": 0}
    policy = provision_policy_text()[:200]
    # --- funding at the start: share capital and a founding grant
    t = w.start * 1440 + 600
    equity = max(100_000_000, w.n_customers * 300_000) // 10_000_000 * 10_000_000
    grant = equity // 4
    for purpose_kind, code, amount in (
        ("equity", chart.SHARE_CAPITAL, equity),
        ("grant", chart.DONATED_EQUITY, grant),
    ):
        pid = books.payment(t, "inbound", "funding", amount, 1, "FN", f'{{"kind": "{purpose_kind}"}}')
        books.journal(
            "funding",
            t,
            f"Funding received: {purpose_kind}",
            "payments",
            pid,
            1,
            [(chart.BANK, amount, 0), (code, 0, amount)],
        )
        t += 5
    cash = equity + grant
    tranche = max(50_000_000, equity // 4) // 10_000_000 * 10_000_000
    borrowings = 0
    reserve = 0
    open_branches = sorted(w.branches, key=lambda b: b[4])
    for m in range(n):
        me = MONTH_ENDS[m]
        month_start = MONTH_ENDS[m - 1] + 1 if m else w.start
        # operating expenses by branch and category, paid from the bank at the month-end
        opex_total = 0
        branches_open = [b for b in open_branches if b[4] <= me]
        clients = agg["active_clients"][m]
        opex_lines = []
        for bid, _code, _name, _region, _opened in branches_open:
            staff = [s for s in w.staff if s.branch_id == bid and s.hired_on <= me]
            officers = sum(1 for s in staff if s.role == "loan_officer")
            by_cat = {
                "personnel": sum(SALARY[s.role] for s in staff),
                "occupancy": 6_000_000,
                "administrative": 2_500_000 + 4_000 * clients // max(1, len(branches_open)),
                "transport": 600_000 * officers,
                "depreciation": 1_500_000,
            }
            for cat, amount in by_cat.items():
                amount = int(amount * (0.95 + rng.random() * 0.1)) // 100 * 100
                opex_lines.append((bid, cat, amount))
                opex_total += amount
        # interest on borrowings for the month
        interest = borrowings * 14 // 1200
        # borrow at the start of the month when the month would leave too little cash
        projected = cash + agg["cash"][m] - opex_total - interest
        buffer = 20_000_000 + sum(agg["aging"][m]) // 10
        if projected < buffer:
            amount = math.ceil((buffer * 1.5 - projected) / tranche) * tranche
            tb = month_start * 1440 + 600
            pid = books.payment(tb, "inbound", "funding", amount, 1, "FN", '{"kind": "borrowing"}')
            books.journal(
                "funding",
                tb,
                "Funding received: borrowing",
                "payments",
                pid,
                1,
                [(chart.BANK, amount, 0), (chart.BORROWINGS, 0, amount)],
            )
            borrowings += amount
            cash += amount
            stats["borrowed"] += amount
        if m % 12 == 11 and rng.random() < 0.6:
            amount = grant // 2 + int(rng.random() * grant) // 100_000 * 100_000
            tg = (month_start + 14) * 1440 + 660
            pid = books.payment(tg, "inbound", "funding", amount, 1, "FN", '{"kind": "grant"}')
            books.journal(
                "funding",
                tg,
                "Funding received: grant",
                "payments",
                pid,
                1,
                [(chart.BANK, amount, 0), (chart.DONATED_EQUITY, 0, amount)],
            )
            cash += amount
        cash += agg["cash"][m]
        t_ox = me * 1440 + 960
        for bid, cat, amount in opex_lines:
            pid = books.payment(
                t_ox, "outbound", "operating_expense", amount, bid, "OX", f'{{"category": "{cat}"}}'
            )
            books.journal(
                "operating_expense",
                t_ox,
                f"Operating expense: {cat}",
                "payments",
                pid,
                bid,
                [(chart.OPERATING_EXPENSE_ACCOUNTS[cat], amount, 0), (chart.BANK, 0, amount)],
            )
            t_ox += 1
        cash -= opex_total
        stats["opex"] += opex_total
        if interest > 0:
            ti = me * 1440 + 990
            pid = books.payment(ti, "outbound", "funding_service", interest, 1, "FS", '{"kind": "interest"}')
            books.journal(
                "funding_interest",
                ti,
                "Interest on borrowings",
                "payments",
                pid,
                1,
                [(chart.INTEREST_EXPENSE_BORROWINGS, interest, 0), (chart.BANK, 0, interest)],
            )
            cash -= interest
        # the month-end provisioning run, after the day's write-offs
        reserve += -agg["write_offs"][m] + agg["recoveries"][m]
        # the books are in int cents here: the rule's reserve (Decimal, to the cent) back in cents
        required = int(required_reserve(zip(PROVISION_RATES, (Decimal(c) / 100 for c in agg["aging"][m]),
                                            strict=True)) * 100)
        expense = required - reserve
        tp = me * 1440 + 1320
        prov = books.rows["loan_loss_provisions"]
        prid = len(prov) + 1
        prov.append((prid, tp, tp, me, required, expense, policy))
        if expense:
            books.journal(
                "provision",
                tp,
                f"Loan-loss provision to a reserve of {_c(required)}",
                "loan_loss_provisions",
                prid,
                None,
                provision_lines(expense, 0),
            )
        reserve = required
        stats["provision_runs"] += 1
    stats["reserve"] = reserve
    stats["borrowings"] = borrowings
    return books, stats
