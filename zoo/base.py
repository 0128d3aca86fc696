"""The contract every zoo model implements (`ZooModel`), its mixins, and the checks they
share (the base of models with two optimizers is `zoo.adversarial.AdversarialModel`).

The training mechanics live here once: a model says what its losses are
(``compute_losses``), the base turns them into gradient steps (`zoo.backends`, once per Keras
backend) that are right on TensorFlow, JAX and PyTorch, under a `tf.distribute` strategy
and under every Keras dtype policy (``mixed_float16`` scales the loss, ``mixed_bfloat16``
needs no scaling, both compute the losses in float32).
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np
from keras import ops

from zoo import backends
from zoo.serving import Endpoint, ServingInput
from zoo.validation import (check_batch_size, check_code_inputs, check_codes, check_image_inputs,
                            check_image_shape, check_images, check_positive_int, check_seed,
                            is_tf_dataset)

def gaussian_codes(n: int, latent_dim: int, seed=None) -> np.ndarray:
    """``n`` draws from N(0, I) of shape ``(n, latent_dim)``; the same ``seed``, the same codes."""
    n = check_positive_int(n, "n")
    return np.random.default_rng(check_seed(seed)).standard_normal((n, latent_dim)).astype(np.float32)


def moving_average_of(model: keras.Model, name: str) -> keras.Model:
    """A frozen copy of ``model`` (same weights, not trainable), to hold the exponential
    moving average of its weights (`update_moving_average`)."""
    average = keras.models.clone_model(model)
    average.name = name
    average.set_weights(model.get_weights())
    average.trainable = False
    return average


def update_moving_average(average: keras.Model, model: keras.Model, momentum: float, step) -> None:
    """``average``'s weights move towards ``model``'s: ``a <- m a + (1 - m) w``.

    ``m`` is ``momentum``, or less over the first steps, ``(1 + step) / (10 + step)``, so
    the average forgets the untrained weights quickly (the warm-up of TensorFlow's
    ``ExponentialMovingAverage``). ``step`` counts the optimizer's updates. Called inside
    a training step, it runs on every backend.
    """
    step = ops.cast(step, "float32")
    m = ops.minimum(momentum, (1.0 + step) / (10.0 + step))
    for a, w in zip(average.weights, model.weights):
        a.assign(m * a + (1.0 - m) * ops.stop_gradient(ops.cast(w, a.dtype)))


@contextlib.contextmanager
def dtype_policy(policy):
    """Build models under the Keras dtype policy ``policy`` (a name or a `DTypePolicy`)
    inside the block; the global policy is restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def as_float32(outputs):
    """``outputs`` (an array or a nest of them) as float32 NumPy arrays.

    Under a mixed dtype policy a model computes, and so returns, float16 or bfloat16;
    what a user reads back (``predict``, ``encode``, ``generate``) is float32 everywhere.
    """
    # convert_to_numpy: a PyTorch tensor that requires grad (one read off a weight) too.
    return keras.tree.map_structure(
        lambda a: np.asarray(ops.convert_to_numpy(a), dtype=np.float32), outputs)


def check_preset_shape(name: str, input_shape, model=None) -> None:
    """`ValueError` unless preset ``name`` (or its loaded ``model``) was trained on images
    of ``input_shape``.

    A preset stays tied to the images it learnt: its convolutions and dense layers fix
    the image size and channels, so it cannot encode, score or fine-tune others.
    """
    from zoo.presets import load_preset, preset_card

    card = preset_card(name)
    if model is None and "input_shape" in card["config"]:
        trained_on = tuple(card["config"]["input_shape"])  # a zoo model's card: no load needed
    else:
        model = model or load_preset(name)
        # A zoo model knows its images (a GAN's inputs are codes); a plain Keras model its input.
        trained_on = getattr(model, "image_shape", None) or tuple(model.input_shape[1:])
    if trained_on != check_image_shape(input_shape):
        raise ValueError(f"preset {name!r} was trained on images of shape {trained_on} "
                         f"({card['data']}), not {tuple(input_shape)}; train a "
                         "model on these images instead of starting from the preset")


