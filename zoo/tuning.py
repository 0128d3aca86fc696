"""Hyperparameter search with KerasTuner: search space, hypermodels, tuners, results.

Search
------
`SearchSpace` holds the ranges (base channels, latent dimension, optimizer, momentum,
learning rate, weight decay, dropout); `AutoencoderHyperModel` builds and compiles a
`zoo.ConvAutoencoder` (or any model with the same arguments, such as the VAE) from a
trial's values; `make_tuner` makes a random-search, Bayesian-optimisation or Hyperband
tuner that minimises the validation loss::

    hypermodel = AutoencoderHyperModel(space=SearchSpace(latent_dim=(8, 32)))
    tuner = make_tuner("bayesian", hypermodel, "runs/search", max_trials=20)
    tuner.search(x_train, epochs=5, validation_data=x_val, batch_size=128)
    best = tuner.get_best_hyperparameters()[0].values

Results live in ``<directory>/<project_name>/``. With ``overwrite=False`` (the default)
rerunning the same code after a crash or kill reloads the finished trials, reruns the
one that was interrupted and continues until ``max_trials``. Every trial also writes its
per-epoch logs to ``trial_<id>/epochs.json`` (`trial_records` reads them back).

Cross-validation inside the search
----------------------------------
`CrossValidatedHyperModel.fit` trains a fresh model (``self.build(hp)``) on each of
``n_splits`` folds and returns ``{"val_loss": mean held-out loss}``. Use it with
``"random"`` or ``"bayesian"``. Hyperband is refused: it continues promoted trials from
their parent's saved weights for the remaining epochs, which a per-fold rebuild throws
away.

Distributed search
------------------
KerasTuner's chief/worker mode runs one oracle (the chief) and any number of workers
that ask it for trials over gRPC. Start the same script once per process with::

    KERASTUNER_TUNER_ID=chief    KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000
    KERASTUNER_TUNER_ID=worker0  KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000
    KERASTUNER_TUNER_ID=worker1  ...

The chief's ``tuner.search(...)`` trains nothing: it serves the oracle on
``IP:PORT`` and returns once ``max_trials`` trials are done and every worker has been
told to stop. Each worker's ``search`` trains trials until the oracle says stop. Give
every process the same ``directory`` (a shared file system) and project name, and
``overwrite=False``. When ``search`` returns, the chief's tuner holds every trial
(`trial_records`); to reload a finished distributed search later, run
``make_tuner(..., overwrite=False)`` with ``KERASTUNER_TUNER_ID=chief`` set and
``KERASTUNER_ORACLE_IP`` unset. `distributed_role` says which part a process plays.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import numbers
import os
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np

from zoo.models.autoencoder import ConvAutoencoder
from zoo.crossval import kfold_splits
from zoo.saving import atomic_path
from zoo.validation import check_choice, check_positive_int, check_range, check_scalar

ARCHITECTURE_FIELDS = ("filters", "latent_dim", "dense_units", "dropout")

OPTIMIZERS = ("adam", "sgd")
EPOCHS_FILE = "epochs.json"


def _check_choices(name, choices):
    """``choices`` must be a non-empty tuple (each choice is checked by the caller)."""
    if not isinstance(choices, tuple):
        raise TypeError(f"{name} must be a tuple of choices, got {choices!r} "
                        f"of type {type(choices).__name__}")
    if not choices:
        raise ValueError(f"{name} must hold at least one choice, got ()")


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """The hyperparameter ranges a search draws from.

    Numeric fields are ``(low, high)`` ranges, both ends included; ``low == high`` fixes
    the value. Architecture fields (``filters``, ``latent_dim``, ``dense_units``,
    ``dropout``) may be None: then they are not searched and the model builder's own
    default is used. Override any field: ``SearchSpace(latent_dim=(8, 16), dropout=None)``.

    filters : base channels of the first convolution (then 2x, 4x), integer range.
    latent_dim : size of the code, integer range.
    dense_units : choices for the hidden dense layer's width (0: none).
    dropout : dropout rate before the encoder's dense layers, in [0, 1).
    optimizers : choices among ``"adam"`` (AdamW; Adam when the decay is fixed at 0) and
        ``"sgd"`` (SGD with momentum).
    momentum : SGD momentum range (searched only when SGD is drawn).
    learning_rate : sampled on a log scale.
    weight_decay : decoupled weight decay (the optimizer's ``weight_decay``), log scale.
    """

    filters: tuple | None = (3, 16)
    latent_dim: tuple | None = (2, 50)
    dense_units: tuple | None = (256,)
    dropout: tuple | None = (0.0, 0.5)
    optimizers: tuple = OPTIMIZERS
    momentum: tuple = (0.7, 0.99)
    learning_rate: tuple = (1e-5, 1e-2)
    weight_decay: tuple = (1e-6, 1e-3)

    def __post_init__(self):
        for name in ("filters", "latent_dim"):
            if getattr(self, name) is not None:
                check_range(getattr(self, name), name, numbers.Integral, min_val=1)
        if self.dense_units is not None:
            _check_choices("dense_units", self.dense_units)
            for i, units in enumerate(self.dense_units):
                check_scalar(units, f"dense_units[{i}]", numbers.Integral, min_val=0,
                             fix="0: no hidden dense layer")
        if self.dropout is not None:
            check_range(self.dropout, "dropout", numbers.Real, min_val=0.0, max_val=1.0,
                        include_boundaries="left")
        _check_choices("optimizers", self.optimizers)
        for i, optimizer in enumerate(self.optimizers):
            check_choice(optimizer, f"optimizers[{i}]", OPTIMIZERS)
        check_range(self.momentum, "momentum", numbers.Real, min_val=0.0, max_val=1.0,
                    include_boundaries="left")
        for name in ("learning_rate", "weight_decay"):
            bounds = getattr(self, name)
            check_range(bounds, name, numbers.Real, min_val=0.0)
            if bounds[0] == 0 and bounds[1] > 0:
                raise ValueError(f"{name} is sampled on a log scale, so low must be > 0 "
                                 f"(or low == high == 0 to fix it), got {bounds!r}")

    def architecture(self, hp: kt.HyperParameters, accepted=ARCHITECTURE_FIELDS) -> dict:
        """Declare the architecture hyperparameters in ``hp``; return the model kwargs.

        Only the fields in ``accepted`` (those the model builder takes) are declared, so a
        search never varies a value the model ignores.
        """
        values = {}
        for name in ("filters", "latent_dim"):
            bounds = getattr(self, name)
            if bounds is not None and name in accepted:
                values[name] = (hp.Fixed(name, bounds[0]) if bounds[0] == bounds[1]
                                else hp.Int(name, *bounds))
        if self.dense_units is not None and "dense_units" in accepted:
            values["dense_units"] = _choice(hp, "dense_units", self.dense_units)
        if self.dropout is not None and "dropout" in accepted:
            values["dropout"] = _float(hp, "dropout", self.dropout)
        return values

    def optimizer(self, hp: kt.HyperParameters) -> keras.optimizers.Optimizer:
        """Declare the optimizer hyperparameters in ``hp``; return the optimizer."""
        name = _choice(hp, "optimizer", self.optimizers)
        learning_rate = _float(hp, "learning_rate", self.learning_rate, log=True)
        weight_decay = _float(hp, "weight_decay", self.weight_decay, log=True) or None
        if name == "adam":
            return (keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
                    if weight_decay else keras.optimizers.Adam(learning_rate))
        with hp.conditional_scope("optimizer", ["sgd"]):
            momentum = _float(hp, "momentum", self.momentum)
        return keras.optimizers.SGD(learning_rate, momentum=momentum, weight_decay=weight_decay)


def _choice(hp, name, choices):
    return hp.Fixed(name, choices[0]) if len(choices) == 1 else hp.Choice(name, list(choices))


def _float(hp, name, bounds, log=False):
    if bounds[0] == bounds[1]:
        return hp.Fixed(name, float(bounds[0]))
    return hp.Float(name, float(bounds[0]), float(bounds[1]), sampling="log" if log else "linear")


class AutoencoderHyperModel(kt.HyperModel):
    """Builds a compiled autoencoder from a trial's hyperparameters.

    Parameters
    ----------
    input_shape : ``(height, width, channels)`` of the images.
    space : the `SearchSpace` (default: `SearchSpace()`).
    model_builder : called as ``model_builder(input_shape=..., **architecture)`` with the
        searched architecture values (``filters``, ``latent_dim``, ``dense_units``,
        ``dropout``; fields set to None in the space are left out). Default
        `zoo.ConvAutoencoder`; for the VAE pass e.g.
        ``functools.partial(zoo.VAE, architecture="conv")`` with ``loss=None``. Fields the
        builder does not take (the VAE's ``dropout``) are left out of the search.
    loss : the ``compile`` loss; None for models that compute their own loss in
        ``train_step`` (the VAE), which are compiled with only the optimizer.
    steps_per_execution : Keras's ``compile`` option: batches per compiled call.
    """

    def __init__(self, input_shape=(28, 28, 1), space: SearchSpace | None = None,
                 model_builder=None, loss="mse", name=None, tunable=True,
                 steps_per_execution: int = 1):
        super().__init__(name=name, tunable=tunable)
        space = SearchSpace() if space is None else space
        if not isinstance(space, SearchSpace):
            raise TypeError(f"space must be a zoo.tuning.SearchSpace, got {type(space).__name__}")
        self.input_shape = tuple(input_shape)
        self.space = space
        self.model_builder = ConvAutoencoder if model_builder is None else model_builder
        self.accepted = accepted_fields(self.model_builder)
        self.loss = loss
        self.steps_per_execution = check_positive_int(steps_per_execution, "steps_per_execution")

    def build(self, hp):
        model = self.model_builder(input_shape=self.input_shape,
                                   **self.space.architecture(hp, self.accepted))
        loss = {} if self.loss is None else {"loss": self.loss}
        model.compile(optimizer=self.space.optimizer(hp), steps_per_execution=self.steps_per_execution,
                      **loss)
        return model


def accepted_fields(model_builder) -> tuple:
    """The `ARCHITECTURE_FIELDS` that ``model_builder`` (a class, function or
    `functools.partial` of one) takes: those it names, or all of them for a function with
    ``**kwargs``. A class's ``**kwargs`` does not count: a zoo model passes it on to
    `keras.Model`, which refuses what it does not know."""
    target = model_builder.func if isinstance(model_builder, functools.partial) else model_builder
    parameters = inspect.signature(model_builder).parameters
    named = [name for name, p in parameters.items() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    takes_any = not isinstance(target, type) and len(named) < len(parameters)
    return tuple(name for name in ARCHITECTURE_FIELDS if takes_any or name in named)


class CrossValidatedHyperModel(AutoencoderHyperModel):
    """`AutoencoderHyperModel` whose trial objective is a k-fold cross-validated loss.

    ``fit`` trains a freshly built model on each fold's training part (the tuner's model
    on the first), validates on the held-out part and returns ``{"val_loss": mean of the
    folds' last-epoch validation losses}``. Give ``search`` arrays (not datasets) and no
    ``validation_data``. Works with the ``"random"`` and ``"bayesian"`` tuners, not
    Hyperband (see the module docstring). The trial's saved checkpoint is the best epoch
    of any fold.
    """

    def __init__(self, *args, n_splits: int = 3, seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        check_scalar(n_splits, "n_splits", numbers.Integral, min_val=2)
        self.n_splits, self.seed = n_splits, seed

    def fit(self, hp, model, x, y=None, validation_data=None, **kwargs):
        if validation_data is not None or "validation_split" in kwargs:
            raise ValueError("CrossValidatedHyperModel validates on its own folds; "
                             "do not pass validation_data or validation_split")
        x, y = np.asarray(x), None if y is None else np.asarray(y)
        losses = []
        for fold, (train, val) in enumerate(kfold_splits(len(x), self.n_splits, self.seed)):
            fold_model = model if fold == 0 else self.build(hp)
            history = fold_model.fit(
                x[train], None if y is None else y[train],
                validation_data=(x[val], x[val] if y is None else y[val]), **kwargs)
            losses.append(history.history["val_loss"][-1])
        return {"val_loss": float(np.mean(losses))}


class _EpochLogMixin:
    """Writes each trial's per-epoch logs to ``<trial dir>/epochs.json``.

    KerasTuner reports only each trial's best epoch to the oracle; the per-epoch curves
    (for the intermediate-values figure) are kept here. ``run`` counts the ``fit`` calls
    inside a trial (folds under cross-validation); ``epoch`` counts from 1 and includes
    epochs inherited from a Hyperband parent.
    """

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._epoch_rows = []  # a retried trial starts its log afresh

    def on_epoch_end(self, trial, model, epoch, logs=None):
        super().on_epoch_end(trial, model, epoch, logs=logs)
        rows = self._epoch_rows
        run = rows[-1]["run"] + (epoch + 1 <= rows[-1]["epoch"]) if rows else 0
        rows.append({"run": run, "epoch": epoch + 1,
                     **{k: float(v) for k, v in (logs or {}).items()}})
        path = Path(self.get_trial_dir(trial.trial_id)) / EPOCHS_FILE
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({"trial_id": trial.trial_id, "tuner_id": self.tuner_id,
                                       "epochs": rows}))


class RandomSearch(_EpochLogMixin, kt.RandomSearch):
    """`keras_tuner.RandomSearch` that also logs every trial's epochs."""


class BayesianOptimization(_EpochLogMixin, kt.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` (Gaussian process) that also logs every trial's epochs."""


class Hyperband(_EpochLogMixin, kt.Hyperband):
    """`keras_tuner.Hyperband` (successive halving with early stopping of poor trials)
    that also logs every trial's epochs."""


TUNERS = {"random": RandomSearch, "bayesian": BayesianOptimization, "hyperband": Hyperband}


def make_tuner(kind: str, hypermodel: kt.HyperModel, directory, project_name: str = "search",
               max_trials: int = 10, max_epochs: int = 10, objective: str = "val_loss",
               seed: int = 0, overwrite: bool = False, **tuner_kwargs) -> kt.Tuner:
    """A tuner of ``kind`` (``"random"``, ``"bayesian"`` or ``"hyperband"``).

    ``objective`` (minimised) is the validation reconstruction loss by default.
    ``max_trials`` bounds random search and Bayesian optimisation; Hyperband is bounded
    instead by ``max_epochs`` per model (and ``factor``, ``hyperband_iterations`` in
    ``tuner_kwargs``) and sets each trial's epochs itself. Results go to
    ``directory/project_name``; ``overwrite=False`` resumes a search found there.
    Bayesian optimisation starts from ``num_initial_points`` random trials, by default
    a third of ``max_trials`` (at least 2) rather than KerasTuner's three per
    hyperparameter, which would leave a short search entirely random.
    """
    check_choice(kind, "kind", TUNERS)
    if not isinstance(hypermodel, kt.HyperModel):
        raise TypeError(f"hypermodel must be a keras_tuner.HyperModel, got {type(hypermodel).__name__}")
    if kind == "hyperband" and isinstance(hypermodel, CrossValidatedHyperModel):
        raise ValueError("Hyperband resumes promoted trials from saved weights, which "
                         "cross-validation rebuilds away; use 'random' or 'bayesian'")
    check_positive_int(max_trials, "max_trials")
    check_positive_int(max_epochs, "max_epochs")
    budget = {"max_epochs": max_epochs} if kind == "hyperband" else {"max_trials": max_trials}
    if kind == "bayesian":
        tuner_kwargs.setdefault("num_initial_points", max(2, max_trials // 3))
    return TUNERS[kind](hypermodel, objective=kt.Objective(objective, "min"), seed=seed,
                        directory=str(directory), project_name=project_name,
                        overwrite=overwrite, **budget, **tuner_kwargs)


def distributed_role() -> str | None:
    """``"chief"``, ``"worker"`` or None (not distributed), from KerasTuner's env vars."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def trial_records(tuner: kt.Tuner) -> list:
    """Every trial of a (finished or reloaded) search, in start order.

    Each record is a dict: ``trial_id``, ``status`` (``"COMPLETED"``, ``"RUNNING"``,
    ``"INVALID"``, ``"FAILED"``), ``score`` (the objective, NaN if none),
    ``hyperparameters`` (the searched values; Hyperband's bookkeeping in ``tuner/*``
    is left out), ``tuner_id`` (who trained it), ``parent`` (the Hyperband trial whose
    weights it continued, or None) and ``epochs``: ``{metric: [value per
    epoch]}`` with ``epoch`` numbers, averaged over the trial's ``fit`` runs (folds).
    Call it on the chief or a non-distributed tuner; a worker holds no trials.
    """
    oracle = tuner.oracle
    if not hasattr(oracle, "start_order"):
        raise ValueError("trial_records needs the oracle: call it on the chief, or reload "
                         "the search directory with a non-distributed tuner")
    records = []
    for trial_id in oracle.start_order:
        trial = oracle.trials[trial_id]
        log_path = Path(tuner.get_trial_dir(trial_id)) / EPOCHS_FILE
        log = json.loads(log_path.read_text()) if log_path.is_file() else {"epochs": []}
        records.append({
            "trial_id": trial_id,
            "status": trial.status,
            "score": math.nan if trial.score is None else float(trial.score),
            "hyperparameters": _searched(trial.hyperparameters),
            "tuner_id": log.get("tuner_id"),
            "parent": trial.hyperparameters.values.get("tuner/trial_id"),
            "epochs": _mean_over_runs(log["epochs"]),
        })
    return records


def _mean_over_runs(rows) -> dict:
    epochs = sorted({row["epoch"] for row in rows})
    names = [k for k in (rows[0] if rows else {}) if k not in ("run", "epoch")]
    curves = {"epoch": epochs}
    for name in names:
        curves[name] = [float(np.mean([row[name] for row in rows if row["epoch"] == e]))
                        for e in epochs]
    return curves


def best_configuration(tuner: kt.Tuner) -> dict:
    """The best trial's searched hyperparameters with its ``trial_id`` and ``score``."""
    trial = tuner.oracle.get_best_trials(1)[0]
    if trial.score is None:
        raise ValueError("no trial of this search has completed yet")
    return {"trial_id": trial.trial_id, "score": float(trial.score),
            **_searched(trial.hyperparameters)}


def _searched(hp: kt.HyperParameters) -> dict:
    """The searched values of ``hp``, without Hyperband's ``tuner/*`` bookkeeping."""
    return {k: v for k, v in hp.values.items() if not k.startswith("tuner/")}


def log_scaled(tuner: kt.Tuner) -> set:
    """Names of the search's hyperparameters sampled on a log scale."""
    return {hp.name for hp in tuner.oracle.get_space().space
            if getattr(hp, "sampling", None) == "log"}
