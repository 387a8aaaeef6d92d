"""Run fhload, the C extract-load engine, and read its per-table JSON summaries.

Used by the `finhouse ingest` command and by the Airflow ingestion DAGs (orchestrate/dags/ingest_dags.py),
so it is standard library only: it is imported inside the Airflow environment, which has neither Django
nor the platform's other dependencies. fhload does the work; this module finds it, builds its command
line, and turns its summaries and exit codes into Python values and exceptions.

fhload's contract: `fhload [OPTIONS] [TABLE ...]`, `--json` prints one JSON object per table per line
(table, group, mode, rows, deleted, bytes, seconds, load_id, watermark_from, watermark_to, status, and
with --reconcile the source rows compared; an error as an object with a message); exit codes 0 ok,
1 internal, 2 usage/config, 3 connection, 4 schema, 5 data. Source, warehouse and registry come from
FINHOUSE_OLTP_URL, FINHOUSE_DUCKDB_PATH and FINHOUSE_REGISTRY, which fhload reads itself; relative
paths are relative to the repository root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from finhouse import config as fh_config
from finhouse.config import ROOT

DEFAULT_FHLOAD = ROOT / "ingest" / "engine" / "build" / "fhload"
# What fhload reads, as the configuration resolves it (defaults in .env.example).
registry_path = fh_config.registry_path
warehouse_path = fh_config.warehouse_path


def _under_root(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else ROOT / p


# --- errors: one class per documented exit code --------------------------------------------------------


class IngestError(RuntimeError):
    """fhload failed. `tables` are what it was asked to load, `exit_code` its exit status and
    `message` what it said (its JSON error, else the last lines of its stderr)."""

    exit_code: int = 1
    meaning: str = "failed"

    def __init__(self, message: str, *, tables: Sequence[str] = (), exit_code: int | None = None,
                 loads: Sequence[TableLoad] = ()):
        self.message = message.strip() or "(fhload printed no message)"
        self.tables = tuple(tables)
        if exit_code is not None:
            self.exit_code = exit_code
        self.loads = tuple(loads)  # the tables that did load before the failure, if any
        what = ", ".join(self.tables) if self.tables else "every table"
        super().__init__(f"fhload {what}: exit {self.exit_code} ({self.meaning}): {self.message}")


class InternalError(IngestError):
    exit_code, meaning = 1, "internal error"


class ConfigError(IngestError):
    """Usage or configuration: an unknown table or group, a bad option, a missing setting."""

    exit_code, meaning = 2, "usage or configuration error"


class ConnectionFailed(IngestError):
    """The source or the warehouse could not be reached (or was locked); the one kind worth retrying."""

    exit_code, meaning = 3, "connection error"


class SchemaError(IngestError):
    """A source table or column does not fit the raw table (an incompatible type change, a missing key)."""

    exit_code, meaning = 4, "schema error"


class DataError(IngestError):
    """A value cannot be loaded exactly (e.g. a numeric that does not fit); nothing was committed."""

    exit_code, meaning = 5, "data error"


class FhloadNotFound(IngestError):
    """The fhload binary is not there: the engine has not been built."""

    exit_code, meaning = 127, "fhload not found"


ERRORS_BY_EXIT: dict[int, type[IngestError]] = {
    cls.exit_code: cls for cls in (InternalError, ConfigError, ConnectionFailed, SchemaError, DataError)
}


def error_class(exit_code: int) -> type[IngestError]:
    """The IngestError subclass for fhload's exit code (an undocumented code counts as internal)."""
    return ERRORS_BY_EXIT.get(exit_code, InternalError)


# --- summaries ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableLoad:
    """What fhload reports about one table's load (one line of its --json output)."""

    table: str
    group: str
    mode: str
    rows: int
    deleted: int
    bytes: int
    seconds: float
    load_id: int | str | None  # as fhload prints it (an integer sequence in DuckDB's raw._fh_loads)
    watermark_from: str | None
    watermark_to: str | None
    status: str
    compared: int | None = None  # a reconciliation: the source rows it compared (rows/deleted: repaired)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict, e.g. the return value (XCom) of an Airflow task."""
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TableLoad:
        def text(key: str) -> str | None:
            value = obj.get(key)
            return None if value is None else str(value)

        return cls(
            table=str(obj["table"]),
            group=str(obj.get("group") or ""),
            mode=str(obj.get("mode") or ""),
            rows=int(obj.get("rows") or 0),
            deleted=int(obj.get("deleted") or 0),
            bytes=int(obj.get("bytes") or 0),
            seconds=float(obj.get("seconds") or 0.0),
            load_id=obj.get("load_id"),
            watermark_from=text("watermark_from"),
            watermark_to=text("watermark_to"),
            status=str(obj.get("status") or "ok"),
            compared=None if obj.get("compared") is None else int(obj["compared"]),
        )


def _error_message(obj: Mapping[str, Any]) -> str | None:
    """The message of an error line, whichever shape it takes ({"error": {"message": …}}, {"error": "…"},
    or {"status": "error", "message": …}); None for a successful table's line."""
    error = obj.get("error")
    if isinstance(error, Mapping):
        return str(error.get("message") or json.dumps(error))
    if error:
        return str(error)
    if obj.get("status") not in (None, "ok"):
        return str(obj.get("message") or f"status {obj.get('status')}")
    return None


