"""Training helpers: resumable runs, NaN guards, seeding, history on disk."""

from __future__ import annotations

import csv
import importlib.util
import math
import time
from pathlib import Path

import keras

from zoo.backends import backend
from zoo.validation import check_bool, check_seed


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and the Keras backend; optionally make its ops deterministic.

    ``deterministic`` turns on TensorFlow's op determinism on TensorFlow (its `tf.data`
    pipelines then map batches in order) and PyTorch's deterministic algorithms on
    PyTorch; JAX on one device is deterministic already.

    ``seed`` is an integer in [0, 2**32), the range every seed of the zoo takes.
    """
    seed = check_seed(seed, allow_none=False)
    deterministic = check_bool(deterministic, "deterministic")
    keras.utils.set_random_seed(seed)
    if deterministic and backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    if deterministic and backend() == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)


class StopOnNaN(keras.callbacks.Callback):
    """Stop training with `FloatingPointError` as soon as a logged loss is NaN or inf.

    Unlike `keras.callbacks.TerminateOnNaN`, which ends `fit` quietly, this raises, so a
    script never goes on to evaluate or save a model full of NaNs. The last good epoch
    stays in the `BackupAndRestore` folder when there is one.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            if "loss" in name and not math.isfinite(float(value)):
                raise FloatingPointError(
                    f"{name} became {value} at epoch {self._epoch + 1}, batch {batch + 1}; "
                    "training stopped. Lower the learning rate, check the inputs for "
                    "NaNs, or clip gradients (optimizer clipnorm=...)."
                )


def resumable_callbacks(run_dir) -> list:
    """Callbacks that make ``fit`` resumable in ``run_dir`` and log every epoch.

    - ``history.csv``: one row per completed epoch, kept across restarts.
    - ``backup/``: `keras.callbacks.BackupAndRestore` state, the last two epochs';
      rerunning the same ``fit`` after a crash or kill resumes after the last completed
      epoch (the one before, if the kill hit the backup's save). Keras deletes it when
      training finishes.
    - `StopOnNaN`.
    - ``tensorboard/``: per-epoch scalars for ``tensorboard --logdir <run_dir or a parent>``
      (`tensorboard_logs`: where TensorFlow is installed).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "backup").exists():  # a fresh run: drop a finished run's history
        (run_dir / "history.csv").unlink(missing_ok=True)
    return [
        # The CSV row is written before the backup, so a kill between them makes the
        # resumed run redo (and rewrite) that epoch; `read_history` keeps the last copy.
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        # double_checkpoint: a kill during the backup's own save leaves the previous
        # epoch's copy, which BackupAndRestore falls back to (else the resume fails).
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), double_checkpoint=True),
        StopOnNaN(),
        *tensorboard_logs(run_dir / "tensorboard"),
    ]


def tensorboard_logs(log_dir) -> list:
    """``[keras.callbacks.TensorBoard]`` writing per-epoch scalars to ``log_dir``, or ``[]``
    where TensorFlow is not installed: Keras's callback writes with ``tf.summary`` on
    every backend, and training on JAX or PyTorch must not need TensorFlow for its logs."""
    if importlib.util.find_spec("tensorflow") is None:
        return []
    return [keras.callbacks.TensorBoard(str(log_dir), write_graph=False)]


def read_history(run_dir) -> dict:
    """Per-epoch metrics from ``run_dir/history.csv`` as ``{name: [value per epoch]}``."""
    path = Path(run_dir) / "history.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no training history at {path}")
    with open(path, newline="") as f:
        rows = {int(row["epoch"]): row for row in csv.DictReader(f)}  # last copy wins
    epochs = sorted(rows)
    names = [k for k in rows[epochs[0]] if k != "epoch"] if epochs else []
    # CSVLogger writes "NA" for metrics an epoch lacked (val_* without validation data).
    history = {name: [float(rows[e][name]) if rows[e][name] != "NA" else math.nan
                      for e in epochs] for name in names}
    return {name: values for name, values in history.items()
            if not all(math.isnan(v) for v in values)}


class EpochTimer(keras.callbacks.Callback):
    """Records the wall-clock seconds of each epoch in ``self.seconds``."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)

    def images_per_second(self, images_per_epoch: int) -> float:
        """Throughput over the epochs after the first (which includes graph tracing)."""
        steady = self.seconds[1:] or self.seconds
        return images_per_epoch * len(steady) / sum(steady)
