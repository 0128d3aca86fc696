"""deepzoo as a user gets it: a wheel installed into a fresh virtualenv, used from elsewhere.

The wheel is built from the tracked files, installed with ``--no-deps`` into a new venv
whose dependencies come from the test environment (a ``.pth`` line; ``.pth`` files there,
such as the editable install's finder, are not run), and every check runs from an empty
folder, so nothing can come from the checkout.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK_PRESETS = """
import json
import keras
import zoo
from zoo import GAN, VAE, ContrastiveEncoder, ConvAutoencoder
from zoo.presets import list_presets, load_preset, preset_card
kinds = {"ConvAutoencoder": ConvAutoencoder, "VAE": VAE, "GAN": GAN,
         "ContrastiveEncoder": ContrastiveEncoder}
loaded = {}
for name in list_presets():
    cls = kinds.get(preset_card(name)["class"], keras.Model)
    model = cls.from_preset(name) if cls is not keras.Model else load_preset(name)
    loaded[name] = type(model).__name__
try:
    load_preset("clowntown")
except ValueError as error:
    unknown = str(error)
print(json.dumps({"zoo": zoo.__file__, "loaded": loaded, "unknown": unknown}))
"""


def run(args, cwd, **kwargs):
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                            timeout=600, **kwargs)
    assert result.returncode == 0, f"{args}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh virtualenv with the deepzoo wheel built from the tracked files."""
    root = tmp_path_factory.mktemp("installed")
    files = run(["git", "ls-files", "-z"], cwd=ROOT).stdout.split("\0")
    for name in filter(None, files):
        (root / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, root / "src" / name)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", root / "dist",
         root / "src"], cwd=root)
    wheel = next((root / "dist").glob("deepzoo-*.whl"))
    run([sys.executable, "-m", "venv", "--without-pip", root / "venv"], cwd=root)
    python = root / "venv" / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               cwd=root).stdout.strip()
    Path(site, "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel],
        cwd=root)
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return root / "venv" / "bin", elsewhere


def test_every_preset_loads_from_the_installed_package(venv):
    bin_dir, elsewhere = venv
    env = {k: v for k, v in os.environ.items() if k != "ZOO_PRESET_DIR"}
    result = json.loads(run([bin_dir / "python", "-c", CHECK_PRESETS], cwd=elsewhere,
                            env=env).stdout.strip().splitlines()[-1])
    assert result["zoo"].startswith(str(bin_dir.parent)), result["zoo"]
    shipped = sorted(p.stem for p in (ROOT / "saved_models").glob("*.keras"))
    assert sorted(result["loaded"]) == shipped and len(shipped) >= 5
    assert result["loaded"]["mnist_vae_d32"] == "VAE"
    assert result["loaded"]["fashion_mnist_pretrained"] == "ContrastiveEncoder"
    assert "no preset 'clowntown'" in result["unknown"] and "mnist_d9" in result["unknown"]


def test_console_script_runs_the_recipes_from_anywhere(venv):
    bin_dir, elsewhere = venv
    listed = run([bin_dir / "deepzoo", "list"], cwd=elsewhere).stdout
    assert listed.split()[0] == "autoencoder" and "gan" in listed
    usage = run([bin_dir / "deepzoo", "autoencoder", "--help"], cwd=elsewhere).stdout
    assert usage.startswith("usage: deepzoo autoencoder")
    module = run([bin_dir / "python", "-m", "deepzoo_recipes", "list"], cwd=elsewhere).stdout
    assert module == listed
    # A real recipe run on the sample shipped inside the wheel, with a versioned export.
    run([bin_dir / "deepzoo", "autoencoder", "--quick", "--epochs", "1", "--filters", "4",
         "--export", "--out", "report"], cwd=elsewhere)
    out = elsewhere / "report" / "autoencoder"
    assert (out / "savedmodel" / "1" / "saved_model.pb").is_file()
    rows = json.loads((out / "metrics.json").read_text())["rows"]
    assert rows[0]["data source"] == "the embedded sample"
