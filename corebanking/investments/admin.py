"""Staff admin for fixed-deposit products, customers' fixed deposits and their earnings. Deposits are
placed and redeemed through the services (the redeem button on a deposit's page); earnings are read-only."""

from django import forms
from django.contrib import admin
from django.utils import timezone

from core.admin_tools import (
    BranchScopedAdminMixin,
    Operation,
    OperationForm,
    OperationsAdminMixin,
    ReadOnlyAdminMixin,
    ReadOnlyTabularInline,
    format_money,
    money,
    rate,
)
from investments.models import Investment, InvestmentEarning, InvestmentProduct


@admin.register(InvestmentProduct)
class InvestmentProductAdmin(BranchScopedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "term_months", rate("annual_rate"), money("minimum_amount"),
                    "compounding", rate("early_withdrawal_penalty_rate", "early withdrawal penalty"),
                    "is_active"]
    list_filter = ["compounding", "is_active"]
    search_fields = ["code", "name"]


class EarningInline(ReadOnlyTabularInline):
    model = InvestmentEarning
    fields = ["period_start", "period_end", "amount_display", "accrued_on", "paid_on"]
    readonly_fields = fields
    show_change_link = False

    @admin.display(description="amount")
    def amount_display(self, obj: InvestmentEarning) -> str:
        return format_money(obj.amount)


class RedeemForm(OperationForm):
    on = forms.DateField(initial=timezone.localdate, help_text="the redemption date; before maturity it is "
                         "an early withdrawal and the product's penalty applies")


def _redeem(investment: Investment, data: dict, user) -> str:
    from investments import services

    services.investment_redeem(investment=investment, on=data["on"])
    investment.refresh_from_db()
    return f"{investment} redeemed: {investment.get_status_display()}."


@admin.register(Investment)
class InvestmentAdmin(BranchScopedAdminMixin, OperationsAdminMixin, admin.ModelAdmin):
    list_display = ["investment_number", "customer", "product", "branch", money("principal"),
                    rate("annual_rate"), "start_on", "maturity_on", "status"]
    list_filter = ["status", "product", "branch"]
    list_select_related = ["customer", "product", "branch"]
    search_fields = ["investment_number", "customer__customer_number", "customer__last_name"]
    date_hierarchy = "start_on"
    show_full_result_count = False
    fields = ["investment_number", "customer", "product", "branch", "principal_display", "annual_rate",
              "start_on", "maturity_on", "status", "closed_on", "payout_account", "created_at", "updated_at"]
    readonly_fields = fields
    inlines = [EarningInline]
    operations = (
        Operation("redeem", "Redeem", RedeemForm, _redeem, lambda i: i.status == Investment.Status.ACTIVE,
                  permission="investment.redeem"),
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # placed through the service (API: POST /api/investments/)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="principal")
    def principal_display(self, obj: Investment) -> str:
        return format_money(obj.principal)


@admin.register(InvestmentEarning)
class InvestmentEarningAdmin(BranchScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["investment", "period_start", "period_end", money("amount"), "accrued_on", "paid_on"]
    list_filter = ["investment__product", "investment__branch"]
    list_select_related = ["investment"]
    search_fields = ["investment__investment_number"]
    date_hierarchy = "period_end"
    show_full_result_count = False
