"""`ImageDataset` and what every loader shares: the options it checks, and `_finish`, which
checks, resizes, splits and scales the arrays of any source into an `ImageDataset`."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from zoo.validation import check_fraction, check_image_size, check_images, check_seed

log = logging.getLogger(__name__)


class DataError(ValueError):
    """A data file or folder is missing, corrupt, or not what was asked for."""


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """Train/validation/test splits of an image dataset.

    Images are float32 arrays of shape ``(N, H, W, C)`` with values in [0, 1]. A labelled
    dataset has int64 labels of shape ``(N,)`` in ``y_*`` and one name per class in
    ``class_names``; an unlabelled one (a flat image folder, arrays without labels) has
    ``y_* = None``, ``class_names = None`` and ``num_classes == 0``. ``source`` names the
    kind of source (``"IDX files"``, ``"image folder"``, ...), never a path of this machine.
    ``held_out_test`` is the fraction of the images held out as the test split because the
    source has none; 0 when the source brings its own.
    """

    name: str
    source: str
    class_names: tuple | None
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_val: np.ndarray
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    held_out_test: float = 0.0

    @property
    def image_shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    @property
    def labelled(self) -> bool:
        return self.y_train is not None

    @property
    def num_classes(self) -> int:
        """The number of classes; 0 for unlabelled data."""
        return len(self.class_names) if self.labelled else 0

    def summary(self) -> str:
        test = f"test {len(self.x_test)}"
        if self.held_out_test:
            test += f" (held out: {self.held_out_test:.0%} of the images, seeded)"
        return (
            f"{self.name} from {self.source}: train {len(self.x_train)}, "
            f"val {len(self.x_val)}, {test}, images {self.image_shape}"
            + ("" if self.labelled else ", unlabelled")
        )


def _check_options(validation_split, test_split, seed, image_size):
    """Check the options every loader takes; returns ``image_size`` as a tuple or None."""
    check_fraction(validation_split, "validation_split")
    check_fraction(test_split, "test_split", allow_zero=False)
    check_seed(seed, allow_none=False)  # held-out splits are always seeded
    return None if image_size is None else check_image_size(image_size)


def _finish(name, origin, where, x_train, y_train=None, x_test=None, y_test=None, *,
            class_names=None, validation_split, test_split, seed, image_size) -> ImageDataset:
    """Check, resize, split and scale the arrays of any source into an `ImageDataset`.

    ``where`` (a file, folder or function name) starts every message and the log line.
    """
    if y_train is None and (y_test is not None or class_names is not None):
        raise DataError(f"{where}: y_test or class_names came without y_train; label the "
                        "training images too, or drop them")
    if y_train is not None and (x_test is None) != (y_test is None):
        raise DataError(f"{where}: x_test and y_test come together for labelled data; "
                        "give both or neither")
    x_train = _as_images(x_train, "x_train", where, image_size)
    if y_train is not None:
        y_train = _as_labels(y_train, len(x_train), "y_train", where)
    held_out = 0.0
    if x_test is None:
        held_out = test_split
        x_train, x_test, y_train, y_test = _split_off(x_train, y_train, test_split, seed,
                                                      "test_split")
    else:
        x_test = _as_images(x_test, "x_test", where, image_size)
        if x_test.shape[1:] != x_train.shape[1:]:
            raise DataError(f"{where}: x_test has images of shape {x_test.shape[1:]}, x_train "
                            f"{x_train.shape[1:]}; both need one shape (image_size=(height, "
                            "width) resizes both when only the sizes differ)")
        if y_test is not None:
            y_test = _as_labels(y_test, len(x_test), "y_test", where)
    if y_train is not None:
        class_names = _class_names(class_names, max(y_train.max(), y_test.max(initial=0)), where)
    x_train, x_val, y_train, y_val = _split_off(x_train, y_train, validation_split, seed,
                                                "validation_split")
    log.info("loaded %s from %s (%s)", name, origin, where)
    return ImageDataset(name=name, source=origin, class_names=class_names,
                        x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val,
                        x_test=x_test, y_test=y_test, held_out_test=held_out)


def _as_images(x, key: str, where, image_size) -> np.ndarray:
    """``x`` as float32 ``(N, H, W, C)`` in [0, 1]: uint8 is scaled, (N, H, W) gets a channel."""
    try:
        array = np.asarray(x)
        if array.dtype == np.uint8:
            array = _to_unit_float(array)
        if array.ndim == 3:  # grey images without a channel axis
            array = array[..., None]
        array = check_images(array, name=key)
    except (TypeError, ValueError) as e:  # ragged lists, dtype, shape, range
        raise DataError(f"{where}: {e}") from None
    if image_size is not None and array.shape[1:3] != image_size:
        array = _resized(array, image_size).numpy()
    return array


def _as_labels(y, count: int, key: str, where) -> np.ndarray:
    """``y`` as int64 class indices of shape ``(count,)``."""
    try:
        labels = np.asarray(y)
        found = f"{labels.dtype} of shape {labels.shape}"
    except ValueError:  # ragged lists
        labels, found = None, f"a ragged {type(y).__name__}"
    if labels is None or labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where}: {key} must be a 1-D array of integer class indices, got "
                        f"{found} (map class names to 0..K-1 and pass the names as class_names)")
    if len(labels) != count:
        raise DataError(f"{where}: {key} has {len(labels)} labels for {count} images in "
                        f"x{key[1:]}")
    if labels.min() < 0:
        raise DataError(f"{where}: {key} holds negative labels (min {labels.min()}); labels "
                        "are class indices 0..K-1")
    return labels.astype(np.int64)


def _class_names(names, top_label: int, where) -> tuple:
    """``names`` as a tuple of str covering labels up to ``top_label``; "0", "1", ... if None."""
    if names is None:
        return tuple(str(c) for c in range(top_label + 1))
    names = np.asarray(names)
    if names.ndim != 1 or len(names) <= top_label:
        raise DataError(f"{where}: class_names must name every class: labels go up to "
                        f"{top_label}, class_names has shape {names.shape}")
    return tuple(str(n) for n in names)


def _split_off(x, y, fraction, seed, what):
    """``x_kept, x_off, y_kept, y_off``: ``fraction`` of the images split off, seeded.

    Labelled images are stratified when every class can appear on both sides; tiny sets,
    and unlabelled images (``y=None``, giving None for both label parts), split at random.
    """
    if fraction == 0:
        return x, x[:0], y, None if y is None else y[:0]
    from sklearn.model_selection import train_test_split

    n_off = int(np.ceil(fraction * len(x)))
    if n_off >= len(x):
        raise ValueError(f"{what}={fraction} leaves none of the {len(x)} images to train on")
    if y is None:
        kept, off = train_test_split(x, test_size=fraction, random_state=seed)
        return kept, off, None, None
    counts = np.bincount(y)
    both_sides = min(n_off, len(y) - n_off)
    every_class_fits = counts[counts > 0].min() >= 2 and both_sides >= np.count_nonzero(counts)
    stratify = y if every_class_fits else None
    return train_test_split(x, y, test_size=fraction, stratify=stratify, random_state=seed)


def _to_unit_float(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255.0


def _resized(images, image_size):
    """Float images in [0, 1], ``(H, W, C)`` or ``(N, H, W, C)``, stretched to ``image_size``."""
    import tensorflow as tf

    # Antialiasing averages the pixels a shrunk image drops. Bilinear weights are
    # non-negative, so values stay in [0, 1] up to float rounding, which the clip removes.
    return tf.clip_by_value(tf.image.resize(images, image_size, antialias=True), 0.0, 1.0)
