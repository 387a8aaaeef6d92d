"""What the API itself stores: the results of operations sent with an Idempotency-Key (api.idempotency)."""

from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """The first result of an operation sent with `Idempotency-Key: key` by `user`, replayed to retries.
    Housekeeping data, not a record of the institution: deleted after FINHOUSE_IDEMPOTENCY_HOURS, not
    extracted to the warehouse."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and canonical body")
    response_status = models.PositiveSmallIntegerField()
    response_body = models.TextField(help_text="the response's JSON, as first sent")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "api_idempotency_keys"
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.method} {self.path} → {self.response_status})"
