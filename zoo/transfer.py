"""The transfer study: a pre-trained encoder, frozen or fine-tuned, against the same network
trained from scratch.

Two protocols compare the `zoo.classifier.TRANSFER_METHODS` variants, built and trained
alike from one `TransferSetup`:

- on all labels, by epochs: `train_variant` trains one variant resumably and tests it
  (validation accuracy per epoch and per second, test predictions);
- the label-efficiency study, by Adam steps: `study_runs` trains every variant on seeded,
  stratified label subsets (`label_subset`) for the same number of steps (`fit_transfer`)
  and keeps each run's test accuracy in a record, so an interrupted study resumes;
  `summarise_study` gives the mean ± std over seeds that `zoo.plotting.plot_label_efficiency`
  draws.

`recipes.finetune` runs both and writes the report::

    setup = TransferSetup(features="conv", flip=True, shift=0.1)
    runs = list(study_runs(autoencoder, dataset, setup, labels_per_class=[10, 100],
                           seeds=[0, 1, 2], steps=1500, record_dir="study"))
    points = summarise_study(runs, all_labels_at=5400)
"""

from __future__ import annotations

import json
import numbers
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from zoo.classifier import (FEATURES, SCHEDULES, TRANSFER_METHODS, augment_inputs,
                            check_learning_rate, compile_classifier, cosine_decay, fit_transfer,
                            fit_two_phase, label_subset, transfer_classifier)
from zoo.data import make_dataset
from zoo.saving import atomic_path
from zoo.training import EpochTimer, read_history, resumable_callbacks
from zoo.validation import (check_bool, check_choice, check_fraction, check_positive_int,
                            check_scalar, check_seed)


@dataclass(frozen=True)
class TransferSetup:
    """How every variant's classifier is built and trained, in both protocols.

    Parameters
    ----------
    hidden_units : int, default=64
        Units of the head's hidden Dense layer.
    head_dropout : float, default=0.0
        Dropout between the head's two layers, in [0, 1).
    features : {"code", "conv"}, default="code"
        What the head reads: the encoder's code, or its convolutional trunk's flattened
        feature maps (see `zoo.classifier.build_classifier`).
    learning_rate : float, default=1e-3
        Adam's rate for the head (frozen, and the fine-tuned warm-up) and for scratch.
    fine_tune_learning_rate : float, default=1e-4
        Adam's rate once the fine-tuned variant's encoder is unfrozen.
    flip : bool, default=False
        Augment training images with random horizontal flips (clothes, not digits).
    shift : float, default=0.0
        Augment training images with random shifts by up to this fraction of their
        height and width, in [0, 0.5); 0 is none.
    """

    hidden_units: int = 64
    head_dropout: float = 0.0
    features: str = "code"
    learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 1e-4
    flip: bool = False
    shift: float = 0.0

    def __post_init__(self):
        check_positive_int(self.hidden_units, "hidden_units")
        check_fraction(self.head_dropout, "head_dropout")
        check_choice(self.features, "features", FEATURES)
        check_learning_rate(self.learning_rate)
        check_learning_rate(self.fine_tune_learning_rate, "fine_tune_learning_rate")
        check_bool(self.flip, "flip")
        check_scalar(self.shift, "shift", numbers.Real, min_val=0.0, max_val=0.5,
                     include_boundaries="left")

    def classifier(self, method: str, autoencoder, num_classes: int) -> keras.Model:
        """The `transfer_classifier` of ``method`` on ``autoencoder``'s encoder."""
        return transfer_classifier(method, autoencoder, num_classes, self.hidden_units,
                                   self.head_dropout, self.features)

    def augmentation(self, seed: int):
        """`augment_inputs` of ``flip`` and ``shift``, seeded; None when both are off."""
        return augment_inputs(flip=self.flip, shift=self.shift, seed=seed) \
            if self.flip or self.shift else None


