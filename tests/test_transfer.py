"""The transfer study's protocols (`zoo.transfer`) and its figures."""

import json

import numpy as np
import pytest

from helpers import assert_figure
from zoo import ConvAutoencoder, from_arrays
from zoo.classifier import TRANSFER_METHODS
from zoo.plotting import plot_accuracy_curves, plot_confusion_matrices
from zoo.transfer import (TransferSetup, study_accuracy, study_runs, summarise_study,
                          train_variant)


@pytest.fixture(scope="module")
def dataset():
    """30 training images of 3 classes (10 each), 12 test images: enough to run, not to learn."""
    rng = np.random.default_rng(0)
    return from_arrays(rng.random((30, 28, 28, 1), dtype=np.float32), np.arange(30) % 3,
                       rng.random((12, 28, 28, 1), dtype=np.float32), np.arange(12) % 3,
                       class_names=["a", "b", "c"], validation_split=0.2)


@pytest.fixture(scope="module")
def autoencoder():
    return ConvAutoencoder(latent_dim=4, filters=4, dense_units=0)


SETUP = TransferSetup(hidden_units=8)


@pytest.mark.parametrize("kwargs, error", [
    ({"hidden_units": 0}, ValueError), ({"hidden_units": 8.0}, TypeError),
    ({"head_dropout": 1.0}, ValueError), ({"features": "pixels"}, ValueError),
    ({"learning_rate": 0.0}, ValueError), ({"fine_tune_learning_rate": "3e-4"}, TypeError),
    ({"flip": 1}, TypeError), ({"shift": 0.5}, ValueError),
])
def test_setup_rejects_bad_settings(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        TransferSetup(**kwargs)


def test_setup_augments_only_when_asked(images):
    assert TransferSetup().augmentation(seed=0) is None
    augmented, _ = TransferSetup(shift=0.2).augmentation(seed=0)(images, np.zeros(len(images)))
    assert np.asarray(augmented).shape == images.shape


def test_a_study_record_is_read_back_only_under_the_same_settings(tmp_path, dataset, autoencoder):
    record = tmp_path / "10_frozen_seed0.json"
    context = {"dataset": "arrays", "pretrained": None}
    settings = {**context, "method": "frozen", "seed": 0, "labels": 20, "steps": 2, "hidden_units": 8, "head_dropout": 0.0, "features": "code",
                "learning_rate": 1e-3, "fine_tune_learning_rate": 1e-4, "flip": False, "shift": 0.0}
    record.write_text(json.dumps({"test_accuracy": 0.123, "settings": settings}))
    chosen = np.arange(20)

    def accuracy(setup):
        return study_accuracy("frozen", autoencoder, dataset, chosen, 0, setup, steps=2,
                              record=record, context=context)

    assert accuracy(SETUP) == 0.123
    flipped = TransferSetup(hidden_units=8, flip=True)  # another augmentation: another run
    measured = accuracy(flipped)
    kept = json.loads(record.read_text())
    assert measured != 0.123 and kept["test_accuracy"] == measured and kept["settings"]["flip"]
    assert accuracy(flipped) == measured  # now read back
    # The record of another variant (or seed) under this name is not this run's.
    other = study_accuracy("fine-tuned", autoencoder, dataset, chosen, 0, flipped, steps=2,
                           record=record, context=context)
    assert json.loads(record.read_text()) == {"test_accuracy": other, "settings": {
        **settings, "method": "fine-tuned", "flip": True}}


def test_study_runs_every_variant_on_each_subset_and_resumes(tmp_path, dataset, autoencoder):
    def study():
        return list(study_runs(autoencoder, dataset, SETUP, labels_per_class=[2, None], seeds=[3],
                               steps=2, record_dir=tmp_path / "study"))

    runs = study()
    assert [(r["labels_per_class"], r["seed"], r["method"]) for r in runs] == [
        (n, 3, m) for n in (2, None) for m in TRANSFER_METHODS]
    assert len(list((tmp_path / "study").glob("*.json"))) == 6
    record = tmp_path / "study" / "2_frozen_seed3.json"
    record.write_text(record.read_text().replace(str(runs[0]["test_accuracy"]), "0.123"))
    (tmp_path / "study" / "all_from_scratch_seed3.json").unlink()  # killed before its record
    rerun = study()
    assert rerun[0]["test_accuracy"] == 0.123 and rerun[1:5] == runs[1:5]  # read back
    assert (tmp_path / "study" / "all_from_scratch_seed3.json").exists()  # redone
    with pytest.raises(ValueError, match="labels_per_class"):
        study_runs(autoencoder, dataset, SETUP, labels_per_class=[0], seeds=[0],
                   record_dir=tmp_path)
    with pytest.raises(ValueError, match="label counts and seeds"):
        study_runs(autoencoder, dataset, SETUP, labels_per_class=[2], seeds=[], record_dir=tmp_path)


def test_summary_is_mean_and_std_over_seeds_with_all_labels_placed():
    runs = [{"labels_per_class": n, "seed": seed, "method": m, "test_accuracy": a}
            for n, m, accuracies in ((10, "frozen", (0.5, 0.7)), (10, "from scratch", (0.4, 0.4)),
                                     (None, "frozen", (0.9, 0.8)))
            for seed, a in enumerate(accuracies)]
    points = summarise_study(runs, all_labels_at=540)
    assert [(p["label"], p["labels_per_class"], p["method"], p["seeds"]) for p in points] == [
        ("10", 10, "frozen", 2), ("10", 10, "from scratch", 2), ("all", 540, "frozen", 2)]
    assert points[0]["accuracy_mean"] == pytest.approx(0.6)
    assert points[0]["accuracy_std"] == pytest.approx(0.1) and points[1]["accuracy_std"] == 0
    with pytest.raises(ValueError, match="all_labels_at"):
        summarise_study(runs, all_labels_at=0)


def test_train_variant_keeps_each_epochs_seconds_and_tests_the_model(tmp_path, dataset,
                                                                      autoencoder):
    result = train_variant("fine-tuned", autoencoder, dataset, SETUP, epochs=2,
                           run_dir=tmp_path / "run", warmup_epochs=1, batch_size=8,
                           steps_per_execution=2, verbose=0)
    assert result["model"].steps_per_execution == 2
    history = result["history"]
    assert len(history["val_accuracy"]) == len(history["seconds"]) == 2
    assert all(s > 0 for s in history["seconds"])
    assert result["trainable_parameters"] == result["model"].count_params()  # unfrozen at the end
    assert result["test_predictions"].shape == (12,)
    predicted = result["test_predictions"]
    assert result["test_accuracy"] == pytest.approx(np.mean(predicted == dataset.y_test))
    with pytest.raises(ValueError, match="schedule"):
        train_variant("frozen", autoencoder, dataset, SETUP, epochs=1, run_dir=tmp_path,
                      schedule="linear")
    unlabelled = from_arrays(dataset.x_train)
    with pytest.raises(ValueError, match="has none"):
        train_variant("frozen", autoencoder, unlabelled, SETUP, epochs=1, run_dir=tmp_path)


def test_accuracy_and_confusion_figures(tmp_path):
    histories = {m: {"val_accuracy": [0.5 + 0.1 * i, 0.6 + 0.1 * i], "seconds": [2.0, 1.0 + i]}
                 for i, m in enumerate(TRANSFER_METHODS)}
    assert_figure(plot_accuracy_curves(histories, tmp_path / "curves.png", "title"),
                  min_size=(600, 250))
    labels = np.arange(30) % 3
    predictions = {m: np.roll(labels, i) for i, m in enumerate(TRANSFER_METHODS)}
    assert_figure(plot_confusion_matrices(labels, predictions, tmp_path / "confusion.png",
                                          ["a", "b", "c"]), min_size=(900, 300))
    with pytest.raises(ValueError, match="no predictions"):
        plot_confusion_matrices(labels, {}, tmp_path / "none.png", ["a", "b", "c"])
