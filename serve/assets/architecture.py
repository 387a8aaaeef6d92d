"""Generate serve/assets/architecture.svg, finhouse's architecture diagram (stdlib only, no Graphviz).

    python3 serve/assets/architecture.py      # rewrites architecture.svg beside this file

The diagram is data (BOXES, ARROWS) laid out on a fixed grid; edit them and rerun.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

OUT = Path(__file__).with_name("architecture.svg")
W, H = 1260, 470

# name: (x, y, width, height, title, lines, fill)
BOXES = {
    "oltp": (20, 170, 170, 120, "Core banking", ["Django admin + REST API", "PostgreSQL (OLTP)", "simulator"],
             "#e8f1fb"),
    "fhload": (230, 170, 180, 120, "fhload (C)", ["binary COPY, one snapshot", "full + incremental",
                                                  "exactly once"], "#fdf1e3"),
    "raw": (450, 170, 190, 120, "Warehouse RAW", ["DuckDB file (default)", "Snowflake (production)",
                                                  "append-only + load metadata"], "#eef7ee"),
    "dbt": (680, 170, 170, 120, "dbt finhouse", ["staging → intermediate", "→ marts (KPIs)",
                                                 "tests gate each step"], "#eef7ee"),
    "serving": (890, 170, 170, 120, "Serving copy", ["serving.duckdb (read-only)", "published atomically",
                                                    "after each passing build"],
                "#fdf1e3"),
    "superset": (1100, 170, 140, 120, "Superset :8088", ["4 dashboards", "kept as YAML", "admin + viewer"],
                 "#e8f1fb"),
    "airflow": (230, 30, 620, 80, "Airflow 3 :8080", ["six ingestion DAGs (one per entity group) → Assets → "
                                                      "transform DAG (dbt via cosmos)"], "#f3eefa"),
    "docs": (680, 350, 170, 80, "dbt docs :8081", ["lineage, column docs"], "#f5f5f5"),
    "registry": (230, 350, 410, 80, "Table registry (ingest/registry.tsv)",
                 ["parsed by fhload alone; the DAGs and the CLI read its JSON,",
                  "dbt sources are tested against it"], "#f5f5f5"),
}

# Where each part lives in the repository (the tree reads in the order data moves), at the foot of its box.
DIRS = {
    "oltp": "corebanking/",
    "fhload": "ingest/engine/",
    "dbt": "transform/finhouse/",
    "serving": "src/finhouse/serve/",
    "superset": "serve/",
    "airflow": "orchestrate/",
}

# (from, to, label, dashed)
ARROWS = [
    ("oltp", "fhload", "", False),
    ("fhload", "raw", "", False),
    ("raw", "dbt", "", False),
    ("dbt", "serving", "", False),
    ("serving", "superset", "", False),
    ("airflow", "fhload", "runs", True),
    ("airflow", "dbt", "runs", True),
    ("dbt", "docs", "", True),
    ("registry", "fhload", "", True),
]


def _center(box):
    x, y, w, h = box[:4]
    return x + w / 2, y + h / 2


def _edge_point(box, towards):
    """Where the line from the box's centre towards `towards` leaves the box."""
    x, y, w, h = box[:4]
    cx, cy = _center(box)
    dx, dy = towards[0] - cx, towards[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min((w / 2) / abs(dx) if dx else float("inf"), (h / 2) / abs(dy) if dy else float("inf"))
    return cx + dx * scale, cy + dy * scale


def render() -> str:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="Helvetica, Arial, sans-serif">',
           "<title>finhouse architecture</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>',
           f'<rect width="{W}" height="{H}" fill="#ffffff"/>']
    for src, dst, label, dashed in ARROWS:
        a, b = BOXES[src], BOXES[dst]
        if src == "airflow":  # straight down from the orchestrator onto the box it runs
            bx = _center(b)[0]
            x1, y1, x2, y2 = bx, a[1] + a[3], bx, b[1]
        else:
            x1, y1 = _edge_point(a, _center(b))
            x2, y2 = _edge_point(b, _center(a))
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#444" '
                   f'stroke-width="1.6"{dash} marker-end="url(#arrow)"/>')
        if label:
            vertical = abs(x1 - x2) < 1
            tx, ty = ((x1 + 6, (y1 + y2) / 2 + 4) if vertical else ((x1 + x2) / 2, min(y1, y2) - 8))
            anchor = "start" if vertical else "middle"
            out.append(f'<text x="{tx:.1f}" y="{ty:.1f}" font-size="11" fill="#555" '
                       f'text-anchor="{anchor}">{escape(label)}</text>')
    for name, (x, y, w, h, title, lines, fill) in BOXES.items():
        out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="10" fill="{fill}" stroke="#5b6b7b" '
                   'stroke-width="1.4"/>')
        out.append(f'<text x="{x + w / 2}" y="{y + 24}" font-size="14" font-weight="bold" fill="#1d2733" '
                   f'text-anchor="middle">{escape(title)}</text>')
        for i, line in enumerate(lines):
            out.append(f'<text x="{x + w / 2}" y="{y + 46 + i * 18}" font-size="12" fill="#33414f" '
                       f'text-anchor="middle">{escape(line)}</text>')
        if name in DIRS:
            out.append(f'<text x="{x + w / 2}" y="{y + h - 10}" font-size="11" font-family="monospace" '
                       f'fill="#6a7785" text-anchor="middle">{escape(DIRS[name])}</text>')
    out.append(f'<text x="{W - 10}" y="{H - 10}" font-size="10" fill="#888" text-anchor="end">generated by '
               'serve/assets/architecture.py</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
