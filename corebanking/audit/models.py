"""The audit trail's one table, `audit_log`: django-auditlog's log entry (AUDITLOG_LOGENTRY_MODEL points
here) with what an auditor and the warehouse need on the row itself.

Differences from auditlog's own LogEntry, and why:

- `source` (api, admin, simulator, command, shell: core.actor.SOURCES): from where the change was made.
- `actor_username` and `object_model` ("loans.loan"): the row names who and what without a join, so it
  still reads right after a user is renamed, and the warehouse (which does not load auth_user or
  django_content_type) can group by them.
- `timestamp` is the column `created_at`, set by the database (the transaction's time, like every
  table's created_at/updated_at): it is fhload's incremental cursor, so it must not depend on an
  application server's clock; and `timestamp` is a keyword in the warehouses' SQL.
- `remote_addr` is text, not inet: fhload decodes text, not inet (ingest/engine/README.md, Type mapping).
- `actor` and `content_type` hold no database constraint and no cascade: deleting a user (the
  simulator's --reset deletes its staff users) or a content type must neither fail on the audit trail
  nor rewrite it. The table is append-only (core/triggers.py: UPDATE and DELETE raise).
"""

from __future__ import annotations

from auditlog.models import AbstractLogEntry
from django.conf import settings
from django.db import models
from django.db.models.functions import Now

from core.actor import SOURCES


class AuditLogEntry(AbstractLogEntry):
    content_type = models.ForeignKey(
        "contenttypes.ContentType", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    timestamp = models.DateTimeField(db_column="created_at", db_default=Now(), db_index=True, editable=False)
    remote_addr = models.CharField(max_length=45, null=True, blank=True)
    source = models.CharField(max_length=10, choices=[(s, s) for s in SOURCES], db_index=True)
    actor_username = models.CharField(max_length=150, blank=True, db_index=True)
    object_model = models.CharField(max_length=100, db_index=True, help_text="app_label.model")

    class Meta(AbstractLogEntry.Meta):
        db_table = "audit_log"
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        constraints = [
            models.CheckConstraint(condition=models.Q(source__in=SOURCES), name="audit_log_source_known"),
        ]
