"""Every argument check of the zoo, in scikit-learn's ``check_scalar`` shape.

One rule everywhere: an argument of the wrong *type* raises `TypeError`, a value of the
right type that is out of range raises `ValueError`; every message names the argument,
says what it must be, shows what arrived and, where there is one, the fix. Bounds are
keyword-only, as in `sklearn.utils.check_scalar`.
"""

from __future__ import annotations

import math
import numbers
import sys

import keras
import numpy as np

SEED_RANGE = (0, 2**32 - 1)  # what NumPy's legacy RandomState and tf.random accept alike
_BOUNDARIES = {"both": ("[", "]"), "left": ("[", ")"), "right": ("(", "]"), "neither": ("(", ")")}


def check_scalar(x, name: str, target_type, *, min_val=None, max_val=None,
                 include_boundaries: str = "both", fix: str = ""):
    """``x`` if it is a ``target_type`` within ``[min_val, max_val]``; raise otherwise.

    Parameters
    ----------
    x : object
        The value to check. ``bool`` is never a number here, though Python says it is.
    name : str
        The argument's name, as the caller spells it: it starts every message.
    target_type : type or tuple of types
        ``numbers.Integral`` for integers (NumPy's included), ``numbers.Real`` for any
        number; a wrong type raises `TypeError`.
    min_val, max_val : number, default=None
        Bounds (None: unbounded); a value outside raises `ValueError`.
    include_boundaries : {"both", "left", "right", "neither"}, default="both"
        Which bounds are allowed values.
    fix : str, default=""
        A hint appended to every message (e.g. "0 turns dropout off").

    Returns
    -------
    x, an ``int`` when ``target_type`` is integral, a ``float`` when it is ``numbers.Real``.
    """
    low, high = _BOUNDARIES[include_boundaries]
    interval = f"{low}{'-inf' if min_val is None else min_val}, " \
               f"{'inf' if max_val is None else max_val}{high}"
    hint = f" ({fix})" if fix else ""
    if isinstance(x, bool) or not isinstance(x, target_type):
        kind = _kind(target_type)
        raise TypeError(f"{name} must be {kind} in {interval}, got {x!r} "
                        f"of type {type(x).__name__}{hint}")
    if isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral) and not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number in {interval}, got {x!r}{hint}")
    too_low = min_val is not None and (x < min_val if low == "[" else x <= min_val)
    too_high = max_val is not None and (x > max_val if high == "]" else x >= max_val)
    if too_low or too_high:
        raise ValueError(f"{name} must be in {interval}, got {x!r}{hint}")
    if target_type is numbers.Integral:
        return int(x)
    if target_type is numbers.Real:
        return float(x)
    return x


def _kind(target_type) -> str:
    if target_type is numbers.Integral:
        return "an integer"
    if target_type is numbers.Real:
        return "a number"
    types = target_type if isinstance(target_type, tuple) else (target_type,)
    return " or ".join(t.__name__ for t in types)


def check_positive_int(x, name: str) -> int:
    """``x`` as an ``int`` if it is an integer >= 1."""
    return check_scalar(x, name, numbers.Integral, min_val=1)


def check_fraction(x, name: str, *, allow_zero: bool = True) -> float:
    """``x`` as a ``float`` in [0, 1) (or (0, 1) without ``allow_zero``)."""
    return check_scalar(x, name, numbers.Real, min_val=0.0, max_val=1.0,
                        include_boundaries="left" if allow_zero else "neither")


def check_range(bounds, name: str, target_type, *, min_val=None, max_val=None,
                include_boundaries: str = "both") -> tuple:
    """``bounds`` as ``(low, high)`` with ``low <= high``, each checked by `check_scalar`.

    ``bounds`` must be a tuple (`TypeError` otherwise) of two values (`ValueError`); the
    keywords bound both ends, as in `check_scalar`, whose messages name ``name[0]`` or
    ``name[1]``.
    """
    if not isinstance(bounds, tuple):
        raise TypeError(f"{name} must be a (low, high) tuple, got {bounds!r} "
                        f"of type {type(bounds).__name__}")
    if len(bounds) != 2:
        raise ValueError(f"{name} must be a (low, high) tuple, got {len(bounds)} values {bounds!r}")
    low, high = (check_scalar(b, f"{name}[{i}]", target_type, min_val=min_val, max_val=max_val,
                              include_boundaries=include_boundaries) for i, b in enumerate(bounds))
    if low > high:
        raise ValueError(f"{name} must have low <= high, got {bounds!r} (swap them)")
    return low, high


