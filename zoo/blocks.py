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
from keras import layers, ops

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
    # In float32 under every policy, as Keras's mixed precision guide keeps a model's
    # output. Its bias's gradient sums the output's gradient over the batch and every
    # pixel, and under mixed_bfloat16 JAX sums it in bfloat16 on the CPU: the sum stalls
    # once it outgrows each term (0.002 where float32 gives 0.186, a small CAE's first
    # batch).
    x = layers.Conv2DTranspose(output_shape[2], 3, strides=2, padding="same",
                               activation=output_activation, dtype="float32", name="to_image")(x)
    return keras.Model(codes, crop_to(x, output_shape[0], output_shape[1]), name=name)


def crop_to(x, height: int, width: int):
    """``x`` ``(batch, H, W, C)`` centre-cropped to ``height`` x ``width`` by a layer named
    ``crop`` (decoders grow a feature map past odd image sizes); unchanged if it fits."""
    extra_h, extra_w = x.shape[1] - height, x.shape[2] - width
    if extra_h or extra_w:
        x = layers.Cropping2D(((extra_h // 2, extra_h - extra_h // 2),
                               (extra_w // 2, extra_w - extra_w // 2)), name="crop")(x)
    return x


# ----------------------------------------------------------------- the diffusion U-Net

@keras.saving.register_keras_serializable(package="zoo")
class SinusoidalEmbedding(layers.Layer):
    """Noise levels ``t`` ``(batch,)`` in [0, 1] -> ``(batch, dim)`` sines and cosines of
    ``1000 t`` at geometric frequencies (the transformer's position code, as in Ho et al.,
    2020), so that the network tells nearby noise levels apart."""

    def __init__(self, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.dim = check_scalar(dim, "dim", numbers.Integral, min_val=2)

    def call(self, t):
        half = self.dim // 2
        frequencies = ops.exp(-math.log(10_000.0) * ops.arange(half, dtype="float32") / half)
        angles = 1000.0 * ops.cast(ops.reshape(t, (-1, 1)), "float32") * frequencies[None, :]
        return ops.cast(ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1),
                        self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim // 2 * 2)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


def group_norm(width: int, name: str):
    """Group normalisation with up to 8 groups (the batch-independent norm of U-Nets)."""
    return layers.GroupNormalization(math.gcd(8, width), name=name)


def residual_block(x, embedding, width: int, name: str):
    """``x`` + two 3x3 convolutions (norm, swish, conv), the embedding of the noise level
    and class added between them as one bias per channel (Ho et al., 2020)."""
    skip = x if x.shape[-1] == width else layers.Conv2D(width, 1, name=f"{name}_skip")(x)
    h = layers.Activation("swish", name=f"{name}_act1")(group_norm(x.shape[-1], f"{name}_norm1")(x))
    h = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv1")(h)
    bias = layers.Reshape((1, 1, width), name=f"{name}_bias")(
        layers.Dense(width, name=f"{name}_embedding")(embedding))
    h = layers.Add(name=f"{name}_conditioned")([h, bias])
    h = layers.Activation("swish", name=f"{name}_act2")(group_norm(width, f"{name}_norm2")(h))
    h = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv2")(h)
    return layers.Add(name=f"{name}_out")([skip, h])


def attention_block(x, name: str, heads: int = 4):
    """Self-attention over the positions of a feature map, residual (the U-Net's
    lowest resolution, where it is cheap: 7 x 7 = 49 positions for 28 x 28 images).

    Under ``mixed_float16`` the attention runs in float32: its logits can overflow
    float16, and on a CPU JAX has no float16 matmul with the float32 logits Keras's
    attention asks for (keras-hub's Stable Diffusion 3 does the same)."""
    height, width, channels = x.shape[1:]
    h = layers.Reshape((height * width, channels), name=f"{name}_tokens")(
        group_norm(channels, f"{name}_norm")(x))
    dtype = "float32" if keras.config.dtype_policy().compute_dtype == "float16" else None
    h = layers.MultiHeadAttention(heads, max(channels // heads, 1), dtype=dtype,
                                  name=f"{name}_mha")(h, h)
    return layers.Add(name=f"{name}_out")([x, layers.Reshape((height, width, channels),
                                                             name=f"{name}_grid")(h)])


def unet(image_shape, widths, num_classes: int, *, attention: bool = True,
         name: str = "denoiser") -> keras.Model:
    """The denoiser of `zoo.models.diffusion`: ``[noisy images, t, labels]`` -> one image
    of predictions (noise, velocity or ``v``), shaped as the images.

    Parameters
    ----------
    image_shape : tuple
        ``(H, W, C)``; any size: the input is zero-padded to a multiple of
        ``2 ** (len(widths) - 1)`` and the output cropped back.
    widths : sequence of int
        Channels per resolution, full size first; each level halves the size. One residual
        block per level on the way down and one (after the skip connection) on the way up.
    num_classes : int
        Labels are ints in ``[0, num_classes]``: ``num_classes`` is the null label that
        classifier-free guidance trains with and samples from.
    attention : bool, default=True
        Self-attention between two residual blocks at the lowest resolution.
    """
    image_shape = check_image_shape(image_shape)
    widths = [check_positive_int(w, "widths[i]") for w in widths]
    scale = 2 ** (len(widths) - 1)
    height, width, channels = image_shape
    images = keras.Input(image_shape, name="noisy_images")
    t = keras.Input((), name="t")
    labels = keras.Input((), dtype="int32", name="labels")

    embedding_dim = 4 * widths[0]
    embedding = layers.Dense(embedding_dim, activation="swish", name="time_mlp1")(
        SinusoidalEmbedding(widths[0], name="time_features")(t))
    embedding = layers.Dense(embedding_dim, name="time_mlp2")(embedding)
    class_embedding = layers.Embedding(num_classes + 1, embedding_dim, name="class_embedding")(labels)
    embedding = layers.Activation("swish", name="embedding")(
        layers.Add(name="time_and_class")([embedding, class_embedding]))

    pad_h, pad_w = -height % scale, -width % scale
    padding = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))  # as crop_to crops
    x = layers.ZeroPadding2D(padding, name="pad")(images) if pad_h or pad_w else images
    x = layers.Conv2D(widths[0], 3, padding="same", name="stem")(x)
    skips = []
    for level, level_width in enumerate(widths[:-1]):
        x = residual_block(x, embedding, level_width, f"down{level}")
        skips.append(x)
        x = layers.Conv2D(level_width, 3, strides=2, padding="same", name=f"downsample{level}")(x)
    x = residual_block(x, embedding, widths[-1], "middle1")
    if attention:
        x = attention_block(x, "middle_attention")
    x = residual_block(x, embedding, widths[-1], "middle2")
    for level in reversed(range(len(widths) - 1)):
        x = layers.UpSampling2D(2, name=f"upsample{level}")(x)
        x = layers.Conv2D(widths[level], 3, padding="same", name=f"upsample{level}_conv")(x)
        x = layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = residual_block(x, embedding, widths[level], f"up{level}")
    x = layers.Activation("swish", name="head_act")(group_norm(widths[0], "head_norm")(x))
    # Zero-initialised: the untrained network predicts 0, a calm start for every objective.
    # In float32 under every policy: the loss regresses its output, and PyTorch's CPU has
    # no float16 gradient for a convolution with one output channel (grey images).
    x = layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros", dtype="float32",
                      name="head")(x)
    x = crop_to(x, height, width) if pad_h or pad_w else x
    return keras.Model([images, t, labels], x, name=name)
