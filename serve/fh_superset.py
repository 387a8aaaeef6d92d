"""finhouse's Superset glue: metadata database, users and roles, dashboards as code.

Run through `serve/bin/with-env python serve/fh_superset.py COMMAND` (the make targets do):

  setup-db        create the metadata database, `superset db upgrade`, `superset init`, the admin
                  (FINHOUSE_ADMIN_USER, password FINHOUSE_ADMIN_PASSWORD or .finhouse/admin-password) and
                  the read-only `viewer` role and user (password SUPERSET_VIEWER_PASSWORD or
                  .finhouse/superset-viewer-password)
  import          zip serve/dashboards/ (database URI filled from the environment) and import it
  export-check    export the dashboards and compare with serve/dashboards/ (volatile fields normalised)
  export          write the export over serve/dashboards/ (after editing in the UI)

The database URI: SUPERSET_WAREHOUSE_URI if set; else Snowflake when FINHOUSE_WAREHOUSE=snowflake
(SNOWFLAKE_* variables); else the DuckDB serving copy, read-only and sandboxed (DUCKDB_SANDBOX).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import secrets
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ASSETS = HERE / "dashboards"
BUNDLE_ROOT = "finhouse_dashboards"
URI_PLACEHOLDER = "{{ FINHOUSE_WAREHOUSE_URI }}"
VIEWER_ROLE = "viewer"


def _setting(name: str) -> str:
    """NAME as with-env sets it, .env.example's default filled in (superset_config.setting)."""
    from superset_config import setting  # beside this file, on with-env's PYTHONPATH

    return setting(name)


def home() -> Path:
    return Path(_setting("FINHOUSE_HOME"))


def _stored_password(env_name: str, filename: str) -> str:
    if os.environ.get(env_name):
        return os.environ[env_name]
    path = home() / filename
    if not path.exists():
        from superset_config import create_private  # beside this file, on with-env's PYTHONPATH

        if create_private(path, secrets.token_urlsafe(12) + "\n"):  # mode 600
            print(f"superset: generated a password into {path}")
    return path.read_text().strip()


def admin_user() -> str:
    return _setting("FINHOUSE_ADMIN_USER")


def admin_password() -> str:
    """The platform admin's, made by the platform (finhouse.config.admin_password) and handed over by Make
    (superset.mk) or `finhouse demo`; never generated here."""
    if os.environ.get("FINHOUSE_ADMIN_PASSWORD"):
        return os.environ["FINHOUSE_ADMIN_PASSWORD"]
    path = home() / "admin-password"
    if not path.exists():
        raise SystemExit("superset: no admin password: set FINHOUSE_ADMIN_PASSWORD, or run `make superset-db` "
                         "(it has the platform make one)")
    return path.read_text().strip()


def viewer_password() -> str:
    return _stored_password("SUPERSET_VIEWER_PASSWORD", "superset-viewer-password")


def serving_path() -> Path:
    # serve/bin/with-env fills it in from .env.example's default, the one place it is written.
    if not os.environ.get("FINHOUSE_SERVING_PATH"):
        raise SystemExit("superset: FINHOUSE_SERVING_PATH is not set; run this through serve/bin/with-env")
    return Path(os.environ["FINHOUSE_SERVING_PATH"]).resolve()


def warehouse_uri(env=os.environ) -> str:
    """The URI Superset's `finhouse warehouse` database is imported with."""
    if env.get("SUPERSET_WAREHOUSE_URI"):
        return env["SUPERSET_WAREHOUSE_URI"]
    if env.get("FINHOUSE_WAREHOUSE", "duckdb") == "snowflake":
        user = quote(env.get("SNOWFLAKE_USER", ""), safe="")
        password = quote(env.get("SNOWFLAKE_PASSWORD", ""), safe="")
        account = env.get("SNOWFLAKE_ACCOUNT", "")
        database = env.get("SNOWFLAKE_ANALYTICS_DATABASE", env.get("SNOWFLAKE_DATABASE", "ANALYTICS"))
        params = {k: env[v] for k, v in (("warehouse", "SNOWFLAKE_WAREHOUSE"), ("role", "SNOWFLAKE_ROLE"))
                  if env.get(v)}
        query = "&".join(f"{k}={quote(v)}" for k, v in params.items())
        return f"snowflake://{user}:{password}@{account}/{database}/MARTS" + (f"?{query}" if query else "")
    # The sandbox superset_config.DB_CONNECTION_MUTATOR enforces on every DuckDB connection, written into
    # the URI as well so that what the database's page shows is what applies.
    from superset_config import DUCKDB_SANDBOX  # beside this file, on with-env's PYTHONPATH

    sandbox = "&".join(f"{k}={v}" for k, v in DUCKDB_SANDBOX.items())
    return f"duckdb:///{serving_path()}?access_mode=read_only&{sandbox}"


# --- metadata database, users, roles -------------------------------------------------------------

