"""`finhouse extract-role`: the SELECT-only PostgreSQL role fhload extracts with.

    FINHOUSE_EXTRACT_PASSWORD=… finhouse extract-role [--name finhouse_extract] [--schema public]

Creates the login role (or sets its password if it exists) in the database at FINHOUSE_OLTP_URL and grants
it exactly what extraction needs: CONNECT on this database, USAGE on the schema, SELECT on every table of
the table registry (ingest/registry.tsv), and default privileges so that tables later migrations create in
the schema are readable too (run as the user that runs the migrations, whose future tables they cover).
The role is read-only twice over: it holds no INSERT, UPDATE, DELETE, TRUNCATE or CREATE privilege, and its
sessions default to read-only transactions. Point fhload at it with
FINHOUSE_OLTP_URL=postgresql://finhouse_extract:…@host/db (a read replica, in production).

It is the ingestion's role, so it lives on the platform's side: it needs the registry, and the core banking
backend does not import the platform (it was `manage.py create_extract_role` before).

Default privileges cover every future table of the schema, not only the registry's; where that is too
broad, pass --no-default-privileges and rerun this command after a migration that adds a registered
table. Idempotent: running it again changes nothing but the password."""

from __future__ import annotations

import re
from collections.abc import Mapping

from finhouse import config as fh_config
from finhouse.ingest import fhload as ingest
from finhouse.ingest import registry

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ExtractRoleError(RuntimeError):
    """What is wrong, in one line for the user."""


def create(url: str, name: str, password: str, *, schema: str = "public",
           default_privileges: bool = True, env: Mapping[str, str] | None = None) -> str:
    """Create or update the role `name` in the database at `url`; the line to tell the user."""
    import psycopg
    from psycopg import sql

    if not NAME.match(name) or not NAME.match(schema):
        raise ExtractRoleError(f"extract-role: {name!r} / {schema!r}: use lower-case letters, digits and _")
    if not password:
        raise ExtractRoleError("extract-role: set FINHOUSE_EXTRACT_PASSWORD to the role's password")
    tables = [t.name for t in registry.load(ingest.registry_path(env))]

    role, sch = sql.Identifier(name), sql.Identifier(schema)
    with psycopg.connect(url, connect_timeout=5) as conn, conn.cursor() as cur:
        missing = [t for t in tables if not _table_exists(cur, schema, t)]
        if missing:
            raise ExtractRoleError(f"extract-role: registry tables missing from schema {schema}: "
                                   f"{', '.join(missing)} — run migrate first")
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
        verb = "ALTER" if cur.fetchone() else "CREATE"
        cur.execute(sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
                            "NOREPLICATION PASSWORD {}").format(role, sql.Literal(password)))
        cur.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(role))
        cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(conn.info.dbname), role))
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sch, role))
        cur.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
            sql.SQL(", ").join(sql.Identifier(schema, t) for t in tables), role))
        if default_privileges:
            cur.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}")
                        .format(sch, role))
    done = "created" if verb == "CREATE" else "updated"
    later = " and on tables created there later" if default_privileges else ""
    return f"extract role {name}: {done}; SELECT on {len(tables)} registry tables in schema {schema}{later}"


def _table_exists(cur, schema: str, table: str) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"."{table}"',))
    return bool(cur.fetchone()[0])


def run(args) -> int:
    """The CLI subcommand (finhouse.cli): one line on success or failure."""
    import sys

    try:
        print(create(fh_config.oltp_url(), args.name, fh_config.get("FINHOUSE_EXTRACT_PASSWORD") or "",
                     schema=args.schema, default_privileges=not args.no_default_privileges))
    except ExtractRoleError as exc:
        print(f"finhouse {exc}", file=sys.stderr)
        return 2
    return 0
