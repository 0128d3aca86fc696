"""The documentation site builds: `mkdocs build --strict` fails on a broken link or anchor,
a page missing from the nav, and a docstring griffe cannot parse (numpydoc style)."""

import importlib.util
import os
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
