"""The contract every zoo model implements (`ZooModel`) and the checks it shares."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zoo.blocks import check_image_shape, check_positive_int
from zoo.data import check_batch_size, check_images
from zoo.export import ServingInput


def check_codes(z, latent_dim: int, name: str = "z") -> np.ndarray:
    """Validate latent codes: a finite float array of shape ``(N, latent_dim)``."""
    try:
        array = np.asarray(z)
    except ValueError as e:  # ragged lists
        raise TypeError(f"{name} must be an array of latent codes, got {type(z).__name__}") from e
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"{name} must be a float array of latent codes, got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[1] != latent_dim or array.shape[0] == 0:
        raise ValueError(f"{name} must have shape (N >= 1, {latent_dim}), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return array.astype(np.float32, copy=False)


def gaussian_codes(n: int, latent_dim: int, seed=None) -> np.ndarray:
    """``n`` draws from N(0, I) of shape ``(n, latent_dim)``; the same ``seed``, the same codes."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return np.random.default_rng(seed).standard_normal((int(n), latent_dim)).astype(np.float32)


def replica_scaled(loss):
    """``loss / num_replicas_in_sync``: what a custom ``train_step`` differentiates.

    A distribution strategy sums gradients across replicas, so each replica's mean loss
    is divided by the replica count to make the update that of the global batch mean.
    """
    return loss / tf.distribute.get_strategy().num_replicas_in_sync


def check_image_inputs(x, image_shape, name: str = "x"):
    """Check what `fit`/`evaluate`/`predict` receive against ``image_shape``.

    Arrays go through `zoo.data.check_images`; a `tf.data.Dataset` must yield float32
    batches of shape ``(None,) + image_shape`` (or tuples starting with them) and not
    be known to be empty; generators, `keras.utils.PyDataset` and ``None`` pass unchecked.
    """
    if isinstance(x, tf.data.Dataset):
        spec = x.element_spec
        spec = spec[0] if isinstance(spec, tuple) else spec
        if not isinstance(spec, tf.TensorSpec):  # dicts, nested tuples, ragged or sparse
            raise ValueError(f"{name} must yield batches of images (or (images, targets) "
                             f"tuples), got elements {x.element_spec}")
        # float32 like `check_images`' arrays: a custom train_step mixing float64 images
        # with float32 outputs would fail inside TensorFlow.
        if tuple(spec.shape[1:]) != tuple(image_shape) or spec.dtype != tf.float32:
            raise ValueError(
                f"{name} yields {spec.dtype.name} batches of shape {tuple(spec.shape)}; "
                f"the model expects float32 batches of shape (None,) + {tuple(image_shape)}"
            )
        if x.cardinality() == 0:  # Keras's predict fails obscurely on it
            raise ValueError(f"{name} is an empty dataset")
        return x
    if x is None or hasattr(x, "__next__") or isinstance(x, keras.utils.PyDataset):
        return x
    return check_images(x, image_shape, name)


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


