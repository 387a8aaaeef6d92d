"""Create the demo's superuser from FINHOUSE_ADMIN_USER / FINHOUSE_ADMIN_PASSWORD / FINHOUSE_ADMIN_EMAIL.

When no password is configured, one is generated and printed once, at creation; an existing admin is
left as it is (its password is not printed again: reset it with `manage.py changepassword`)."""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from core.actor import acting_as, system_user


class Command(BaseCommand):
    help = "Create the platform's admin user from the environment if it does not exist yet."

    def handle(self, *args, **options):
        # the audit trail names who created or reset the admin: this command, not nobody
        with acting_as(system_user("ensure_admin"), "command"):
            self._ensure_admin()

    def _ensure_admin(self) -> None:
        User = get_user_model()
        username = os.environ.get("FINHOUSE_ADMIN_USER") or settings.FINHOUSE_DEFAULTS["FINHOUSE_ADMIN_USER"]
        email = os.environ.get("FINHOUSE_ADMIN_EMAIL") or settings.FINHOUSE_DEFAULTS["FINHOUSE_ADMIN_EMAIL"]
        password = os.environ.get("FINHOUSE_ADMIN_PASSWORD") or None
        user = User.objects.filter(username=username).first()
        if user is not None:
            if password:
                user.set_password(password)
                user.save(update_fields=["password"])
                self.stdout.write(f"admin: {username} (password from FINHOUSE_ADMIN_PASSWORD)")
            else:
                self.stdout.write(
                    f"admin: {username} (existing; its password was printed when it was created — "
                    f"reset it with: python corebanking/manage.py changepassword {username})"
                )
            return
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email=email, password=password)
        if generated:
            self.stdout.write(f"admin: {username} / {password}   (generated; shown only now — keep it)")
        else:
            self.stdout.write(f"admin: {username} (password from FINHOUSE_ADMIN_PASSWORD)")
