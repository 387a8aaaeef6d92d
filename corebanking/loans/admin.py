"""Staff admin for loan products and loans. A loan's page shows its schedule, repayments and how each
was allocated, its collateral and its arrears (loans.selectors); approve, disburse, repay and write off
are buttons that call loans.services. Posted rows (repayments, allocations, write-offs, recoveries,
provisions) are read-only."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin
from django.db.models import DateField, OuterRef, Subquery
from django.utils import timezone

from core.admin_tools import (
    BranchScopedAdminMixin,
    Operation,
    OperationForm,
    OperationsAdminMixin,
    ReadOnlyAdminMixin,
    ReadOnlyTabularInline,
    SoftDeleteAdminMixin,
    SoftDeletedFilter,
    StaffListFilter,
    format_money,
    html_table,
    money,
    rate,
)
from loans import rules
from loans.models import (
    Collateral,
    Loan,
    LoanInstallment,
    LoanLossProvision,
    LoanProduct,
    Recovery,
    Repayment,
    RepaymentAllocation,
    Restructure,
    WriteOff,
)
from loans.selectors import overdue_on
from payments.models import Payment
from savings.models import SavingsAccount


def oldest_unpaid_due_on(as_of: dt.date) -> Subquery:
    """The due date of a loan's oldest installment due before `as_of` and not fully paid (the installments
    of loans.selectors.overdue_on, whose oldest gives the days past due), as a subquery, so that a
    changelist of any size can show, sort and filter by days past due in one query."""
    return Subquery(
        LoanInstallment.objects.filter(overdue_on(as_of), loan=OuterRef("pk"))
        .order_by("due_on")
        .values("due_on")[:1],
        output_field=DateField(),
    )


@admin.register(LoanProduct)
class LoanProductAdmin(BranchScopedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "lending_type", "interest_method", rate("annual_rate"), "frequency",
                    "min_term", "max_term", money("min_amount"), money("max_amount"), rate("fee_rate"),
                    "is_active"]
    list_filter = ["lending_type", "interest_method", "frequency", "is_active"]
    search_fields = ["code", "name"]


class ArrearsFilter(admin.SimpleListFilter):
    """Portfolio at risk: outstanding loans by days past due (oldest unpaid installment, as of today), PAR>N
    by the one rule of loans.rules (DPD > N, as docs/kpis.md and the marts define it)."""

    title = "arrears"
    parameter_name = "arrears"
    BUCKETS = {f"par{n}": n for n in rules.PAR_THRESHOLDS}  # par1 → 1, par30 → 30, par90 → 90

    def lookups(self, request, model_admin):
        return [("current", "Current (not overdue)"),
                *((value, f"PAR>{n}") for value, n in self.BUCKETS.items())]

    def queryset(self, request, queryset):
        if self.value() != "current" and self.value() not in self.BUCKETS:
            return queryset
        today = timezone.localdate()
        queryset = queryset.filter(status__in=Loan.OUTSTANDING)
        if self.value() == "current":
            return queryset.filter(oldest_unpaid_due_on__isnull=True)
        bound = rules.par_due_before(today, self.BUCKETS[self.value()])  # DPD > N
        return queryset.filter(oldest_unpaid_due_on__lt=bound)


class InstallmentInline(ReadOnlyTabularInline):
    model = LoanInstallment
    verbose_name_plural = "schedule"
    show_change_link = False
    fields = ["number", "due_on", "principal_due", "interest_due", "fee_due", "penalty_due", "due_total",
              "paid_total", "completed_on", "state"]
    readonly_fields = fields

    @admin.display(description="total due")
    def due_total(self, obj: LoanInstallment) -> str:
        return format_money(obj.total_due)

    @admin.display(description="total paid")
    def paid_total(self, obj: LoanInstallment) -> str:
        return format_money(obj.total_paid)

    @admin.display(description="status")
    def state(self, obj: LoanInstallment) -> str:
        return installment_state(obj, timezone.localdate())


def installment_state(installment: LoanInstallment, as_of: dt.date) -> str:
    """paid, superseded, overdue, partly paid or due — as a branch manager reads a schedule."""
    if installment.superseded:
        return "superseded"
    if installment.total_paid >= installment.total_due:
        return "paid"
    if installment.due_on < as_of:
        return f"overdue {(as_of - installment.due_on).days} d"
    return "partly paid" if installment.total_paid > 0 else "due"


class RepaymentInline(ReadOnlyTabularInline):
    model = Repayment
    fields = ["paid_on", "amount_display", "penalty_amount", "fee_amount", "interest_amount",
              "principal_amount", "payment"]
    readonly_fields = fields
    select_related_fields = ("payment",)

    @admin.display(description="amount")
    def amount_display(self, obj: Repayment) -> str:
        return format_money(obj.amount)


class CollateralInline(admin.TabularInline):
    model = Collateral
    fields = ["kind", "description", "value"]
    extra = 0
    can_delete = False  # collateral is released by soft deletion on its own page, never erased


class ApproveForm(OperationForm):
    amount = forms.DecimalField(max_digits=18, decimal_places=2, min_value=0, required=False,
                                help_text="the approved amount; the amount applied for when left empty")
    on = forms.DateField(initial=timezone.localdate)


class RejectForm(OperationForm):
    on = forms.DateField(initial=timezone.localdate)


class DisburseForm(OperationForm):
    on = forms.DateField(initial=timezone.localdate)
    channel = forms.ChoiceField(choices=Payment.Channel.choices, initial=Payment.Channel.MOBILE_MONEY)
    disbursement_account = forms.ModelChoiceField(
        SavingsAccount.objects.none(), required=False,
        help_text="credit the customer's savings account instead of paying out",
    )
    reference = forms.CharField(max_length=64, required=False,
                                help_text="the provider's reference; generated when left empty")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["disbursement_account"].queryset = SavingsAccount.objects.filter(
            customer_id=self.obj.customer_id).exclude(status=SavingsAccount.Status.CLOSED)


class RepayForm(OperationForm):
    amount = forms.DecimalField(max_digits=18, decimal_places=2, min_value=0)
    on = forms.DateField(initial=timezone.localdate)
    channel = forms.ChoiceField(choices=Payment.Channel.choices, initial=Payment.Channel.CASH)
    reference = forms.CharField(max_length=64, required=False,
                                help_text="the provider's reference; generated when left empty")


class RestructureForm(OperationForm):
    on = forms.DateField(initial=timezone.localdate)
    new_term = forms.IntegerField(min_value=1, help_text="installments of the new schedule")
    new_rate = forms.DecimalField(max_digits=9, decimal_places=6, min_value=0, required=False,
                                  help_text="annual rate as a fraction (0.24 = 24%); unchanged if empty")
    reason = forms.CharField(max_length=200)


class RecoveryForm(OperationForm):
    amount = forms.DecimalField(max_digits=18, decimal_places=2, min_value=0)
    on = forms.DateField(initial=timezone.localdate)
    channel = forms.ChoiceField(choices=Payment.Channel.choices, initial=Payment.Channel.CASH)
    reference = forms.CharField(max_length=64, required=False,
                                help_text="the provider's reference; generated when left empty")


class WriteOffForm(OperationForm):
    on = forms.DateField(initial=timezone.localdate)
    reason = forms.CharField(max_length=200)


def _approve(loan: Loan, data: dict, user) -> str:
    from loans import services

    services.loan_approve(loan=loan, amount=data["amount"], on=data["on"])
    return f"Loan {loan} approved."


def _reject(loan: Loan, data: dict, user) -> str:
    from loans import services

    services.loan_reject(loan=loan, on=data["on"])
    return f"Loan {loan} rejected."


def _disburse(loan: Loan, data: dict, user) -> str:
    from loans import services

    services.loan_disburse(loan=loan, on=data["on"], channel=data["channel"],
                           disbursement_account=data["disbursement_account"],
                           reference=data["reference"] or None)
    return f"Loan {loan} disbursed."


def _repay(loan: Loan, data: dict, user) -> str:
    from loans import services

    services.repayment_post(loan=loan, amount=data["amount"], on=data["on"], channel=data["channel"],
                            reference=data["reference"] or None)
    return f"Repayment of {format_money(data['amount'])} posted to {loan}."


def _restructure(loan: Loan, data: dict, user) -> str:
    from access.services import approval_request

    request = approval_request(operation="loan.restructure", target=loan, params=data,
                               summary=f"restructure {loan.loan_number} to {data['new_term']} installments: "
                                       f"{data['reason']}")
    return f"Restructure of {loan} requested (#{request.pk}): it takes effect when a checker approves it."


def _recover(loan: Loan, data: dict, user) -> str:
    from loans import services

    services.recovery_post(loan=loan, amount=data["amount"], on=data["on"], channel=data["channel"],
                           reference=data["reference"] or None)
    return f"Recovery of {format_money(data['amount'])} posted to {loan}."


def _write_off(loan: Loan, data: dict, user) -> str:
    from access.services import approval_request

    request = approval_request(operation="loan.write_off", target=loan, params=data,
                               summary=f"write off {loan.loan_number}: {data['reason']}")
    return f"Write-off of {loan} requested (#{request.pk}): it takes effect when a credit manager approves."


def _status_in(*statuses: str):
    return lambda loan: loan.status in statuses


@admin.register(Loan)
class LoanAdmin(BranchScopedAdminMixin, OperationsAdminMixin, admin.ModelAdmin):
    list_display = ["loan_number", "customer", "product", "branch", "officer", "status", "disbursed_on",
                    money("amount_disbursed", "disbursed"), money("principal_outstanding", "outstanding"),
                    "days_past_due"]
    list_filter = ["status", ArrearsFilter, "branch", ("officer", StaffListFilter), "product", "frequency"]
    list_select_related = ["customer", "product", "branch", "officer__user"]
    search_fields = ["loan_number", "customer__customer_number", "customer__last_name"]
    date_hierarchy = "applied_on"
    show_full_result_count = False
    raw_id_fields = ["customer", "disbursement_account"]
    autocomplete_fields = ["group", "product", "officer", "branch"]
    readonly_fields = [
        "loan_number", "public_id", "customer", "group", "product", "officer", "branch", "cycle", "purpose",
        "amount_applied_display", "amount_approved_display", "amount_disbursed_display", "fee_display",
        "annual_rate_display", "interest_method", "frequency", "term", "status", "applied_on", "approved_on",
        "rejected_on", "disbursed_on", "closed_on", "written_off_on", "principal_outstanding_display",
        "disbursement_account", "arrears", "allocations", "created_at", "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["loan_number", "public_id", "customer", "group", "product", "officer", "branch",
                           "cycle", "purpose", "status"]}),
        ("Amounts and terms", {"fields": ["amount_applied_display", "amount_approved_display",
                                          "amount_disbursed_display", "fee_display",
                                          "principal_outstanding_display", "annual_rate_display",
                                          "interest_method",
                                          "frequency", "term", "disbursement_account"]}),
        ("Arrears (as of today)", {"fields": ["arrears"]}),
        ("Dates", {"fields": ["applied_on", "approved_on", "rejected_on", "disbursed_on", "closed_on",
                              "written_off_on"]}),
        ("Repayment allocations", {"fields": ["allocations"], "classes": ["collapse"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    inlines = [InstallmentInline, RepaymentInline, CollateralInline]
    operations = (
        Operation("approve", "Approve", ApproveForm, _approve, _status_in(Loan.Status.APPLIED),
                  permission="loan.approve"),
        Operation("reject", "Reject", RejectForm, _reject, _status_in(Loan.Status.APPLIED),
                  permission="loan.reject"),
        Operation("disburse", "Disburse", DisburseForm, _disburse, _status_in(Loan.Status.APPROVED),
                  permission="loan.disburse"),
        Operation("repay", "Post a repayment", RepayForm, _repay, _status_in(*Loan.OUTSTANDING),
                  permission="loan.repay"),
        Operation("restructure", "Request a restructure", RestructureForm, _restructure,
                  _status_in(*Loan.OUTSTANDING), permission="loan.restructure"),
        Operation("write-off", "Request a write-off", WriteOffForm, _write_off, _status_in(*Loan.OUTSTANDING),
                  permission="loan.write_off"),
        Operation("recover", "Post a recovery", RecoveryForm, _recover, _status_in(Loan.Status.WRITTEN_OFF),
                  permission="loan.recover"),
    )

    amount_applied_display = admin.display(description="amount applied")(
        lambda self, obj: format_money(obj.amount_applied))
    amount_approved_display = admin.display(description="amount approved")(
        lambda self, obj: format_money(obj.amount_approved))
    amount_disbursed_display = admin.display(description="amount disbursed")(
        lambda self, obj: format_money(obj.amount_disbursed))
    annual_rate_display = staticmethod(rate("annual_rate", "annual rate"))
    fee_display = admin.display(description="fee")(lambda self, obj: format_money(obj.fee_amount))
    principal_outstanding_display = admin.display(description="principal outstanding")(
        lambda self, obj: format_money(obj.principal_outstanding))

    def get_queryset(self, request):
        today = timezone.localdate()
        return super().get_queryset(request).annotate(oldest_unpaid_due_on=oldest_unpaid_due_on(today))

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # loans are applied for through the service (API: POST /api/loans/)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="DPD", ordering="oldest_unpaid_due_on")
    def days_past_due(self, obj: Loan) -> int | str:
        if obj.status not in Loan.OUTSTANDING:
            return "—"
        return rules.days_past_due(timezone.localdate(), getattr(obj, "oldest_unpaid_due_on", None))

    @admin.display(description="arrears")
    def arrears(self, obj: Loan) -> str:
        from loans import selectors

        if obj.status not in Loan.OUTSTANDING:
            return f"none: the loan is {obj.get_status_display().lower()}"
        a = selectors.loan_arrears_get(obj, as_of=timezone.localdate())
        return html_table(["", ""], [
            ["days past due", f"{a.days_past_due} (oldest unpaid installment due {a.oldest_due_on or '—'})"],
            ["installments missed", a.installments_missed],
            ["overdue principal", format_money(a.principal)],
            ["overdue interest", format_money(a.interest)],
            ["overdue fees", format_money(a.fees)],
            ["overdue penalties", format_money(a.penalties)],
            ["total overdue", format_money(a.total)],
        ])

    @admin.display(description="allocations")
    def allocations(self, obj: Loan) -> str:
        rows = (RepaymentAllocation.objects.filter(repayment__loan=obj)
                .select_related("repayment", "installment").order_by("repayment__paid_on", "repayment_id",
                                                                     "installment__number"))
        return html_table(
            ["paid on", "installment", "penalty", "fee", "interest", "principal"],
            [[a.repayment.paid_on, f"#{a.installment.number} due {a.installment.due_on}",
              format_money(a.penalty_amount), format_money(a.fee_amount), format_money(a.interest_amount),
              format_money(a.principal_amount)] for a in rows],
        )


class AllocationInline(ReadOnlyTabularInline):
    model = RepaymentAllocation
    fields = ["installment", "penalty_amount", "fee_amount", "interest_amount", "principal_amount"]
    readonly_fields = fields
    show_change_link = False
    select_related_fields = ("installment",)


@admin.register(Repayment)
class RepaymentAdmin(BranchScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "loan", "paid_on", money("amount"), money("principal_amount", "principal"),
                    money("interest_amount", "interest"), money("fee_amount", "fees"),
                    money("penalty_amount", "penalties"), "payment"]
    list_filter = [("paid_on", admin.DateFieldListFilter), "loan__branch", "loan__product",
                   "payment__channel"]
    list_select_related = ["loan", "payment"]
    search_fields = ["loan__loan_number", "=payment__reference"]
    show_full_result_count = False
    inlines = [AllocationInline]


@admin.register(Collateral)
class CollateralAdmin(BranchScopedAdminMixin, SoftDeleteAdminMixin, admin.ModelAdmin):
    list_display = ["loan", "kind", "description", money("value")]
    list_filter = [SoftDeletedFilter, "kind"]
    list_select_related = ["loan"]
    search_fields = ["loan__loan_number", "description"]
    raw_id_fields = ["loan"]
    show_full_result_count = False


@admin.register(Restructure)
class RestructureAdmin(BranchScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["loan", "restructured_on", money("principal_outstanding"), "old_term", "new_term",
                    "old_rate", "new_rate", "reason"]
    list_select_related = ["loan"]
    list_filter = ["loan__branch"]
    search_fields = ["loan__loan_number"]
    date_hierarchy = "restructured_on"


@admin.register(WriteOff)
class WriteOffAdmin(BranchScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["loan", "written_off_on", money("principal_amount", "principal"),
                    money("interest_amount", "interest"), "reason"]
    list_select_related = ["loan"]
    list_filter = ["loan__branch"]
    search_fields = ["loan__loan_number"]
    date_hierarchy = "written_off_on"


@admin.register(Recovery)
class RecoveryAdmin(BranchScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["loan", "recovered_on", money("amount"), "payment"]
    list_select_related = ["loan", "payment"]
    list_filter = ["loan__branch"]
    search_fields = ["loan__loan_number"]
    date_hierarchy = "recovered_on"


@admin.register(LoanLossProvision)
class LoanLossProvisionAdmin(BranchScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["provisioned_on", money("required_reserve"), money("expense_amount"), "policy"]
    date_hierarchy = "provisioned_on"
