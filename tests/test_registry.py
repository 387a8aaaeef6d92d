"""The registry agrees with the core banking system: every business table is loaded, with a real key
and a cursor column that a trigger keeps moving — or, for an append-only table (the audit log), that
the database refuses to change at all."""

import pytest
from django.apps import apps
from django.db import connection

from finhouse.ingest import registry

PLATFORM_APPS = {"customers", "savings", "loans", "payments", "ledger", "investments", "audit", "access"}
# tables whose rows never change after insert (a trigger refuses UPDATE and DELETE): the cursor is the
# insert time and nothing needs to move it
APPEND_ONLY = {"audit_log": "audit_log_append_only"}


def test_registry_parses_and_covers_six_groups():
    tables = registry.load()
    groups = registry.by_group(tables)
    assert all(groups[g] for g in registry.GROUPS), "every entity group has at least one table"


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


def test_malformed_registry_names_file_and_line(tmp_path):
    bad = tmp_path / "registry.tsv"
    bad.write_text("# comment\nloans loans id updated_at sometimes\n")
    with pytest.raises(registry.RegistryError, match=r"registry.tsv:2: unknown mode 'sometimes'"):
        registry.load(bad)
