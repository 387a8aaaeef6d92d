"""finhouse's Superset configuration: everything comes from the environment (see serve/README.md).

SUPERSET_SECRET_KEY      the session/encryption key; when unset, one is generated once into
                         $FINHOUSE_HOME/superset-secret-key (mode 600) and reused.
SUPERSET_DATABASE_URL    Superset's metadata database; default: a database `superset`
                         (SUPERSET_DATABASE_NAME) on the OLTP's PostgreSQL server, reached as its own role
                         `finhouse_superset` (SUPERSET_DATABASE_USER, password SUPERSET_DATABASE_PASSWORD if
                         any), never as the OLTP's owner; `fh_superset.py setup-db` creates both.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]


def setting(name: str, env: Mapping[str, str] = os.environ) -> str:
    """NAME from the environment. Everything here runs through serve/bin/with-env, which fills in the
    defaults of .env.example (scripts/defaults.sh, the one file they are written in): none is repeated here."""
    value = env.get(name)
    if not value:
        raise SystemExit(f"superset: {name} is not set: run through serve/bin/with-env, which sets the "
                         "defaults of .env.example")
    return value



def create_private(path: Path, text: str) -> bool:
    """Create `path` holding `text`, mode 600 from its creation, unless it exists; whether this call created
    it. A reader sees no file or the whole of it (gunicorn's workers import this at once), and of two
    creators one wins. (finhouse.config.create_private, which Superset's environment does not have.)"""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(text)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _secret_key() -> str:
    key = os.environ.get("SUPERSET_SECRET_KEY")
    if key:
        return key
    path = Path(setting("FINHOUSE_HOME")) / "superset-secret-key"
    if not path.exists():
        create_private(path, secrets.token_urlsafe(42) + "\n")
    return path.read_text().strip()


def metadata_url(env: dict[str, str] | os._Environ[str] = os.environ) -> str:
    if env.get("SUPERSET_DATABASE_URL"):
        return env["SUPERSET_DATABASE_URL"]
    if not env.get("FINHOUSE_OLTP_URL"):
        # serve/bin/with-env fills in every default of .env.example; this file keeps no copy of them.
        raise RuntimeError("superset_config: FINHOUSE_OLTP_URL is not set; run Superset through "
                           "serve/bin/with-env (or set it, or SUPERSET_DATABASE_URL)")
    oltp = urlsplit(env["FINHOUSE_OLTP_URL"])
    db = env.get("SUPERSET_DATABASE_NAME", "superset")
    user = quote(setting("SUPERSET_DATABASE_USER", env), safe="")
    if env.get("SUPERSET_DATABASE_PASSWORD"):
        user += ":" + quote(env["SUPERSET_DATABASE_PASSWORD"], safe="")
    host = oltp.netloc.rsplit("@", 1)[-1]  # the OLTP's server, not its user
    return urlunsplit(("postgresql+psycopg2", f"{user}@{host}", "/" + db, oltp.query, ""))


SECRET_KEY = _secret_key()
SQLALCHEMY_DATABASE_URI = metadata_url()
SQLALCHEMY_EXAMPLES_URI = None

# No example data, no telemetry, nothing fetched from outside.
SUPERSET_LOAD_EXAMPLES = False
SCHEDULED_QUERIES: dict = {}
SQLLAB_CTAS_NO_LIMIT = True
FEATURE_FLAGS = {
    "DASHBOARD_NATIVE_FILTERS": True,
    "DASHBOARD_CROSS_FILTERS": True,
    "ENABLE_TEMPLATE_PROCESSING": True,
    # Render every chart of a dashboard at once (no lazy rendering below the fold).
    "DASHBOARD_VIRTUALIZATION": False,
}
THUMBNAIL_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}


def _cache(prefix: str, timeout: int) -> dict:
    """Superset's caches: in Redis when SUPERSET_CACHE_REDIS_URL is set (one cache for every gunicorn
    worker: a chart computed by one is served by all), else in each worker's memory."""
    redis_url = os.environ.get("SUPERSET_CACHE_REDIS_URL")
    if redis_url:
        return {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": redis_url, "CACHE_KEY_PREFIX": prefix,
                "CACHE_DEFAULT_TIMEOUT": timeout}
    return {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": timeout}


CACHE_CONFIG = _cache("finhouse_superset_", 300)
# The chart-data cache: a dashboard's charts computed once are served from it for 5 minutes (the marts
# change only when a dbt build publishes a new serving copy). SUPERSET_DATA_CACHE=none turns it off
# (benchmarks measure the queries themselves).
DATA_CACHE_CONFIG = ({"CACHE_TYPE": "NullCache"} if os.environ.get("SUPERSET_DATA_CACHE") == "none"
                     else _cache("finhouse_data_", 300))
# Local demo over plain HTTP on loopback.
WTF_CSRF_ENABLED = os.environ.get("SUPERSET_CSRF", "1") == "1"
TALISMAN_ENABLED = False
SESSION_COOKIE_SECURE = False
ENABLE_PROXY_FIX = os.environ.get("SUPERSET_PROXY_FIX", "0") == "1"
# Reading a DuckDB file by path is what the serving copy is.
PREVENT_UNSAFE_DB_CONNECTIONS = False
# ...which is why every DuckDB connection is sandboxed, here, for whatever URI an admin types: DuckDB's
# file system and extension loading are off (enable_external_access=false: no read_csv('/etc/passwd'), no
# ATTACH of another database file, no COPY … TO a file, no INSTALL/LOAD) and its configuration is locked
# (lock_configuration=true: SQL Lab cannot SET any of it back). The database file the URI names is still
# opened: it is the connection's own, not an external access. The URI's query becomes duckdb-engine's
# config and wins over connect_args (duckdb_engine.Dialect.connect), so the options go there.
DUCKDB_SANDBOX = {"enable_external_access": "false", "lock_configuration": "true"}


def DB_CONNECTION_MUTATOR(uri, params, username, security_manager, source):  # noqa: N802 - Superset's name
    if uri.get_backend_name() == "duckdb":
        uri = uri.update_query_dict(DUCKDB_SANDBOX)
    return uri, params

ROW_LIMIT = 50000
LOG_LEVEL = os.environ.get("SUPERSET_LOG_LEVEL", "WARNING")
