"""The platform's configuration: one place that reads the FINHOUSE_* environment.

The defaults live in one file, .env.example: each `NAME=value` line with a value is NAME's default, used
when the environment leaves NAME unset or empty (an empty `NAME=` line means "no default"). A default may
name another variable as `${NAME}` (the warehouse's file is under `${FINHOUSE_HOME}`), and a
relative path is relative to the repository root. Every reader follows these rules: this module (the
`finhouse` command, the Airflow DAGs), Make (which includes the file through a generated fragment,
Makefile), the shell wrappers (scripts/defaults.sh) and Django, which must not import this package and
reads the file with a few lines of its own (corebanking/config/settings.py, held to this one by
tests/test_config.py).

Standard library only: Airflow's environment imports it (tests/test_config.py checks)."""

from __future__ import annotations

import functools
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS_FILE = ROOT / ".env.example"
_ASSIGNMENT = re.compile(r"([A-Z][A-Z0-9_]*)=(.*)")
_REFERENCE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


@functools.cache
def defaults() -> dict[str, str]:
    """NAME → default, as written in .env.example (references not yet replaced)."""
    found = {}
    for line in DEFAULTS_FILE.read_text().splitlines():
        match = _ASSIGNMENT.fullmatch(line.strip())
        if match and match[2]:
            found[match[1]] = match[2]
    return found


def get(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """NAME's value: the environment's when set and not empty, else its default (None without one)."""
    env = os.environ if env is None else env
    if env.get(name):
        return env[name]
    default = defaults().get(name)
    if default is None:
        return None
    return _REFERENCE.sub(lambda m: get(m[1], env) or "", default)


def path(name: str, env: Mapping[str, str] | None = None) -> Path:
    """NAME's value as a path; a relative one is relative to the repository root."""
    value = get(name, env)
    if value is None:
        raise SystemExit(f"finhouse: {name} is not set and has no default in {DEFAULTS_FILE.name}")
    p = Path(value)
    return p if p.is_absolute() else ROOT / p


def home(env: Mapping[str, str] | None = None) -> Path:
    """FINHOUSE_HOME: the platform's own files (environments, generated secrets, the warehouse)."""
    return path("FINHOUSE_HOME", env)


def warehouse_path(env: Mapping[str, str] | None = None) -> Path:
    """The DuckDB warehouse file (fhload writes it, dbt builds in it): FINHOUSE_DUCKDB_PATH."""
    return path("FINHOUSE_DUCKDB_PATH", env)


def serving_path(env: Mapping[str, str] | None = None) -> Path:
    """The serving copy dashboards read (finhouse.serve.serving): FINHOUSE_SERVING_PATH."""
    return path("FINHOUSE_SERVING_PATH", env)


def registry_path(env: Mapping[str, str] | None = None) -> Path:
    """The table registry fhload reads: FINHOUSE_REGISTRY."""
    return path("FINHOUSE_REGISTRY", env)


def oltp_url(env: Mapping[str, str] | None = None) -> str:
    """The core banking database: FINHOUSE_OLTP_URL."""
    return get("FINHOUSE_OLTP_URL", env) or ""


def environ(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's environment) with every default filled in and the paths the platform
    hands to other programs made absolute: what a child process (fhload, dbt, Django, Airflow) is given,
    so that none of them needs defaults of its own."""
    env = dict(os.environ if env is None else env)
    filled = {name: get(name, env) or "" for name in defaults()}
    for name in ("FINHOUSE_HOME", "FINHOUSE_DUCKDB_PATH", "FINHOUSE_SERVING_PATH", "FINHOUSE_REGISTRY"):
        filled[name] = str(path(name, env))
    return {**env, **filled}


@dataclass(frozen=True)
class Config:
    root: Path
    home: Path
    oltp_url: str
    admin_user: str
    admin_email: str
    admin_password: str | None
    web_host: str
    web_port: int
    airflow_port: int
    superset_port: int
    dbt_docs_port: int
    demo_customers: int
    demo_years: int
    demo_seed: int

    @property
    def manage_py(self) -> Path:
        return self.root / "corebanking" / "manage.py"


def load() -> Config:
    """Read the configuration from the environment, with the defaults of the local demo."""
    return Config(
        root=ROOT,
        home=home(),
        oltp_url=oltp_url(),
        admin_user=get("FINHOUSE_ADMIN_USER") or "",
        admin_email=get("FINHOUSE_ADMIN_EMAIL") or "",
        admin_password=get("FINHOUSE_ADMIN_PASSWORD") or None,
        web_host=get("FINHOUSE_WEB_HOST") or "",
        web_port=_int("FINHOUSE_WEB_PORT"),
        airflow_port=_int("FINHOUSE_AIRFLOW_PORT"),
        superset_port=_int("FINHOUSE_SUPERSET_PORT"),
        dbt_docs_port=_int("FINHOUSE_DBT_DOCS_PORT"),
        demo_customers=_int("FINHOUSE_DEMO_CUSTOMERS"),
        demo_years=_int("FINHOUSE_DEMO_YEARS"),
        demo_seed=_int("FINHOUSE_DEMO_SEED"),
    )


def _int(name: str) -> int:
    raw = get(name)
    try:
        return int(raw or "")
    except ValueError:
        raise SystemExit(f"finhouse: {name} must be a whole number, got {raw!r}") from None


def admin_password(cfg: Config) -> tuple[str, bool]:
    """The platform admin's password (Django, Airflow and Superset log in with it), and whether it was
    generated just now (then it is shown once): FINHOUSE_ADMIN_PASSWORD, else the one generated on first
    use into $FINHOUSE_HOME/admin-password (mode 600). The one place it is made: Superset's setup is given
    it by Make (`finhouse admin-password`) or `finhouse demo`."""
    if cfg.admin_password:
        return cfg.admin_password, False
    path = cfg.home / "admin-password"
    if not path.exists():
        cfg.home.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(12)
        if create_private(path, password + "\n"):
            return password, True
    return path.read_text().strip(), False


# --- files only this user may read: generated secrets, and anything holding customers' data ---------------
def private_dir(path: Path, home: Path | None = None) -> Path:
    """Make sure the directory `path` exists; when this creates it, it is mode 700 (its missing parents
    are made as usual). One inside the platform's `home` is the platform's own, and an existing one is
    narrowed to 700 as well; elsewhere an existing directory is left as its owner set it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)  # the umask can only narrow it
    except FileExistsError:
        where, base = path.resolve(), (home or path).resolve()
        if where != base and where.is_relative_to(base):
            path.chmod(0o700)
    return path


def _new_private_file(path: Path, text: str) -> Path:
    """A new file beside `path` holding `text`, mode 600 from its creation."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return tmp


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, mode 600: into a new file renamed over it, so that no reader ever sees it
    half written, nor readable by others (an older file with a wider mode is replaced, not reused)."""
    tmp = _new_private_file(path, text)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def create_private(path: Path, text: str) -> bool:
    """Create `path` holding `text`, mode 600, unless it exists; whether this call created it. A reader
    sees no file or the whole of it, and of two processes creating it at once, one wins."""
    tmp = _new_private_file(path, text)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def private_umask() -> Iterator[None]:
    """Within: every file and directory this process creates is readable by this user only (umask 077),
    whoever creates it (DuckDB's database, WAL and spill files included). The umask is the process's: a
    thread creating a file meanwhile gets a private one too, never a more open one."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)
