"""On Snowflake too (emulated by fakesnow), the incremental models order loads by load id, not by the loader's
clock: an incremental `dbt build` after a load whose clock was set back a day equals a full rebuild.

A throwaway OLTP (60 customers over a year) is loaded into the emulator's RAW.OLTP by the platform's upload
step (`finhouse snowflake-load`) and built. Then new activity through the services, some of it backdated
(tests/backdated_activity.py), is loaded again by a loader whose clock is a day in the past (`finhouse
snowflake-load`, and so fhload, under libfaketime, Debian's `faketime`): its rows carry an `_fh_loaded_at`
older than every row loaded before, while its load id, drawn from a Snowflake sequence, is the next one. The
incremental build must pick them up: every table of ANALYTICS' staging, intermediate and marts holds the rows
a `--full-refresh` into another database (ANALYTICS_REBUILT) builds from the same RAW (to the emulator's
floating-point sums, see _differences). test_dbt_build.py proves the same on DuckDB; this is where the
Snowflake SQL of the incremental models (their watermark subqueries) runs.

As in test_dbt_fakesnow.py, the unit tests and the SCD2 snapshot are left out (the emulator cannot run them).
Nothing is mocked: without PostgreSQL, a built fhload, libfaketime or the emulator's environment the test
fails and says why."""

from __future__ import annotations

import os
import sys

import pytest
from fakesnow_institution import build, database_url, institution, load, query, run

from finhouse.config import ROOT

pytestmark = pytest.mark.slow

URL = database_url("dbt_fakesnow_incr")
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
SCHEMAS = ("STAGING", "INTERMEDIATE", "MARTS")


def _build(env: dict, tmp, database: str, *extra: str) -> None:
    proc = build(env, tmp, database, *extra)
    assert proc.returncode == 0, f"dbt build {' '.join(extra)} into {database} failed:\n{proc.stdout[-6000:]}"
    assert "ERROR=0" in proc.stdout


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """The emulator with a simulated institution in RAW.OLTP, built once into ANALYTICS; yields (env, tmp)."""
    if not os.path.exists(LIBFAKETIME):
        pytest.fail(f"{LIBFAKETIME} is missing: run scripts/system-deps (as root) or apt-get install "
                    "faketime")
    tmp = tmp_path_factory.mktemp("dbt_fakesnow_incremental")
    with institution(URL, tmp) as env:
        _build(env, tmp, "ANALYTICS")
        yield env, tmp


def _keys(manifest) -> dict[str, list[str]]:
    """Each model's key, upper case, from its column_rules test in dbt's manifest (the first `unique` key)."""
    import json

    keys = {}
    for node in json.loads(manifest.read_text())["nodes"].values():
        meta = node.get("test_metadata") or {}
        if meta.get("name") == "column_rules" and meta["kwargs"].get("unique") and node.get("attached_node"):
            key = meta["kwargs"]["unique"][0]
            keys[node["attached_node"].split(".")[-1].upper()] = [
                c.upper() for c in ([key] if isinstance(key, str) else key)]
    return keys


