"""Image corruptions for denoising: composable functions on batches of images, on every
Keras backend (`keras.ops` and `keras.random`).

Every corruption is a function ``corruption(images, seed) -> images`` on float images
``(N, H, W, C)`` in [0, 1] (an array or a tensor of the backend) that returns a tensor of
the backend, of the same shape and dtype, clipped to [0, 1]. ``seed`` is an int, so that
the same seed gives the same corruption, or a `keras.random.SeedGenerator`, whose stream
gives each call fresh noise. The parameters are bound with `functools.partial`::

    from functools import partial
    noise = compose(partial(gaussian_noise, sigma=0.3), partial(occlusion, size=8))
    noisy = noise(images, seed=0)

For training a denoising autoencoder, `corrupt_inputs` turns a corruption into a
``map_fn`` for `zoo.data.make_dataset`: it corrupts the inputs of each batch with fresh
noise and leaves the clean targets alone, so the corruption only ever touches training
inputs::

    ds = make_dataset(x_train, map_fn=corrupt_inputs(noise, seed=0))
    model.fit(ds)   # a ConvAutoencoder learns corrupted -> clean
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
from keras import ops

from zoo.validation import (check_fraction, check_images, check_positive_int, check_scalar,
                            check_seed)


def _seeds(seed, count: int) -> list:
    """``count`` seeds for ``count`` independent draws from ``seed``: distinct ints derived
    from an int (`numpy.random.SeedSequence`), or the generator itself, whose every draw
    moves its stream on."""
    if isinstance(seed, keras.random.SeedGenerator):
        return [seed] * count
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int or a keras.random.SeedGenerator, got {seed!r}")
    entropy = check_seed(seed, allow_none=False)
    return [int(s) for s in np.random.SeedSequence(entropy).generate_state(count)]


def seed_stream(seed) -> keras.random.SeedGenerator:
    """A `keras.random.SeedGenerator` for a stream of fresh draws from ``seed`` (an int in
    [0, 2**32), or None for a fresh stream). PyTorch keeps the generator's state in int32,
    so the seed is folded into [0, 2**31)."""
    seed = check_seed(seed)
    return keras.random.SeedGenerator(None if seed is None else seed % 2**31)


def _check_corruptions(caller, corruptions):
    if not corruptions or not all(callable(c) for c in corruptions):
        raise TypeError(f"{caller} needs one or more corruption functions (images, seed) -> images")


def _images(images):
    images = ops.convert_to_tensor(images)
    if "float" not in keras.backend.standardize_dtype(images.dtype):
        raise TypeError(f"images must be floats in [0, 1], got dtype {images.dtype} "
                        "(for uint8 pixels divide by 255 first)")
    if len(images.shape) != 4:
        raise ValueError(f"images must have shape (N, H, W, C), got shape {tuple(images.shape)}")
    return images


def _batch_shape(images, *trailing) -> tuple:
    """``(N, *trailing)``, N the batch of ``images`` (a tensor inside a `tf.data` map)."""
    return (ops.shape(images)[0], *trailing)


def gaussian_noise(images, sigma: float, seed=0):
    """Add Gaussian noise of standard deviation ``sigma`` (pixel units), then clip to [0, 1]."""
    check_scalar(sigma, "sigma", numbers.Real, min_val=0.0)
    images = _images(images)
    (noise_seed,) = _seeds(seed, 1)
    noise = keras.random.normal(ops.shape(images), dtype=images.dtype, seed=noise_seed)
    return ops.clip(images + sigma * noise, 0.0, 1.0)


def random_gaussian_noise(images, max_sigma: float, seed=0, min_sigma: float = 0.0):
    """Gaussian noise whose sigma is drawn per image, uniformly in [min_sigma, max_sigma]."""
    check_scalar(max_sigma, "max_sigma", numbers.Real, min_val=0.0)
    check_scalar(min_sigma, "min_sigma", numbers.Real, min_val=0.0, max_val=max_sigma)
    images = _images(images)
    sigma_seed, noise_seed = _seeds(seed, 2)
    sigma = keras.random.uniform(_batch_shape(images, 1, 1, 1), min_sigma, max_sigma,
                                 dtype=images.dtype, seed=sigma_seed)
    noise = keras.random.normal(ops.shape(images), dtype=images.dtype, seed=noise_seed)
    return ops.clip(images + sigma * noise, 0.0, 1.0)


def salt_and_pepper(images, fraction: float, seed=0):
    """Set a random ``fraction`` of the pixels to 0 or 1 (each with probability 1/2).

    A pixel is hit in all its channels at once; each pixel is hit independently.
    """
    check_scalar(fraction, "fraction", numbers.Real, min_val=0.0, max_val=1.0)
    images = _images(images)
    hit_seed, salt_seed = _seeds(seed, 2)
    shape = _batch_shape(images, images.shape[1], images.shape[2], 1)
    hit = keras.random.uniform(shape, seed=hit_seed) < fraction
    salt = ops.cast(keras.random.uniform(shape, seed=salt_seed) < 0.5, images.dtype)
    return ops.where(hit, salt, images)


def occlusion(images, size: int, seed=0, value: float = 0.0):
    """Blank one random ``size`` x ``size`` square per image (fully inside it) to ``value``."""
    check_positive_int(size, "size")
    check_scalar(value, "value", numbers.Real, min_val=0.0, max_val=1.0)
    images = _images(images)
    height, width = images.shape[1], images.shape[2]
    if size > min(height, width):
        raise ValueError(f"occlusion size {size} does not fit in {height}x{width} images")
    row_seed, col_seed = _seeds(seed, 2)
    top = keras.random.randint(_batch_shape(images, 1), 0, height - size + 1, seed=row_seed)
    left = keras.random.randint(_batch_shape(images, 1), 0, width - size + 1, seed=col_seed)
    rows, cols = ops.arange(height)[None, :], ops.arange(width)[None, :]
    in_rows = (rows >= top) & (rows < top + size)  # (N, H)
    in_cols = (cols >= left) & (cols < left + size)  # (N, W)
    square = ops.expand_dims(in_rows[:, :, None] & in_cols[:, None, :], -1)
    return ops.where(square, ops.cast(value, images.dtype), images)


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
    (cell_seed,) = _seeds(seed, 1)
    cells = _batch_shape(images, -(-height // patch), -(-width // patch), 1)
    blank = keras.random.uniform(cells, seed=cell_seed) < ratio
    blank = ops.repeat(ops.repeat(blank, patch, axis=1), patch, axis=2)[:, :height, :width]
    return ops.where(blank, ops.cast(value, images.dtype), images)


def compose(*corruptions):
    """Apply ``corruptions`` one after the other, each with its own seed derived from ``seed``."""
    _check_corruptions("compose", corruptions)

    def composed(images, seed=0):
        for corruption, s in zip(corruptions, _seeds(seed, len(corruptions))):
            images = corruption(images, seed=s)
        return images

    return composed


def one_of(*corruptions):
    """Apply one of ``corruptions`` to each image, picked uniformly at random per image."""
    _check_corruptions("one_of", corruptions)

    def chosen(images, seed=0):
        images = _images(images)
        pick_seed, *seeds = _seeds(seed, len(corruptions) + 1)
        candidates = ops.stack([c(images, seed=s) for c, s in zip(corruptions, seeds)], axis=1)
        pick = keras.random.randint(_batch_shape(images), 0, len(corruptions), seed=pick_seed)
        # A one-hot sum selects exactly: the other candidates are multiplied by 0.
        one_hot = ops.cast(ops.one_hot(pick, len(corruptions)), images.dtype)
        return ops.sum(candidates * one_hot[:, :, None, None, None], axis=1)

    return chosen


def corrupt_inputs(corruption, seed: int = 0):
    """A ``map_fn`` for `zoo.data.make_dataset` corrupting each batch's inputs.

    The targets (the clean images) pass through untouched. Each batch draws fresh noise
    from one `keras.random.SeedGenerator` seeded with ``seed``, so no two batches share a
    noise pattern; `make_dataset` maps the batches in order, so a run is reproducible.
    """
    if not callable(corruption):
        raise TypeError(f"corruption must be a function (images, seed) -> images, got {corruption!r}")
    generator = seed_stream(check_seed(seed, allow_none=False))

    def map_fn(inputs, targets):
        return corruption(inputs, seed=generator), targets

    return map_fn


def psnr(clean, restored) -> np.ndarray:
    """Peak signal-to-noise ratio in dB of each image, for data range 1: shape ``(N,)``.

    ``10 * log10(1 / MSE)`` per image; identical images give ``inf``.
    """
    clean = check_images(clean, name="clean")
    restored = check_images(restored, clean.shape[1:], name="restored")
    if len(restored) != len(clean):
        raise ValueError(f"clean has {len(clean)} images but restored has {len(restored)}")
    error = np.mean((clean.astype(np.float64) - restored) ** 2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return (10 * np.log10(1 / error)).astype(np.float32)
