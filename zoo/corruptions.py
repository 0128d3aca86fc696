"""Image corruptions for denoising: composable functions on batches of images.

Every corruption is a function ``corruption(images, seed) -> images`` on a float
tensor ``(N, H, W, C)`` in [0, 1] that returns a tensor of the same shape, clipped to
[0, 1]. ``seed`` is an int or a stateless seed (an int tensor of shape ``(2,)``), so the
same seed gives the same corruption. The parameters are bound with `functools.partial`::

    from functools import partial
    noise = compose(partial(gaussian_noise, sigma=0.3), partial(occlusion, size=8))
    noisy = noise(images, seed=0)

For training a denoising autoencoder, `corrupt_inputs` turns a corruption into a
``map_fn`` for `zoo.data.make_tf_dataset`: it corrupts the inputs of each batch with a
fresh seed and leaves the clean targets alone, so the corruption only ever touches
training inputs::

    ds = make_tf_dataset(x_train, map_fn=corrupt_inputs(noise, seed=0))
    model.fit(ds)   # a ConvAutoencoder learns corrupted -> clean
"""

from __future__ import annotations

import numbers

import numpy as np
import tensorflow as tf

from zoo.validation import (check_fraction, check_images, check_positive_int, check_scalar,
                            check_seed)


def _seed(seed) -> tf.Tensor:
    """A stateless seed (shape (2,) int64) from an int or an existing seed tensor."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return tf.constant([check_seed(seed, allow_none=False), 0], tf.int64)
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer or seed.shape != (2,):
        raise TypeError(f"seed must be an int or an integer tensor of shape (2,), got {seed!r}")
    return tf.cast(seed, tf.int64)


def _split_seed(seed, count: int) -> list:
    """``count`` independent stateless seeds derived from ``seed``."""
    return tf.unstack(tf.random.experimental.stateless_split(_seed(seed), count))


def _check_corruptions(caller, corruptions):
    if not corruptions or not all(callable(c) for c in corruptions):
        raise TypeError(f"{caller} needs one or more corruption functions (images, seed) -> images")


def _images(images) -> tf.Tensor:
    images = tf.convert_to_tensor(images)
    if not images.dtype.is_floating:
        raise TypeError(f"images must be floats in [0, 1], got dtype {images.dtype.name} "
                        "(for uint8 pixels divide by 255 first)")
    if images.shape.rank != 4:
        raise ValueError(f"images must have shape (N, H, W, C), got shape {tuple(images.shape)}")
    return images


def gaussian_noise(images, sigma: float, seed=0):
    """Add Gaussian noise of standard deviation ``sigma`` (pixel units), then clip to [0, 1]."""
    check_scalar(sigma, "sigma", numbers.Real, min_val=0.0)
    images = _images(images)
    noise = tf.random.stateless_normal(tf.shape(images), _seed(seed), dtype=images.dtype)
    return tf.clip_by_value(images + sigma * noise, 0.0, 1.0)


def random_gaussian_noise(images, max_sigma: float, seed=0, min_sigma: float = 0.0):
    """Gaussian noise whose sigma is drawn per image, uniformly in [min_sigma, max_sigma]."""
    check_scalar(max_sigma, "max_sigma", numbers.Real, min_val=0.0)
    check_scalar(min_sigma, "min_sigma", numbers.Real, min_val=0.0, max_val=max_sigma)
    images = _images(images)
    sigma_seed, noise_seed = _split_seed(seed, 2)
    batch = tf.shape(images)[0]
    sigma = tf.random.stateless_uniform(tf.stack([batch, 1, 1, 1]), sigma_seed,
                                        minval=min_sigma, maxval=max_sigma, dtype=images.dtype)
    noise = tf.random.stateless_normal(tf.shape(images), noise_seed, dtype=images.dtype)
    return tf.clip_by_value(images + sigma * noise, 0.0, 1.0)


def salt_and_pepper(images, fraction: float, seed=0):
    """Set a random ``fraction`` of the pixels to 0 or 1 (each with probability 1/2).

    A pixel is hit in all its channels at once; each pixel is hit independently.
    """
    check_scalar(fraction, "fraction", numbers.Real, min_val=0.0, max_val=1.0)
    images = _images(images)
    hit_seed, salt_seed = _split_seed(seed, 2)
    shape = tf.concat([tf.shape(images)[:3], [1]], axis=0)
    hit = tf.random.stateless_uniform(shape, hit_seed) < fraction
    salt = tf.cast(tf.random.stateless_uniform(shape, salt_seed) < 0.5, images.dtype)
    return tf.where(hit, salt, images)


def occlusion(images, size: int, seed=0, value: float = 0.0):
    """Blank one random ``size`` x ``size`` square per image (fully inside it) to ``value``."""
    check_positive_int(size, "size")
    check_scalar(value, "value", numbers.Real, min_val=0.0, max_val=1.0)
    images = _images(images)
    height, width = images.shape[1], images.shape[2]
    if size > min(height, width):
        raise ValueError(f"occlusion size {size} does not fit in {height}x{width} images")
    row_seed, col_seed = _split_seed(seed, 2)
    batch = tf.shape(images)[0]
    top = tf.random.stateless_uniform([batch, 1], row_seed, 0, height - size + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([batch, 1], col_seed, 0, width - size + 1, dtype=tf.int32)
    rows, cols = tf.range(height)[None, :], tf.range(width)[None, :]
    in_rows = (rows >= top) & (rows < top + size)  # (N, H)
    in_cols = (cols >= left) & (cols < left + size)  # (N, W)
    square = (in_rows[:, :, None] & in_cols[:, None, :])[..., None]
    return tf.where(square, tf.cast(value, images.dtype), images)


def patch_mask(images, ratio: float, patch: int = 4, seed=0, value: float = 0.0):
    """Blank random ``patch`` x ``patch`` cells of each image to ``value``: a masked-image
    objective's input, which the model must fill in from the cells it sees.

    The image is cut into a grid of cells (the last row and column of cells may be
    cropped by the image's edge); each cell is blanked, in all channels, independently
    with probability ``ratio``.
    """
    check_fraction(ratio, "ratio")
    check_positive_int(patch, "patch")
    check_scalar(value, "value", numbers.Real, min_val=0.0, max_val=1.0)
    images = _images(images)
    height, width = images.shape[1], images.shape[2]
    cells = [tf.shape(images)[0], -(-height // patch), -(-width // patch), 1]
    blank = tf.random.stateless_uniform(cells, _seed(seed)) < ratio
    blank = tf.repeat(tf.repeat(blank, patch, axis=1), patch, axis=2)[:, :height, :width]
    return tf.where(blank, tf.cast(value, images.dtype), images)


def compose(*corruptions):
    """Apply ``corruptions`` one after the other, each with its own seed derived from ``seed``."""
    _check_corruptions("compose", corruptions)

    def composed(images, seed=0):
        seeds = _split_seed(seed, len(corruptions))
        for corruption, s in zip(corruptions, seeds):
            images = corruption(images, seed=s)
        return images

    return composed


def one_of(*corruptions):
    """Apply one of ``corruptions`` to each image, picked uniformly at random per image."""
    _check_corruptions("one_of", corruptions)

    def chosen(images, seed=0):
        images = _images(images)
        seeds = _split_seed(seed, len(corruptions) + 1)
        candidates = tf.stack([c(images, seed=s) for c, s in zip(corruptions, seeds[1:])], axis=1)
        pick = tf.random.stateless_uniform([tf.shape(images)[0]], seeds[0], 0, len(corruptions),
                                           dtype=tf.int32)
        return tf.gather(candidates, pick, axis=1, batch_dims=1)

    return chosen


def corrupt_inputs(corruption, seed: int = 0):
    """A ``map_fn`` for `zoo.data.make_tf_dataset` corrupting each batch's inputs.

    The targets (the clean images) pass through untouched. Each batch gets a fresh
    stateless seed from a `tf.random.Generator` seeded with ``seed``, so no two batches
    share a noise pattern. The run is reproducible with op determinism on
    (`zoo.set_seed`, as every recipe does): tf.data then calls the generator in batch
    order instead of in parallel.
    """
    if not callable(corruption):
        raise TypeError(f"corruption must be a function (images, seed) -> images, got {corruption!r}")
    generator = tf.random.Generator.from_seed(check_seed(seed, allow_none=False))

    def map_fn(inputs, targets):
        return corruption(inputs, seed=generator.make_seeds(1)[:, 0]), targets

    return map_fn


def psnr(clean, restored) -> np.ndarray:
    """Peak signal-to-noise ratio in dB of each image, for data range 1: shape ``(N,)``.

    ``10 * log10(1 / MSE)`` per image; identical images give ``inf``.
    """
    clean = check_images(clean, name="clean")
    restored = check_images(restored, clean.shape[1:], name="restored")
    if len(restored) != len(clean):
        raise ValueError(f"clean has {len(clean)} images but restored has {len(restored)}")
    return tf.image.psnr(clean, restored, max_val=1.0).numpy()
