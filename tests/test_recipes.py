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
