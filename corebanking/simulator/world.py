"""The institution the simulator invents before any money moves: its branches and regions, staff,
products, and every customer's static facts (when they join, where, with which officer, in which
solidarity group). Built in the main process from the seed alone; the per-customer simulation
(simulator.engine) reads it."""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

from simulator.calendar import Calendar

REGIONS = {
    "Nairobi": ["Kibera", "Kawangware", "Githurai", "Eastleigh", "Kayole"],
    "Central": ["Thika", "Nyeri", "Murang'a", "Kiambu"],
    "Rift Valley": ["Nakuru", "Eldoret", "Naivasha", "Kericho", "Kitale"],
    "Western": ["Kakamega", "Bungoma", "Busia"],
    "Nyanza": ["Kisumu", "Homa Bay", "Migori", "Kisii"],
    "Coast": ["Mombasa", "Malindi", "Voi", "Kilifi"],
    "Eastern": ["Machakos", "Meru", "Embu", "Kitui"],
}
FEMALE = [
    "Achieng",
    "Wanjiru",
    "Akinyi",
    "Njeri",
    "Atieno",
    "Wambui",
    "Chebet",
    "Nafula",
    "Mwende",
    "Kerubo",
    "Faith",
    "Grace",
    "Mercy",
    "Joyce",
    "Esther",
    "Mary",
    "Ann",
    "Lucy",
    "Jane",
    "Beatrice",
    "Nekesa",
    "Auma",
    "Zawadi",
    "Halima",
    "Amina",
    "Rose",
    "Caroline",
    "Purity",
    "Winnie",
    "Sharon",
]
MALE = [
    "Otieno",
    "Kamau",
    "Mwangi",
    "Kipchoge",
    "Ochieng",
    "Njoroge",
    "Wafula",
    "Mutua",
    "Omondi",
    "Kiprop",
    "John",
    "Peter",
    "James",
    "Joseph",
    "David",
    "Samuel",
    "Daniel",
    "Brian",
    "Kevin",
    "Hassan",
    "Juma",
    "Baraka",
    "Musa",
    "Charles",
    "Paul",
    "Dennis",
    "Victor",
    "George",
    "Evans",
    "Collins",
]
LAST = [
    "Odhiambo",
    "Kariuki",
    "Wanjala",
    "Chepkoech",
    "Muthoni",
    "Okoth",
    "Maina",
    "Kimani",
    "Onyango",
    "Mutiso",
    "Wekesa",
    "Korir",
    "Nyambura",
    "Owino",
    "Gitau",
    "Barasa",
    "Kiplagat",
    "Achola",
    "Macharia",
    "Ndungu",
    "Omollo",
    "Simiyu",
    "Kibet",
    "Mwaura",
    "Oduya",
    "Kilonzo",
    "Rotich",
    "Wairimu",
    "Ouma",
    "Njuguna",
    "Mohamed",
    "Ali",
    "Abdi",
    "Chege",
    "Kiptoo",
    "Awuor",
    "Nduta",
    "Langat",
    "Mumbua",
    "Okello",
]
SECTORS = [
    ("retail trade", 30),
    ("agriculture", 22),
    ("food vending", 14),
    ("tailoring", 6),
    ("transport", 7),
    ("services", 10),
    ("livestock", 6),
    ("crafts", 5),
]
GROUP_WORDS = [
    "Umoja",
    "Tumaini",
    "Upendo",
    "Baraka",
    "Neema",
    "Imani",
    "Amani",
    "Jitegemee",
    "Harambee",
    "Faraja",
    "Mwangaza",
    "Tujengane",
    "Bidii",
    "Nuru",
    "Wema",
    "Shangwe",
]
GROUP_SUFFIX = ["Women Group", "Self Help Group", "Traders", "Farmers", "Mothers", "Youth Group", "Chama"]


