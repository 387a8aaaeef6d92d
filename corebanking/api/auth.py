"""Signing in to the API and losing access: the token endpoint, and the revocation of a leaver's access
(who may sign in at all is api.authentication's).

- On leaving (left_on reached) the user is deactivated; on deactivation their tokens and sessions are
  deleted, so reactivating them later does not revive a stolen token or cookie.
- Tokens: DRF's authtoken (no new dependency), one per user, expiring FINHOUSE_API_TOKEN_HOURS after
  issue; POST /api/auth/token/ with username and password returns it (a new one once expired), behind
  the same django-axes lockout as the admin login; DELETE revokes it.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_lockout_message
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from api.authentication import ExpiringTokenAuthentication, token_expires_at
from core.clock import business_date


class TokenApi(APIView):
    """Obtain (POST, with username and password) or revoke (DELETE, with the token) an API token."""

    authentication_classes = [ExpiringTokenAuthentication]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(
        summary="Obtain an API token (username and password; locked out after repeated failures)",
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer("TokenOut", {
                "token": serializers.CharField(help_text="send as `Authorization: Token <token>`"),
                "expires_at": serializers.DateTimeField(),
            }),
            400: OpenApiResponse(description="wrong username or password"),
            429: OpenApiResponse(description="locked out after too many failures, or throttled"),
        },
        auth=[],
    )
    def post(self, request: Any) -> Response:
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        valid = serializer.is_valid()
        # django-axes flags the request it was given (this DRF request, not the Django one its middleware
        # sees), so the lockout is answered here.
        if getattr(request, "axes_locked_out", False):
            return Response({"detail": get_lockout_message(), "code": "locked_out"},
                            status=status.HTTP_429_TOO_MANY_REQUESTS)
        if not valid:
            return Response({"detail": "Unable to log in with the username and password given.",
                             "code": "invalid_credentials"}, status=status.HTTP_400_BAD_REQUEST)
        user = serializer.validated_data["user"]
        with transaction.atomic():
            token = Token.objects.select_for_update().filter(user=user).first()
            if token is not None and token_expires_at(token) <= timezone.now():
                token.delete()
                token = None
            if token is None:
                token = Token.objects.create(user=user)
        return Response({"token": token.key, "expires_at": token_expires_at(token)})

    @extend_schema(summary="Revoke the API token used for this request",
                   responses={204: OpenApiResponse(description="revoked")})
    def delete(self, request: Any) -> Response:
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- revocation ----------------------------------------------------------------------------------------


def revoke_access(user: Any) -> None:
    """Delete the user's API token and every session logged in as them."""
    Token.objects.filter(user=user).delete()
    # Sessions are signed blobs keyed by their id; the user id is inside. Only unexpired ones matter.
    doomed = [s.session_key for s in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
              if str(s.get_decoded().get("_auth_user_id")) == str(user.pk)]
    Session.objects.filter(session_key__in=doomed).delete()


def _user_saved(sender: Any, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    if created or instance.is_active or (update_fields is not None and "is_active" not in update_fields):
        return
    revoke_access(instance)


def _staff_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A member of staff whose leaving date has come is deactivated (which revokes their access). One
    leaving later keeps access until that day; then the backend and token check refuse them anyway."""
    if instance.left_on is None or instance.left_on > business_date():
        return
    user = instance.user
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])


def connect_signals() -> None:
    from customers.models import Staff

    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="finhouse-revoke-inactive")
    post_save.connect(_staff_saved, sender=Staff, dispatch_uid="finhouse-deactivate-leaver")
