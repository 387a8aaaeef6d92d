"""Fixtures of the CDC end-to-end tests (`fhload stream`, issue 18): a private PostgreSQL with
wal_level = logical (scripts/pg-logical: port FINHOUSE_CDC_PG_PORT, default 5441, directory
FINHOUSE_CDC_PG_DIR, default .finhouse/pg-logical — started if it is not running, and stopped at the end
of the session only then), a core-banking database on it migrated by the Django project and seeded by its
simulator once per session (the template), and for each test module its own copy of it (CREATE DATABASE
… TEMPLATE: a second, where migrate + simulate take several), with its own replication slot. Every
database is dropped at the end, slots first.

Nothing is mocked or skipped: without PostgreSQL's binaries or a built fhload, the tests fail
and say why."""

from __future__ import annotations

import itertools
import os

import pytest
from cdc_support import FHLOAD, PREFIX, Source, admin, drop_database, pg_logical

from simulator.testing import manage

_copies = itertools.count(1)


@pytest.fixture(scope="session")
def cdc_cluster():
    started = pg_logical("status").returncode != 0
    proc = pg_logical("start")
    if proc.returncode != 0:
        pytest.fail(f"scripts/pg-logical start failed: {proc.stderr.strip()}")
    try:
        yield proc.stdout.strip()
    finally:
        if started:
            pg_logical("stop")


@pytest.fixture(scope="session")
def cdc_template(cdc_cluster):
    """The simulated institution (40 customers, a year of history), migrated and seeded once."""
    if not os.access(FHLOAD, os.X_OK):
        pytest.fail(f"{FHLOAD} is not built; run `make engine`")
    name = f"{PREFIX}_tpl"
    drop_database(name)
    admin(f'CREATE DATABASE "{name}"')
    tpl = Source(name)
    try:
        manage(tpl.url, "migrate", "--no-input", "-v", "0")
        manage(
            tpl.url,
            "simulate",
            "--customers",
            "40",
            "--years",
            "1",
            "--seed",
            "3",
            "--until",
            "2025-06-30",
            "--reset",
        )
        yield name
    finally:
        drop_database(name)


def _copy(template: str) -> Source:
    name = f"{PREFIX}_{next(_copies)}"
    drop_database(name)
    admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return Source(name)


@pytest.fixture(scope="module")
def source(cdc_template):
    """This module's own copy of the institution."""
    src = _copy(cdc_template)
    try:
        yield src
    finally:
        drop_database(src.name)


@pytest.fixture
def fresh_source(cdc_template):
    """A copy of the institution for one test (one that breaks its database on purpose)."""
    src = _copy(cdc_template)
    try:
        yield src
    finally:
        drop_database(src.name)
