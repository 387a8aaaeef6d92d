"""What every table of the core banking system shares: timestamps that extraction can trust, soft
deletes, and exact money fields."""

from decimal import Decimal

from django.db import models
from django.db.models.functions import Now


class MoneyField(models.DecimalField):
    """An amount of the institution's currency: numeric(18,2), never a float."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 18)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DecimalField", args, kwargs


class RateField(models.DecimalField):
    """An annual rate or a percentage as a fraction (0.240000 = 24%): numeric(9,6)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 9)
        kwargs.setdefault("decimal_places", 6)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DecimalField", args, kwargs


ZERO = Decimal("0.00")


class TimeStampedModel(models.Model):
    """created_at and updated_at, set by the database.

    updated_at moves on every UPDATE, including QuerySet.update() and raw SQL, because a trigger
    sets it (core/triggers.py); incremental extraction reads by it, so it must never be stale.
    """

    created_at = models.DateTimeField(db_default=Now(), db_index=True, editable=False)
    updated_at = models.DateTimeField(db_default=Now(), db_index=True, editable=False)

    class Meta:
        abstract = True


class ActiveManager(models.Manager):
    """Hides soft-deleted rows; `all_objects` still sees them."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class SoftDeleteModel(TimeStampedModel):
    """A row users may remove: it is marked deleted, not erased, so the deletion reaches the warehouse."""

    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = ActiveManager()
    all_objects = models.Manager()

    class Meta:
        abstract = True
