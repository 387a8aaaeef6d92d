from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Access: roles, branches, permissions"

    def ready(self) -> None:
        # Register one django-rules permission per business operation and per model permission the
        # admin asks for, from the one table in access.policy.
        from access import predicates

        predicates.register()
