"""The four dashboards in a real browser (chromium through Playwright), on a small simulated institution.

Admin: every dashboard opens, every chart finishes loading, none shows an error, each shows data; the
screenshots are kept under .finhouse/artifacts/screenshots/. Viewer: opens the dashboards, but cannot edit
them (no edit button, the API refuses a change) and cannot open SQL Lab.
"""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
from conftest import SS_DIR, WITH_ENV, login

DASHBOARDS = {"loan-portfolio": 10, "customers": 10, "fixed-deposits": 8, "financial-health": 11}

CHART_STATUS = """() => Array.from(document.querySelectorAll('[data-test="dashboard-component-chart-holder"]'))
  .map(h => {
    const title = ((h.querySelector('[data-test="editable-title"]') || {}).innerText || '').trim();
    const loading = !!h.querySelector('.loading, [data-test="loading-indicator"], [aria-label="Loading"]');
    const errEl = h.querySelector('[data-test="error-tooltip"], .alert-danger, .ant-alert-error, '
      + '[data-test="error-message"], [role="alert"]');
    const text = h.innerText || '';
    const error = errEl ? (errEl.innerText || 'error').slice(0, 300)
      : (/Unexpected error|No results were returned|Error:|Data error/.test(text) ? text.slice(0, 300) : '');
    const viz = !!h.querySelector('canvas, .chart-container svg, table tbody tr td, .header-line, .big-number');
    return {title, loading, error, viz, text: text.slice(0, 200)};
  })"""


def wait_for_charts(page, expected: int, seconds: float = 45):
    deadline = time.monotonic() + seconds
    status = []
    while time.monotonic() < deadline:
        status = page.evaluate(CHART_STATUS)
        if len(status) == expected and all(not s["loading"] and (s["viz"] or s["error"]) for s in status):
            page.wait_for_timeout(1500)  # ECharts draws lines with a ~1 s animation: let it finish
            return page.evaluate(CHART_STATUS)
        page.wait_for_timeout(250)
    raise AssertionError(f"charts still loading after {seconds} s: {json.dumps(status, indent=1)}")


@pytest.fixture(scope="module")
def admin_page(superset, browser):
    base, env = superset
    context, page = login(browser, base, env["FINHOUSE_ADMIN_USER"], env["FINHOUSE_ADMIN_PASSWORD"])
    yield base, page
    context.close()


@pytest.fixture(scope="module")
def viewer_page(superset, browser):
    base, env = superset
    context, page = login(browser, base, "viewer", env["SUPERSET_VIEWER_PASSWORD"])
    yield base, page
    context.close()


@pytest.mark.parametrize("slug", DASHBOARDS)
def test_dashboard_renders_every_chart_with_data(admin_page, artifacts, slug):
    base, page = admin_page
    started = time.monotonic()
    page.goto(f"{base}/superset/dashboard/{slug}/")
    status = wait_for_charts(page, DASHBOARDS[slug])
    seconds = time.monotonic() - started
    page.screenshot(path=str(artifacts / f"{slug}.png"), full_page=True)
    errors = [s for s in status if s["error"]]
    assert not errors, f"{slug}: charts with errors: {json.dumps(errors, indent=1)}"
    empty = [s["title"] for s in status if not s["viz"]]
    assert not empty, f"{slug}: charts without data: {empty}"
    filters = page.locator('[data-test="filter-control-name"]').all_inner_texts()
    assert "Period" in filters, filters
    print(f"{slug}: {len(status)} charts rendered in {seconds:.1f} s")


def test_viewer_opens_dashboards_but_cannot_edit(viewer_page, artifacts):
    base, page = viewer_page
    page.goto(f"{base}/superset/dashboard/loan-portfolio/")
    status = wait_for_charts(page, DASHBOARDS["loan-portfolio"])
    page.screenshot(path=str(artifacts / "viewer-loan-portfolio.png"), full_page=True)
    assert not [s for s in status if s["error"]] and all(s["viz"] for s in status)
    assert page.locator('[data-test="edit-dashboard-button"]').count() == 0

    csrf = page.request.get(f"{base}/api/v1/security/csrf_token/")
    assert csrf.ok
    headers = {"X-CSRFToken": csrf.json()["result"]}
    dash = page.request.get(f"{base}/api/v1/dashboard/loan-portfolio")
    assert dash.ok, dash.text()
    dash_id = dash.json()["result"]["id"]
    change = page.request.put(f"{base}/api/v1/dashboard/{dash_id}", data={"dashboard_title": "hacked"},
                              headers=headers)
    assert change.status in (401, 403), f"viewer changed a dashboard: {change.status} {change.text()[:300]}"
    charts = page.request.get(f"{base}/api/v1/chart/?q=(page_size:1)")
    assert charts.ok
    chart_id = charts.json()["ids"][0]
    change = page.request.put(f"{base}/api/v1/chart/{chart_id}", data={"slice_name": "hacked"},
                              headers=headers)
    assert change.status in (401, 403), f"viewer changed a chart: {change.status}"


