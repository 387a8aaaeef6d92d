"""Backdated operations and dimension changes through the services, for the incremental-build test:
run inside Django (`manage.py shell < tests/backdated_activity.py`). Each is something an institution
does: a deposit keyed in weeks late, a mistaken deposit reversed, repayments and a write-off with an
earlier value date, a closed loan reassigned to another officer, an account moved to another branch.
The incremental dbt models must recompute the closed months these reach, as a full rebuild does.

Dates are counted back from the institution's last business date. Runs again on the same institution
(each run reverses another deposit, writes another loan off). Prints one line per operation."""

import datetime as dt
from decimal import Decimal

from django.db.models import Max, Q

from customers.models import Branch, Staff
from ledger.models import JournalEntry, SavingsTransaction
from loans.models import Loan
from loans.services import loan_write_off, repayment_post
from savings.models import SavingsAccount
from savings.services import account_deposit, account_transaction_reverse

last = JournalEntry.objects.order_by("-posted_on").values_list("posted_on", flat=True).first()
month_start = last.replace(day=1)
two_months_back = (month_start - dt.timedelta(days=40)).replace(day=15)
one_month_back = (month_start - dt.timedelta(days=10)).replace(day=10)
done = []

accounts = SavingsAccount.objects.filter(status="active").order_by("id")
for account, on in ((accounts[0], two_months_back), (accounts[1], one_month_back)):
    account_deposit(account=account, amount=Decimal("1234.50"), on=on)
    done.append(f"deposit on {on} into account {account.pk}")

# not one reversed already: the script runs again on the same institution (the clock test)
old = (SavingsTransaction.objects.filter(type__code="deposit", value_date__lt=two_months_back,
                                         reversed_by__isnull=True)
       .order_by("-id").first())
account_transaction_reverse(savings_transaction=old, reason="backdated test reversal", on=one_month_back)
done.append(f"reversal on {one_month_back} of deposit {old.pk} of {old.value_date}")

outstanding = Loan.objects.filter(status__in=Loan.OUTSTANDING)
for loan in outstanding.filter(disbursed_on__lt=two_months_back).order_by("id")[:2]:
    repayment_post(loan=loan, amount=Decimal("50.00"), on=two_months_back)
    done.append(f"repayment on {two_months_back} of loan {loan.pk}")

# a write-off is never dated before the loan's last repayment: a loan that stopped paying before then
late = (outstanding.filter(disbursed_on__lt=one_month_back).annotate(last_paid=Max("repayments__paid_on"))
        .filter(Q(last_paid__lt=one_month_back) | Q(last_paid__isnull=True)).order_by("-id").first())
if late is not None:
    loan_write_off(loan=late, reason="backdated test write-off", on=one_month_back)
    done.append(f"write-off on {one_month_back} of loan {late.pk}")

loan = Loan.objects.filter(status="closed").order_by("id").first()
loan.officer = Staff.objects.exclude(pk=loan.officer_id).order_by("id").first()
loan.save()
done.append(f"closed loan {loan.pk} reassigned to officer {loan.officer_id}")

account = SavingsAccount.objects.order_by("id")[2]
other_branch = Branch.objects.exclude(pk=account.branch_id).order_by("id").first()
if other_branch is None:  # a one-branch institution: a branch opens
    other_branch = Branch.objects.create(code="BT01", name="Backdated test branch", region="Test",
                                         opened_on=account.opened_on)
account.branch = other_branch
account.save()
done.append(f"account {account.pk} moved to branch {account.branch_id}")
print("\n".join(done))
