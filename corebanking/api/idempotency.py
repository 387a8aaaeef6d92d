"""Idempotent operations: a client that sends `Idempotency-Key: <key>` with an operation and retries it
(a timeout, a dropped connection, a double click) gets the first result back and nothing is posted twice.

How, for one user's key (keys are per user; another user's identical key is a different key):

1. One transaction holds everything below; PostgreSQL's transaction-scoped advisory lock on
   hash(user, key) is tried, never waited for. Not acquired: the same key is being served right now,
   so 409 `idempotency_in_progress` (retry shortly; the retry then replays the result).
2. A stored result for the key (younger than FINHOUSE_IDEMPOTENCY_HOURS): if the request is the same
   (method, path and body), it is replayed — same status, same body, header `Idempotent-Replayed: true`;
   if not, 422 `idempotency_key_reused`, nothing run.
3. Otherwise the operation runs, and its result is stored in the same transaction as its postings: both
   commit or neither does. Stored: successes and business refusals (400 with a service's code: the
   same request would be refused the same way). Not stored: invalid input, 403/404, conflicts and
   errors — their retry runs again.

Without the header nothing changes. Keys are kept FINHOUSE_IDEMPOTENCY_HOURS (default 24): a retry
later than that runs as a new request. `manage.py purge_idempotency_keys` deletes expired ones (run it
daily; a stale key is also ignored on lookup, so purging is housekeeping, not correctness).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from api.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Any unique string (a UUID, say), at most 255 printable ASCII characters. A retry with the "
    "same key and the same request returns the first result (header Idempotent-Replayed: true) and posts "
    "nothing new; the same key with a different request is refused (422); while the first is still "
    "running, 409. Keys are kept 24 hours per user.",
)


def retention() -> dt.timedelta:
    return dt.timedelta(hours=settings.FINHOUSE_IDEMPOTENCY_HOURS)


def _refusal(code: int, detail: str, error_code: str, **headers: str) -> Response:
    return Response({"detail": detail, "code": error_code}, status=code, headers=headers)


def _fingerprint(request: Any) -> str:
    """The request as the client meant it: method, path and body (canonical: key order and whitespace
    of the JSON do not matter), hashed."""
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict (form or multipart)
        data = {k: v for k, v in data.lists()}
    body = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, separators=(",", ":"))
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def _lock_id(user_id: int, key: str) -> int:
    """A signed 64-bit advisory lock id for (user, key); a collision only costs a spurious 409."""
    digest = hashlib.sha256(f"idempotency\0{user_id}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _try_lock(lock_id: int) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id])
        return bool(cur.fetchone()[0])


def _storable(response: Response) -> bool:
    if status.is_success(response.status_code):
        return True
    data = response.data if isinstance(response.data, dict) else {}
    return response.status_code == status.HTTP_400_BAD_REQUEST and data.get("code") not in (None, "invalid")


def idempotent(handler: Callable) -> Callable:
    """Make an operation handler (an APIView's `post`, a viewset's `create`) honour Idempotency-Key.
    Marks it (`handler.idempotent`), so a test can check that every operation endpoint is."""

    @functools.wraps(handler)
    def wrapper(view: Any, request: Any, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not key or len(key) > MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
            return _refusal(400, f"invalid {HEADER}: 1 to {MAX_KEY_LENGTH} printable ASCII characters",
                            "invalid_idempotency_key")
        fingerprint = _fingerprint(request)
        user = request.user
        with transaction.atomic():
            if not _try_lock(_lock_id(user.pk, key)):
                return _refusal(409, f"a request with this {HEADER} is in progress; retry when it has "
                                "finished (the retry returns its result)", "idempotency_in_progress",
                                **{"Retry-After": "1"})
            stored = IdempotencyKey.objects.filter(user=user, key=key).first()
            if stored is not None and stored.created_at <= timezone.now() - retention():
                stored.delete()  # expired: the key starts afresh
                stored = None
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    return _refusal(422, f"this {HEADER} was used for a different request "
                                    f"({stored.method} {stored.path}); use a new key for a new request",
                                    "idempotency_key_reused")
                return Response(json.loads(stored.response_body), status=stored.response_status,
                                 headers={REPLAYED_HEADER: "true"})
            try:
                response = handler(view, request, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - mapped as the view would, to decide what to store
                response = view.handle_exception(exc)
            if _storable(response) and not transaction.get_rollback():
                IdempotencyKey.objects.create(
                    user=user, key=key, method=request.method, path=request.path, fingerprint=fingerprint,
                    response_status=response.status_code,
                    response_body=json.dumps(response.data, cls=DjangoJSONEncoder),
                )
            return response

    wrapper.idempotent = True
    return extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])(wrapper)


def purge_expired(now: dt.datetime | None = None) -> int:
    """Delete the keys older than the retention; returns how many."""
    cutoff = (now or timezone.now()) - retention()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lte=cutoff).delete()
    return deleted
