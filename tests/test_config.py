"""Configuration once, dependencies one way (issue 17, items 3 and 5).

- The defaults are written in one file, .env.example; finhouse.config, Make, the shell wrappers and Django
  read it by the same rule, and the OLTP URL's default and the warehouse's path are written nowhere else.
- The core banking backend does not import the platform package.
- What Airflow imports from finhouse is standard library only: it runs in an environment of its own that
  has neither Django nor the platform's libraries.
- The names the DAGs share (DAG ids, the pool, the Assets) are written in finhouse.orchestration alone."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from finhouse import config as fh_config
from finhouse.config import ROOT

OLTP_DEFAULT = "postgresql://postgres@127.0.0.1:5432/microfinance"


def _tracked(*suffixes: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return [ROOT / name for name in out.split("\0") if name and name.endswith(suffixes)]


# --- the one file of defaults ---------------------------------------------------------------------------


def test_the_defaults_file_gives_the_demos_settings():
    d = fh_config.defaults()
    assert d["FINHOUSE_OLTP_URL"] == OLTP_DEFAULT
    assert "DJANGO_SECRET_KEY" not in d  # an empty NAME= is no default
    env = {"FINHOUSE_HOME": "/srv/fh"}
    assert fh_config.warehouse_path(env) == Path("/srv/fh/warehouse/finhouse.duckdb")
    assert fh_config.serving_path(env) == Path("/srv/fh/warehouse/serving.duckdb")
    assert fh_config.warehouse_path({}) == ROOT / ".finhouse" / "warehouse" / "finhouse.duckdb"
    assert fh_config.warehouse_path({"FINHOUSE_DUCKDB_PATH": "w.duckdb"}) == ROOT / "w.duckdb"
    assert fh_config.oltp_url({"FINHOUSE_OLTP_URL": ""}) == OLTP_DEFAULT  # empty is unset, as in Django
    child = fh_config.environ({"FINHOUSE_OLTP_URL": "postgresql://x/y"})
    assert child["FINHOUSE_OLTP_URL"] == "postgresql://x/y"
    assert child["FINHOUSE_DUCKDB_PATH"] == str(ROOT / ".finhouse" / "warehouse" / "finhouse.duckdb")


def test_django_reads_the_defaults_as_the_platform_does():
    """corebanking/config/settings.py has its own few lines (it must not import finhouse): same answers."""
    path = ROOT / "corebanking" / "config" / "settings.py"
    tree = ast.parse(path.read_text())
    [func] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "env_defaults"]
    namespace: dict = {"Path": Path, "ROOT_DIR": ROOT, "re": re}
    exec(compile(ast.Module(body=[func], type_ignores=[]), str(path), "exec"), namespace)
    assert namespace["env_defaults"](fh_config.DEFAULTS_FILE) == fh_config.defaults()


def test_the_shell_wrappers_read_the_defaults_as_the_platform_does():
    env = {"PATH": os.environ["PATH"], "FINHOUSE_HOME": "/srv/fh", "FINHOUSE_OLTP_URL": "postgresql://x/y"}
    code = f'set -euo pipefail; . scripts/defaults.sh "{ROOT}"; env -0'
    out = subprocess.run(["bash", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    got = dict(line.split("=", 1) for line in out.stdout.split("\0") if line)
    for name in fh_config.defaults():
        assert got[name] == fh_config.get(name, env), name


def test_make_reads_the_defaults_as_the_platform_does(tmp_path):
    show = tmp_path / "show.mk"
    show.write_text("show:\n"
                    "\t@echo \"$(FINHOUSE_OLTP_URL) $(FINHOUSE_DUCKDB_PATH) $(FINHOUSE_SERVING_PATH)\"\n"
                    "\t@echo \"$${FINHOUSE_SERVING_PATH:-unexported}\"\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINHOUSE_", "MAKE"))}
    out = subprocess.run(["make", "-s", "-f", "Makefile", "-f", str(show), "show"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    home = {"FINHOUSE_HOME": str(ROOT / ".finhouse")}
    assert out[0].split() == [OLTP_DEFAULT, str(fh_config.warehouse_path(home)),
                              str(fh_config.serving_path(home))]
    # derived from FINHOUSE_HOME: not exported, so that a program given another home derives it anew
    assert out[1] == "unexported"


def test_the_engine_defaults_are_the_platforms():
    """fhload run by hand (outside make, finhouse and Airflow, which give it every setting) falls back on
    defaults compiled in (ingest/engine/include/cli.h): they must be .env.example's."""
    header = (ROOT / "ingest" / "engine" / "include" / "cli.h").read_text()
    compiled = dict(re.findall(r'#define CLI_DEFAULT_(\w+) "([^"]*)"', header))
    relative = {"FINHOUSE_HOME": ".finhouse"}
    assert compiled["SOURCE"] == fh_config.get("FINHOUSE_OLTP_URL", relative)
    assert compiled["WAREHOUSE"] == fh_config.get("FINHOUSE_DUCKDB_PATH", relative)
    assert compiled["REGISTRY"] == fh_config.get("FINHOUSE_REGISTRY", relative)
    for name in ("SLOT", "PUBLICATION", "COMMIT_INTERVAL_MS", "COMMIT_ROWS"):
        assert compiled["STREAM_" + name] == fh_config.get("FINHOUSE_STREAM_" + name, relative)


