"""`finhouse demo` (what `make demo` runs): bring the whole platform up on this machine.

Steps, each delegated to the part that owns it: migrate the core banking database; simulate an
institution when the database is empty (or --reset); create the platform's admin; run the six ingestion
DAGs through Airflow (fhload loads the warehouse's RAW layer), then the transform DAG (dbt builds the
marts, every test gating, and the serving copy dashboards read is published); generate the dbt docs;
import the dashboards; unpause the DAGs so that ingestion goes on on its schedules and the transform on
the raw tables' Assets; then serve Django (admin and API), Airflow (UI, scheduler, DAG processor,
triggerer), Superset and the dbt docs until Ctrl-C, printing their URLs and the login.

The admin's password comes from FINHOUSE_ADMIN_PASSWORD; when that is unset, one is generated on the
first run, printed once, and kept in .finhouse/admin-password (mode 600) so later runs log in the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from finhouse import config as fh_config
from finhouse import superset as fh_superset


def _step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def admin_password(cfg: fh_config.Config) -> tuple[str, bool]:
    """The admin's password, and whether it was generated just now (then it is shown once)."""
    if cfg.admin_password:
        return cfg.admin_password, False
    path = cfg.home / "admin-password"
    if path.exists():
        return path.read_text().strip(), False
    password = secrets.token_urlsafe(12)
    cfg.home.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password, True


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    code = subprocess.call(cmd, env=env, cwd=cwd)
    if code != 0:
        raise SystemExit(f"finhouse demo: `{' '.join(cmd)}` failed (exit {code}); see its message above")


def _database_has_customers(cfg: fh_config.Config) -> bool:
    import psycopg

    with psycopg.connect(cfg.oltp_url, connect_timeout=5) as conn:
        return conn.execute("SELECT EXISTS (SELECT 1 FROM customers)").fetchone()[0]


