"""What differs between Keras backends, in one place: the training mechanics a zoo model's
``train_step`` calls, and TensorFlow where a feature needs it.

A model's step is written once, in `keras.ops`, for every backend (keras-io's shape:
unpack, losses, one ``minimize`` per optimizer, trackers). Only three things differ
between TensorFlow, JAX and PyTorch, and they live here:

- `minimize`: the gradient of one loss with respect to some weights, and one optimizer
  step on them (a `tf.GradientTape`; `jax.value_and_grad`; `torch.autograd.grad`);
- `input_gradient`: a gradient with respect to an input that stays differentiable
  (WGAN-GP's penalty);
- `stateless`: JAX runs a step as a pure function of the model's state. Following
  Keras's own JAX trainer, the step opens a `keras.StatelessScope` over that state and
  runs the stateful code as written; `minimize` nests a second scope inside
  `jax.value_and_grad` to differentiate it.

TensorFlow is imported only on the TensorFlow backend, or by a feature that needs it
(`require_tensorflow`: SavedModel export, ``source="tfds"``, `tf.distribute`).
"""

from __future__ import annotations

import keras
from keras import ops


def backend() -> str:
    """The Keras backend this process runs: ``"tensorflow"``, ``"jax"`` or ``"torch"``."""
    return keras.backend.backend()


