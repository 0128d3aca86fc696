"""The package is portable and polite: no machine paths in what it ships, no import side effects."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Absolute paths of a machine, and this workplace's folder of shared data.
MACHINE_PATH = re.compile(r"(?<![\w.$~])(/(work|tmp|home|root|Users|mnt|opt|var)/[\w.-]|"
                          r"[A-Z]:\\\\|\.\./shared)")


def test_shipped_files_name_no_machine_paths():
    tracked = subprocess.run(["git", "ls-files", "zoo", "recipes", "saved_models", "README.md"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert len(tracked) > 20
    offending = []
    for name in tracked:
        path = ROOT / name
        if path.suffix in (".gz", ".keras"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if MACHINE_PATH.search(line):
                offending.append(f"{name}:{number}: {line.strip()[:120]}")
    assert not offending, "\n".join(offending)


def test_the_pattern_catches_machine_paths():
    for line in ("--data-dir /work/shared/data", "--out /tmp/measure", "ZOO_DATA_DIR=../shared/data",
                 "cd /home/me/deepzoo"):
        assert MACHINE_PATH.search(line), line
    for line in ('--data-dir "$ZOO_DATA_DIR"', "https://example.org/tmp/x", "reports/full-mnist",
                 "~/deepzoo-runs/vae", "s/(/x/)"):
        assert not MACHINE_PATH.search(line), line


IMPORT_EVERYTHING = """
import json, logging, os, sys
import matplotlib
matplotlib.use("svg")  # stands in for a notebook's inline backend
environment = dict(os.environ)
handlers = list(logging.getLogger().handlers)
import numpy as np
import zoo
from zoo import analysis, tuning
plotting_imported = "zoo.plotting" in sys.modules
from zoo import plotting  # the one module that draws, imported on purpose
plotting.image_grid(np.zeros((4, 28, 28, 1)), sys.argv[1])
print(json.dumps({
    "backend": matplotlib.get_backend(),
    "plotting imported by zoo": plotting_imported,
    "environment changed": sorted(k for k in set(os.environ) | set(environment)
                                  if os.environ.get(k) != environment.get(k)),
    "root handlers added": len(logging.getLogger().handlers) - len(handlers),
}))
"""


def test_import_zoo_and_drawing_leave_global_state_alone(tmp_path):
    result = subprocess.run([sys.executable, "-c", IMPORT_EVERYTHING, str(tmp_path / "grid.png")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state == {"backend": "svg", "plotting imported by zoo": False,
                     "environment changed": [], "root handlers added": 0}
    assert (tmp_path / "grid.png").read_bytes().startswith(b"\x89PNG")


def test_only_zoo_plotting_imports_matplotlib():
    # Keras imports matplotlib itself, so this is checked in the source: the library's
    # figures live in one module that a user imports when they want figures.
    importers = sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "zoo").rglob("*.py")
                       if re.search(r"^\s*(import|from) matplotlib", path.read_text(), re.M))
    assert importers == ["zoo/plotting.py"]


def test_the_version_lives_in_one_place():
    """`zoo.__version__` is the version: the installed metadata comes from it (setup.cfg's
    ``attr:``), and the citation and the changelog's newest entry say the same."""
    from importlib.metadata import version

    import zoo

    assert version("deepzoo") == zoo.__version__
    citation = re.search(r"^version: (\S+)$", (ROOT / "CITATION.cff").read_text(), re.M).group(1)
    newest = re.search(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.M).group(1)
    assert citation == newest == zoo.__version__
