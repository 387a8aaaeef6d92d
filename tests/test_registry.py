"""The registry agrees with the core banking system: every business table is loaded, with a real key
and a cursor column that a trigger keeps moving — or, for an append-only table (the audit log), that
the database refuses to change at all — in the entity group named after the Django app that owns it.
Python reads the registry only through fhload (`--print-registry`): its errors, its groups, its cache.
The benchmark's registry is held to the same parser."""

import os
import time

import pytest
from django.apps import apps
from django.db import connection

from finhouse.config import ROOT
from finhouse.ingest import registry

PLATFORM_APPS = {"customers", "savings", "loans", "payments", "ledger", "investments", "audit", "access"}
# tables whose rows never change after insert (a trigger refuses UPDATE and DELETE): the cursor is the
# insert time and nothing needs to move it
APPEND_ONLY = {"audit_log": "audit_log_append_only"}
# one vocabulary: the entity groups are the names of the Django apps that own the tables, in this order
GROUP_APPS = ("customers", "savings", "loans", "payments", "ledger", "investments")
# the apps that serve every other (the audit trail, maker-checker) load with the people who act in them
CROSS_CUTTING_APPS = {"audit": "customers", "access": "customers"}


def test_registry_parses_and_covers_six_groups():
    reg = registry.read()
    assert reg.groups == GROUP_APPS
    groups = registry.by_group(reg)
    assert list(groups) == list(GROUP_APPS)
    assert all(groups[g] for g in reg.groups), "every entity group has at least one table"


def test_each_table_is_in_the_group_of_its_django_app():
    app_of = {m._meta.db_table: m._meta.app_label for m in apps.get_models()}
    for table in registry.load():
        app = app_of[table.name]
        assert table.group == CROSS_CUTTING_APPS.get(app, app), f"{table.name} (app {app}): {table.group}"
    assert set(GROUP_APPS) <= {a.label for a in apps.get_app_configs()}


def test_every_business_table_is_registered_and_nothing_else():
    registered = {t.name for t in registry.load()}
    models = {m._meta.db_table for m in apps.get_models() if m._meta.app_label in PLATFORM_APPS}
    assert models - registered == set(), "tables missing from ingest/registry.tsv"
    assert registered - models == set(), "registry lists tables the backend does not have"


@pytest.mark.django_db
def test_keys_and_cursors_exist_and_cursors_are_touched_by_trigger():
    with connection.cursor() as cur:
        for table in registry.load():
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table.name]
            )
            columns = {row[0] for row in cur.fetchall()}
            assert set(table.key) <= columns, f"{table.name}: key {table.key} not among its columns"
            assert table.cursor in columns, f"{table.name}: cursor {table.cursor} not among its columns"
            trigger = APPEND_ONLY.get(table.name, f"{table.name}_touch_updated_at")
            cur.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s",
                [table.name, trigger],
            )
            assert cur.fetchone()[0] == 1, f"{table.name}: no trigger {trigger} (moving {table.cursor}, or "
            "refusing changes)"


def test_malformed_registry_is_fhloads_one_line(tmp_path):
    bad = tmp_path / "registry.tsv"
    bad.write_text("# comment\nloans loans id updated_at sometimes\n")
    with pytest.raises(registry.RegistryError) as caught:
        registry.load(bad)
    assert str(caught.value) == f"fhload: {bad}:2: mode 'sometimes' of loans must be 'incremental' or 'full'"
    # what only the engine checked before: identifiers, cursors, the old group names
    for line, message in [
        ("loans loans id - incremental", "loans is incremental but has no cursor ('-')"),
        ("loans loans id up-dated full", "cursor 'up-dated' of loans is not a column name"),
        ("1oans loans id - full", "table name '1oans' is not a valid identifier"),
        ("customers users id updated_at full", "unknown group 'users' for table customers — use one of: "
         "customers, savings, loans, payments, ledger, investments"),
    ]:
        bad.write_text(line + "\n")
        os.utime(bad, ns=(time.time_ns(), time.time_ns() + 1))  # a new version, whatever the clock's grain
        with pytest.raises(registry.RegistryError) as caught:
            registry.load(bad)
        assert str(caught.value).startswith(f"fhload: {bad}:1: {message}"), line
    with pytest.raises(registry.RegistryError, match="cannot read registry .*missing.tsv"):
        registry.load(tmp_path / "missing.tsv")


def test_the_json_gives_every_field_and_is_read_once_per_version(tmp_path, monkeypatch):
    path = tmp_path / "registry.tsv"
    path.write_text("rates ledger id,seq - full ratio:DECIMAL(38,20),raw:VARCHAR\n"
                    "loans loans id updated_at incremental\n")
    runs = []
    real_run = registry.subprocess.run
    monkeypatch.setattr(registry.subprocess, "run", lambda *a, **k: runs.append(a) or real_run(*a, **k))
    tables = registry.load(path)
    assert tables == [
        registry.Table("rates", "ledger", ("id", "seq"), None, "full",
                       (("ratio", "DECIMAL(38,20)"), ("raw", "VARCHAR"))),
        registry.Table("loans", "loans", ("id",), "updated_at", "incremental"),
    ]
    assert registry.load(path) == tables and registry.groups(path) == GROUP_APPS
    assert len(runs) == 1, "one fhload run per version of the file"
    path.write_text("loans loans id updated_at full\n")
    assert [t.mode for t in registry.load(path)] == ["full"]
    assert len(runs) == 2


def test_bench_registry_is_read_by_the_same_parser():
    """bench/ingest/registry.tsv names its own synthetic tables; fhload accepts it and its groups are the
    platform's."""
    bench = registry.read(ROOT / "bench" / "ingest" / "registry.tsv")
    assert {t.name for t in bench.tables} == {"transactions", "transactions_1m"}
    assert {t.group for t in bench.tables} == {"ledger"}
