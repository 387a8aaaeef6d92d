"""API of fixed deposits: products, customers' deposits and their earnings to read; placing a deposit
(POST /api/investments/) and redeeming one, through investments.services."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.common import (
    ERROR_RESPONSES,
    OperationApi,
    OperationMixin,
    ReadViewSet,
    ScopedPrimaryKeyRelatedField,
)
from api.idempotency import idempotent
from customers.models import Customer
from investments import services
from investments.models import Investment, InvestmentEarning, InvestmentProduct
from payments.models import Payment
from savings.models import SavingsAccount

REFERENCE_HELP = "the provider's reference (unique); generated when absent"


class InvestmentProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvestmentProduct
        fields = ["id", "code", "name", "term_months", "annual_rate", "minimum_amount", "compounding",
                  "early_withdrawal_penalty_rate", "is_active", "created_at", "updated_at"]


class InvestmentProductViewSet(ReadViewSet):
    """Fixed-deposit products: term, rate, minimum, compounding."""
    read_permission = "reference.view"

    queryset = InvestmentProduct.objects.all()
    serializer_class = InvestmentProductSerializer
    filterset_fields = ["compounding", "is_active"]
    search_fields = ["code", "name"]
    ordering_fields = ["code", "term_months"]


class InvestmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Investment
        fields = ["id", "investment_number", "customer", "product", "branch", "principal", "annual_rate",
                  "start_on", "maturity_on", "status", "closed_on", "payout_account", "created_at",
                  "updated_at"]


class InvestmentFilter(django_filters.FilterSet):
    start_on = django_filters.DateFromToRangeFilter()
    maturity_on = django_filters.DateFromToRangeFilter()

    class Meta:
        model = Investment
        fields = ["branch", "customer", "product", "status", "start_on", "maturity_on"]


class InvestmentPlaceInput(serializers.Serializer):
    customer = ScopedPrimaryKeyRelatedField(queryset=Customer.objects.all())
    product = ScopedPrimaryKeyRelatedField(queryset=InvestmentProduct.objects.all())
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    on = serializers.DateField(required=False, help_text="default: today")
    channel = serializers.ChoiceField(choices=Payment.Channel.choices, default=Payment.Channel.CASH)
    funding_account = ScopedPrimaryKeyRelatedField(
        queryset=SavingsAccount.objects.all(), required=False,
        help_text="fund the deposit from this savings account of the customer instead of a payment")
    payout_account = ScopedPrimaryKeyRelatedField(
        queryset=SavingsAccount.objects.all(), required=False,
        help_text="pay earnings and the redemption into this savings account")
    reference = serializers.CharField(max_length=64, required=False, help_text=REFERENCE_HELP)


class InvestmentViewSet(OperationMixin, ReadViewSet):
    """Customers' fixed deposits: principal, rate, start and maturity, status."""
    read_permission = "investment.view"
    create_permission = "investment.place"

    queryset = Investment.objects.all()
    serializer_class = InvestmentSerializer
    filterset_class = InvestmentFilter
    search_fields = ["investment_number", "customer__customer_number"]
    ordering_fields = ["start_on", "maturity_on", "principal", "updated_at"]

    @idempotent
    @extend_schema(
        summary="Place a fixed deposit (investments.services.investment_place)",
        request=InvestmentPlaceInput,
        responses={201: InvestmentSerializer, **ERROR_RESPONSES},
    )
    def create(self, request, *args, **kwargs):
        investment = services.investment_place(**self.validated(InvestmentPlaceInput))
        return self.created(InvestmentSerializer, investment)


class InvestmentRedeemApi(OperationApi):
    permission = "investment.redeem"
    class InvestmentRedeemInput(serializers.Serializer):
        on = serializers.DateField(required=False, help_text="default: today; before maturity it is an early "
                                                             "withdrawal and the product's penalty applies")
        channel = serializers.ChoiceField(choices=Payment.Channel.choices, default=Payment.Channel.CASH)
        reference = serializers.CharField(max_length=64, required=False, help_text=REFERENCE_HELP)

    @idempotent
    @extend_schema(summary="Redeem a fixed deposit (investments.services.investment_redeem)",
                   request=InvestmentRedeemInput, responses={200: InvestmentSerializer, **ERROR_RESPONSES})
    def post(self, request: Request, pk: int) -> Response:
        investment = self.get_object_for(Investment.objects.all(), pk)
        investment = services.investment_redeem(investment=investment,
                                                **self.validated(self.InvestmentRedeemInput))
        return self.ok(InvestmentSerializer, investment)


class InvestmentEarningSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvestmentEarning
        fields = ["id", "investment", "period_start", "period_end", "amount", "accrued_on", "paid_on",
                  "created_at", "updated_at"]


class InvestmentEarningFilter(django_filters.FilterSet):
    period_end = django_filters.DateFromToRangeFilter()
    accrued_on = django_filters.DateFromToRangeFilter()
    paid = django_filters.BooleanFilter(field_name="paid_on", lookup_expr="isnull", exclude=True,
                                        label="true: paid earnings; false: accrued and unpaid")

    class Meta:
        model = InvestmentEarning
        fields = ["investment", "period_end", "accrued_on", "paid"]


class InvestmentEarningViewSet(ReadViewSet):
    """Earnings of fixed deposits by period: accrued, then paid."""
    read_permission = "investment.view"

    queryset = InvestmentEarning.objects.all()
    serializer_class = InvestmentEarningSerializer
    filterset_class = InvestmentEarningFilter
    ordering_fields = ["period_end", "accrued_on", "id"]
