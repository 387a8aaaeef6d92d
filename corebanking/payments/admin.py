"""Staff admin for payments: every movement of money across the institution's boundary, read-only
(a payment is created by the service that books it)."""

from django.contrib import admin

from core.admin_tools import BranchScopedAdminMixin, ReadOnlyAdminMixin, money
from payments.models import Payment


@admin.register(Payment)
class PaymentAdmin(BranchScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["reference", "initiated_at", "channel", "direction", "purpose", money("amount"), "status",
                    "customer", "branch"]
    # A date filter rather than a date hierarchy: the hierarchy scans the whole table for its years.
    list_filter = [("initiated_at", admin.DateFieldListFilter), "status", "channel", "direction", "purpose",
                   "branch"]
    list_select_related = ["customer", "branch"]
    search_fields = ["=reference", "customer__customer_number"]
    show_full_result_count = False
    readonly_fields = ["reference", "public_id", "channel", "direction", "purpose", "amount", "currency",
                       "status", "customer", "branch", "initiated_at", "completed_at", "provider_data",
                       "created_at", "updated_at"]
