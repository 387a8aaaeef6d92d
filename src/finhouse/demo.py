"""`finhouse demo` (what `make demo` runs): bring the whole platform up on this machine.

Steps, each delegated to the part that owns it: migrate the core banking database; simulate an
institution when the database is new (or --reset, on one the simulator made); create the platform's
admin; run the six ingestion DAGs through Airflow (fhload loads the warehouse's RAW layer), then the
transform DAG (dbt builds the marts, every test gating, and the serving copy dashboards read is
published); generate the dbt docs; import the dashboards; unpause the DAGs so that ingestion goes on on
its schedules and the transform on the raw tables' Assets; then serve Django (admin and API), Airflow
(UI, scheduler, DAG processor, triggerer), Superset and the dbt docs until Ctrl-C, printing their URLs
and the login.

The demo replaces only a database it may: a new one (no rows but those the migrations seed), or one
carrying the simulator's mark (the table simulated_institution, written in the transaction of the history
it describes: see corebanking/simulator/models.py). A database holding anything else is someone's books: the
demo shows it as it is when it holds customers, and otherwise refuses in one line before touching it (not
even migrating it); `--reset` on it is refused the same way. The simulator itself checks again, under
lock, that it replaces only an institution it wrote before it truncates anything.

The admin's password comes from FINHOUSE_ADMIN_PASSWORD; when that is unset, one is generated on the
first run, printed once, and kept in .finhouse/admin-password (mode 600) so later runs log in the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from finhouse import config as fh_config
from finhouse import orchestration
from finhouse.serve import superset as fh_superset


def _step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


admin_password = fh_config.admin_password


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    code = subprocess.call(cmd, env=env, cwd=cwd)
    if code != 0:
        raise SystemExit(f"finhouse demo: `{' '.join(cmd)}` failed (exit {code}); see its message above")


MARK = "simulated_institution"  # the simulator's mark (corebanking/simulator/models.py)
# Tables whose rows the migrations themselves write (Django's bookkeeping, the staff roles, the chart of
# accounts and transaction types): a database holding rows only there is new.
SEEDED = frozenset({"django_migrations", "django_content_type", "auth_permission", "auth_group",
                    "auth_group_permissions", "gl_accounts", "transaction_types", MARK})


@dataclass(frozen=True)
class Database:
    """What the core banking database holds, as far as replacing it goes."""

    name: str
    holding: tuple[str, ...]  # tables with rows, but for what the migrations seed
    simulated: bool  # carries the simulator's mark

    @property
    def new(self) -> bool:
        return not self.holding

    @property
    def has_customers(self) -> bool:
        return "customers" in self.holding


def inspect_database(url: str) -> Database:
    """Read, and only read, what the database at `url` holds (migrated or not)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 2, 1").fetchall()
        holding, simulated = [], False
        for schema, table in tables:
            has_rows = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
                sql.Identifier(schema, table))).fetchone()[0]
            if has_rows and table == MARK and schema == "public":
                simulated = True
            elif has_rows and not (table in SEEDED and schema == "public"):
                holding.append(table if schema == "public" else f"{schema}.{table}")
        return Database(conn.info.dbname, tuple(holding), simulated)


def plan(db: Database, reset: bool) -> str:
    """What the demo does with the database: "keep" it, "simulate" into it (a new one) or "resimulate"
    (replace the institution the simulator wrote). Refuses — SystemExit, one line — a database holding
    data the simulator did not write, when asked to reset it or when it has no customers to show."""
    if db.simulated:
        return "resimulate" if reset or not db.has_customers else "keep"
    if db.new:
        return "simulate"
    what = ", ".join(db.holding[:5]) + (f" and {len(db.holding) - 5} more" if len(db.holding) > 5 else "")
    fix = "point FINHOUSE_OLTP_URL at a new database (make demo creates it)"
    if reset:
        raise SystemExit(f"finhouse demo: refusing to reset the database {db.name}: it holds data finhouse "
                         f"did not simulate (rows in {what}); {fix}")
    if not db.has_customers:
        raise SystemExit(f"finhouse demo: the database {db.name} holds data finhouse did not simulate (rows "
                         f"in {what}) and no customers; refusing to simulate over it — {fix}")
    return "keep"