# Where a default may still be spelled out: the defaults file; the engine's compiled-in fallbacks (held to
# it above) and their unit test; prose (README tables and the like).
ALLOWED = {".env.example", "ingest/engine/include/cli.h", "ingest/engine/tests/unit/test_cli.c",
           "tests/test_config.py"}


@pytest.mark.parametrize("needle", [OLTP_DEFAULT, "warehouse/finhouse.duckdb", "warehouse/serving.duckdb",
                                    '"warehouse" / "finhouse.duckdb"', '"warehouse" / "serving.duckdb"'])
def test_a_default_is_written_in_one_place(needle):
    code = _tracked(".py", ".sh", ".mk", ".yml", ".yaml", ".toml", ".c", ".h", "Makefile", "with-env",
                    "ensure-postgres", "setup-db", "run-dags", "run")
    found = [str(p.relative_to(ROOT)) for p in code if p.is_file() and str(p.relative_to(ROOT)) not in ALLOWED
             and needle in p.read_text(errors="replace")]
    assert found == [], f"{needle!r} is written again in {found}: read it from finhouse.config (.env.example)"


# --- dependencies one way -----------------------------------------------------------------------------------


def test_the_backend_does_not_import_the_platform():
    pattern = re.compile(r"^\s*(import\s+finhouse\b|from\s+finhouse\b)", re.MULTILINE)
    found = [str(p.relative_to(ROOT)) for p in (ROOT / "corebanking").rglob("*.py")
             if pattern.search(p.read_text())]
    assert found == [], f"corebanking/ imports the platform package in {found}"


# What the Airflow environment imports from finhouse (orchestrate/dags, orchestrate/bin): stdlib only.
AIRFLOW_IMPORTS = ("finhouse.config", "finhouse.orchestration", "finhouse.ingest.fhload",
                   "finhouse.ingest.registry", "finhouse.serve.serving", "finhouse.serve.metadb")


def _airflow_python() -> list[Path]:
    """The DAG files and the Python scripts of orchestrate/bin (with-env is bash)."""
    scripts = [p for p in (ROOT / "orchestrate" / "bin").iterdir()
               if "python" in p.read_text().partition("\n")[0]]
    return [*(ROOT / "orchestrate" / "dags").glob("*.py"), *scripts]


def test_what_airflow_imports_is_standard_library_only():
    used = set()
    for path in _airflow_python():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("finhouse"):
                for alias in node.names:  # from finhouse.ingest import fhload: finhouse.ingest.fhload
                    name = f"{node.module}.{alias.name}"
                    is_module = (ROOT / "src" / Path(*name.split("."))).with_suffix(".py").exists()
                    used.add(name if is_module else node.module)
    assert used <= set(AIRFLOW_IMPORTS), f"the Airflow side imports {sorted(used - set(AIRFLOW_IMPORTS))} too"
    guard = f"""
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in sys.stdlib_module_names and top != "finhouse":
            raise ImportError(f"{{name}} is not in the standard library")
        return None
sys.meta_path.insert(0, Refuse())
sys.path.insert(0, {str(ROOT / "src")!r})
import importlib
for name in {AIRFLOW_IMPORTS!r}:
    importlib.import_module(name)
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", guard], capture_output=True, text=True, cwd=ROOT)
    assert proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_the_dags_names_are_written_once():
    """DAG ids, the pool and the Assets' names come from finhouse.orchestration."""
    files = [*_airflow_python(), *(ROOT / "orchestrate" / "tests").glob("*.py"),
             ROOT / "src" / "finhouse" / "demo.py"]
    needles = ("warehouse_writer", "ingest_oltp_", "reconcile_oltp_to_raw", "transform_raw_to_marts",
               "duckdb://")
    for path in files:
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                   and id(n) not in docstrings]  # a docstring may name them
        assert [n for n in needles if any(n in s for s in strings)] == [], path


