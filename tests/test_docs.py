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
