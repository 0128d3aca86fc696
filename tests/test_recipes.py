import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_autoencoder_recipe_help():
    result = subprocess.run([sys.executable, "-m", "recipes.autoencoder", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--quick" in result.stdout


def test_autoencoder_recipe_quick_writes_figures_table_and_model(tmp_path):
    from recipes import autoencoder

    row = autoencoder.main(["--quick", "--epochs", "2", "--latent-dim", "8", "--filters", "4",
                            "--out", str(tmp_path), "--export"])
    out = tmp_path / "autoencoder"
    for name in ("loss_curves.png", "reconstructions.png", "metrics.md", "model.keras",
                 "savedmodel/saved_model.pb"):
        assert (out / name).is_file(), name
    table = json.loads((out / "metrics.json").read_text())
    assert table["rows"][0]["test MSE"] == pytest.approx(row["test MSE"])
    assert 0 < row["test MSE"] < 0.2 and row["epochs"] == 2
    assert "embedded sample" in row["data source"]


def test_recipe_rejects_bad_arguments(capsys, tmp_path):
    from recipes import autoencoder

    with pytest.raises(SystemExit):
        autoencoder.main(["--epochs", "0"])
    assert "positive integer" in capsys.readouterr().err
    with pytest.raises(ValueError, match="latent_dim"):
        autoencoder.main(["--quick", "--latent-dim", "-1", "--out", str(tmp_path)])


MIRRORED_RECIPE = """
import sys
from zoo.distribute import split_cpu
split_cpu(2)
import tensorflow as tf
from recipes.__main__ import main
code = main(["run", "autoencoder", "vae", "--quick", "--epochs", "1", "--strategy", "mirrored",
             "--out", sys.argv[1]])
print("replicas", tf.distribute.get_strategy().num_replicas_in_sync)
sys.exit(code)
"""


def test_recipes_train_under_a_mirrored_strategy(tmp_path):
    result = subprocess.run([sys.executable, "-c", MIRRORED_RECIPE, str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "replicas 2" in result.stdout
    for recipe in ("autoencoder", "vae"):
        assert json.loads((tmp_path / recipe / "run.json").read_text())["arguments"]["strategy"] == "mirrored"