def test_viewer_cannot_open_sql_lab(viewer_page):
    base, page = viewer_page
    response = page.goto(f"{base}/sqllab/")
    assert response is not None and response.status == 403, (response and response.status, page.url)
    csrf = page.request.get(f"{base}/api/v1/security/csrf_token/")
    assert csrf.ok
    run = page.request.post(f"{base}/api/v1/sqllab/execute/",
                            data={"database_id": 1, "sql": "SELECT 1", "client_id": f"t{time.time_ns() % 10**8}"},
                            headers={"X-CSRFToken": csrf.json()["result"]})
    assert run.status == 403, f"viewer ran SQL: {run.status} {run.text()[:300]}"


def test_export_gives_the_repository_yaml_back(superset):
    _, env = superset
    proc = subprocess.run([str(WITH_ENV), "python", str(SS_DIR / "fh_superset.py"), "export-check"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_import_is_idempotent(superset):
    _, env = superset
    proc = subprocess.run([str(WITH_ENV), "python", str(SS_DIR / "fh_superset.py"), "import"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    proc = subprocess.run([str(WITH_ENV), "python", str(SS_DIR / "fh_superset.py"), "export-check"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]


def _sql_lab(page, base: str, sql: str):
    csrf = page.request.get(f"{base}/api/v1/security/csrf_token/")
    assert csrf.ok
    databases = page.request.get(f"{base}/api/v1/database/").json()["result"]
    (db_id,) = [d["id"] for d in databases if d["database_name"] == "finhouse warehouse"]
    return page.request.post(f"{base}/api/v1/sqllab/execute/",
                             data={"database_id": db_id, "sql": sql, "client_id": f"t{time.time_ns() % 10**8}",
                                   "runAsync": False, "schema": "marts"},
                             headers={"X-CSRFToken": csrf.json()["result"]})


def test_sql_lab_reads_the_marts_but_no_host_file_and_attaches_nothing(admin_page):
    """Even the admin's SQL Lab, on the warehouse connection, reaches nothing past the serving copy: DuckDB
    runs with enable_external_access off and its configuration locked (superset_config.DUCKDB_SANDBOX)."""
    base, page = admin_page
    ok = _sql_lab(page, base, "SELECT count(*) AS n FROM marts.dim_customers")
    assert ok.ok, ok.text()[:500]
    assert ok.json()["data"][0]["n"] > 0
    for sql in ("SELECT * FROM read_csv('/etc/passwd')",
                "SELECT * FROM read_text('/etc/hostname')",
                "ATTACH '/tmp/finhouse-sandbox-test.duckdb' AS other",
                "SET enable_external_access = true"):
        run = _sql_lab(page, base, sql)
        assert not run.ok, f"{sql}: ran through SQL Lab: {run.text()[:300]}"
        # refused by DuckDB itself, or (ATTACH, SET) already by Superset as not a SELECT
        assert re.search(r"disabled by configuration|configuration has been locked|Only SELECT|not allowed",
                         run.text()), f"{sql}: {run.status} {run.text()[:500]}"


def test_every_duckdb_connection_superset_opens_is_sandboxed(superset):
    """Below SQL Lab's own checks: an engine from Superset's `finhouse warehouse` database, and one from a
    DuckDB URI without any option (what an admin could add in the UI), both refuse to read a host file,
    attach a database or unlock their configuration."""
    _, env = superset
    script = """
import sys
from superset.app import create_app
app = create_app()
with app.app_context():
    from superset import db
    from superset.models.core import Database
    warehouse = db.session.query(Database).filter_by(database_name="finhouse warehouse").one()
    bare = Database(database_name="bare", sqlalchemy_uri="duckdb:///:memory:")
    for database in (warehouse, bare):
        with database.get_sqla_engine() as engine:
            conn = engine.raw_connection()
            for sql in ("SELECT * FROM read_csv('/etc/passwd')", "ATTACH '/tmp/finhouse-sandbox-test.duckdb' AS x",
                        "SET enable_external_access = true", "INSTALL httpfs"):
                try:
                    conn.cursor().execute(sql)
                    print("RAN", database.database_name, sql)
                except Exception as exc:
                    print("REFUSED", database.database_name, sql, "|", str(exc).splitlines()[0])
            conn.close()
"""
    proc = subprocess.run([str(WITH_ENV), "python", "-c", script], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith(("RAN", "REFUSED"))]
    assert len(lines) == 8 and not [line for line in lines if line.startswith("RAN")], proc.stdout[-3000:]
    assert all("disabled" in line or "locked" in line for line in lines), lines
