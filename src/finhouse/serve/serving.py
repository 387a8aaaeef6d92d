"""The serving copy: what dashboards read, published atomically after each successful `dbt build`.

DuckDB admits one writer or many readers, never both. Superset therefore never opens the warehouse
itself: it reads `serving.duckdb` (read-only) next to it, a copy of the warehouse's marts (and the
dimension tables they join) that this module rebuilds in a temporary file beside the target and moves
into place with `os.replace` — an atomic rename. A reader that has the old copy open keeps reading the
old file (its inode lives on until closed); the next connection sees the new one. A failed build
publishes nothing.

The copy holds customers' data: it is built under umask 077 (the file, DuckDB's WAL and spill files are
mode 600 from their creation, and the published file keeps that mode), in a directory made 700 when this
creates it (the platform's own .finhouse/warehouse is narrowed to 700 in any case). Whoever serves it must
run as the same user.

    python -m finhouse.serve.serving publish [--warehouse W] [--serving S]
    python -m finhouse.serve.serving build-and-publish [-- dbt args…]   # dbt build, then publish if it passed
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from finhouse import config as fh_config

ROOT = fh_config.ROOT
SCHEMAS = ("marts",)


def warehouse_path() -> Path:
    return fh_config.warehouse_path().resolve()


def serving_path() -> Path:
    return fh_config.serving_path().resolve()


@dataclass(frozen=True)
class Published:
    path: Path
    tables: int
    rows: int
    seconds: float


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def publish(warehouse: Path | None = None, serving: Path | None = None,
            schemas: tuple[str, ...] = SCHEMAS) -> Published:
    """Copy the warehouse's `schemas` (tables and views, materialised as tables) into a new file beside
    `serving` and atomically replace it. Raises (and leaves the old copy in place) on any error."""
    warehouse = Path(warehouse or warehouse_path()).resolve()
    serving = Path(serving or serving_path()).resolve()
    if not warehouse.exists():
        raise FileNotFoundError(f"serving: no warehouse at {warehouse}")
    fh_config.private_dir(serving.parent, fh_config.home())
    tmp = serving.with_name(f".{serving.name}.{os.getpid()}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    start = time.monotonic()
    try:
        with fh_config.private_umask():  # the file, its WAL and spill files: 600 from their creation
            tables, rows = _build(tmp, warehouse, schemas)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, serving)
        dir_fd = os.open(serving.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
        raise
    return Published(serving, tables, rows, time.monotonic() - start)


def _build(path: Path, warehouse: Path, schemas: tuple[str, ...]) -> tuple[int, int]:
    """Create the DuckDB file `path` holding copies of the warehouse's `schemas`; (tables, rows) copied."""
    import duckdb

    tables = rows = 0
    con = duckdb.connect(str(path))
    try:
        con.execute(f"ATTACH {_sql_str(str(warehouse))} AS src (READ_ONLY)")
        for schema in schemas:
            objects = con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = 'src' AND table_schema = ? ORDER BY table_name",
                [schema]).fetchall()
            if not objects:
                raise RuntimeError(f"serving: schema {schema!r} of {warehouse} is empty or missing")
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
            for (name,) in objects:
                q = f"{_quote(schema)}.{_quote(name)}"
                con.execute(f"CREATE TABLE {q} AS SELECT * FROM src.{q}")
                rows += con.execute(f"SELECT count(*) FROM {q}").fetchone()[0]
                tables += 1
        con.execute("DETACH src")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return tables, rows


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def build_and_publish(dbt_args: list[str] | None = None, *, dbt: str | None = None,
                      warehouse: Path | None = None, serving: Path | None = None) -> Published | None:
    """Run `dbt build` on the DuckDB warehouse; publish the serving copy only when it succeeded.
    Returns None (and publishes nothing) when the build failed."""
    dbt = dbt or str(Path(sys.executable).with_name("dbt"))
    project = ROOT / "transform" / "finhouse"
    cmd = [dbt, "build", "--project-dir", str(project), "--profiles-dir", str(project), *(dbt_args or [])]
    env = fh_config.environ()
    if warehouse:
        env["FINHOUSE_DUCKDB_PATH"] = str(warehouse)
    if subprocess.call(cmd, env=env) != 0:
        print("serving: dbt build failed; the serving copy is left as it was", file=sys.stderr)
        return None
    return publish(warehouse, serving)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finhouse.serve.serving", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["publish", "build-and-publish"])
    parser.add_argument("--warehouse", type=Path, help="default: FINHOUSE_DUCKDB_PATH")
    parser.add_argument("--serving", type=Path, help="default: FINHOUSE_SERVING_PATH")
    parser.add_argument("dbt_args", nargs="*", help="extra dbt build arguments (after --)")
    args = parser.parse_args(argv)
    if args.command == "publish":
        result = publish(args.warehouse, args.serving)
    else:
        result = build_and_publish(args.dbt_args, warehouse=args.warehouse, serving=args.serving)
        if result is None:
            return 1
    print(f"serving: published {result.tables} tables, {result.rows} rows to {result.path} "
          f"in {result.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