def _superset(*args: str) -> None:
    code = subprocess.call(["superset", *args])
    if code:
        raise SystemExit(f"superset {' '.join(args)} failed (exit {code})")


def create_database() -> None:
    """The metadata database and the role Superset connects as (finhouse.serve.metadb: a plain login role that
    owns this database only, never the OLTP's owner), created as the server's administrator
    (FINHOUSE_PG_ADMIN_URL, else FINHOUSE_OLTP_URL's user)."""
    import psycopg2

    from superset_config import SQLALCHEMY_DATABASE_URI

    sys.path.insert(0, str(ROOT / "src"))  # finhouse.serve.metadb, stdlib only: Superset's environment lacks finhouse
    from finhouse.serve import metadb

    url = urlsplit(SQLALCHEMY_DATABASE_URI)
    role = unquote(url.username or "postgres")
    admin = metadb.admin_url(os.environ.get("FINHOUSE_OLTP_URL") or SQLALCHEMY_DATABASE_URI)
    if role == unquote(urlsplit(admin).username or "postgres"):
        print(f"superset: warning: the metadata database is reached as {role}, the server's administrator; "
              "leave SUPERSET_DATABASE_USER to its default to give Superset a role of its own")
    password = unquote(url.password) if url.password else None
    for line in metadb.ensure_service_database(psycopg2.connect, admin, url.path.lstrip("/"), role, password):
        print(f"superset: {line}")


# Gamma's permissions minus every way to change a chart, dashboard or dataset, plus read access to all
# data: the viewer opens dashboards and charts, edits nothing and has no SQL Lab.
_WRITE_PREFIXES = ("can_write", "can_add", "can_edit", "can_delete", "can_save", "can_overwrite",
                   "can_import", "can_export", "can_copy", "can_favstar", "can_set_embedded",
                   "can_delete_embedded", "can_tag", "can_share")
_KEEP_WRITES = {"DashboardFilterStateRestApi", "ExploreFormDataRestApi", "DashboardPermalinkRestApi",
                "ExplorePermalinkRestApi"}
_DENY_VIEWS = {"SQL Lab", "SQLLab", "SavedQuery", "Query", "TabStateView", "TableSchemaView", "SqlLab",
               "SQLLabRestApi", "Saved Queries", "Query Search"}


def ensure_users() -> None:
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import db
        from superset import security_manager as sm

        admin = sm.find_user(username=admin_user())
        if admin is None:
            sm.add_user(admin_user(), "finhouse", "admin", _setting("FINHOUSE_ADMIN_EMAIL"),
                        sm.find_role("Admin"), password=admin_password())
            print(f"superset: admin {admin_user()} created")
        else:
            sm.reset_password(admin.id, admin_password())

        gamma = sm.find_role("Gamma")
        viewer_role = sm.find_role(VIEWER_ROLE) or sm.add_role(VIEWER_ROLE)
        perms = []
        for pv in gamma.permissions:
            perm, view = pv.permission.name, pv.view_menu.name
            if view in _DENY_VIEWS or "sql" in perm.lower() or "sql" in view.lower():
                continue
            if perm.startswith(_WRITE_PREFIXES) and view not in _KEEP_WRITES:
                continue
            if perm == "menu_access" and view in {"Dashboards", "Charts"}:
                perms.append(pv)
                continue
            if perm == "menu_access":
                continue
            perms.append(pv)
        all_data = sm.find_permission_view_menu("all_datasource_access", "all_datasource_access")
        if all_data:
            perms.append(all_data)
        viewer_role.permissions = perms
        db.session.commit()

        viewer = sm.find_user(username="viewer")
        if viewer is None:
            sm.add_user("viewer", "read-only", "viewer", "viewer@example.org", viewer_role,
                        password=viewer_password())
            print("superset: viewer created (read-only)")
        else:
            viewer.roles = [viewer_role]
            db.session.commit()
            sm.reset_password(viewer.id, viewer_password())


def setup_db() -> None:
    create_database()
    _superset("db", "upgrade")
    _superset("init")
    ensure_users()


# --- dashboards as code -------------------------------------------------------------------------------

def bundle_bytes(uri: str | None = None) -> bytes:
    uri = uri or warehouse_uri()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(ASSETS.rglob("*.yaml")):
            text = path.read_text()
            if URI_PLACEHOLDER in text:
                text = text.replace(URI_PLACEHOLDER, uri)
            zf.writestr(f"{BUNDLE_ROOT}/{path.relative_to(ASSETS)}", text)
    return buf.getvalue()


