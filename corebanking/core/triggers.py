"""Database triggers the platform depends on, installed after every migrate (idempotently).

- `finhouse_touch_updated_at`: on every UPDATE of a table with an `updated_at` column, set it to the
  transaction's timestamp. Django's auto_now misses QuerySet.update() and raw SQL; a trigger does not.
- `journal_lines`: lines are immutable (corrections are reversing entries), and every INSERT statement
  must leave each entry it touches balanced (debits = credits). The check is statement-level, over the
  statement's transition table, so a bulk COPY of millions of lines is checked in one pass.
- `audit_log` (corebanking/audit): append-only; an UPDATE or DELETE raises, whoever sends it (the ORM, the
  admin, raw SQL). TRUNCATE is not refused: Django's test flush uses it; keeping the table owner's
  TRUNCATE from the application's role is a matter of database roles.
- `journal_entries`: no entry may be inserted, changed or deleted on a date within a closed accounting
  period (on or before the latest accounting_period_closes.closed_through): the services refuse such a
  date first (core.clock); this catches everything else (raw SQL, a race with the close). Statement-level
  over the transition tables, like the balance check.
"""

from django.db import connection

TOUCH_FUNCTION = """
CREATE OR REPLACE FUNCTION finhouse_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;
"""

JOURNAL_SQL = """
CREATE OR REPLACE FUNCTION finhouse_journal_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'journal lines are immutable: post a reversing entry instead'
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE OR REPLACE FUNCTION finhouse_journal_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT l.entry_id, sum(l.debit) AS debits, sum(l.credit) AS credits INTO bad
    FROM journal_lines l
    WHERE l.entry_id IN (SELECT DISTINCT n.entry_id FROM new_lines n)
    GROUP BY l.entry_id
    HAVING sum(l.debit) <> sum(l.credit)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % is unbalanced: debits % <> credits %',
            bad.entry_id, bad.debits, bad.credits USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER journal_lines_immutable
    BEFORE UPDATE OR DELETE ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION finhouse_journal_immutable();

CREATE OR REPLACE TRIGGER journal_lines_balanced
    AFTER INSERT ON journal_lines REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION finhouse_journal_balanced();
"""

AUDIT_SQL = """
CREATE OR REPLACE FUNCTION finhouse_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE OR REPLACE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION finhouse_audit_append_only();
"""


# Closed accounting periods (ledger.PeriodClose), kept apart from the checks above.
PERIOD_CLOSE_SQL = """
CREATE OR REPLACE FUNCTION finhouse_journal_entries_open_period() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    closed date;
    earliest date;
BEGIN
    SELECT max(closed_through) INTO closed FROM accounting_period_closes;
    IF closed IS NULL THEN
        RETURN NULL;
    END IF;
    -- plpgsql plans each statement when it first runs it, so only the op's transition tables are read
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT min(posted_on) INTO earliest FROM new_entries;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT least(earliest, min(posted_on)) INTO earliest FROM old_entries;
    END IF;
    IF earliest <= closed THEN
        RAISE EXCEPTION 'journal entry dated % refused: the books are closed through %; '
            'post it in the open period', earliest, closed USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER journal_entries_open_period_insert
    AFTER INSERT ON journal_entries REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION finhouse_journal_entries_open_period();

CREATE OR REPLACE TRIGGER journal_entries_open_period_update
    AFTER UPDATE ON journal_entries REFERENCING OLD TABLE AS old_entries NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION finhouse_journal_entries_open_period();

CREATE OR REPLACE TRIGGER journal_entries_open_period_delete
    AFTER DELETE ON journal_entries REFERENCING OLD TABLE AS old_entries
    FOR EACH STATEMENT EXECUTE FUNCTION finhouse_journal_entries_open_period();
"""


def install_triggers(sender=None, using="default", **kwargs) -> None:
    """Attach the touch trigger to every table with an updated_at column; install the journal checks and
    the audit log's refusal of edits."""
    from django.db import connections

    conn = connections[using] if using else connection
    with conn.cursor() as cur:
        cur.execute(TOUCH_FUNCTION)
        cur.execute(
            """
            SELECT c.table_name FROM information_schema.columns c
            JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = current_schema() AND c.column_name = 'updated_at'
              AND t.table_type = 'BASE TABLE'
            """
        )
        for (table,) in cur.fetchall():
            quoted = conn.ops.quote_name(table)
            cur.execute(
                f"CREATE OR REPLACE TRIGGER {conn.ops.quote_name(table + '_touch_updated_at')} "
                f"BEFORE UPDATE ON {quoted} FOR EACH ROW EXECUTE FUNCTION finhouse_touch_updated_at()"
            )
        cur.execute("SELECT to_regclass('journal_lines') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute(JOURNAL_SQL)
        cur.execute("SELECT to_regclass('audit_log') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute(AUDIT_SQL)
        cur.execute("SELECT to_regclass('accounting_period_closes') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute(PERIOD_CLOSE_SQL)
