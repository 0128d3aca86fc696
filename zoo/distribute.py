"""`tf.distribute` strategies for training on several devices or machines.

Pick a strategy by name, or from the ``ZOO_STRATEGY`` environment variable, and build
**and compile** the model under its scope; `fit` then splits every global batch
across the replicas and averages the gradients::

    strategy = get_strategy()                 # $ZOO_STRATEGY, else "default"
    with strategy.scope():
        model = ConvAutoencoder(latent_dim=36)
        model.compile(optimizer="adam", loss="mse")
    model.fit(x_train, batch_size=128 * strategy.num_replicas_in_sync, epochs=10)

Variables (weights, optimizer slots, metric trackers) belong to the strategy that was
current when they were created, so a model built outside the scope trains on one
device whatever the strategy. ``batch_size`` is the *global* batch: scale it with
``strategy.num_replicas_in_sync`` to keep the per-device batch fixed.

Names
-----
``"default"``
    TensorFlow's default strategy: one device (a GPU when there is one).
``"mirrored"``
    `tf.distribute.MirroredStrategy`: synchronous data parallelism over the GPUs of
    this machine (or the devices given, e.g. ``"mirrored:/gpu:0,/gpu:1"``).
``"multiworker"``
    `tf.distribute.MultiWorkerMirroredStrategy`: synchronous data parallelism over
    several machines, each running the same script, configured by ``TF_CONFIG``
    (see https://www.tensorflow.org/guide/distributed_training). It must be created
    before TensorFlow runs any op in the process.
"""

from __future__ import annotations

import json
import os

import keras

from zoo.backends import backend, require_tensorflow
from zoo.validation import check_positive_int

STRATEGIES = ("default", "mirrored", "multiworker")
ENV_VAR = "ZOO_STRATEGY"


def get_strategy(name: str | None = None, devices=None):
    """The `tf.distribute.Strategy` called ``name`` (default: ``$ZOO_STRATEGY``, else ``"default"``).

    On JAX, ``"default"`` and ``"mirrored"`` are `keras.distribution.DataParallel` over
    the local devices (or those given), which has the same ``scope()``; on PyTorch,
    ``"default"`` is None (one device). Any other pair raises `ValueError`.

    Parameters
    ----------
    name : str or tf.distribute.Strategy, default=None
        ``"default"``, ``"mirrored"`` or ``"multiworker"``; ``"mirrored"`` may carry its
        devices after a colon, comma separated (``"mirrored:/gpu:0,/gpu:1"``). A
        `tf.distribute.Strategy` is returned unchanged.
    devices : list of str, default=None
        Devices for ``"mirrored"`` (e.g. ``["/cpu:0", "/cpu:1"]``); default: all GPUs, or
        the CPU when there is none.

    Raises
    ------
    ValueError
        An unknown name, devices given to another strategy, or a strategy the backend
        does not run.
    """
    if backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(name, tf.distribute.Strategy):
            return name
    if name is None:
        name = os.environ.get(ENV_VAR) or "default"
    if not isinstance(name, str):
        raise TypeError(f"strategy name must be a string, got {type(name).__name__}")
    kind, _, device_text = name.strip().lower().partition(":")
    if kind not in STRATEGIES:
        raise ValueError(
            f"unknown strategy {name!r} (from the argument or ${ENV_VAR}); "
            f"choose one of {', '.join(STRATEGIES)}"
        )
    if device_text:
        if devices is not None:
            raise ValueError(f"devices given twice: in {name!r} and as devices={devices!r}")
        devices = [d.strip() for d in device_text.split(",") if d.strip()]
    if devices is not None and kind != "mirrored":
        raise ValueError(f"only the 'mirrored' strategy takes devices, not {kind!r}")
    if backend() == "jax" and kind != "multiworker":
        return keras.distribution.DataParallel(devices=devices or keras.distribution.list_devices())
    if backend() == "torch" and kind == "default":
        return None  # one device, nothing to distribute
    if backend() != "tensorflow":
        raise ValueError(f"the {kind!r} strategy runs on the TensorFlow backend (and "
                         f"'mirrored' on JAX), not on {backend()!r}: set KERAS_BACKEND")
    tf = require_tensorflow("tf.distribute strategies")
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy(devices=devices)
    if kind == "multiworker":
        return _multi_worker_strategy()
    return tf.distribute.get_strategy()


def _multi_worker_strategy():
    config = os.environ.get("TF_CONFIG")
    if config:
        try:
            cluster = json.loads(config)["cluster"]
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(
                f'TF_CONFIG must be JSON like {{"cluster": {{"worker": ["host:port", ...]}}, '
                f'"task": {{"type": "worker", "index": 0}}}}, got {config!r}'
            ) from e
        if not isinstance(cluster, dict) or not cluster.get("worker"):
            raise ValueError(f"TF_CONFIG names no workers: {config!r}")
    tf = require_tensorflow("the 'multiworker' strategy")
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as e:
        raise RuntimeError(
            "the 'multiworker' strategy must be created before TensorFlow runs any op "
            f"in this process (create it first thing in the script): {e}"
        ) from e
    _fix_keras_multi_worker_logs()
    return strategy


def _fix_keras_multi_worker_logs() -> None:
    """Let Keras 3 `fit`/`evaluate` reduce scalar logs under `MultiWorkerMirroredStrategy`.

    Keras 3 (up to at least 3.15) reduces each step's logs with
    ``strategy.reduce("MEAN", value, axis=0)`` across workers, which fails for the
    scalar loss and metrics ("Invalid reduction dimension 0 for input with 0
    dimensions", tensorflow/tensorflow#72388). A scalar needs ``axis=None``; every other
    value keeps Keras's own reduction. Applied once, only when a multi-worker
    strategy is made.
    """
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    if getattr(original, "_zoo_scalar_fix", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not trainer._collective_all_reduce_multi_worker(strategy):
            return original(values, strategy, reduction)
        return keras.tree.map_structure(
            lambda v: (strategy.reduce("MEAN", v, axis=None) if v.shape.rank == 0
                       else original(v, strategy, reduction)), values)

    reduce_per_replica._zoo_scalar_fix = True
    trainer.reduce_per_replica = reduce_per_replica


def split_cpu(num_devices: int) -> list:
    """Split the CPU into ``num_devices`` logical devices; return their names.

    Lets `MirroredStrategy` run several replicas on a machine without GPUs, for tests
    and for trying a distributed set-up on a laptop. TensorFlow fixes its devices the
    first time it uses them, so call this at the start of the process, before any
    other TensorFlow op; a later call raises `RuntimeError`.
    """
    num_devices = check_positive_int(num_devices, "num_devices")
    tf = require_tensorflow("split_cpu")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)])
    except RuntimeError as e:
        raise RuntimeError(
            "split_cpu must run before TensorFlow initialises its devices (at the start "
            f"of the process, before any other TensorFlow call): {e}"
        ) from e
    return [device.name for device in tf.config.list_logical_devices("CPU")]
