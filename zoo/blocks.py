"""Convolutional building blocks shared by the autoencoder, the VAE and the DCGAN, and the
random image augmentations shared by the contrastive encoder and classifier training.

The encoder is three stride-2 3x3 convolutions with ``n``, ``2n`` and ``4n`` filters,
then a dense layer; the decoder mirrors it with transposed convolutions. Any image
size works: the decoder grows the feature map back by 8x and crops to the target size.
"""

from __future__ import annotations

import math
import numbers

import keras
from keras import layers

from zoo.validation import (check_bool, check_fraction, check_image_shape, check_positive_int,
                            check_scalar, check_seed)

NUM_DOWNSAMPLINGS = 3


def check_trunk(filters, dense_units, dropout) -> None:
    """Validate the width options of the convolutional trunk."""
    check_positive_int(filters, "filters")
    check_scalar(dense_units, "dense_units", numbers.Integral, min_val=0,
                 fix="0: no hidden dense layer")
    check_fraction(dropout, "dropout")


def check_architecture(input_shape, latent_dim, filters, dense_units, dropout) -> tuple:
    """Validate a whole architecture (a model without `ZooModel`); return ``input_shape``."""
    shape = check_image_shape(input_shape)
    check_positive_int(latent_dim, "latent_dim")
    check_trunk(filters, dense_units, dropout)
    return shape


def augmentation(*, flip: bool, shift: float, zoom=None, contrast: float = 0.0, seed=None,
                 name: str = "augment") -> keras.Sequential:
    """Random changes of view a class survives, as a Keras layer run with ``training=True``.

    In order: a horizontal flip with ``flip`` (right for clothes and most photos, wrong for
    digits and text), a translation by up to ``shift`` of the height and width (in [0,
    0.5); 0: none), a zoom by a factor drawn from ``zoom`` (``(low, high)`` as in
    `keras.layers.RandomZoom`; None: none) and a contrast change by up to ``contrast``
    (in [0, 1); 0: none). Pixels moved in from outside the image are 0. ``(N, H, W, C)`` in,
    the same shape out; the result is not clipped to [0, 1]. Each change draws from its own
    random stream (``seed``, ``seed + 1``, ...), so a flip says nothing about the shift or
    the contrast of the same image.
    """
    check_bool(flip, "flip")
    seed = check_seed(seed)
    check_scalar(shift, "shift", numbers.Real, min_val=0.0, max_val=0.5, include_boundaries="left")
    check_fraction(contrast, "contrast")
    # One seed per layer: layers seeded alike draw the same numbers, which would tie
    # every flip to a lower contrast.
    changes = (
        (flip, lambda s: layers.RandomFlip("horizontal", seed=s)),
        (shift, lambda s: layers.RandomTranslation(shift, shift, fill_mode="constant", seed=s)),
        (zoom is not None, lambda s: layers.RandomZoom(zoom, fill_mode="constant", seed=s)),
        (contrast, lambda s: layers.RandomContrast(contrast, seed=s)),
    )
    steps = [make(None if seed is None else seed + i)
             for i, (wanted, make) in enumerate(changes) if wanted]
    return keras.Sequential(steps or [layers.Identity()], name=name)


def feature_map_shape(input_shape, filters: int) -> tuple:
    """Shape of the encoder's last feature map for ``input_shape`` (same padding)."""
    height, width = input_shape[0], input_shape[1]
    for _ in range(NUM_DOWNSAMPLINGS):
        height, width = math.ceil(height / 2), math.ceil(width / 2)
    return height, width, filters * 2 ** (NUM_DOWNSAMPLINGS - 1)


def conv_encoder_features(inputs, filters: int, dense_units: int, dropout: float = 0.0,
                          batch_norm: bool = False, activation="relu"):
    """Apply the convolutional trunk to ``inputs``; return the flat feature tensor."""
    x = inputs
    for i in range(NUM_DOWNSAMPLINGS):
        x = layers.Conv2D(filters * 2**i, 3, strides=2, padding="same", name=f"conv{i + 1}")(x)
        if batch_norm and i > 0:
            x = layers.BatchNormalization(name=f"conv{i + 1}_bn")(x)
        x = layers.Activation(activation, name=f"conv{i + 1}_act")(x)
    x = layers.Flatten(name="flatten")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    if dense_units:
        x = layers.Dense(dense_units, activation=activation, name="hidden")(x)
    return x


def mlp(x, units, activation: str = "relu"):
    """Dense layers ``hidden1``, ``hidden2``, ... of ``units`` each, applied to ``x``.

    ``"leaky_relu"`` is a LeakyReLU(0.2) layer after each (``hidden1_act``, ...), the GAN
    discriminator's; any other Keras activation is the dense layers' own.
    """
    for i, width in enumerate(units, start=1):
        if activation == "leaky_relu":
            x = layers.Dense(width, name=f"hidden{i}")(x)
            x = layers.LeakyReLU(0.2, name=f"hidden{i}_act")(x)
        else:
            x = layers.Dense(width, activation=activation, name=f"hidden{i}")(x)
    return x


def conv_decoder(latent_dim: int, output_shape, filters: int, dense_units: int,
                 output_activation: str = "sigmoid", batch_norm: bool = False,
                 name: str = "decoder") -> keras.Model:
    """A model mapping ``(batch, latent_dim)`` codes to ``(batch,) + output_shape`` images."""
    height, width, channels = feature_map_shape(output_shape, filters)
    codes = keras.Input((latent_dim,), name="latent")
    x = codes
    if dense_units:
        x = layers.Dense(dense_units, activation="relu", name="hidden")(x)
    x = layers.Dense(height * width * channels, activation="relu", name="project")(x)
    x = layers.Reshape((height, width, channels), name="reshape")(x)
    for i, mult in enumerate((2, 1)):
        x = layers.Conv2DTranspose(filters * mult, 3, strides=2, padding="same",
                                   name=f"deconv{i + 1}")(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"deconv{i + 1}_bn")(x)
        x = layers.Activation("relu", name=f"deconv{i + 1}_act")(x)
    x = layers.Conv2DTranspose(output_shape[2], 3, strides=2, padding="same",
                               activation=output_activation, name="to_image")(x)
    return keras.Model(codes, crop_to(x, output_shape[0], output_shape[1]), name=name)


def crop_to(x, height: int, width: int):
    """``x`` ``(batch, H, W, C)`` centre-cropped to ``height`` x ``width`` by a layer named
    ``crop`` (decoders grow a feature map past odd image sizes); unchanged if it fits."""
    extra_h, extra_w = x.shape[1] - height, x.shape[2] - width
    if extra_h or extra_w:
        x = layers.Cropping2D(((extra_h // 2, extra_h - extra_h // 2),
                               (extra_w // 2, extra_w - extra_w // 2)), name="crop")(x)
    return x
