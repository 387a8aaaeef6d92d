"""Fixtures of the Superset tests: a small simulated institution's serving copy, a Superset on a free
loopback port with the dashboards imported, and chromium driven by Playwright.

The institution (100 customers, 1 year, seed 5, until 2025-06-30) goes through the real pipeline: a
throwaway OLTP database, the simulator, fhload, dbt (models), and finhouse.serve.serving.publish. Superset's
metadata database is copied from a template built once per Superset version (`superset db upgrade` and
`init` take about two minutes; a copy takes a second), then users, roles and the dashboards are set up
as `make superset-db superset-import` would.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

import psycopg2
import pytest

HERE = Path(__file__).resolve().parent
SS_DIR = HERE.parent
ROOT = SS_DIR.parent
FH = Path(os.environ["FINHOUSE_HOME"])  # set by serve/bin/with-env, the tests' runner (make test-superset)
PLATFORM_PY = FH / "venv" / "bin" / "python"
DBT = FH / "venv" / "bin" / "dbt"
FHLOAD = ROOT / "ingest" / "engine" / "build" / "fhload"
WITH_ENV = SS_DIR / "bin" / "with-env"
ARTIFACTS = Path(os.environ.get("FINHOUSE_ARTIFACTS", FH / "artifacts")) / "screenshots"

PG = os.environ.get("FINHOUSE_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432")
OLTP_DB = "test_fh_superset_oltp"
META_DB = "test_fh_superset_meta"
TEMPLATE_DB = "test_fh_superset_tpl_" + version("apache-superset").replace(".", "_")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _admin(sql: str) -> None:
    conn = psycopg2.connect(f"{PG}/postgres", connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def _exists(db: str) -> bool:
    conn = psycopg2.connect(f"{PG}/postgres", connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def _run(args: list, env: dict, timeout: int, what: str) -> None:
    proc = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n" \
                                 f"{proc.stderr[-3000:]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_serving_copy(tmp: Path) -> Path:
    """The small institution through the real pipeline; returns the published serving copy."""
    assert FHLOAD.exists(), f"{FHLOAD} is not built: run `make engine`"
    url = f"{PG}/{OLTP_DB}"
    warehouse, serving = tmp / "warehouse.duckdb", tmp / "serving.duckdb"
    _admin(f'DROP DATABASE IF EXISTS "{OLTP_DB}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{OLTP_DB}"')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update(FINHOUSE_OLTP_URL=url, DJANGO_SETTINGS_MODULE="config.settings",
               FINHOUSE_DUCKDB_PATH=str(warehouse), DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               PYTHONPATH=str(ROOT / "src"))
    try:
        _run([PLATFORM_PY, "corebanking/manage.py", "migrate", "--no-input", "-v", "0"], env, 600, "migrate")
        _run([PLATFORM_PY, "corebanking/manage.py", "simulate", "--customers", "100", "--years", "1", "--seed", "5",
              "--until", "2025-06-30", "--reset", "-v", "0"], env, 600, "simulate")
        _run([FHLOAD, "--source", url, "--warehouse", warehouse, "--quiet"], env, 300, "fhload")
        project = ROOT / "transform" / "finhouse"
        # Models only: the dbt tests are the dbt suite's business (tests/test_dbt_build.py).
        _run([DBT, "run", "--project-dir", project, "--profiles-dir", project, "--target", "duckdb",
              "--target-path", tmp / "target", "--log-path", tmp / "logs"], env, 600, "dbt run")
        _run([PLATFORM_PY, "-m", "finhouse.serve.serving", "publish", "--warehouse", warehouse, "--serving", serving],
             env, 300, "publish")
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{OLTP_DB}" WITH (FORCE)')
    return serving


@pytest.fixture(scope="session")
def superset_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("superset")
    env = dict(os.environ)
    env.update(
        FINHOUSE_OLTP_URL=f"{PG}/{OLTP_DB}", SUPERSET_DATABASE_URL=f"postgresql+psycopg2://{PG.split('://', 1)[1]}"
        f"/{META_DB}", SUPERSET_SECRET_KEY=secrets.token_urlsafe(32), FINHOUSE_ADMIN_USER="admin",
        FINHOUSE_ADMIN_PASSWORD=secrets.token_urlsafe(10), SUPERSET_VIEWER_PASSWORD=secrets.token_urlsafe(10),
        FINHOUSE_SERVING_PATH=str(tmp / "serving.duckdb"), SUPERSET_LOG_LEVEL="ERROR",
    )
    env["SUPERSET_VENV"] = str(FH / "superset-venv")
    env["FINHOUSE_HOME"] = str(tmp / "home")  # generated files of the test stay in the test's directory
    env.pop("SUPERSET_WAREHOUSE_URI", None)
    env.pop("FINHOUSE_WAREHOUSE", None)
    return tmp, env


def _superset_metadata(env: dict) -> None:
    """Metadata database from the per-version template (built on first use), then users and roles."""
    _admin(f'DROP DATABASE IF EXISTS "{META_DB}" WITH (FORCE)')
    if not _exists(TEMPLATE_DB):
        build_env = dict(env, SUPERSET_DATABASE_URL=env["SUPERSET_DATABASE_URL"].rsplit("/", 1)[0] + "/"
                         + TEMPLATE_DB)
        _run([WITH_ENV, "python", SS_DIR / "fh_superset.py", "setup-db"], build_env, 900, "setup-db (template)")
    _admin(f'CREATE DATABASE "{META_DB}" TEMPLATE "{TEMPLATE_DB}"')
    _run([WITH_ENV, "python", SS_DIR / "fh_superset.py", "users"], env, 300, "users and roles")


@pytest.fixture(scope="session")
def superset(superset_env):
    """A running Superset with the dashboards imported: yields (base URL, env)."""
    tmp, env = superset_env
    results: dict[str, BaseException | Path] = {}

    def pipeline():
        try:
            results["serving"] = build_serving_copy(tmp)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            results["error"] = exc

    worker = threading.Thread(target=pipeline)
    worker.start()
    try:
        _superset_metadata(env)
    finally:
        worker.join()
    if "error" in results:
        raise results["error"]
    _run([WITH_ENV, "python", SS_DIR / "fh_superset.py", "import"], env, 300, "import")

    port = _free_port()
    log = open(tmp / "superset.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(WITH_ENV), "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4",
                             "--timeout", "120", "-b", f"127.0.0.1:{port}", "superset.app:create_app()"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Superset did not start; see {tmp / 'superset.log'}:\n"
                                   + (tmp / "superset.log").read_text()[-3000:])
            time.sleep(0.5)
        yield base, env
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        _admin(f'DROP DATABASE IF EXISTS "{META_DB}" WITH (FORCE)')


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/system-deps (as root) or apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


def login(browser, base: str, user: str, password: str):
    """A browser context signed in as `user`, checked through the API. Once in three full runs the viewer's
    first sign-in reached the welcome page's URL (the glob also matches /login/?next=…/welcome/) without a
    session, and every later page went to the login form; the cause is not found yet, so the sign-in is
    checked and made a second time, never more."""
    context = browser.new_context(viewport={"width": 1600, "height": 1300})
    page = context.new_page()
    for _attempt in range(2):
        page.goto(f"{base}/login/")
        page.fill("#username", user)
        page.fill("#password", password)
        page.keyboard.press("Enter")
        page.wait_for_url("**/superset/welcome/**", timeout=30_000)
        if page.request.get(f"{base}/api/v1/me/").ok:
            return context, page
    raise AssertionError(f"{user} could not sign in to Superset: no session after two attempts ({page.url})")

