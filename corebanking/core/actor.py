"""Who is acting, and from where: the one answer every service, the audit trail and maker-checker read.

An operation is made by a user through a channel: the API, the admin, the simulator, a management
command. The channel sets the actor (ActorMiddleware for web requests, `acting_as` for everything else);
services read it with `current_actor()` instead of taking a user argument, so a service called from a
shell without an actor is visibly anonymous ("shell") rather than silently someone.

Web requests: DRF authenticates inside the view, after middleware ran, and then sets the user on the
underlying Django request too; so the middleware's actor reads `request.user` when asked, not when set.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

SOURCES = ("api", "admin", "simulator", "command", "shell")


@dataclass(frozen=True)
class Actor:
    """`user` (None when anonymous), `source` (one of SOURCES) and the client's address (web only)."""

    get_user: Callable[[], Any]
    source: str
    remote_addr: str | None = None

    @property
    def user(self) -> Any:
        user = self.get_user()
        return user if user is not None and getattr(user, "is_authenticated", False) else None

    @property
    def username(self) -> str:
        user = self.user
        return user.get_username() if user is not None else f"<anonymous {self.source}>"


SHELL = Actor(get_user=lambda: None, source="shell")
_current: contextvars.ContextVar[Actor] = contextvars.ContextVar("finhouse_actor", default=SHELL)


def current_actor() -> Actor:
    """The actor of the operation running now (`SHELL`, with no user, when nothing set one)."""
    return _current.get()


@contextlib.contextmanager
def acting_as(user: Any, source: str, remote_addr: str | None = None) -> Iterator[Actor]:
    """Run the block as `user` from `source` (the simulator, a management command, a test)."""
    if source not in SOURCES:
        raise ValueError(f"unknown actor source {source!r}; one of {', '.join(SOURCES)}")
    actor = Actor(get_user=lambda: user, source=source, remote_addr=remote_addr)
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


SYSTEM_USER_PREFIX = "system."


def system_user(name: str) -> Any:
    """The named system user `system.<name>` (created once, inactive for login, no password): what the
    simulator and scheduled jobs act as, so the audit trail names them instead of nobody."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username=f"{SYSTEM_USER_PREFIX}{name}",
        defaults={"first_name": "System", "last_name": name, "is_active": False},
    )
    return user


def _client_addr(request: Any) -> str | None:
    return request.META.get("REMOTE_ADDR")


class ActorMiddleware:
    """Sets the actor of a web request: source `admin` under /admin/, `api` elsewhere; the user is the
    request's (read lazily, so DRF's token or session authentication is seen)."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        source = "admin" if request.path.startswith("/admin/") else "api"
        actor = Actor(get_user=lambda: getattr(request, "user", None), source=source,
                      remote_addr=_client_addr(request))
        token = _current.set(actor)
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
