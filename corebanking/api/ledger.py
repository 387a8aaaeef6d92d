"""API of the books: the savings ledger, transfers (and making one: POST /api/transfers/), transaction
types, the chart of accounts, journal entries with their lines, and the period closes (closing the books
through a date: POST /api/period-closes/). Everything posted is read-only."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from api.approvals import ApprovalRequestSerializer
from api.common import (
    ERROR_RESPONSES,
    OperationApi,
    OperationMixin,
    ReadViewSet,
    ScopedPrimaryKeyRelatedField,
)
from api.filters import DateTimeFromToRangeFilter
from api.idempotency import idempotent
from ledger import services as ledger_services
from ledger.models import (
    GLAccount,
    JournalEntry,
    JournalLine,
    PeriodClose,
    SavingsTransaction,
    TransactionType,
    Transfer,
)
from savings import services as savings_services
from savings.models import SavingsAccount


class TransactionTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = TransactionType
        fields = ["id", "code", "name", "direction", "created_at", "updated_at"]


class TransactionTypeViewSet(ReadViewSet):
    """Types of savings-ledger movement (deposit, withdrawal, fee, …) and their direction."""
    read_permission = "reference.view"

    queryset = TransactionType.objects.all()
    serializer_class = TransactionTypeSerializer
    filterset_fields = ["direction"]
    search_fields = ["code", "name"]
    ordering_fields = ["code"]


class SavingsTransactionSerializer(serializers.ModelSerializer):
    type = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = SavingsTransaction
        fields = ["id", "account", "type", "amount", "balance_after", "channel", "reference", "payment",
                  "transfer", "reversal_of", "value_date", "posted_at", "created_at", "updated_at"]


class SavingsTransactionFilter(django_filters.FilterSet):
    type = django_filters.CharFilter(field_name="type__code", help_text="a transaction type code")
    branch = django_filters.NumberFilter(field_name="account__branch")
    customer = django_filters.NumberFilter(field_name="account__customer")
    value_date = django_filters.DateFromToRangeFilter()
    posted_at = DateTimeFromToRangeFilter()

    class Meta:
        model = SavingsTransaction
        fields = ["account", "type", "channel", "branch", "customer", "value_date", "posted_at"]


class SavingsTransactionViewSet(ReadViewSet):
    """The savings ledger: one row per movement on an account; the amount is positive and the type's
    direction gives the sign."""
    read_permission = "savings.view"

    # Newest first by primary key (an index): the model's posted_at ordering would sort the whole table.
    queryset = SavingsTransaction.objects.select_related("type").order_by("-id")
    serializer_class = SavingsTransactionSerializer
    filterset_class = SavingsTransactionFilter
    search_fields = ["=reference"]
    ordering_fields = ["posted_at", "value_date", "amount", "id"]


class TransferSerializer(serializers.ModelSerializer):
    class Meta:
        model = Transfer
        fields = ["id", "reference", "from_account", "to_account", "amount", "transferred_at", "created_at",
                  "updated_at"]


class TransferFilter(django_filters.FilterSet):
    transferred_at = DateTimeFromToRangeFilter()

    class Meta:
        model = Transfer
        fields = ["from_account", "to_account", "transferred_at"]


class TransferInputSerializer(serializers.Serializer):
    from_account = ScopedPrimaryKeyRelatedField(queryset=SavingsAccount.objects.all())
    to_account = ScopedPrimaryKeyRelatedField(queryset=SavingsAccount.objects.all())
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    on = serializers.DateField(required=False, help_text="default: today")
    reference = serializers.CharField(max_length=64, required=False,
                                      help_text="unique; generated when absent")


class TransferViewSet(OperationMixin, ReadViewSet):
    """Transfers between savings accounts (each with a transfer_out and a transfer_in leg)."""
    read_permission = "savings.view"
    create_permission = "savings.transfer"

    queryset = Transfer.objects.order_by("-transferred_at", "-id")
    serializer_class = TransferSerializer
    filterset_class = TransferFilter
    search_fields = ["=reference"]
    ordering_fields = ["transferred_at", "amount", "id"]

    @idempotent
    @extend_schema(
        summary="Transfer between two savings accounts (savings.services.account_transfer)",
        request=TransferInputSerializer,
        responses={201: TransferSerializer, **ERROR_RESPONSES},
    )
    def create(self, request, *args, **kwargs):
        transfer = savings_services.account_transfer(**self.validated(TransferInputSerializer))
        return self.created(TransferSerializer, transfer)


class GLAccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = GLAccount
        fields = ["id", "code", "name", "type", "is_active", "created_at", "updated_at"]


class GLAccountViewSet(ReadViewSet):
    """The chart of accounts."""
    read_permission = "reference.view"

    queryset = GLAccount.objects.all()
    serializer_class = GLAccountSerializer
    filterset_fields = ["type", "is_active"]
    search_fields = ["code", "name"]
    ordering_fields = ["code"]


class JournalLineSerializer(serializers.ModelSerializer):
    gl_code = serializers.CharField(source="gl_account.code", read_only=True)

    class Meta:
        model = JournalLine
        fields = ["id", "entry", "gl_account", "gl_code", "debit", "credit", "created_at", "updated_at"]


class JournalEntrySerializer(serializers.ModelSerializer):
    lines = JournalLineSerializer(many=True, read_only=True)

    class Meta:
        model = JournalEntry
        fields = ["id", "posted_on", "posted_at", "kind", "description", "branch", "source_type", "source_id",
                  "reversal_of", "lines", "created_at", "updated_at"]


class JournalEntryFilter(django_filters.FilterSet):
    posted_on = django_filters.DateFromToRangeFilter()

    class Meta:
        model = JournalEntry
        fields = ["kind", "branch", "source_type", "source_id", "posted_on"]


class JournalEntryViewSet(ReadViewSet):
    """Journal entries of the general ledger, each with its (balanced) lines."""
    read_permission = "ledger.view"

    queryset = JournalEntry.objects.prefetch_related("lines__gl_account")
    serializer_class = JournalEntrySerializer
    filterset_class = JournalEntryFilter
    search_fields = ["description"]
    ordering_fields = ["posted_on", "id"]


class JournalLineFilter(django_filters.FilterSet):
    gl_code = django_filters.CharFilter(field_name="gl_account__code")
    kind = django_filters.CharFilter(field_name="entry__kind", help_text="the entry's kind")
    posted_on = django_filters.DateFromToRangeFilter(field_name="entry__posted_on")
    branch = django_filters.NumberFilter(field_name="entry__branch")

    class Meta:
        model = JournalLine
        fields = ["entry", "gl_account", "gl_code", "kind", "posted_on", "branch"]


class JournalLineViewSet(ReadViewSet):
    """Journal lines: one side (debit or credit) of a GL account in an entry."""
    read_permission = "ledger.view"

    queryset = JournalLine.objects.select_related("gl_account").order_by("-id")
    serializer_class = JournalLineSerializer
    filterset_class = JournalLineFilter
    ordering_fields = ["id", "debit", "credit"]


class ReversalInput(serializers.Serializer):
    reason = serializers.CharField(max_length=200)
    on = serializers.DateField(required=False, help_text="default: today")


class SavingsTransactionReverseApi(OperationApi):
    """Ask for a mistaken deposit or withdrawal to be reversed: maker-checker, performed when a checker
    approves it (savings.services.account_transaction_reverse)."""

    permission = "savings.reverse"

    @idempotent
    @extend_schema(summary="Request the reversal of a savings transaction (maker-checker)",
                   request=ReversalInput, responses={202: ApprovalRequestSerializer, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        txn = self.get_object_for(SavingsTransaction.objects.all(), pk)
        data = self.validated(ReversalInput)
        return self.requested("savings.reverse", txn, data,
                              f"reverse savings transaction {txn.pk}: {data['reason']}")


class JournalEntryReverseApi(OperationApi):
    """Ask for a journal entry to be reversed by its mirror image: maker-checker, performed when another
    accountant approves it (ledger.services.journal_entry_reverse)."""

    permission = "ledger.reverse"

    @idempotent
    @extend_schema(summary="Request the reversal of a journal entry (maker-checker)",
                   request=ReversalInput, responses={202: ApprovalRequestSerializer, **ERROR_RESPONSES})
    def post(self, request, pk: int):
        entry = self.get_object_for(JournalEntry.objects.all(), pk)
        data = self.validated(ReversalInput)
        return self.requested("ledger.reverse", entry, data,
                              f"reverse journal entry {entry.pk}: {data['reason']}")


class PeriodCloseSerializer(serializers.ModelSerializer):
    closed_at = serializers.DateTimeField(source="created_at", read_only=True,
                                          help_text="when the books were closed")

    class Meta:
        model = PeriodClose
        fields = ["id", "closed_through", "closed_by", "closed_at", "total_debits", "total_credits", "note",
                  "created_at", "updated_at"]


class PeriodCloseInputSerializer(serializers.Serializer):
    through = serializers.DateField(help_text="the last day of the period to close; before today")
    note = serializers.CharField(max_length=200, required=False, default="")


class PeriodCloseViewSet(OperationMixin, ReadViewSet):
    """Closings of the books, latest first: no operation may be dated on or before the latest
    `closed_through`. Each records who closed and the trial balance's totals through the date."""

    read_permission = "ledger.view"
    create_permission = "ledger.close_period"
    queryset = PeriodClose.objects.all()
    serializer_class = PeriodCloseSerializer
    filterset_fields = ["closed_by"]
    ordering_fields = ["closed_through"]

    @idempotent
    @extend_schema(
        summary="Close the books through a date (ledger.services.period_close)",
        request=PeriodCloseInputSerializer,
        responses={201: PeriodCloseSerializer, **ERROR_RESPONSES},
    )
    def create(self, request, *args, **kwargs):
        data = self.validated(PeriodCloseInputSerializer)
        close = ledger_services.period_close(through=data["through"], note=data["note"])
        return self.created(PeriodCloseSerializer, close)
