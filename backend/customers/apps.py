from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers and branches"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from customers.roles import sync_role_groups

        post_migrate.connect(sync_role_groups, dispatch_uid="finhouse-role-groups")
