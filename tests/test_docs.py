"""The documentation site builds: `mkdocs build --strict` fails on a broken link or anchor,
a page missing from the nav, and a docstring griffe cannot parse (numpydoc style)."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Imported names of what mkdocs.yml needs: mkdocs, the material theme, mkdocstrings and its
# Python handler (the `docs` extra: pip install -e ".[docs]").
NEEDED = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")


def test_docs_build_strict(tmp_path):
    missing = [name for name in NEEDED if _missing(name)]
    if missing:
        pytest.skip(f"the docs tools are not installed ({', '.join(missing)} missing); "
                    'install them with pip install -e ".[docs]"')
    # NO_MKDOCS_2_WARNING quiets Material's banner about its end of life; nothing else changes.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                            str(tmp_path / "site")], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    for page in ("index", "data", "models", "transfer", "tuning", "training", "serving",
                 "recipes", "presets", "results", "api"):
        built = tmp_path / "site" / ("index.html" if page == "index" else f"{page}/index.html")
        assert built.is_file(), f"docs/{page}.md was not built"
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert 'id="zoo.base.ZooModel"' in api and 'id="zoo.training"' in api


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:  # a parent package is absent
        return True


def test_the_api_reference_lists_every_public_module_and_model():
    import pkgutil

    import zoo
    import zoo.models

    documented = {line.split()[1] for line in (ROOT / "docs" / "api.md").read_text().splitlines()
                  if line.startswith("::: ")}
    modules = [f"zoo.{m.name}" for m in pkgutil.iter_modules(zoo.__path__)
               if not m.name.startswith("_") and m.name != "models"]
    missing = [m for m in modules if not any(d == m or d.startswith(m + ".") for d in documented)]
    assert not missing, f"docs/api.md leaves out {missing}"
    for name in zoo.models.__all__:
        cls = getattr(zoo.models, name)
        assert f"{cls.__module__}.{name}" in documented, name


def test_the_model_lists_and_the_serving_table_match_the_code():
    """docs/index.md names every model; docs/serving.md gives each its endpoints."""
    import re

    import zoo.models
    from tests.test_contract import MODELS

    index = (ROOT / "docs" / "index.md").read_text()
    serving = (ROOT / "docs" / "serving.md").read_text()
    rows = {name: cells for cells in (line.split("|") for line in serving.splitlines()
                                      if line.startswith("| `"))
            for name in re.findall(r"`(\w+)`", cells[1])}
    for name in zoo.models.__all__:
        assert f"`{name}`" in index, f"docs/index.md leaves out {name}"
        case = next(case for case in MODELS.values() if case.cls.__name__ == name)
        endpoints = list(case.cls(**case.init_kwargs).export_endpoints())
        assert name in rows, f"docs/serving.md has no row for {name}"
        assert re.findall(r"`(\w+)`", rows[name][2]) == endpoints, (name, endpoints)


def tables(page: str) -> list:
    """The Markdown tables of ``page``, each a list of ``{column: cell}`` rows."""
    found, header = [], None
    for line in (ROOT / page).read_text().splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            found.append([])
        elif not set(line) <= set("|-: "):
            found[-1].append(dict(zip(header, cells)))
    return found


def table_with(page: str, *columns) -> dict:
    """``{preset: row}`` of the one table of ``page`` that has ``columns``."""
    (table,) = [table for table in tables(page) if table and set(columns) <= set(table[0])]
    return {row["preset"].strip("`"): row for row in table}


def figures(cell: str) -> list:
    """``(value, decimals)`` of the decimal numbers ``cell`` states as its own: outside
    parentheses, which hold references, goals and other protocols; a percentage as a
    fraction. Only a typographic minus is a sign (8.1%-11.6% is a range)."""
    said = []
    for match in re.finditer(r"−?\d+\.(\d+)(%?)", re.sub(r"\([^)]*\)", "", cell)):
        value = float(match[0].replace("−", "-").rstrip("%"))
        said.append((value / 100, len(match[1]) + 2) if match[2] else (value, len(match[1])))
    return said


@pytest.mark.parametrize("page, column", [("README.md", "headline metric"),
                                          ("docs/presets.md", "test metric (full test split)")])
def test_the_preset_tables_say_the_figures_of_the_cards(page, column):
    """Each figure a preset table gives as a preset's own is on its card, to the digits
    shown: the numbers are said once, in the card, and agree wherever they are repeated."""
    from zoo.presets import list_presets, preset_card

    rows = table_with(page, column)
    assert len(rows) == len(list_presets(shipped_only=True)), sorted(rows)
    for name, row in rows.items():
        values = [record["value"] for record in preset_card(name)["metrics"]]
        for value, decimals in figures(row[column]):
            assert any(abs(v - value) <= 0.5 * 10**-decimals + 1e-12 for v in values), \
                f"{page}: {name} says {value}, which its card does not hold: {values}"


def card_values(name: str) -> list:
    """What preset ``name``'s card measured: its metric records' values and its training
    minutes."""
    from zoo.presets import preset_card

    card = preset_card(name)
    minutes = [card["training"]["seconds"] / 60] if card.get("training", {}).get("seconds") else []
    return [record["value"] for record in card["metrics"]] + minutes


def test_the_results_tables_say_the_figures_of_the_cards():
    """A table of docs/results.md whose rows are presets, scored by their own recipes (the
    zoo's one-protocol tables aside: `test_the_comparison_tables_agree`), states each
    preset's figures as its card records them, to the digits shown."""
    from zoo.presets import list_presets

    shipped = set(list_presets(shipped_only=True))
    checked = 0
    for table in tables("docs/results.md"):
        if not table or "preset" not in table[0] or "parameters" in table[0]:
            continue
        for row in table:
            name = row["preset"].strip("`")
            if name not in shipped:
                continue
            values = card_values(name)
            for column, cell in row.items():
                for value, decimals in figures(cell):
                    checked += 1
                    assert any(abs(v - value) <= 0.5 * 10**-decimals + 1e-12 for v in values), \
                        f"docs/results.md: {name}'s {column} says {value}; its card: {values}"
    assert checked >= 10


# A zoo table's column: the keys of its figures in benchmarks.zoo's record, in order.
RECORDED = {"parameters": ("parameters",), "train min": ("train min",),
            "domain FID": ("domain FID",), "class shares": ("min class share", "max class share"),
            "conditional accuracy": ("conditional accuracy",), "test MSE": ("test MSE",),
            "linear probe": ("linear probe",),
            "IWAE log-likelihood": ("IWAE log-likelihood (card)",)}


def test_the_zoo_tables_say_the_figures_benchmarks_zoo_recorded():
    """Each figure of docs/results.md's one-protocol tables (and so of the README's, which
    repeats them) is the one ``python -m benchmarks.zoo`` recorded for that preset in
    benchmarks/results/zoo_<dataset>.json, to the digits shown; so is each parameter count,
    and every row was recorded."""
    import json

    from benchmarks.zoo import record_path

    rows = 0
    for table in tables("docs/results.md"):
        if not table or "parameters" not in table[0]:
            continue
        for row in table:
            name = row["preset"].strip("`")
            dataset = next(d for d in ("fashion_mnist", "mnist") if name.startswith(f"{d}_"))
            recorded = {r["preset"]: r for r in json.loads(record_path(dataset).read_text())["rows"]}
            assert name in recorded, f"benchmarks.zoo has not recorded {name} on {dataset}"
            rows += 1
            for column, keys in RECORDED.items():
                if column not in row:
                    continue
                said = figures(row[column]) or [(float(n.replace(",", "")), 0)
                                                for n in re.findall(r"^\d[\d,]*$", row[column])]
                values = [recorded[name][key] for key in keys  # not 'not recorded'
                          if isinstance(recorded[name].get(key), (int, float))]
                assert len(said) == len(values), (name, column, row[column], values)
                for (value, decimals), exact in zip(said, values):
                    assert abs(value - exact) <= 0.5 * 10**-decimals + 1e-12, \
                        f"docs/results.md: {name}'s {column} says {value}; benchmarks.zoo: {exact}"
    assert rows >= 10


@pytest.mark.parametrize("dataset", ["../evil", "/tmp/my_images", "cifar10"])
def test_a_record_is_kept_for_a_built_in_dataset_alone(dataset):
    from benchmarks.zoo import record_path

    with pytest.raises(ValueError, match="recorded for"):
        record_path(dataset)


def test_the_comparison_tables_agree():
    """The README's comparison table repeats docs/results.md's, rounded."""
    full = table_with("docs/results.md", "linear probe", "conditional accuracy")
    short = table_with("README.md", "linear probe", "conditional accuracy")
    assert set(short) <= set(full)
    for name, row in short.items():
        for column in ("domain FID", "class shares", "conditional accuracy", "test MSE",
                       "linear probe"):
            said, measured = figures(row[column]), figures(full[name][column])
            assert len(said) == len(measured), (name, column)
            for (value, decimals), (exact, _) in zip(said, measured):
                assert abs(value - exact) <= 0.5 * 10**-decimals + 1e-12, (name, column, value, exact)
