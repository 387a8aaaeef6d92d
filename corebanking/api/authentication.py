"""How a request proves who it is: the authentication backend of the admin and of sessions, and expiring
API tokens. Kept apart from api.auth's views because DRF imports its authentication classes while
importing rest_framework.views (a view module here would be a circular import).

A user signs in only while active and, if staff, not left (`Staff.left_on` on or before today). Django
asks the backend again on every request of a session (`get_user` → `user_can_authenticate`), and the
token authentication asks the same question, so a leaver's session and token stop working on the next
request even when nobody deactivated the user."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from access import scope as access_scope


def has_left(user: Any) -> bool:
    """True if the user is a member of staff whose leaving date has come (access.scope.has_left)."""
    return access_scope.has_left(getattr(user, "staff", None) if user is not None else None)


def may_sign_in(user: Any) -> bool:
    return bool(getattr(user, "is_active", False)) and not has_left(user)


class StaffModelBackend(ModelBackend):
    """Django's ModelBackend, refusing staff who have left as it refuses inactive users: at login and on
    every later request of their session."""

    def user_can_authenticate(self, user: Any) -> bool:
        return may_sign_in(user)

    def get_user(self, user_id: Any) -> Any:
        # One query for the user and their staff record, asked on every request of a session.
        try:
            user = get_user_model()._default_manager.select_related("staff").get(pk=user_id)
        except get_user_model().DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


def token_expires_at(token: Token) -> dt.datetime:
    return token.created + dt.timedelta(hours=settings.FINHOUSE_API_TOKEN_HOURS)


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`: refused once expired, or when its user may no longer sign in."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        try:
            token = Token.objects.select_related("user", "user__staff").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not may_sign_in(token.user):
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if token_expires_at(token) <= timezone.now():
            raise exceptions.AuthenticationFailed("Token expired: obtain a new one at /api/auth/token/.")
        return token.user, token
