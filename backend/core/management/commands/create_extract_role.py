"""`manage.py create_extract_role`: the SELECT-only PostgreSQL role fhload extracts with.

    FINHOUSE_EXTRACT_PASSWORD=… python backend/manage.py create_extract_role [--name finhouse_extract]

Creates the login role (or sets its password if it exists) and grants it exactly what extraction needs:
CONNECT on this database, USAGE on the schema, SELECT on every table of the table registry
(ingest/registry.tsv), and default privileges so that tables later migrations create in the schema are
readable too (run by the user that runs the migrations, whose future tables they cover). The role is
read-only twice over: it holds no INSERT, UPDATE, DELETE, TRUNCATE or CREATE privilege, and its sessions
default to read-only transactions. Point fhload at it with
FINHOUSE_OLTP_URL=postgresql://finhouse_extract:…@host/db (a read replica, in production).

Default privileges cover every future table of the schema, not only the registry's; where that is too
broad, pass --no-default-privileges and rerun this command after a migration that adds a registered
table. Idempotent: running it again changes nothing but the password."""

from __future__ import annotations

import os
import re

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Command(BaseCommand):
    help = "Create or update the SELECT-only PostgreSQL role that fhload extracts with."
    requires_system_checks: list = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", default=os.environ.get("FINHOUSE_EXTRACT_ROLE", "finhouse_extract"),
                            help="role name (default $FINHOUSE_EXTRACT_ROLE or finhouse_extract)")
        parser.add_argument("--schema", default="public", help="schema of the OLTP tables (default public)")
        parser.add_argument("--no-default-privileges", action="store_true",
                            help="grant SELECT on the registry's tables only, not on future tables")

    def handle(self, *args, **options) -> None:
        from psycopg import sql

        from finhouse import ingest, registry

        name, schema = options["name"], options["schema"]
        if not NAME.match(name) or not NAME.match(schema):
            raise CommandError(
                f"create_extract_role: {name!r} / {schema!r}: use lower-case letters, digits and _")
        password = os.environ.get("FINHOUSE_EXTRACT_PASSWORD")
        if not password:
            raise CommandError("create_extract_role: set FINHOUSE_EXTRACT_PASSWORD to the role's password")
        tables = [t.name for t in registry.load(ingest.registry_path())]

        role, sch = sql.Identifier(name), sql.Identifier(schema)
        with connection.cursor() as cur:
            raw = cur.cursor  # psycopg's cursor: sql.Composed needs it
            missing = [t for t in tables if not _table_exists(raw, schema, t)]
            if missing:
                raise CommandError(f"create_extract_role: registry tables missing from schema {schema}: "
                                   f"{', '.join(missing)} — run migrate first")
            raw.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
            verb = "ALTER" if raw.fetchone() else "CREATE"
            raw.execute(sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
                                "NOREPLICATION PASSWORD {}").format(role, sql.Literal(password)))
            raw.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(role))
            raw.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(connection.settings_dict["NAME"]), role))
            raw.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sch, role))
            raw.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
                sql.SQL(", ").join(sql.Identifier(schema, t) for t in tables), role))
            if not options["no_default_privileges"]:
                raw.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}")
                            .format(sch, role))
        done = "created" if verb == "CREATE" else "updated"
        later = "" if options["no_default_privileges"] else " and on tables created there later"
        self.stdout.write(f"extract role {name}: {done}; SELECT on {len(tables)} registry tables in "
                          f"schema {schema}{later}")


def _table_exists(cur, schema: str, table: str) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"."{table}"',))
    return bool(cur.fetchone()[0])
