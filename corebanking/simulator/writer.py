"""Loading the simulated history into PostgreSQL, fast and safely, in ONE transaction:

1. refuse a database that already holds business rows unless --reset, and even then unless it carries
   the simulator's mark (simulator.models: the database holds an institution the simulator wrote, not
   someone's books); then TRUNCATE them — in this transaction, which also lets COPY … FREEZE skip the
   later hint-bit rewrite — and write the mark anew;
2. capture the loaded tables' primary keys, unique and foreign-key constraints and secondary indexes
   (pg_get_constraintdef / pg_get_indexdef) and drop them, so COPY only appends heap pages;
3. COPY every table from preformatted text (psycopg 3 ``cursor.copy``);
4. re-create the captured constraints and indexes exactly (a re-added foreign key is validated in one
   bulk join), re-enable the journal balance and closed-period triggers after running their checks over
   every entry, set the id sequences past the loaded ids, commit.

Check constraints stay in force during the load: the database checks every row as it does for the
services. Any failure rolls everything back, indexes included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from simulator.tables import TABLES

WORLD_TABLES = (
    "branches",
    "staff",
    "savings_products",
    "loan_products",
    "investment_products",
    "solidarity_groups",
)
LOADED = WORLD_TABLES + tuple(t.name for t in TABLES)
# business tables a --reset empties (the chart of accounts and transaction types are reference data
# seeded by migrations, and stay; maker-checker requests name the branches and staff users it removes;
# the period closes go with the books they closed, else the new history would fall in the old
# institution's closed periods)
RESET = LOADED + ("transfers", "approval_requests", "accounting_period_closes")
MARK = "simulated_institution"  # simulator.models.SimulatedInstitution
# counted in the refusal's message (the other tables are only named: counting them is slow when large)
COUNTED = ("customers", "loans", "branches", "staff", "journal_entries", "payments", "savings_accounts")


class RefusedError(Exception):
    """The database is not one the simulator may write into as asked."""


@dataclass
class Captured:
    constraints: list[tuple[str, str, str, str]] = field(default_factory=list)  # table, name, type, def
    indexes: list[tuple[str, str]] = field(default_factory=list)  # name, def


def business_rows(cur) -> dict[str, int | None]:
    """The business tables (every table a --reset empties) that hold rows: their row count for the
    COUNTED ones, None for the others."""
    found: dict[str, int | None] = {}
    for table in sorted(RESET, key=lambda t: COUNTED.index(t) if t in COUNTED else len(COUNTED)):
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")
        if cur.fetchone()[0]:
            found[table] = None
            if table in COUNTED:
                cur.execute(f"SELECT count(*) FROM {table}")
                found[table] = cur.fetchone()[0]
    return found


def describe(found: dict[str, int | None]) -> str:
    """`found` (from business_rows) for a message: "2 branches, 3 staff, rows in loan_products"."""
    parts = [f"{n:,} {t}" if n is not None else f"rows in {t}" for t, n in found.items()]
    return ", ".join(parts[:6]) + (f" and {len(parts) - 6} more tables" if len(parts) > 6 else "")


def simulated(cur) -> bool:
    """Whether the database carries the simulator's mark: its business rows are a simulated institution."""
    cur.execute(f"SELECT to_regclass('{MARK}') IS NOT NULL")
    if not cur.fetchone()[0]:
        return False
    cur.execute(f"SELECT EXISTS (SELECT 1 FROM {MARK})")
    return bool(cur.fetchone()[0])


def check_replaceable(cur, database: str, *, reset: bool) -> None:
    """Raise RefusedError unless the simulator may write its institution into this database: one without
    business rows, or (with --reset) one whose business rows it wrote itself (it carries the mark)."""
    found = business_rows(cur)
    if found and not simulated(cur):
        raise RefusedError(
            f"refusing to replace the database {database}: it holds data the simulator did not write "
            f"({describe(found)}); point FINHOUSE_OLTP_URL at a new database"
        )
    if found and not reset:
        raise RefusedError(
            f"the database {database} already holds an institution ({describe(found)}); "
            "pass --reset to replace it"
        )


def lock(cur) -> None:
    """Lock the business tables and the mark against every other session until the transaction ends."""
    cur.execute(f"LOCK TABLE {', '.join((*RESET, MARK))} IN ACCESS EXCLUSIVE MODE")


def mark(cur, *, seed: int, customers: int, years: float, until: date) -> None:
    """Leave the simulator's mark (in the transaction that writes the institution, after reset())."""
    cur.execute(
        f"INSERT INTO {MARK} (simulated_at, seed, customers, years, until) VALUES (now(), %s, %s, %s, %s)",
        [seed, customers, years, until],
    )


