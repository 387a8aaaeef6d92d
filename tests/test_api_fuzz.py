"""The API fuzz run (issue 16, item 8): schemathesis generates requests from the OpenAPI schema — valid and
invalid bodies, query strings and path ids — against the real server, as an admin (a superuser: every
operation) and as a teller (one branch, few permissions), and checks that no response is a server error
and that every response matches the schema for its status. Zero failures of either, for both roles.

On the real PostgreSQL: a throwaway database (named after FINHOUSE_TEST_DB and this process's id, dropped
at the end) is migrated and filled by the simulator with a small institution; Django serves it for real
(`manage.py runserver`, DEBUG on so a 500 leaves its traceback in the server log, throttling raised so the
fuzzer is not answered 429 all along); each role signs in at POST /api/auth/token/ like a client.

Bounded: the fuzzing phase only (the examples, coverage and stateful phases take minutes more),
FINHOUSE_FUZZ_EXAMPLES cases per operation (default 8), two workers, a hard timeout per role. The counts
are printed; with FINHOUSE_API_FUZZ_DOC=1 (`make api-fuzz`) they are written into docs/api-fuzz.md."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from finhouse.config import ROOT

pytestmark = pytest.mark.slow

PG_ADMIN = os.environ.get("FINHOUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
DB_NAME = f"{os.environ.get('FINHOUSE_TEST_DB') or 'test_finhouse'}_fuzz_{os.getpid()}"
VENV_BIN = Path(sys.executable).parent
SCHEMATHESIS = VENV_BIN / "schemathesis"

EXAMPLES = int(os.environ.get("FINHOUSE_FUZZ_EXAMPLES", "8"))
SEED = int(os.environ.get("FINHOUSE_FUZZ_SEED", "20261124"))  # fixed: a failure reproduces with the seed
WORKERS = 2
ROLE_TIMEOUT_S = 150  # a hard bound per role; a run of 8 examples takes ~40 s on 2 CPUs
CHECKS = "not_a_server_error,response_schema_conformance"
# DELETE /api/auth/token/ revokes the very token the run authenticates with: every request after it would
# be a 401, so the rest of the run would test nothing. It is covered by api/tests/test_auth.py.
EXCLUDED_OPERATION_IDS = ["auth_token_destroy"]
DOC = ROOT / "docs" / "api-fuzz.md"

PASSWORDS = {"fuzz_admin": "Fuzz-admin-2025-pw", "fuzz_teller": "Fuzz-teller-2025-pw"}
USERS = f"""
from django.contrib.auth import get_user_model
from customers.models import Branch
from customers.services import staff_create
get_user_model().objects.create_superuser("fuzz_admin", "fuzz@example.org", {PASSWORDS['fuzz_admin']!r})
branch = Branch.objects.order_by("pk").first()
staff_create(username="fuzz_teller", first_name="Tess", last_name="Teller", role="teller", branch=branch,
             password={PASSWORDS['fuzz_teller']!r})
"""


def _admin(sql: str) -> None:
    with psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    _admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{DB_NAME}"')
    try:
        yield f"{PG_ADMIN}/{DB_NAME}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def _env(url: str, home: Path) -> dict[str, str]:
    return dict(os.environ, FINHOUSE_OLTP_URL=url, DJANGO_SETTINGS_MODULE="config.settings",
                FINHOUSE_HOME=str(home), DJANGO_DEBUG="true",
                FINHOUSE_API_THROTTLE_USER="1000000/minute", FINHOUSE_API_THROTTLE_ANON="1000000/minute",
                FINHOUSE_API_THROTTLE_AUTH="1000/minute", PYTHONUNBUFFERED="1")


def _manage(env: dict[str, str], *args: str) -> None:
    proc = subprocess.run([sys.executable, "corebanking/manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"manage.py {args[0]} failed: {proc.stderr[-2000:]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    log: Path

    def log_size(self) -> int:
        return self.log.stat().st_size

    def statuses(self, since: int) -> Counter[str]:
        """Responses by status class (2xx, 4xx, 5xx) in runserver's request log since byte `since`."""
        with self.log.open("rb") as f:
            f.seek(since)
            text = f.read().decode("utf-8", "replace")
        return Counter(f"{m[0]}xx" for m in re.findall(r'" (\d)\d\d \d+\s*$', text, flags=re.M))

    def tracebacks(self, since: int) -> list[str]:
        with self.log.open("rb") as f:
            f.seek(since)
            text = f.read().decode("utf-8", "replace")
        return re.findall(r"^\S+(?:Error|Exception): .*$", text, flags=re.M)


