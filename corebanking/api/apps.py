from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        from api.auth import connect_signals

        connect_signals()  # a leaver's or deactivated user's tokens and sessions are revoked at once