def parse_summaries(stdout: str) -> tuple[list[TableLoad], list[tuple[str | None, str]]]:
    """fhload's --json output as (successful loads, errors as (table or None, message)).
    Lines that are not JSON objects are ignored: fhload's progress goes to stderr, but be lenient."""
    loads: list[TableLoad] = []
    errors: list[tuple[str | None, str]] = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        message = _error_message(obj)
        if message is not None:
            errors.append((obj.get("table"), message))
        elif "table" in obj:
            loads.append(TableLoad.from_json(obj))
    return loads, errors


# --- running fhload ------------------------------------------------------------------------------------


def offline_env() -> dict[str, str]:
    """The environment of an fhload that only prints what it knows (--print-registry,
    --print-snowflake-setup): without the settings a load would check, so that a bad one cannot make
    those unreadable (the load itself reports it)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("FINHOUSE_", "FHLOAD"))}


def fhload_path(env: Mapping[str, str] | None = None) -> Path:
    """Where fhload is: $FHLOAD if set, else ingest/engine/build/fhload. Raises FhloadNotFound if it is not
    an executable file."""
    env = os.environ if env is None else env
    path = _under_root(env.get("FHLOAD") or str(DEFAULT_FHLOAD))
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise FhloadNotFound(f"{path} is not built; run `make engine`")
    return path


def command(tables: Iterable[str] = (), groups: Iterable[str] = (), *, full: bool = False,
            reconcile: bool = False, json_output: bool = True, quiet: bool = False,
            env: Mapping[str, str] | None = None, extra: Sequence[str] = ()) -> list[str]:
    """fhload's command line for these tables and groups (none of either: every registered table).
    Source, warehouse, registry, lookback and the delete limit are left to fhload, which reads them
    from `env`."""
    argv = [str(fhload_path(env))]
    for group in groups:
        argv += ["--group", group]
    if full:
        argv.append("--full")
    if reconcile:
        argv.append("--reconcile")
    if json_output:
        argv.append("--json")
    if quiet:
        argv.append("--quiet")
    argv += list(extra)
    argv += list(tables)
    return argv


def _env(env: Mapping[str, str] | None) -> dict[str, str]:
    # fhload is given every setting, defaults filled in: it needs no defaults of its own.
    return fh_config.environ(env)


def run(tables: Iterable[str] = (), groups: Iterable[str] = (), *, full: bool = False,
        reconcile: bool = False, env: Mapping[str, str] | None = None, timeout: float | None = None,
        stderr: Any = None) -> list[TableLoad]:
    """Run fhload with --json for these tables and groups and return one TableLoad per table loaded.

    Raises the IngestError subclass of fhload's exit code, whose message is fhload's own (its JSON
    error line, else the end of its stderr), naming the table when fhload did. fhload's stderr
    (progress, warnings) is copied to `stderr` (default: sys.stderr) so it lands in task logs."""
    tables, groups = list(tables), list(groups)
    argv = command(tables, groups, full=full, reconcile=reconcile, json_output=True, quiet=True, env=env)
    proc = subprocess.run(argv, cwd=ROOT, env=_env(env), capture_output=True, text=True,
                          timeout=timeout, check=False)
    out = sys.stderr if stderr is None else stderr
    if proc.stderr:
        out.write(proc.stderr if proc.stderr.endswith("\n") else proc.stderr + "\n")
        out.flush()
    loads, errors = parse_summaries(proc.stdout)
    if proc.returncode == 0 and not errors:
        return loads
    code = proc.returncode or 1  # a JSON error with exit 0 would be fhload's bug: call it internal
    if errors:
        failed = [t for t, _ in errors if t] or tables or groups
        message = "; ".join(f"{t}: {m}" if t and len(errors) > 1 else m for t, m in errors)
    else:
        failed = tables or groups
        message = "\n".join(proc.stderr.strip().splitlines()[-5:])
    raise error_class(code)(message, tables=failed, exit_code=code, loads=loads)


def load_table(table: str, *, full: bool = False, reconcile: bool = False,
               env: Mapping[str, str] | None = None, timeout: float | None = None) -> TableLoad:
    """Load one registered table (what an Airflow task does) and return its summary. With reconcile, compare
    it with the source and load only what differs (`fhload --reconcile`): rows and deleted are then what
    was repaired."""
    loads = run([table], full=full, reconcile=reconcile, env=env, timeout=timeout)
    mine = [load for load in loads if load.table == table]
    if len(mine) != 1:
        raise InternalError(f"expected one summary for {table}, fhload printed {len(loads)}",
                            tables=[table], loads=loads)
    return mine[0]


def exec_interactive(groups: Iterable[str] = (), tables: Iterable[str] = (), *, full: bool = False,
                     reconcile: bool = False, json_output: bool = False,
                     extra: Sequence[str] = (), env: Mapping[str, str] | None = None) -> int:
    """Run fhload with our stdin/stdout/stderr (a TTY gets its progress line and summary table) and
    return its exit code. Raises FhloadNotFound if it is not built."""
    argv = command(list(tables), list(groups), full=full, reconcile=reconcile, json_output=json_output,
                   env=env, extra=extra)
    return subprocess.call(argv, cwd=ROOT, env=_env(env))
