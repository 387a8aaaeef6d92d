"""The invariants every history must satisfy, whoever wrote it (the simulator in bulk, or the services):
each returns a list of human-readable violations (empty when all is well)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

GL_BALANCE = """
SELECT COALESCE(sum(l.debit - l.credit), 0) FROM journal_lines l
JOIN gl_accounts g ON g.id = l.gl_account_id WHERE g.code = %s
"""

CHECKS: dict[str, str] = {
    "debits equal credits overall": """
        SELECT sum(debit), sum(credit) FROM journal_lines HAVING sum(debit) <> sum(credit)
    """,
    "every entry balanced": """
        SELECT entry_id, sum(debit), sum(credit) FROM journal_lines GROUP BY entry_id HAVING sum(debit) <>
        sum(credit) LIMIT 5
    """,
    "every entry has lines": """
        SELECT e.id FROM journal_entries e WHERE NOT EXISTS (SELECT 1 FROM journal_lines l WHERE l.entry_id
        = e.id) LIMIT 5
    """,
    "GL 2000 = savings balances": """
        SELECT g, s FROM (SELECT -( SELECT COALESCE(sum(l.debit - l.credit), 0) FROM journal_lines l JOIN
        gl_accounts g ON g.id = l.gl_account_id WHERE g.code = '2000' ) AS g, (SELECT COALESCE(sum(balance),
        0) FROM savings_accounts) AS s) x WHERE g <> s
    """,
    "GL 1100 = outstanding principal of outstanding loans": """
        SELECT g, s FROM (SELECT ( SELECT COALESCE(sum(l.debit - l.credit), 0) FROM journal_lines l JOIN
        gl_accounts g ON g.id = l.gl_account_id WHERE g.code = '1100' ) AS g, (SELECT
        COALESCE(sum(principal_outstanding), 0) FROM loans WHERE status IN ('active', 'restructured')) AS s)
        x WHERE g <> s
    """,
    "loan principal_outstanding = unpaid principal of its installments": """
        SELECT l.loan_number, l.principal_outstanding, sum(i.principal_due - i.principal_paid) FROM loans l
        JOIN loan_installments i ON i.loan_id = l.id WHERE l.status IN ('active', 'restructured') GROUP BY
        l.id HAVING l.principal_outstanding <> sum(i.principal_due - i.principal_paid) LIMIT 5
    """,
    "GL 2100 = principal of active fixed deposits": """
        SELECT g, s FROM (SELECT -( SELECT COALESCE(sum(l.debit - l.credit), 0) FROM journal_lines l JOIN
        gl_accounts g ON g.id = l.gl_account_id WHERE g.code = '2100' ) AS g, (SELECT
        COALESCE(sum(principal), 0) FROM investments WHERE status = 'active') AS s) x WHERE g <> s
    """,
    "GL 2110 = accrued unpaid earnings of active fixed deposits": """
        SELECT g, s FROM (SELECT -( SELECT COALESCE(sum(l.debit - l.credit), 0) FROM journal_lines l JOIN
        gl_accounts g ON g.id = l.gl_account_id WHERE g.code = '2110' ) AS g, (SELECT
        COALESCE(sum(e.amount), 0) FROM investment_earnings e JOIN investments v ON v.id = e.investment_id
        WHERE v.status = 'active' AND e.paid_on IS NULL) AS s) x WHERE g <> s
    """,
    "repayment parts sum to its amount and to its allocations": """
        SELECT r.id FROM loan_repayments r LEFT JOIN (SELECT repayment_id, sum(principal_amount) p,
        sum(interest_amount) i, sum(fee_amount) f, sum(penalty_amount) n FROM loan_repayment_allocations
        GROUP BY repayment_id) a ON a.repayment_id = r.id WHERE r.amount <> r.principal_amount +
        r.interest_amount + r.fee_amount + r.penalty_amount OR a.p IS DISTINCT FROM r.principal_amount OR
        a.i IS DISTINCT FROM r.interest_amount OR a.f IS DISTINCT FROM r.fee_amount OR a.n IS DISTINCT FROM
        r.penalty_amount LIMIT 5
    """,
    "installments paid within due, completed exactly when fully paid": """
        SELECT id FROM loan_installments WHERE principal_paid > principal_due OR interest_paid >
        interest_due OR fee_paid > fee_due OR penalty_paid > penalty_due OR ((completed_on IS NOT NULL) <>
        (principal_paid = principal_due AND interest_paid = interest_due AND fee_paid = fee_due AND
        penalty_paid = penalty_due)) LIMIT 5
    """,
    "installment paid amounts = their allocations": """
        SELECT i.id FROM loan_installments i LEFT JOIN (SELECT installment_id, sum(principal_amount) p,
        sum(interest_amount) n FROM loan_repayment_allocations GROUP BY installment_id) a ON
        a.installment_id = i.id WHERE i.principal_paid <> COALESCE(a.p, 0) OR i.interest_paid <>
        COALESCE(a.n, 0) LIMIT 5
    """,
    "loan statuses consistent with their dates": """
        SELECT loan_number, status FROM loans WHERE (status = 'applied' AND (approved_on IS NOT NULL OR
        rejected_on IS NOT NULL OR disbursed_on IS NOT NULL)) OR (status = 'rejected' AND (rejected_on IS
        NULL OR disbursed_on IS NOT NULL)) OR (status = 'approved' AND (approved_on IS NULL OR disbursed_on
        IS NOT NULL)) OR (status IN ('active', 'restructured', 'closed', 'written_off') AND (approved_on IS
        NULL     OR disbursed_on IS NULL OR disbursed_on < approved_on OR approved_on < applied_on)) OR
        (status = 'closed' AND (closed_on IS NULL OR closed_on < disbursed_on OR principal_outstanding <>
        0)) OR (status <> 'closed' AND closed_on IS NOT NULL) OR (status = 'written_off' AND (written_off_on
        IS NULL OR principal_outstanding <> 0)) OR (status <> 'written_off' AND written_off_on IS NOT NULL)
        OR (status IN ('active', 'restructured') AND principal_outstanding <= 0) LIMIT 5
    """,
    "written-off loans have their write-off row and entry": """
        SELECT l.loan_number FROM loans l LEFT JOIN loan_write_offs w ON w.loan_id = l.id WHERE (l.status =
        'written_off') <> (w.id IS NOT NULL) LIMIT 5
    """,
    "savings balance = last balance_after": """
        SELECT a.account_number FROM savings_accounts a JOIN LATERAL (SELECT t.balance_after FROM
        savings_transactions t WHERE t.account_id = a.id ORDER BY t.posted_at DESC, t.id DESC LIMIT 1) x ON
        true WHERE x.balance_after <> a.balance LIMIT 5
    """,
    "timestamps not after the last simulated day, updated_at >= created_at": """
        SELECT 'payments', id FROM payments WHERE updated_at < created_at UNION ALL SELECT 'loans', id FROM
        loans WHERE updated_at < created_at UNION ALL SELECT 'loan_installments', id FROM loan_installments
        WHERE updated_at < created_at LIMIT 5
    """,
}


def violations(cursor) -> list[str]:
    """Run every check; return one line per failing check."""
    found = []
    for name, sql in CHECKS.items():
        cursor.execute(sql)
        rows = cursor.fetchall()
        if rows:
            found.append(f"{name}: {rows[:5]}")
    return found


def stamped_off_their_day(cursor) -> list[str]:
    """Journal entries and savings transactions whose timestamp, where the institution is, falls on
    another day than their business date (the services stamp a day's operation on that day)."""
    found = []
    for table, stamp, day in (("journal_entries", "posted_at", "posted_on"),
                              ("savings_transactions", "posted_at", "value_date")):
        cursor.execute(
            f"SELECT count(*) FROM {table} WHERE ({stamp} AT TIME ZONE %s)::date <> {day}",
            [timezone.get_current_timezone_name()],
        )
        n = cursor.fetchone()[0]
        if n:
            found.append(f"{table}: {n} rows stamped on another day than their {day}")
    return found


def not_after(cursor, last: dt.date) -> list[str]:
    """Rows stamped after the end of `last` (the simulated history must not reach into the future)."""
    # the end of `last` where the institution is, not where the database session is
    end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time()))
    found = []
    for table in (
        "payments",
        "journal_entries",
        "loans",
        "loan_installments",
        "savings_transactions",
        "customers",
    ):
        cursor.execute(
            f"SELECT count(*) FROM {table} WHERE created_at >= %s OR updated_at >= %s",
            [end, end],
        )
        n = cursor.fetchone()[0]
        if n:
            found.append(f"{table}: {n} rows stamped after {last}")
    return found
