"""API of maker-checker (access.services): the requests to read, and a checker's approve and reject.
Operations that need a second user (access.policy `checked_by`: write-off, restructure, KYC
verification, reversals) answer 202 with the request they filed; it takes effect when a different user
with a checker role approves it here."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from access import services
from access.models import ApprovalRequest
from access.policy import check_code
from api.common import ERROR_RESPONSES, OperationApi, ReadViewSet
from api.filters import DateTimeFromToRangeFilter
from api.idempotency import idempotent


class ApprovalRequestSerializer(serializers.ModelSerializer):
    maker = serializers.SlugRelatedField(slug_field="username", read_only=True)
    # Null while the request is pending (the schema says so: a client must expect it).
    checker = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ApprovalRequest
        fields = ["id", "operation", "target_model", "target_id", "branch", "params", "summary", "status",
                  "maker", "made_at", "checker", "checked_at", "note", "result_model", "result_id",
                  "created_at", "updated_at"]


class ApprovalRequestFilter(django_filters.FilterSet):
    made_at = DateTimeFromToRangeFilter()

    class Meta:
        model = ApprovalRequest
        fields = ["status", "operation", "branch", "target_model", "target_id", "made_at"]


class ApprovalRequestViewSet(ReadViewSet):
    """Maker-checker requests: pending ones await a checker; decided ones say who decided and why."""

    read_permission = "approval.view"
    queryset = ApprovalRequest.objects.select_related("maker", "checker")
    serializer_class = ApprovalRequestSerializer
    filterset_class = ApprovalRequestFilter
    ordering_fields = ["made_at", "checked_at", "id"]


class DecisionInput(serializers.Serializer):
    note = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                 help_text="the checker's reason (required to reject)")


class ApprovalDecisionApi(OperationApi):
    """Base of approve and reject: reading the request needs approval.view; deciding it needs the
    checker role its operation names in access.policy (`<operation>.check`), for its branch."""

    permission = "approval.view"
    decides = True  # the permission matrix reads the checker roles from the request's operation

    def pending(self, pk: int) -> ApprovalRequest:
        request = self.get_object_for(ApprovalRequest.objects.all(), pk)
        target = services.approval_target(request)
        if not self.request.user.has_perm(check_code(request.operation), target):
            raise exceptions.PermissionDenied(f"your role does not check {request.operation} "
                                              "(see docs/permissions.md)")
        return request


class ApprovalApproveApi(ApprovalDecisionApi):
    @idempotent
    @extend_schema(summary="Approve a request and perform its operation (access.services.approval_approve)",
                   request=DecisionInput, responses={200: ApprovalRequestSerializer, **ERROR_RESPONSES})
    def post(self, request: Request, pk: int) -> Response:
        approval = services.approval_approve(request=self.pending(pk), **self.validated(DecisionInput))
        return self.ok(ApprovalRequestSerializer, approval)


class ApprovalRejectApi(ApprovalDecisionApi):
    @idempotent
    @extend_schema(summary="Reject a request (access.services.approval_reject)",
                   request=DecisionInput, responses={200: ApprovalRequestSerializer, **ERROR_RESPONSES})
    def post(self, request: Request, pk: int) -> Response:
        approval = services.approval_reject(request=self.pending(pk), note=self.validated(DecisionInput)
                                            .get("note", ""))
        return self.ok(ApprovalRequestSerializer, approval)
