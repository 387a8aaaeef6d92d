"""The table registry (ingest/registry.tsv) as Python objects, for the CLI, the DAG factory and tests.

fhload parses and checks it (ingest/engine/src/registry.c, the only parser); this module runs
`fhload --registry PATH --print-registry` and reads its JSON, so Python never disagrees with the engine
on what the file says, which groups exist or what is malformed. Standard library only: the Airflow DAGs
import it. The result is cached per registry file (path, mtime, size) and fhload binary, so a DAG parse
or a test session runs fhload once per file, not once per caller."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from finhouse import config as fh_config
from finhouse.ingest import fhload as ingest


@dataclass(frozen=True)
class Table:
    name: str
    group: str
    key: tuple[str, ...]
    cursor: str | None
    mode: str  # incremental | full
    column_types: tuple[tuple[str, str], ...] = ()  # (column, warehouse type) the registry gives


@dataclass(frozen=True)
class Registry:
    path: Path
    groups: tuple[str, ...]  # the engine's entity groups, in their canonical order
    tables: tuple[Table, ...]  # in file order


class RegistryError(ValueError):
    """A malformed or unreadable registry; the message is fhload's one line, naming the file and line."""


_cache: dict[tuple, Registry] = {}


def read(path: Path | None = None, env: Mapping[str, str] | None = None) -> Registry:
    """The registry at `path` (default: the configured one, FINHOUSE_REGISTRY) as fhload reads it (fhload:
    $FHLOAD of `env`, else ingest/engine/build/fhload; raises ingest.FhloadNotFound when it is not built)."""
    path = Path(path or fh_config.registry_path(env)).resolve()
    fhload = ingest.fhload_path(env)
    try:
        st = path.stat()
    except OSError:
        st = None  # fhload says what is wrong with it
    exe = fhload.stat()
    key = (str(path), st and (st.st_mtime_ns, st.st_size), str(fhload), exe.st_mtime_ns)
    if st is not None and key in _cache:
        return _cache[key]
    proc = subprocess.run([str(fhload), "--registry", str(path), "--print-registry"], capture_output=True,
                          text=True, timeout=60, env=ingest.offline_env())
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise RegistryError(lines[-1] if lines else f"fhload --print-registry {path}: exit {proc.returncode}")
    doc = json.loads(proc.stdout)
    reg = Registry(
        path=path,
        groups=tuple(doc["groups"]),
        tables=tuple(
            Table(t["name"], t["group"], tuple(t["key"]), t["cursor"], t["mode"],
                  tuple((c["column"], c["type"]) for c in t["types"]))
            for t in doc["tables"]
        ),
    )
    if st is not None:
        _cache[key] = reg
    return reg


def load(path: Path | None = None) -> list[Table]:
    """Every table of the registry at `path`, in file order."""
    return list(read(path).tables)


def groups(path: Path | None = None) -> tuple[str, ...]:
    """The entity groups fhload knows, in their canonical order."""
    return read(path).groups


def by_group(reg: Registry) -> dict[str, list[Table]]:
    """The tables of each entity group, groups in their canonical order."""
    return {group: [t for t in reg.tables if t.group == group] for group in reg.groups}