def import_assets(uri: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        zpath = Path(tmp) / "bundle.zip"
        zpath.write_bytes(bundle_bytes(uri))
        _superset("import-dashboards", "-p", str(zpath), "-u", admin_user())
    print(f"superset: dashboards imported from {ASSETS.relative_to(ROOT)}")


# Fields that differ between two Superset instances holding the same assets: timestamps, and the
# numeric ids (of charts, datasets, dashboards) that each instance assigns on import.
_VOLATILE = {"timestamp", "changed_on", "created_on", "changed_by", "created_by", "slice_id",
             "datasource", "dashboards", "chartsInScope", "tabsInScope", "query_context",
             # written into a dashboard's metadata by Superset whenever someone opens it
             "shared_label_colors", "color_scheme_domain", "map_label_colors"}


def normalise(doc):
    """A document with the volatile fields dropped, chart ids replaced by the charts' UUIDs and the
    database URI replaced by its placeholder."""
    id_to_uuid = {}
    if isinstance(doc, dict) and isinstance(doc.get("position"), dict):
        for item in doc["position"].values():
            if isinstance(item, dict) and item.get("type") == "CHART":
                id_to_uuid[item["meta"].get("chartId")] = item["meta"].get("uuid")

    def walk(node, key=None):
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k in _VOLATILE:
                    continue
                if k == "sqlalchemy_uri":
                    v = URI_PLACEHOLDER
                if k == "chartId":
                    v = id_to_uuid.get(v, v)
                if k == "excluded" and isinstance(v, list):
                    v = sorted(str(id_to_uuid.get(i, i)) for i in v)
                out[k] = walk(v, k)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(doc)


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(doc) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def _key(rel: str, doc: dict) -> str:
    """Compare by kind and UUID: Superset names exported files after the instance's numeric ids."""
    return f"{rel.split('/', 1)[0]}:{doc.get('uuid', rel)}"


def _stable_name(rel: str) -> str:
    """charts/PAR_trend_29.yaml → charts/PAR_trend.yaml (drop the instance's id)."""
    return re.sub(r"_\d+\.yaml$", ".yaml", rel)


def export_tree(raw: bool = False) -> dict[str, tuple[str, object]]:
    """Export every dashboard with Superset's CLI: {kind:uuid: (stable file name, (normalised) YAML)}."""
    with tempfile.TemporaryDirectory() as tmp:
        zpath = Path(tmp) / "export.zip"
        _superset("export-dashboards", "-f", str(zpath))
        out = {}
        with zipfile.ZipFile(zpath) as zf:
            for name in zf.namelist():
                rel = name.split("/", 1)[1]
                if rel.endswith(".yaml"):
                    doc = yaml.safe_load(zf.read(name))
                    out[_key(rel, doc)] = (_stable_name(rel), doc if raw else normalise(doc))
        return out


def repo_tree() -> dict[str, tuple[str, object]]:
    out = {}
    for p in sorted(ASSETS.rglob("*.yaml")):
        rel, doc = str(p.relative_to(ASSETS)), yaml.safe_load(p.read_text())
        out[_key(rel, doc)] = (rel, normalise(doc))
    return out


def _first_difference(a, b, path="") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return f"{path}/{k}: only in the {'export' if k in a else 'repository'}"
            if a[k] != b[k]:
                return _first_difference(a[k], b[k], f"{path}/{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path}: export {str(a)[:120]!r} ≠ repository {str(b)[:120]!r}"


def export_check() -> int:
    exported, repo = export_tree(), repo_tree()
    problems = []
    for key in sorted(set(exported) | set(repo)):
        if key not in repo:
            problems.append(f"only in the export: {exported[key][0]}")
        elif key not in exported:
            problems.append(f"only in the repository: {repo[key][0]}")
        elif exported[key][1] != repo[key][1]:
            problems.append(f"differs: {repo[key][0]} at {_first_difference(exported[key][1], repo[key][1])}")
    for p in problems:
        print(f"superset export-check: {p}", file=sys.stderr)
    if not problems:
        print(f"superset export-check: the export equals serve/dashboards/ ({len(repo)} files)")
    return 1 if problems else 0


def export_to_repo() -> None:
    exported = export_tree(raw=True)
    names = {rel for rel, _ in exported.values()}
    for old in ASSETS.rglob("*.yaml"):
        if str(old.relative_to(ASSETS)) not in names:
            old.unlink()
    for rel, doc in exported.values():
        if "sqlalchemy_uri" in doc:
            doc["sqlalchemy_uri"] = URI_PLACEHOLDER
        for k in ("timestamp",):
            doc.pop(k, None)
        path = ASSETS / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_yaml(doc))
    print(f"superset: export written to {ASSETS.relative_to(ROOT)} ({len(exported)} files)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fh_superset", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["setup-db", "import", "export-check", "export", "uri",
                                            "users"])
    args = parser.parse_args(argv)
    if args.command == "setup-db":
        setup_db()
    elif args.command == "users":
        ensure_users()
    elif args.command == "import":
        import_assets()
    elif args.command == "export-check":
        return export_check()
    elif args.command == "export":
        export_to_repo()
    elif args.command == "uri":
        print(warehouse_uri())
    return 0


if __name__ == "__main__":
    sys.exit(main())
