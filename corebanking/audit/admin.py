"""The audit log in the staff admin: read-only (nobody adds, changes or deletes an entry here; the
database refuses edits anyway), filterable by actor, source, model, action and date.

auditlog's own admin (registered for the entry model by the `auditlog` app, listed before this one in
INSTALLED_APPS) is replaced by a subclass that shows and filters the columns finhouse adds."""

from __future__ import annotations

from auditlog.admin import LogEntryAdmin
from django.contrib import admin

from audit.models import AuditLogEntry


class DistinctValueFilter(admin.SimpleListFilter):
    """A filter on a text column, offering the values the log holds (actors and models are few)."""

    column = ""

    def lookups(self, request, model_admin):
        values = AuditLogEntry.objects.order_by(self.column).values_list(self.column, flat=True).distinct()
        return [(v, v) for v in values if v]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.column: self.value()}) if self.value() else queryset


class ActorFilter(DistinctValueFilter):
    title = "actor"
    parameter_name = "actor_username"
    column = "actor_username"


class ModelFilter(DistinctValueFilter):
    title = "model"
    parameter_name = "object_model"
    column = "object_model"


if admin.site.is_registered(AuditLogEntry):
    admin.site.unregister(AuditLogEntry)


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(LogEntryAdmin):
    # Who may read it: access.policy's MODEL_PERMISSIONS maps audit.view_auditlogentry to audit.view.

    list_display = ["created", "source", "actor_username", "resource_url", "action", "msg_short",
                    "remote_addr"]
    list_filter = ["source", ActorFilter, ModelFilter, "action", ("timestamp", admin.DateFieldListFilter)]
    search_fields = ["object_repr", "actor_username", "object_pk"]
    readonly_fields = ["created", "source", "actor_username", "remote_addr", "resource_url", "action",
                       "user_url", "msg"]
    fieldsets = [
        (None, {"fields": ["created", "source", "user_url", "actor_username", "remote_addr",
                           "resource_url"]}),
        ("Changes", {"fields": ["action", "msg"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # not even the cascade auditlog's admin allows: the log outlives what it records
