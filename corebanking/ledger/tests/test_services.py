"""The ledger helper, the database's guards on the journal, updated_at, GL selectors, and the
institution-level operations (operating expenses, funding)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, connection, transaction

from core.exceptions import BusinessError
from core.testing import DAY0, assert_books_consistent, entry_lines
from customers.models import Customer
from ledger import chart
from ledger.models import GLAccount, JournalEntry, JournalLine
from ledger.selectors import gl_balance, trial_balance
from ledger.services import (
    funding_interest_pay,
    funding_receive,
    journal_entry_reverse,
    journal_post,
    operating_expense_post,
)
from payments.models import Payment

Z = D("0.00")


def post(lines, **kwargs):
    return journal_post(kind="funding", posted_on=DAY0, lines=lines, **kwargs)


@pytest.mark.django_db
class TestJournalPost:
    def test_posts_one_balanced_entry_and_drops_zero_lines(self):
        entry = post([("1020", D("100.00"), Z), ("2200", Z, D("100.00")), ("4000", Z, Z)])
        assert entry_lines(entry) == [("1020", D("100.00"), Z), ("2200", Z, D("100.00"))]
        assert entry.description == "Funding received"

    @pytest.mark.parametrize(
        "lines,message",
        [
            ([("1020", D("100.00"), Z), ("2200", Z, D("99.99"))], "debits 100.00 ≠ credits 99.99"),
            ([("1020", D("1.00"), D("1.00"))], "exactly one positive side"),
            ([("1020", D("-1.00"), Z), ("2200", Z, D("-1.00"))], "exactly one positive side"),
            ([("1020", Z, Z)], "no non-zero lines"),
            ([("9999", D("1.00"), Z), ("2200", Z, D("1.00"))], "unknown GL account(s) 9999"),
        ],
    )
    def test_refuses_a_bad_entry_before_writing(self, lines, message, refused):
        with refused(message):
            post(lines)

    def test_refuses_an_unknown_kind(self, refused):
        with refused("unknown kind 'gift'"):
            journal_post(kind="gift", posted_on=DAY0, lines=[("1020", D(1), Z), ("2200", Z, D(1))])

    def test_reversal_mirrors_the_entry_once(self, refused):
        entry = post([("1020", D("100.00"), Z), ("2200", Z, D("100.00"))])
        reversal = journal_entry_reverse(entry=entry, on=DAY0, reason="keyed twice")
        assert reversal.reversal_of == entry and reversal.kind == "reversal"
        assert entry_lines(reversal) == [("1020", Z, D("100.00")), ("2200", D("100.00"), Z)]
        assert gl_balance("1020") == Z
        with refused("already reversed"):
            journal_entry_reverse(entry=entry, on=DAY0, reason="again")
        with refused("itself a reversal"):
            journal_entry_reverse(entry=reversal, on=DAY0, reason="undo")


@pytest.mark.django_db
class TestDatabaseGuards:
    def _entry(self):
        return JournalEntry.objects.create(
            kind="funding", posted_on=DAY0, posted_at="2025-01-06T12:00Z", description="raw"
        )

    def test_database_refuses_an_unbalanced_entry(self):
        entry, bank, loans = (
            self._entry(),
            GLAccount.objects.get(code="1020"),
            GLAccount.objects.get(code="2200"),
        )
        with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
            JournalLine.objects.bulk_create(
                [
                    JournalLine(entry=entry, gl_account=bank, debit=D("10.00")),
                    JournalLine(entry=entry, gl_account=loans, credit=D("9.00")),
                ]
            )
        assert not JournalLine.objects.filter(entry=entry).exists()

    def test_database_refuses_a_line_with_two_sides(self):
        entry, bank = self._entry(), GLAccount.objects.get(code="1020")
        with pytest.raises(IntegrityError, match="journal_line_one_side"), transaction.atomic():
            JournalLine.objects.create(entry=entry, gl_account=bank, debit=D("1.00"), credit=D("1.00"))

    @pytest.mark.parametrize(
        "sql",
        [
            "UPDATE journal_lines SET debit = debit + 1 WHERE id = %s",
            "DELETE FROM journal_lines WHERE id = %s",
        ],
    )
    def test_database_refuses_changing_or_deleting_a_posted_line(self, sql):
        entry = post([("1020", D("100.00"), Z), ("2200", Z, D("100.00"))])
        line = entry.lines.first()
        with (
            pytest.raises(IntegrityError, match="immutable"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql, [line.pk])
        with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
            JournalLine.objects.filter(pk=line.pk).update(credit=D("1.00"))
        assert entry_lines(entry) == [("1020", D("100.00"), Z), ("2200", Z, D("100.00"))]


def _age_updated_at(table: str, pk: int) -> None:
    """Set a row's updated_at to the year 2000 behind the trigger's back (the trigger would set now())."""
    with connection.cursor() as cur:
        cur.execute(
            "SET CONSTRAINTS ALL IMMEDIATE"
        )  # ALTER TABLE refuses while deferred FK checks are pending
        cur.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{table}_touch_updated_at"')
        cur.execute(f"UPDATE {table} SET updated_at = '2000-01-01T00:00Z' WHERE id = %s", [pk])
        cur.execute(f'ALTER TABLE {table} ENABLE TRIGGER "{table}_touch_updated_at"')
        cur.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.mark.django_db
class TestUpdatedAt:
    def test_every_table_with_updated_at_has_the_touch_trigger(self):
        with connection.cursor() as cur:
            cur.execute("""
                SELECT c.table_name FROM information_schema.columns c
                JOIN information_schema.tables t USING (table_schema, table_name)
                WHERE c.table_schema = current_schema() AND c.column_name = 'updated_at'
                  AND t.table_type = 'BASE TABLE'
                  AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.table_name::regclass
                                  AND g.tgname = c.table_name || '_touch_updated_at' AND NOT g.tgisinternal)
            """)
            assert cur.fetchall() == []

    def test_a_bulk_queryset_update_moves_updated_at(self, customer):
        _age_updated_at("customers", customer.pk)
        customer.refresh_from_db()
        assert customer.updated_at.year == 2000
        assert Customer.objects.filter(pk=customer.pk).update(phone="+254700000001") == 1  # bypasses auto_now
        customer.refresh_from_db()
        assert customer.updated_at.year > 2000
        assert customer.created_at.year > 2000  # created_at is never touched

    def test_a_service_update_moves_updated_at(self, make_account):
        account = make_account(D("100.00"))
        _age_updated_at("savings_accounts", account.pk)
        from savings.services import account_deposit

        account_deposit(account=account, amount=D("5.00"), on=DAY0)
        account.refresh_from_db()
        assert account.updated_at.year > 2000

    def test_raw_sql_update_moves_updated_at(self, branch):
        _age_updated_at("branches", branch.pk)
        with connection.cursor() as cur:
            cur.execute("UPDATE branches SET name = 'Renamed' WHERE id = %s", [branch.pk])
        branch.refresh_from_db()
        assert branch.updated_at.year > 2000


@pytest.mark.django_db
class TestInstitutionOperations:
    def test_operating_expense(self, branch, refused):
        entry = operating_expense_post(
            category="personnel", amount=D("2500.00"), branch=branch, on=DAY0, description="January salaries"
        )
        assert entry.kind == "operating_expense"
        assert entry_lines(entry) == [("1020", Z, D("2500.00")), ("5200", D("2500.00"), Z)]
        payment = Payment.objects.get(pk=entry.source_id)
        assert (payment.direction, payment.purpose, payment.channel, payment.amount) == (
            "outbound",
            "operating_expense",
            "bank",
            D("2500.00"),
        )
        with refused("unknown category 'parties'"):
            operating_expense_post(category="parties", amount=D("1.00"), branch=branch, on=DAY0)
        with refused("never a float"):
            operating_expense_post(category="transport", amount=12.5, branch=branch, on=DAY0)

    @pytest.mark.parametrize("kind,code", [("borrowing", "2200"), ("equity", "3000"), ("grant", "3010")])
    def test_funding(self, branch, kind, code):
        entry = funding_receive(kind=kind, amount=D("100000.00"), funder="Oikocredit", branch=branch, on=DAY0)
        assert entry_lines(entry) == sorted([("1020", D("100000.00"), Z), (code, Z, D("100000.00"))])
        assert gl_balance(code) == D("100000.00")

    def test_funding_refusals(self, branch, refused):
        with refused("unknown kind 'loan'"):
            funding_receive(kind="loan", amount=D("1.00"), funder="X", branch=branch, on=DAY0)
        with refused("funder is not named"):
            funding_receive(kind="grant", amount=D("1.00"), funder=" ", branch=branch, on=DAY0)
        with refused("must be positive"):
            funding_interest_pay(amount=D("-3.00"), funder="X", branch=branch, on=DAY0)

    def test_funding_interest(self, branch):
        entry = funding_interest_pay(amount=D("750.00"), funder="Oikocredit", branch=branch, on=DAY0)
        assert entry_lines(entry) == [("1020", Z, D("750.00")), ("5020", D("750.00"), Z)]

    def test_reference_is_unique(self, branch, refused):
        funding_receive(
            kind="equity", amount=D("10.00"), funder="A", branch=branch, on=DAY0, reference="BANK-1"
        )
        with refused("reference BANK-1 is already recorded"):
            funding_receive(
                kind="equity", amount=D("10.00"), funder="A", branch=branch, on=DAY0, reference="BANK-1"
            )


@pytest.mark.django_db
def test_gl_balance_and_trial_balance_by_date(branch):
    funding_receive(kind="equity", amount=D("1000.00"), funder="Founders", branch=branch, on=DAY0)
    operating_expense_post(
        category="occupancy", amount=D("300.00"), branch=branch, on=DAY0 + dt.timedelta(days=5)
    )
    assert gl_balance("1020") == D("700.00")  # asset: debits − credits
    assert gl_balance("3000") == D("1000.00")  # equity: credits − debits
    assert gl_balance("1020", as_of=DAY0) == D("1000.00")
    assert gl_balance("5220", as_of=DAY0) == Z
    rows = {r.code: (r.debit, r.credit) for r in trial_balance()}
    assert rows == {"1020": (D("700.00"), Z), "3000": (Z, D("1000.00")), "5220": (D("300.00"), Z)}
    assert sum(r.debit for r in trial_balance()) == sum(r.credit for r in trial_balance())
    assert {r.code for r in trial_balance(as_of=DAY0)} == {"1020", "3000"}
    assert_books_consistent()


@pytest.mark.django_db
def test_business_error_is_what_services_raise():
    with pytest.raises(BusinessError):
        journal_post(kind="funding", posted_on=DAY0, lines=[])
    assert chart.CASH_ACCOUNT_BY_CHANNEL["mobile_money"] == "1030"


@pytest.mark.django_db
def test_every_money_service_posts_balanced_entries_and_the_gl_matches_the_subledgers(
    branch, customer, make_customer, make_account, make_loan, fd_product
):
    """One of every money-moving operation, then: each entry balanced, every entry kind seen, and
    GL 2000 / 1100 / 2100 / 2110 equal to their sub-ledgers."""
    from investments.services import (
        investment_accrue,
        investment_pay_earnings,
        investment_place,
        investment_redeem,
    )
    from loans.selectors import loan_owed_get
    from loans.services import loan_write_off, provision_post, recovery_post, repayment_post
    from savings.services import (
        account_close,
        account_deposit,
        account_fee_charge,
        account_interest_post,
        account_transaction_reverse,
        account_transfer,
        account_withdraw,
    )

    day = dt.date(2025, 1, 6)
    funding_receive(kind="borrowing", amount=D("50000.00"), funder="Bank", branch=branch, on=day)
    funding_interest_pay(amount=D("400.00"), funder="Bank", branch=branch, on=day)
    operating_expense_post(category="transport", amount=D("120.00"), branch=branch, on=day)
    a, b = make_account(D("2000.00")), make_account(D("500.00"), customer_=make_customer())
    account_withdraw(account=a, amount=D("100.00"), on=day)
    account_transfer(from_account=a, to_account=b, amount=D("250.00"), on=day)
    wrong = account_deposit(account=b, amount=D("40.00"), on=day)
    account_transaction_reverse(savings_transaction=wrong, reason="wrong account", on=day)
    account_fee_charge(account=b, on=day)
    account_interest_post(account=a, period_start=day, period_end=dt.date(2025, 2, 5))
    account_close(account=b, on=dt.date(2025, 2, 6))
    good, bad = make_loan(D("1200.00")), make_loan(D("800.00"), term=6, customer_=make_customer())
    repayment_post(loan=good, amount=D("300.00"), on=dt.date(2025, 2, 6))
    repayment_post(loan=good, amount=loan_owed_get(good).total, on=dt.date(2025, 3, 6))
    provision_post(on=dt.date(2025, 5, 1))
    loan_write_off(loan=bad, reason="fraud", on=dt.date(2025, 6, 1))
    recovery_post(loan=bad, amount=D("80.00"), on=dt.date(2025, 6, 20))
    make_loan(D("600.00"), term=6, customer_=make_customer(), on=dt.date(2025, 6, 1))  # still outstanding
    fd = investment_place(customer=customer, product=fd_product, amount=D("5000.00"), on=day)
    investment_accrue(investment=fd, period_end=dt.date(2025, 2, 6))
    investment_pay_earnings(investment=fd, on=dt.date(2025, 2, 6))
    investment_accrue(investment=fd, period_end=dt.date(2025, 3, 6))
    kept = investment_place(customer=customer, product=fd_product, amount=D("2000.00"), on=day)
    investment_accrue(investment=kept, period_end=dt.date(2025, 2, 6))
    investment_redeem(investment=fd, on=dt.date(2025, 4, 6))

    assert set(JournalEntry.objects.values_list("kind", flat=True)) == set(JournalEntry.Kind.values)
    assert_books_consistent()
    assert gl_balance("2100") == D("2000.00") and gl_balance("2110") > 0
