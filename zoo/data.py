"""Image datasets: loading from three sources, validation, and `tf.data` pipelines.

Sources
-------
``"tfds"``
    tensorflow-datasets, official splits (needs the network the first time).
``"idx"``
    A folder of the standard IDX ``.gz`` files (``train-images-idx3-ubyte.gz`` ...),
    given as ``data_dir`` or the ``ZOO_DATA_DIR`` environment variable. The folder
    may hold the files directly or one sub-folder per dataset (``<dir>/mnist/...``).
``"sample"``
    A small class-balanced real sample shipped inside the package, for quick runs
    and tests.
``"auto"`` (default)
    ``"idx"`` when a data folder is given or ``ZOO_DATA_DIR`` is set, else ``"tfds"``.
    There is no silent fallback: an unreachable download raises at once, naming the
    offline options.
"""

from __future__ import annotations

import dataclasses
import gzip
import logging
import math
import numbers
import os
import socket
import struct
import zlib
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
}
IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SOURCES = ("auto", "tfds", "idx", "sample")
SAMPLE_DIR = Path(__file__).parent / "sample_data"
# tfds downloads MNIST-style data from Google Cloud Storage.
_TFDS_HOST = ("storage.googleapis.com", 443)
_IDX_UBYTE = 0x08


class DataError(ValueError):
    """A data file or folder is missing, corrupt, or not what was asked for."""


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """Train/validation/test splits of an image dataset.

    Images are float32 arrays of shape ``(N, H, W, C)`` with values in [0, 1];
    labels are int64 arrays of shape ``(N,)``. ``source`` says where the data came from.
    """

    name: str
    source: str
    class_names: tuple
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def image_shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def summary(self) -> str:
        return (
            f"{self.name} from {self.source}: train {len(self.x_train)}, "
            f"val {len(self.x_val)}, test {len(self.x_test)}, images {self.image_shape}"
        )


# --------------------------------------------------------------------------- IDX


