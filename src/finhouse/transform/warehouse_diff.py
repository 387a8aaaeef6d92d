"""Compare two DuckDB warehouses built by dbt, table by table: the proof that an incremental `dbt build`
leaves the same data as a full rebuild (`--full-refresh`) of the same RAW layer.

Every base table of the staging, intermediate and marts schemas of `built` is compared with the table of
the same name in `rebuilt` as a multiset of rows (EXCEPT ALL both ways), leaving out the columns that say
when a row was loaded or written (they differ by design). The daily portfolio snapshot is compared on the
days the rebuild has: a full build backfills a window, an incremental one keeps the days it recorded
before. Views are not compared (they are queries over the tables).

    python -m finhouse.transform.warehouse_diff BUILT.duckdb REBUILT.duckdb  # exit 1, a line per difference
"""

from __future__ import annotations

import sys
from pathlib import Path

SCHEMAS = ("staging", "intermediate", "marts")
# Columns that record when, not what: the load and transform times, the period models' watermark (the newest
# load when each month was last written), and the SCD2 snapshot's validity.
WHEN_COLUMNS = frozenset(
    {
        "transformed_at",
        "source_loaded_at",
        "sources_loaded_at",
        "sources_load_id",
        "computed_as_of",
        "loaded_at",
        "dbt_updated_at",
        "dbt_valid_from",
        "dbt_valid_to",
        "dbt_scd_id",
    }
)
# Tables kept as a history: only the rows for the days the rebuild also has are compared.
HISTORY_KEYS = {"portfolio_snapshot_daily": "snapshot_date"}


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def differences(built: Path, rebuilt: Path) -> tuple[int, list[str]]:
    """(tables compared, one message per table whose rows differ)."""
    import duckdb

    con = duckdb.connect()
    try:
        # Attached under their own file names: views inside refer to their catalog by that name.
        a, b = Path(built).stem, Path(rebuilt).stem
        if a == b:
            raise ValueError(f"the two warehouses need different file names, both are {a!r}")
        con.execute(f"ATTACH {_sql_str(str(built))} AS {_q(a)} (READ_ONLY)")
        con.execute(f"ATTACH {_sql_str(str(rebuilt))} AS {_q(b)} (READ_ONLY)")
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = ? "
            "AND table_type = 'BASE TABLE' AND table_schema IN (SELECT unnest(?)) ORDER BY 1, 2",
            [a, list(SCHEMAS)],
        ).fetchall()
        problems = []
        for schema, table in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_catalog = ? AND table_schema = ? AND table_name = ? "
                    "ORDER BY ordinal_position",
                    [a, schema, table],
                ).fetchall()
                if c not in WHEN_COLUMNS
            ]
            cols = ", ".join(_q(c) for c in columns)
            left = f"{_q(a)}.{_q(schema)}.{_q(table)}"
            right = f"{_q(b)}.{_q(schema)}.{_q(table)}"
            where = ""
            if table in HISTORY_KEYS:
                key = _q(HISTORY_KEYS[table])
                where = f" WHERE {key} >= (SELECT min({key}) FROM {right})"
            side_a = f"SELECT {cols} FROM {left}{where}"
            side_b = f"SELECT {cols} FROM {right}"
            only_built = con.execute(f"SELECT count(*) FROM ({side_a} EXCEPT ALL {side_b})").fetchone()[0]
            only_rebuilt = con.execute(f"SELECT count(*) FROM ({side_b} EXCEPT ALL {side_a})").fetchone()[0]
            if only_built or only_rebuilt:
                problems.append(
                    f"{schema}.{table}: {only_built} rows only in {built.name}, "
                    f"{only_rebuilt} only in {rebuilt.name}"
                )
        return len(tables), problems
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    compared, problems = differences(Path(args[0]), Path(args[1]))
    for line in problems:
        print(f"warehouse_diff: {line}", file=sys.stderr)
    print(f"warehouse_diff: {compared} tables compared, {len(problems)} differ")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
