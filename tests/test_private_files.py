"""Generated secrets and files holding customers' data are this user's only (issue 15): mode 600 from
their creation, in directories made 700 — the platform's own under FINHOUSE_HOME (the warehouse's, the
logs, AIRFLOW_HOME) narrowed to 700 even when an earlier version made them wider.

Each test runs the real code path (the demo's helpers, finhouse.serve.serving.publish on a DuckDB file,
Superset's and Airflow's own scripts in their environments) in a temporary FINHOUSE_HOME and reads the
modes it left. The C engine's warehouse file is fhload's business (ingest/engine/)."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest

from finhouse import config as fh_config
from finhouse import demo
from finhouse.config import ROOT
from finhouse.serve import serving

PG_ADMIN = os.environ.get("FINHOUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A FINHOUSE_HOME of an older checkout: there, but readable by all (as `make env` leaves it)."""
    path = tmp_path / "home"
    path.mkdir(mode=0o755)
    path.chmod(0o755)
    monkeypatch.setenv("FINHOUSE_HOME", str(path))
    monkeypatch.delenv("FINHOUSE_SERVING_PATH", raising=False)
    return path


def wide_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    path.chmod(0o755)
    return path


def test_the_admin_password_is_generated_600(home):
    cfg = dataclasses.replace(fh_config.load(), home=home, admin_password=None)
    password, generated = demo.admin_password(cfg)
    assert generated and mode(home / "admin-password") == 0o600
    assert demo.admin_password(cfg) == (password, False)  # kept, not generated again


def test_private_dir_narrows_only_the_platforms_own(home, tmp_path):
    ours = fh_config.private_dir(wide_dir(home / "warehouse"), home)
    new = fh_config.private_dir(tmp_path / "elsewhere" / "new", home)
    theirs = fh_config.private_dir(wide_dir(tmp_path / "shared"), home)
    assert (mode(ours), mode(new), mode(theirs)) == (0o700, 0o700, 0o755)
    assert mode(home) == 0o755  # never the home: a private PostgreSQL cluster under it runs as postgres


def test_airflows_password_file_and_home(home):
    airflow_home = wide_dir(home / "airflow")
    old = airflow_home / "simple_auth_manager_passwords.json.generated"
    old.write_text("{}")
    old.chmod(0o644)  # as an earlier version wrote it
    path = demo.write_airflow_passwords(airflow_home, home, {"admin": "s3cret"})
    assert json.loads(path.read_text()) == {"admin": "s3cret"}
    assert (mode(airflow_home), mode(path)) == (0o700, 0o600)
    assert [p.name for p in airflow_home.iterdir()] == [path.name]  # no temporary file left


def test_server_logs(home):
    logs = fh_config.private_dir(wide_dir(home / "logs"), home)
    older = logs / "django.log"
    older.write_text("GET /admin/customers/customer/?q=Otieno\n")
    older.chmod(0o644)
    for name in ("django.log", "superset.log"):
        with demo.open_log(logs / name) as log:
            log.write(b"a line\n")
    assert mode(logs) == 0o700
    assert mode(logs / "django.log") == mode(logs / "superset.log") == 0o600
    assert older.read_text().endswith("?q=Otieno\na line\n")  # appended to, not replaced


def _warehouse(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.dim_customers AS SELECT range AS customer_id, 'Amina ' || range AS "
                    "name FROM range(1000)")
    return path


def test_the_serving_copy_is_600_in_a_700_directory(home, tmp_path):
    warehouse = _warehouse(tmp_path / "finhouse.duckdb")
    directory = wide_dir(home / "warehouse")  # an older checkout's
    umask = os.umask(0o022)
    try:
        published = serving.publish(warehouse)
        assert os.umask(0o022) == 0o022  # the process's umask is back as it was
    finally:
        os.umask(umask)
    assert published.path == directory / "serving.duckdb" and published.rows == 1000
    assert (mode(directory), mode(published.path)) == (0o700, 0o600)
    assert sorted(p.name for p in directory.iterdir()) == ["serving.duckdb"]

    # elsewhere (FINHOUSE_SERVING_PATH): the file is 600 all the same; the directory is its owner's choice
    shared = wide_dir(tmp_path / "shared")
    published = serving.publish(warehouse, shared / "serving.duckdb")
    assert (mode(shared), mode(published.path)) == (0o755, 0o600)


