from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from core.triggers import install_triggers

        post_migrate.connect(install_triggers, dispatch_uid="finhouse-install-triggers")
