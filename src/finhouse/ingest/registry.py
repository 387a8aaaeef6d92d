"""The table registry (ingest/registry.tsv) as Python objects, for the CLI, the DAG factory and tests.
fhload parses the same file in C (engine/src/registry.c); the format is documented in the file itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from finhouse.config import ROOT

GROUPS = ("users", "accounts", "loans", "payments", "transactions", "investments")
MODES = ("incremental", "full")
DEFAULT_PATH = ROOT / "ingest" / "registry.tsv"


# The sixth field: warehouse types for numeric columns, column:VARCHAR or column:DECIMAL(p,s).
_COLUMN_TYPE = re.compile(r"([A-Za-z_][A-Za-z0-9_$]*):(VARCHAR|DECIMAL\((\d+),(\d+)\))")


@dataclass(frozen=True)
class Table:
    name: str
    group: str
    key: tuple[str, ...]
    cursor: str | None
    mode: str
    column_types: tuple[tuple[str, str], ...] = ()  # (column, warehouse type) the registry gives


class RegistryError(ValueError):
    """A malformed registry line; the message names the file and line."""


def load(path: Path = DEFAULT_PATH) -> list[Table]:
    """Every table of the registry at `path`, in file order."""
    tables: list[Table] = []
    seen: set[str] = set()
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        where = f"{path}:{number}"
        if len(fields) not in (5, 6):
            raise RegistryError(
                f"{where}: expected 5 fields (table group key cursor mode) and optional column types, "
                f"found {len(fields)}")
        name, group, key, cursor, mode = fields[:5]
        column_types = _column_types(fields[5], where) if len(fields) == 6 else ()
        if group not in GROUPS:
            raise RegistryError(f"{where}: unknown group {group!r}; expected one of {', '.join(GROUPS)}")
        if mode not in MODES:
            raise RegistryError(f"{where}: unknown mode {mode!r}; expected incremental or full")
        if name in seen:
            raise RegistryError(f"{where}: table {name!r} is listed twice")
        seen.add(name)
        tables.append(Table(name, group, tuple(key.split(",")), None if cursor == "-" else cursor, mode,
                            column_types))
    return tables


def _column_types(field: str, where: str) -> tuple[tuple[str, str], ...]:
    """column:TYPE[,column:TYPE...] (fhload checks the same grammar, and the precision and scale)."""
    found = [(m.group(1), m.group(2)) for m in _COLUMN_TYPE.finditer(field)]
    if ",".join(f"{c}:{t}" for c, t in found) != field:
        raise RegistryError(f"{where}: column types {field!r} are not column:VARCHAR or column:DECIMAL(p,s), "
                            "separated by commas")
    return tuple(found)


def by_group(tables: list[Table]) -> dict[str, list[Table]]:
    """The tables of each entity group, groups in their canonical order."""
    return {group: [t for t in tables if t.group == group] for group in GROUPS}
