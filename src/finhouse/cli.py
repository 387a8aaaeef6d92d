"""The `finhouse` command: one entry point to the platform's parts.

    finhouse simulate …   write a simulated institution's history into the OLTP (Django's `simulate`)
    finhouse ingest …     load the OLTP into the warehouse's RAW layer (runs the C engine `fhload`)
    finhouse demo         the whole platform: migrate, simulate, ingest through Airflow, serve
    finhouse extract-role the SELECT-only PostgreSQL role fhload extracts with
    finhouse admin-password  print the platform admin's password (generated once when not configured)

Each subcommand runs the part that owns the work (Django management commands, `fhload`, later dbt,
Airflow); this module only wires them together and reports in one line when something is wrong."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from finhouse import __version__
from finhouse import config as fh_config
from finhouse.ingest import registry


def _manage(cfg: fh_config.Config, *args: str, check: bool = True) -> int:
    """Run `python corebanking/manage.py ARGS` in the platform's environment; its own messages go to the
    user."""
    env = dict(fh_config.environ(), FINHOUSE_OLTP_URL=cfg.oltp_url, DJANGO_SETTINGS_MODULE="config.settings")
    code = subprocess.call([sys.executable, str(cfg.manage_py), *args], env=env, cwd=cfg.root)
    if check and code != 0:
        raise SystemExit(code)
    return code


def cmd_simulate(cfg: fh_config.Config, rest: list[str]) -> int:
    return _manage(cfg, "simulate", *rest, check=False)


def cmd_ingest(cfg: fh_config.Config, args: argparse.Namespace) -> int:
    """Run fhload for the named groups and tables (none named: every registered table), its output
    straight to the terminal; on failure, one line naming what the exit code means."""
    from finhouse.ingest import fhload as ingest

    env = dict(os.environ, FINHOUSE_OLTP_URL=cfg.oltp_url)
    extra = [] if args.max_delete_percent is None else ["--max-delete-percent", str(args.max_delete_percent)]
    try:
        code = ingest.exec_interactive(args.groups, args.table, full=args.full, reconcile=args.reconcile,
                                       json_output=args.json, extra=extra, env=env)
    except ingest.FhloadNotFound:
        print("finhouse ingest: the engine fhload is not built; run `make engine`", file=sys.stderr)
        return 2
    if code not in (0, 130, -2):
        meaning = ingest.error_class(code).meaning
        print(f"finhouse ingest: fhload failed (exit {code}: {meaning})", file=sys.stderr)
    return 130 if code == -2 else code


def cmd_demo(cfg: fh_config.Config, args: argparse.Namespace) -> int:
    from finhouse import demo

    return demo.run(cfg, args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finhouse",
        description="finhouse: the analytics and data platform of a microfinance institution.",
        epilog="Configuration comes from FINHOUSE_* environment variables; see .env.example.",
    )
    parser.add_argument("--version", action="version", version=f"finhouse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser(
        "simulate",
        help="write a simulated institution's history into the OLTP database",
        description="Runs `python corebanking/manage.py simulate`; every option is passed through "
        "(see `finhouse simulate --help`).",
        add_help=False,
    )
    ingest = sub.add_parser(
        "ingest",
        help="load the OLTP into the warehouse's RAW layer (runs fhload)",
        description="Runs the engine fhload for the given entity groups (default: every registered table); "
        "incremental tables load what changed since their watermark, full tables a snapshot. "
        "Source and warehouse come from FINHOUSE_OLTP_URL and FINHOUSE_DUCKDB_PATH.",
        epilog="Exit codes (fhload's): 0 every table loaded; 1 internal; 2 usage or configuration; "
        "3 connection; 4 schema; 5 data (a value that does not fit, a load over the delete limit).",
    )
    ingest.add_argument("groups", nargs="*", metavar="GROUP",  # checked in main: choices breaks nargs="*"
                        help=f"entity groups to load: {_groups_help()}")
    ingest.add_argument("--table", action="append", default=[], metavar="TABLE",
                        help="also load this registered table (repeatable)")
    mode = ingest.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="full loads, whatever the tables' mode")
    mode.add_argument("--reconcile", action="store_true",
                      help="compare the tables with the source and load only what differs: hard deletes and "
                      "commits older than the lookback, which incremental loads miss (Airflow runs it "
                      "daily)")
    ingest.add_argument("--max-delete-percent", type=_percent, default=None, metavar="P",
                        help="refuse a full load or reconciliation that would mark more than P%% of a "
                        "table's rows deleted; 100 allows any [env FINHOUSE_MAX_DELETE_PERCENT, default 50]")
    ingest.add_argument("--json", action="store_true", help="one JSON summary per table on stdout")
    demo = sub.add_parser("demo", help="set up the demo institution and serve the admin and the API")
    demo.add_argument("--reset", action="store_true", help="simulate anew even if the database holds data")
    demo.add_argument("--no-serve", action="store_true",
                      help="prepare everything, then exit instead of serving")
    role = sub.add_parser(
        "extract-role",
        help="create or update the SELECT-only PostgreSQL role fhload extracts with",
        description="Creates the login role in the database at FINHOUSE_OLTP_URL (password from "
        "FINHOUSE_EXTRACT_PASSWORD) with SELECT on the registry's tables only, read-only sessions; "
        "idempotent. See finhouse/ingest/extract_role.py.",
    )
    role.add_argument("--name", default=fh_config.get("FINHOUSE_EXTRACT_ROLE"),
                      help="role name [env FINHOUSE_EXTRACT_ROLE]")
    role.add_argument("--schema", default="public", help="schema of the OLTP tables (default public)")
    role.add_argument("--no-default-privileges", action="store_true",
                      help="grant SELECT on the registry's tables only, not on future tables")
    sub.add_parser(
        "admin-password",
        help="print the platform admin's password: FINHOUSE_ADMIN_PASSWORD, else the one generated once",
        description="Prints FINHOUSE_ADMIN_PASSWORD, else the password kept in $FINHOUSE_HOME/admin-password "
        "(generated there, mode 600, the first time). Make hands it to Superset's setup.",
    )
    snow = sub.add_parser(  # the Snowflake leg (finhouse.ingest.snowflake); `ingest` loads DuckDB
        "snowflake-load",
        help="load the OLTP into Snowflake's RAW layer (fhload --parquet, PUT, COPY INTO)",
        description="Runs fhload --parquet for the given entity groups (default: every registered table) "
        "from the watermarks kept in Snowflake, then PUT and COPY INTO; the state moves only once Snowflake "
        "confirms every file. Connection from SNOWFLAKE_* variables (see .env.example).",
    )
    snow.add_argument("groups", nargs="*", metavar="GROUP", help="entity groups to load")
    snow.add_argument("--table", action="append", default=[], metavar="TABLE", help="also load this table")
    snow.add_argument("--full", action="store_true", help="full loads, whatever the tables' mode")
    snow.add_argument("--json", action="store_true", help="one JSON summary per table on stdout")
    snow.add_argument("--max-delete-percent", type=_percent, default=None, metavar="P",
                      help="refuse a full load that would mark more than P%% of a table's rows deleted (a "
                      "source pointed at an empty or wrong database); 100 allows any "
                      "[env FINHOUSE_MAX_DELETE_PERCENT, default 50]")
    snow.epilog = ("Exit codes: 0 every table loaded; 2 configuration; 3 connection; 4 schema; 5 data "
                   "(a file Snowflake did not confirm, a full load over the delete limit); 6 another loader "
                   "holds a table (its lease, in FH_LEASES); fhload's own codes when it fails.")
    return parser


def _groups_help() -> str:
    """The entity groups, as fhload knows them; without a built fhload, where they are listed."""
    from finhouse.ingest import fhload as ingest

    try:
        return ", ".join(registry.groups())
    except (ingest.FhloadNotFound, registry.RegistryError):
        return "see `fhload --help` (run `make engine` first)"


def _percent(value: str) -> int:
    """--max-delete-percent, read as fhload reads it (a whole number from 0 to 100)."""
    from finhouse.ingest import snowflake

    try:
        return snowflake.parse_max_delete_percent(value, "--max-delete-percent", empty_is_default=False)
    except snowflake.SnowflakeConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("snowflake: --max-delete-percent ")) from None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cfg = fh_config.load()
    if argv[:1] == ["simulate"]:  # pass everything through, --help included
        return cmd_simulate(cfg, argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "ingest" and args.groups:
        from finhouse.ingest import fhload as ingest

        try:
            known = registry.groups()
        except ingest.FhloadNotFound:
            known = args.groups  # cmd_ingest says the engine is not built
        unknown = [g for g in args.groups if g not in known]
        if unknown:
            parser.error(f"ingest: unknown entity group {unknown[0]!r}; expected one of {', '.join(known)}")
    try:
        if args.command == "demo":
            return cmd_demo(cfg, args)
        if args.command == "snowflake-load":
            from finhouse.ingest import snowflake

            return snowflake.run_cli(args.groups, args.table, full=args.full, json_output=args.json,
                                     max_delete_percent=args.max_delete_percent)
        if args.command == "ingest":
            return cmd_ingest(cfg, args)
        if args.command == "admin-password":
            password, generated = fh_config.admin_password(cfg)
            if generated:
                print(f"finhouse: generated the admin's password into {cfg.home / 'admin-password'}",
                      file=sys.stderr)
            print(password)
            return 0
        if args.command == "extract-role":
            from finhouse.ingest import extract_role

            return extract_role.run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, not a traceback, for anything the steps did not report themselves
        import psycopg

        if isinstance(exc, psycopg.OperationalError):
            print(f"finhouse: cannot reach the OLTP database at {_redact(cfg.oltp_url)}: "
                  f"{str(exc).strip().splitlines()[-1]}", file=sys.stderr)
            return 3
        raise
    return 2


def _redact(url: str) -> str:
    """`url` without its password."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urllib.parse.urlunsplit(parts)


if __name__ == "__main__":
    raise SystemExit(main())