@pytest.fixture(scope="module")
def server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A small simulated institution, an admin and a teller, served on a free port."""
    tmp = tmp_path_factory.mktemp("fuzz")
    env = _env(database, tmp / "home")
    _manage(env, "migrate", "--no-input", "-v", "0")
    _manage(env, "simulate", "--customers", "60", "--years", "1", "--seed", "7", "--workers", "1")
    _manage(env, "shell", "-c", USERS)
    port = _free_port()
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "corebanking/manage.py", "runserver", "--noreload",
                                 f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert proc.poll() is None, f"runserver exited: {log.read_text()[-2000:]}"
                assert time.monotonic() < deadline, "runserver did not start in 60 s"
                time.sleep(0.3)
        yield Server(url, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _token(server: Server, username: str) -> str:
    body = json.dumps({"username": username, "password": PASSWORDS[username]}).encode()
    req = urllib.request.Request(f"{server.url}/api/auth/token/", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)["token"]


@dataclass
class RoleRun:
    role: str
    operations: int = 0
    cases: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # "ST108 Response violates schema" → count
    failing_operations: dict[str, list[str]] = field(default_factory=dict)  # the same → operations
    errors: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    tracebacks: list[str] = field(default_factory=list)
    seconds: float = 0.0
    output: str = ""

    @property
    def failure_count(self) -> int:
        return sum(self.failures.values())


def _fuzz(server: Server, role: str, token: str, workdir: Path) -> RoleRun:
    headers = {"Authorization": f"Token {token}"}
    # The schema endpoint requires authentication: fetched with the token, then fuzzed from the file.
    req = urllib.request.Request(f"{server.url}/api/schema/?format=json", headers=headers)
    schema = workdir / f"openapi-{role}.json"
    with urllib.request.urlopen(req, timeout=60) as resp:
        schema.write_bytes(resp.read())
    report = workdir / f"report-{role}.json"
    cmd = [str(SCHEMATHESIS), "--no-color", "run", str(schema), "--url", server.url,
           "-H", f"Authorization: {headers['Authorization']}",
           "--phases", "fuzzing", "--checks", CHECKS, "--max-examples", str(EXAMPLES),
           "--workers", str(WORKERS), "--seed", str(SEED), "--request-timeout", "30",
           "--suppress-health-check", "all",
           "--report", "json", "--report-json-path", str(report)]
    for op in EXCLUDED_OPERATION_IDS:
        cmd += ["--exclude-operation-id", op]
    since = server.log_size()
    started = time.monotonic()
    # Run in a scratch directory: schemathesis keeps its example database (.hypothesis) in the cwd.
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=ROLE_TIMEOUT_S)
    run = RoleRun(role, seconds=time.monotonic() - started, output=proc.stdout + proc.stderr)
    assert report.exists(), f"schemathesis wrote no report (exit {proc.returncode}):\n{run.output[-4000:]}"
    data = json.loads(report.read_text())
    run.operations = data["operations"]["tested"]
    run.cases = data["test_cases"]["generated"]
    run.failures = {f"{f['code']} {f['title']}": f["count"] for f in data["failures"]}
    run.failing_operations = {f"{f['code']} {f['title']}": sorted(f["operations"]) for f in data["failures"]}
    run.errors = len(data["errors"])
    run.statuses = server.statuses(since)
    run.tracebacks = server.tracebacks(since)
    return run


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.2f} (1 min) / {five:.2f} (5 min) at the end"


def _summary(runs: list[RoleRun], total_s: float) -> str:
    lines = ["| role | operations | cases | 2xx | 4xx | 5xx | failures | errors | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(f"| {r.role} | {r.operations} | {r.cases} | {r.statuses['2xx']} | {r.statuses['4xx']} | "
                     f"{r.statuses['5xx']} | {r.failure_count} | {r.errors} | {r.seconds:.0f} |")
    for r in runs:
        for title, n in r.failures.items():
            lines.append(f"\n{r.role}: {n} × {title}: {', '.join(r.failing_operations[title])}")
    lines.append(f"\nschemathesis fuzzing phase, checks {CHECKS}, {EXAMPLES} examples per operation, "
                 f"{WORKERS} workers, seed {SEED}; fuzzing both roles took {total_s:.0f} s (plus ~15 s to "
                 f"create, simulate and serve the database); {_load()}.")
    return "\n".join(lines)


BEGIN, END = "<!-- fuzz-run:begin -->", "<!-- fuzz-run:end -->"


def _write_doc(table: str) -> None:
    """Replace the figures between the markers of docs/api-fuzz.md; the prose around them is by hand."""
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")


def test_the_api_survives_fuzzing_as_admin_and_as_teller(server: Server, tmp_path: Path) -> None:
    started = time.monotonic()
    # Both sign in first: the fuzzer's wrong passwords at POST /api/auth/token/ lock this address out
    # (django-axes, as they should), after which no one signs in from it for a while.
    tokens = {"admin": _token(server, "fuzz_admin"), "teller": _token(server, "fuzz_teller")}
    runs = [_fuzz(server, role, token, tmp_path) for role, token in tokens.items()]
    table = _summary(runs, time.monotonic() - started)
    print("\n" + table)
    if os.environ.get("FINHOUSE_API_FUZZ_DOC") == "1":
        _write_doc(table)
    for r in runs:
        assert r.operations >= 70 and r.cases >= r.operations, f"{r.role}: too little was tested\n{r.output}"
        assert r.errors == 0, f"{r.role}: schemathesis errors\n{r.output[-6000:]}"
        assert r.statuses["5xx"] == 0 and not r.tracebacks, f"{r.role}: server errors {r.tracebacks}"
        assert r.failure_count == 0, f"{r.role}: {r.failures}\n{r.output[-12000:]}"
