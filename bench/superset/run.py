"""Superset latency: every chart's query latency (p50 / p95) and each dashboard's full render time in
chromium.

Runs against a Superset that is already serving the dashboards (`make superset-serve`, or the demo), ideally
started with SUPERSET_DATA_CACHE=none so that every load runs its queries. Each dashboard is loaded --runs
times in a fresh page; the chart-data requests the page makes (POST /api/v1/chart/data) are timed from
request to response end, and the render time is from navigation to the last chart drawn. Then each chart's
request is replayed --alone times one at a time: the query's own latency, without the queue that a load of
8–11 charts at once makes on the server.

    SUPERSET_DATA_CACHE=none make superset-serve &           # or any running instance
    serve/bin/with-env python bench/superset/run.py --url http://127.0.0.1:8088 --runs 5 [--write]

--write records the figures in bench/superset/README.md (between the RESULTS markers).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "serve" / "tests"))

from test_dashboards_browser import CHART_STATUS, DASHBOARDS  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def measure(url: str, user: str, password: str, runs: int, alone: int):
    """Dashboard loads as a user makes them (every chart's requests at once), then each chart's request
    replayed `alone` times one at a time: the query's own latency, without the queue a load makes."""
    from playwright.sync_api import sync_playwright

    per_chart: dict[tuple[str, str], list[float]] = {}
    one_at_a_time: dict[tuple[str, str], list[float]] = {}
    renders: dict[str, list[float]] = {slug: [] for slug in DASHBOARDS}
    requests: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1300})
        page = context.new_page()
        page.goto(f"{url}/login/")
        page.fill("#username", user)
        page.fill("#password", password)
        page.keyboard.press("Enter")
        page.wait_for_url("**/superset/welcome/**", timeout=30_000)
        for slug, expected in DASHBOARDS.items():
            for run in range(runs + 1):  # the first load warms the page's assets and is not counted
                started_at: dict[object, float] = {}
                timings: list[tuple[str, float]] = []

                def on_request(req, started_at=started_at):
                    if "/api/v1/chart/data" in req.url:
                        started_at[req] = time.monotonic()

                def on_finished(req, started_at=started_at, timings=timings, slug=slug):
                    if req in started_at:
                        body = req.post_data_json or {}
                        form = body.get("form_data") or {}
                        chart = str(form.get("slice_id", "?"))
                        timings.append((chart, time.monotonic() - started_at[req]))
                        requests[(slug, chart)] = (req.post_data or "", dict(req.headers))

                page.on("request", on_request)
                page.on("requestfinished", on_finished)
                t0 = time.monotonic()
                page.goto(f"{url}/superset/dashboard/{slug}/")
                deadline = t0 + 120
                while time.monotonic() < deadline:
                    status = page.evaluate(CHART_STATUS)
                    if len(status) == expected and all(not s["loading"] and (s["viz"] or s["error"])
                                                       for s in status):
                        break
                    page.wait_for_timeout(50)
                elapsed = time.monotonic() - t0
                page.remove_listener("request", on_request)
                page.remove_listener("requestfinished", on_finished)
                if run == 0:
                    continue
                renders[slug].append(elapsed)
                for chart, seconds in timings:
                    per_chart.setdefault((slug, chart), []).append(seconds)
                page.goto("about:blank")
        for (slug, chart), (body, headers) in requests.items():
            keep = {k: v for k, v in headers.items() if k.lower() in ("content-type", "x-csrftoken")}
            for _ in range(alone):
                t0 = time.monotonic()
                response = page.request.post(f"{url}/api/v1/chart/data", data=body, headers=keep)
                elapsed = time.monotonic() - t0
                if not response.ok:
                    raise SystemExit(f"bench-superset: {slug} chart {chart} replayed: HTTP {response.status}")
                one_at_a_time.setdefault((slug, chart), []).append(elapsed)
        browser.close()
    return per_chart, renders, one_at_a_time


def report(per_chart, renders, one_at_a_time, runs: int, alone: int, institution: str,
           load_before: float, cache: str) -> str:
    all_ms = [s * 1000 for v in per_chart.values() for s in v]
    lines = [f"Measured {dt.date.today().isoformat()} on {institution}; {runs} loads of each dashboard "
             f"after a warm-up load, chart-data cache {cache}, "
             "gunicorn 2 workers × 4 threads, "
             f"headless chromium 1600×1300 on the same machine ({os.cpu_count()} CPUs, load average "
             f"{load_before:.1f} before → {os.getloadavg()[0]:.1f} after).", "",
             "| dashboard | charts | chart query p50 (ms) | chart query p95 (ms) | slowest chart p95 (ms) | "
             "full render p50 (s) | full render max (s) |", "|---|---|---|---|---|---|---|"]
    for slug in renders:
        ms = [s * 1000 for (d, _), v in per_chart.items() if d == slug for s in v]
        worst = max((pct([s * 1000 for s in v], 0.95) for (d, _), v in per_chart.items() if d == slug),
                    default=float("nan"))
        r = renders[slug]
        lines.append(f"| {slug} | {DASHBOARDS[slug]} | {pct(ms, .5):.0f} | {pct(ms, .95):.0f} | "
                     f"{worst:.0f} | {statistics.median(r):.2f} | {max(r):.2f} |")
    lines += ["", f"All chart queries: p50 {pct(all_ms, .5):.0f} ms, p95 {pct(all_ms, .95):.0f} ms "
              f"({len(all_ms)} requests). Targets: p95 < 500 ms, render < 5 s."]
    if one_at_a_time:
        alone_ms = [s * 1000 for v in one_at_a_time.values() for s in v]
        slowest = max(one_at_a_time.items(), key=lambda kv: statistics.median(kv[1]))
        lines += ["", f"Each chart's request replayed {alone} times **one at a time** (no other request "
                  f"running): p50 {pct(alone_ms, .5):.0f} ms, p95 {pct(alone_ms, .95):.0f} ms, "
                  f"max {max(alone_ms):.0f} ms ({len(alone_ms)} requests); slowest chart: "
                  f"{slowest[0][0]} #{slowest[0][1]}, median {statistics.median(slowest[1]) * 1000:.0f} ms."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("SUPERSET_URL", "http://127.0.0.1:8088"))
    parser.add_argument("--user", default=os.environ.get("FINHOUSE_ADMIN_USER"))
    parser.add_argument("--password", default=os.environ.get("FINHOUSE_ADMIN_PASSWORD"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--alone", type=int, default=3,
                        help="then replay each chart's request this many times, one at a time (0: skip)")
    parser.add_argument("--cache", default="off (SUPERSET_DATA_CACHE=none)",
                        help="how the instance caches chart data, for the report")
    parser.add_argument("--institution", default="the demo institution (2,000 customers, 3 years, seed 42)")
    parser.add_argument("--write", action="store_true", help="record the figures in bench/superset/README.md")
    args = parser.parse_args()
    password = args.password or (ROOT / ".finhouse" / "admin-password").read_text().strip()
    load_before = os.getloadavg()[0]
    per_chart, renders, one_at_a_time = measure(args.url, args.user, password, args.runs, args.alone)
    text = report(per_chart, renders, one_at_a_time, args.runs, args.alone, args.institution, load_before,
                  args.cache)
    print(text)
    if args.write:
        readme = HERE / "README.md"
        doc = readme.read_text()
        start, end = "<!-- RESULTS -->", "<!-- /RESULTS -->"
        head, rest = doc.split(start, 1)
        readme.write_text(f"{head}{start}\n{text}\n{end}{rest.split(end, 1)[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
