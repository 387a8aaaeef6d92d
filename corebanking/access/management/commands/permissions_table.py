"""Print docs/permissions.md from the one table in access.policy (`> docs/permissions.md` to update it)."""

from django.core.management.base import BaseCommand

from access.policy import render_markdown


class Command(BaseCommand):
    help = "Print the roles and permissions table (docs/permissions.md) from access.policy."

    def handle(self, *args, **options) -> None:
        self.stdout.write(render_markdown(), ending="")
