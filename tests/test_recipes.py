import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

import zoo

import zoo.data
from helpers import assert_outputs, read_table
from zoo.training import read_history

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
    ("finetune", ["--shift", "0.5"], "--shift: must be a number in [0, 0.5), got 0.5"),
    ("finetune", ["--schedule", "linear"], "--schedule: invalid choice: 'linear'"),
    ("finetune", ["--pretrained", "mnist_d9", "--latent-dim", "4"],
     "--pretrained mnist_d9 fixes the encoder; drop --latent-dim"),
    ("vae", ["--dtype-policy", "float16"], "--dtype-policy: invalid choice: 'float16'"),
    ("run", ["all", "--dtype-policy", "bfloat16"], "--dtype-policy: invalid choice: 'bfloat16'"),
    ("gan", ["--steps-per-execution", "0"],
     "--steps-per-execution: must be a positive integer, got 0"),
    ("run", ["all", "--steps-per-execution", "many"],
     "--steps-per-execution: must be a positive integer, got 'many'"),
    ("autoencoder", ["--quick", "--preset", "../evil"], "--preset: preset name '../evil' must be"),
    ("diffusion", ["--widths", "8,0"], "--widths: must be a positive integer, got 0"),
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


@pytest.mark.parametrize("recipes", [["autoencoder"], ["all"]])
def test_run_checks_every_recipes_options_before_anything_trains(recipes, tmp_path, capsys):
    """`run autoencoder --latent-dim 0` printed argparse's error, then a SystemExit
    traceback, and `run all` went on to the other recipes."""
    from recipes.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(["run", *recipes, "--quick", "--latent-dim", "0", "--out", str(tmp_path)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "python -m recipes autoencoder: error: argument --latent-dim: must be a positive "
        "integer, got 0"]
    assert not any(tmp_path.iterdir())  # nothing ran, nothing was written


def test_version(capsys):
    from recipes.__main__ import main

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"deepzoo {zoo.__version__}"


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


@pytest.mark.slow  # 42 s; test_distribute trains under the mirrored strategy in the default run
def test_recipes_train_under_a_mirrored_strategy(tmp_path):
    result = subprocess.run([sys.executable, "-c", MIRRORED_RECIPE, str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "replicas 2" in result.stdout
    for recipe in ("autoencoder", "vae"):
        assert json.loads((tmp_path / recipe / "run.json").read_text())["arguments"]["strategy"] == "mirrored"


@pytest.fixture
def float32_afterwards():
    """For a test whose recipe sets a global dtype policy (as `prepare` does): the tests
    after it build their models in float32 again."""
    yield
    keras.config.set_dtype_policy("float32")


def test_run_passes_the_dtype_policy_and_steps_per_execution_on(tmp_path, float32_afterwards):
    from recipes.__main__ import main

    assert main(["run", "autoencoder", "--quick", "--epochs", "1", "--latent-dim", "4",
                 "--filters", "4", "--dense-units", "0", "--dtype-policy", "mixed_bfloat16",
                 "--steps-per-execution", "3", "--out", str(tmp_path)]) == 0
    model = keras.saving.load_model(tmp_path / "autoencoder" / "model.keras")
    assert model.dtype_policy.name == "mixed_bfloat16" and model.steps_per_execution == 3
    arguments = json.loads((tmp_path / "autoencoder" / "run.json").read_text())["arguments"]
    assert (arguments["dtype_policy"], arguments["steps_per_execution"]) == ("mixed_bfloat16", "3")
    metadata = json.loads((tmp_path / "study.json").read_text())["metadata"]
    assert (metadata["dtype policy"], metadata["steps per execution"]) == ("mixed_bfloat16", 3)
    page = (tmp_path / "index.html").read_text()
    assert "<td>dtype policy</td><td>mixed_bfloat16</td>" in page
    assert "<td>steps per execution</td><td>3</td>" in page


def test_list_prints_every_recipe(capsys):
    from recipes.__main__ import RECIPES, main

    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = dict(line.split(None, 1) for line in lines)
    assert listed == RECIPES
    # A recipe module that `list` (and so `run all`) leaves out fails here.
    assert set(listed) == {p.stem for p in (ROOT / "recipes").glob("*.py")
                           if not p.stem.startswith("_")}


def test_run_reports_a_failing_recipe_as_failed_runs_the_rest_and_exits_1(
        tmp_path, capsys, monkeypatch):
    import recipes.gan
    from recipes.__main__ import main

    import recipes.vae

    def broken(argv):
        raise RuntimeError("the GAN broke")

    def refuses(argv):  # a recipe's own one-line error (a data file, an option it refuses)
        raise SystemExit("vae: error: the VAE refused")

    monkeypatch.delenv("ZOO_STRATEGY", raising=False)
    monkeypatch.setattr(recipes.gan, "main", broken)
    monkeypatch.setattr(recipes.vae, "main", refuses)
    code = main(["run", "gan", "vae", "autoencoder", "--quick", "--epochs", "1", "--latent-dim",
                 "4", "--filters", "4", "--dense-units", "0", "--out", str(tmp_path)])
    output = capsys.readouterr()
    assert code == 1
    assert "RuntimeError: the GAN broke" in output.err  # its traceback
    assert "=== gan: failed" in output.out and "=== autoencoder: ok" in output.out
    assert "=== vae: failed" in output.out
    assert "2 failed ['gan', 'vae']" in output.out
    # The recipe after the failed one still ran and wrote its results...
    assert_outputs(tmp_path / "autoencoder", ("metrics.json", "reconstructions.png"))
    page = (tmp_path / "index.html").read_text()
    sections = dict(re.findall(r'<section id="(\w+)">(.*?)</section>', page, re.S))
    # ...and the report shows both: the failure with its error, the other with its table.
    assert {"run", "gan", "autoencoder"} <= set(sections)
    assert 'class="failed">failed' in sections["gan"]
    assert "RuntimeError: the GAN broke" in sections["gan"]
    assert 'class="ok">ok' in sections["autoencoder"] and "test MSE" in sections["autoencoder"]
    overview = re.findall(r"<tr><td>([^<]*)</td><td>(ok|failed)</td>", sections["run"])
    assert overview == [("Generative adversarial network", "failed"),
                        ("Variational autoencoder", "failed"),
                        ("Convolutional autoencoder", "ok")]
    study = json.loads((tmp_path / "study.json").read_text())
    assert [(r["name"], r["status"]) for r in study["recipes"]] == [
        ("gan", "failed"), ("vae", "failed"), ("autoencoder", "ok")]
    assert study["recipes"][2]["seconds"] > 0 and study["metadata"]["mode"].startswith("quick")
    assert "the VAE refused" in sections["vae"]


def test_a_recipe_killed_after_an_epoch_resumes_at_the_next_one(tmp_path):
    command = [sys.executable, "-m", "recipes", "autoencoder", "--quick", "--epochs", "4",
               "--latent-dim", "2", "--filters", "2", "--dense-units", "0", "--batch-size", "32",
               "--out", str(tmp_path)]
    run_dir = tmp_path / "autoencoder" / "run"
    backup = run_dir / "backup" / "training_metadata.json"

    def start(log):
        with log.open("w") as stdout:  # the child keeps its own copy
            return subprocess.Popen(command, cwd=ROOT, stdout=stdout, stderr=subprocess.STDOUT)

    def epochs_begun(log):  # Keras's verbose=2 lines "Epoch 3/4", as 1-based numbers
        return [int(n) for n in re.findall(r"^Epoch (\d+)/4$", log.read_text(), re.M)]

    victim, saved = start(tmp_path / "first.log"), None
    deadline = time.monotonic() + 120
    while saved is None and victim.poll() is None and time.monotonic() < deadline:
        try:  # BackupAndRestore writes this last, once the epoch's weights are saved
            saved = json.loads(backup.read_text())["epoch"]
        except (OSError, ValueError):
            time.sleep(0.01)
    victim.kill()
    victim.wait()
    assert victim.returncode == -signal.SIGKILL, (tmp_path / "first.log").read_text()[-3000:]
    saved = json.loads(backup.read_text())["epoch"]  # the last backup before the kill
    assert 1 <= saved < 4 and not (tmp_path / "autoencoder" / "metrics.json").exists()

    rerun = start(tmp_path / "second.log")
    assert rerun.wait(timeout=120) == 0, (tmp_path / "second.log").read_text()[-3000:]
    # The rerun trains only the epochs after the backup, and the run ends with all four.
    assert epochs_begun(tmp_path / "second.log") == list(range(saved + 1, 5))
    assert len(read_history(run_dir)["loss"]) == 4
    assert read_table(tmp_path / "autoencoder" / "metrics")[0]["epochs"] == 4
    assert not (run_dir / "backup").exists()  # Keras deletes it once training finishes


# Slow (30 s); test_a_recipe_killed_after_an_epoch_resumes_at_the_next_one resumes training.
@pytest.mark.slow
def test_an_interrupted_run_all_goes_on_at_the_recipe_it_was_cut_in(tmp_path, monkeypatch):
    import recipes.autoencoder
    import recipes.vae
    from recipes.__main__ import main

    monkeypatch.delenv("ZOO_STRATEGY", raising=False)
    calls = []

    def autoencoder(argv):  # what a recipe leaves is not the point here, only whether it ran
        calls.append("autoencoder")

    def cut(argv):
        raise KeyboardInterrupt  # a kill: no result, no report

    monkeypatch.setattr(recipes.autoencoder, "main", autoencoder)
    monkeypatch.setattr(recipes.vae, "main", cut)
    command = ["run", "autoencoder", "vae", "--quick", "--out", str(tmp_path)]
    with pytest.raises(KeyboardInterrupt):
        main(command)
    record = json.loads((tmp_path / "study.json").read_text())
    assert not record["finished"] and [r["name"] for r in record["recipes"]] == ["autoencoder"]

    monkeypatch.setattr(recipes.vae, "main", lambda argv: calls.append("vae"))
    assert main(command) == 0
    assert calls == ["autoencoder", "vae"]  # the autoencoder was not trained again
    record = json.loads((tmp_path / "study.json").read_text())
    assert record["finished"] and [r["status"] for r in record["recipes"]] == ["ok", "ok"]
    assert record["metadata"]["wall time (s)"] == pytest.approx(
        sum(r["seconds"] for r in record["recipes"]), abs=0.1)
    # A finished run starts afresh.
    assert main(command) == 0 and calls == ["autoencoder", "vae"] * 2
    # So does an interrupted one rerun with other options, the dtype policy among them.
    for other in (["--seed", "1"], ["--dtype-policy", "mixed_float16"]):
        calls.clear()
        monkeypatch.setattr(recipes.vae, "main", cut)
        with pytest.raises(KeyboardInterrupt):
            main(command)
        monkeypatch.setattr(recipes.vae, "main", lambda argv: calls.append("vae"))
        assert main(command + other) == 0
        assert calls == ["autoencoder", "autoencoder", "vae"], other


def test_run_routes_each_option_only_to_the_recipes_that_take_it(capsys):
    from recipes.__main__ import _route, main

    passthrough = ["--export", "--epochs", "2", "--data-dir", "folder", "--preset=p"]
    assert _route(passthrough, "latent") == (["--epochs", "2", "--data-dir", "folder"],
                                             ["--export", "--preset"])
    assert _route(passthrough, "autoencoder") == (passthrough, [])
    # An option no chosen recipe takes is refused before anything runs.
    with pytest.raises(SystemExit) as stop:
        main(["run", "latent", "tuning", "--quick", "--export"])
    assert stop.value.code == 2 and "no recipe of ['latent', 'tuning'] takes ['--export']" \
        in capsys.readouterr().err


def test_a_recipe_rerun_after_training_loads_the_trained_model_instead_of_retraining(tmp_path):
    """A kill while a recipe scores its model (the diffusion recipe samples for half an
    hour after training) must not cost the training: the rerun loads the weights."""
    from recipes import autoencoder

    argv = ["--quick", "--epochs", "2", "--latent-dim", "2", "--filters", "2", "--dense-units",
            "0", "--out", str(tmp_path)]
    first = autoencoder.main(argv)
    history = (tmp_path / "autoencoder" / "run" / "history.csv").read_text()
    again = autoencoder.main(argv)
    assert again["test MSE"] == pytest.approx(first["test MSE"], rel=1e-6)
    assert again["train seconds"] == first["train seconds"]
    assert (tmp_path / "autoencoder" / "run" / "history.csv").read_text() == history
    changed = autoencoder.main([*argv[:-2], "--latent-dim", "3", "--out", str(tmp_path)])
    assert changed["parameters"] > first["parameters"]  # another model: trained afresh
    record = json.loads((tmp_path / "autoencoder" / "run" / "trained" / "run.json").read_text())
    assert record["run"]["config"]["latent_dim"] == 3
