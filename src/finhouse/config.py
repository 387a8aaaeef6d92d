"""The platform's configuration: one place that reads the FINHOUSE_* environment (see .env.example)."""

from __future__ import annotations

import os
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
