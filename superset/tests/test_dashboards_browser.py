"""The four dashboards in a real browser (chromium through Playwright), on a small simulated institution.

Admin: every dashboard opens, every chart finishes loading, none shows an error, each shows data; the
screenshots are kept under .finhouse/artifacts/screenshots/. Viewer: opens the dashboards, but cannot edit
them (no edit button, the API refuses a change) and cannot open SQL Lab.
"""

from __future__ import annotations

import json
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