def prepare_database(cfg: fh_config.Config, env: dict[str, str], reset: bool) -> str:
    """Check, then migrate the core banking database and simulate the demo institution into it when it may
    (then the warehouse of the previous institution goes too). Returns the plan it followed."""
    db = inspect_database(cfg.oltp_url)
    action = plan(db, reset)  # before anything is touched
    manage = [sys.executable, str(cfg.manage_py)]
    _step("migrating the core banking database")
    _run([*manage, "migrate", "--no-input", "-v", "0"], env, cfg.root)
    if action == "keep":
        _step("the database already holds the demo institution; keeping it (finhouse demo --reset simulates "
              "anew)" if db.simulated else "the database holds an institution finhouse did not simulate; "
              "showing it as it is (it is never reset)")
        return action
    _step(f"simulating {cfg.demo_customers} customers over {cfg.demo_years} years (seed {cfg.demo_seed})")
    # --reset only where the simulator's own mark is: on a new database the simulator checks again that
    # it holds nothing.
    _run([*manage, "simulate", "--customers", str(cfg.demo_customers), "--years", str(cfg.demo_years),
          "--seed", str(cfg.demo_seed), *(["--reset"] if action == "resimulate" else [])], env, cfg.root)
    # A new institution gets a new warehouse: raw is append-only, it must not mix two histories.
    warehouse = fh_config.warehouse_path(env)
    for stale in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        stale.unlink(missing_ok=True)
    return action


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
    with_airflow = [str(cfg.root / "orchestrate" / "bin" / "with-env")]
    dbt_project = cfg.root / "transform" / "finhouse"
    # Every part is given every setting, defaults filled in (fh_config.environ): none needs its own.
    env = dict(fh_config.environ(), FINHOUSE_OLTP_URL=cfg.oltp_url, DJANGO_SETTINGS_MODULE="config.settings")
    root = cfg.root

    prepare_database(cfg, env, args.reset)
    # The warehouse holds the customers' data, and so do the WAL and spill files its writers create
    # beside it with their own modes: its directory is this user's only.
    fh_config.private_dir(fh_config.warehouse_path(env).parent, cfg.home)

    password, generated = admin_password(cfg)
    env["FINHOUSE_ADMIN_PASSWORD"] = password
    _step("creating the platform's admin")
    _run([*manage, "ensure_admin"], env, root)

    dbt = [str(Path(python).with_name("dbt"))]
    dbt_flags = ["--project-dir", str(dbt_project), "--profiles-dir", str(dbt_project), "--quiet"]
    # The transform DAG is rendered from dbt's manifest: write it for the project as it is now.
    _run([*dbt, "parse", *dbt_flags], env, root)

    _step("through Airflow: the six ingestion DAGs (fhload → RAW), then the transform DAG (dbt build: "
          "staging → intermediate → marts, every test; then the serving copy)")
    run_dags = str(root / "orchestrate" / "bin" / "run-dags")
    _run([*with_airflow, "python", run_dags, "ingest", "transform"], env, root)
    _run([*dbt, "docs", "generate", *dbt_flags], env, root)

    _step("importing the dashboards into Superset")
    _run(fh_superset.import_command(root), env, root)

    # The DAGs are created paused; in the demo they run from now on: ingestion on its schedules, the
    # transform whenever it has loaded a raw table.
    ours = f"^({orchestration.INGEST_DAG_PREFIX}|{orchestration.TRANSFORM_DAG_ID}$)"
    subprocess.call([*with_airflow, "airflow", "dags", "unpause", "--treat-dag-id-as-regex", "-y",
                     "-o", "plain", ours], env=env, cwd=root, stdout=subprocess.DEVNULL)

    if args.no_serve:
        _print_summary(cfg, password, generated, serving=False)
        return 0
    return _serve(cfg, env, password, generated, with_airflow)


def _serve(cfg: fh_config.Config, env: dict[str, str], password: str, generated: bool,
           with_airflow: list[str]) -> int:
    airflow_home = Path(env.get("AIRFLOW_HOME", cfg.home / "airflow"))
    write_airflow_passwords(airflow_home, cfg.home, {cfg.admin_user: password})
    airflow_env = dict(env, AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{cfg.admin_user}:admin",
                       AIRFLOW__API__BASE_URL=f"http://{cfg.web_host}:{cfg.airflow_port}")
    logs = fh_config.private_dir(cfg.home / "logs", cfg.home)
    dbt = cfg.root / "transform" / "finhouse"
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
            log = open_log(logs / f"{name}.log")
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


def write_airflow_passwords(airflow_home: Path, home: Path, passwords: dict[str, str]) -> Path:
    """Airflow's simple auth manager reads its users' passwords from this file: the same admin and password
    as Django's. Mode 600, in AIRFLOW_HOME made 700 (it also holds airflow.cfg and its generated keys)."""
    fh_config.private_dir(airflow_home, home)
    path = airflow_home / "simple_auth_manager_passwords.json.generated"
    fh_config.write_private(path, json.dumps(passwords))
    return path


def open_log(path: Path) -> BinaryIO:
    """A server's log, appended to, mode 600: request lines carry what staff searched for (names, ID
    numbers). A log an earlier version left readable by others is narrowed."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")  # lives as long as the process


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