def check_seed(seed, name: str = "seed", *, allow_none: bool = True):
    """``seed`` as an ``int`` in ``SEED_RANGE``, or None (a fresh random stream) when allowed."""
    if seed is None and allow_none:
        return None
    return check_scalar(seed, name, numbers.Integral, min_val=SEED_RANGE[0], max_val=SEED_RANGE[1],
                        fix="None draws a fresh random stream" if allow_none else "")


def check_choice(x, name: str, choices) -> str:
    """``x`` if it is one of ``choices`` (strings)."""
    if not isinstance(x, str):
        raise TypeError(f"{name} must be one of {tuple(choices)}, got {x!r} of type {type(x).__name__}")
    if x not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {x!r}")
    return x


def check_bool(x, name: str) -> bool:
    """``x`` if it is ``True`` or ``False`` (NumPy's booleans included)."""
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {x!r} of type {type(x).__name__}")
    return bool(x)


def check_batch_size(batch_size, *, allow_none: bool = True):
    """``batch_size`` as an int (None passes when ``allow_none``: Keras's default)."""
    if batch_size is None and allow_none:
        return None
    return check_positive_int(batch_size, "batch_size")


def check_image_shape(input_shape, name: str = "input_shape") -> tuple:
    """``input_shape`` as a tuple ``(height, width, channels)`` of positive integers."""
    expected = f"{name} must be (height, width, channels) of positive integers"
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"{expected}, got {input_shape!r} of type {type(input_shape).__name__}")
    if len(input_shape) != 3:
        raise ValueError(f"{expected}, got {input_shape!r}")
    if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in input_shape):
        raise TypeError(f"{expected}, got {input_shape!r}")
    if not all(d > 0 for d in input_shape):
        raise ValueError(f"{expected}, got {input_shape!r}")
    return tuple(int(d) for d in input_shape)


def check_image_size(image_size, name: str = "image_size") -> tuple:
    """``image_size`` as a tuple ``(height, width)`` of positive integers."""
    if not isinstance(image_size, (tuple, list)):
        raise TypeError(f"{name} must be (height, width), two positive integers, got "
                        f"{image_size!r} of type {type(image_size).__name__}")
    if len(image_size) != 2:
        raise ValueError(f"{name} must be (height, width), two positive integers, "
                         f"got {image_size!r}")
    return tuple(check_positive_int(side, f"{name}[{i}]") for i, side in enumerate(image_size))


def check_images(x, image_shape=None, name: str = "x") -> np.ndarray:
    """Validate a batch of images and return it as a float32 array.

    ``x`` must be a non-empty float array of shape ``(N, H, W, C)`` (``(N,) + image_shape``
    when ``image_shape`` is given) holding finite values in [0, 1]. Anything else raises
    `TypeError` (not an array of numbers, not floating point) or `ValueError` (shape,
    NaN/inf, range) with a message that says how to fix it.
    """
    try:
        array = np.asarray(x)
    except Exception as e:  # ragged lists, objects numpy cannot hold
        raise TypeError(f"{name} must be an array of images, got {type(x).__name__}") from e
    if array.dtype == object or not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise TypeError(f"{name} must be a numeric array of images, got dtype {array.dtype}")
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"{name} has dtype {array.dtype}; the zoo expects float images in [0, 1] "
            f"(for uint8 pixels use {name}.astype('float32') / 255)"
        )
    expected_rank = 4 if image_shape is None else 1 + len(image_shape)
    if array.ndim != expected_rank:
        hint = f" (add a channel axis: {name}[..., None])" if array.ndim == expected_rank - 1 else ""
        raise ValueError(
            f"{name} must have shape (N, H, W, C), got rank {array.ndim} shape {array.shape}{hint}"
        )
    if image_shape is not None and tuple(array.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"{name} has images of shape {array.shape[1:]}, the model expects {tuple(image_shape)}"
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{name} holds {bad} NaN or infinite value(s)")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{name} values span [{low:g}, {high:g}]; the zoo expects images scaled to [0, 1]"
        )
    return array.astype(np.float32, copy=False)


