"""Admin of maker-checker requests: pending ones with Approve and Reject buttons for the checkers
access.policy names (the operation's `checked_by`), decided ones read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied

from access import services
from access.models import ApprovalRequest
from access.policy import check_code
from core.admin_tools import BranchScopedAdminMixin, Operation, OperationForm, OperationsAdminMixin


class DecisionForm(OperationForm):
    note = forms.CharField(max_length=200, required=False, help_text="the reason (required to reject)")


def _require_checker(request: ApprovalRequest, user) -> None:
    if not user.has_perm(check_code(request.operation), services.approval_target(request)):
        raise PermissionDenied(f"your role does not check {request.operation}")


def _approve(request: ApprovalRequest, data: dict, user) -> str:
    _require_checker(request, user)
    services.approval_approve(request=request, note=data["note"])
    return f"Request #{request.pk} approved: {request.summary} — done."


def _reject(request: ApprovalRequest, data: dict, user) -> str:
    _require_checker(request, user)
    services.approval_reject(request=request, note=data["note"])
    return f"Request #{request.pk} rejected."


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
        Operation("approve", "Approve", DecisionForm, _approve, _pending, permission="approval.view"),
        Operation("reject", "Reject", DecisionForm, _reject, _pending, permission="approval.view"),
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # requests are filed by the operations that need a checker

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
