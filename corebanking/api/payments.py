"""API of payments: every movement of money across the institution's boundary (read-only; payments are
recorded by the service that books them)."""

from __future__ import annotations

import django_filters
from rest_framework import serializers

from api.common import ReadViewSet
from api.filters import AmountFilter, DateTimeFromToRangeFilter
from payments.models import Payment


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["id", "reference", "public_id", "channel", "direction", "purpose", "amount", "currency",
                  "status", "customer", "branch", "initiated_at", "completed_at", "created_at", "updated_at"]


class PaymentFilter(django_filters.FilterSet):
    initiated_at = DateTimeFromToRangeFilter()
    completed_at = DateTimeFromToRangeFilter()
    amount_min = AmountFilter(field_name="amount", lookup_expr="gte")
    amount_max = AmountFilter(field_name="amount", lookup_expr="lte")

    class Meta:
        model = Payment
        fields = ["branch", "customer", "channel", "direction", "purpose", "status", "initiated_at",
                  "completed_at"]


class PaymentViewSet(ReadViewSet):
    """Payments in and out: channel, provider reference, direction, amount, status."""
    read_permission = "payment.view"

    queryset = Payment.objects.all()
    serializer_class = PaymentSerializer
    filterset_class = PaymentFilter
    search_fields = ["=reference"]
    ordering_fields = ["initiated_at", "completed_at", "amount", "id"]
