"""Admin of maker-checker requests: pending ones with Approve and Reject buttons for the checkers
access.policy names (the operation's `checked_by`), decided ones read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from access import services
from access.models import ApprovalRequest
from access.policy import check_code
from core.admin_tools import BranchScopedAdminMixin, Operation, OperationForm, OperationsAdminMixin


class DecisionForm(OperationForm):
    note = forms.CharField(max_length=200, required=False, help_text="the reason (required to reject)")


def _approve(request: ApprovalRequest, data: dict, user) -> str:
    services.approval_approve(request=request, note=data["note"])
    return f"Request #{request.pk} approved: {request.summary} — done."


def _reject(request: ApprovalRequest, data: dict, user) -> str:
    services.approval_reject(request=request, note=data["note"])
    return f"Request #{request.pk} rejected."


def _checker_permission(request: ApprovalRequest) -> str:
    return check_code(request.operation)


def _pending(request: ApprovalRequest) -> bool:
    return request.status == ApprovalRequest.Status.PENDING


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(BranchScopedAdminMixin, OperationsAdminMixin, admin.ModelAdmin):
    list_display = ["id", "operation", "summary", "branch", "status", "maker", "made_at", "checker",
                    "checked_at"]
    list_filter = ["status", "operation", "branch"]
    list_select_related = ["branch", "maker", "checker"]
    search_fields = ["summary", "maker__username", "checker__username"]
    date_hierarchy = "made_at"
    readonly_fields = [f.name for f in ApprovalRequest._meta.fields]
    operations = (
        # shown to, and run for, the checker roles of the request's own operation, in its branch
        Operation("approve", "Approve", DecisionForm, _approve, _pending, permission="approval.view",
                  permission_of=_checker_permission),
        Operation("reject", "Reject", DecisionForm, _reject, _pending, permission="approval.view",
                  permission_of=_checker_permission),
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # requests are filed by the operations that need a checker

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
