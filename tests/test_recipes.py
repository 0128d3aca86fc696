import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import zoo.data
from helpers import assert_outputs

ROOT = Path(__file__).resolve().parents[1]


def test_recipe_help_is_clean_of_tensorflow_startup_noise():
    result = subprocess.run([sys.executable, "-m", "recipes", "autoencoder", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert result.returncode == 0 and "--quick" in result.stdout
    assert result.stdout.startswith("usage: python -m recipes autoencoder")
    assert result.stderr == ""  # TensorFlow was imported, and said nothing


def test_autoencoder_recipe_quick_trains_and_writes_figures_table_and_model(tmp_path):
    from recipes import autoencoder

    row = autoencoder.main(["--quick", "--epochs", "2", "--latent-dim", "16", "--filters", "8",
                            "--learning-rate", "3e-3", "--batch-size", "32",
                            "--out", str(tmp_path), "--export"])
    out = tmp_path / "autoencoder"
    assert_outputs(out, ("loss_curves.png", "reconstructions.png", "metrics.md", "model.keras",
                         "savedmodel/1/saved_model.pb"))
    table = json.loads((out / "metrics.json").read_text())
    assert table["rows"][0]["test MSE"] == pytest.approx(row["test MSE"])
    # The bar: the best constant guess, the mean training image (MSE 0.087 on this sample;
    # 0.5 everywhere scores 0.170). These settings reach 0.027 in 2 epochs; an untrained or
    # barely trained network stays above half the bar.
    sample = zoo.data.load_dataset("fashion_mnist", source="sample")
    mean_image_mse = float(((sample.x_test - sample.x_train.mean(axis=0)) ** 2).mean())
    assert row["test MSE"] < 0.5 * mean_image_mse and row["epochs"] == 2
    assert row["data source"] == "the embedded sample"
    assert list((out / "run" / "tensorboard" / "train").glob("events.out.tfevents.*"))


@pytest.mark.parametrize("recipe, argv, message", [
    ("autoencoder", ["--epochs", "0"], "--epochs: must be a positive integer, got 0"),
    ("autoencoder", ["--latent-dim", "0"], "--latent-dim: must be a positive integer, got 0"),
    ("autoencoder", ["--dropout", "1.5"], "--dropout: must be a number in [0, 1), got 1.5"),
    ("vae", ["--beta", "nan"], "--beta: must be a non-negative number, got nan"),
    ("gan", ["--learning-rate", "fast"], "--learning-rate: must be a positive number, got 'fast'"),
    ("vae", ["--source", "idx"], "--source idx needs --data-dir"),
    ("autoencoder", ["--quick", "--data-dir", "."], "--quick runs on the embedded sample"),
    ("finetune", ["--quick", "--source", "tfds"], "--quick runs on the embedded sample"),
    ("latent", ["--source", "sample", "--data-dir", "."], "--data-dir would be ignored"),
    ("tuning", ["--data-dir", "no/such/folder"], "--data-dir no/such/folder: no such folder"),
    ("run", ["all", "--seed", "-1"], "--seed: must be a non-negative integer, got -1"),
    ("finetune", ["--pretrained", "mnist_d9", "--latent-dim", "4"],
     "--pretrained mnist_d9 fixes the encoder; drop --latent-dim"),
])
def test_bad_command_lines_exit_2_with_one_line(recipe, argv, message, capsys, monkeypatch):
    from recipes.__main__ import main

    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main([recipe, *argv])
    error = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in error
    assert error.splitlines()[-1] == f"python -m recipes {recipe}: error: " \
        + error.splitlines()[-1].split(": error: ", 1)[1]
    assert message in error.splitlines()[-1]


def test_corrupt_data_files_end_the_recipe_with_one_line(tmp_path, capsys):
    from recipes.__main__ import main

    shutil.copytree(Path(zoo.data.SAMPLE_DIR) / "mnist", tmp_path / "mnist")
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(SystemExit) as exit_:
        main(["autoencoder", "--dataset", "mnist", "--data-dir", str(tmp_path),
              "--out", str(tmp_path / "out")])
    assert "python -m recipes autoencoder: error:" in str(exit_.value.code)
    assert "train-images-idx3-ubyte.gz" in str(exit_.value.code)


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