@dataclass(frozen=True)
class LoanProductSpec:
    id: int
    code: str
    name: str
    lending_type: str
    interest_method: str
    annual_rate: Decimal
    frequency: str
    min_term: int
    max_term: int
    min_amount: int  # cents
    max_amount: int
    fee_rate: Decimal
    penalty_rate: Decimal
    penalty_grace_days: int
    grace_period_days: int


@dataclass(frozen=True)
class SavingsProductSpec:
    id: int
    code: str
    name: str
    kind: str
    interest_rate: Decimal
    minimum_balance: int
    monthly_fee: int
    withdrawal_fee: int


@dataclass(frozen=True)
class InvestmentProductSpec:
    id: int
    code: str
    name: str
    term_months: int
    annual_rate: Decimal
    minimum_amount: int
    compounding: str
    early_withdrawal_penalty_rate: Decimal


LOAN_PRODUCTS = (
    LoanProductSpec(
        1,
        "GRP-W",
        "Group loan, weekly",
        "group",
        "flat",
        Decimal("0.240000"),
        "weekly",
        12,
        26,
        500_000,
        10_000_000,
        Decimal("0.020000"),
        Decimal("0.020000"),
        3,
        0,
    ),
    LoanProductSpec(
        2,
        "GRP-F",
        "Group loan, fortnightly",
        "group",
        "flat",
        Decimal("0.220000"),
        "fortnightly",
        6,
        13,
        1_000_000,
        15_000_000,
        Decimal("0.020000"),
        Decimal("0.020000"),
        3,
        0,
    ),
    LoanProductSpec(
        3,
        "IND-M",
        "Individual business loan, monthly",
        "individual",
        "declining",
        Decimal("0.300000"),
        "monthly",
        6,
        18,
        2_000_000,
        50_000_000,
        Decimal("0.030000"),
        Decimal("0.010000"),
        5,
        0,
    ),
    LoanProductSpec(
        4,
        "IND-F",
        "Individual loan, fortnightly",
        "individual",
        "declining",
        Decimal("0.320000"),
        "fortnightly",
        12,
        26,
        1_000_000,
        20_000_000,
        Decimal("0.025000"),
        Decimal("0.015000"),
        5,
        0,
    ),
    LoanProductSpec(
        5,
        "AGR-M",
        "Agricultural seasonal loan",
        "individual",
        "declining",
        Decimal("0.260000"),
        "monthly",
        6,
        12,
        1_500_000,
        30_000_000,
        Decimal("0.020000"),
        Decimal("0.010000"),
        7,
        60,
    ),
)
SAVINGS_PRODUCTS = (
    SavingsProductSpec(1, "VOL", "Voluntary savings", "voluntary", Decimal("0.040000"), 20_000, 2_000, 3_000),
    SavingsProductSpec(
        2, "CMP", "Compulsory savings (loan-linked)", "compulsory", Decimal("0.000000"), 0, 0, 0
    ),
)
INVESTMENT_PRODUCTS = (
    InvestmentProductSpec(
        1, "FD-3", "Fixed deposit, 3 months", 3, Decimal("0.060000"), 1_000_000, "none", Decimal("0.500000")
    ),
    InvestmentProductSpec(
        2, "FD-6", "Fixed deposit, 6 months", 6, Decimal("0.075000"), 1_000_000, "none", Decimal("0.500000")
    ),
    InvestmentProductSpec(
        3,
        "FD-12",
        "Fixed deposit, 12 months, monthly interest",
        12,
        Decimal("0.090000"),
        2_000_000,
        "monthly",
        Decimal("0.500000"),
    ),
    InvestmentProductSpec(
        4,
        "FD-24",
        "Fixed deposit, 24 months, quarterly interest",
        24,
        Decimal("0.105000"),
        5_000_000,
        "quarterly",
        Decimal("0.500000"),
    ),
)


@dataclass
class Staff:
    id: int
    user_id: int
    employee_number: str
    role: str
    branch_id: int
    hired_on: int
    first_name: str
    last_name: str
    username: str
    password: str


