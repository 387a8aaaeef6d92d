"""The tables the simulator loads, their COPY column lists, and fast row formatters.

Rows are built as plain tuples of ints and strings; a formatter turns a list of them into PostgreSQL COPY
text in one pass. Each column has a kind:

- ``id``: the row's own id, chunk-local (1, 2, …) → plus the table's offset for the chunk
- ``ref:<table>`` / ``ref?:<table>``: a chunk-local id of another chunked table (nullable with ``?``)
- ``g`` / ``g?``: an id that is already global (world rows: customers, accounts, branches…)
- ``c`` / ``c?``: non-negative integer cents → ``123.45``; ``C``: signed cents
- ``d`` / ``d?``: a day index (see calendar.Calendar) → ``YYYY-MM-DD``
- ``t`` / ``t?``: a timestamp index (day × 1440 + minute) → ``YYYY-MM-DD HH:MM:SS``, the institution's
  wall-clock time (the loading session's time zone is the institution's)
- ``s`` / ``s?``: text already safe for COPY (no tab, newline or backslash)
- ``src``: two tuple positions (table index, chunk-local id) → ``source_type\\tsource_id``

Formatters are generated Python (one f-string per table), which is several times faster than a generic
per-field loop.
"""

from __future__ import annotations

from dataclasses import dataclass

NULL = "\\N"


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (column name(s), kind)
    chunked: bool = True  # ids assigned per chunk (offsets); False: world/global ids

    @property
    def column_list(self) -> str:
        return ", ".join(name for name, _ in self.columns)


TS = "created_at, updated_at"

