"""What every module of the API shares: the base classes that authorize every request by role and branch
(access.drf, from the table in access.policy), PII masked for roles without a need, the mapping of a
service's BusinessError to HTTP 400, and the base of the operation views."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, filters, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from access.drf import BranchScopedMixin
from access.scope import scope_queryset
from core.exceptions import BusinessError

logger = logging.getLogger(__name__)

PII_VISIBLE_CHARS = 2


def mask(value: str) -> str:
    """All but the last two characters replaced by '*' ("******89")."""
    if not value:
        return value
    keep = PII_VISIBLE_CHARS if len(value) > PII_VISIBLE_CHARS else 0
    return "*" * (len(value) - keep) + value[len(value) - keep:]


PII_PERMISSION = "customer.view_pii"


def sees_pii(request: Any) -> bool:
    """Whether the requesting user's role has a need to see customers' personal data (access.policy)."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.has_perm(PII_PERMISSION))


class PIIField(serializers.CharField):
    """Personal data (a name, national ID, phone): in full for roles holding customer.view_pii, masked
    (all but the last two characters) for the others."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("help_text", "PII: in full for roles with customer.view_pii, masked (all but the "
                                       "last 2 characters) for others")
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        text = super().to_representation(value)
        return text if sees_pii(self.context.get("request")) else mask(text)


class PIIDateField(serializers.DateField):
    """A personal date (date of birth): null for roles without customer.view_pii."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("help_text", "PII: null for roles without customer.view_pii")
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        return super().to_representation(value) if sees_pii(self.context.get("request")) else None


class StaffSearchFilter(filters.SearchFilter):
    """SearchFilter that widens a view's search fields for roles that see PII (`pii_search_fields`), so
    that others cannot find a customer by a national ID or phone they are not allowed to see."""

    def get_search_fields(self, view: Any, request: Any):
        fields = list(super().get_search_fields(view, request) or [])
        if sees_pii(request):
            fields += list(getattr(view, "pii_search_fields", []))
        return fields


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference to a row in an operation's input (a customer, an account, an officer): only rows of the
    user's branch are accepted; another branch's id is refused as "does not exist", as its detail is."""

    def get_queryset(self) -> Any:
        request = self.context.get("request")
        return scope_queryset(super().get_queryset(), getattr(request, "user", None), acting=True)


class ReadViewSet(BranchScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Base of every read endpoint: lists and details narrowed to the user's branch; `read_permission`
    (access.policy) names who may read."""


class ErrorSerializer(serializers.Serializer):
    """What a refused operation returns (HTTP 400)."""

    detail = serializers.CharField(help_text="what was refused and why")
    code = serializers.CharField(help_text="a stable code for the refusal: the service's (e.g. 'refused'), "
                                           "or 'invalid' for input that failed validation")
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False,
                                   help_text="for 'invalid': the messages by input field")


ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="refused by a business rule, or invalid input"),
    404: OpenApiResponse(description="no such object"),
    409: OpenApiResponse(ErrorSerializer, description="a request with the same Idempotency-Key is in "
                         "progress ('idempotency_in_progress'), or the operation collided with a "
                         "concurrent one ('conflict'); nothing was posted, retry"),
    422: OpenApiResponse(ErrorSerializer, description="the Idempotency-Key was already used for a different "
                         "request ('idempotency_key_reused')"),
}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, with every `{"detail": ...}` error given its stable `code` too (DRF's own:
    'parse_error' for a body that is not JSON, 'not_found', 'permission_denied', 'throttled' …), so that
    every error has the shape ErrorSerializer documents, not only the refusals of the operations."""
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        if isinstance(exc, Http404):  # DRF answers Django's own two as its NotFound and PermissionDenied
            code = "not_found"
        elif isinstance(exc, DjangoPermissionDenied):
            code = "permission_denied"
        else:
            codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
            code = codes if isinstance(codes, str) else "error"
        response.data.setdefault("code", code)
    return response


def business_error_response(exc: BusinessError) -> Response:
    return Response({"detail": exc.message, "code": exc.code}, status=status.HTTP_400_BAD_REQUEST)


def validation_error_response(exc: exceptions.ValidationError) -> Response:
    """Invalid input, in the same shape as a refusal, with the messages by field."""
    detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    errors = {field: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
              for field, msgs in detail.items()}
    summary = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
    return Response({"detail": f"invalid input: {summary}", "code": "invalid", "errors": errors},
                    status=status.HTTP_400_BAD_REQUEST)


class OperationMixin:
    """For a view that runs an operation: validates its InputSerializer, calls one service, answers
    with the resulting object. A BusinessError becomes 400 {"detail": message, "code": code}; the
    service's transaction has been rolled back, so nothing changed."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, BusinessError):
            return business_error_response(exc)
        if isinstance(exc, exceptions.ValidationError):
            return validation_error_response(exc)
        if isinstance(exc, IntegrityError):
            # A constraint the service checked but a concurrent transaction won in between (the same
            # reference posted twice at once, say): the database refused it and nothing was posted. Not a
            # server error for the client, but logged: a constraint the services never check is a bug.
            logger.warning("operation refused by a database constraint: %s", exc)
            return Response({"detail": "the operation collided with another one made at the same time and "
                             "was not posted; check and retry", "code": "conflict"},
                            status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)

    def validated(self, serializer_class: type[serializers.Serializer]) -> dict:
        serializer = serializer_class(data=self.request.data, context={"request": self.request})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def get_object_for(self, queryset: Any, pk: Any) -> Any:
        """The object the operation acts on: 404 if it does not exist or is in another branch, 403 if the
        user's role may not perform the operation on it."""
        obj = get_object_or_404(self.scoped(queryset), pk=pk)
        self.check_object_permissions(self.request, obj)
        return obj

    def created(self, serializer_class: type[serializers.Serializer], instance: Any) -> Response:
        data = serializer_class(instance, context={"request": self.request}).data
        return Response(data, status=status.HTTP_201_CREATED)

    def ok(self, serializer_class: type[serializers.Serializer], instance: Any) -> Response:
        return Response(serializer_class(instance, context={"request": self.request}).data)

    def requested(self, operation: str, target: Any, params: dict, summary: str) -> Response:
        """For an operation access.policy marks maker-checked: file the request (access.services) and
        answer 202 Accepted with it; a different user with a checker role performs it by approving."""
        from access.services import approval_request
        from api.approvals import ApprovalRequestSerializer

        approval = approval_request(operation=operation, target=target, params=params, summary=summary)
        data = ApprovalRequestSerializer(approval, context={"request": self.request}).data
        return Response(data, status=status.HTTP_202_ACCEPTED)


class OperationApi(OperationMixin, BranchScopedMixin, APIView):
    """Base of an operation view: one view per operation, its input serializer next to it, and the
    `permission` (access.policy) it needs."""
