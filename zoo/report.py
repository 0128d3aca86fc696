"""Metric tables written as JSON (for machines) and Markdown (for people)."""

from __future__ import annotations

import json
from pathlib import Path

from zoo.export import atomic_path


def format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def markdown_table(rows: list) -> str:
    """A Markdown table of ``rows`` (a list of dicts; columns in first-seen order)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(format_value(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_table(rows: list, path_stem, title: str) -> Path:
    """Write ``rows`` to ``<path_stem>.json`` and ``<path_stem>.md``; return the JSON path."""
    if not rows:
        raise ValueError(f"table {title!r} has no rows")
    stem = Path(path_stem)
    with atomic_path(stem.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps({"title": title, "rows": rows}, indent=2, default=float))
    with atomic_path(stem.with_suffix(".md")) as tmp:
        tmp.write_text(f"### {title}\n\n{markdown_table(rows)}")
    return stem.with_suffix(".json")