TABLES: tuple[Table, ...] = (
    Table(
        "customers",
        (
            ("id", "g"),
            (TS, "tt"),
            ("deleted_at", "s?"),
            (
                "customer_number, public_id, first_name, last_name, gender, date_of_birth, national_id, "
                "phone, "
                "business_sector",
                "s",
            ),
            ("kyc_status", "s"),
            ("status", "s"),
            ("joined_on", "d"),
            ("branch_id", "g"),
            ("loan_officer_id", "g?"),
        ),
        chunked=False,
    ),
    Table(
        "group_memberships",
        (
            ("id", "g"),
            (TS, "tt"),
            ("deleted_at", "s?"),
            ("role", "s"),
            ("joined_on", "d"),
            ("left_on", "d?"),
            ("customer_id", "g"),
            ("group_id", "g"),
        ),
        chunked=False,
    ),
    Table(
        "savings_accounts",
        (
            ("id", "g"),
            (TS, "tt"),
            ("account_number", "s"),
            ("status", "s"),
            ("opened_on", "d"),
            ("closed_on", "d?"),
            ("balance", "c"),
            ("branch_id", "g"),
            ("customer_id", "g"),
            ("product_id", "g"),
        ),
        chunked=False,
    ),
    Table(
        "payments",
        (
            ("id", "id"),
            (TS, "tt"),
            ("reference", "s"),
            ("public_id", "s"),
            ("channel", "s"),
            ("direction", "s"),
            ("purpose", "s"),
            ("amount", "c"),
            ("currency", "s"),
            ("status", "s"),
            ("initiated_at, completed_at", "tt"),
            ("provider_data", "s"),
            ("branch_id", "g"),
            ("customer_id", "g?"),
        ),
    ),
    Table(
        "savings_transactions",
        (
            ("id", "id"),
            (TS, "tt"),
            ("amount", "c"),
            ("balance_after", "c"),
            ("channel", "s"),
            ("reference", "s"),
            ("value_date", "d"),
            ("posted_at", "t"),
            ("account_id", "g"),
            ("payment_id", "ref?:payments"),
            ("type_id", "g"),
        ),
    ),
    Table(
        "loans",
        (
            ("id", "id"),
            (TS, "tt"),
            ("loan_number", "s"),
            ("public_id", "s"),
            ("cycle", "g"),
            ("purpose", "s"),
            ("amount_applied", "c"),
            ("amount_approved", "c?"),
            ("amount_disbursed", "c?"),
            ("fee_amount", "c"),
            ("annual_rate", "s"),
            ("interest_method", "s"),
            ("frequency", "s"),
            ("term", "g"),
            ("status", "s"),
            ("applied_on", "d"),
            ("approved_on", "d?"),
            ("rejected_on", "d?"),
            ("disbursed_on", "d?"),
            ("closed_on", "d?"),
            ("written_off_on", "d?"),
            ("principal_outstanding", "c"),
            ("branch_id", "g"),
            ("customer_id", "g"),
            ("disbursement_account_id", "g?"),
            ("group_id", "g?"),
            ("officer_id", "g"),
            ("product_id", "g"),
        ),
    ),
    Table(
        "loan_collateral",
        (
            ("id", "id"),
            (TS, "tt"),
            ("kind", "s"),
            ("description", "s"),
            ("value", "c"),
            ("loan_id", "ref:loans"),
        ),
    ),
    Table(
        "loan_installments",
        (
            ("id", "id"),
            (TS, "tt"),
            ("number", "g"),
            ("due_on", "d"),
            ("principal_due", "c"),
            ("interest_due", "c"),
            ("fee_due", "c"),
            ("penalty_due", "c"),
            ("principal_paid", "c"),
            ("interest_paid", "c"),
            ("fee_paid", "c"),
            ("penalty_paid", "c"),
            ("completed_on", "d?"),
            ("superseded", "s"),
            ("loan_id", "ref:loans"),
        ),
    ),
    Table(
        "loan_repayments",
        (
            ("id", "id"),
            (TS, "tt"),
            ("paid_on", "d"),
            ("amount", "c"),
            ("principal_amount", "c"),
            ("interest_amount", "c"),
            ("fee_amount", "c"),
            ("penalty_amount", "c"),
            ("loan_id", "ref:loans"),
            ("payment_id", "ref?:payments"),
            ("savings_account_id", "g?"),
        ),
    ),
    Table(
        "loan_repayment_allocations",
        (
            ("id", "id"),
            (TS, "tt"),
            ("principal_amount", "c"),
            ("interest_amount", "c"),
            ("fee_amount", "c"),
            ("penalty_amount", "c"),
            ("installment_id", "ref:loan_installments"),
            ("repayment_id", "ref:loan_repayments"),
        ),
    ),
    Table(
        "loan_restructures",
        (
            ("id", "id"),
            (TS, "tt"),
            ("restructured_on", "d"),
            ("principal_outstanding", "c"),
            ("old_term", "g"),
            ("new_term", "g"),
            ("old_rate", "s"),
            ("new_rate", "s"),
            ("reason", "s"),
            ("loan_id", "ref:loans"),
        ),
    ),
    Table(
        "loan_write_offs",
        (
            ("id", "id"),
            (TS, "tt"),
            ("written_off_on", "d"),
            ("principal_amount", "c"),
            ("interest_amount", "c"),
            ("reason", "s"),
            ("loan_id", "ref:loans"),
        ),
    ),
    Table(
        "loan_recoveries",
        (
            ("id", "id"),
            (TS, "tt"),
            ("recovered_on", "d"),
            ("amount", "c"),
            ("loan_id", "ref:loans"),
            ("payment_id", "ref?:payments"),
        ),
    ),
    Table(
        "investments",
        (
            ("id", "id"),
            (TS, "tt"),
            ("investment_number", "s"),
            ("principal", "c"),
            ("annual_rate", "s"),
            ("start_on", "d"),
            ("maturity_on", "d"),
            ("status", "s"),
            ("closed_on", "d?"),
            ("branch_id", "g"),
            ("customer_id", "g"),
            ("payout_account_id", "g?"),
            ("product_id", "g"),
        ),
    ),
    Table(
        "investment_earnings",
        (
            ("id", "id"),
            (TS, "tt"),
            ("period_start", "d"),
            ("period_end", "d"),
            ("amount", "c"),
            ("accrued_on", "d"),
            ("paid_on", "d?"),
            ("investment_id", "ref:investments"),
        ),
    ),
    Table(
        "loan_loss_provisions",
        (
            ("id", "id"),
            (TS, "tt"),
            ("provisioned_on", "d"),
            ("required_reserve", "c"),
            ("expense_amount", "C"),
            ("policy", "s"),
        ),
    ),
    Table(
        "journal_entries",
        (
            ("id", "id"),
            (TS, "tt"),
            ("posted_on", "d"),
            ("posted_at", "t"),
            ("kind", "s"),
            ("description", "s"),
            ("source_type, source_id", "src"),
            ("branch_id", "g?"),
        ),
    ),
    Table(
        "journal_lines",
        (
            ("id", "id"),
            (TS, "tt"),
            ("debit", "c"),
            ("credit", "c"),
            ("entry_id", "ref:journal_entries"),
            ("gl_account_id", "g"),
        ),
    ),
)

