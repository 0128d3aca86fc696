import keras
import numpy as np
import pytest

from zoo import ConvAutoencoder
from zoo.crossval import CrossValidation, cross_validate, kfold_splits


def _tiny_autoencoder():
    model = ConvAutoencoder(latent_dim=4, filters=2, dense_units=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    return model


def _tiny_classifier():
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("labels", [None, np.repeat(np.arange(4), 10)])
def test_every_sample_is_in_exactly_one_test_fold(labels):
    splits = kfold_splits(40, n_splits=5, seed=3, labels=labels)
    assert len(splits) == 5
    tests = np.concatenate([test for _, test in splits])
    assert np.array_equal(np.sort(tests), np.arange(40))
    for train, test in splits:
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 40
        if labels is not None:  # stratified: every class equally in every test fold
            assert np.array_equal(np.bincount(labels[test], minlength=4), [2, 2, 2, 2])
    assert all(np.array_equal(a[1], b[1])
               for a, b in zip(splits, kfold_splits(40, 5, seed=3, labels=labels)))


def test_autoencoder_cross_validation_reports_per_fold_mse(mnist_sample, tmp_path):
    x = mnist_sample.x_train[:120]
    result = cross_validate(_tiny_autoencoder, x, n_splits=3, epochs=1, batch_size=32,
                            run_dir=tmp_path)
    assert result.metric == "test MSE" and len(result.scores) == 3
    assert np.array_equal(np.sort(np.concatenate(result.test_indices)), np.arange(120))
    assert result.train_sizes == (80, 80, 80)
    assert all(0 < s < 0.3 for s in result.scores)
    assert result.mean == pytest.approx(np.mean(result.scores))
    assert result.std == pytest.approx(np.std(result.scores, ddof=1)) and result.std > 0
    rows = result.rows()
    assert [r["fold"] for r in rows] == ["1", "2", "3", "mean ± std"]
    assert rows[0]["test MSE"] == result.scores[0] and rows[0]["test samples"] == 40
    assert all((tmp_path / f"fold_{k}" / "history.csv").is_file() for k in (1, 2, 3))


def test_classifier_cross_validation_is_stratified_accuracy(mnist_sample):
    x, y = mnist_sample.x_train[:200], mnist_sample.y_train[:200]
    result = cross_validate(_tiny_classifier, x, y, n_splits=2, task="classifier",
                            epochs=3, batch_size=32)
    assert result.metric == "test accuracy"
    assert all(0.3 < s <= 1.0 for s in result.scores)  # chance is 0.1
    for test in result.test_indices:
        assert abs(np.bincount(y[test], minlength=10) - np.bincount(y, minlength=10) / 2).max() <= 1


def test_summary_of_fixed_scores():
    result = CrossValidation("test MSE", (1.0, 2.0, 3.0), (2, 2, 2),
                             (np.array([0]), np.array([1]), np.array([2])))
    assert result.mean == 2.0 and result.std == pytest.approx(1.0)
    assert result.rows()[-1]["test MSE"] == "2 ± 1"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_splits": 1}, ValueError, "n_splits"),
    ({"n_splits": 2.0}, TypeError, "^n_splits must be an integer"),
    ({"task": "regression"}, ValueError, "task"),
    ({"task": None}, TypeError, "^task must be one of"),
    ({"task": "classifier"}, ValueError, "labels"),
    ({"stratified": True}, ValueError, "labels"),
    ({"y": np.zeros(3)}, ValueError, "labels"),
])
def test_bad_arguments_are_rejected(images, kwargs, error, match):
    with pytest.raises(error, match=match):
        cross_validate(_tiny_autoencoder, images, **kwargs)


def test_bad_images_and_builder_are_rejected(images):
    with pytest.raises(ValueError, match="values span"):
        cross_validate(_tiny_autoencoder, images * 2)
    with pytest.raises(TypeError, match="build_fn"):
        cross_validate("cae", images)
    with pytest.raises(ValueError, match="at least 10 samples"):
        cross_validate(_tiny_autoencoder, images, n_splits=10)