def reset(cur) -> None:
    """Empty the business tables and the mark, and remove the simulator's staff users (and only what
    hangs off them). Callers check first that the database is one the simulator may replace."""
    cur.execute("CREATE TEMP TABLE _sim_users ON COMMIT DROP AS SELECT user_id AS id FROM staff")
    cur.execute(f"TRUNCATE {', '.join((*RESET, MARK))}")
    for table in ("django_admin_log", "auth_user_groups", "auth_user_user_permissions"):
        cur.execute(f"DELETE FROM {table} WHERE user_id IN (SELECT id FROM _sim_users)")
    cur.execute("DELETE FROM auth_user WHERE id IN (SELECT id FROM _sim_users)")
    cur.execute(
        "SET CONSTRAINTS ALL IMMEDIATE"
    )  # run the deferred checks now: ALTER TABLE needs none pending


def capture_and_drop(cur) -> Captured:
    cap = Captured()
    cur.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
        FROM pg_constraint c
        WHERE c.contype IN ('p', 'u', 'f')
          AND (c.conrelid = ANY(%(t)s::regclass[]) OR c.confrelid = ANY(%(t)s::regclass[]))
        ORDER BY c.contype = 'f' DESC, c.conname
        """,
        {"t": list(LOADED)},
    )
    cap.constraints = [(r[0], r[1], r[2], r[3]) for r in cur.fetchall()]
    cur.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%(t)s::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                          WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u'))
        ORDER BY 1
        """,
        {"t": list(LOADED)},
    )
    cap.indexes = list(cur.fetchall())
    for table, name, _kind, _def in cap.constraints:  # foreign keys first (ordered so), then keys
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _def in cap.indexes:
        cur.execute(f"DROP INDEX {name}")
    cur.execute("ALTER TABLE journal_lines DISABLE TRIGGER journal_lines_balanced")
    # the closed-period check would keep every loaded entry in a transition table; the history is
    # checked once after the load instead (check_balanced)
    cur.execute("ALTER TABLE journal_entries DISABLE TRIGGER journal_entries_open_period_insert")
    return cap


TIMINGS: list[tuple[float, str]] = []


def _timed(cur, sql: str) -> None:
    import time

    t = time.perf_counter()
    cur.execute(sql)
    TIMINGS.append((time.perf_counter() - t, sql[:110]))


def restore(cur, cap: Captured) -> None:
    for table, name, kind, definition in reversed(cap.constraints):  # keys first, then foreign keys
        if kind in ("p", "u"):
            _timed(cur, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _name, definition in cap.indexes:
        _timed(cur, definition)
    for table, name, kind, definition in cap.constraints:
        if kind == "f":
            _timed(cur, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def check_balanced(cur) -> None:
    """The journal balance trigger's check, over every entry at once (the trigger is off during COPY)."""
    cur.execute(
        """
        SELECT entry_id, sum(debit), sum(credit) FROM journal_lines
        GROUP BY entry_id HAVING sum(debit) <> sum(credit) LIMIT 1
        """
    )
    bad = cur.fetchone()
    if bad:
        raise RefusedError(f"journal entry {bad[0]} is unbalanced: debits {bad[1]} <> credits {bad[2]}")
    cur.execute(
        "SELECT count(*) FROM journal_entries e WHERE NOT EXISTS "
        "(SELECT 1 FROM journal_lines l WHERE l.entry_id = e.id)"
    )
    if cur.fetchone()[0]:
        raise RefusedError("a journal entry has no lines")
    cur.execute("ALTER TABLE journal_lines ENABLE TRIGGER journal_lines_balanced")
    cur.execute(
        "SELECT min(e.posted_on), c.through FROM journal_entries e, "
        "(SELECT max(closed_through) AS through FROM accounting_period_closes) c "
        "WHERE e.posted_on <= c.through GROUP BY c.through"
    )
    closed = cur.fetchone()
    if closed:
        raise RefusedError(f"a journal entry is dated {closed[0]}, in a period closed through {closed[1]}")
    cur.execute("ALTER TABLE journal_entries ENABLE TRIGGER journal_entries_open_period_insert")


def set_sequences(cur) -> None:
    for table in (*LOADED, "auth_user"):
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(max(id), 1), "
            f"max(id) IS NOT NULL) "
            f"FROM {table}"
        )


def copy(cur, table: str, columns: str, data: bytes | str, freeze: bool) -> None:
    if not data:
        return
    options = " WITH (FREEZE)" if freeze else ""
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN{options}") as cp:
        cp.write(data)
