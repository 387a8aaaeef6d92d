"""API of the institution's people and places: branches, staff, customers (PII masked for non-staff),
solidarity groups and memberships; registering a customer (POST /api/customers/)."""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import filters, serializers

from api.approvals import ApprovalRequestSerializer
from api.common import (
    ERROR_RESPONSES,
    OperationApi,
    OperationMixin,
    PIIDateField,
    PIIField,
    ReadViewSet,
    ScopedPrimaryKeyRelatedField,
    StaffSearchFilter,
)
from api.idempotency import idempotent
from customers import services
from customers.models import Branch, Customer, GroupMembership, SolidarityGroup, Staff


class BranchSerializer(serializers.ModelSerializer):
    class Meta:
        model = Branch
        fields = ["id", "code", "name", "region", "opened_on", "created_at", "updated_at"]


class BranchViewSet(ReadViewSet):
    """Branches of the institution."""
    read_permission = "reference.view"

    queryset = Branch.objects.all()
    serializer_class = BranchSerializer
    filterset_fields = ["region"]
    search_fields = ["code", "name", "region"]
    ordering_fields = ["code", "name", "opened_on"]


class StaffSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)

    class Meta:
        model = Staff
        fields = ["id", "employee_number", "username", "first_name", "last_name", "role", "branch",
                  "hired_on", "left_on", "created_at", "updated_at"]


class StaffViewSet(ReadViewSet):
    """Staff: loan officers, branch managers and tellers."""
    read_permission = "staff.view"

    queryset = Staff.objects.select_related("user")
    serializer_class = StaffSerializer
    filterset_fields = ["branch", "role"]
    search_fields = ["employee_number", "user__first_name", "user__last_name", "user__username"]
    ordering_fields = ["employee_number", "hired_on"]


class CustomerSerializer(serializers.ModelSerializer):
    first_name = PIIField()
    last_name = PIIField()
    date_of_birth = PIIDateField()
    national_id = PIIField()
    phone = PIIField()

    class Meta:
        model = Customer
        fields = ["id", "customer_number", "public_id", "first_name", "last_name", "gender", "date_of_birth",
                  "national_id", "phone", "branch", "loan_officer", "kyc_status", "status", "business_sector",
                  "joined_on", "created_at", "updated_at"]


class CustomerFilter(django_filters.FilterSet):
    joined_on = django_filters.DateFromToRangeFilter()

    class Meta:
        model = Customer
        fields = ["branch", "loan_officer", "status", "kyc_status", "gender", "business_sector", "joined_on"]


class CustomerCreateInputSerializer(serializers.Serializer):
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    gender = serializers.ChoiceField(choices=Customer.Gender.choices)
    date_of_birth = serializers.DateField()
    national_id = serializers.CharField(max_length=30)
    phone = serializers.CharField(max_length=20)
    branch = ScopedPrimaryKeyRelatedField(queryset=Branch.objects.all())
    business_sector = serializers.CharField(max_length=50)
    loan_officer = ScopedPrimaryKeyRelatedField(queryset=Staff.objects.all(), required=False,
                                                      allow_null=True)
    joined_on = serializers.DateField(required=False, help_text="default: today")


class CustomerViewSet(OperationMixin, ReadViewSet):
    """Customers (not deleted). Names, date of birth, national ID and phone are PII: roles holding
    customer.view_pii see them in full and may search by them; others see them masked."""
    read_permission = "customer.view"
    create_permission = "customer.create"

    queryset = Customer.objects.all()
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    filter_backends = [DjangoFilterBackend, filters.OrderingFilter, StaffSearchFilter]
    search_fields = ["customer_number"]
    pii_search_fields = ["first_name", "last_name", "=national_id", "=phone"]
    ordering_fields = ["customer_number", "last_name", "joined_on", "updated_at"]

    @idempotent
    @extend_schema(
        summary="Register a customer (customers.services.customer_create)",
        request=CustomerCreateInputSerializer,
        responses={201: CustomerSerializer, **ERROR_RESPONSES},
    )
    def create(self, request, *args, **kwargs):
        """Register a customer: the service numbers them and checks age, national ID and the loan
        officer's branch."""
        data = self.validated(CustomerCreateInputSerializer)
        customer = services.customer_create(**data)
        return self.created(CustomerSerializer, customer)


class SolidarityGroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = SolidarityGroup
        fields = ["id", "code", "name", "branch", "loan_officer", "meeting_day", "formed_on", "created_at",
                  "updated_at"]


class SolidarityGroupViewSet(ReadViewSet):
    """Solidarity groups (joint liability)."""
    read_permission = "group.view"

    queryset = SolidarityGroup.objects.all()
    serializer_class = SolidarityGroupSerializer
    filterset_fields = ["branch", "loan_officer", "meeting_day"]
    search_fields = ["code", "name"]
    ordering_fields = ["code", "formed_on"]


class GroupMembershipSerializer(serializers.ModelSerializer):
    class Meta:
        model = GroupMembership
        fields = ["id", "group", "customer", "role", "joined_on", "left_on", "created_at", "updated_at"]


class GroupMembershipFilter(django_filters.FilterSet):
    current = django_filters.BooleanFilter(field_name="left_on", lookup_expr="isnull",
                                           label="true: only members who have not left")

    class Meta:
        model = GroupMembership
        fields = ["group", "customer", "role", "current"]


class GroupMembershipViewSet(ReadViewSet):
    """Memberships of customers in solidarity groups (not deleted)."""
    read_permission = "group.view"

    queryset = GroupMembership.objects.all().order_by("id")
    serializer_class = GroupMembershipSerializer
    filterset_class = GroupMembershipFilter
    ordering_fields = ["joined_on", "left_on"]


class CustomerKycVerifyApi(OperationApi):
    """Ask for a customer's KYC to be marked verified: maker-checker, so this files a request that a
    branch manager who is someone else approves (customers.services.customer_kyc_verify)."""

    permission = "customer.kyc_verify"

    @idempotent
    @extend_schema(summary="Request KYC verification of a customer (maker-checker)", request=None,
                   responses={202: ApprovalRequestSerializer, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        customer = self.get_object_for(Customer.objects.all(), pk)
        return self.requested("customer.kyc_verify", customer, {},
                              f"verify KYC of {customer.customer_number}")
