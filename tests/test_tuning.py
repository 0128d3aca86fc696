import functools
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest

from helpers import assert_figure, assert_outputs
from zoo import ConvAutoencoder
from zoo.data import load_dataset
from zoo import plotting, tuning
from zoo.tuning import AutoencoderHyperModel, CrossValidatedHyperModel, SearchSpace, make_tuner

ROOT = Path(__file__).resolve().parents[1]
TINY = SearchSpace(filters=(2, 4), latent_dim=(2, 8), dense_units=(0,))


@pytest.fixture(scope="module")
def tiny_data(mnist_sample):
    return mnist_sample.x_train[:256], mnist_sample.x_val[:128]


# ------------------------------------------------------------------ search space


def test_default_space_covers_the_reports_ranges():
    space = SearchSpace()
    assert space.filters == (3, 16) and space.latent_dim == (2, 50)
    assert set(space.optimizers) == {"adam", "sgd"} and space.momentum == (0.7, 0.99)
    assert space.learning_rate == (1e-5, 1e-2) and space.weight_decay == (1e-6, 1e-3)
    hp = kt.HyperParameters()
    hp.values["optimizer"] = "sgd"  # momentum is declared only for SGD
    AutoencoderHyperModel(space=space).build(hp)
    searched = {p.name: p for p in hp.space}
    assert {"filters", "latent_dim", "dropout", "optimizer", "learning_rate",
            "weight_decay", "momentum"} <= set(searched)
    assert searched["learning_rate"].sampling == "log" and searched["weight_decay"].sampling == "log"
    assert searched["filters"].min_value == 3 and searched["latent_dim"].max_value == 50


