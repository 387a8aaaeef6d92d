"""The platform's configuration: one place that reads the FINHOUSE_* environment (see .env.example)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
        return self.root / "backend" / "manage.py"


def load() -> Config:
    """Read the configuration from the environment, with the defaults of the local demo."""
    env = os.environ
    home = Path(env.get("FINHOUSE_HOME", ROOT / ".finhouse"))
    return Config(
        root=ROOT,
        home=home,
        oltp_url=env.get("FINHOUSE_OLTP_URL", "postgresql://postgres@127.0.0.1:5432/microfinance"),
        admin_user=env.get("FINHOUSE_ADMIN_USER", "admin"),
        admin_email=env.get("FINHOUSE_ADMIN_EMAIL", "admin@example.org"),
        admin_password=env.get("FINHOUSE_ADMIN_PASSWORD") or None,
        web_host=env.get("FINHOUSE_WEB_HOST", "127.0.0.1"),
        web_port=_int(env, "FINHOUSE_WEB_PORT", 8000),
        airflow_port=_int(env, "FINHOUSE_AIRFLOW_PORT", 8080),
        superset_port=_int(env, "FINHOUSE_SUPERSET_PORT", 8088),
        dbt_docs_port=_int(env, "FINHOUSE_DBT_DOCS_PORT", 8081),
        demo_customers=_int(env, "FINHOUSE_DEMO_CUSTOMERS", 2000),
        demo_years=_int(env, "FINHOUSE_DEMO_YEARS", 3),
        demo_seed=_int(env, "FINHOUSE_DEMO_SEED", 42),
    )


def _int(env: os._Environ[str] | dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"finhouse: {name} must be a whole number, got {raw!r}") from None


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
