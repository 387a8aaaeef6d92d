"""Personal data (PII) is declared in one place — `config: {meta: {pii: <kind>}}` on the columns of dbt's
`oltp` source (transform/finhouse/models/staging/oltp/_oltp__sources.yml) — and everything else follows it:

- the declaration covers the core banking system: every column of a table the warehouse loads whose name
  looks personal, whose Django help text says PII, or that holds free text or JSON is declared, with a kind
  or as `pii: none` (looked at, not personal). A new personal column cannot slip into RAW undeclared;
- staging keeps a declared column's name (the masking post-hook and the privacy test find it by name);
- the dbt privacy test runs after every mart;
- on Snowflake: a masking policy exists for every kind, exempting exactly the PII_READER and TRANSFORMER
  primary roles (not IS_ROLE_IN_SESSION, which SYSADMIN and secondary roles would satisfy); RAW's policies
  (ingest/snowflake/scripts/30_apply_masking.sql) are the declaration's; dbt's post-hook generates, for every
  staging model holding PII, one well-formed ALTER … SET MASKING POLICY covering each declared column;
  LOADER, TRANSFORMER and REPORTER are three service users, and neither exempt role rolls up to SYSADMIN.

What runs where: the name/value privacy test itself runs in every `dbt build` (tests/test_dbt_build.py on
DuckDB, tests/test_dbt_fakesnow.py on the emulator, which also checks the post-hook fired). Snowflake's
enforcement of policies and grants cannot be run here (fakesnow has neither): these tests check the SQL.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml
from django.apps import apps
from django.db import models

from finhouse.config import ROOT
from finhouse.ingest import registry

PROJECT = ROOT / "transform" / "finhouse"
SOURCES = PROJECT / "models" / "staging" / "oltp" / "_oltp__sources.yml"
STAGING = PROJECT / "models" / "staging" / "oltp"
PRIVACY_TEST = PROJECT / "tests" / "privacy" / "assert_no_pii_in_marts.sql"
SNOWFLAKE = ROOT / "ingest" / "snowflake" / "scripts"
DBT = ROOT / ".finhouse" / "venv" / "bin" / "dbt"

# What a personal column is usually called. Deliberately wide: a false alarm costs one line of yml
# (`pii: none`), a miss puts customers' data in front of every dashboard user.
PERSONAL_NAME = re.compile(
    r"(^|_)(first|last|middle|full|given|family|sur|maiden|nick|display)_?name$|birth|(^|_)dob$|national_id|"
    r"id_number|passport|tax_id|ssn|phone|mobile|msisdn|email|address|remote_addr|(^|_)ip$|gps|latitude|"
    r"longitude|photo|signature|biometric|next_of_kin|spouse|salary|income_declared"
)
FREE_TEXT_MIN_LENGTH = 200  # a CharField this long is prose someone typed, not a code or a number


def _declared() -> dict[tuple[str, str], str]:
    doc = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))
    (source,) = [s for s in doc["sources"] if s["name"] == "oltp"]
    out = {}
    for table in source["tables"]:
        for column in table.get("columns", []):
            kind = (column.get("config", {}).get("meta") or column.get("meta") or {}).get("pii")
            if kind is not None:
                out[(table["name"], column["name"])] = kind
    return out


def _policies() -> dict[str, str]:
    return yaml.safe_load((PROJECT / "dbt_project.yml").read_text())["vars"]["pii_masking_policies"]


def _models_by_table() -> dict[str, type[models.Model]]:
    return {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)}


def _needs_a_decision(field: models.Field) -> bool:
    if PERSONAL_NAME.search(field.column.lower()) or "pii" in str(field.help_text).lower():
        return True
    if isinstance(field, (models.TextField, models.JSONField)):
        return True
    return isinstance(field, models.CharField) and (field.max_length or 0) >= FREE_TEXT_MIN_LENGTH


def test_every_personal_looking_column_of_a_loaded_table_is_declared():
    by_table, declared = _models_by_table(), _declared()
    missing = []
    for table in registry.load():
        model = by_table.get(table.name)
        assert model is not None, (
            f"registry table {table.name} has no Django model: classify its columns by hand"
        )
        for field in model._meta.concrete_fields:
            if _needs_a_decision(field) and (table.name, field.column) not in declared:
                missing.append(f"{table.name}.{field.column}")
    assert not missing, (
        "columns that may hold personal data, undeclared in _oltp__sources.yml (add "
        f"`config: {{meta: {{pii: <kind>}}}}`, or `pii: none` if they are not): {missing}"
    )


def test_every_declaration_names_a_loaded_column_and_a_known_kind():
    by_table, kinds = _models_by_table(), set(_policies()) | {"none"}
    loaded = {t.name for t in registry.load()}
    for (table, column), kind in _declared().items():
        assert table in loaded, f"{table}: declared PII in a table the warehouse does not load"
        assert column in {f.column for f in by_table[table]._meta.concrete_fields}, (
            f"{table}.{column}: no such column"
        )
        assert kind in kinds, f"{table}.{column}: kind {kind!r} has no masking policy in dbt_project.yml"


def test_the_names_dates_ids_and_phones_of_customers_are_declared():
    declared = _declared()
    assert {
        c: declared.get(("customers", c))
        for c in ("first_name", "last_name", "date_of_birth", "national_id", "phone")
    } == {
        "first_name": "name",
        "last_name": "name",
        "date_of_birth": "date_of_birth",
        "national_id": "national_id",
        "phone": "phone",
    }


def test_staging_keeps_the_name_of_every_declared_column():
    """Staging selects a declared column under its own name (masking and the privacy test find it so),
    or leaves it out altogether (the audit trail's object_repr and changes: nothing downstream needs
    them), never renamed."""
    for (table, column), kind in _declared().items():
        if kind == "none":
            continue
        sql = (STAGING / f"stg_oltp__{table}.sql").read_text()
        code = "\n".join(line.split("--")[0] for line in sql.splitlines())
        kept = re.search(rf"^\s*{column},?\s*$", code, re.M)
        absent = not re.search(rf"\b{column}\b", code)
        assert kept or absent, f"stg_oltp__{table} must select {column} under its own name or not at all"


def test_the_privacy_test_runs_after_every_mart_and_the_staging_it_reads():
    depends = set(
        re.findall(r"--\s*depends_on:\s*\{\{\s*ref\('([a-z0-9_]+)'\)\s*\}\}", PRIVACY_TEST.read_text())
    )
    marts = {p.stem for p in (PROJECT / "models" / "marts").rglob("*.sql")}
    staging = {f"stg_oltp__{t}" for (t, _), kind in _declared().items() if kind != "none"}
    assert marts - depends == set(), f"add `-- depends_on: {{{{ ref('…') }}}}` lines to {PRIVACY_TEST.name}"
    assert staging - depends == set()


# --- Snowflake ----------------------------------------------------------------------------------------


def _statements(path) -> list[str]:
    text = "\n".join(line.split("--", 1)[0] for line in path.read_text().splitlines())
    return [" ".join(s.split()) for s in text.split(";") if s.strip()]


def test_a_masking_policy_per_kind_exempting_exactly_the_pii_reader_and_transformer_primary_roles():
    sql = (SNOWFLAKE / "20_masking_policies.sql").read_text()
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    bodies = dict(
        re.findall(r"ALTER MASKING POLICY ANALYTICS\.GOVERNANCE\.(\w+) SET BODY ->(.*?);", code, re.S)
    )
    assert set(bodies) == set(_policies().values())
    for name, body in bodies.items():
        assert "CURRENT_ROLE() IN ('PII_READER', 'TRANSFORMER') THEN val" in body, name
        assert "IS_ROLE_IN_SESSION" not in body.upper() and "INVOKER_ROLE" not in body.upper(), name
        assert f"CREATE MASKING POLICY IF NOT EXISTS ANALYTICS.GOVERNANCE.{name} " in code
        assert re.search(
            rf"GRANT APPLY ON MASKING POLICY ANALYTICS\.GOVERNANCE\.{name}\s+TO ROLE TRANSFORMER;", code
        )


def test_raw_masking_script_is_the_declaration():
    policies = _policies()
    expected = {(t.upper(), c.upper(), policies[k]) for (t, c), k in _declared().items() if k != "none"}
    found = set()
    for statement in _statements(SNOWFLAKE / "30_apply_masking.sql"):
        m = re.match(r"ALTER TABLE IF EXISTS RAW\.OLTP\.(\w+) MODIFY (.*)$", statement)
        if m:
            for col, policy in re.findall(
                r"COLUMN (\w+) SET MASKING POLICY ANALYTICS\.GOVERNANCE\.(\w+) FORCE", m.group(2)
            ):
                found.add((m.group(1), col, policy))
    assert found == expected, (
        f"30_apply_masking.sql differs from the declaration: missing {expected - found}, "
        f"extra {found - expected}"
    )


def test_three_service_users_and_no_exempt_role_under_sysadmin():
    statements = _statements(SNOWFLAKE / "10_roles_and_grants.sql")
    users = {}
    for s in statements:
        m = re.match(r"CREATE USER IF NOT EXISTS (\w+) TYPE = SERVICE DEFAULT_ROLE = (\w+)", s)
        if m:
            users[m.group(1)] = m.group(2)
    assert sorted(users.values()) == ["LOADER", "REPORTER", "TRANSFORMER"] and len(set(users)) == 3, users
    for user, role in users.items():
        assert f"GRANT ROLE {role} TO USER {user}" in statements
    grants_to_sysadmin = {
        s.split()[2] for s in statements if re.match(r"GRANT ROLE \w+ TO ROLE SYSADMIN$", s)
    }
    assert not grants_to_sysadmin & {"PII_READER", "TRANSFORMER"}, grants_to_sysadmin
    assert not [s for s in statements if re.match(r"GRANT ROLE PII_READER TO ROLE", s)]
    assert "REVOKE ROLE PII_READER FROM ROLE SYSADMIN" in statements
    # REPORTER reads the marts and nothing else
    reporter = [s for s in statements if s.endswith("TO ROLE REPORTER") and s.startswith("GRANT SELECT")]
    assert reporter and all("ANALYTICS.MARTS" in s for s in reporter)


ALTER = re.compile(
    r"^alter (view|table) (\w+)\.(\w+)\.(\w+) modify (column \w+ set masking policy [\w.]+ force"
    r"(?:, column \w+ set masking policy [\w.]+ force)*)$",
    re.I,
)


@pytest.fixture(scope="module")
def masking_plan(tmp_path_factory) -> list[str]:
    """What dbt's post-hook runs on Snowflake for every staging model, printed by `dbt run-operation
    pii_masking_plan` (the same macro, rendered for the Snowflake target without connecting)."""
    tmp = tmp_path_factory.mktemp("masking_plan")
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", FINHOUSE_DUCKDB_PATH=str(tmp / "w.duckdb"))
    proc = subprocess.run(
        [
            str(DBT),
            "run-operation",
            "pii_masking_plan",
            "--project-dir",
            str(PROJECT),
            "--profiles-dir",
            str(PROJECT),
            "--target",
            "duckdb",
            "--target-path",
            str(tmp / "target"),
            "--log-path",
            str(tmp / "logs"),
            "--quiet",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [line.strip() for line in proc.stdout.splitlines() if line.strip().lower().startswith("alter ")]


def test_the_dbt_post_hook_masks_every_declared_column_of_staging(masking_plan):
    policies = _policies()
    expected = {
        (f"stg_oltp__{t}", c, f"ANALYTICS.GOVERNANCE.{policies[k]}")
        for (t, c), k in _declared().items()
        if k != "none"
    }
    found = set()
    for statement in masking_plan:
        m = ALTER.match(statement)
        assert m, f"not an ALTER … MODIFY COLUMN … SET MASKING POLICY … FORCE statement: {statement}"
        kind, _, schema, model = m.groups()[:4]
        assert schema.lower() == "staging"
        # staging models are views, but an incremental one is a table
        materialized = (
            "table" if "incremental_by_key" in (STAGING / f"{model.lower()}.sql").read_text() else "view"
        )
        assert kind.lower() == materialized, statement
        for col, policy in re.findall(r"column (\w+) set masking policy ([\w.]+) force", m.group(5), re.I):
            found.add((model.lower(), col.lower(), policy))
    assert found == expected, f"missing {expected - found}, extra {found - expected}"
