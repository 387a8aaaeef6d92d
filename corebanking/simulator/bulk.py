"""The bulk simulation: build the world, simulate customers in worker processes, stream their rows into
PostgreSQL with COPY in one transaction, add the institution-level books, and report.

Workers take chunks of customers round-robin. A chunk's rows carry chunk-local ids; the global id of a
row is its chunk's offset (the sum of the row counts of all earlier chunks, per table) plus its local id,
so ids — like everything else — depend only on the seed, not on the number of workers or on timing.
A worker publishes a chunk's counts as soon as it is simulated, simulates its next chunk, and only then
formats the previous one (by when the counts of every earlier chunk are known), so nobody waits long.

COPY bypasses the models' signals, so the audit trail does not see the rows one by one: the run records
ONE audit entry instead (the creation of the simulator's mark, by `system.simulator` from source
"simulator", with the row count of every table), in the transaction that writes the history.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction

from core.actor import acting_as, system_user
from loans.rules import days_past_due, in_par
from simulator import engine, writer
from simulator.institution import institution_books, world_copy_data
from simulator.tables import BY_NAME, CHUNKED, TABLES, make_formatter
from simulator.world import World, build_world

CHUNK = 64  # customers per chunk


@dataclass
class Options:
    customers: int
    years: float
    seed: int
    until: dt.date
    branches: int | None = None
    reset: bool = False
    workers: int = 2


@dataclass
class Summary:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    par30: float = 0.0
    write_off_ratio: float = 0.0
    loans: int = 0
    disbursed_loans: int = 0
    written_off_loans: int = 0
    restructured_loans: int = 0
    journal_entries: int = 0
    glp: str = "0"
    stats: dict = field(default_factory=dict)


def _formatters(w: World) -> dict:
    return {t.name: make_formatter(t, w.cal.day_str, w.cal.minute_str) for t in TABLES}


# --- worker side -------------------------------------------------------------------------------------------
def _worker(wid: int, n_workers: int, chunks: list[tuple[int, int]], conn, counts, published, cond) -> None:
    try:
        fmts = _formatters(engine.W)
        n_tables = len(CHUNKED)
        total = engine.Chunk(engine.n_months())
        pending = None

        def emit(i: int, ch: engine.Chunk) -> None:
            with cond:
                cond.wait_for(lambda: all(published[j] for j in range(i)))
                offsets = {
                    name: sum(counts[j * n_tables + k] for j in range(i)) for k, name in enumerate(CHUNKED)
                }
            for name, rows in ch.rows.items():
                if rows:
                    conn.send(("data", name, fmts[name](rows, offsets).encode()))
            conn.send(("chunk", i, chunks[i][1] - chunks[i][0]))

        for i in range(wid, len(chunks), n_workers):
            ch = engine.simulate_chunk(*chunks[i])
            with cond:
                for k, c in enumerate(ch.counts()):
                    counts[i * n_tables + k] = c
                published[i] = 1
                cond.notify_all()
            _merge(total, ch)
            if pending is not None:
                emit(*pending)
            pending = (i, ch)
        if pending is not None:
            emit(*pending)
        conn.send(
            (
                "done",
                wid,
                {
                    "aging": total.aging,
                    "write_offs": total.write_offs,
                    "recoveries": total.recoveries,
                    "cash": total.cash,
                    "active_clients": total.active_clients,
                    "stats": total.stats,
                },
            )
        )
    except BaseException:  # report, never hang the main process
        conn.send(("error", wid, traceback.format_exc()))
    finally:
        conn.close()


def _merge(total: engine.Chunk, ch: engine.Chunk) -> None:
    for a, b in zip(total.aging, ch.aging, strict=True):
        for k in range(len(a)):
            a[k] += b[k]
    for name in ("write_offs", "recoveries", "cash", "active_clients"):
        ta, tb = getattr(total, name), getattr(ch, name)
        for k in range(len(ta)):
            ta[k] += tb[k]
    for k, v in ch.stats.items():
        total.stats[k] += v


def _merge_dicts(parts: list[dict]) -> dict:
    out = parts[0]
    for p in parts[1:]:
        for a, b in zip(out["aging"], p["aging"], strict=True):
            for k in range(len(a)):
                a[k] += b[k]
        for name in ("write_offs", "recoveries", "cash", "active_clients"):
            for k in range(len(out[name])):
                out[name][k] += p[name][k]
        for k, v in p["stats"].items():
            out["stats"][k] += v
    return out


# --- main side ---------------------------------------------------------------------------------------------
def _phase(name: str, started: float) -> None:
    if os.environ.get("FINHOUSE_SIM_TIMING"):
        print(f"[{time.perf_counter() - started:7.2f} s] {name}", file=sys.stderr)


def run(opts: Options, progress=None) -> Summary:
    """Simulate and load. `progress(done, total, phase)` is called as customers are loaded."""
    started = time.perf_counter()
    connection.ensure_connection()
    with connection.cursor() as cur:
        writer.check_replaceable(cur, connection.settings_dict["NAME"], reset=opts.reset)  # fail early
        # After the check (a refused database is left untouched, not even a user added) and before the
        # world's user ids are numbered past the existing users' (user_base below).
        simulator = system_user("simulator")
        cur.execute("SELECT code, id FROM gl_accounts")
        gl = dict(cur.fetchall())
        cur.execute("SELECT code, id FROM transaction_types")
        ttype = dict(cur.fetchall())
        cur.execute("SELECT COALESCE(max(id), 0) FROM auth_user WHERE id NOT IN (SELECT user_id FROM staff)")
        user_base = cur.fetchone()[0]
    w = build_world(
        seed=opts.seed,
        customers=opts.customers,
        years=opts.years,
        until=opts.until,
        branches=opts.branches,
        gl=gl,
        ttype=ttype,
        user_id_base=user_base,
        currency=settings.FINHOUSE_CURRENCY,
    )
    engine.prepare(w)
    chunks = [(a, min(a + CHUNK, opts.customers)) for a in range(0, opts.customers, CHUNK)]

    # fork the workers without an open database connection
    connection.close()
    ctx = mp.get_context("fork")
    n_workers = max(1, min(opts.workers, len(chunks)))
    counts = ctx.RawArray("q", len(chunks) * len(CHUNKED))
    published = ctx.RawArray("b", len(chunks))
    cond = ctx.Condition()
    procs, conns = [], []
    for wid in range(n_workers):
        parent_end, child_end = ctx.Pipe(duplex=False)
        p = ctx.Process(
            target=_worker,
            args=(wid, n_workers, chunks, child_end, counts, published, cond),
            name=f"simulate-{wid}",
            daemon=True,
        )
        p.start()
        child_end.close()
        procs.append(p)
        conns.append(parent_end)

    summary = Summary()
    try:
        with transaction.atomic():
            raw = connection.connection
            with raw.cursor() as cur:
                cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
                cur.execute("SET LOCAL synchronous_commit = off")
                # the history's timestamps are the institution's wall-clock times (calendar.minute_str)
                cur.execute("SELECT set_config('TimeZone', %s, true)", [settings.TIME_ZONE])
                writer.lock(cur)  # then check again: nothing can be written between the check and reset
                writer.check_replaceable(cur, connection.settings_dict["NAME"], reset=opts.reset)
                writer.reset(cur)
                writer.mark(cur, seed=opts.seed, customers=opts.customers, years=opts.years, until=opts.until)
                cap = writer.capture_and_drop(cur)
                for table, columns, text in world_copy_data(w):
                    writer.copy(cur, table, columns, text.encode(), freeze=table != "auth_user")
                _phase("world loaded", started)
                aggregates = _receive(cur, conns, procs, opts.customers, progress)
                _phase("customers loaded", started)
                books, inst_stats = institution_books(w, aggregates)
                offsets = {
                    name: sum(counts[j * len(CHUNKED) + k] for j in range(len(chunks)))
                    for k, name in enumerate(CHUNKED)
                }
                fmts = _formatters(w)
                for name, rows in books.rows.items():
                    writer.copy(
                        cur, name, BY_NAME[name].column_list, fmts[name](rows, offsets).encode(), True
                    )
                if progress:
                    progress(opts.customers, opts.customers, "indexes")
                _phase("institution loaded", started)
                writer.restore(cur, cap)
                _phase("indexes restored", started)
                writer.check_balanced(cur)
                writer.set_sequences(cur)
                cur.execute(
                    f"ANALYZE {', '.join(writer.LOADED)}"
                )  # statistics for what follows, and for users
                _phase("checked", started)
                summary.rows = _row_counts(cur)
                _kpis(cur, w, summary, aggregates)
                with acting_as(simulator, "simulator"):
                    _audit_bulk_run(summary.rows)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join()
    _phase("committed", started)
    _phase("analyzed", started)
    if os.environ.get("FINHOUSE_SIM_TIMING"):
        print({k: round(v, 2) for k, v in COPY_TIME.items()}, file=sys.stderr)
        for sec, sql in sorted(writer.TIMINGS, reverse=True)[:25]:
            print(f"{sec:6.2f} {sql}", file=sys.stderr)
        print("restore total", sum(t for t, _ in writer.TIMINGS), len(writer.TIMINGS), file=sys.stderr)
    summary.stats = {**aggregates["stats"], **inst_stats}
    summary.loans = aggregates["stats"]["loans"]
    summary.disbursed_loans = aggregates["stats"]["disbursed_loans"]
    summary.written_off_loans = aggregates["stats"]["written_off_loans"]
    summary.restructured_loans = aggregates["stats"]["restructured_loans"]
    summary.seconds = time.perf_counter() - started
    return summary


COPY_TIME: dict[str, float] = {}


def _receive(cur, conns, procs, total_customers: int, progress) -> dict:
    """COPY what the workers send. A reader thread per worker drains its pipe into a queue, so a worker
    never waits for the main process to finish a COPY (the database ingests while the workers compute)."""
    done_parts: dict[int, dict] = {}
    loaded = 0
    columns = {t.name: t.column_list for t in TABLES}
    inbox: queue.SimpleQueue = queue.SimpleQueue()

    def drain(conn) -> None:
        try:
            while True:
                inbox.put(conn.recv())
        except (EOFError, OSError):
            inbox.put(None)

    readers = [threading.Thread(target=drain, args=(c,), daemon=True) for c in conns]
    for r in readers:
        r.start()
    open_pipes = len(readers)
    while open_pipes:
        msg = inbox.get()
        if msg is None:
            open_pipes -= 1
            continue
        kind = msg[0]
        if kind == "data":
            c0 = time.perf_counter()
            writer.copy(cur, msg[1], columns[msg[1]], msg[2], freeze=True)
            COPY_TIME[msg[1]] = COPY_TIME.get(msg[1], 0) + time.perf_counter() - c0
        elif kind == "chunk":
            loaded += msg[2]
            if progress:
                progress(loaded, total_customers, "customers")
        elif kind == "done":
            done_parts[msg[1]] = msg[2]
        elif kind == "error":
            raise RuntimeError(f"simulation worker {msg[1]} failed:\n{msg[2]}")
    if len(done_parts) != len(procs):
        raise RuntimeError("a simulation worker stopped without finishing")
    return _merge_dicts([done_parts[k] for k in sorted(done_parts)])


def _audit_bulk_run(rows: dict[str, int]) -> None:
    """The run's one audit entry: the simulator's mark created, with the rows the run wrote."""
    from audit.models import AuditLogEntry
    from simulator.models import SimulatedInstitution

    mark = SimulatedInstitution.objects.get()  # the one row writer.mark() wrote in this transaction
    AuditLogEntry.objects.log_create(
        mark,
        action=AuditLogEntry.Action.CREATE,
        # as auditlog writes a creation: field → [old, new] as text (the mark is not a registered model)
        changes={f.name: ["None", str(getattr(mark, f.attname))] for f in mark._meta.concrete_fields},
        additional_data={"bulk_copy": True, "rows": rows},
    )


def _row_counts(cur) -> dict[str, int]:
    out = {}
    for table in (*writer.WORLD_TABLES, *(t.name for t in TABLES)):
        cur.execute(f"SELECT count(*) FROM {table}")
        out[table] = cur.fetchone()[0]
    return out


def _kpis(cur, w: World, s: Summary, aggregates: dict) -> None:
    as_of = w.cal.date(w.until)
    # each outstanding loan with the oldest due date of its open installments; days past due by loans.rules
    cur.execute(
        """
        WITH oldest AS (
            SELECT loan_id, min(due_on) AS due_on FROM loan_installments
            WHERE NOT superseded AND (completed_on IS NULL OR completed_on > %(d)s)
            GROUP BY loan_id
        )
        SELECT l.principal_outstanding, o.due_on
        FROM loans l LEFT JOIN oldest o ON o.loan_id = l.id
        WHERE l.status IN ('active', 'restructured') AND l.principal_outstanding > 0
        """,
        {"d": as_of},
    )
    loans = cur.fetchall()
    glp = sum((principal for principal, _ in loans), Decimal(0))
    par30 = sum((principal for principal, due_on in loans if in_par(days_past_due(as_of, due_on), 30)),
                Decimal(0))
    s.glp = str(glp)
    s.par30 = float(par30 / glp) if glp else 0.0
    # write-offs of the last twelve months (annualised when the history is shorter) over the average
    # month-end GLP of the same months (from the month-end aging the provisioning used)
    cur.execute(
        "SELECT COALESCE(sum(principal_amount), 0) FROM loan_write_offs "
        "WHERE written_off_on > %(d)s::date - 365",
        {"d": as_of},
    )
    written = int(cur.fetchone()[0] * 100)
    month_ends = engine.MONTH_ENDS
    recent = [m for m, me in enumerate(month_ends) if me > w.until - 365]
    if recent:
        avg_glp = sum(sum(aggregates["aging"][m]) for m in recent) / len(recent)
        s.write_off_ratio = written / avg_glp * 12 / len(recent) if avg_glp else 0.0
    cur.execute("SELECT count(*) FROM journal_entries")
    s.journal_entries = cur.fetchone()[0]


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
