"""The Snowflake leg of ingestion: fhload writes Parquet files and a manifest, this module loads them into
the RAW database (PUT to a stage, COPY INTO) and moves the load state only once Snowflake has confirmed
every file.

    from finhouse.ingest import snowflake
    loads = snowflake.load(["loans"], full=False)     # or groups=["loans"]; none: every registered table

For each table:

1. Lease. One loader at a time per table: RAW.<schema>.FH_LEASES holds a row per table (holder, acquired,
   expires), taken with one conditional UPDATE (… WHERE the lease is free or expired) — a compare-and-
   swap, since Snowflake runs the UPDATEs of a table one at a time and each atomically. A table whose
   lease another loader holds is not loaded: it fails with a one-line SnowflakeBusyError (exit 6) naming
   the holder, and the other tables go on. The lease is renewed before every write to the raw table and
   released at the end; it expires after SNOWFLAKE_LOADER_LEASE_SECONDS (default 2 h, longer than the
   Airflow task timeout of 1 h), so a killed loader does not block the table for good; a holder on this
   machine whose process is gone is taken over at once.
2. State. FH_LOADS is the log of loads, in the one shape DuckDB's raw._fh_loads has too (LOAD_ID,
   TABLE_NAME, MODE, STARTED_AT, FINISHED_AT, ROWS_LOADED, ROWS_DELETED, FILES, WATERMARK_FROM/TO,
   STATUS: ingest/engine/README.md, "The RAW-layer contract"), and FH_STATE a view of
   its latest committed ('ok') load per table (the mirror of raw._fh_state: watermark, last load id).
   Their DDL, and FH_LEASES', is fhload's (`fhload --print-snowflake-setup`, setup_statements): the
   loader only runs it, before anything else.
   The watermark is read there and handed to `fhload --parquet DIR --since`.
3. Extract. Each fhload run gets its load id from the sequence FH_LOAD_ID_SEQ (`--load-id N`), never
   from a clock: staging keeps each key's row with the greatest _fh_load_id, so ids must grow with time
   even when a loader's clock steps back. fhload writes DIR/<table>/part-N.parquet and manifest.json
   (rows per file, load id, watermark from/to, columns and types, mode, primary key); the rows carry
   _fh_load_id, _fh_loaded_at, _fh_op and _fh_row_hash (a hash of the source row). Tables that share a
   watermark (first loads, full tables) share one fhload run, hence one load id: a load is identified by
   (TABLE_NAME, LOAD_ID).
4. Schema. Before fhload runs, the loader hands it the raw tables' columns as Snowflake reports them
   (--raw-columns, a CSV of INFORMATION_SCHEMA.COLUMNS); fhload owns the types and the rule: its manifest
   prescribes the raw table's CREATE TABLE, ADD COLUMN for a new source or metadata column, the widening
   of a NUMBER whose precision grew, and this module runs them; any other type change, or a column
   Snowflake has no type for, fhload refuses (exit 4, naming table and column) before anything is staged.
5. Load. A 'pending' row goes into FH_LOADS (the manifest's log_pending: the load log's row is fhload's,
   as are its shape and its commit, log_commit), the files are PUT to @<stage>/<table>/<load id>/ and
   `COPY INTO … MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE ON_ERROR = ABORT_STATEMENT PURGE = TRUE` loads
   exactly that directory (no PATTERN or FILES: fakesnow lacks them, and a directory per load needs
   neither). Every file of the manifest must come back LOADED with its row count, and the rows carrying
   the load id must add up to the manifest's total.
6. Deletes. A full load of a table loaded before then appends a 'delete' row (key columns set, the other
   source columns NULL) for every key whose latest raw row is not a delete and that this load did not
   contain — the contract of the DuckDB raw layer, and both statements are fhload's (the manifest's
   "snowflake" statements; this module fills in the table's name). First it counts them: if they are more than
   FINHOUSE_MAX_DELETE_PERCENT (default 50) of the live keys, the load is refused and rolled back (a
   source pointed at an empty or wrong database would otherwise mark every row deleted), exit 5.
7. Commit. One statement, `UPDATE FH_LOADS SET status = 'ok' … WHERE status = 'pending'` joined to this
   loader's lease row, moves the state: FH_STATE reads only 'ok' loads.

Exactly once. The rows are in the raw table from step 5 on, but the state moves only at step 7, in a
single statement, so a failure anywhere in between (an exception, a lost connection, a SIGKILL) leaves a
'pending' load whose rows are not part of any committed load. The next run for that table first rolls
such loads back, and then re-extracts from the unchanged watermark with a new load id. No row is counted
twice and none is lost. A roll-back first claims the load — `UPDATE FH_LOADS SET status = 'rolled_back'
… WHERE status = 'pending'`, a conditional update that only one of the commit and the roll-back can win
— then deletes its rows (`DELETE FROM <raw table> WHERE _fh_load_id = <id>`), then stamps its
FINISHED_AT: a 'rolled_back' load without FINISHED_AT has its delete redone by the next run. A loader
that is merely slow therefore either commits before the roll-back claims its load (which then undoes
nothing) or finds its commit refused; it can never commit rows that were deleted. Why not the
alternatives:
- A transaction around COPY and the state update works in fakesnow, and real Snowflake runs COPY inside
  an explicit transaction too; but a loader killed mid-transaction leaves it open (and the table locked)
  until Snowflake notices the session is gone, up to hours with the default LOCK_TIMEOUT and session
  expiry, blocking the retry. The compensating delete needs no lock held across a crash.
- COPY's load metadata (a file already loaded is LOAD_SKIPPED) only dedups the same file; a rerun
  extracts a new snapshot into new files under a new load id, so it would not help. A LOAD_SKIPPED
  status is therefore treated as an error here, never as success.
The raw tables stay append-only for committed loads: the delete only ever removes rows of a load that
never committed.

Connection: SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PASSWORD (shared with dbt's profile);
SNOWFLAKE_HOST, SNOWFLAKE_PORT and SNOWFLAKE_PROTOCOL point the client at an emulator (fakesnow over http
in the tests); SNOWFLAKE_LOGIN_TIMEOUT (seconds, default 60). The loader's own: SNOWFLAKE_LOADER_ROLE
(default LOADER), SNOWFLAKE_LOADER_WAREHOUSE (default LOADING), SNOWFLAKE_LOADER_LEASE_SECONDS (default
7200), SNOWFLAKE_RAW_DATABASE (default RAW), SNOWFLAKE_RAW_SCHEMA (default OLTP), SNOWFLAKE_STAGE
(default FH_STAGE). They are separate from SNOWFLAKE_ROLE/WAREHOUSE/DATABASE/SCHEMA because dbt's profile
reads those for the ANALYTICS side (TRANSFORMER, ANALYTICS): one .env serves both, and the loader can
never write into ANALYTICS by accident. FINHOUSE_MAX_DELETE_PERCENT is shared with fhload, read the same
way (unset or empty: 50; else a whole number from 0 to 100)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from finhouse import config as fh_config
from finhouse.config import ROOT
from finhouse.ingest import fhload as ingest
from finhouse.ingest import registry

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
STATE_TABLE = "FH_LOADS"
STATE_VIEW = "FH_STATE"
LEASE_TABLE = "FH_LEASES"
LOAD_ID_SEQUENCE = "FH_LOAD_ID_SEQ"
# The defaults, from .env.example (the one file they are written in). The lease is longer than the Airflow
# task timeout (1 h, orchestrate/dags/ingest_dags.py): a live loader never loses it. The delete limit is
# fhload's default too (ingest/engine/include/cli.h).
DEFAULT_LEASE_SECONDS = int(fh_config.defaults()["SNOWFLAKE_LOADER_LEASE_SECONDS"])
DEFAULT_MAX_DELETE_PERCENT = int(fh_config.defaults()["FINHOUSE_MAX_DELETE_PERCENT"])


# --- errors ------------------------------------------------------------------------------------------------


class SnowflakeError(RuntimeError):
    """The Snowflake leg failed; str() is one line that says what and where."""

    exit_code = 1


class SnowflakeConfigError(SnowflakeError):
    """A SNOWFLAKE_* setting is missing or malformed."""

    exit_code = 2


class SnowflakeConnectionError(SnowflakeError):
    """Snowflake cannot be reached, or refused the credentials."""

    exit_code = 3


class SnowflakeSchemaError(SnowflakeError):
    """A schema error of the Snowflake leg. fhload itself refuses an incompatible type change or a type
    Snowflake lacks (exit 4: finhouse.ingest.fhload's IngestError of that code); kept for callers that
    catch it."""

    exit_code = 4


class SnowflakeLoadError(SnowflakeError):
    """Snowflake did not confirm a file (not LOADED, or a row count that differs from the manifest)."""

    exit_code = 5


class SnowflakeDeleteLimitError(SnowflakeLoadError):
    """A full load would mark more of a table's rows deleted than FINHOUSE_MAX_DELETE_PERCENT allows."""


class SnowflakeBusyError(SnowflakeError):
    """Another loader holds the table's lease, or took it from this one: nothing of this load committed."""

    exit_code = 6


def parse_max_delete_percent(raw: str | None, name: str = "FINHOUSE_MAX_DELETE_PERCENT", *,
                             empty_is_default: bool = True) -> int:
    """The delete limit as fhload reads it (strtoll, 0..100): an unset or empty variable is the default
    (an empty option is not); leading blanks and a sign are allowed, nothing after the digits."""
    if raw is None or (raw == "" and empty_is_default):
        return DEFAULT_MAX_DELETE_PERCENT
    if not re.fullmatch(r"\s*[+-]?[0-9]+", raw) or not 0 <= int(raw) <= 100:
        raise SnowflakeConfigError(f"snowflake: {name} expects a whole number from 0 to 100, got '{raw}' "
                                   "— see finhouse snowflake-load --help")
    return int(raw)


# --- settings ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    account: str
    user: str
    password: str
    role: str | None
    warehouse: str | None
    database: str
    schema: str
    stage: str
    host: str | None
    port: int | None
    protocol: str | None
    login_timeout: int
    lease_seconds: int = DEFAULT_LEASE_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            """The environment's value when set and not empty, else .env.example's default (or None)."""
            return fh_config.get(name, env)

        missing = [n for n in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD") if not get(n)]
        if missing:
            raise SnowflakeConfigError(f"snowflake: {', '.join(missing)} not set (see .env.example)")

        def ident(name: str) -> str:
            value = get(name) or ""
            if not IDENT.match(value):
                raise SnowflakeConfigError(f"snowflake: {name}={value!r} is not a plain identifier")
            return value.upper()

        def number(name: str) -> int | None:
            raw = get(name)
            if raw is None:
                return None
            try:
                return int(raw)
            except ValueError:
                raise SnowflakeConfigError(f"snowflake: {name} must be a whole number, got {raw!r}") from None

        lease = number("SNOWFLAKE_LOADER_LEASE_SECONDS") or 0
        if lease < 1:
            raise SnowflakeConfigError(
                "snowflake: SNOWFLAKE_LOADER_LEASE_SECONDS must be at least 1 (default "
                f"{DEFAULT_LEASE_SECONDS}, longer than a load can take)")
        protocol = get("SNOWFLAKE_PROTOCOL")
        if protocol not in (None, "http", "https"):
            raise SnowflakeConfigError(
                f"snowflake: SNOWFLAKE_PROTOCOL must be http or https, got {protocol!r}")
        return cls(
            account=str(get("SNOWFLAKE_ACCOUNT")),
            user=str(get("SNOWFLAKE_USER")),
            password=str(get("SNOWFLAKE_PASSWORD")),
            role=get("SNOWFLAKE_LOADER_ROLE"),
            warehouse=get("SNOWFLAKE_LOADER_WAREHOUSE"),
            database=ident("SNOWFLAKE_RAW_DATABASE"),
            schema=ident("SNOWFLAKE_RAW_SCHEMA"),
            stage=ident("SNOWFLAKE_STAGE"),
            host=get("SNOWFLAKE_HOST"),
            port=number("SNOWFLAKE_PORT"),
            protocol=protocol,
            # 0 is not "no timeout" but the default
            login_timeout=(number("SNOWFLAKE_LOGIN_TIMEOUT")
                           or int(fh_config.defaults()["SNOWFLAKE_LOGIN_TIMEOUT"])),
            lease_seconds=lease,
        )

    @property
    def where(self) -> str:
        """Where we connect, for messages (never the password)."""
        if self.host:
            return f"{self.protocol or 'https'}://{self.host}:{self.port or 443} (account {self.account})"
        return f"account {self.account}"

    def qualified(self, name: str) -> str:
        return f'"{self.database}"."{self.schema}"."{name.upper()}"'

    @property
    def stage_ref(self) -> str:
        return f"@{self.database}.{self.schema}.{self.stage}"


def connect(settings: Settings):
    """A snowflake-connector-python connection, or SnowflakeConnectionError in one line."""
    import snowflake.connector
    from snowflake.connector import errors as sf_errors

    kwargs: dict[str, Any] = dict(
        account=settings.account, user=settings.user, password=settings.password,
        login_timeout=settings.login_timeout, application="finhouse",
        session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False, "TIMEZONE": "UTC"},
    )
    for key in ("role", "warehouse", "host", "port", "protocol"):
        value = getattr(settings, key)
        if value is not None:
            kwargs[key] = value
    try:
        return snowflake.connector.connect(**kwargs)
    except sf_errors.Error as exc:
        text = _one_line(exc)
        if getattr(exc, "errno", None) in (390100, 390101, 390102, 390144) or "Incorrect username" in text:
            raise SnowflakeConnectionError(
                f"snowflake: {settings.where} refused user {settings.user}: {text} "
                f"(check SNOWFLAKE_USER and SNOWFLAKE_PASSWORD)") from None
        raise SnowflakeConnectionError(f"snowflake: cannot connect to {settings.where}: {text}") from None


def _one_line(exc: BaseException) -> str:
    msg = getattr(exc, "raw_msg", None) or getattr(exc, "msg", None) or str(exc)
    lines = [line.strip() for line in str(msg).splitlines() if line.strip()]
    return " ".join(lines)[:400] or type(exc).__name__


# --- the manifest ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    path: Path
    table: str
    mode: str
    load_id: int
    watermark_from: str | None
    watermark_to: str | None
    primary_key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (name, Snowflake type as fhload gives it), with metadata columns
    files: tuple[tuple[str, int], ...]  # (file name, rows)
    rows: int
    # Statements fhload prescribes for this load (the load log's "log_pending" and "log_commit";
    # "count_deletes", "insert_deletes" for a full load of a keyed table), with {table}, {log} and
    # {leases} standing for qualified names.
    statements: Mapping[str, str] = field(default_factory=dict)
    # The raw table's DDL fhload prescribes (CREATE TABLE, ADD COLUMN, a widening; empty: it fits), from
    # the raw columns the loader gave it (--raw-columns); None: fhload was not given them.
    schema: tuple[str, ...] | None = None

    @property
    def directory(self) -> Path:
        return self.path.parent

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
            files = tuple((str(f["path"]), int(f["rows"])) for f in obj["files"])
            prescribed = obj.get("snowflake") or {}
            manifest = cls(
                path=path, table=str(obj["table"]), mode=str(obj["mode"]), load_id=int(obj["load_id"]),
                watermark_from=obj.get("watermark_from"), watermark_to=obj.get("watermark_to"),
                primary_key=tuple(obj.get("primary_key") or ()),
                columns=tuple((str(c["name"]), str(c["snowflake_type"])) for c in obj["columns"]),
                files=files, rows=int(obj["rows"]),
                statements={str(k): v for k, v in prescribed.items() if isinstance(v, str)},
                schema=tuple(str(x) for x in prescribed["schema"]) if "schema" in prescribed else None,
            )
        except KeyError as exc:
            raise SnowflakeLoadError(f"snowflake: cannot read fhload's manifest {path}: it lacks {exc} "
                                     "(written by an older fhload? rebuild it: make engine)") from None
        except (OSError, ValueError, TypeError) as exc:
            raise SnowflakeLoadError(f"snowflake: cannot read fhload's manifest {path}: {exc}") from None
        if sum(rows for _, rows in files) != manifest.rows:
            raise SnowflakeLoadError(
                f"snowflake: manifest {path}: the files' rows do not add up to its total")
        for name, _ in files:
            if "/" in name or not (manifest.directory / name).is_file():
                raise SnowflakeLoadError(f"snowflake: manifest {path} names {name}, which is not there")
        return manifest


# --- results -----------------------------------------------------------------------------------------------


@dataclass
class SnowflakeLoad:
    """One table's load into Snowflake."""

    table: str
    mode: str
    load_id: int
    rows: int
    deleted: int
    files: int
    watermark_from: str | None
    watermark_to: str | None
    seconds: float
    rolled_back: list[int] = field(default_factory=list)  # pending loads of this table undone first

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the loader --------------------------------------------------------------------------------------------


def _q(name: str) -> str:
    return '"' + name.upper().replace('"', '""') + '"'


def _iso(value: Any) -> str | None:
    """A TIMESTAMP_TZ from Snowflake as fhload's --since wants it (UTC, microseconds)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utc(value: Any) -> str:
    """A TIMESTAMP_TZ for people: UTC, to the second."""
    if not isinstance(value, dt.datetime):
        return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _percent(part: int, whole: int) -> str:
    """part/whole in percent, exact when whole, else rounded up to a tenth (so that a share above a limit
    never reads as the limit itself)."""
    if part * 100 % whole == 0:
        return str(part * 100 // whole)
    tenths = -(-part * 1000 // whole)
    return f"{tenths // 10}.{tenths % 10}"


class Loader:
    """Loads fhload's Parquet output into one RAW database and schema over one connection."""

    def __init__(self, conn, settings: Settings, log: Callable[[str], None] | None = None, *,
                 max_delete_percent: int = DEFAULT_MAX_DELETE_PERCENT, env: Mapping[str, str] | None = None):
        self.conn = conn
        self.s = settings
        self.env = env  # which fhload prescribes the bookkeeping DDL ($FHLOAD; None: os.environ)
        self.log = log or (lambda message: None)
        self.max_delete_percent = max_delete_percent
        # Who holds a lease: readable in the busy message, and host + pid let a loader on the same machine
        # see that a holder's process is gone; the run token tells two loads of one process apart.
        self.holder = f"{socket.gethostname()} pid {os.getpid()} run {uuid.uuid4().hex[:8]}"
        self.held: set[str] = set()
        self._columns: dict[str, dict[str, tuple[str, Any, Any]]] | None = None

    # SQL helpers
    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> list[tuple]:
        from snowflake.connector import errors as sf_errors

        cur = self.conn.cursor()
        try:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
        except sf_errors.Error as exc:
            raise SnowflakeError(f"snowflake: {_one_line(exc)} (in: {' '.join(sql.split())[:160]})") from None
        finally:
            cur.close()

    def rowcount(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> int:
        from snowflake.connector import errors as sf_errors

        cur = self.conn.cursor()
        try:
            cur.execute(sql, params)
            return int(cur.rowcount or 0)
        except sf_errors.Error as exc:
            raise SnowflakeError(f"snowflake: {_one_line(exc)} (in: {' '.join(sql.split())[:160]})") from None
        finally:
            cur.close()

    # objects
    def ensure_objects(self) -> None:
        """The schema (created only where it is missing: on the emulator; a real account is provisioned by
        ingest/snowflake/scripts/), the stage, then fhload's bookkeeping objects: the load log, the state
        view and the lease table (setup_statements), then the load id sequence."""
        from snowflake.connector import errors as sf_errors

        cur = self.conn.cursor()
        try:
            cur.execute(f"USE SCHEMA {_q(self.s.database)}.{_q(self.s.schema)}")
        except sf_errors.Error:
            self.execute(f"CREATE DATABASE IF NOT EXISTS {_q(self.s.database)}")
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(self.s.database)}.{_q(self.s.schema)}")
            self.execute(f"USE SCHEMA {_q(self.s.database)}.{_q(self.s.schema)}")
        finally:
            cur.close()
        self.execute(
            f"CREATE STAGE IF NOT EXISTS {self.s.qualified(self.s.stage)} FILE_FORMAT = (TYPE = PARQUET)")
        for sql in setup_statements(self.env):
            self.execute(self.named(sql))
        self.ensure_sequence()

    # load ids
    def ensure_sequence(self) -> None:
        """Create the load id sequence if missing, starting above every load id FH_LOADS holds: a
        deployment loaded before the sequence existed has clock ids (µs since 1970), which new ids must
        exceed for staging's newest-load-wins order to hold."""
        from snowflake.connector import errors as sf_errors

        shown = self.execute(f"SHOW SEQUENCES IN SCHEMA {_q(self.s.database)}.{_q(self.s.schema)}")
        if any(str(row[0]).upper() == LOAD_ID_SEQUENCE for row in shown):
            return
        top = self.execute(f"SELECT MAX(LOAD_ID) FROM {self.s.qualified(STATE_TABLE)}")[0][0]
        create = (f"CREATE SEQUENCE IF NOT EXISTS {self.s.qualified(LOAD_ID_SEQUENCE)}"
                  f" START = {int(top or 0) + 1} INCREMENT = 1")
        # ORDER: Snowflake's NOORDER sequences (the default on newer accounts) do not hand out increasing
        # values, and increasing is the point. fakesnow (DuckDB) rejects the keyword as a syntax error;
        # its sequences are increasing anyway, so only there the sequence is created without it.
        cur = self.conn.cursor()
        try:
            cur.execute(create + " ORDER")
        except sf_errors.ProgrammingError as exc:
            if exc.errno != 1003 or "ORDER" not in str(exc.msg):
                raise SnowflakeError(f"snowflake: {_one_line(exc)} (in: {create} ORDER)") from None
            self.execute(create)
            self.log(f"the server does not know CREATE SEQUENCE … ORDER (an emulator): created "
                     f"{LOAD_ID_SEQUENCE} without it")
        finally:
            cur.close()
        self.log(f"created the load id sequence {LOAD_ID_SEQUENCE}, from {int(top or 0) + 1}")

    def next_load_id(self) -> int:
        """The load id of the next fhload run. Checked above the largest id FH_LOADS held before it was
        drawn (with an ORDER sequence, every id drawn earlier is smaller): a sequence created by hand
        below older clock ids would otherwise slip new loads under old ones."""
        top = self.execute(f"SELECT MAX(LOAD_ID) FROM {self.s.qualified(STATE_TABLE)}")[0][0]
        value = int(self.execute(f"SELECT {self.s.qualified(LOAD_ID_SEQUENCE)}.NEXTVAL")[0][0])
        if top is not None and value <= int(top):
            seq = f"{self.s.database}.{self.s.schema}.{LOAD_ID_SEQUENCE}"
            raise SnowflakeConfigError(
                f"snowflake: sequence {seq} gave load id {value}, not above the largest in {STATE_TABLE} "
                f"({int(top)}); with no loader running, recreate it: CREATE OR REPLACE SEQUENCE {seq} "
                f"START = {int(top) + 1} INCREMENT = 1 ORDER")
        return value

    # leases
    def acquire(self, tables: Iterable[str]) -> dict[str, str]:
        """Take the lease of each table; returns {table: one-line message} for those another loader holds."""
        busy: dict[str, str] = {}
        for table in tables:
            message = self._acquire(table)
            if message is None:
                self.held.add(table)
            else:
                busy[table] = message
        return busy

    def _acquire(self, table: str) -> str | None:
        leases, ttl = self.s.qualified(LEASE_TABLE), self.s.lease_seconds
        now, expiry = "CURRENT_TIMESTAMP()", "DATEADD(second, %s, CURRENT_TIMESTAMP())"
        for attempt in range(4):
            try:
                # The compare-and-swap: one UPDATE takes the lease if it is free or expired. Snowflake runs
                # the UPDATEs of a table one at a time and each atomically, so of two loaders racing for
                # it the second finds it held. (Not a MERGE that would also create the row: fakesnow
                # runs a MERGE as several statements, which two loaders can interleave.)
                taken = self.rowcount(
                    f"UPDATE {leases} SET HOLDER = %s, ACQUIRED_AT = {now}, EXPIRES_AT = {expiry}"
                    " WHERE TABLE_NAME = %s AND (HOLDER IS NULL OR EXPIRES_AT IS NULL"
                    f" OR EXPIRES_AT <= {now})", (self.holder, ttl, table))
            except SnowflakeError:
                # A concurrent writer of the lease row (the emulator reports a conflict where Snowflake
                # would wait): look again, unless this was the last try.
                if attempt == 3:
                    raise
                time.sleep(0.1 * (attempt + 1))
                continue
            if taken:
                return None
            row = self.lease(table)
            if row is None:
                # The table's first load: create its (free) lease row, once — a MERGE, serialised by
                # Snowflake, so two first loaders do not both insert it — then take it as above.
                try:
                    self.execute(f"MERGE INTO {leases} l USING (SELECT %s AS TABLE_NAME) s"
                                 " ON l.TABLE_NAME = s.TABLE_NAME"
                                 " WHEN NOT MATCHED THEN INSERT (TABLE_NAME) VALUES (s.TABLE_NAME)", (table,))
                except SnowflakeError:
                    if attempt == 3:
                        raise
                continue
            holder, since, until = row
            if holder is None:
                continue  # released or expired since the UPDATE: try again
            if self._gone(holder):
                # Its process on this machine is dead, so it can write nothing more: take over at once
                # instead of waiting out the lease (compare-and-swap on that very holder).
                try:
                    if self.rowcount(
                            f"UPDATE {leases} SET HOLDER = %s, ACQUIRED_AT = {now}, EXPIRES_AT = {expiry}"
                            " WHERE TABLE_NAME = %s AND HOLDER = %s", (self.holder, ttl, table, holder)):
                        self.log(f"{table}: took over the lease of {holder}, whose process is gone")
                        return None
                except SnowflakeError:
                    if attempt == 3:
                        raise
                continue
            where = f"{self.s.database}.{self.s.schema}.{LEASE_TABLE}"
            return (f"snowflake: table {table} is being loaded by {holder} since {since}; wait for it (its "
                    f"lease runs until {until}), or if that loader is dead, release the lease: "
                    f"DELETE FROM {where} WHERE TABLE_NAME = '{table}'")
        return f"snowflake: table {table}: could not take its lease ({LEASE_TABLE} kept changing); rerun"

    def lease(self, table: str) -> tuple[str | None, str, str] | None:
        """(holder, since, until) of a table's lease row, times in UTC; None if there is no row."""
        rows = self.execute(
            "SELECT HOLDER, ACQUIRED_AT, EXPIRES_AT, EXPIRES_AT IS NULL OR EXPIRES_AT <= CURRENT_TIMESTAMP()"
            f" FROM {self.s.qualified(LEASE_TABLE)} WHERE TABLE_NAME = %s", (table,))
        if not rows:
            return None
        holder, since, until, expired = rows[0]
        return (None if holder is None or expired else str(holder)), _utc(since), _utc(until)

    def _gone(self, holder: str) -> bool:
        """Whether a holder is a loader of this machine whose process no longer exists."""
        m = re.fullmatch(r"(\S+) pid (\d+) run \w+", holder)
        if not m or m.group(1) != socket.gethostname() or holder == self.holder:
            return False
        try:
            os.kill(int(m.group(2)), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, OverflowError):
            return False
        return False

    def renew(self, table: str) -> None:
        """Extend this loader's lease before a write; SnowflakeBusyError if another loader took it."""
        for attempt in range(4):
            try:
                n = self.rowcount(
                    f"UPDATE {self.s.qualified(LEASE_TABLE)}"
                    " SET EXPIRES_AT = DATEADD(second, %s, CURRENT_TIMESTAMP())"
                    " WHERE TABLE_NAME = %s AND HOLDER = %s",
                    (self.s.lease_seconds, table, self.holder))
                break
            except SnowflakeError:
                if attempt == 3:  # else a concurrent write to the row (the emulator's conflict): again
                    raise
                time.sleep(0.1 * (attempt + 1))
        if not n:
            self.held.discard(table)
            row = self.lease(table)
            other = row[0] if row and row[0] else "no loader"
            raise SnowflakeBusyError(
                f"snowflake: table {table}: this loader lost its lease to {other} (it ran longer than "
                f"SNOWFLAKE_LOADER_LEASE_SECONDS={self.s.lease_seconds}, or the lease was released by hand); "
                "nothing of this load was committed — rerun")

    def release(self) -> None:
        """Give back every lease this loader holds (best effort: an unreleased lease expires)."""
        for table in sorted(self.held):
            try:
                self.execute(
                    f"UPDATE {self.s.qualified(LEASE_TABLE)} SET HOLDER = NULL, ACQUIRED_AT = NULL,"
                    " EXPIRES_AT = NULL WHERE TABLE_NAME = %s AND HOLDER = %s", (table, self.holder))
            except SnowflakeError as exc:
                self.log(f"{table}: could not release the lease, it expires by itself: {exc}")
        self.held.clear()

    def raw_columns(self, refresh: bool = False) -> dict[str, dict[str, tuple[str, Any, Any]]]:
        """Every table of the RAW schema with its columns as INFORMATION_SCHEMA reports them (DATA_TYPE,
        NUMERIC_PRECISION, NUMERIC_SCALE): what fhload compares the source with (write_raw_columns)."""
        if self._columns is None or refresh:
            rows = self.execute(
                f"SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE"
                f" FROM {_q(self.s.database)}.INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = %s"
                " ORDER BY TABLE_NAME, ORDINAL_POSITION", (self.s.schema,))
            columns: dict[str, dict[str, tuple[str, Any, Any]]] = {}
            for table, column, data_type, precision, scale in rows:
                columns.setdefault(str(table).upper(), {})[str(column).upper()] = (
                    str(data_type), precision, scale)
            self._columns = columns
        return self._columns

    def write_raw_columns(self, path: Path, tables: Iterable[str]) -> Path:
        """The raw columns of these tables, read now (under their leases: no other loader changes them
        until this one is done), as the CSV fhload's --raw-columns reads. fhload decides from them what
        the load does to each raw table (ingest/engine/src/stage_parquet.c: create, add, widen or refuse)."""
        columns = self.raw_columns(refresh=True)
        with path.open("w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["table_name", "column_name", "data_type", "numeric_precision", "numeric_scale"])
            for table in tables:
                for column, (data_type, precision, scale) in columns.get(table.upper(), {}).items():
                    out.writerow([table.upper(), column, data_type,
                                  *("" if n is None else int(n) for n in (precision, scale))])
        return path

    def state(self) -> dict[str, tuple[str | None, int]]:
        """table -> (watermark as fhload's --since wants it, last committed load id)."""
        # WATERMARK IS NULL alongside: fakesnow returns a NULL TIMESTAMP_TZ as 1970-01-01.
        rows = self.execute(f"SELECT TABLE_NAME, WATERMARK, WATERMARK IS NULL, LAST_LOAD_ID"
                            f" FROM {self.s.qualified(STATE_VIEW)}")
        return {str(t): (None if null else _iso(w), int(i)) for t, w, null, i in rows}

    def roll_back_pending(self, tables: Iterable[str]) -> dict[str, list[int]]:
        """Undo the loads of these tables that never committed (see the module's docstring): the pending
        ones, and rolled-back ones whose rows may remain (a roll-back cut short: no FINISHED_AT)."""
        wanted = set(tables)
        loads = self.execute(
            f"SELECT TABLE_NAME, LOAD_ID FROM {self.s.qualified(STATE_TABLE)} WHERE STATUS = 'pending'"
            " OR (STATUS = 'rolled_back' AND FINISHED_AT IS NULL) ORDER BY LOAD_ID")
        undone: dict[str, list[int]] = {}
        for table, load_id in loads:
            table, load_id = str(table), int(load_id)
            if table not in wanted:
                continue
            removed = self.roll_back(table, load_id)
            if removed is None:
                continue
            self.log(f"{table}: rolled back load {load_id}, which never committed ({removed} rows removed)")
            undone.setdefault(table, []).append(load_id)
        return undone

    def roll_back(self, table: str, load_id: int) -> int | None:
        """Undo one load that never committed; the rows removed, or None if it committed after all.

        The claim comes first: one conditional UPDATE turns it from 'pending' to 'rolled_back', so its
        loader's commit (conditional on 'pending') can no longer succeed. Only then are its rows deleted
        — deleting first would let a slow loader commit between the two. FINISHED_AT marks the rows gone."""
        log_sql = self.s.qualified(STATE_TABLE)
        self.rowcount(f"UPDATE {log_sql} SET STATUS = 'rolled_back', FINISHED_AT = NULL"
                      " WHERE TABLE_NAME = %s AND LOAD_ID = %s AND STATUS = 'pending'", (table, load_id))
        status = self.execute(f"SELECT STATUS FROM {log_sql} WHERE TABLE_NAME = %s AND LOAD_ID = %s",
                              (table, load_id))
        if not status or status[0][0] != "rolled_back":
            return None
        removed = 0
        if table.upper() in self.raw_columns():
            removed = self.rowcount(f"DELETE FROM {self.s.qualified(table)} WHERE _FH_LOAD_ID = %s",
                                    (load_id,))
        self.execute(f"UPDATE {log_sql} SET FINISHED_AT = CURRENT_TIMESTAMP()"
                     " WHERE TABLE_NAME = %s AND LOAD_ID = %s AND STATUS = 'rolled_back'", (table, load_id))
        return removed

    def apply_schema(self, m: Manifest) -> None:
        """Bring the raw table to this load's columns with the statements fhload prescribes (it compared
        the source with the raw columns this loader gave it, and refused an incompatible change, exit 4,
        before staging anything)."""
        if m.schema is None:
            raise SnowflakeLoadError(
                f"snowflake: table {m.table}: fhload's manifest {m.path} prescribes no schema (fhload run "
                "without --raw-columns, or an older fhload? rebuild it: make engine); the state did not move")
        for sql in m.schema:
            self.execute(sql.replace("{table}", self.s.qualified(m.table)))
            self.log(f"{m.table}: {sql.replace('{table}', self.s.qualified(m.table))}")
        if m.schema:
            self.raw_columns(refresh=True)

    def load_manifest(self, m: Manifest, *, previous_load: int | None) -> SnowflakeLoad:
        """Steps 4–7 of the module's docstring for one table (whose lease this loader holds); returns what
        was committed."""
        t0 = time.monotonic()
        self.renew(m.table)
        self.apply_schema(m)
        table_sql = self.s.qualified(m.table)
        self.execute(self.prescribed(m, "log_pending", table_sql))
        try:
            loaded = 0
            if m.files:
                location = f"{self.s.stage_ref}/{m.table}/{m.load_id}/"
                self.put(m, location)
                self.renew(m.table)
                loaded = self.copy(m, table_sql, location)
            deleted = 0
            if m.mode == "full" and previous_load is not None and m.primary_key:
                self.check_deletes(m, table_sql)
                self.renew(m.table)
                deleted = self.record_deletes(m, table_sql)
            on_table = self.execute(f"SELECT COUNT(*) FROM {table_sql} WHERE _FH_LOAD_ID = %s",
                                    (m.load_id,))[0][0]
            if on_table != loaded + deleted:
                raise SnowflakeLoadError(
                    f"snowflake: table {m.table}, load {m.load_id}: {on_table} rows carry the load id, "
                    f"expected {loaded} loaded + {deleted} deletes; the state did not move")
            self.commit(m, loaded, deleted)
        except (SnowflakeBusyError, SnowflakeDeleteLimitError):
            # This load will not commit: undo it now rather than leave it to the next run (a refused
            # load's rows would otherwise sit in raw meanwhile; a load another loader rolled back may
            # have rows this one wrote after that roll-back).
            try:
                self.roll_back(m.table, m.load_id)
            except SnowflakeError as exc:
                self.log(f"{m.table}: load {m.load_id} is left for the next run to roll back: {exc}")
            raise
        return SnowflakeLoad(table=m.table, mode=m.mode, load_id=m.load_id, rows=loaded, deleted=deleted,
                             files=len(m.files), watermark_from=m.watermark_from,
                             watermark_to=m.watermark_to, seconds=round(time.monotonic() - t0, 3))

    def put(self, m: Manifest, location: str) -> None:
        # Parquet is compressed inside; AUTO_COMPRESS = FALSE keeps the files as they are (fakesnow and
        # the connector would otherwise gzip them).
        for name, _ in m.files:
            local = (m.directory / name).resolve().as_posix().replace("'", "\\'")
            rows = self.execute(f"PUT 'file://{local}' {location} AUTO_COMPRESS = FALSE OVERWRITE = TRUE")
            status = {str(r[6]).upper() for r in rows if len(r) > 6}
            if not rows or not status <= {"UPLOADED"}:
                raise SnowflakeLoadError(f"snowflake: table {m.table}: PUT of {name} to {location} "
                                         f"answered {rows!r}; the state did not move")

    def copy(self, m: Manifest, table_sql: str, location: str) -> int:
        rows = self.execute(
            f"COPY INTO {table_sql} FROM {location} FILE_FORMAT = (TYPE = PARQUET)"
            " MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE ON_ERROR = ABORT_STATEMENT PURGE = TRUE")
        expected = dict(m.files)
        seen: dict[str, int] = {}
        for row in rows:
            if len(row) < 4:
                raise SnowflakeLoadError(f"snowflake: table {m.table}: COPY INTO answered {row!r}")
            name, status, loaded = str(row[0]).rsplit("/", 1)[-1], str(row[1]).upper(), int(row[3] or 0)
            if status != "LOADED":
                raise SnowflakeLoadError(
                    f"snowflake: table {m.table}, file {name}: COPY INTO reported {status}"
                    f"{' (' + str(row[6]) + ')' if len(row) > 6 and row[6] else ''}; the state did not move")
            seen[name] = loaded
        if seen != expected:
            raise SnowflakeLoadError(
                f"snowflake: table {m.table}: COPY INTO confirmed {sorted(seen.items())}, the manifest lists "
                f"{sorted(expected.items())}; the state did not move")
        return sum(seen.values())

    def prescribed(self, m: Manifest, name: str, table_sql: str) -> str:
        """A statement fhload wrote into the manifest for this load: {table} stands for the raw table's
        qualified name, {log} and {leases} for FH_LOADS' and FH_LEASES' (the loader knows its database
        and schema)."""
        sql = m.statements.get(name)
        if not sql:
            raise SnowflakeLoadError(
                f"snowflake: table {m.table}: fhload's manifest {m.path} prescribes no {name} for this "
                f"{m.mode} load (written by an older fhload? rebuild it: make engine); the state did not "
                "move")
        return self.named(sql.replace("{table}", table_sql))

    def named(self, sql: str) -> str:
        """fhload's statement with its placeholders for the bookkeeping objects replaced by their
        qualified names: {log} FH_LOADS, {state} FH_STATE, {leases} FH_LEASES."""
        return (sql.replace("{log}", self.s.qualified(STATE_TABLE))
                .replace("{state}", self.s.qualified(STATE_VIEW))
                .replace("{leases}", self.s.qualified(LEASE_TABLE)))

    def check_deletes(self, m: Manifest, table_sql: str) -> None:
        """Refuse a full load that would mark more than max_delete_percent of the live keys deleted (the
        keys whose latest raw row is not a delete): a source pointed at an empty or wrong database. fhload
        prescribes the count (ingest/engine/src/stage_parquet.c, as duck_dest does it on DuckDB)."""
        live, gone = self.execute(self.prescribed(m, "count_deletes", table_sql))[0]
        live, gone = int(live), int(gone)
        limit = self.max_delete_percent
        if gone and gone * 100 > limit * live:
            raise SnowflakeDeleteLimitError(
                f"snowflake: table {m.table}: this full load would mark {gone:,} of {live:,} rows "
                f"({_percent(gone, live)}%) deleted, above the {limit}% limit (FINHOUSE_MAX_DELETE_PERCENT) "
                "— is the source the right database? If these rows really were deleted, rerun with "
                "--max-delete-percent 100")

    def record_deletes(self, m: Manifest, table_sql: str) -> int:
        """The delete rows of a full load, as fhload prescribes them."""
        return self.rowcount(self.prescribed(m, "insert_deletes", table_sql))

    def commit(self, m: Manifest, loaded: int, deleted: int) -> None:
        """The commit point: one statement turns the pending load into the table's state — only while it
        is still pending (a roll-back claims a load by moving it out of 'pending') and only while this
        loader holds the table's lease (the join). The statement is fhload's (the manifest's log_commit,
        the load log's one shape); its ROWS_LOADED is the manifest's total, which COPY INTO confirmed."""
        if loaded != m.rows:
            raise SnowflakeLoadError(f"snowflake: table {m.table}, load {m.load_id}: {loaded} rows loaded, "
                                     f"the manifest lists {m.rows}; the state did not move")
        self.renew(m.table)
        n = self.rowcount(self.prescribed(m, "log_commit", self.s.qualified(m.table)),
                          {"rows_deleted": deleted, "holder": self.holder})
        if not n:
            raise SnowflakeBusyError(
                f"snowflake: table {m.table}, load {m.load_id}: another loader rolled this load back before "
                "it could commit (this one held the lease longer than "
                f"SNOWFLAKE_LOADER_LEASE_SECONDS={self.s.lease_seconds}?); nothing was committed — rerun")


# --- running fhload ----------------------------------------------------------------------------------------


_setup_cache: dict[tuple[str, int], tuple[str, ...]] = {}


def setup_statements(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The DDL of the loader's bookkeeping objects as fhload prescribes it (`fhload --print-snowflake-setup`,
    ingest/engine/src/load_log.c: the load log FH_LOADS in the one shape of DuckDB's raw._fh_loads, the
    FH_STATE view, FH_LEASES), each CREATE … IF NOT EXISTS with {log}, {state} and {leases} for the
    qualified names (Loader.named). Asked once per process and fhload build."""
    fhload = ingest.fhload_path(env)
    key = (str(fhload), fhload.stat().st_mtime_ns)
    if key not in _setup_cache:
        proc = subprocess.run([str(fhload), "--print-snowflake-setup"], capture_output=True, text=True,
                              timeout=60, check=False, env=ingest.offline_env())
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            raise SnowflakeError(f"snowflake: {lines[-1] if lines else 'fhload --print-snowflake-setup'}: "
                                 f"exit {proc.returncode} (an older fhload? rebuild it: make engine)")
        _setup_cache[key] = tuple(json.loads(proc.stdout)["statements"])
    return _setup_cache[key]


def _select(tables: Sequence[str], groups: Sequence[str], env: Mapping[str, str]) -> list[registry.Table]:
    parsed = registry.read(ingest.registry_path(env), env)
    reg = list(parsed.tables)
    by_name = {t.name: t for t in reg}
    unknown = [t for t in tables if t not in by_name]
    if unknown:
        raise SnowflakeConfigError(
            f"snowflake: unknown table {unknown[0]!r} — not in {ingest.registry_path(env)}")
    bad = [g for g in groups if g not in parsed.groups]
    if bad:
        raise SnowflakeConfigError(
            f"snowflake: unknown group {bad[0]!r}; expected one of {', '.join(parsed.groups)}")
    if not tables and not groups:
        return reg
    return [t for t in reg if t.name in tables or t.group in groups]


def _run_fhload(tables: Sequence[str], since: str | None, full: bool, directory: Path, load_id: int,
                env: Mapping[str, str], raw_columns: Path | None = None,
                ) -> tuple[list[ingest.TableLoad], ingest.IngestError | None]:
    extra = ["--parquet", str(directory), "--load-id", str(load_id)] + (["--since", since] if since else [])
    if raw_columns is not None:
        extra += ["--raw-columns", str(raw_columns)]
    argv = ingest.command(tables, full=full, json_output=True, quiet=True, env=env, extra=extra)
    proc = subprocess.run(argv, cwd=ROOT, env=dict(env), capture_output=True, text=True, check=False)
    if proc.stderr:
        sys.stderr.write(proc.stderr if proc.stderr.endswith("\n") else proc.stderr + "\n")
    loads, errors = ingest.parse_summaries(proc.stdout)
    if proc.returncode == 0 and not errors:
        return loads, None
    code = proc.returncode or 1
    failed = [t for t, _ in errors if t] or list(tables)
    message = "; ".join(m for _, m in errors) or "\n".join(proc.stderr.strip().splitlines()[-3:])
    return loads, ingest.error_class(code)(message, tables=failed, exit_code=code, loads=loads)


def _remove_stale_workdirs(stage_root: Path) -> None:
    """Remove the Parquet files of loaders that died (killed before their `finally`): they hold customer
    data. A directory is named load-<pid>-…; one whose process is gone is stale. Loaders of other tables
    may be running at the same time (Airflow runs tables in parallel), so only dead owners' go."""
    for path in stage_root.glob("load-*-*"):
        try:
            pid = int(path.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass


def load(tables: Iterable[str] = (), groups: Iterable[str] = (), *, full: bool = False,
         max_delete_percent: int | None = None, env: Mapping[str, str] | None = None,
         log: Callable[[str], None] | None = None, connection=None) -> list[SnowflakeLoad]:
    """Load the given registered tables and entity groups (none: every table) into Snowflake's RAW layer.

    max_delete_percent: a full load that would mark more of a table's rows deleted is refused (None:
    FINHOUSE_MAX_DELETE_PERCENT, default 50; 100 allows any). Returns one SnowflakeLoad per table. Raises
    SnowflakeError (one-line message; .exit_code) or, when fhload fails, the fhload.IngestError
    of its exit code — after committing the tables fhload did stage, so the next run resumes from them.
    A table another loader is loading is left alone; the others load, then SnowflakeBusyError says which."""
    env = dict(os.environ if env is None else env)
    settings = Settings.from_env(env)
    if max_delete_percent is None:
        max_delete_percent = parse_max_delete_percent(env.get("FINHOUSE_MAX_DELETE_PERCENT"))
    elif not 0 <= max_delete_percent <= 100:
        raise SnowflakeConfigError("snowflake: --max-delete-percent expects a whole number from 0 to 100, "
                                   f"got '{max_delete_percent}'")
    env["FINHOUSE_MAX_DELETE_PERCENT"] = str(max_delete_percent)  # fhload reads it too: one value for both
    selected = _select(list(tables), list(groups), env)
    conn = connection or connect(settings)
    loader = Loader(conn, settings, log, max_delete_percent=max_delete_percent, env=env)
    stage_root = fh_config.home(env) / "snowflake-stage"
    stage_root.mkdir(parents=True, exist_ok=True)
    _remove_stale_workdirs(stage_root)
    workdir = Path(tempfile.mkdtemp(prefix=f"load-{os.getpid()}-", dir=stage_root))
    results: list[SnowflakeLoad] = []
    try:
        loader.ensure_objects()
        busy = loader.acquire(t.name for t in selected)
        held = [t for t in selected if t.name in loader.held]
        undone = loader.roll_back_pending(t.name for t in held)
        state = loader.state()
        # One fhload run per distinct watermark: first loads and full tables together, then each
        # incremental table from its own watermark.
        batches: dict[str | None, list[str]] = {}
        for t in held:
            since = None if (full or t.mode == "full") else state.get(t.name, (None, 0))[0]
            batches.setdefault(since, []).append(t.name)
        failure: ingest.IngestError | None = None
        for since, batch in batches.items():
            out = workdir / f"batch-{len(results)}-{time.monotonic_ns()}"
            load_id = loader.next_load_id()
            columns = loader.write_raw_columns(workdir / f"raw-columns-{load_id}.csv", batch)
            staged, failure = _run_fhload(batch, since, full, out, load_id, env, columns)
            for summary in staged:
                manifest = Manifest.read(out / summary.table / "manifest.json")
                if manifest.load_id != load_id:
                    raise SnowflakeLoadError(
                        f"snowflake: table {manifest.table}: fhload's manifest carries load id "
                        f"{manifest.load_id}, not the {load_id} it was given; the state did not move")
                prev = state.get(manifest.table)
                result = loader.load_manifest(manifest, previous_load=prev[1] if prev else None)
                result.rolled_back = undone.get(manifest.table, [])
                results.append(result)
                loader.log(f"{result.table}: {result.mode} load {result.load_id}: {result.rows} rows, "
                           f"{result.deleted} deletes, {result.files} files, watermark {result.watermark_to}")
            shutil.rmtree(out, ignore_errors=True)
            if failure is not None:
                break
        if failure is not None:
            for message in busy.values():
                loader.log(message.removeprefix("snowflake: "))
            raise failure
        if busy:
            first, *more = busy.values()
            raise SnowflakeBusyError("; ".join([first] + [m.removeprefix("snowflake: ") for m in more]))
        return results
    finally:
        try:
            loader.release()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            if connection is None:
                conn.close()


def run_cli(groups: Sequence[str], tables: Sequence[str], *, full: bool, json_output: bool,
            max_delete_percent: int | None = None) -> int:
    """Run load() for the CLI: a line per table (or JSON), and one line and an exit code on failure."""

    def log(message: str) -> None:
        print(f"snowflake: {message}", file=sys.stderr, flush=True)

    def terminated(signum: int, frame: Any) -> None:
        # SIGTERM (Airflow stopping the task, a timeout) unwinds the stack instead of ending the process
        # where it stands: the leases are given back and fhload, a child, is killed by subprocess.run.
        # A pending load is rolled back by the next run.
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    try:
        results = load(tables, groups, full=full, max_delete_percent=max_delete_percent, log=log)
    except SnowflakeError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except ingest.IngestError as exc:
        print(f"finhouse: {exc}", file=sys.stderr)
        return exc.exit_code
    for r in results:
        if json_output:
            print(json.dumps(r.as_dict()), flush=True)
    return 0