def check_seed(seed, name: str = "seed"):
    """``seed`` if it is an integer or None (a fresh random stream); else `ValueError`."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"{name} must be an integer or None, got {seed!r}")
    return None if seed is None else int(seed)


class ZooModel(keras.Model):
    """The contract of every zoo model: a `keras.Model` trained with ``compile``/``fit``.

    A subclass writes only what makes it that model:

    1. ``__init__``: ``super().__init__(input_shape=..., latent_dim=..., **kwargs)`` checks
       both and sets ``image_shape`` and ``latent_dim``; then create the layers and end
       with ``self.build(<the shape call takes>)``, so that an untrained model saves and exports.
    2. Its objective: ``compute_loss`` when it is a plain ``loss(y, y_pred)``
       (`ConvAutoencoder`), else ``train_step``/``test_step`` with `keras.metrics.Mean`
       trackers listed by the ``metrics`` property and fed by ``update_trackers``
       (`VAE`, `GAN`).
    3. ``get_config``: ``{**super().get_config(), <its own constructor arguments>}``.
    4. ``export_endpoints()``: ``{name: zoo.export.Endpoint}`` for `zoo.export_saved_model`,
       built on ``image_input()``/``code_input()``.

    It gets for free: ``fit``/``evaluate``/``predict`` that check arrays and `tf.data`
    datasets before TensorFlow sees them (one clear error instead of a failure deep in a
    graph), ``from_preset``, the serving input specs, and the config of the common fields.
    Mix in `EncoderMixin` for ``encode`` (`EncoderDecoderMixin` adds ``decode``) and
    `GenerativeMixin` for ``generate``/``generate_from``. ``input_shape`` is the argument
    and ``image_shape`` the attribute, because `keras.Model` already has an
    ``input_shape`` property.
    """

    def __init__(self, *, input_shape=(28, 28, 1), latent_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(input_shape)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)

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

    # ----------------------------------------------------------- input checks (hooks)

    def _check_inputs(self, x, name):
        """What ``fit`` and ``evaluate`` train or score on: images ``(N,) + image_shape``."""
        return check_image_inputs(x, self.image_shape, name)

    def _check_predict_inputs(self, x, name):
        """What ``predict`` takes; images unless the model maps something else (a GAN: codes)."""
        return self._check_inputs(x, name)

    def _check_targets(self, y, x, name="y"):
        """``y`` checked against the inputs ``x`` it belongs to; subclasses check more.

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
        x = self._check_inputs(x, "x")
        y = self._check_targets(y, x)
        if isinstance(x, tf.data.Dataset):
            shuffle = False  # the dataset shuffles itself
        if isinstance(validation_data, tuple):
            val_x, *rest = validation_data
            val_x = self._check_inputs(val_x, "validation_data[0]")
            if rest:
                rest[0] = self._check_targets(rest[0], val_x, "validation_data[1]")
            validation_data = (val_x, *rest)
        elif validation_data is not None:
            validation_data = self._check_inputs(validation_data, "validation_data")
        return super().fit(
            x, y, batch_size=check_batch_size(batch_size),
            epochs=check_positive_int("epochs", epochs), verbose=verbose,
            callbacks=callbacks, validation_split=validation_split,
            validation_data=validation_data, shuffle=shuffle, class_weight=class_weight,
            sample_weight=sample_weight, initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
            validation_batch_size=check_batch_size(validation_batch_size),
            validation_freq=validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        # **kwargs: Keras's own fit passes a private caching flag here.
        x = self._check_inputs(x, "x")
        return super().evaluate(x, self._check_targets(y, x), batch_size=check_batch_size(batch_size),
                                verbose=verbose, sample_weight=sample_weight, steps=steps,
                                callbacks=callbacks, return_dict=return_dict, **kwargs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        return super().predict(self._check_predict_inputs(x, "x"),
                               batch_size=check_batch_size(batch_size), verbose=verbose,
                               steps=steps, callbacks=callbacks)

    def update_trackers(self, values: dict) -> dict:
        """Update each `keras.metrics.Mean` of ``metrics`` from ``values`` by name.

        Returns every tracker's result: what a ``train_step``/``test_step`` returns.
        """
        for metric in self.metrics:
            if metric.name in values:
                metric.update_state(values[metric.name])
        return {m.name: m.result() for m in self.metrics}

    # ------------------------------------------------------------- serving and config

    def image_input(self) -> ServingInput:
        """What an image endpoint serves: ``images`` ``(N,) + image_shape`` in [0, 1]."""
        return ServingInput("images", self.image_shape, unit_range=True)

    def code_input(self) -> ServingInput:
        """What a code endpoint serves: finite ``codes`` ``(N, latent_dim)``."""
        return ServingInput("codes", (self.latent_dim,))

    def get_config(self):
        return {**super().get_config(), "input_shape": self.image_shape,
                "latent_dim": self.latent_dim}


class EncoderMixin:
    """``encode`` for a `ZooModel` with an ``encoder`` sub-model (images -> codes)."""

    def encode(self, x, batch_size: int = 256) -> np.ndarray:
        """Latent codes ``(N, latent_dim)`` of images ``(N,) + image_shape``."""
        x = check_images(x, self.image_shape)
        return self.encoder.predict(x, batch_size=check_batch_size(batch_size), verbose=0)


class EncoderDecoderMixin(EncoderMixin):
    """``encode``/``decode`` for a `ZooModel` with ``encoder`` and ``decoder`` sub-models."""

    def decode(self, z, batch_size: int = 256) -> np.ndarray:
        """Images ``(N,) + image_shape`` decoded from codes ``(N, latent_dim)``."""
        z = check_codes(z, self.latent_dim)
        return self.decoder.predict(z, batch_size=check_batch_size(batch_size), verbose=0)


class GenerativeMixin:
    """``generate(n, seed)``: images from prior draws z ~ N(0, I), via ``generate_from``."""

    def generate(self, n: int, seed=None, batch_size: int = 256) -> np.ndarray:
        """``n`` images in [0, 1] from z ~ N(0, I); the same ``seed`` gives the same images."""
        return self.generate_from(gaussian_codes(n, self.latent_dim, seed), batch_size)

    def generate_from(self, z, batch_size: int = 256) -> np.ndarray:
        """Images in [0, 1] generated from codes ``z`` of shape ``(N, latent_dim)``."""
        raise NotImplementedError(f"{type(self).__name__} must define generate_from")
