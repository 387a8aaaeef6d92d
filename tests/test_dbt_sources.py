"""dbt's sources (transform/finhouse/models/staging/oltp/_oltp__sources.yml) agree with the table registry:
one source table per registry table and nothing else, with the registry's group, key, cursor and load mode in
its meta and its description; one staging model per source table; freshness measured on the load timestamp.
The registry is the source of truth (read through fhload): this test holds the yml's copy to it."""

from __future__ import annotations

import re

import yaml

from finhouse.config import ROOT
from finhouse.ingest import registry

PROJECT = ROOT / "transform" / "finhouse"
SOURCES = PROJECT / "models" / "staging" / "oltp" / "_oltp__sources.yml"


def _source() -> dict:
    doc = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))
    (source,) = [s for s in doc["sources"] if s["name"] == "oltp"]
    return source


def test_sources_equal_the_registry():
    tables = {t.name: t for t in registry.load()}
    declared = {t["name"]: t for t in _source()["tables"]}
    assert set(declared) - set(tables) == set(), "sources the registry does not list"
    assert set(tables) - set(declared) == set(), "registry tables missing from _oltp__sources.yml"
    for name, table in tables.items():
        meta = declared[name]["config"]["meta"]
        assert meta["group"] == table.group, name
        assert tuple(meta["primary_key"].split(",")) == table.key, name
        assert meta["cursor"] == (table.cursor or "-"), name
        assert meta["load_mode"] == table.mode, name
        said = f"entity group {table.group}, {table.mode} load" + (f" by {table.cursor}" * bool(table.cursor))
        assert said in re.sub(r"\s+", " ", declared[name]["description"]), name


def test_sources_read_raw_with_freshness_on_the_load_timestamp():
    source = _source()
    # raw on DuckDB; on Snowflake the schema .env.example names (SNOWFLAKE_RAW_SCHEMA, default OLTP)
    assert "'raw'" in source["schema"] and "env_var('SNOWFLAKE_RAW_SCHEMA')" in source["schema"]
    assert source["config"]["loaded_at_field"] == "_fh_loaded_at"
    assert set(source["config"]["freshness"]) == {"warn_after", "error_after"}


def test_one_staging_model_per_source_table():
    models = {p.stem for p in (PROJECT / "models" / "staging" / "oltp").glob("stg_oltp__*.sql")}
    assert models == {f"stg_oltp__{t.name}" for t in registry.load()}