def test_duckdb_creates_its_files_private_under_the_umask(tmp_path):
    """What publish relies on for no window: DuckDB creates its database and WAL with the process's umask,
    so under private_umask they are 600 from their first byte (here looked at while still open)."""
    path = tmp_path / "copy.duckdb"
    with fh_config.private_umask():
        con = duckdb.connect(str(path))
        con.execute("SET checkpoint_threshold = '1GB'")  # keep the rows in the WAL
        con.execute("CREATE TABLE t AS SELECT range AS id, 'Otieno' AS name FROM range(10000)")
        wal = path.with_name(path.name + ".wal")
        assert wal.exists()
        assert (mode(path), mode(wal)) == (0o600, 0o600)
        con.close()


def _superset(home: Path, code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    # the test's own FINHOUSE_HOME, Superset's real environment (with-env would look under the home)
    env.update(FINHOUSE_HOME=str(home), SUPERSET_VENV=str(ROOT / ".finhouse" / "superset-venv"))
    for name in ("SUPERSET_SECRET_KEY", "SUPERSET_VIEWER_PASSWORD", "FINHOUSE_ADMIN_PASSWORD"):
        env.pop(name, None)
    return subprocess.run([str(ROOT / "serve" / "bin" / "with-env"), "python", "-c", code], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=True)


def test_superset_generates_its_secret_key_and_viewer_password_600(home):
    """In Superset's own environment, as `make demo` runs them."""
    proc = _superset(home, "import fh_superset; print(fh_superset.viewer_password())")
    assert mode(home / "superset-viewer-password") == 0o600
    assert proc.stdout.strip().endswith((home / "superset-viewer-password").read_text().strip())
    _superset(home, "import superset_config")
    assert mode(home / "superset-secret-key") == 0o600
    assert sorted(p.name for p in home.iterdir()) == ["superset-secret-key", "superset-viewer-password"]


@pytest.fixture
def airflow_meta_db() -> Iterator[str]:
    name = f"{os.environ.get('FINHOUSE_TEST_DB') or 'test_finhouse'}_private_{os.getpid()}"
    yield name
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_airflow_setup_db_keeps_no_password_and_writes_600(tmp_path, airflow_meta_db):
    """orchestrate/bin/setup-db through with-env, on a new metadata database whose URL carries a password
    (trust authentication ignores it): AIRFLOW_HOME is made 700, the stamp is 600 and without the
    password — also replacing a stamp an earlier version left readable, password included."""
    airflow_home = tmp_path / "airflow"  # with-env makes it
    server = PG_ADMIN.split("://", 1)[1].split("@", 1)[1]
    url = f"postgresql+psycopg2://postgres:s3cret-pw@{server}/{airflow_meta_db}"
    env = dict(os.environ, AIRFLOW_HOME=str(airflow_home), AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=url)
    bin_dir = ROOT / "orchestrate" / "bin"
    setup = [str(bin_dir / "with-env"), "python", str(bin_dir / "setup-db")]
    subprocess.run(setup, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=True)
    stamp = airflow_home / "setup-db.json"
    assert mode(airflow_home) == 0o700
    assert mode(stamp) == mode(airflow_home / "db-migrate.log") == mode(airflow_home / "airflow.cfg") == 0o600
    assert "s3cret-pw" not in stamp.read_text() and json.loads(stamp.read_text())["url"].startswith(
        "postgresql://postgres:***@")

    stamp.write_text(json.dumps({"url": url.replace("+psycopg2", ""), "airflow": "an older one"}))
    stamp.chmod(0o644)
    subprocess.run(setup, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=True)
    assert mode(stamp) == 0o600 and "s3cret-pw" not in stamp.read_text()