@pytest.mark.parametrize("kwargs, error", [
    ({"filters": (0, 4)}, ValueError),
    ({"latent_dim": (10, 2)}, ValueError),
    ({"latent_dim": (2.5, 8)}, TypeError),
    ({"filters": [3, 16]}, TypeError),
    ({"filters": (3, 16, 32)}, ValueError),
    ({"dropout": (0.0, 1.0)}, ValueError),
    ({"optimizers": ("adam", "rmsprop")}, ValueError),
    ({"momentum": (0.5, 1.0)}, ValueError),
    ({"learning_rate": (0.0, 1e-2)}, ValueError),
    ({"weight_decay": 1e-4}, TypeError),
    ({"dense_units": ()}, ValueError),
    ({"dense_units": (16, -1)}, ValueError),
    ({"dense_units": (16.0,)}, TypeError),
    ({"optimizers": "adam"}, TypeError),
])
def test_bad_space_is_rejected(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        SearchSpace(**kwargs)


def test_hypermodel_builds_the_drawn_configuration():
    hp = kt.HyperParameters()
    hp.values.update({"filters": 5, "latent_dim": 7, "dropout": 0.25, "optimizer": "sgd",
                      "learning_rate": 3e-3, "weight_decay": 1e-4, "momentum": 0.8})
    model = AutoencoderHyperModel(space=SearchSpace(dense_units=(16, 32))).build(hp)
    assert isinstance(model, ConvAutoencoder)
    assert (model.filters, model.latent_dim, model.dropout, model.dense_units) == (5, 7, 0.25, 16)
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert optimizer.momentum == pytest.approx(0.8)
    assert optimizer.weight_decay == pytest.approx(1e-4)
    assert float(optimizer.learning_rate) == pytest.approx(3e-3)

    hp = kt.HyperParameters()
    hp.values.update({"optimizer": "adam", "weight_decay": 2e-5})
    model = AutoencoderHyperModel(space=SearchSpace(optimizers=("adam",))).build(hp)
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert model.optimizer.weight_decay == pytest.approx(2e-5)
    assert "momentum" not in hp.values  # SGD's momentum is conditional on SGD


def test_fixed_ranges_and_custom_builder():
    calls = []

    def builder(**kwargs):
        calls.append(kwargs)
        return ConvAutoencoder(**kwargs)

    space = SearchSpace(filters=(4, 4), latent_dim=(3, 3), dense_units=None, dropout=None,
                        optimizers=("adam",), learning_rate=(1e-3, 1e-3), weight_decay=(0, 0))
    hp = kt.HyperParameters()
    model = AutoencoderHyperModel(space=space, model_builder=builder, loss=None).build(hp)
    assert calls == [{"input_shape": (28, 28, 1), "filters": 4, "latent_dim": 3}]
    assert all(isinstance(p, kt.engine.hyperparameters.Fixed) for p in hp.space)
    assert model.optimizer.weight_decay is None and model.loss is None
    with pytest.raises(TypeError, match="SearchSpace"):
        AutoencoderHyperModel(space={"filters": (3, 16)})


def test_make_tuner_rejects_bad_arguments(tmp_path):
    hypermodel = AutoencoderHyperModel(space=TINY)
    with pytest.raises(ValueError, match="^kind must be one of"):
        make_tuner("grid", hypermodel, tmp_path)
    with pytest.raises(ValueError, match="^max_trials"):
        make_tuner("random", hypermodel, tmp_path, max_trials=0)
    with pytest.raises(TypeError, match="^max_epochs must be an integer"):
        make_tuner("hyperband", hypermodel, tmp_path, max_epochs=2.5)
    with pytest.raises(ValueError, match="Hyperband"):
        make_tuner("hyperband", CrossValidatedHyperModel(space=TINY), tmp_path)
    with pytest.raises(TypeError, match="HyperModel"):
        make_tuner("random", lambda hp: None, tmp_path)


# ------------------------------------------------------------------------ search


# Random search in the default run; the other kinds, 72 s more, with -m slow.
@pytest.mark.parametrize("kind", [kind if kind == "random" else pytest.param(kind, marks=pytest.mark.slow)
                                  for kind in sorted(tuning.TUNERS)])
def test_search_of_each_kind_logs_trials_and_draws_figures(kind, tiny_data, tmp_path):
    x, x_val = tiny_data
    extra = {"factor": 2} if kind == "hyperband" else {}
    # Three Bayesian trials: two random starting points, then one from the Gaussian process.
    tuner = make_tuner(kind, AutoencoderHyperModel(space=TINY), tmp_path,
                       max_trials=3 if kind == "bayesian" else 2, max_epochs=2, **extra)
    if kind == "bayesian":
        assert tuner.oracle.num_initial_points == 2
    tuner.search(x, epochs=2, validation_data=x_val, batch_size=64, verbose=0)

    records = tuning.trial_records(tuner)
    assert len(records) >= 2 and all(r["status"] == "COMPLETED" for r in records)
    for record in records:
        curve = record["epochs"]
        assert curve["epoch"] and len(curve["val_loss"]) == len(curve["epoch"])
        # The reported objective is the best logged epoch of the trial.
        assert record["score"] == pytest.approx(min(curve["val_loss"]), rel=1e-5)
        assert not any(k.startswith("tuner/") for k in record["hyperparameters"])
    if kind == "hyperband":  # promoted trials continue their parent's epochs
        children = [r for r in records if r["parent"] is not None]
        assert children and all(r["epochs"]["epoch"][0] > 1 for r in children)
    best = tuning.best_configuration(tuner)
    assert best["score"] == pytest.approx(min(r["score"] for r in records))
    assert 2 <= best["latent_dim"] <= 8 and best["optimizer"] in ("adam", "sgd")

    paths = [plotting.plot_optimization_history(records, tmp_path / "history.png"),
             plotting.plot_intermediate_values(records, tmp_path / "intermediate.png"),
             plotting.plot_parallel_coordinates(records, tmp_path / "parallel.png",
                                              log_names=tuning.log_scaled(tuner))]
    for path in paths:
        assert_figure(path, min_size=(400, 250))
    assert tuning.log_scaled(tuner) == {"learning_rate", "weight_decay"}


def test_same_hypermodel_searches_the_vae(tiny_data, tmp_path):
    vae = pytest.importorskip("zoo.models.vae")
    x, x_val = tiny_data
    # The default space has dropout, which the VAE does not take: it is left out.
    assert "dropout" not in tuning.accepted_fields(functools.partial(vae.VAE, architecture="conv"))
    hypermodel = AutoencoderHyperModel(
        space=SearchSpace(filters=(2, 4), latent_dim=(2, 8), dense_units=(0,)),
        model_builder=functools.partial(vae.VAE, architecture="conv"), loss=None)
    tuner = make_tuner("random", hypermodel, tmp_path, max_trials=1)
    tuner.search(x, epochs=1, validation_data=x_val, batch_size=64, verbose=0)
    [record] = tuning.trial_records(tuner)
    assert record["status"] == "COMPLETED" and np.isfinite(record["score"])
    assert isinstance(hypermodel.build(tuner.get_best_hyperparameters()[0]), vae.VAE)
    assert "dropout" not in tuner.get_best_hyperparameters()[0].values


class InterruptSecondTrial(keras.callbacks.Callback):
    """Kills the search when the second trial starts (class state survives the
    tuner's deep copies of callbacks)."""

    trials_started = 0

    def on_train_begin(self, logs=None):
        type(self).trials_started += 1
        if type(self).trials_started == 2:
            raise kt.errors.FatalError("simulated crash in trial 2")


# Slow (30 s): KerasTuner's own resume; the zoo's part is overwrite=False.
@pytest.mark.slow
def test_interrupted_search_resumes_with_overwrite_false(tiny_data, tmp_path):
    x, x_val = tiny_data
    hypermodel = AutoencoderHyperModel(space=TINY)
    fit = dict(epochs=1, validation_data=x_val, batch_size=64, verbose=0)
    tuner = make_tuner("random", hypermodel, tmp_path, max_trials=3, overwrite=True)
    with pytest.raises(kt.errors.FatalError, match="simulated crash"):
        tuner.search(x, callbacks=[InterruptSecondTrial()], **fit)
    first = Path(tuner.project_dir) / "trial_0"
    first_state = (first / "trial.json").read_text(), (first / tuning.EPOCHS_FILE).stat().st_mtime_ns

    resumed = make_tuner("random", hypermodel, tmp_path, max_trials=3, overwrite=False)
    assert [r["status"] for r in tuning.trial_records(resumed)] == ["COMPLETED", "RUNNING"]
    resumed.search(x, **fit)
    records = tuning.trial_records(resumed)
    assert [r["status"] for r in records] == ["COMPLETED"] * 3
    # The finished trial was reused, not retrained.
    assert ((first / "trial.json").read_text(),
            (first / tuning.EPOCHS_FILE).stat().st_mtime_ns) == first_state

    fresh = make_tuner("random", hypermodel, tmp_path, max_trials=3, overwrite=True)
    assert tuning.trial_records(fresh) == []


def test_cross_validated_hypermodel_averages_folds(tiny_data, tmp_path):
    x, _ = tiny_data
    hypermodel = CrossValidatedHyperModel(space=TINY, n_splits=2)
    tuner = make_tuner("bayesian", hypermodel, tmp_path, max_trials=2)
    tuner.search(x, epochs=1, batch_size=64, verbose=0)
    records = tuning.trial_records(tuner)
    assert [r["status"] for r in records] == ["COMPLETED", "COMPLETED"]
    log = json.loads((Path(tuner.get_trial_dir("0")) / tuning.EPOCHS_FILE).read_text())
    assert [(row["run"], row["epoch"]) for row in log["epochs"]] == [(0, 1), (1, 1)]
    last = [row["val_loss"] for row in log["epochs"]]
    assert records[0]["score"] == pytest.approx(np.mean(last), rel=1e-5)

    hp = tuner.get_best_hyperparameters()[0]
    with pytest.raises(ValueError, match="validation_data"):
        hypermodel.fit(hp, hypermodel.build(hp), x, validation_data=x, epochs=1)
    with pytest.raises(ValueError, match="n_splits"):
        CrossValidatedHyperModel(n_splits=1)


def test_figures_need_completed_trials(tmp_path):
    running = [{"trial_id": "0", "status": "RUNNING", "score": float("nan"),
                "hyperparameters": {"latent_dim": 3}, "parent": None, "epochs": {}}]
    with pytest.raises(ValueError, match="completed"):
        plotting.plot_optimization_history(running, tmp_path / "h.png")
    with pytest.raises(ValueError, match="val_loss"):
        plotting.plot_intermediate_values(running, tmp_path / "i.png")


# ------------------------------------------------------------- distributed search

WORKER_SCRIPT = textwrap.dedent("""
    import sys
    from zoo import tuning
    from zoo.data import load_dataset

    data = load_dataset("mnist", source="sample")
    space = tuning.SearchSpace(filters=(2, 4), latent_dim=(2, 8), dense_units=(0,))
    tuner = tuning.make_tuner("random", tuning.AutoencoderHyperModel(space=space), sys.argv[1],
                              max_trials=4)
    print("role:", tuning.distributed_role(), flush=True)
    tuner.search(data.x_train[:256], epochs=2, validation_data=data.x_val[:128],
                 batch_size=64, verbose=0)
    print("search returned", flush=True)
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port, process, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.5)
    return False


@pytest.mark.slow  # 35 s; test_distribute holds the multi-worker set-up in the default run
def test_distributed_search_chief_and_two_workers_share_one_oracle(tmp_path, monkeypatch):
    script = tmp_path / "search.py"
    script.write_text(WORKER_SCRIPT)
    directory = tmp_path / "shared"
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "3", "KERASTUNER_ORACLE_IP": "127.0.0.1",
           "KERASTUNER_ORACLE_PORT": str(port)}
    processes, logs = {}, {}

    def start(tuner_id):
        logs[tuner_id] = open(tmp_path / f"{tuner_id}.log", "w")
        processes[tuner_id] = subprocess.Popen(
            [sys.executable, str(script), str(directory)], cwd=tmp_path,
            env={**env, "KERASTUNER_TUNER_ID": tuner_id},
            stdout=logs[tuner_id], stderr=subprocess.STDOUT)

    def log_text():
        return "\n".join(f"--- {name}\n{(tmp_path / f'{name}.log').read_text()[-3000:]}"
                         for name in logs)

    try:
        start("chief")
        # Start the workers once the oracle serves, so both ask for trials from the start.
        assert _wait_for_port(port, processes["chief"], timeout=120), log_text()
        start("worker0")
        start("worker1")
        for name in ("worker0", "worker1", "chief"):
            assert processes[name].wait(timeout=180) == 0, log_text()
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
        for log in logs.values():
            log.close()

    assert "role: chief" in (tmp_path / "chief.log").read_text()
    assert "role: worker" in (tmp_path / "worker0.log").read_text()
    project = directory / "search"
    oracle = json.loads((project / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1", "2", "3"]
    assert "search returned" in (tmp_path / "chief.log").read_text()
    # Reload the chief's oracle without serving it: every trial is there, run by both workers.
    monkeypatch.delenv("KERASTUNER_ORACLE_IP", raising=False)
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    tuner = make_tuner("random", AutoencoderHyperModel(space=TINY), directory, max_trials=4)
    records = tuning.trial_records(tuner)
    assert [r["status"] for r in records] == ["COMPLETED"] * 4, log_text()
    assert {r["tuner_id"] for r in records} == {"worker0", "worker1"}, log_text()


# Slow (45 s): the search and its figures are tested above, piece by piece.
@pytest.mark.slow
def test_tuning_recipe_writes_figures_and_tables(tmp_path):
    from recipes import tuning as recipe

    summary = recipe.main(["--quick", "--tuner", "random", "--trials", "2", "--epochs", "3",
                           "--batch-size", "32", "--folds", "2", "--out", str(tmp_path)])
    out = tmp_path / "tuning"
    assert_outputs(out, ("optimization_history.png", "intermediate_values.png",
                         "parallel_coordinates.png", "best_configuration.md", "trials.md",
                         "cross_validation.md"))
    cv = json.loads((out / "cross_validation.json").read_text())["rows"]
    assert [row["fold"] for row in cv] == ["1", "2", "mean ± std"]
    assert summary["CV test MSE mean"] == pytest.approx(np.mean([row["test MSE"] for row in cv[:2]]))
    # The bar: the mean training image, the best constant prediction, scores val MSE 0.085
    # on the sample (an untrained network's 0.5 output 0.169). Measured with these
    # settings: best val MSE 0.028 and CV test MSE 0.048 (each fold trains on half the
    # images); with 1 epoch on 300 images, the old settings, 0.168, no better than untrained.
    data = load_dataset("fashion_mnist", source="sample")
    mean_image = float(np.mean((data.x_val - data.x_train.mean(axis=0)) ** 2))
    assert summary["trials"] == 2
    assert summary["best val MSE"] < mean_image / 2, (summary, mean_image)
    assert summary["CV test MSE mean"] < 0.8 * mean_image, (summary, mean_image)
    best = json.loads((out / "best_configuration.json").read_text())["rows"]
    assert {"hyperparameter": "score", "value": summary["best val MSE"]} in best
