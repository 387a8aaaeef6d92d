"""Maker-checker requests: an operation that access.policy marks `checked_by` is not performed when a
user asks for it; it is filed here, and performed when a different user holding a checker role approves
it (access.services). The request keeps what was asked, by whom, and who decided, for the audit."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel


class ApprovalRequest(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved (performed)"
        REJECTED = "rejected", "Rejected"

    operation = models.CharField(max_length=40, help_text="the permission code in access.policy")
    target_model = models.CharField(max_length=60, help_text="app_label.model of the row it acts on")
    target_id = models.BigIntegerField()
    branch = models.ForeignKey("customers.Branch", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="approval_requests")
    params = models.JSONField(default=dict, blank=True,
                              help_text="the operation's input; amounts and dates as strings (exact)")
    summary = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    maker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    made_at = models.DateTimeField()
    checker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    checked_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True, help_text="the checker's reason")
    result_model = models.CharField(max_length=60, blank=True)
    result_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "approval_requests"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(checker=models.F("maker")),
                                   name="approval_checker_not_maker"),
            models.CheckConstraint(
                condition=(Q(status="pending", checker__isnull=True)
                           | Q(~Q(status="pending"), checker__isnull=False)),
                name="approval_decided_has_checker",
            ),
            # One open request per operation and row: a second would be performed twice.
            models.UniqueConstraint(fields=["operation", "target_model", "target_id"],
                                    condition=Q(status="pending"), name="approval_one_pending_per_target"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.operation} {self.target_model}:{self.target_id} ({self.status})"
