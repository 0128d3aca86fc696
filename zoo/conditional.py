"""Class-conditional models (`ConditionalMixin`): every batch carries its class labels.

A conditional model trains as Keras models with targets do, ``fit(x, y=labels)`` (or
`make_dataset(images, labels)`, or a `tf.data.Dataset` of ``(images, labels)``);
``call``/``predict`` take ``[inputs, labels]``;
``generate(n, seed, labels=...)`` draws images of the classes asked for; every serving endpoint
takes ``labels`` (int32, checked in the graph) beside its images or codes.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
from keras import layers, ops

from zoo.base import gaussian_codes
from zoo.data.pipeline import ArrayBatches
from zoo.serving import ServingInput
from zoo.validation import (check_labels, check_positive_int, check_scalar, check_seed,
                            is_tf_dataset)


def one_hot(labels, num_classes: int):
    """Int labels ``(batch,)`` -> one-hot ``(batch, num_classes)``, as a Keras layer
    (in the compute dtype of the policy, so it concatenates with features)."""
    return layers.CategoryEncoding(num_classes, output_mode="one_hot")(labels)


class ConditionalMixin:
    """Labels beside the inputs of a `ZooModel` with ``num_classes`` classes.

    Put it first among the bases (``class ConditionalVAE(ConditionalMixin, VAE)``): it
    sets ``num_classes`` before the model's own ``__init__`` builds networks that take
    labels, and overrides the base's hooks: ``loss_inputs`` (``compute_losses`` receives
    ``(images, labels)``), ``call_input`` (a ``labels`` input follows the model's own),
    the input checks and ``generate``. The model writes ``generate_from(z, *, labels)``;
    wherever labels join images or codes, they are the keyword argument ``labels``.
    """

    conditional = True
    generates = True

    def __init__(self, *, num_classes: int = 10, **kwargs):
        self.num_classes = check_scalar(num_classes, "num_classes", numbers.Integral, min_val=2)
        super().__init__(**kwargs)

    def label_input(self) -> ServingInput:
        """What a serving endpoint takes beside its batch: int32 ``labels`` ``(N,)``."""
        return ServingInput("labels", (), classes=self.num_classes)

    def call_input(self) -> tuple:
        return (super().call_input(), self.label_input())

    def loss_inputs(self, data):
        x, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        if labels is None:  # a dataset of images alone (arrays are checked before)
            raise ValueError(f"{type(self).__name__} trains on (images, labels) batches")
        return x, ops.cast(labels, "int32")

    def loss_input_spec(self):
        return super().loss_input_spec(), keras.KerasTensor((None,), "int32")

    def check_targets(self, y, x, name="y"):
        if is_tf_dataset(x):
            spec = x.element_spec
            if not (isinstance(spec, tuple) and len(spec) >= 2 and spec[1].dtype.is_integer):
                raise TypeError(f"{type(self).__name__} trains on (images, labels): the dataset "
                                f"must yield (images, int labels) pairs, got {spec}")
            return y
        if isinstance(x, ArrayBatches):  # make_dataset's batches off TensorFlow
            check_labels(x.targets, self.num_classes, len(x.x), f"{name} (the dataset's targets)")
            return y
        if x is None or hasattr(x, "__next__") or isinstance(x, keras.utils.PyDataset):
            return y  # the labels come with the batches
        if y is None:
            raise ValueError(f"{type(self).__name__} is class-conditional: pass the class labels "
                             f"as y, e.g. fit(x, y=labels) with labels in [0, {self.num_classes})")
        return check_labels(y, self.num_classes, len(x), name)

    def check_predict_inputs(self, x, name):
        spec, _ = self.call_input()
        if not isinstance(x, (list, tuple)) or len(x) != 2:
            raise ValueError(f"{name} must be [{spec.name}, labels] for "
                             f"{type(self).__name__}, got {type(x).__name__}")
        inputs = self.check_batches_for(spec, x[0], f"{name}[0]")
        return [inputs, check_labels(x[1], self.num_classes, len(inputs), f"{name}[1]")]

    def checked_labels(self, labels, n: int) -> np.ndarray:
        """``labels`` checked against ``n`` examples and this model's classes."""
        return check_labels(labels, self.num_classes, n)

    def generate(self, n: int, seed=None, *, labels=None, batch_size: int = 256) -> np.ndarray:
        """``n`` images in [0, 1] of classes ``labels`` (int ``(n,)``; None: drawn
        uniformly), from z ~ N(0, I); the same ``seed``, the same images."""
        n = check_positive_int(n, "n")
        seed = check_seed(seed)
        return self.generate_from(gaussian_codes(n, self.latent_dim, seed),
                                  labels=self.generation_labels(labels, n, seed),
                                  batch_size=batch_size)

    def generation_labels(self, labels, n: int, seed) -> np.ndarray:
        """``labels`` checked for ``n`` samples; None: ``n`` drawn uniformly from ``seed``'s
        own stream, so that the codes stay those of ``generate(n, seed)``."""
        if labels is None:
            labels = np.random.default_rng(None if seed is None else (seed, 1)).integers(
                self.num_classes, size=n)
        return self.checked_labels(labels, n)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