# --- no default written twice: a variable with a value in .env.example has no literal default in code -----

_GETTERS = {"get", "getenv", "_env_int", "_env_str", "_env_bool", "env_var"}


def _literal(node: ast.AST) -> bool:
    """Whether `node` spells out a value: a constant, or one built from constants (ROOT / ".finhouse",
    8 * 3600, f"{x}…"). Looking a value up (DEFAULTS["NAME"], fh_config.get("NAME")) is not, nor is
    "no value" (None, "": `get("NAME") or ""` only makes a missing value a string)."""
    if isinstance(node, ast.Constant):
        return node.value not in (None, "")
    if isinstance(node, (ast.Subscript, ast.Call, ast.Name, ast.Attribute)):
        return False
    return any(_literal(child) for child in ast.iter_child_nodes(node))


def _named(call: ast.AST) -> str | None:
    """The variable a getter call reads (os.environ.get("NAME", …), os.getenv, env.get, _env_int, …)."""
    if not isinstance(call, ast.Call) or not call.args:
        return None
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    first = call.args[0]
    if name in _GETTERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def literal_defaults(source: str) -> list[tuple[int, str]]:
    """(line, NAME) of each default spelled out in Python code: a getter's second argument, or what follows
    `or` after a getter given only the name (os.environ.get("NAME") or "literal")."""
    found = []
    for node in ast.walk(ast.parse(source)):
        name = _named(node)
        if name and (len(node.args) > 1 and _literal(node.args[1])
                     or any(k.arg == "default" and _literal(k.value) for k in node.keywords)):
            found.append((node.lineno, name))
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            for left, right in zip(node.values, node.values[1:], strict=False):
                name = _named(left)
                if name and len(left.args) == 1 and _literal(right):
                    found.append((left.lineno, name))
    return found


def test_the_scan_sees_the_ways_a_default_is_written():
    code = ('os.environ.get("A", "x")\nos.getenv("A", 5)\nenv.get("A", ROOT / ".finhouse")\n'
            '_env_int("A", 8 * 3600)\n'
            'os.environ.get("A") or "x"\nos.environ.get("B", "x")\n'
            'os.environ.get("A", DEFAULTS["A"])\nfh_config.get("A")\nos.environ.get("A") or DEFAULTS["A"]\n'
            '_env_bool("A")\nos.environ.get("A", None)\nget("A") or ""\n')
    assert [line for line, name in literal_defaults(code) if name == "A"] == [1, 2, 3, 4, 5]


def test_no_default_is_written_twice():
    """Each variable with a value in .env.example takes it from there (finhouse.config, Django's
    env_defaults, the with-env wrappers, Make): Python code spells out no default of its own for it, the
    same or another. The engine's compiled-in fallbacks are held to the file above; dbt's profile below."""
    defaults = fh_config.defaults()
    found = []
    for path in _tracked(".py"):
        rel = str(path.relative_to(ROOT))
        if rel == "tests/test_config.py" or not path.is_file():
            continue
        found += [f"{rel}:{line} {name}" for line, name in literal_defaults(path.read_text())
                  if name in defaults]
    for path in _tracked(".yml", ".yaml", ".sql"):  # dbt's env_var('NAME', 'default')
        text = path.read_text(errors="replace") if path.is_file() else ""
        for match in re.finditer(r"env_var\(\s*['\"]([A-Z][A-Z0-9_]*)['\"]\s*,", text):
            if match[1] in defaults:
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line} {match[1]}")
    assert found == [], f"defaults written again (read them from .env.example): {found}"
