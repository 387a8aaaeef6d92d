"""The metadata databases of Airflow and Superset, each owned by a PostgreSQL role of its own.

Airflow and Superset keep users, connections and secrets in a database on the OLTP's PostgreSQL server.
Connected as the OLTP's owner (a superuser, locally) a flaw in either would reach the core banking books;
each connects instead as its own role (finhouse_airflow, finhouse_superset by default): LOGIN, no
superuser, no CREATEDB, no CREATEROLE, owner of its database and of nothing else, and PUBLIC may not
connect to that database. `ensure_service_database` creates the role and the database, connected as an
administrator (FINHOUSE_PG_ADMIN_URL, else the OLTP URL's user — who created the databases before), and
takes over a database an earlier version created as the administrator: the database and every table,
sequence, view and type in it are given to the role.

Stdlib only apart from the driver the caller passes (psycopg2 in Airflow's and Superset's environments,
psycopg in the platform's): both environments import this from src/.
"""

from __future__ import annotations

import os
import urllib.parse as u
from collections.abc import Callable
from typing import Any


def admin_url(fallback: str) -> str:
    """The server administrator's URL (database `postgres`): FINHOUSE_PG_ADMIN_URL, else `fallback` (a URL
    on the same server, e.g. the OLTP's) with its database replaced."""
    url = os.environ.get("FINHOUSE_PG_ADMIN_URL") or fallback
    parts = u.urlsplit(url)
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    return u.urlunsplit(parts._replace(scheme=scheme, path="/postgres"))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# Every relation and user-defined type outside the system schemas not owned by the role yet: tables first
# (which takes their owned sequences along), then the rest.
_TAKE_OVER = """
DO $take_over$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.oid::regclass AS obj, c.relkind
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
             AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relowner <> {role_oid}
           ORDER BY c.relkind IN ('r', 'p') DESC
  LOOP
    CONTINUE WHEN (SELECT relowner FROM pg_class WHERE oid = r.obj) = {role_oid};
    EXECUTE format('ALTER %s %s OWNER TO %I',
                   CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                  WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                                  ELSE 'TABLE' END, r.obj, {role_name});
  END LOOP;
  FOR r IN SELECT t.oid::regtype AS obj FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND t.typtype IN ('e', 'd')
             AND t.typowner <> {role_oid}
  LOOP
    EXECUTE format('ALTER TYPE %s OWNER TO %I', r.obj, {role_name});
  END LOOP;
END
$take_over$
"""


def ensure_service_database(connect: Callable[[str], Any], admin: str, database: str, role: str,
                            password: str | None = None) -> list[str]:
    """Make `role` a plain login role owning `database` (both created if missing) on the server `admin`
    reaches; returns what was done, one line each. `connect(dsn)` opens a DB-API connection."""
    done: list[str] = []
    conn = connect(admin)
    conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
    try:
        cur = conn.cursor()
        cur.execute("SELECT current_user")
        if cur.fetchone()[0] == role:
            # The administrator's own database (the tests' throwaway ones; the callers warn otherwise):
            # created if missing, nothing to hand over.
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE {_ident(database)}")
                done.append(f"created database {database}")
            return done
        cur.execute("SELECT rolsuper, oid FROM pg_roles WHERE rolname = %s", [role])
        row = cur.fetchone()
        if row is None:
            cur.execute(f"CREATE ROLE {_ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION")
            done.append(f"created role {role}")
        elif row[0]:
            raise SystemExit(f"metadb: role {role} is a superuser; a metadata database's role must not be")
        if password:
            cur.execute(f"ALTER ROLE {_ident(role)} PASSWORD {_literal(password)}")
        cur.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [database])
        row = cur.fetchone()
        if row is None:
            cur.execute(f"CREATE DATABASE {_ident(database)} OWNER {_ident(role)}")
            done.append(f"created database {database} owned by {role}")
        elif row[0] != role:
            cur.execute(f"ALTER DATABASE {_ident(database)} OWNER TO {_ident(role)}")
            done.append(f"database {database}: owner {row[0]} -> {role}")
        cur.execute(f"REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC")
    finally:
        conn.close()
    # The objects inside (an earlier version created them as the administrator): connected to the database.
    parts = u.urlsplit(admin)
    conn = connect(u.urlunsplit(parts._replace(path="/" + database)))
    conn.autocommit = True
    try:
        cur = conn.cursor()
        cur.execute("SELECT oid FROM pg_roles WHERE rolname = %s", [role])
        (role_oid,) = cur.fetchone()
        cur.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                    "AND n.nspname NOT LIKE 'pg_toast%%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
                    "AND c.relowner <> %s", [role_oid])
        (foreign,) = cur.fetchone()
        if foreign:
            cur.execute(_TAKE_OVER.format(role_oid=int(role_oid), role_name=_literal(role)))
            done.append(f"database {database}: {foreign} objects given to {role}")
    finally:
        conn.close()
    return done
