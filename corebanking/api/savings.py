"""API of savings: products and accounts to read; open an account, deposit, withdraw and close, each
through its service (savings.services). Transfers are in api.ledger, beside their rows."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from api.common import (
    ERROR_RESPONSES,
    OperationApi,
    OperationMixin,
    ReadViewSet,
    ScopedPrimaryKeyRelatedField,
)
from api.filters import AmountFilter
from api.idempotency import idempotent
from api.ledger import SavingsTransactionSerializer
from customers.models import Branch, Customer
from payments.models import Payment
from savings import services
from savings.models import SavingsAccount, SavingsProduct

AMOUNT = {"max_digits": 18, "decimal_places": 2}


class SavingsProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = SavingsProduct
        fields = ["id", "code", "name", "kind", "interest_rate", "minimum_balance", "monthly_fee",
                  "withdrawal_fee", "is_active", "created_at", "updated_at"]


class SavingsProductViewSet(ReadViewSet):
    """Savings products (account types)."""
    read_permission = "reference.view"

    queryset = SavingsProduct.objects.all()
    serializer_class = SavingsProductSerializer
    filterset_fields = ["kind", "is_active"]
    search_fields = ["code", "name"]
    ordering_fields = ["code"]


class SavingsAccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = SavingsAccount
        fields = ["id", "account_number", "customer", "product", "branch", "status", "opened_on", "closed_on",
                  "balance", "created_at", "updated_at"]


class SavingsAccountFilter(django_filters.FilterSet):
    opened_on = django_filters.DateFromToRangeFilter()
    balance_min = AmountFilter(field_name="balance", lookup_expr="gte")
    balance_max = AmountFilter(field_name="balance", lookup_expr="lte")

    class Meta:
        model = SavingsAccount
        fields = ["branch", "customer", "product", "status", "opened_on"]


class AccountOpenInputSerializer(serializers.Serializer):
    customer = ScopedPrimaryKeyRelatedField(queryset=Customer.objects.all())
    product = ScopedPrimaryKeyRelatedField(queryset=SavingsProduct.objects.all())
    branch = ScopedPrimaryKeyRelatedField(queryset=Branch.objects.all(), required=False,
                                                help_text="default: the customer's branch")
    on = serializers.DateField(required=False, help_text="default: today")


class SavingsAccountViewSet(OperationMixin, ReadViewSet):
    """Customers' savings accounts, with their current balance."""
    read_permission = "savings.view"
    create_permission = "savings.open"

    queryset = SavingsAccount.objects.all()
    serializer_class = SavingsAccountSerializer
    filterset_class = SavingsAccountFilter
    search_fields = ["account_number", "customer__customer_number"]
    ordering_fields = ["account_number", "opened_on", "balance", "updated_at"]

    @idempotent
    @extend_schema(
        summary="Open a savings account (savings.services.account_open)",
        request=AccountOpenInputSerializer,
        responses={201: SavingsAccountSerializer, **ERROR_RESPONSES},
    )
    def create(self, request, *args, **kwargs):
        account = services.account_open(**self.validated(AccountOpenInputSerializer))
        return self.created(SavingsAccountSerializer, account)


class AccountMovementInputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(**AMOUNT)
    channel = serializers.ChoiceField(choices=Payment.Channel.choices, default=Payment.Channel.CASH)
    on = serializers.DateField(required=False, help_text="default: today")
    reference = serializers.CharField(max_length=64, required=False,
                                      help_text="the provider's reference (unique); generated when absent")


class AccountDepositApi(OperationApi):
    """Deposit into a savings account: a deposit transaction, an inbound payment, journal D cash / C 2000."""
    permission = "savings.deposit"

    @idempotent
    @extend_schema(summary="Deposit into a savings account (savings.services.account_deposit)",
                   request=AccountMovementInputSerializer,
                   responses={201: SavingsTransactionSerializer, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        account = self.get_object_for(SavingsAccount.objects.all(), pk)
        txn = services.account_deposit(account=account, **self.validated(AccountMovementInputSerializer))
        return self.created(SavingsTransactionSerializer, txn)


class AccountWithdrawApi(OperationApi):
    """Withdraw from a savings account (plus the product's withdrawal fee); refused below the minimum
    balance."""
    permission = "savings.withdraw"

    @idempotent
    @extend_schema(summary="Withdraw from a savings account (savings.services.account_withdraw)",
                   request=AccountMovementInputSerializer,
                   responses={201: SavingsTransactionSerializer, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        account = self.get_object_for(SavingsAccount.objects.all(), pk)
        txn = services.account_withdraw(account=account, **self.validated(AccountMovementInputSerializer))
        return self.created(SavingsTransactionSerializer, txn)


class AccountCloseInputSerializer(serializers.Serializer):
    on = serializers.DateField(required=False, help_text="default: today")
    channel = serializers.ChoiceField(choices=Payment.Channel.choices, default=Payment.Channel.CASH,
                                      help_text="how the remaining balance is paid out")


class AccountCloseApi(OperationApi):
    """Close a savings account, paying out what remains."""
    permission = "savings.close"

    @idempotent
    @extend_schema(summary="Close a savings account (savings.services.account_close)",
                   request=AccountCloseInputSerializer,
                   responses={200: SavingsAccountSerializer, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        account = self.get_object_for(SavingsAccount.objects.all(), pk)
        account = services.account_close(account=account, **self.validated(AccountCloseInputSerializer))
        return self.ok(SavingsAccountSerializer, account)
