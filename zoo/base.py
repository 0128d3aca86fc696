"""What every zoo image model shares: input checks, encode/decode, serving endpoints."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zoo.data import check_batch_size, check_images
from zoo.export import ServingInput


def check_codes(z, latent_dim: int, name: str = "z") -> np.ndarray:
    """Validate latent codes: a finite float array of shape ``(N, latent_dim)``."""
    array = np.asarray(z)
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


class PresetMixin:
    """Adds ``from_preset(name)`` to a `keras.Model` subclass."""

    @classmethod
    def from_preset(cls, name: str):
        """Load a pretrained preset by name, offline (see `zoo.presets`)."""
        from zoo.presets import load_preset

        return load_preset(name, expected_class=cls)


class ImageModelMixin(PresetMixin):
    """Mix into a `keras.Model` that has ``image_shape``, ``encoder`` and ``decoder``.

    `fit`, `evaluate` and `predict` check array inputs with `zoo.data.check_images`
    (and a `tf.data.Dataset`'s element spec) before TensorFlow sees them, so bad input
    fails with one clear error instead of deep inside a graph.
    """

    def _check_inputs(self, x, name):
        return check_image_inputs(x, self.image_shape, name)

    def _check_targets(self, y, x, name="y"):
        """``y`` checked against the images ``x`` it belongs to; subclasses check more.

        Here: one target per image when the images are an array (Keras fails obscurely else).
        """
        if y is not None and isinstance(x, np.ndarray) and (np.ndim(y) == 0 or len(y) != len(x)):
            raise ValueError(f"{name} must hold one target per image ({len(x)} images), "
                             f"got {type(y).__name__} of shape {np.shape(y)}")
        return y

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        x = self._check_inputs(x, "x")
        y = self._check_targets(y, x)
        check_batch_size(kwargs.get("batch_size", args[0] if args else None))
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # the dataset shuffles itself
        if isinstance(validation_data, tuple):
            val_x, *rest = validation_data
            val_x = self._check_inputs(val_x, "validation_data[0]")
            if rest:
                rest[0] = self._check_targets(rest[0], val_x, "validation_data[1]")
            validation_data = (val_x, *rest)
        elif validation_data is not None:
            validation_data = self._check_inputs(validation_data, "validation_data")
        return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        check_batch_size(kwargs.get("batch_size", args[0] if args else None))
        x = self._check_inputs(x, "x")
        return super().evaluate(x, self._check_targets(y, x), *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        check_batch_size(kwargs.get("batch_size", args[0] if args else None))
        return super().predict(self._check_inputs(x, "x"), *args, **kwargs)

    def encode(self, x, batch_size: int = 256) -> np.ndarray:
        """Latent codes ``(N, latent_dim)`` of images ``(N,) + image_shape``."""
        x = check_images(x, self.image_shape)
        return self.encoder.predict(x, batch_size=check_batch_size(batch_size), verbose=0)

    def decode(self, z, batch_size: int = 256) -> np.ndarray:
        """Images ``(N,) + image_shape`` decoded from codes ``(N, latent_dim)``."""
        z = check_codes(z, self.latent_dim)
        return self.decoder.predict(z, batch_size=check_batch_size(batch_size), verbose=0)

    def image_input(self) -> ServingInput:
        """What an image endpoint serves: ``images`` ``(N,) + image_shape`` in [0, 1]."""
        return ServingInput("images", tuple(self.image_shape), unit_range=True)

    def code_input(self) -> ServingInput:
        """What a code endpoint serves: finite ``codes`` ``(N, latent_dim)``."""
        return ServingInput("codes", (self.latent_dim,))
