"""Airflow's and Superset's metadata databases belong to roles of their own (serve.metadb), never to the
OLTP's owner: the role is a plain login role (no superuser, CREATEDB or CREATEROLE), owns its database and
everything in it — also when an earlier version created the database and its tables as the administrator —
and PUBLIC may not connect to that database. Both setups (orchestrate/bin/setup-db, serve/fh_superset.py
setup-db) call this, and default to the roles finhouse_airflow and finhouse_superset.

On the real PostgreSQL; the database and role are named after FINHOUSE_TEST_DB and dropped at the end."""

from __future__ import annotations

import os
import subprocess

import psycopg
import pytest

from finhouse import config as fh_config
from finhouse.config import ROOT
from finhouse.serve import metadb

PG_ADMIN = os.environ.get("FINHOUSE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
PREFIX = f"{os.environ.get('FINHOUSE_TEST_DB') or 'test_finhouse'}_meta_{os.getpid()}"
DB, ROLE = PREFIX, f"{PREFIX}_role"


def _admin(sql: str, db: str = "postgres") -> list[tuple]:
    with psycopg.connect(f"{PG_ADMIN}/{db}", autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


@pytest.fixture
def earlier_database():
    """A metadata database as earlier versions left it: created, and filled, by the administrator."""
    _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    _admin(f'DROP ROLE IF EXISTS "{ROLE}"')
    _admin(f'CREATE DATABASE "{DB}"')
    _admin(
        "CREATE TYPE state AS ENUM ('queued', 'running'); "
        "CREATE TABLE job (id serial PRIMARY KEY, s state); CREATE VIEW jobs AS SELECT * FROM job",
        DB,
    )
    yield
    _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    _admin(f'DROP ROLE IF EXISTS "{ROLE}"')


def test_the_service_role_owns_its_database_and_everything_in_it(earlier_database):
    done = metadb.ensure_service_database(psycopg.connect, f"{PG_ADMIN}/postgres", DB, ROLE)
    assert done[0] == f"created role {ROLE}" and any("objects given to" in line for line in done), done
    [(superuser, createdb, createrole, login)] = _admin(
        f"SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles WHERE rolname = '{ROLE}'"
    )
    assert (superuser, createdb, createrole, login) == (False, False, False, True)
    [(owner, acl)] = _admin(
        f"SELECT pg_get_userbyid(datdba), datacl::text FROM pg_database WHERE datname = '{DB}'"
    )
    assert owner == ROLE
    assert not [entry for entry in acl.strip("{}").split(",") if entry.startswith("=")], f"PUBLIC in {acl}"
    owners = dict(
        _admin(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'",
            DB,
        )
    )
    owners.update(
        _admin("SELECT typname, pg_get_userbyid(typowner) FROM pg_type WHERE typname = 'state'", DB)
    )
    assert set(owners) >= {"job", "job_id_seq", "job_pkey", "jobs", "state"}
    assert set(owners.values()) == {ROLE}, owners
    # the role works in its database (what `airflow db migrate` and `superset db upgrade` need) ...
    with psycopg.connect(f"{PG_ADMIN.replace('postgres@', f'{ROLE}@', 1)}/{DB}", autocommit=True) as conn:
        conn.execute("CREATE TABLE mine (x int); INSERT INTO job (s) VALUES ('queued')")
        # ... and nowhere else: it cannot create a database or a role
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f'CREATE DATABASE "{DB}_x"')
    # rerunning changes nothing
    assert metadb.ensure_service_database(psycopg.connect, f"{PG_ADMIN}/postgres", DB, ROLE) == []


def test_a_superuser_is_refused_as_a_service_role():
    superuser = f"{PREFIX}_su"
    _admin(f'DROP ROLE IF EXISTS "{superuser}"')
    _admin(f'CREATE ROLE "{superuser}" SUPERUSER')
    try:
        with pytest.raises(SystemExit, match="superuser"):
            metadb.ensure_service_database(psycopg.connect, f"{PG_ADMIN}/postgres", DB, superuser)
        assert not _admin(f"SELECT 1 FROM pg_database WHERE datname = '{DB}'")
    finally:
        _admin(f'DROP ROLE IF EXISTS "{superuser}"')


def test_airflow_and_superset_default_to_roles_of_their_own():
    env = dict(os.environ, FINHOUSE_OLTP_URL="postgresql://postgres@db.example:5432/microfinance")
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    airflow = ROOT / "orchestrate" / "bin" / "with-env"
    if (ROOT / ".finhouse" / "airflow-venv" / "bin" / "airflow").exists():
        proc = subprocess.run(
            [str(airflow), "sh", "-c", "echo $AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.stdout.strip() == "postgresql+psycopg2://finhouse_airflow@db.example:5432/airflow", (
            proc.stderr
        )
    # superset_config.metadata_url alone: importing the module would generate a secret key file
    path = ROOT / "serve" / "superset_config.py"
    namespace: dict = {"__file__": str(path)}
    exec(compile(path.read_text().split("\nSECRET_KEY = ")[0], str(path), "exec"), namespace)
    assert (
        namespace["metadata_url"]({"FINHOUSE_OLTP_URL": env["FINHOUSE_OLTP_URL"],  # with-env's defaults
                                   "SUPERSET_DATABASE_USER": fh_config.get("SUPERSET_DATABASE_USER")})
        == "postgresql+psycopg2://finhouse_superset@db.example:5432/superset"
    )
    assert (
        namespace["metadata_url"](
            {
                "FINHOUSE_OLTP_URL": env["FINHOUSE_OLTP_URL"],
                "SUPERSET_DATABASE_USER": "ss",
                "SUPERSET_DATABASE_PASSWORD": "p@ss",
            }
        )
        == "postgresql+psycopg2://ss:p%40ss@db.example:5432/superset"
    )
