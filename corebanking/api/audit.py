"""API of the audit trail: GET /api/audit-log/, read-only, for the roles holding `audit.view`
(access.policy: auditors)."""

from __future__ import annotations

import django_filters
from rest_framework import serializers

from api.common import ReadViewSet
from api.filters import DateTimeFromToRangeFilter
from audit.models import AuditLogEntry
from core.actor import SOURCES

ACTIONS = {label: value for value, label in AuditLogEntry.Action.choices}


class AuditLogEntrySerializer(serializers.ModelSerializer):
    timestamp = serializers.DateTimeField(read_only=True, help_text="when (the database's transaction time)")
    action = serializers.SerializerMethodField(help_text="create, update, delete or access")
    model = serializers.CharField(source="object_model", read_only=True, help_text="app_label.model")
    actor_username = serializers.CharField(read_only=True,
                                           help_text="who (\"<anonymous SOURCE>\" when nobody was signed in)")
    changes = serializers.JSONField(read_only=True,
                                    help_text="field → [old, new] as text; for many-to-many, the objects "
                                              "added or removed")

    class Meta:
        model = AuditLogEntry
        fields = ["id", "timestamp", "source", "actor", "actor_username", "remote_addr", "action", "model",
                  "object_id", "object_pk", "object_repr", "changes", "additional_data"]

    def get_action(self, obj: AuditLogEntry) -> str:
        return str(dict(AuditLogEntry.Action.choices)[obj.action])


class AuditLogEntryFilter(django_filters.FilterSet):
    actor = django_filters.NumberFilter(field_name="actor_id", help_text="the acting user's id")
    actor_username = django_filters.CharFilter()
    source = django_filters.ChoiceFilter(choices=[(s, s) for s in SOURCES])
    model = django_filters.CharFilter(field_name="object_model", help_text="app_label.model, e.g. loans.loan")
    object_id = django_filters.NumberFilter()
    action = django_filters.ChoiceFilter(choices=[(label, label) for label in ACTIONS],
                                         method="filter_action")
    timestamp = DateTimeFromToRangeFilter(
        help_text="timestamp_after / timestamp_before, ISO 8601")

    class Meta:
        model = AuditLogEntry
        fields = ["actor", "actor_username", "source", "model", "object_id", "action", "timestamp"]

    def filter_action(self, queryset, name, value):
        return queryset.filter(action=ACTIONS[value])


class AuditLogEntryViewSet(ReadViewSet):
    """The audit trail: who changed what, when and from where (API, admin, simulator, command, shell),
    newest first. Append-only: there is no way to write here, and the database refuses edits."""

    read_permission = "audit.view"
    # Newest first by primary key (an index); ids grow with time within the log.
    queryset = AuditLogEntry.objects.order_by("-id")
    serializer_class = AuditLogEntrySerializer
    filterset_class = AuditLogEntryFilter
    search_fields = ["object_repr", "actor_username"]
    ordering_fields = ["id", "timestamp"]
