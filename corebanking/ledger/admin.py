"""Staff admin for the books: the savings ledger, transfers and the general ledger. Everything posted is
read-only (corrections are reversing entries made by the services); only the chart's names and the
transaction types' labels are maintained here. The books are closed through a date from the period
closes' list (ledger.services.period_close)."""

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from core.admin_tools import (
    BranchScopedAdminMixin,
    ReadOnlyAdminMixin,
    ReadOnlyTabularInline,
    format_money,
    money,
)
from core.clock import closed_through
from core.exceptions import BusinessError
from ledger import services
from ledger.models import (
    GLAccount,
    JournalEntry,
    JournalLine,
    PeriodClose,
    SavingsTransaction,
    TransactionType,
    Transfer,
)


@admin.register(TransactionType)
class TransactionTypeAdmin(BranchScopedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "direction"]
    search_fields = ["code", "name"]
    readonly_fields = ["code", "direction"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # the types are the code's (ledger/types.py), seeded by a migration

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(GLAccount)
class GLAccountAdmin(BranchScopedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "type", "is_active"]
    list_filter = ["type", "is_active"]
    search_fields = ["code", "name"]
    readonly_fields = ["code", "type"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # the chart is the code's (ledger/chart.py), seeded by a migration

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class TransferLegInline(ReadOnlyTabularInline):
    model = SavingsTransaction
    fields = ["account", "type", "amount_display", "balance_after_display", "reference", "posted_at"]
    readonly_fields = fields
    verbose_name_plural = "legs"
    select_related_fields = ("account", "type")

    @admin.display(description="amount")
    def amount_display(self, obj: SavingsTransaction) -> str:
        return format_money(obj.amount)

    @admin.display(description="balance after")
    def balance_after_display(self, obj: SavingsTransaction) -> str:
        return format_money(obj.balance_after)


@admin.register(Transfer)
class TransferAdmin(BranchScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["reference", "transferred_at", "from_account", "to_account", money("amount")]
    list_select_related = ["from_account", "to_account"]
    search_fields = ["=reference", "from_account__account_number", "to_account__account_number"]
    date_hierarchy = "transferred_at"
    show_full_result_count = False
    inlines = [TransferLegInline]


@admin.register(SavingsTransaction)
class SavingsTransactionAdmin(BranchScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["reference", "posted_at", "value_date", "account", "type", money("amount"),
                    money("balance_after"), "channel"]
    # The largest table: newest first by primary key (an index), a date filter rather than a date
    # hierarchy (which scans the whole table for its years).
    list_filter = [("value_date", admin.DateFieldListFilter), "type", "channel", "account__branch"]
    ordering = ["-id"]
    list_select_related = ["account", "type"]
    search_fields = ["=reference", "account__account_number"]
    show_full_result_count = False
    raw_id_fields = ["account", "payment", "transfer", "reversal_of"]


class JournalLineInline(ReadOnlyTabularInline):
    model = JournalLine
    fields = ["gl_account", "debit_display", "credit_display"]
    readonly_fields = fields
    show_change_link = False
    select_related_fields = ("gl_account",)

    @admin.display(description="debit")
    def debit_display(self, obj: JournalLine) -> str:
        return format_money(obj.debit) if obj.debit else ""

    @admin.display(description="credit")
    def credit_display(self, obj: JournalLine) -> str:
        return format_money(obj.credit) if obj.credit else ""


@admin.register(JournalEntry)
class JournalEntryAdmin(BranchScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "posted_on", "kind", "description", "branch", "source_type", "source_id"]
    list_filter = [("posted_on", admin.DateFieldListFilter), "kind", "branch"]
    list_select_related = ["branch"]
    search_fields = ["description"]
    search_help_text = "an entry number, a source row id, or words of the description"
    show_full_result_count = False
    fields = ["posted_on", "posted_at", "kind", "description", "branch", "source_type", "source_id",
              "reversal_of", "totals", "created_at"]
    readonly_fields = fields
    inlines = [JournalLineInline]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if term.isdigit():
            return queryset.filter(Q(pk=int(term)) | Q(source_id=int(term))), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="debits = credits")
    def totals(self, obj: JournalEntry) -> str:
        sums = obj.lines.aggregate(debits=Sum("debit"), credits=Sum("credit"))
        return f"{format_money(sums['debits'])} = {format_money(sums['credits'])}"


@admin.register(JournalLine)
class JournalLineAdmin(BranchScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "entry", "posted_on", "gl_account", money("debit"), money("credit")]
    list_filter = ["gl_account", "entry__kind"]
    ordering = ["-id"]
    list_select_related = ["entry", "gl_account"]
    search_fields = ["entry__description"]
    search_help_text = "a journal entry number, or words of its description"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if term.isdigit():
            return queryset.filter(entry_id=int(term)), False
        return super().get_search_results(request, queryset, search_term)
    show_full_result_count = False
    raw_id_fields = ["entry"]

    @admin.display(description="posted on", ordering="entry__posted_on")
    def posted_on(self, obj: JournalLine):
        return obj.entry.posted_on


def _yesterday() -> dt.date:
    return timezone.localdate() - dt.timedelta(days=1)


class PeriodCloseForm(forms.Form):
    through = forms.DateField(
        label="Close through",
        initial=_yesterday,
        help_text="the last day of the period to close; nothing can be dated on or before it afterwards",
    )
    note = forms.CharField(max_length=200, required=False, help_text="e.g. the month-end review it follows")


@admin.register(PeriodClose)
class PeriodCloseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Closes are made by the service (from the list's "Close the books" button, for the roles holding
    ledger.close_period in access.policy), never edited."""

    list_display = ["closed_through", "closed_by", "created_at", money("total_debits"),
                    money("total_credits"), "note"]
    list_select_related = ["closed_by"]
    fields = ["closed_through", "closed_by", "created_at", "total_debits", "total_credits", "note"]
    readonly_fields = fields
    change_list_template = "admin/finhouse/period_close_change_list.html"

    def get_urls(self):
        close = path("close/", self.admin_site.admin_view(self.close_view), name="ledger_periodclose_close")
        return [close, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = dict(extra_context or {}, can_close=self._may_close(request))
        return super().changelist_view(request, extra_context)

    @staticmethod
    def _may_close(request: HttpRequest) -> bool:
        return request.user.has_perm("ledger.close_period")

    def close_view(self, request: HttpRequest) -> HttpResponse:
        if not self._may_close(request):
            raise PermissionDenied
        changelist_url = reverse("admin:ledger_periodclose_changelist")
        form = PeriodCloseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                close = services.period_close(
                    through=form.cleaned_data["through"], note=form.cleaned_data["note"]
                )
            except BusinessError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"The {close}.", messages.SUCCESS)
                return HttpResponseRedirect(changelist_url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Close the books",
            "opts": self.model._meta,
            "form": form,
            "changelist_url": changelist_url,
            "closed_through": closed_through(),
            "time_zone": settings.TIME_ZONE,
            "today": timezone.localdate(),
        }
        return TemplateResponse(request, "admin/finhouse/period_close_form.html", context)
