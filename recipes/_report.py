"""The study's report layer: metric tables as JSON (for machines) and Markdown (for people),
and the HTML page that gathers every recipe's figures and tables with the run's metadata.

It belongs to the recipes, which write the ``run.json`` records it reads; the `zoo`
library returns plain values and never renders them.
"""

from __future__ import annotations

import json
from pathlib import Path

from zoo.saving import atomic_path


# Display names of the library's identifier keys, chosen here, where tables are rendered.
GENERATIVE_COLUMNS = {
    "classifier_test_accuracy": "classifier test accuracy",
    "domain_fid": "domain FID",
    "domain_fid_real_vs_real": "domain FID real vs real",
    "classifier_score": "classifier score",
    "mean_entropy": "mean entropy (nats)",
    "fid_images": "FID images",
}


LATENT_COLUMNS = {"knn_accuracy": "kNN accuracy", "linear_probe_accuracy": "linear probe accuracy",
                  "silhouette": "silhouette"}


def computed_on(dataset, epochs=None, quick: bool = False, images: str = "test images") -> str:
    """What a table was computed on, for its caption: dataset, source, images and epochs;
    with ``quick``, the warning that a quick run's numbers show the pipeline, not the model."""
    words = [f"{dataset.name} ({dataset.source}), {len(dataset.x_test)} {images}"]
    if epochs is not None:
        words.append(f"{epochs} epochs")
    on = " on the embedded sample" if dataset.source == "the embedded sample" else ""
    note = (f"; --quick: a few epochs{on}, so the numbers show that the pipeline works, not "
            "what the model reaches on the full data" if quick else "")
    return ", ".join(words) + note


def generative_columns(scores: dict) -> dict:
    """`zoo.metrics.dataset_generative_scores` as table columns: ``classes covered`` as k/n,
    the smallest and largest class share (`class_share_rows` lists them all)."""
    columns = {GENERATIVE_COLUMNS[k]: v for k, v in scores.items() if k in GENERATIVE_COLUMNS}
    columns["classes covered"] = f"{scores['classes_covered']}/{scores['num_classes']}"
    columns["min class share"] = min(scores["class_shares"])
    columns["max class share"] = max(scores["class_shares"])
    return columns


def class_share_rows(scores: dict, class_names=None) -> list:
    """One row per class: the share of samples the feature classifier assigns to it."""
    names = class_names or range(len(scores["class_shares"]))
    return [{"class": name, "share of samples": share}
            for name, share in zip(names, scores["class_shares"])]


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


# ------------------------------------------------------------------ HTML report

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1180px; padding: 0 24px 48px;
       color: #1d1d1f; }
header { border-bottom: 3px solid #2f6fdf; margin-bottom: 8px; }
h1 { margin: 24px 0 4px; } h2 { margin-top: 40px; border-bottom: 1px solid #ddd; }
nav a { margin-right: 14px; } .sub { color: #666; margin: 0 0 12px; }
table { border-collapse: collapse; margin: 8px 0 18px; font-size: 13px; }
th, td { border: 1px solid #d6d6d6; padding: 4px 9px; text-align: left; }
th { background: #f2f5fb; } caption { text-align: left; font-weight: 600; padding: 4px 0; }
.figures { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
figure { margin: 0; max-width: 100%; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
.failed { color: #b00020; font-weight: 600; } .ok { color: #137333; } .skipped { color: #8a6d00; }
pre { background: #fff4f4; padding: 8px; white-space: pre-wrap; font-size: 12px; }
"""

# Counts decoded images after load, so a browser test (or a reader) sees broken ones.
_IMAGE_CHECK = """
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesLoaded = ok;
  document.getElementById("load-status").textContent = ok + " of " + imgs.length + " figures loaded";
});
"""


def _html_table(title: str, rows: list) -> str:
    import html

    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(format_value(row.get(c, '')))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><caption>{html.escape(title)}</caption><tr>{head}</tr>{body}</table>"


def _recipe_section(folder: Path, recipe: dict) -> tuple:
    import base64
    import html

    name, title = recipe["name"], recipe.get("title", recipe["name"])
    status = recipe.get("status", "ok")
    parts = [f'<section id="{name}"><h2>{html.escape(title)}</h2>']
    info = folder / "run.json"
    details = json.loads(info.read_text()) if info.is_file() else {}
    line = [f"data: {details['data']}" if "data" in details else ""]
    if "seconds" in recipe:
        line.append(f"wall time {recipe['seconds']:.0f} s")
    parts.append(f'<p class="sub">{html.escape(" · ".join(filter(None, line)))} · '
                 f'<span class="{status}">{html.escape(status)}</span></p>')
    if recipe.get("reason"):
        parts.append(f'<p class="skipped">skipped: {html.escape(recipe["reason"])}</p>')
    if recipe.get("error"):
        parts.append(f"<pre>{html.escape(recipe['error'])}</pre>")
    for table in sorted(folder.glob("*.json")):
        content = json.loads(table.read_text())
        if isinstance(content, dict) and content.get("rows"):
            parts.append(_html_table(content.get("title", table.stem), content["rows"]))
    images = sorted(folder.glob("*.png"))
    if images:
        parts.append('<div class="figures">')
        for image in images:
            data = base64.b64encode(image.read_bytes()).decode("ascii")
            caption = image.stem.replace("_", " ").capitalize()
            parts.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts), len(images)


def write_html_report(out_dir, recipes: list, metadata: dict, title: str) -> Path:
    """Write ``<out_dir>/index.html``: one self-contained page with every figure and table.

    ``recipes`` lists ``{"name", "title", "seconds", "status", "error"}`` in report order
    (status "ok", "failed" with the ``error``, or "skipped" with the ``reason`` instead);
    each recipe's figures (``*.png``), tables (``*.json`` written by `write_table`) and
    ``run.json`` are read from ``<out_dir>/<name>/``. Images are embedded as data URIs,
    so the file can be mailed or archived on its own.
    """
    import html

    out_dir = Path(out_dir)
    sections, figures = [], 0
    for recipe in recipes:
        section, count = _recipe_section(out_dir / recipe["name"], recipe)
        sections.append(section)
        figures += count
    nav = "".join(f'<a href="#{r["name"]}">{html.escape(r.get("title", r["name"]))}</a>' for r in recipes)
    overview = [{"recipe": r.get("title", r["name"]), "status": r.get("status", "ok"),
                 "wall time (s)": round(r.get("seconds", 0.0), 1), "note": r.get("reason", "")}
                for r in recipes]
    meta_rows = [{"key": k, "value": v} for k, v in metadata.items()]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head>
<body data-figures="{figures}">
<header><h1>{html.escape(title)}</h1><nav><a href="#run">Run</a>{nav}</nav>
<p class="sub" id="load-status">{figures} figures</p></header>
<section id="run"><h2>Run</h2>{_html_table("Recipes", overview)}{_html_table("Metadata", meta_rows)}</section>
{chr(10).join(sections)}
<script>{_IMAGE_CHECK}</script>
</body></html>
"""
    with atomic_path(out_dir / "index.html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out_dir / "index.html"
