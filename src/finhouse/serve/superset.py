"""The commands that bring Superset up, for `finhouse demo` and the make targets (serve/superset.mk).

Superset lives in its own environment (.finhouse/superset-venv); everything runs through
serve/bin/with-env, which sets its configuration. In order, after the warehouse is loaded:

    serving.build_and_publish()  or  python -m finhouse.serve.serving build-and-publish  (build, publish)
    setup_db_command(root)       metadata database, `superset db upgrade` + `init`, admin and viewer
    import_command(root)         the dashboards kept as YAML in serve/dashboards/
    serve_command(root, host)    gunicorn on FINHOUSE_SUPERSET_PORT (default 8088); health at /health
"""

from __future__ import annotations

from pathlib import Path

from finhouse import config as fh_config


def port() -> int:
    return int(fh_config.get("FINHOUSE_SUPERSET_PORT") or "")


def _with_env(root: Path) -> str:
    return str(root / "serve" / "bin" / "with-env")


def setup_db_command(root: Path) -> list[str]:
    return [_with_env(root), "python", str(root / "serve" / "fh_superset.py"), "setup-db"]


def import_command(root: Path) -> list[str]:
    return [_with_env(root), "python", str(root / "serve" / "fh_superset.py"), "import"]


def serve_command(root: Path, host: str = "127.0.0.1", listen_port: int | None = None) -> list[str]:
    return [_with_env(root), "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4", "--timeout", "120",
            "-b", f"{host}:{listen_port or port()}", "superset.app:create_app()"]


def health_url(host: str = "127.0.0.1", listen_port: int | None = None) -> str:
    return f"http://{host}:{listen_port or port()}/health"


def viewer_password_path(home: Path) -> Path:
    """Where the read-only viewer's generated password is kept (unless SUPERSET_VIEWER_PASSWORD is set)."""
    return home / "superset-viewer-password"
