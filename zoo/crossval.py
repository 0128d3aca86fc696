"""k-fold cross-validation of a fixed model configuration.

`cross_validate` trains a fresh model on each fold's training part and scores it on the
held-out part: reconstruction MSE for autoencoders, accuracy for classifiers. The splits
come from scikit-learn (`KFold`, or `StratifiedKFold` for labelled data), so every sample
is in exactly one test fold::

    result = cross_validate(lambda: build_compiled_model(), x_train, n_splits=5, epochs=5)
    print(f"test MSE {result.mean:.5f} ± {result.std:.5f}")
    rows = result.rows()                      # one per fold, then mean ± std
"""

from __future__ import annotations

import dataclasses
import numbers
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, mean_squared_error
from sklearn.model_selection import KFold, StratifiedKFold

from zoo.training import resumable_callbacks, set_seed
from zoo.validation import check_choice, check_images, check_scalar

TASKS = {"autoencoder": "test MSE", "classifier": "test accuracy"}


def kfold_splits(n_samples: int, n_splits: int = 5, seed: int = 0, labels=None) -> list:
    """Shuffled k-fold ``[(train_indices, test_indices), ...]`` over ``n_samples`` samples.

    With ``labels`` (shape ``(n_samples,)``) the folds are stratified: each keeps the
    class proportions of the whole set (`StratifiedKFold`); otherwise `KFold`.
    """
    n_splits = check_scalar(n_splits, "n_splits", numbers.Integral, min_val=2)
    if n_samples < n_splits:
        raise ValueError(f"{n_splits}-fold cross-validation needs at least {n_splits} samples, "
                         f"got {n_samples}")
    if labels is None:
        return list(KFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(n_samples)))
    labels = np.asarray(labels)
    if labels.shape != (n_samples,):
        raise ValueError(f"labels must have shape ({n_samples},), got {labels.shape}")
    splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(n_samples), labels))


@dataclasses.dataclass(frozen=True)
class CrossValidation:
    """Per-fold scores of a cross-validation run.

    ``scores[k]`` is the metric on fold ``k``'s held-out samples ``test_indices[k]``;
    ``mean`` and ``std`` summarise them (``std`` is the sample standard deviation,
    ``ddof=1``).
    """

    metric: str
    scores: tuple
    train_sizes: tuple
    test_indices: tuple

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores, ddof=1))

    def rows(self) -> list:
        """Table rows: one per fold, then ``mean ± std`` (for a table writer such as the recipes')."""
        rows = [{"fold": str(k + 1), "train samples": n_train, "test samples": len(test),
                 self.metric: score}
                for k, (score, n_train, test) in enumerate(
                    zip(self.scores, self.train_sizes, self.test_indices))]
        rows.append({"fold": "mean ± std", "train samples": "", "test samples": "",
                     self.metric: f"{self.mean:.5g} ± {self.std:.2g}"})
        return rows


def cross_validate(build_fn, x, y=None, n_splits: int = 5, task: str = "autoencoder",
                   epochs: int = 5, batch_size: int = 128, seed: int = 0,
                   stratified: bool | None = None, run_dir=None, verbose: int = 0,
                   **fit_kwargs) -> CrossValidation:
    """Cross-validate the model that ``build_fn()`` builds, with ``n_splits`` folds.

    Parameters
    ----------
    build_fn : callable with no arguments returning a fresh compiled `keras.Model`;
        it is called once per fold (after seeding with ``seed + fold``).
    x : for ``task="autoencoder"``, images ``(N, H, W, C)`` in [0, 1], which are both
        input and target (zoo autoencoders reconstruct ``x`` when ``y`` is None); for
        ``task="classifier"``, inputs ``(N, ...)`` (images or codes).
    y : class labels ``(N,)``; required for classifiers, stratify autoencoder folds
        when given with ``stratified=True``.
    task : ``"autoencoder"`` (metric: mean squared error per pixel on the held-out fold)
        or ``"classifier"`` (metric: accuracy; the model outputs class scores
        ``(N, classes)``, or ``(N, 1)`` probabilities for two classes).
    stratified : keep class proportions in every fold; default True when labels are
        given to a classifier, False otherwise.
    run_dir : optional folder; fold ``k`` trains with `zoo.resumable_callbacks`
        in ``run_dir/fold_<k>`` so an interrupted fold resumes where it stopped.
    fit_kwargs : passed on to every ``fit`` (callbacks, validation_split, ...).

    Returns
    -------
    CrossValidation
        The per-fold scores and held-out indices.
    """
    check_choice(task, "task", TASKS)
    if not callable(build_fn):
        raise TypeError(f"build_fn must be a callable returning a compiled model, got {build_fn!r}")
    if task == "autoencoder":
        x = check_images(x)
    else:
        if y is None:
            raise ValueError("task='classifier' needs labels y")
        x = np.asarray(x, dtype=np.float32)
    if y is not None:
        y = np.asarray(y)
        if len(y) != len(x):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)} labels")
    if stratified is None:
        stratified = task == "classifier"
    if stratified and y is None:
        raise ValueError("stratified folds need labels y")

    user_callbacks = list(fit_kwargs.pop("callbacks", []))
    scores, train_sizes, tests = [], [], []
    splits = kfold_splits(len(x), n_splits, seed, labels=y if stratified else None)
    for fold, (train, test) in enumerate(splits):
        set_seed(seed + fold, deterministic=False)
        model = build_fn()
        callbacks = list(user_callbacks)
        if run_dir is not None:
            callbacks += resumable_callbacks(Path(run_dir) / f"fold_{fold + 1}")
        targets = None if task == "autoencoder" else y[train]
        model.fit(x[train], targets, epochs=epochs, batch_size=batch_size, verbose=verbose,
                  callbacks=callbacks, **fit_kwargs)
        predictions = np.asarray(model.predict(x[test], batch_size=max(batch_size, 256), verbose=0))
        scores.append(_score(task, predictions, x[test], None if y is None else y[test]))
        train_sizes.append(len(train))
        tests.append(test)
    return CrossValidation(TASKS[task], tuple(scores), tuple(train_sizes), tuple(tests))


def _score(task, predictions, x_test, y_test) -> float:
    if task == "autoencoder":
        n = len(x_test)
        return float(mean_squared_error(x_test.reshape(n, -1), predictions.reshape(n, -1)))
    if predictions.ndim == 2 and predictions.shape[1] > 1:
        predicted = predictions.argmax(axis=1)
    else:
        predicted = (predictions.reshape(-1) > 0.5).astype(y_test.dtype)
    return float(accuracy_score(y_test, predicted))