class _LoggedEpochTimer(EpochTimer):
    """Puts each epoch's seconds into the logs, so the CSV history keeps them on resume."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        logs["seconds"] = self.seconds[-1]


def train_variant(method: str, autoencoder, dataset, setup: TransferSetup, *, epochs: int,
                  run_dir, warmup_epochs: int = 1, schedule: str = "constant",
                  batch_size: int = 128, seed: int = 0, steps_per_execution: int = 1,
                  verbose: int = 2) -> dict:
    """Train one variant on every training label for ``epochs``, resumably; test it.

    Parameters
    ----------
    method : {"frozen", "fine-tuned", "from scratch"}
        The variant (`zoo.classifier.TRANSFER_METHODS`).
    autoencoder : zoo model
        The pre-trained model whose encoder the variant starts from (copied, never
        changed); "from scratch" takes only its architecture.
    dataset : zoo.ImageDataset
        A labelled dataset: trains on ``x_train``, validates on ``x_val`` after every
        epoch, tests on ``x_test``.
    setup : TransferSetup
    epochs : int
        Training epochs, warm-up included.
    run_dir : path-like
        Where the run's history and backup live (`zoo.training.resumable_callbacks`); the
        fine-tuned variant uses its ``warmup/`` and ``fine_tune/`` sub-folders. Rerunning
        after a kill resumes at the last finished epoch.
    warmup_epochs : int, default=1
        The fine-tuned variant's epochs with its encoder frozen, in [0, epochs].
    schedule : {"constant", "cosine"}, default="constant"
        Each phase's learning rate per epoch (`zoo.classifier.cosine_decay`).
    batch_size, seed : int
        Of the shuffled (and, per ``setup``, augmented) training batches.
    steps_per_execution : int, default=1
        Batches per compiled call (`zoo.classifier.compile_classifier`).
    verbose : int, default=2
        ``fit``'s verbosity.

    Returns
    -------
    dict
        ``model`` (the trained classifier); ``history``, ``{metric: [value per epoch]}``
        over all epochs, with ``val_accuracy`` and ``seconds`` (wall-clock seconds of each
        epoch, kept across a resume); ``train_seconds`` (this call's wall clock);
        ``trainable_parameters`` (at the end of training); ``test_predictions``, the
        predicted class of each test image, shape ``(N_test,)``; ``test_accuracy``.
    """
    check_choice(method, "method", TRANSFER_METHODS)
    check_positive_int(epochs, "epochs")
    check_choice(schedule, "schedule", SCHEDULES)
    _check_labelled(dataset)
    run_dir = Path(run_dir)
    model = setup.classifier(method, autoencoder, dataset.num_classes)
    train = make_dataset(dataset.x_train, dataset.y_train, batch_size=batch_size, seed=seed,
                         map_fn=setup.augmentation(seed))
    fit_kwargs = dict(x=train, validation_data=(dataset.x_val, dataset.y_val), shuffle=False,
                      validation_batch_size=512, verbose=verbose)  # make_dataset shuffles

    def callbacks(phase=""):
        # The timer comes first so that CSVLogger sees the seconds it adds.
        return [_LoggedEpochTimer()] + resumable_callbacks(run_dir / phase)

    started = time.perf_counter()
    if method == "fine-tuned":
        fit_two_phase(model, warmup_epochs=warmup_epochs, epochs=epochs, callbacks=callbacks,
                      head_learning_rate=setup.learning_rate,
                      fine_tune_learning_rate=setup.fine_tune_learning_rate, schedule=schedule,
                      steps_per_execution=steps_per_execution, **fit_kwargs)
        # Read back from the CSVs, not fit's return: a resumed phase returns only its rest.
        history = {}
        for phase in ["warmup"] * (warmup_epochs > 0) + ["fine_tune"]:
            for name, values in read_history(run_dir / phase).items():
                history.setdefault(name, []).extend(values)
    else:
        compile_classifier(model, setup.learning_rate, steps_per_execution=steps_per_execution)
        decay = [cosine_decay(setup.learning_rate, 0, epochs)] if schedule == "cosine" else []
        model.fit(epochs=epochs, callbacks=callbacks() + decay, **fit_kwargs)
        history = read_history(run_dir)
    train_seconds = time.perf_counter() - started
    predictions = model.predict(dataset.x_test, batch_size=512, verbose=0).argmax(axis=1)
    return {"model": model, "history": history, "train_seconds": train_seconds,
            "trainable_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            "test_predictions": predictions,
            "test_accuracy": float(np.mean(predictions == dataset.y_test))}


def study_accuracy(method: str, autoencoder, dataset, chosen, seed: int, setup: TransferSetup,
                   *, steps: int = 1500, record=None, context: dict | None = None,
                   steps_per_execution: int = 1) -> float:
    """The test accuracy of one run of the label-efficiency study.

    Seeds Keras with ``seed`` (a fresh head, and scratch trunk, per seed), builds the
    variant and trains it on the training images ``chosen`` for ``steps`` Adam steps of 64
    images (`zoo.classifier.fit_transfer`; its warm-up is a fifth of them), then tests it
    on all of ``x_test``.

    Parameters
    ----------
    method : {"frozen", "fine-tuned", "from scratch"}
    autoencoder : zoo model
        The pre-trained model (see `train_variant`).
    dataset : zoo.ImageDataset
        A labelled dataset.
    chosen : array of int, shape (n,)
        Indices of the labelled training images (`label_subset`).
    seed : int
        Seeds the classifier's initial weights, the batches and the augmentation.
    setup : TransferSetup
    steps : int, default=1500
    record : path-like, default=None
        A JSON file that keeps the result with the settings it was trained under
        (``context``, ``steps`` and ``setup``): a record of the same settings is read back
        instead of training; otherwise the run trains and (re)writes it atomically.
    context : dict, default=None
        What the result depends on beyond the arguments (the dataset's and the encoder's
        names, say), kept with the settings; values must survive JSON unchanged.
    steps_per_execution : int, default=1
        Batches per compiled call.

    Returns
    -------
    float
        Test accuracy in [0, 1].
    """
    _check_labelled(dataset)
    # The run itself (variant, seed, subset size) too: a record found under another run's
    # name must not be read back as this one's.
    settings = {**(context or {}), "method": method, "seed": seed, "labels": len(chosen),
                "steps": steps, **asdict(setup)}
    if record is not None:
        record = Path(record)
        kept = json.loads(record.read_text()) if record.exists() else {}
        # A record of a run under other settings (another augmentation, say) is not this run's.
        if kept.get("settings") == settings:
            return kept["test_accuracy"]
    keras.utils.set_random_seed(seed)
    classifier = fit_transfer(
        method, setup.classifier(method, autoencoder, dataset.num_classes),
        dataset.x_train[chosen], dataset.y_train[chosen], steps=steps,
        learning_rate=setup.learning_rate, fine_tune_learning_rate=setup.fine_tune_learning_rate,
        map_fn=setup.augmentation(seed), seed=seed, steps_per_execution=steps_per_execution)
    accuracy = classifier.evaluate(dataset.x_test, dataset.y_test, batch_size=512, verbose=0,
                                   return_dict=True)["accuracy"]
    if record is not None:
        with atomic_path(record) as tmp:  # a kill leaves no half-written record
            tmp.write_text(json.dumps({"test_accuracy": accuracy, "settings": settings}))
    return accuracy


def study_runs(autoencoder, dataset, setup: TransferSetup, *, labels_per_class, seeds,
               steps: int = 1500, record_dir, context: dict | None = None,
               steps_per_execution: int = 1, methods=TRANSFER_METHODS):
    """The runs of the label-efficiency study, each yielded as it finishes.

    For each count of ``labels_per_class`` and each seed, draws a stratified subset of
    the training labels (`label_subset`; the same for every variant) and runs every
    variant on it (`study_accuracy`), keeping each result in
    ``<record_dir>/<count>_<method>_seed<seed>.json``: a rerun after a kill reads back what
    was done. Remove ``record_dir`` once the study's results are safe, so that the next
    study starts afresh.

    Parameters
    ----------
    autoencoder, dataset, setup
        As for `study_accuracy`.
    labels_per_class : list of (int or None)
        Labelled images per class of each point; None is the whole training split.
    seeds : iterable of int
        One label subset (and initialisation) per seed.
    steps : int, default=1500
        Adam steps of each run.
    record_dir : path-like
        Folder of the runs' records (created).
    context, steps_per_execution
        As for `study_accuracy`.
    methods : sequence of str, default=TRANSFER_METHODS
        The variants to run (a second encoder's study needs no second scratch baseline).

    Yields
    ------
    dict
        ``labels_per_class`` (int, or None for all), ``seed``, ``method`` and
        ``test_accuracy``, in the order count, seed, method.
    """
    _check_labelled(dataset)
    labels_per_class = list(labels_per_class)
    seeds = [check_seed(seed, allow_none=False) for seed in seeds]
    if not labels_per_class or not seeds:
        raise ValueError(f"the study needs label counts and seeds, got {labels_per_class} "
                         f"and {seeds}")
    for count in labels_per_class:
        if count is not None:
            check_positive_int(count, "labels_per_class")
    methods = [check_choice(method, "methods", TRANSFER_METHODS) for method in methods]
    return _runs(autoencoder, dataset, setup, labels_per_class, seeds, steps, Path(record_dir),
                 context, steps_per_execution, methods)


def _runs(autoencoder, dataset, setup, labels_per_class, seeds, steps, record_dir, context,
          steps_per_execution, methods):
    """`study_runs`' generator, once its arguments have been checked."""
    record_dir.mkdir(parents=True, exist_ok=True)
    for per_class in labels_per_class:
        for seed in seeds:
            chosen = (np.arange(len(dataset.y_train)) if per_class is None
                      else label_subset(dataset.y_train, per_class, seed))
            for method in methods:
                name = f"{per_class or 'all'}_{method.replace(' ', '_')}_seed{seed}.json"
                accuracy = study_accuracy(method, autoencoder, dataset, chosen, seed, setup,
                                          steps=steps, record=record_dir / name, context=context,
                                          steps_per_execution=steps_per_execution)
                yield {"labels_per_class": per_class, "seed": seed, "method": method,
                       "test_accuracy": accuracy}


def summarise_study(runs, all_labels_at: int) -> list:
    """Mean ± std over seeds of the study's runs, one point per (labels per class, method).

    Parameters
    ----------
    runs : iterable of dict
        `study_runs`' results.
    all_labels_at : int
        Where the whole training split (``labels_per_class`` None) sits on the x-axis of
        `zoo.plotting.plot_label_efficiency`: the smallest class's size, say.

    Returns
    -------
    list of dict
        In the runs' order: ``method``, ``labels_per_class`` (an int), ``label`` (the
        count as text, ``"all"`` for the whole split), ``accuracy_mean`` and
        ``accuracy_std`` (population std over seeds) and ``seeds`` (how many).
    """
    check_positive_int(all_labels_at, "all_labels_at")
    accuracies = {}
    for run in runs:
        point = (run["labels_per_class"], run["method"])
        accuracies.setdefault(point, []).append(run["test_accuracy"])
    return [{"method": method, "labels_per_class": per_class or all_labels_at,
             "label": "all" if per_class is None else str(per_class),
             "accuracy_mean": float(np.mean(values)), "accuracy_std": float(np.std(values)),
             "seeds": len(values)}
            for (per_class, method), values in accuracies.items()]


def _check_labelled(dataset) -> None:
    if not getattr(dataset, "labelled", False):
        raise ValueError(f"the transfer study trains and tests classifiers on labels; "
                         f"dataset {getattr(dataset, 'name', dataset)!r} has none")