def _differences(env: dict, built: str, rebuilt: str, keys: dict[str, list[str]]) -> tuple[int, list[str]]:
    """(tables compared, one message per table whose rows differ between the two databases), as
    warehouse_diff compares two DuckDB files, the columns that say when a row was loaded or written
    left out. Rows are matched on the model's key. The emulator sums DECIMALs in floating point, so a sum's
    last digits depend on the order of its rows: floats (those sums, and ratios of them) are compared to the
    half cent, as the project's cents_differ does, and amounts rounded from such sums (macro money) to the
    cent, since the rounding can go either way; every other column exactly. The daily snapshot is not
    compared: it keeps the days it recorded, which a backdated operation does not restate."""
    from finhouse.transform.warehouse_diff import WHEN_COLUMNS

    tables = query(env, f"""select table_schema, table_name from {built}.information_schema.tables
                            where table_schema in ({", ".join(f"'{s}'" for s in SCHEMAS)})
                              and table_type = 'BASE TABLE' and table_name <> 'PORTFOLIO_SNAPSHOT_DAILY'
                            order by 1, 2""")
    problems = []
    for schema, table in tables:
        key = keys.get(table)
        assert key, f"{schema}.{table}: no key in the manifest (a column_rules test with `unique`)"
        differ = []
        for column, data_type, scale in query(env, f"""
                select column_name, data_type, numeric_scale from {built}.information_schema.columns
                where table_schema = '{schema}' and table_name = '{table}'"""):
            a, b = f"a.{column}", f"b.{column}"
            if column.lower() in WHEN_COLUMNS or column in key:
                continue
            if data_type == "FLOAT":
                differ.append(f"({a} is null) <> ({b} is null) or abs({a} - {b}) >= 0.005")
            elif data_type == "NUMBER" and (scale or 0) > 0:
                differ.append(f"({a} is null) <> ({b} is null) or abs({a} - {b}) > 0.01")
            else:
                differ.append(f"{a} is distinct from {b}")
        on = " and ".join(f"a.{c} = b.{c}" for c in key)
        ((only_built, only_rebuilt, unlike),) = query(env, f"""
            select count_if(b.{key[0]} is null), count_if(a.{key[0]} is null),
                   count_if(a.{key[0]} is not null and b.{key[0]} is not null
                            and ({" or ".join(f"coalesce({d}, false)" for d in differ) or "false"}))
            from {built}.{schema}.{table} as a full outer join {rebuilt}.{schema}.{table} as b on {on}""")
        if only_built or only_rebuilt or unlike:
            problems.append(f"{schema}.{table}: {only_built} keys only in {built}, {only_rebuilt} only in "
                            f"{rebuilt}, {unlike} rows differ")
    return len(tables), problems


def test_an_incremental_build_after_a_load_under_a_clock_set_back_equals_a_full_rebuild(emulator):
    env, tmp = emulator
    ((last_load,),) = query(env, "select max(_fh_load_id) from RAW.OLTP.JOURNAL_LINES")
    proc = run([sys.executable, "corebanking/manage.py", "simulate", "--live", "--rate", "1000",
                "--operations", "40", "--seed", "5"], env, 300)
    assert proc.returncode == 0, f"simulate --live failed: {proc.stderr[-2000:]}"
    with open(ROOT / "tests" / "backdated_activity.py") as script:
        proc = run([sys.executable, "corebanking/manage.py", "shell"], env, 300, stdin=script)
    assert proc.returncode == 0, f"the backdated activity failed: {proc.stderr[-2000:]}"

    # the whole loader a day in the past: the upload step (which draws the load id) and fhload
    load(dict(env, LD_PRELOAD=LIBFAKETIME, FAKETIME="-1d"), tmp)
    ((new_rows, older_than_stored, a_day_old),) = query(env, f"""
        select count_if(_fh_load_id > {last_load}),
               max(iff(_fh_load_id > {last_load}, _fh_loaded_at, null))
                   < max(iff(_fh_load_id <= {last_load}, _fh_loaded_at, null)),
               max(iff(_fh_load_id > {last_load}, _fh_loaded_at, null))
                   < dateadd(hour, -23, current_timestamp())
        from RAW.OLTP.JOURNAL_LINES""")
    assert new_rows > 0, "the activity added no journal lines"
    assert older_than_stored and a_day_old, "fhload's clock did not move back a day under libfaketime"

    _build(env, tmp, "ANALYTICS")
    _build(env, tmp, "ANALYTICS_REBUILT", "--full-refresh")
    keys = _keys(tmp / "target" / "manifest.json")
    compared, problems = _differences(env, "ANALYTICS", "ANALYTICS_REBUILT", keys)
    assert compared > 30
    assert problems == []
