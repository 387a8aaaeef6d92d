"""API of loans: products, loans (with their arrears), schedules, repayments and their allocations,
collateral, restructures, write-offs, recoveries and provisioning runs to read; and a loan's life as
operations — apply, approve, reject, disburse, repay, restructure, write off, recover — each one view
calling its service in loans.services."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.approvals import ApprovalRequestSerializer
from api.common import (
    ERROR_RESPONSES,
    OperationApi,
    OperationMixin,
    ReadViewSet,
    ScopedPrimaryKeyRelatedField,
)
from api.idempotency import idempotent
from customers.models import Customer, SolidarityGroup, Staff
from loans import selectors, services
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
from payments.models import Payment
from savings.models import SavingsAccount

AMOUNT = {"max_digits": 18, "decimal_places": 2}
# A term is stored as a positive smallint (Loan.term, Restructure.new_term); the product's own limits are
# the service's to check, but a term no loan can have is invalid input, not a request for a checker.
TERM_MAX = 32767
REFERENCE_HELP = "the provider's reference (unique); generated when absent"


# --- reads ------------------------------------------------------------------------------------------


class LoanProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = LoanProduct
        fields = ["id", "code", "name", "lending_type", "interest_method", "annual_rate", "frequency",
                  "min_term", "max_term", "min_amount", "max_amount", "fee_rate", "penalty_rate",
                  "penalty_grace_days", "grace_period_days", "is_active", "created_at", "updated_at"]


class LoanProductViewSet(ReadViewSet):
    """Loan products: interest method, rate, term range, frequency, fees, penalty rule, grace period."""
    read_permission = "reference.view"

    queryset = LoanProduct.objects.all()
    serializer_class = LoanProductSerializer
    filterset_fields = ["lending_type", "interest_method", "frequency", "is_active"]
    search_fields = ["code", "name"]
    ordering_fields = ["code"]


class LoanSerializer(serializers.ModelSerializer):
    class Meta:
        model = Loan
        fields = ["id", "loan_number", "public_id", "customer", "group", "product", "officer", "branch",
                  "cycle", "purpose", "amount_applied", "amount_approved", "amount_disbursed", "fee_amount",
                  "annual_rate", "interest_method", "frequency", "term", "status", "applied_on",
                  "approved_on", "rejected_on", "disbursed_on", "closed_on", "written_off_on",
                  "principal_outstanding", "disbursement_account", "created_at", "updated_at"]


class LoanFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Loan.Status.choices)
    applied_on = django_filters.DateFromToRangeFilter()
    disbursed_on = django_filters.DateFromToRangeFilter()
    closed_on = django_filters.DateFromToRangeFilter()
    outstanding = django_filters.BooleanFilter(method="filter_outstanding",
                                               label="true: active or restructured loans only")

    class Meta:
        model = Loan
        fields = ["branch", "officer", "customer", "group", "product", "status", "frequency",
                  "interest_method", "applied_on", "disbursed_on", "closed_on", "outstanding"]

    def filter_outstanding(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(status__in=Loan.OUTSTANDING) if value else queryset.exclude(
            status__in=Loan.OUTSTANDING)


class LoanArrearsSerializer(serializers.Serializer):
    """A loan's arrears on a date (loans.selectors.loan_arrears_get): days past due count from the
    oldest installment not fully paid, never from the final maturity."""

    as_of = serializers.DateField()
    days_past_due = serializers.IntegerField()
    installments_missed = serializers.IntegerField()
    oldest_due_on = serializers.DateField(allow_null=True)
    principal = serializers.DecimalField(**AMOUNT)
    interest = serializers.DecimalField(**AMOUNT)
    fees = serializers.DecimalField(**AMOUNT)
    penalties = serializers.DecimalField(**AMOUNT)
    total = serializers.DecimalField(**AMOUNT)


class ArrearsQuerySerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False, help_text="default: today")


class LoanApplyInputSerializer(serializers.Serializer):
    customer = ScopedPrimaryKeyRelatedField(queryset=Customer.objects.all())
    product = ScopedPrimaryKeyRelatedField(queryset=LoanProduct.objects.all())
    amount = serializers.DecimalField(**AMOUNT)
    term = serializers.IntegerField(min_value=1, max_value=TERM_MAX, help_text="number of installments")
    purpose = serializers.CharField(max_length=50)
    officer = ScopedPrimaryKeyRelatedField(queryset=Staff.objects.all(), required=False,
                                                 help_text="default: the customer's loan officer")
    group = ScopedPrimaryKeyRelatedField(queryset=SolidarityGroup.objects.all(), required=False,
                                               help_text="the solidarity group, for a group product")
    on = serializers.DateField(required=False, help_text="default: today")


class LoanViewSet(OperationMixin, ReadViewSet):
    """Loans through their life: applied → approved → active → closed (or rejected, restructured,
    written off)."""
    read_permission = "loan.view"
    create_permission = "loan.apply"

    queryset = Loan.objects.all()
    serializer_class = LoanSerializer
    filterset_class = LoanFilter
    search_fields = ["loan_number", "customer__customer_number"]
    ordering_fields = ["applied_on", "disbursed_on", "amount_disbursed", "principal_outstanding",
                       "updated_at"]

    @idempotent
    @extend_schema(
        summary="Apply for a loan (loans.services.loan_apply)",
        request=LoanApplyInputSerializer,
        responses={201: LoanSerializer, **ERROR_RESPONSES},
    )
    def create(self, request, *args, **kwargs):
        loan = services.loan_apply(**self.validated(LoanApplyInputSerializer))
        return self.created(LoanSerializer, loan)

    @extend_schema(summary="A loan's arrears on a date (loans.selectors.loan_arrears_get)",
                   parameters=[ArrearsQuerySerializer], responses=LoanArrearsSerializer)
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def arrears(self, request: Request, pk: str | None = None) -> Response:
        query = ArrearsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        arrears = selectors.loan_arrears_get(self.get_object(), as_of=query.validated_data.get("as_of"))
        return Response(LoanArrearsSerializer(arrears).data)


class InstallmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = LoanInstallment
        fields = ["id", "loan", "number", "due_on", "principal_due", "interest_due", "fee_due", "penalty_due",
                  "principal_paid", "interest_paid", "fee_paid", "penalty_paid", "completed_on", "superseded",
                  "created_at", "updated_at"]


class InstallmentFilter(django_filters.FilterSet):
    due_on = django_filters.DateFromToRangeFilter()
    completed_on = django_filters.DateFromToRangeFilter()
    open = django_filters.BooleanFilter(field_name="completed_on", lookup_expr="isnull",
                                        label="true: installments not fully paid")
    branch = django_filters.NumberFilter(field_name="loan__branch")

    class Meta:
        model = LoanInstallment
        fields = ["loan", "branch", "superseded", "due_on", "completed_on", "open"]


class InstallmentViewSet(ReadViewSet):
    """Repayment schedules: one row per installment (due, paid, completion date)."""
    read_permission = "loan.view"

    queryset = LoanInstallment.objects.all()
    serializer_class = InstallmentSerializer
    filterset_class = InstallmentFilter
    ordering_fields = ["due_on", "number", "id"]


class RepaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Repayment
        fields = ["id", "loan", "payment", "savings_account", "paid_on", "amount", "principal_amount",
                  "interest_amount", "fee_amount", "penalty_amount", "created_at", "updated_at"]


class RepaymentFilter(django_filters.FilterSet):
    paid_on = django_filters.DateFromToRangeFilter()
    branch = django_filters.NumberFilter(field_name="loan__branch")
    customer = django_filters.NumberFilter(field_name="loan__customer")

    class Meta:
        model = Repayment
        fields = ["loan", "branch", "customer", "paid_on"]


class RepaymentViewSet(ReadViewSet):
    """Repayments, each split into penalty, fee, interest and principal."""
    read_permission = "loan.view"

    queryset = Repayment.objects.all()
    serializer_class = RepaymentSerializer
    filterset_class = RepaymentFilter
    ordering_fields = ["paid_on", "amount", "id"]


class RepaymentAllocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = RepaymentAllocation
        fields = ["id", "repayment", "installment", "principal_amount", "interest_amount", "fee_amount",
                  "penalty_amount", "created_at", "updated_at"]


class RepaymentAllocationViewSet(ReadViewSet):
    """The part of each repayment applied to each installment."""
    read_permission = "loan.view"

    queryset = RepaymentAllocation.objects.all().order_by("id")
    serializer_class = RepaymentAllocationSerializer
    filterset_fields = ["repayment", "installment", "repayment__loan"]
    ordering_fields = ["id"]


class CollateralSerializer(serializers.ModelSerializer):
    class Meta:
        model = Collateral
        fields = ["id", "loan", "kind", "description", "value", "created_at", "updated_at"]


class CollateralViewSet(ReadViewSet):
    """Collateral pledged for loans (not deleted)."""
    read_permission = "loan.view"

    queryset = Collateral.objects.all().order_by("id")
    serializer_class = CollateralSerializer
    filterset_fields = ["loan", "kind"]
    ordering_fields = ["id", "value"]


class RestructureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Restructure
        fields = ["id", "loan", "restructured_on", "principal_outstanding", "old_term", "new_term",
                  "old_rate", "new_rate", "reason", "created_at", "updated_at"]


class RestructureViewSet(ReadViewSet):
    """Restructures of loans (the open installments superseded by a new schedule)."""
    read_permission = "loan.view"

    queryset = Restructure.objects.all().order_by("-restructured_on", "-id")
    serializer_class = RestructureSerializer
    filterset_fields = {"loan": ["exact"], "restructured_on": ["gte", "lte"]}
    ordering_fields = ["restructured_on", "id"]


class WriteOffSerializer(serializers.ModelSerializer):
    class Meta:
        model = WriteOff
        fields = ["id", "loan", "written_off_on", "principal_amount", "interest_amount", "reason",
                  "created_at", "updated_at"]


class WriteOffViewSet(ReadViewSet):
    """Write-offs of loans."""
    read_permission = "loan.view"

    queryset = WriteOff.objects.all().order_by("-written_off_on", "-id")
    serializer_class = WriteOffSerializer
    filterset_fields = {"loan": ["exact"], "loan__branch": ["exact"], "written_off_on": ["gte", "lte"]}
    ordering_fields = ["written_off_on", "principal_amount", "id"]


class RecoverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Recovery
        fields = ["id", "loan", "payment", "recovered_on", "amount", "created_at", "updated_at"]


class RecoveryViewSet(ReadViewSet):
    """Money collected on written-off loans."""
    read_permission = "loan.view"

    queryset = Recovery.objects.all().order_by("-recovered_on", "-id")
    serializer_class = RecoverySerializer
    filterset_fields = {"loan": ["exact"], "recovered_on": ["gte", "lte"]}
    ordering_fields = ["recovered_on", "amount", "id"]


class LoanLossProvisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = LoanLossProvision
        fields = ["id", "provisioned_on", "required_reserve", "expense_amount", "policy", "created_at",
                  "updated_at"]


class LoanLossProvisionViewSet(ReadViewSet):
    """Loan-loss provisioning runs: the reserve the aging policy required and the expense posted."""
    read_permission = "loan.view"

    queryset = LoanLossProvision.objects.all()
    serializer_class = LoanLossProvisionSerializer
    filterset_fields = {"provisioned_on": ["gte", "lte"]}
    ordering_fields = ["provisioned_on"]


# --- operations on one loan -------------------------------------------------------------------------


class LoanOperationApi(OperationApi):
    def loan(self, pk: int) -> Loan:
        return self.get_object_for(Loan.objects.all(), pk)


class LoanApproveApi(LoanOperationApi):
    permission = "loan.approve"
    class LoanApproveInput(serializers.Serializer):
        amount = serializers.DecimalField(**AMOUNT, required=False,
                                          help_text="default: the amount applied for")
        on = serializers.DateField(required=False, help_text="default: today")

    @idempotent
    @extend_schema(summary="Approve a loan application (loans.services.loan_approve)",
                   request=LoanApproveInput, responses={200: LoanSerializer, **ERROR_RESPONSES})
    def post(self, request: Request, pk: int) -> Response:
        loan = services.loan_approve(loan=self.loan(pk), **self.validated(self.LoanApproveInput))
        return self.ok(LoanSerializer, loan)


class LoanRejectApi(LoanOperationApi):
    permission = "loan.reject"
    class LoanRejectInput(serializers.Serializer):
        on = serializers.DateField(required=False, help_text="default: today")

    @idempotent
    @extend_schema(summary="Reject a loan application (loans.services.loan_reject)",
                   request=LoanRejectInput, responses={200: LoanSerializer, **ERROR_RESPONSES})
    def post(self, request: Request, pk: int) -> Response:
        loan = services.loan_reject(loan=self.loan(pk), **self.validated(self.LoanRejectInput))
        return self.ok(LoanSerializer, loan)


class LoanDisburseApi(LoanOperationApi):
    permission = "loan.disburse"
    class LoanDisburseInput(serializers.Serializer):
        channel = serializers.ChoiceField(choices=Payment.Channel.choices, default=Payment.Channel.CASH)
        on = serializers.DateField(required=False, help_text="default: today")
        disbursement_account = ScopedPrimaryKeyRelatedField(
            queryset=SavingsAccount.objects.all(), required=False,
            help_text="credit this savings account of the customer instead of paying out")
        reference = serializers.CharField(max_length=64, required=False,
                                          help_text=REFERENCE_HELP)

    @idempotent
    @extend_schema(summary="Disburse an approved loan (loans.services.loan_disburse)",
                   request=LoanDisburseInput, responses={200: LoanSerializer, **ERROR_RESPONSES})
    def post(self, request: Request, pk: int) -> Response:
        loan = services.loan_disburse(loan=self.loan(pk), **self.validated(self.LoanDisburseInput))
        return self.ok(LoanSerializer, loan)


class RepaymentPostApi(LoanOperationApi):
    permission = "loan.repay"
    class RepaymentPostInput(serializers.Serializer):
        amount = serializers.DecimalField(**AMOUNT)
        channel = serializers.ChoiceField(choices=Payment.Channel.choices, default=Payment.Channel.CASH)
        on = serializers.DateField(required=False, help_text="default: today")
        reference = serializers.CharField(max_length=64, required=False,
                                          help_text=REFERENCE_HELP)
        savings_account = ScopedPrimaryKeyRelatedField(
            queryset=SavingsAccount.objects.all(), required=False,
            help_text="debit this savings account of the customer instead of receiving a payment")

    class RepaymentPostOutput(RepaymentSerializer):
        allocations = RepaymentAllocationSerializer(many=True, read_only=True)

        class Meta(RepaymentSerializer.Meta):
            fields = [*RepaymentSerializer.Meta.fields, "allocations"]

    @idempotent
    @extend_schema(summary="Post a repayment, allocated penalty → fee → interest → principal, oldest "
                           "installment first (loans.services.repayment_post)",
                   request=RepaymentPostInput, responses={201: RepaymentPostOutput, **ERROR_RESPONSES})
    def post(self, request: Request, pk: int) -> Response:
        repayment = services.repayment_post(loan=self.loan(pk), **self.validated(self.RepaymentPostInput))
        return self.created(self.RepaymentPostOutput, repayment)


class LoanRestructureApi(LoanOperationApi):
    permission = "loan.restructure"
    class LoanRestructureInput(serializers.Serializer):
        new_term = serializers.IntegerField(min_value=1, max_value=TERM_MAX,
                                            help_text="installments of the new schedule")
        reason = serializers.CharField(max_length=200)
        new_rate = serializers.DecimalField(max_digits=9, decimal_places=6, required=False,
                                            help_text="annual rate as a fraction; default: unchanged")
        on = serializers.DateField(required=False, help_text="default: today")

    @idempotent
    @extend_schema(summary="Request a restructure of an outstanding loan; performed when a checker approves "
                           "it (maker-checker; loans.services.loan_restructure)",
                   request=LoanRestructureInput,
                   responses={202: ApprovalRequestSerializer, **ERROR_RESPONSES})
    def post(self, request: Request, pk: int) -> Response:
        loan = self.loan(pk)
        data = self.validated(self.LoanRestructureInput)
        return self.requested("loan.restructure", loan, data,
                              f"restructure {loan.loan_number} to {data['new_term']} installments: "
                              f"{data['reason']}")


class LoanWriteOffApi(LoanOperationApi):
    permission = "loan.write_off"
    class LoanWriteOffInput(serializers.Serializer):
        reason = serializers.CharField(max_length=200)
        on = serializers.DateField(required=False, help_text="default: today")

    @idempotent
    @extend_schema(summary="Request a write-off of an outstanding loan; performed when a checker approves "
                           "it (maker-checker; loans.services.loan_write_off)",
                   request=LoanWriteOffInput, responses={202: ApprovalRequestSerializer, **ERROR_RESPONSES})
    def post(self, request: Request, pk: int) -> Response:
        loan = self.loan(pk)
        data = self.validated(self.LoanWriteOffInput)
        return self.requested("loan.write_off", loan, data, f"write off {loan.loan_number}: {data['reason']}")


class RecoveryPostApi(LoanOperationApi):
    permission = "loan.recover"
    class RecoveryPostInput(serializers.Serializer):
        amount = serializers.DecimalField(**AMOUNT)
        channel = serializers.ChoiceField(choices=Payment.Channel.choices, default=Payment.Channel.CASH)
        on = serializers.DateField(required=False, help_text="default: today")
        reference = serializers.CharField(max_length=64, required=False,
                                          help_text=REFERENCE_HELP)

    @idempotent
    @extend_schema(summary="Post a recovery on a written-off loan (loans.services.recovery_post)",
                   request=RecoveryPostInput, responses={201: RecoverySerializer, **ERROR_RESPONSES})
    def post(self, request: Request, pk: int) -> Response:
        recovery = services.recovery_post(loan=self.loan(pk), **self.validated(self.RecoveryPostInput))
        return self.created(RecoverySerializer, recovery)