def _wait_http(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError as exc:  # HTTPError (a 4xx from a login wall) still means it is up
            if getattr(exc, "code", None):
                return True
            time.sleep(1)
    return False


def run(cfg: fh_config.Config, args: argparse.Namespace) -> int:
    python = sys.executable
    manage = [python, str(cfg.manage_py)]
    with_airflow = [str(cfg.root / "airflow" / "bin" / "with-env")]
    dbt_project = cfg.root / "dbt" / "finhouse"
    password, generated = admin_password(cfg)
    env = dict(os.environ, FINHOUSE_OLTP_URL=cfg.oltp_url, FINHOUSE_ADMIN_PASSWORD=password,
               DJANGO_SETTINGS_MODULE="config.settings")
    root = cfg.root

    _step("migrating the core banking database")
    _run([*manage, "migrate", "--no-input", "-v", "0"], env, root)

    if _database_has_customers(cfg) and not args.reset:
        _step("the database already holds an institution; keeping it (finhouse demo --reset simulates anew)")
    else:
        _step(f"simulating {cfg.demo_customers} customers over {cfg.demo_years} years (seed {cfg.demo_seed})")
        _run([*manage, "simulate", "--customers", str(cfg.demo_customers), "--years", str(cfg.demo_years),
              "--seed", str(cfg.demo_seed), "--reset"], env, root)
        # A new institution gets a new warehouse: raw is append-only, it must not mix two histories.
        warehouse = Path(env.get("FINHOUSE_DUCKDB_PATH", cfg.home / "warehouse" / "finhouse.duckdb"))
        for stale in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
            stale.unlink(missing_ok=True)

    _step("creating the platform's admin")
    _run([*manage, "ensure_admin"], env, root)

    dbt = [str(Path(python).with_name("dbt"))]
    dbt_flags = ["--project-dir", str(dbt_project), "--profiles-dir", str(dbt_project), "--quiet"]
    # The transform DAG is rendered from dbt's manifest: write it for the project as it is now.
    _run([*dbt, "parse", *dbt_flags], env, root)

    _step("through Airflow: the six ingestion DAGs (fhload → RAW), then the transform DAG (dbt build: "
          "staging → intermediate → marts, every test; then the serving copy)")
    run_dags = str(root / "airflow" / "bin" / "run-dags")
    _run([*with_airflow, "python", run_dags, "ingest", "transform"], env, root)
    _run([*dbt, "docs", "generate", *dbt_flags], env, root)

    _step("importing the dashboards into Superset")
    _run(fh_superset.import_command(root), env, root)

    # The DAGs are created paused; in the demo they run from now on: ingestion on its schedules, the
    # transform whenever it has loaded a raw table.
    subprocess.call([*with_airflow, "airflow", "dags", "unpause", "--treat-dag-id-as-regex", "-y",
                     "-o", "plain", "^(ingest_oltp_|transform_raw_to_marts$)"], env=env, cwd=root,
                    stdout=subprocess.DEVNULL)

    if args.no_serve:
        _print_summary(cfg, password, generated, serving=False)
        return 0
    return _serve(cfg, env, password, generated, with_airflow)


def _serve(cfg: fh_config.Config, env: dict[str, str], password: str, generated: bool,
           with_airflow: list[str]) -> int:
    airflow_home = Path(env.get("AIRFLOW_HOME", cfg.home / "airflow"))
    airflow_home.mkdir(parents=True, exist_ok=True)
    # Airflow's simple auth manager: the same admin and password as Django's.
    (airflow_home / "simple_auth_manager_passwords.json.generated").write_text(
        json.dumps({cfg.admin_user: password}))
    airflow_env = dict(env, AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{cfg.admin_user}:admin",
                       AIRFLOW__API__BASE_URL=f"http://{cfg.web_host}:{cfg.airflow_port}")
    logs = cfg.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    dbt = cfg.root / "dbt" / "finhouse"
    services = {
        "django": ([sys.executable, str(cfg.manage_py), "runserver", "--noreload",
                    f"{cfg.web_host}:{cfg.web_port}"], env),
        "airflow-api-server": ([*with_airflow, "airflow", "api-server", "--host", cfg.web_host,
                                "--port", str(cfg.airflow_port)], airflow_env),
        "airflow-scheduler": ([*with_airflow, "airflow", "scheduler"], airflow_env),
        "airflow-dag-processor": ([*with_airflow, "airflow", "dag-processor"], airflow_env),
        # The transform DAG's per-node tasks are deferrable sensors (cosmos' default in watcher mode).
        # They start once the dbt build is over and most find their node's result at once; one that has
        # to wait (a node the build did not report) defers to the triggerer, holding no worker slot.
        # Without a triggerer it would wait until its timeout; polling sensors would each hold a slot.
        "airflow-triggerer": ([*with_airflow, "airflow", "triggerer"], airflow_env),
        "superset": (fh_superset.serve_command(cfg.root, cfg.web_host, cfg.superset_port), env),
        "dbt-docs": ([str(Path(sys.executable).with_name("dbt")), "docs", "serve", "--project-dir", str(dbt),
                      "--profiles-dir", str(dbt), "--host", cfg.web_host, "--port", str(cfg.dbt_docs_port),
                      "--no-browser"], env),
    }
    procs: dict[str, subprocess.Popen] = {}
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the demo as cleanly as Ctrl-C
    _step("starting the servers (logs in .finhouse/logs/)")
    try:
        for name, (cmd, service_env) in services.items():
            log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
            procs[name] = subprocess.Popen(cmd, env=service_env, cwd=cfg.root, stdout=log, stderr=log,
                                           start_new_session=True)
        django_url = f"http://{cfg.web_host}:{cfg.web_port}"
        airflow_url = f"http://{cfg.web_host}:{cfg.airflow_port}"
        for name, url in (("django", f"{django_url}/admin/login/"),
                          ("airflow-api-server", f"{airflow_url}/api/v2/monitor/health"),
                          ("superset", fh_superset.health_url(cfg.web_host, cfg.superset_port)),
                          ("dbt-docs", f"http://{cfg.web_host}:{cfg.dbt_docs_port}/")):
            if not _wait_http(url, 120):
                raise SystemExit(f"finhouse demo: {name} did not answer at {url}; "
                                 f"see .finhouse/logs/{name}.log")
        _print_summary(cfg, password, generated, serving=True)
        while all(p.poll() is None for p in procs.values()):
            time.sleep(1)
        dead = [n for n, p in procs.items() if p.poll() is not None]
        print(f"finhouse demo: {', '.join(dead)} stopped; see .finhouse/logs/ — stopping the rest",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nfinhouse demo: stopping", flush=True)
        return 0
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _print_summary(cfg: fh_config.Config, password: str, generated: bool, *, serving: bool) -> None:
    host = cfg.web_host
    shown = password if generated else "(see .finhouse/admin-password)" if not cfg.admin_password \
        else "(FINHOUSE_ADMIN_PASSWORD)"
    print(
        "\nfinhouse is up:\n" if serving else "\nfinhouse is ready (not serving: --no-serve):\n",
        f"  core banking admin   http://{host}:{cfg.web_port}/admin/\n"
        f"  REST API             http://{host}:{cfg.web_port}/api/   (OpenAPI docs: /api/docs/)\n"
        f"  Airflow              http://{host}:{cfg.airflow_port}/\n"
        f"  Superset dashboards  http://{host}:{cfg.superset_port}/dashboard/list/\n"
        f"  dbt docs             http://{host}:{cfg.dbt_docs_port}/\n"
        f"  login                {cfg.admin_user} / {shown}\n"
        f"  read-only dashboards viewer / (see .finhouse/superset-viewer-password)\n"
        + ("  (generated now, shown only this once, kept in .finhouse/admin-password)\n" if generated else "")
        + ("  Ctrl-C stops everything.\n" if serving else ""),
        sep="", flush=True,
    )