@dataclass
class Group:
    id: int
    code: str
    name: str
    branch_id: int
    officer_id: int
    meeting_day: int
    formed_on: int
    size: int = 0
    target: int = 0


@dataclass
class World:
    seed: int
    n_customers: int
    cal: Calendar
    start: int  # day index of the first simulated day
    until: int  # day index of the last simulated day
    currency: str
    gl: dict[str, int]
    ttype: dict[str, int]
    branches: list[tuple[int, str, str, str, int]] = field(
        default_factory=list
    )  # id, code, name, region, opened
    staff: list[Staff] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    # per customer (index 0 … n-1; customer id = index + 1)
    join: list[int] = field(default_factory=list)
    branch: list[int] = field(default_factory=list)
    officer: list[int] = field(default_factory=list)
    group: list[int] = field(default_factory=list)  # group id or 0
    static: list[str] = field(default_factory=list)  # preformatted COPY columns
    membership: list[int] = field(default_factory=list)  # membership id or 0
    leader: list[bool] = field(default_factory=list)
    accounts: list[list[tuple[int, int, str, int]]] = field(
        default_factory=list
    )  # (id, product id, number, opened)
    group_meeting: dict[int, int] = field(default_factory=dict)


def rng_for(seed: int, *key: int) -> random.Random:
    """An independent, reproducible random stream for (seed, key…): integer seeding is stable across runs,
    platforms and PYTHONHASHSEED."""
    value = seed & 0xFFFFFFFF
    for k in key:
        value = value * 1_000_003 + k + 1
    return random.Random(value)


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def uuid_from(rng: random.Random) -> str:
    """A version-4 UUID drawn from `rng` (what uuid.UUID(int=…, version=4) gives, faster)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def build_world(
    *,
    seed: int,
    customers: int,
    years: float,
    until: dt.date,
    branches: int | None,
    gl: dict[str, int],
    ttype: dict[str, int],
    user_id_base: int,
    currency: str,
) -> World:
    rng = rng_for(seed, 0)
    start_date = until - dt.timedelta(days=round(365.25 * years))
    cal = Calendar(start_date - dt.timedelta(days=900), until + dt.timedelta(days=1200))
    w = World(
        seed=seed,
        n_customers=customers,
        cal=cal,
        start=cal.day(start_date),
        until=cal.day(until),
        currency=currency,
        gl=gl,
        ttype=ttype,
    )
    span = w.until - w.start
    n_branches = branches or max(1, min(30, round(customers / 800)))

    # branches: the first opened well before the simulated period, others opening along it
    regions = list(REGIONS)
    towns = [(t, r) for r in regions for t in REGIONS[r]]
    rng.shuffle(towns)
    towns.sort(key=lambda tr: tr[1] != "Nairobi")  # headquarters in Nairobi
    for b in range(n_branches):
        town, region = towns[b % len(towns)]
        name = town if b < len(towns) else f"{town} {b // len(towns) + 1}"
        opened = (
            w.start - 700 + rng.randint(0, 60) if b == 0 else w.start - 400 + int(b * span * 0.7 / n_branches)
        )
        w.branches.append((b + 1, f"BR{b + 1:03d}", name, region, opened))

    # customers' join days: a base at the start, then growth (density ∝ e^(g·t))
    g = 1.1
    joins = []
    for _ in range(customers):
        if rng.random() < 0.12:
            joins.append(w.start + rng.randint(0, 30))
        else:
            u = rng.random()
            frac = math.log(1 + u * (math.exp(g) - 1)) / g
            joins.append(w.start + int(frac * span * 0.97))
    joins.sort()

    staff_seq = [0]

    def hire(role: str, branch_id: int, day: int) -> Staff:
        staff_seq[0] += 1
        sid = staff_seq[0]
        female = rng.random() < 0.55
        first = rng.choice(FEMALE if female else MALE)
        last = rng.choice(LAST)
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        s = Staff(
            sid,
            user_id_base + sid,
            f"E{sid:06d}",
            role,
            branch_id,
            day,
            first,
            last,
            f"{first}.{last}.{sid}".lower().replace("'", ""),
            "!" + "".join(rng.choice(alphabet) for _ in range(40)),
        )
        w.staff.append(s)
        return s

    branch_officers: dict[int, list[Staff]] = {}
    branch_count: dict[int, int] = {}
    for bid, _c, _n, _r, opened in w.branches:
        hire("branch_manager", bid, opened - 30)
        hire("teller", bid, opened - 20)
        branch_officers[bid] = [hire("loan_officer", bid, opened - 20)]
        branch_count[bid] = 0
    caseload = 220

    open_groups: dict[int, Group] = {}
    membership_seq = 0
    account_seq = 0
    sectors, weights = zip(*SECTORS, strict=True)
    for ci, day in enumerate(joins):
        cid = ci + 1
        crng = rng_for(seed, 1, ci)
        opened_branches = [b for b in w.branches if b[4] <= day] or w.branches[:1]
        bid = opened_branches[
            min(len(opened_branches) - 1, int(crng.random() ** 0.8 * len(opened_branches)))
        ][0]
        branch_count[bid] += 1
        officers = branch_officers[bid]
        if branch_count[bid] > caseload * len(officers):
            officers.append(hire("loan_officer", bid, day - crng.randint(10, 40)))
            if len(officers) % 5 == 0:
                hire("teller", bid, day - 15)
        officer = officers[-1] if crng.random() < 0.5 else crng.choice(officers)
        gid = 0
        mid = 0
        leader = False
        if crng.random() < 0.55:  # joins through a solidarity group
            grp = open_groups.get(bid)
            if grp is None or grp.size >= grp.target:
                word = crng.choice(GROUP_WORDS)
                grp = Group(
                    len(w.groups) + 1,
                    f"GR{len(w.groups) + 1:06d}",
                    f"{word} {crng.choice(GROUP_SUFFIX)}",
                    bid,
                    officer.id,
                    crng.randint(0, 5),
                    day,
                    0,
                    crng.randint(5, 20),
                )
                w.groups.append(grp)
                open_groups[bid] = grp
                leader = True
            grp.size += 1
            gid = grp.id
            officer = next(s for s in w.staff if s.id == grp.officer_id)
            membership_seq += 1
            mid = membership_seq
        female = crng.random() < 0.68
        first = crng.choice(FEMALE if female else MALE)
        last = crng.choice(LAST)
        dob = until - dt.timedelta(days=crng.randint(19 * 365, 62 * 365))
        static = "\t".join(
            [
                f"CU{cid:08d}",
                uuid_from(crng),
                first,
                last,
                "F" if female else "M",
                dob.isoformat(),
                f"{20_000_000 + cid * 7 + crng.randint(0, 6)}",
                f"+2547{crng.randint(0, 99_999_999):08d}",
                crng.choices(sectors, weights)[0],
            ]
        )
        accounts = []
        account_seq += 1
        primary_product = 2 if gid else 1
        accounts.append((account_seq, primary_product, f"SA{account_seq:08d}", day))
        if crng.random() < (0.35 if gid else 0.1):
            account_seq += 1
            accounts.append(
                (account_seq, 1 if gid else 2, f"SA{account_seq:08d}", day + crng.randint(0, 300))
            )
        w.join.append(day)
        w.branch.append(bid)
        w.officer.append(officer.id)
        w.group.append(gid)
        w.static.append(static)
        w.membership.append(mid)
        w.leader.append(leader)
        w.accounts.append(accounts)
    w.group_meeting = {grp.id: grp.meeting_day for grp in w.groups}
    return w


def officer_hired(w: World) -> dict[int, int]:
    return {s.id: s.hired_on for s in w.staff}


def first_on_or_after(days: list[int], day: int) -> int:
    return bisect.bisect_left(days, day)