class SymbolicCall(keras.Operation):
    """``fn`` as a Keras operation: called on `keras.KerasTensor` inputs, it returns the
    structure of ``fn``'s outputs as KerasTensors, on any backend, computing nothing."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def call(self, inputs):
        return self.fn(inputs)


class ZooModel(keras.Model):
    """The contract of every zoo model: a `keras.Model` trained with ``compile``/``fit``.

    A subclass writes only what makes it that model:

    1. ``__init__``: ``super().__init__(input_shape=..., latent_dim=..., **kwargs)`` checks
       both and sets ``image_shape`` and ``latent_dim``; then create the layers and end
       with ``self.build(<the shape call takes>)``, so that an untrained model saves and exports.
    2. Its objective, one of two ways:

       - ``compute_losses(inputs, training) -> dict`` of scalar tensors in float32 (cast model
         outputs at the loss: under a mixed policy they are float16 or bfloat16). Key
         ``"loss"`` is what the optimizer minimises; every key is tracked by a
         `keras.metrics.Mean` of that name, which ``fit``/``evaluate`` report and
         ``metrics`` lists (so Keras resets them each epoch). The base's ``train_step``
         and ``test_step`` do the rest; a model whose step has more to it (the VAE, the
         GAN) writes a short ``train_step`` that calls ``minimize`` and ``update_trackers``.
       - or no ``compute_losses`` at all: a plain ``loss(y, y_pred)`` passed to ``compile``
         trains with Keras's own step (`ConvAutoencoder`).
    3. ``get_config``: ``{**super().get_config(), <its own constructor arguments>}``.
    4. Hooks with defaults, overridden where the model differs: ``call_input()`` (what
       ``call``/``predict`` take: images), ``loss_inputs(data)`` and ``loss_input_spec()``
       (what ``compute_losses`` takes from a batch: images; `zoo.conditional` adds the
       labels), ``export_endpoints()`` (the serving signatures,
       by default ``serve``: ``call_input`` -> ``outputs``), ``serving_model()`` (what an
       export saves: the model), ``progress_metric`` (the tracked value that falls as
       the model learns: ``"loss"``) and the input checks ``check_inputs(x, name)``
       (what ``fit``/``evaluate`` take), ``check_targets(y, x, name)`` and
       ``check_predict_inputs(x, name)``.

    It gets for free: ``fit``/``evaluate``/``predict`` that check arrays, `tf.data`
    datasets and `make_dataset`'s batches before the backend sees them (one clear error
    instead of a failure deep in a graph), float32 results under any dtype policy, ``from_preset``, the serving input
    specs, and the config of the common fields. Mix in `EncoderMixin` for ``encode``
    (`EncoderDecoderMixin` adds ``decode``) and `GenerativeMixin` for
    ``generate``/``generate_from``. ``input_shape`` is the argument and ``image_shape`` the
    attribute, because `keras.Model` already has an ``input_shape`` property.
    """

    progress_metric = "loss"
    # What a caller may ask beyond fit/evaluate/predict, declared by the mixins as
    # scikit-learn declares its estimator tags, so that callers read these instead of
    # probing with hasattr: ``encode`` (`EncoderMixin`), ``decode`` and ``reconstruct``
    # (`EncoderDecoderMixin`), ``generate``/``generate_from`` (`GenerativeMixin`,
    # `zoo.conditional.ConditionalMixin`); ``conditional``: each of those takes
    # ``labels=`` beside its images or codes.
    encodes = False
    decodes = False
    generates = False
    conditional = False

    def __init__(self, *, input_shape=(28, 28, 1), latent_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(input_shape)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self._trackers = {}

    @classmethod
    def from_config(cls, config):
        """Keras's ``from_config``, with the layers built under the dtype policy the model
        was saved with: a model trained under ``mixed_float16`` reloads in
        ``mixed_float16`` whatever the global policy (its results are float32 either way).
        """
        saved = config.get("dtype")
        if saved is None:
            return super().from_config(config)
        with dtype_policy(keras.dtype_policies.deserialize(saved)):
            return super().from_config(config)

    @classmethod
    def from_preset(cls, name: str, *, input_shape=None):
        """Load a pretrained preset by name, offline (see `zoo.presets`).

        With ``input_shape``, the images it is meant for: a preset trained on another
        shape raises `ValueError` naming both (see `check_preset_shape`).
        """
        from zoo.presets import load_preset

        model = load_preset(name, expected_class=cls)
        if input_shape is not None:
            check_preset_shape(name, input_shape, model)
        return model

    # ------------------------------------------------------------ the training step

    def compute_losses(self, inputs, training=False) -> dict:
        """``{"loss": ..., <other terms>}`` of the batch ``inputs`` (``loss_inputs``),
        scalar float32 tensors."""
        raise NotImplementedError(f"{type(self).__name__} trains on its compiled loss")

    @property
    def _uses_compiled_loss(self) -> bool:
        return type(self).compute_losses is ZooModel.compute_losses

    def build(self, input_shape):
        """Keras's ``build``; also creates one tracker per term of ``compute_losses``, and
        calls the model once on symbolic inputs (nothing is computed), so that Keras's own
        ``export`` finds the signature of a model that was loaded rather than trained."""
        super().build(input_shape)
        self._create_trackers()
        specs = self.call_input()
        symbolic = [keras.KerasTensor((None, *spec.shape), spec.dtype)
                    for spec in ((specs,) if isinstance(specs, ServingInput) else specs)]
        self(symbolic[0] if isinstance(specs, ServingInput) else symbolic)

    def _create_trackers(self) -> None:
        """One `keras.metrics.Mean` per key of ``compute_losses``, named after it.

        The keys are read by running ``compute_losses`` on a symbolic batch (nothing is
        computed); this happens in ``build``, the last moment Keras lets a model create
        state.
        """
        if self._uses_compiled_loss:
            return
        names = list(SymbolicCall(lambda inputs: self.compute_losses(inputs, training=False))(
            self.loss_input_spec()))
        if "loss" not in names and self.progress_metric == "loss":
            raise ValueError(f"{type(self).__name__}.compute_losses must return a 'loss' key "
                             f"(what the optimizer minimises), got {names}")
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}

    @property
    def metrics(self):
        if self._uses_compiled_loss:
            return super().metrics
        return list(self._trackers.values())

    def loss_inputs(self, data):
        """What ``compute_losses`` takes from a batch of ``fit``/``evaluate`` (hook): the
        images; a conditional model takes ``(images, labels)``."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return x

    def loss_input_spec(self):
        """The `keras.KerasTensor` (or tuple of them) of ``loss_inputs`` (hook)."""
        return keras.KerasTensor((None, *self.image_shape), "float32")

    def train_step(self, data):
        """One optimizer step on ``compute_losses(inputs)["loss"]``; the default of every model."""
        if self._uses_compiled_loss:
            return super().train_step(data)
        inputs = self.loss_inputs(data)
        return self.update_trackers(self.minimize(lambda: self.compute_losses(inputs, training=True)))

    def test_step(self, data):
        """``evaluate``: the terms of ``compute_losses(inputs)``, tracked, with no update."""
        if self._uses_compiled_loss:
            return super().test_step(data)
        return self.update_trackers(self.compute_losses(self.loss_inputs(data), training=False))

    def minimize(self, loss_fn, weights=None, optimizer=None, key: str = "loss") -> dict:
        """One gradient step of ``optimizer`` on ``loss_fn()[key]``; returns every term.

        ``loss_fn`` is ``() -> dict`` of float32 losses, run inside the step so that each
        backend can differentiate it (`zoo.backends.minimize`). ``weights`` defaults to every
        trainable weight and ``optimizer`` to the compiled one. The loss is divided by the
        replica count under a `tf.distribute` strategy and multiplied by the optimizer's
        loss scale (a `LossScaleOptimizer` under ``mixed_float16``; 1 otherwise) before the
        gradient, so that small float16 gradients do not underflow; the update divides
        the scale out again and skips steps whose gradients overflowed.
        """
        weights = self.trainable_weights if weights is None else weights
        return backends.minimize(loss_fn, weights, optimizer or self.optimizer, key,
                              self.state_variables())

    def update_trackers(self, values: dict) -> dict:
        """Update each tracker from ``values`` by name; return every tracker's result."""
        for name, value in values.items():
            self._trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def parameter_count(self) -> int:
        """The parameters of the model a user runs: every weight here (a model holding a
        second copy of its weights for sampling counts them once)."""
        return self.count_params()

    def optimizers(self) -> list:
        """Every optimizer this model steps (one here; `AdversarialModel` has two).

        A method, not a property: Keras's saving walks a model's properties.
        """
        return [self.optimizer]

    def state_variables(self) -> list:
        """Every variable a training step reads or writes: the model's, its optimizers'
        and its trackers' (what JAX's stateless steps carry)."""
        return [*self.variables, *(v for o in self.optimizers() for v in o.variables),
                *self.metrics_variables]

    # JAX calls train_step(state, data) and test_step(state, data); a zoo step is written
    # once, statefully, and run there by `zoo.backends.stateless`. Keras's own step (the
    # compiled loss of the CAE) is already stateless.
    def make_train_function(self, force=False):
        if backends.backend() != "jax":
            return super().make_train_function(force)
        variables = (self.trainable_variables, self.non_trainable_variables,
                     self.optimizer.variables, self.metrics_variables)
        return self._with_step("train_step", variables, super().make_train_function, force)

    def make_test_function(self, force=False):
        if backends.backend() != "jax":
            return super().make_test_function(force)
        variables = (self.trainable_variables, self.non_trainable_variables, self.metrics_variables)
        return self._with_step("test_step", variables, super().make_test_function, force)

    def _with_step(self, name, variables, make, force):
        keras_step = getattr(keras.Model, name).__get__(self)
        step = keras_step if self._uses_compiled_loss else backends.stateless(getattr(self, name), variables)
        self.__dict__[name] = step  # what Keras's JAX trainer compiles, for this call
        try:
            return make(force)
        finally:
            del self.__dict__[name]

    # ----------------------------------------------------------- input checks (hooks)

    def check_inputs(self, x, name):
        """What ``fit`` and ``evaluate`` train or score on (hook): images
        ``(N,) + image_shape`` (arrays, a `tf.data.Dataset` or `make_dataset`'s batches),
        returned checked."""
        return check_image_inputs(x, self.image_shape, name)

    def check_predict_inputs(self, x, name):
        """What ``predict`` takes (hook): images, or codes where ``call_input()`` says so;
        a conditional model adds the labels."""
        return self.check_batches_for(self.call_input(), x, name)

    def check_batches_for(self, spec: ServingInput, x, name):
        """``x`` checked as the batches of ``spec``: codes or images."""
        if spec.name == "codes":
            return check_code_inputs(x, self.latent_dim, name)
        return self.check_inputs(x, name)

    def check_targets(self, y, x, name="y"):
        """``y`` checked against the inputs ``x`` it belongs to (hook); the CAE checks
        target images, a conditional model its labels.

        Here: one target per input when the inputs are an array (Keras fails obscurely else).
        """
        if y is not None and isinstance(x, np.ndarray) and (np.ndim(y) == 0 or len(y) != len(x)):
            raise ValueError(f"{name} must hold one target per image ({len(x)} images), "
                             f"got {type(y).__name__} of shape {np.shape(y)}")
        return y

    # ------------------------------------------ Keras's entry points, with those checks

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        x = self.check_inputs(x, "x")
        y = self.check_targets(y, x)
        if is_tf_dataset(x) or isinstance(x, keras.utils.PyDataset):
            shuffle = False  # the dataset shuffles itself (Keras would reorder its batches)
        if isinstance(validation_data, tuple):
            val_x, *rest = validation_data
            val_x = self.check_inputs(val_x, "validation_data[0]")
            if rest:
                rest[0] = self.check_targets(rest[0], val_x, "validation_data[1]")
            validation_data = (val_x, *rest)
        elif validation_data is not None:
            validation_data = self.check_inputs(validation_data, "validation_data")
        backends.build_optimizer(self)
        return super().fit(
            x, y, batch_size=check_batch_size(batch_size),
            epochs=check_positive_int(epochs, "epochs"), verbose=verbose,
            callbacks=callbacks, validation_split=validation_split,
            validation_data=validation_data, shuffle=shuffle, class_weight=class_weight,
            sample_weight=sample_weight, initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
            validation_batch_size=check_batch_size(validation_batch_size),
            validation_freq=validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        # **kwargs: Keras's own fit passes a private caching flag here.
        x = self.check_inputs(x, "x")
        return super().evaluate(x, self.check_targets(y, x), batch_size=check_batch_size(batch_size),
                                verbose=verbose, sample_weight=sample_weight, steps=steps,
                                callbacks=callbacks, return_dict=return_dict, **kwargs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        return as_float32(super().predict(
            self.check_predict_inputs(x, "x"), batch_size=check_batch_size(batch_size),
            verbose=verbose, steps=steps, callbacks=callbacks))

    # ------------------------------------------------------------- serving and config

    def image_input(self) -> ServingInput:
        """What an image endpoint serves: ``images`` ``(N,) + image_shape`` in [0, 1]."""
        return ServingInput("images", self.image_shape, unit_range=True)

    def code_input(self) -> ServingInput:
        """What a code endpoint serves: finite ``codes`` ``(N, latent_dim)``."""
        return ServingInput("codes", (self.latent_dim,))

    def call_input(self) -> ServingInput:
        """What ``call`` and ``predict`` take (hook): images."""
        return self.image_input()

    def call_shapes(self):
        """The shape ``call`` takes, batch None (a list of them for several inputs):
        what a model's ``__init__`` ends by building for."""
        specs = self.call_input()
        if isinstance(specs, ServingInput):
            return (None, *specs.shape)
        return [(None, *spec.shape) for spec in specs]

    def export_endpoints(self) -> dict:
        """``{name: zoo.export.Endpoint}`` for `zoo.export_saved_model`; the first is the
        default signature (hook). Here: ``serve``, ``call_input()`` -> ``outputs``."""
        return {"serve": Endpoint(self.call_input(), lambda x: {"outputs": self(x, training=False)})}

    def serving_model(self) -> keras.Model:
        """What an export saves (hook): the whole model. A method, as ``optimizers``."""
        return self

    def get_config(self):
        return {**super().get_config(), "input_shape": self.image_shape,
                "latent_dim": self.latent_dim}


class EncoderMixin:
    """``encode`` for a `ZooModel` with an ``encoder`` sub-model (images -> codes)."""

    encodes = True

    def encode(self, x, batch_size: int = 256) -> np.ndarray:
        """Latent codes ``(N, latent_dim)``, float32, of images ``(N,) + image_shape``."""
        x = check_images(x, self.image_shape)
        return as_float32(self.encoder.predict(x, batch_size=check_batch_size(batch_size), verbose=0))


class EncoderDecoderMixin(EncoderMixin):
    """``encode``/``decode``/``reconstruct`` for a `ZooModel` with ``encoder`` and
    ``decoder`` sub-models, whose ``call`` is the reconstruction."""

    decodes = True

    def decode(self, z, batch_size: int = 256) -> np.ndarray:
        """Images ``(N,) + image_shape`` decoded from codes ``(N, latent_dim)``."""
        z = check_codes(z, self.latent_dim)
        return as_float32(self.decoder.predict(z, batch_size=check_batch_size(batch_size), verbose=0))

    def reconstruct(self, x, batch_size: int = 256) -> np.ndarray:
        """Images ``x`` ``(N,) + image_shape`` encoded and decoded: the same shape, in [0, 1]
        (a VAE decodes its posterior means)."""
        return self.predict(x, batch_size=batch_size, verbose=0)


class GenerativeMixin:
    """``generate(n, seed)``: images from prior draws z ~ N(0, I), via ``generate_from``."""

    generates = True

    def generate(self, n: int, seed=None, batch_size: int = 256) -> np.ndarray:
        """``n`` images in [0, 1] from z ~ N(0, I); the same ``seed`` gives the same images."""
        return self.generate_from(gaussian_codes(n, self.latent_dim, seed), batch_size=batch_size)

    def generate_from(self, z, batch_size: int = 256) -> np.ndarray:
        """Images in [0, 1] generated from codes ``z`` of shape ``(N, latent_dim)``."""
        raise NotImplementedError(f"{type(self).__name__} must define generate_from")
