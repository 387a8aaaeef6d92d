"""The serving copy (src/finhouse/serve/serving.py): atomic publish, readers undisturbed, failed builds
publish nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from finhouse.serve import serving


def _warehouse(path: Path, value: int) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE OR REPLACE TABLE raw.secret AS SELECT 1 AS x")
    con.execute("CREATE OR REPLACE TABLE marts.kpi AS SELECT ? AS value, range AS i FROM range(1000)",
                [value])
    con.execute("CREATE OR REPLACE VIEW marts.kpi_view AS SELECT value * 2 AS doubled FROM marts.kpi LIMIT 1")
    con.close()
    return path


def test_publish_copies_the_marts_only_and_materialises_views(tmp_path):
    wh = _warehouse(tmp_path / "w.duckdb", 1)
    out = serving.publish(wh, tmp_path / "s" / "serving.duckdb")
    assert out.tables == 2 and out.rows == 1001
    con = duckdb.connect(str(out.path), read_only=True)
    assert con.execute("SELECT doubled FROM marts.kpi_view").fetchone() == (2,)
    kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert kinds == {"kpi": "BASE TABLE", "kpi_view": "BASE TABLE"}  # no reference back to the warehouse
    con.close()
    assert [p.name for p in out.path.parent.iterdir()] == ["serving.duckdb"]  # no temp file left


def test_publishing_while_a_reader_holds_the_old_copy(tmp_path):
    wh = _warehouse(tmp_path / "w.duckdb", 1)
    target = tmp_path / "serving.duckdb"
    serving.publish(wh, target)
    reader = duckdb.connect(str(target), read_only=True)  # an open dashboard query
    assert reader.execute("SELECT max(value) FROM marts.kpi").fetchone() == (1,)
    # Meanwhile the pipeline writes the warehouse again and publishes: neither blocks the other.
    _warehouse(wh, 2)
    serving.publish(wh, target)
    assert reader.execute("SELECT max(value) FROM marts.kpi").fetchone() == (1,)  # still the old snapshot
    # A new reader (another process, as Superset's next query is) sees the new copy.
    fresh = subprocess.run([sys.executable, "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1], "
                            "read_only=True).execute('SELECT max(value) FROM marts.kpi').fetchone()[0])",
                            str(target)], capture_output=True, text=True, check=True)
    assert fresh.stdout.strip() == "2"
    reader.close()


def test_a_failed_build_does_not_publish(tmp_path):
    wh = _warehouse(tmp_path / "w.duckdb", 1)
    target = tmp_path / "serving.duckdb"
    serving.publish(wh, target)
    before = target.stat().st_ino
    failing_dbt = tmp_path / "dbt"
    failing_dbt.write_text(f"#!{sys.executable}\nimport sys; sys.exit(1)\n")
    failing_dbt.chmod(0o755)
    _warehouse(wh, 3)
    assert serving.build_and_publish(dbt=str(failing_dbt), warehouse=wh, serving=target) is None
    assert target.stat().st_ino == before
    con = duckdb.connect(str(target), read_only=True)
    assert con.execute("SELECT max(value) FROM marts.kpi").fetchone() == (1,)
    con.close()


def test_a_successful_build_publishes(tmp_path):
    wh = _warehouse(tmp_path / "w.duckdb", 4)
    ok_dbt = tmp_path / "dbt"
    ok_dbt.write_text(f"#!{sys.executable}\nimport sys; sys.exit(0)\n")
    ok_dbt.chmod(0o755)
    out = serving.build_and_publish(dbt=str(ok_dbt), warehouse=wh, serving=tmp_path / "serving.duckdb")
    assert out is not None and out.tables == 2


def test_an_error_while_copying_keeps_the_old_copy(tmp_path):
    wh = _warehouse(tmp_path / "w.duckdb", 1)
    target = tmp_path / "serving.duckdb"
    serving.publish(wh, target)
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(RuntimeError, match="empty or missing"):
        serving.publish(empty, target)
    con = duckdb.connect(str(target), read_only=True)
    assert con.execute("SELECT max(value) FROM marts.kpi").fetchone() == (1,)
    con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.duckdb", "serving.duckdb", "w.duckdb"]
