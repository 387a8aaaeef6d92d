"""Settings of the core banking backend: 12-factor, everything from the environment, with defaults
that serve the local demo (see .env.example for every variable)."""

import os
import re
import urllib.parse
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
ROOT_DIR = BASE_DIR.parent


def env_defaults(path: Path = ROOT_DIR / ".env.example") -> dict[str, str]:
    """The platform's defaults, from the one file they are written in: each `NAME=value` line with a value.
    The backend does not import the platform package (finhouse.config reads the same file by the same
    rule; tests/test_config.py holds the two to the same answers), so it reads it with these few lines."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match and match[2]:
            found[match[1]] = match[2]
    return found


# NAME → default, from .env.example (the one file they are written in): every setting below that has one
# takes it from here, never from a literal of its own (tests/test_config.py checks).
FINHOUSE_DEFAULTS = env_defaults()


def _env_bool(name: str, default: bool | None = None) -> bool:
    """Unset or empty (`NAME=` in .env, as .env.example lists them) is the default: .env.example's unless
    given (the switches whose default depends on DEBUG have none there)."""
    value = (os.environ.get(name) or "").strip().lower() or FINHOUSE_DEFAULTS.get(name, "").lower()
    return default if not value else value in {"1", "true", "yes", "on"}


def _env_str(name: str, default: str | None = None) -> str:
    value = (os.environ.get(name) or "").strip()
    return value or (default if default is not None else FINHOUSE_DEFAULTS[name])


def _env_int(name: str, default: int | None = None) -> int:
    value = os.environ.get(name, "").strip() or (FINHOUSE_DEFAULTS[name] if default is None else "")
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None


def _database_from_url(url: str) -> dict:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"FINHOUSE_OLTP_URL must be a postgresql:// URL, got {url!r}")
    query = dict(urllib.parse.parse_qsl(parts.query))
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": urllib.parse.unquote(parts.path.lstrip("/")) or "microfinance",
        "USER": urllib.parse.unquote(parts.username or "postgres"),
        "PASSWORD": urllib.parse.unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        "CONN_MAX_AGE": 60,
        "OPTIONS": {"connect_timeout": 5, **query},
        "TEST": {"NAME": os.environ.get("FINHOUSE_TEST_DB", None)},
    }


# Only unset is the demo: an empty DJANGO_DEBUG= is not "true", so it means production (fail safe).
_debug = os.environ.get("DJANGO_DEBUG", FINHOUSE_DEFAULTS["DJANGO_DEBUG"])
DEBUG = _debug.strip().lower() in {"1", "true", "yes", "on"}
# Production is DEBUG off: everything below that says PRODUCTION hardens it (cookies, HTTPS, HSTS).
PRODUCTION = not DEBUG
DEMO_SECRET_KEY = "insecure-demo-key-set-DJANGO_SECRET_KEY-in-production"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or DEMO_SECRET_KEY
# Sessions, password reset links and CSRF tokens are signed with it: in production the demo key (public
# in this repository) or a guessable one would let anyone forge a staff session. The same bar as
# `check --deploy` (security.W009): at least 50 characters, 5 distinct.
if PRODUCTION and (SECRET_KEY == DEMO_SECRET_KEY or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is off (production) but DJANGO_SECRET_KEY is unset, the demo key or too weak: set "
        "DJANGO_SECRET_KEY to a long random value (at least 50 characters), e.g. the output of "
        "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`, in the environment or .env"
    )
ALLOWED_HOSTS = [
    h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", FINHOUSE_DEFAULTS["DJANGO_ALLOWED_HOSTS"]).split(",")
    if h
]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files served from here, not a CDN (works offline)
    "rest_framework.authtoken",
    "axes",  # login lockout (admin login and the API's token endpoint)
    "core",
    "access",
    "customers",
    "savings",
    "loans",
    "payments",
    "ledger",
    "investments",
    "simulator",
    "api",
    "auditlog",  # before audit: audit.admin replaces auditlog's admin of the entries
    "audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.actor.ActorMiddleware",  # who acts and from where: services, audit trail, maker-checker
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": _database_from_url(
        os.environ.get("FINHOUSE_OLTP_URL") or FINHOUSE_DEFAULTS["FINHOUSE_OLTP_URL"])
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Axes first: it refuses a locked-out username before any password is checked. api.authentication's backend is
# Django's ModelBackend that also refuses staff who have left (Staff.left_on), on every request.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Permissions: django-rules answers has_perm from access.policy (role, branch, left_on) on every call.
    "rules.permissions.ObjectPermissionBackend",
    "api.authentication.StaffModelBackend",
]

# Login lockout (django-axes), for the admin login and POST /api/auth/token/: after FINHOUSE_LOCKOUT_FAILURES
# wrong passwords for one username (from any address, so rotating addresses does not help), or from one
# address (for any username: credential stuffing), that username or address is locked out for
# FINHOUSE_LOCKOUT_MINUTES (0: until an admin resets it); a success resets the count. Staff behind one
# NAT share an address: raise the limit or set FINHOUSE_LOCKOUT_BY=username there. An admin unlocks
# earlier with `manage.py axes_reset_username <username>` or `axes_reset_ip <address>`.
AXES_ENABLED = _env_bool("FINHOUSE_LOCKOUT_ENABLED")
AXES_FAILURE_LIMIT = _env_int("FINHOUSE_LOCKOUT_FAILURES")
AXES_COOLOFF_TIME = _env_int("FINHOUSE_LOCKOUT_MINUTES") / 60 or None  # hours; None: permanent
_lockout_by = _env_str("FINHOUSE_LOCKOUT_BY")
AXES_LOCKOUT_PARAMETERS = [p.strip() for p in _lockout_by.split(",") if p.strip()]
AXES_RESET_ON_SUCCESS = True
AXES_COOLOFF_MESSAGE = ("Account locked: too many failed login attempts. "
                        "Try again later or ask an administrator.")
AXES_PERMALOCK_MESSAGE = "Account locked: too many failed login attempts. Ask an administrator."

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The institution's time zone (IANA name): its "today" bounds every operation's business date
# (core/clock.py), and the admin shows times in it. Timestamps are stored in UTC whatever it is.
TIME_ZONE = os.environ.get("FINHOUSE_TIME_ZONE", FINHOUSE_DEFAULTS["FINHOUSE_TIME_ZONE"])
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = ROOT_DIR / ".finhouse" / "static"

# The audit trail (corebanking/audit): django-auditlog writing into audit.AuditLogEntry (table audit_log).
AUDITLOG_LOGENTRY_MODEL = "audit.AuditLogEntry"

# The institution's one currency (ISO 4217), used on payments and in the admin.
FINHOUSE_CURRENCY = os.environ.get("FINHOUSE_CURRENCY", FINHOUSE_DEFAULTS["FINHOUSE_CURRENCY"])

# API tokens (POST /api/auth/token/) expire this many hours after they were issued.
FINHOUSE_API_TOKEN_HOURS = _env_int("FINHOUSE_API_TOKEN_HOURS")
# How long an operation's Idempotency-Key and its result are kept (api.idempotency).
FINHOUSE_IDEMPOTENCY_HOURS = _env_int("FINHOUSE_IDEMPOTENCY_HOURS")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous API client gets 401 with a `WWW-Authenticate: Token` challenge
        # (not 403, and no Basic challenge: browsers would pop a password dialog). Session auth serves the
        # browsable API and Swagger UI to a logged-in admin user, and enforces CSRF on its writes.
        "api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every request is authorized by role and branch from the one table in access.policy.
    "DEFAULT_PERMISSION_CLASSES": ["access.drf.RolePermission"],
    # Per client, in this process's cache (per worker unless CACHES is made shared): anonymous by
    # address, users by user; the token endpoint has its own tighter scope.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": _env_str("FINHOUSE_API_THROTTLE_ANON"),
        "user": _env_str("FINHOUSE_API_THROTTLE_USER"),
        "auth": _env_str("FINHOUSE_API_THROTTLE_AUTH"),
    },
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every error answers {"detail", "code"} (api.common.ErrorSerializer), whichever layer refused it.
    "EXCEPTION_HANDLER": "api.common.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "finhouse core banking API",
    "DESCRIPTION": "The system of record of a microfinance institution: customers, savings, loans, "
    "payments, the ledger and fixed deposits. Every endpoint requires authentication: a token from "
    "POST /api/auth/token/ (header `Authorization: Token <token>`) or an admin session (with its CSRF "
    "token on writes). Every operation takes an optional Idempotency-Key header.",
    "VERSION": "0.1.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- HTTPS and cookies -------------------------------------------------------------------------------
# In production (DJANGO_DEBUG off) the site is served over HTTPS only, behind a TLS-terminating proxy
# that sets X-Forwarded-Proto (and strips a client's own); each is an environment switch for setups
# that differ. The demo (DEBUG on, plain http on 127.0.0.1) keeps them off.
SESSION_COOKIE_SECURE = _env_bool("DJANGO_SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
# A staff session lasts a working day, not Django's two weeks.
SESSION_COOKIE_AGE = _env_int("DJANGO_SESSION_SECONDS")
SECURE_SSL_REDIRECT = _env_bool("DJANGO_SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = _env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = _env_bool("DJANGO_SECURE_HSTS_PRELOAD", PRODUCTION)
_proxy_ssl_header = _env_str("DJANGO_SECURE_PROXY_SSL_HEADER",
                             "HTTP_X_FORWARDED_PROTO" if PRODUCTION else "none")
SECURE_PROXY_SSL_HEADER = None if _proxy_ssl_header.lower() == "none" else (_proxy_ssl_header, "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}