def read_idx(path) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes into a uint8 array.

    Raises `DataError` naming the file when it is missing, not gzip, has a bad
    magic number, or holds fewer or more bytes than its header declares.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise DataError(f"{path}: not a readable gzip file ({e})") from e
    if len(raw) < 4:
        raise DataError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != _IDX_UBYTE or not 1 <= ndim <= 4:
        raise DataError(
            f"{path}: bad IDX magic number 0x{raw[:4].hex()} "
            "(expected 0x0000080N: unsigned bytes, N dimensions)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = math.prod(shape)  # Python ints: np.prod wraps at 2**64
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: header declares shape {shape} ({expected} bytes) "
            f"but the file holds {len(raw) - header} data bytes (truncated or corrupt)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path, array) -> None:
    """Write a uint8 array as a gzipped IDX file (the inverse of `read_idx`)."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"write_idx needs uint8 data, got {array.dtype}")
    header = struct.pack(">HBB", 0, _IDX_UBYTE, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def _read_idx_split(folder: Path, split: str):
    image_file, label_file = (folder / f for f in IDX_FILES[split])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3:
        raise DataError(f"{image_file}: expected 3 dimensions (N, H, W), got {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(
            f"{label_file}: {labels.shape[0]} labels for {len(images)} images in {image_file}"
        )
    return images[..., None], labels


def _idx_folder(name: str, data_dir) -> Path:
    if not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"data_dir must be a folder path, got {data_dir!r}")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataError(f"data folder {root} does not exist")
    folder = root / name if (root / name).is_dir() else root
    missing = [f for pair in IDX_FILES.values() for f in pair if not (folder / f).is_file()]
    if missing:
        raise DataError(f"{folder}: missing IDX file(s) for {name}: {', '.join(missing)}")
    return folder


# -------------------------------------------------------------------------- tfds


def _load_tfds(name: str, timeout: float):
    import tensorflow_datasets as tfds

    builder = tfds.builder(name)
    if not builder.is_prepared() and not _reachable(_TFDS_HOST, timeout):
        raise DataError(
            f"tensorflow-datasets cannot download {name!r}: {_TFDS_HOST[0]} is unreachable "
            f"and no prepared copy is in {builder.data_dir}. Offline options: "
            "source='idx' with data_dir=<folder of IDX .gz files> (or set ZOO_DATA_DIR), "
            "or source='sample' for the small sample shipped with deepzoo."
        )
    splits = []
    for split in ("train", "test"):
        ds = tfds.load(name, split=split, as_supervised=True)
        batches = list(tfds.as_numpy(ds.batch(8192)))
        splits.append(
            (np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]))
        )
    return splits


def _reachable(host_port, timeout: float) -> bool:
    try:
        socket.create_connection(host_port, timeout=timeout).close()
        return True
    except OSError:
        return False


# ----------------------------------------------------------------------- loading


def load_dataset(
    name: str,
    source: str = "auto",
    data_dir=None,
    validation_split: float = 0.1,
    seed: int = 0,
    download_timeout: float = 5.0,
) -> ImageDataset:
    """Load ``"mnist"`` or ``"fashion_mnist"`` as float32 images in [0, 1].

    Parameters
    ----------
    name : ``"mnist"`` or ``"fashion_mnist"``.
    source : ``"auto"``, ``"tfds"``, ``"idx"`` or ``"sample"`` (see the module docstring).
    data_dir : folder of IDX files for ``source="idx"``; defaults to ``$ZOO_DATA_DIR``.
    validation_split : fraction of the training split held out for validation,
        stratified by class (when every class has enough examples); reproducible
        for a given ``seed``. 0 gives an empty split.
    seed : seed of the validation split, an integer in [0, 2**32).
    download_timeout : seconds to wait for the tfds host before failing.

    Returns
    -------
    ImageDataset with ``x_*`` of shape ``(N, 28, 28, 1)`` and ``y_*`` of shape ``(N,)``.
    """
    if name not in CLASS_NAMES:
        raise DataError(f"unknown dataset {name!r}; choose one of {sorted(CLASS_NAMES)}")
    if source not in SOURCES:
        raise DataError(f"unknown source {source!r}; choose one of {SOURCES}")
    if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real):
        raise TypeError(f"validation_split must be a number in [0, 1), got {validation_split!r}")
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    if not 0 <= seed < 2**32:  # what the split's NumPy RandomState accepts
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    data_dir = data_dir or os.environ.get("ZOO_DATA_DIR") or None
    if source == "auto":
        source = "idx" if data_dir else "tfds"

    # ``origin`` names the kind of source, which reports and model cards keep; the folder,
    # a path of this machine, goes to the log only.
    if source == "tfds":
        (x_train, y_train), (x_test, y_test) = _load_tfds(name, download_timeout)
        origin, where = "tensorflow-datasets", "its official splits"
    else:
        if source == "sample":
            folder, origin = SAMPLE_DIR / name, "the embedded sample"
        elif data_dir is None:
            raise DataError("source='idx' needs data_dir=<folder> or ZOO_DATA_DIR")
        else:
            folder, origin = _idx_folder(name, data_dir), "IDX files"
        (x_train, y_train), (x_test, y_test) = (
            _read_idx_split(folder, split) for split in ("train", "test")
        )
        where = folder
    log.info("loaded %s from %s (%s)", name, origin, where)

    x_train, x_val, y_train, y_val = _validation_split(x_train, y_train, validation_split, seed)
    return ImageDataset(
        name=name,
        source=origin,
        class_names=CLASS_NAMES[name],
        x_train=_to_unit_float(x_train),
        y_train=y_train.astype(np.int64),
        x_val=_to_unit_float(x_val),
        y_val=y_val.astype(np.int64),
        x_test=_to_unit_float(x_test),
        y_test=y_test.astype(np.int64),
    )


def _validation_split(x, y, fraction, seed):
    if fraction == 0:
        return x, x[:0], y, y[:0]
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    n_val = int(np.ceil(fraction * len(y)))
    if n_val >= len(y):
        raise ValueError(f"validation_split={fraction} leaves none of the {len(y)} training "
                         "images to train on")
    # Stratify when every class can appear on both sides; tiny sets are split at random.
    n_classes = np.count_nonzero(counts)
    both_sides = min(n_val, len(y) - n_val)
    stratify = y if counts[counts > 0].min() >= 2 and both_sides >= n_classes else None
    return train_test_split(x, y, test_size=fraction, stratify=stratify, random_state=seed)


def _to_unit_float(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255.0


def make_sample(
    source_dir, out_dir=SAMPLE_DIR, train_per_class: int = 400, test_per_class: int = 100,
    seed: int = 0,
) -> None:
    """Write a class-balanced IDX sample of each dataset found in ``source_dir``.

    This is how the embedded sample was made, from the full IDX copies::

        python -c "from zoo.data import make_sample; make_sample('path/to/idx-folder')"
    """
    rng = np.random.default_rng(seed)
    for name in CLASS_NAMES:
        folder = _idx_folder(name, source_dir)
        target = Path(out_dir) / name
        target.mkdir(parents=True, exist_ok=True)
        for split, per_class in (("train", train_per_class), ("test", test_per_class)):
            images, labels = _read_idx_split(folder, split)
            keep = np.concatenate([
                rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                for c in np.unique(labels)
            ])
            rng.shuffle(keep)
            image_file, label_file = IDX_FILES[split]
            write_idx(target / image_file, images[keep, ..., 0])
            write_idx(target / label_file, labels[keep])


# -------------------------------------------------------------------- validation


def check_images(x, image_shape=None, name: str = "x") -> np.ndarray:
    """Validate a batch of images and return it as a float32 array.

    ``x`` must be a non-empty float array of shape ``(N, H, W, C)`` (``(N,) + image_shape``
    when ``image_shape`` is given) holding finite values in [0, 1]. Anything else raises
    `TypeError` (not an array of numbers) or `ValueError` (not floating point, shape,
    NaN/inf, range) with a message that says how to fix it.
    """
    try:
        array = np.asarray(x)
    except Exception as e:  # ragged lists, objects numpy cannot hold
        raise TypeError(f"{name} must be an array of images, got {type(x).__name__}") from e
    if array.dtype == object or not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise TypeError(f"{name} must be a numeric array of images, got dtype {array.dtype}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
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


def check_batch_size(batch_size, allow_none: bool = True):
    """``batch_size`` as an int (None passes when ``allow_none``: Keras's default)."""
    if batch_size is None and allow_none:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    return int(batch_size)


# ---------------------------------------------------------------------- tf.data


def make_tf_dataset(
    x, y=None, batch_size: int = 128, shuffle: bool = True, seed: int = 0, map_fn=None,
):
    """A batched, prefetched `tf.data.Dataset` for `fit`.

    With ``y=None`` the targets are the images themselves (autoencoding). ``map_fn``,
    if given, maps ``(inputs, targets)`` batches, e.g. to corrupt the inputs for a
    denoising autoencoder; it runs after batching, so it sees whole batches.
    """
    import tensorflow as tf

    batch_size = check_batch_size(batch_size, allow_none=False)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an integer or None, got {seed!r}")
    if seed is not None and not 0 <= seed < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    x = check_images(x)
    try:
        targets = x if y is None else np.asarray(y)
    except ValueError as e:  # ragged lists
        raise TypeError(f"y must be an array of targets, got {type(y).__name__}") from e
    if targets.ndim == 0 or len(targets) != len(x):
        found = f"{len(targets)} entries" if targets.ndim else f"a scalar {type(y).__name__}"
        raise ValueError(f"x has {len(x)} images but y has {found}")
    ds = tf.data.Dataset.from_tensor_slices((x, targets))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if map_fn is not None:
        ds = ds.map(map_fn, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