BY_NAME = {t.name: t for t in TABLES}
CHUNKED = tuple(t.name for t in TABLES if t.chunked)
CHUNK_INDEX = {name: i for i, name in enumerate(CHUNKED)}

# Row-tuple positions: "tt" takes one tuple position per timestamp column it names.
# Source-table indexes used in journal entries' `src` column.
SOURCE_TABLES = (
    "loans",
    "loan_repayments",
    "loan_write_offs",
    "loan_recoveries",
    "savings_transactions",
    "investments",
    "investment_earnings",
    "loan_loss_provisions",
    "payments",
)
SRC = {name: i for i, name in enumerate(SOURCE_TABLES)}


def signed_cents(c: int) -> str:
    if c < 0:
        c = -c
        return f"-{c // 100}.{c % 100:02d}"
    return f"{c // 100}.{c % 100:02d}"


class Timestamps(dict):
    """timestamp index → COPY text, memoised (a journal entry, its lines and its payment share one)."""

    def __init__(self, day_str: list[str], minute_str: list[str]) -> None:
        super().__init__()
        self.day_str, self.minute_str = day_str, minute_str

    def __missing__(self, t: int) -> str:
        if len(self) > 2_000_000:
            self.clear()
        s = f"{self.day_str[t // 1440]} {self.minute_str[t % 1440]}"
        self[t] = s
        return s


def make_formatter(table: Table, day_str: list[str], minute_str: list[str]):
    """A function (rows, offsets) → COPY text for `table`. `offsets` maps every chunked table name to the
    global id offset of this chunk (ignored for world tables)."""
    parts: list[str] = []
    pos = 0
    refs: dict[str, str] = {}
    for _name, kind in table.columns:
        nullable = kind.endswith("?") and not kind.startswith(("ref", "tt"))
        base = kind.rstrip("?")
        r = f"r[{pos}]"
        if kind == "tt":
            parts.append(f"{{T[r[{pos}]]}}\t{{T[r[{pos + 1}]]}}")
            pos += 2
            continue
        if kind == "src":
            parts.append(f"{{ST[r[{pos}]]}}\t{{r[{pos + 1}]+SO[r[{pos}]]}}")
            pos += 2
            continue
        if base == "id":
            expr = f"{r}+o_self"
        elif kind.startswith("ref"):
            target = kind.split(":", 1)[1]
            var = refs.setdefault(target, f"o{len(refs)}")
            expr = f"{r}+{var}"
            if kind.startswith("ref?"):
                expr = f"N if {r} is None else {r}+{var}"
        elif base == "g":
            expr = r
        elif base == "c":
            expr = f"{r}//100}}.{{{r}%100:02d"
        elif base == "C":
            expr = f"SC({r})"
        elif base == "d":
            expr = f"D[{r}]"
        elif base == "t":
            expr = f"T[{r}]"
        elif base == "s":
            expr = r
        else:  # pragma: no cover - a spec error
            raise ValueError(f"unknown column kind {kind!r} in {table.name}")
        if nullable:
            if base == "c":
                expr = f"N if {r} is None else f'{{{r}//100}}.{{{r}%100:02d}}'"
            elif base == "t":
                expr = f"N if {r} is None else T[{r}]"
            else:
                expr = f"N if {r} is None else {expr}"
        parts.append("{" + expr + "}")
        pos += 1
    body = "\\t".join(parts).replace("\t", "\\t")
    ref_vars = "".join(f"    {var} = offsets[{target!r}]\n" for target, var in refs.items())
    src = (
        "def fmt(rows, offsets):\n"
        f"    o_self = offsets.get({table.name!r}, 0)\n"
        f"{ref_vars}"
        "    SO = [offsets.get(t, 0) for t in SOURCE_TABLES]\n"
        f"    return ''.join([f\"{body}\\n\" for r in rows])\n"
    )
    namespace = {
        "D": day_str,
        "M": minute_str,
        "T": Timestamps(day_str, minute_str),
        "N": NULL,
        "SC": signed_cents,
        "ST": SOURCE_TABLES,
        "SOURCE_TABLES": SOURCE_TABLES,
    }
    exec(compile(src, f"<formatter {table.name}>", "exec"), namespace)  # noqa: S102 - generated from specs above
    return namespace["fmt"]


def tuple_width(table: Table) -> int:
    return sum(2 if kind in ("tt", "src") else 1 for _, kind in table.columns)
