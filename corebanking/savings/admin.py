"""Staff admin for savings products and accounts. Balances move only through the services (deposit,
withdraw, transfer), offered as buttons on the account page; the account's ledger is read-only."""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from core.admin_tools import (
    BranchScopedAdminMixin,
    Operation,
    OperationForm,
    OperationsAdminMixin,
    format_money,
    html_table,
    money,
    rate,
)
from ledger.models import SavingsTransaction
from payments.models import Payment
from savings.models import SavingsAccount, SavingsProduct

RECENT_TRANSACTIONS = 25


@admin.register(SavingsProduct)
class SavingsProductAdmin(BranchScopedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "kind", rate("interest_rate"), money("minimum_balance"),
                    money("monthly_fee"), money("withdrawal_fee"), "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]


class MovementForm(OperationForm):
    amount = forms.DecimalField(max_digits=18, decimal_places=2, min_value=0)
    on = forms.DateField(initial=timezone.localdate)
    channel = forms.ChoiceField(choices=Payment.Channel.choices, initial=Payment.Channel.CASH)
    reference = forms.CharField(max_length=64, required=False,
                                help_text="the provider's reference; generated when left empty")


def _deposit(account: SavingsAccount, data: dict, user) -> str:
    from savings import services

    services.account_deposit(account=account, amount=data["amount"], on=data["on"], channel=data["channel"],
                             reference=data["reference"] or None)
    account.refresh_from_db()
    return f"Deposited {format_money(data['amount'])}; balance {format_money(account.balance)}."


def _withdraw(account: SavingsAccount, data: dict, user) -> str:
    from savings import services

    services.account_withdraw(account=account, amount=data["amount"], on=data["on"], channel=data["channel"],
                              reference=data["reference"] or None)
    account.refresh_from_db()
    return f"Withdrew {format_money(data['amount'])}; balance {format_money(account.balance)}."


class CloseForm(OperationForm):
    on = forms.DateField(initial=timezone.localdate)
    channel = forms.ChoiceField(choices=Payment.Channel.choices, initial=Payment.Channel.CASH,
                                help_text="how the remaining balance is paid out")


def _close(account: SavingsAccount, data: dict, user) -> str:
    from savings import services

    services.account_close(account=account, on=data["on"], channel=data["channel"])
    return f"Account {account} closed."


def _is_open(account: SavingsAccount) -> bool:
    return account.status != SavingsAccount.Status.CLOSED


@admin.register(SavingsAccount)
class SavingsAccountAdmin(BranchScopedAdminMixin, OperationsAdminMixin, admin.ModelAdmin):
    list_display = ["account_number", "customer", "product", "branch", "status", "opened_on",
                    money("balance")]
    list_filter = ["status", "product", "branch"]
    list_select_related = ["customer", "product", "branch"]
    search_fields = ["account_number", "customer__customer_number", "customer__last_name"]
    raw_id_fields = ["customer"]
    autocomplete_fields = ["branch"]
    date_hierarchy = "opened_on"
    show_full_result_count = False
    fields = ["account_number", "customer", "product", "branch", "status", "opened_on", "closed_on",
              "balance_display", "recent_transactions", "created_at", "updated_at"]
    readonly_fields = fields
    operations = (
        Operation("deposit", "Deposit", MovementForm, _deposit, _is_open, permission="savings.deposit"),
        Operation("withdraw", "Withdraw", MovementForm, _withdraw, _is_open, permission="savings.withdraw"),
        Operation("close", "Close", CloseForm, _close, _is_open, permission="savings.close"),
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # accounts are opened through the service (API: POST /api/accounts/)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="balance")
    def balance_display(self, obj: SavingsAccount) -> str:
        return format_money(obj.balance)

    @admin.display(description=f"latest {RECENT_TRANSACTIONS} transactions")
    def recent_transactions(self, obj: SavingsAccount) -> str:
        rows = (SavingsTransaction.objects.filter(account=obj).select_related("type")
                .order_by("-posted_at", "-id")[:RECENT_TRANSACTIONS])
        table = html_table(
            ["posted", "value date", "type", "amount", "balance after", "channel", "reference"],
            [[t.posted_at.strftime("%Y-%m-%d %H:%M"), t.value_date, t.type.name, format_money(t.amount),
              format_money(t.balance_after), t.channel, t.reference] for t in rows],
        )
        url = reverse("admin:ledger_savingstransaction_changelist") + f"?account__id__exact={obj.pk}"
        return format_html('{}<p><a href="{}">All transactions of this account</a></p>', table, url)

