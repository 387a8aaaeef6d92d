"""Delete the Idempotency-Keys older than FINHOUSE_IDEMPOTENCY_HOURS (api.idempotency). Run daily."""

from django.core.management.base import BaseCommand

from api.idempotency import purge_expired


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"{purge_expired()} expired idempotency key(s) deleted")