def check_codes(z, latent_dim: int, name: str = "z") -> np.ndarray:
    """Validate latent codes: a finite float array of shape ``(N, latent_dim)``, as float32."""
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


def is_tf_dataset(x) -> bool:
    """Whether ``x`` is a `tf.data.Dataset`, without importing TensorFlow (a process that
    never imported it holds none)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and hasattr(tf, "data") and isinstance(x, tf.data.Dataset)


def check_batches(x, shape, name: str = "x", *, check_array):
    """Check what `fit`/`evaluate`/`predict` receive: batches of ``(N,) + shape``.

    Arrays (and anything array-like) go through ``check_array``; a `tf.data.Dataset` must
    yield float32 batches of shape ``(None,) + shape`` (or tuples starting with them), not
    be known to be empty (a wrong element type or dtype is a `TypeError`, a wrong shape or
    an empty dataset a `ValueError`), and its first batch goes through ``check_array``
    (range, NaNs: the arrays' messages); `make_dataset`'s `ArrayBatches` are checked by
    their images; other generators, `keras.utils.PyDataset` and ``None`` pass unchecked.
    """
    if is_tf_dataset(x):
        import tensorflow as tf

        spec = x.element_spec
        spec = spec[0] if isinstance(spec, tuple) else spec
        # float32 like the arrays: a train_step mixing float64 inputs with float32 outputs
        # would fail inside TensorFlow.
        if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.float32:
            raise TypeError(f"{name} must yield float32 batches (or (batch, targets) tuples) "
                            f"of shape (None,) + {tuple(shape)}, got elements {x.element_spec}")
        if tuple(spec.shape[1:]) != tuple(shape):
            raise ValueError(f"{name} yields batches of shape {tuple(spec.shape)}; the model "
                             f"expects batches of shape (None,) + {tuple(shape)}")
        if x.cardinality() == 0:  # Keras's predict fails obscurely on it
            raise ValueError(f"{name} is an empty dataset")
        # Values are checked on the first batch, as an array would be (pixels in 0..255
        # trained silently before).
        for batch in x.take(1):
            check_array((batch[0] if isinstance(batch, tuple) else batch).numpy())
        return x
    from zoo.data.pipeline import ArrayBatches  # here: zoo.data imports this module

    if isinstance(x, ArrayBatches):  # make_dataset's batches off TensorFlow: their arrays
        check_array(x.x)
        return x
    if x is None or hasattr(x, "__next__") or isinstance(x, keras.utils.PyDataset):
        return x
    return check_array(x)


def check_image_inputs(x, image_shape, name: str = "x"):
    """`check_batches` of images ``(N,) + image_shape`` (arrays by `check_images`)."""
    return check_batches(x, image_shape, name,
                         check_array=lambda array: check_images(array, image_shape, name))


def check_code_inputs(x, latent_dim: int, name: str = "x"):
    """`check_batches` of codes ``(N, latent_dim)`` (arrays by `check_codes`)."""
    return check_batches(x, (latent_dim,), name,
                         check_array=lambda array: check_codes(array, latent_dim, name))


def check_labels(labels, num_classes: int, n=None, name: str = "labels") -> np.ndarray:
    """Class labels as an int32 array ``(N,)`` of values in ``[0, num_classes)``.

    ``labels`` must be integers (`TypeError` otherwise: float labels are a sign of one-hot
    or probability targets), one per example (``n`` of them when given), in range.
    """
    try:
        array = np.asarray(labels)
    except ValueError as e:  # ragged lists
        raise TypeError(f"{name} must be an array of class indices, got {type(labels).__name__}") from e
    if not np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        raise TypeError(f"{name} must be integer class indices in [0, {num_classes}), got dtype "
                        f"{array.dtype} (one-hot labels: {name}.argmax(axis=1))")
    if array.ndim != 1 or array.size == 0 or (n is not None and len(array) != n):
        wanted = "a non-empty (N,) array" if n is None else f"({n},): one label per example"
        raise ValueError(f"{name} must have shape {wanted}, got {array.shape}")
    if array.min() < 0 or array.max() >= num_classes:
        raise ValueError(f"{name} must lie in [0, {num_classes}), got values from "
                         f"{array.min()} to {array.max()}")
    return array.astype(np.int32, copy=False)
