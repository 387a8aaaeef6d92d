"""Who, from where and what, on every audit entry: filled from core.actor, the one source of truth.

auditlog's own middleware reads `request.user` before DRF has authenticated the request (so every API
change would be anonymous) and knows nothing of the simulator or of management commands; core.actor
knows all of them (ActorMiddleware for web requests, `acting_as` elsewhere). So, instead of auditlog's
middleware or its `set_actor` context, one pre_save receiver on the entry fills the actor, the source,
the client's address and the names the row carries (audit.models), whatever made the change.
"""

from __future__ import annotations

from django.db.models.signals import pre_save

from core.actor import current_actor


def fill_entry(sender, instance, **kwargs) -> None:
    actor = current_actor()
    user = actor.user
    if instance.actor_id is None and user is not None:
        instance.actor_id = user.pk
        instance.actor_email = getattr(user, "email", None) or None
    if not instance.actor_username:
        instance.actor_username = actor.username  # "<anonymous shell>" when no one is acting
    if not instance.source:
        instance.source = actor.source
    if instance.remote_addr is None:
        instance.remote_addr = actor.remote_addr
    if not instance.object_model:
        instance.object_model = instance.content_type.app_label + "." + instance.content_type.model


def connect() -> None:
    from audit.models import AuditLogEntry

    pre_save.connect(fill_entry, sender=AuditLogEntry, dispatch_uid="finhouse-audit-fill-entry")