def accelerator() -> str:
    """``"GPU"`` when the backend sees one, else ``"CPU"``."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    if name == "jax":
        import jax

        return "GPU" if any(d.platform == "gpu" for d in jax.devices()) else "CPU"
    import torch

    return "GPU" if torch.cuda.is_available() else "CPU"


def require_tensorflow(feature: str):
    """The ``tensorflow`` module, for ``feature``; `ImportError` naming it and the fix
    when TensorFlow is not installed (``pip install deepzoo`` installs it)."""
    try:
        import tensorflow as tf
    except ImportError as e:
        raise ImportError(f"{feature} needs TensorFlow, which is not installed here (the Keras "
                          f"backend is {backend()!r}): pip install tensorflow") from e
    return tf


def replica_count() -> int:
    """How many replicas a `tf.distribute` strategy sums gradients over (1 elsewhere)."""
    if backend() != "tensorflow":
        return 1  # JAX's DataParallel averages through sharding; the loss is already global
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def build_optimizer(model) -> None:
    """Create ``model``'s compiled optimizer's state for its trainable weights, if not yet.

    Keras does this before the first step on JAX and PyTorch, but on TensorFlow inside
    the first traced step, and a `tf.function` that creates variables is traced twice
    (7 s of a small diffusion model's 8-second first epoch on 2 cores). Call it after
    ``compile``, once the trainable weights are final.
    """
    if backend() == "tensorflow" and model.optimizer is not None and not model.optimizer.built:
        with model.distribute_strategy.scope():
            model.optimizer.build(model.trainable_variables)


def minimize(loss_fn, weights, optimizer, key: str, state_variables) -> dict:
    """One step of ``optimizer`` on ``loss_fn()[key]`` over ``weights``; returns the terms.

    Parameters
    ----------
    loss_fn : callable
        ``() -> dict`` of scalar float32 losses, computed anew inside the step so that the
        backend can differentiate it.
    weights : list of keras.Variable
        What the step moves: the variables ``optimizer`` was built for.
    optimizer : keras.optimizers.Optimizer
        A `LossScaleOptimizer` under ``mixed_float16``: the loss is scaled before the
        gradient (small float16 gradients would underflow) and ``apply`` unscales it.
    key : str
        The term to minimise.
    state_variables : list of keras.Variable
        Every variable the step may read or write (JAX maps them in its scopes).

    Returns
    -------
    dict
        The terms of ``loss_fn()``, without gradient history.
    """
    return _MINIMIZE[backend()](loss_fn, weights, optimizer, key, state_variables)


def _minimize_tensorflow(loss_fn, weights, optimizer, key, state_variables):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        losses = loss_fn()
        # Replica scaling: a strategy sums the replicas' gradients of their mean losses.
        scaled = optimizer.scale_loss(losses[key] / replica_count())
    gradients = tape.gradient(scaled, weights)
    optimizer.apply(gradients, weights)
    return losses


def _minimize_torch(loss_fn, weights, optimizer, key, state_variables):
    import torch

    losses = loss_fn()
    scaled = optimizer.scale_loss(losses[key])
    # autograd.grad, not backward(): only these weights get gradients, and none are
    # left behind on the other network's weights.
    gradients = torch.autograd.grad(scaled, [w.value for w in weights], allow_unused=True)
    gradients = [torch.zeros_like(w.value) if g is None else g for g, w in zip(gradients, weights)]
    with torch.no_grad():
        optimizer.apply(gradients, weights)
    return {name: ops.stop_gradient(value) for name, value in losses.items()}


def _minimize_jax(loss_fn, weights, optimizer, key, state_variables):
    import jax

    # Inside `stateless`: every variable's .value is the scope's current value.
    current = [(v, v.value) for v in state_variables]
    weight_ids = {id(w) for w in weights}
    others = [v for v in state_variables if id(v) not in weight_ids]

    def scaled_loss(weight_values):
        mapping = [(v, value) for v, value in current if id(v) not in weight_ids]
        with keras.StatelessScope(state_mapping=mapping + list(zip(weights, weight_values))) as scope:
            losses = loss_fn()
            scaled = optimizer.scale_loss(losses[key])
        # What the forward pass updated: random streams, batch-norm statistics.
        return scaled, (losses, [scope.get_current_value(v) for v in others])

    (_, (losses, updated)), gradients = jax.value_and_grad(scaled_loss, has_aux=True)(
        [w.value for w in weights])
    for variable, value in zip(others, updated):
        variable.assign(value)
    # stateless_apply: Keras's LossScaleOptimizer branches on finite gradients with a
    # lax.cond, which a stateful apply cannot trace.
    new_weights, new_slots = optimizer.stateless_apply(
        [v.value for v in optimizer.variables], gradients, [w.value for w in weights])
    for variable, value in zip([*weights, *optimizer.variables], [*new_weights, *new_slots]):
        variable.assign(value)
    return losses


_MINIMIZE = {"tensorflow": _minimize_tensorflow, "jax": _minimize_jax, "torch": _minimize_torch}


def compiled(fn):
    """``fn`` (tensors in, tensors out, no training) compiled by the backend: a
    `tf.function`, `jax.jit` (the variables it reads are taken as constants: compile anew
    after training), or PyTorch without autograd."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    if name == "jax":
        import jax

        return jax.jit(fn)
    import torch

    return torch.no_grad()(fn)


def input_gradient(fn, x):
    """The gradient of ``sum(fn(x))`` with respect to ``x``, itself differentiable with
    respect to the weights ``fn`` reads (a penalty on it trains them)."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            total = ops.sum(fn(x))
        return tape.gradient(total, x)
    if name == "jax":
        import jax

        return jax.grad(lambda inputs: ops.sum(fn(inputs)))(x)
    import torch

    # evaluate runs under no_grad; the penalty it reports still needs this gradient.
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        return torch.autograd.grad(ops.sum(fn(x)), x, create_graph=True)[0]


def stateless(step, variable_groups):
    """``step(data) -> logs``, written statefully, as JAX's ``(state, data) -> (logs, state)``.

    ``variable_groups`` lists the variables of each part of Keras's JAX state, in its
    order (trainable, non-trainable, optimizer, metrics for training). The step runs in a
    `keras.StatelessScope` mapping them to the state's values (fchollet's advice for
    steps with several gradients: "open a StatelessScope and pretend everything is
    stateful"); what it assigned is read back as the new state.
    """
    def pure_step(state, data):
        mapping = [(v, value) for variables, values in zip(variable_groups, state)
                   for v, value in zip(variables, values)]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = step(data)
        return logs, tuple([scope.get_current_value(v) for v in variables]
                           for variables in variable_groups)

    return pure_step
