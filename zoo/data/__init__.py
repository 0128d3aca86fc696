"""Image datasets: loading from named datasets, folders, files and arrays; validation;
`tf.data` pipelines.

Three loaders, one result (an `ImageDataset`):

``load_dataset(name, source=...)``
    A dataset by name: ``"mnist"`` or ``"fashion_mnist"`` from any of the sources below,
    or any image-classification dataset of tensorflow-datasets (``"kmnist"``,
    ``"cifar10"``, ``"emnist/letters"`` ...) with ``source="tfds"``.
``load_images(path)``
    Your own images: a folder of image files (one sub-folder per class gives labels and
    class names; a flat folder gives none), or an ``.npz`` file with ``x_train`` and
    optionally ``y_train``, ``x_test``, ``y_test``, ``class_names``.
``from_arrays(x_train, y_train=None, x_test=None, y_test=None)``
    Arrays already in memory.

Sources of the named datasets
-----------------------------
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

Every loader checks its input whole before it returns, and raises one `DataError` that
names the file or folder and the fix; where a source has no test split, ``test_split`` of
its images are held out (seeded) and `ImageDataset.summary` says so.
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
import zipfile
import zlib
from pathlib import Path

import numpy as np

from zoo.validation import check_batch_size, check_images  # noqa: F401  (re-exported: zoo.data.check_images)

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
# The files `tf.io.decode_image` reads (an animated GIF gives its first frame).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test", "class_names")
# tfds serves its metadata and MNIST-style data from Google Cloud Storage; other datasets
# download from their publishers, but a machine that cannot reach GCS is taken as offline.
_TFDS_HOST = ("storage.googleapis.com", 443)
_IDX_UBYTE = 0x08


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


def _load_tfds(name: str, timeout: float, image_size):
    """``(x_train, y_train), (x_test, y_test) or None, class_names, folder`` of a tfds dataset.

    Images stay uint8 unless ``image_size`` resizes them (then float32 in [0, 1]).
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name)
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(
            f"tensorflow-datasets has no dataset {name!r}; its image-classification datasets "
            "are listed at https://www.tensorflow.org/datasets/catalog/overview"
        ) from None
    features = dict(builder.info.features.items())
    keys = builder.info.supervised_keys
    image_key, label_key = keys if isinstance(keys, tuple) and len(keys) == 2 else (None, None)
    image, label = features.get(image_key), features.get(label_key)
    if not (isinstance(image, tfds.features.Image) and isinstance(label, tfds.features.ClassLabel)):
        raise DataError(
            f"tensorflow-datasets {name!r} is not an image-classification dataset (its "
            f"supervised keys are {keys}, not (image, class label)); export its images to "
            "a folder or arrays and use load_images or from_arrays"
        )
    if image_size is None and None in image.shape[:2]:
        raise DataError(f"tensorflow-datasets {name!r} has images of varying size; pass "
                        "image_size=(height, width) to resize them all")
    if not builder.is_prepared() and not _reachable(_TFDS_HOST, timeout):
        offline = (
            "source='idx' with data_dir=<folder of IDX .gz files> (or set ZOO_DATA_DIR), "
            "or source='sample' for the small sample shipped with deepzoo"
            if name in CLASS_NAMES else
            f"prepare it where the network is reachable (tfds.builder({name!r})"
            ".download_and_prepare()) and copy the folder here, or save the images as a "
            "folder or .npz file for load_images(path)"
        )
        raise DataError(
            f"tensorflow-datasets cannot download {name!r}: {_TFDS_HOST[0]} is unreachable "
            f"and no prepared copy is in {builder.data_dir}. Offline options: {offline}."
        )
    builder.download_and_prepare()  # a no-op for a prepared copy
    # A prepared copy lists its splits; tfds.testing.mock_data lists none but serves any.
    listed = builder.info.splits
    if listed and "train" not in listed:
        raise DataError(f"tensorflow-datasets {name!r} has no 'train' split (it has "
                        f"{sorted(listed)}); export its images and use load_images")

    def read(split):
        ds = builder.as_dataset(split=split, as_supervised=True)
        if image_size is not None:
            ds = ds.map(lambda x, y: (_resized(tf.image.convert_image_dtype(x, tf.float32),
                                               image_size), y),
                        num_parallel_calls=tf.data.AUTOTUNE)
        batches = list(tfds.as_numpy(ds.batch(8192)))
        return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])

    test = read("test") if not listed or "test" in listed else None
    return read("train"), test, tuple(label.names), builder.data_dir


def _reachable(host_port, timeout: float) -> bool:
    try:
        socket.create_connection(host_port, timeout=timeout).close()
        return True
    except OSError:
        return False


# ------------------------------------------------------------------ image files


def _read_image_folder(folder: Path, image_size):
    """``(images, labels, class_names)`` of a folder of image files, checked whole.

    One sub-folder per class (read recursively, classes in sorted order, as
    `keras.utils.image_dataset_from_directory` does) gives labels and class names; a flat
    folder gives ``None`` for both. Hidden files and folders (``.DS_Store``,
    ``.ipynb_checkpoints``) are skipped. Images are float32 ``(N, H, W, C)`` in [0, 1].
    """
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    classes = [p for p in entries if p.is_dir()]
    if classes and len(classes) < len(entries):
        loose = [p.name for p in entries if not p.is_dir()]
        raise DataError(
            f"{folder}: holds both class sub-folders and files ({_some(loose)}); put every "
            "image in a class sub-folder, or use a flat folder with no sub-folders"
        )
    if classes:
        per_class = [_visible_files(c) for c in classes]
        empty = [c.name for c, files in zip(classes, per_class) if not files]
        if empty:
            raise DataError(f"{folder}: class folder(s) {_some(empty)} hold no images; "
                            "remove them or add images")
        paths = [path for files in per_class for path in files]
        labels = np.repeat(np.arange(len(classes)), [len(files) for files in per_class])
        class_names = tuple(c.name for c in classes)
    else:
        paths, labels, class_names = entries, None, None
    if not paths:
        raise DataError(f"{folder}: the folder is empty; put image files "
                        f"({', '.join(IMAGE_SUFFIXES)}) in it, or one sub-folder of them per class")
    others = [p.relative_to(folder) for p in paths if p.suffix.lower() not in IMAGE_SUFFIXES]
    if others:
        raise DataError(f"{folder}: {len(others)} file(s) are not images ({_some(others)}); "
                        f"the zoo reads {', '.join(IMAGE_SUFFIXES)}: move the others out")
    images = [_read_image(path, image_size) for path in paths]
    for what, of, fix in (
        ("channel counts", lambda a: a.shape[2],
         "convert them all to grey or all to colour (RGB) first"),
        ("sizes (height, width)", lambda a: a.shape[:2],
         "pass image_size=(height, width) to resize them all (--image-size H W in the recipes)"),
    ):
        odd = next((i for i, a in enumerate(images) if of(a) != of(images[0])), None)
        if odd is not None:
            raise DataError(
                f"{folder}: images have different {what}: {of(images[0])} in "
                f"{paths[0].relative_to(folder)}, {of(images[odd])} in "
                f"{paths[odd].relative_to(folder)}; {fix}"
            )
    return np.stack(images), labels, class_names


def _visible_files(folder: Path) -> list:
    """The files under ``folder``, recursively and sorted, less hidden files and folders."""
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _read_image(path: Path, image_size):
    """One image file as float32 ``(H, W, C)`` in [0, 1], resized to ``image_size`` if given."""
    import tensorflow as tf

    try:
        pixels = tf.io.decode_image(tf.io.read_file(str(path)), expand_animations=False)
    except tf.errors.OpError as e:  # corrupt, truncated, or not the format its name says
        raise DataError(f"{path}: not a readable image ({e.message})") from None
    image = _to_unit_float(pixels.numpy())
    if image_size is not None and image.shape[:2] != image_size:
        image = _resized(image, image_size).numpy()
    return image


def _resized(images, image_size):
    """Float images in [0, 1], ``(H, W, C)`` or ``(N, H, W, C)``, stretched to ``image_size``."""
    import tensorflow as tf

    # Antialiasing averages the pixels a shrunk image drops. Bilinear weights are
    # non-negative, so values stay in [0, 1] up to float rounding, which the clip removes.
    return tf.clip_by_value(tf.image.resize(images, image_size, antialias=True), 0.0, 1.0)


def _read_npz(path: Path) -> dict:
    """The arrays of an ``.npz`` file, which must hold ``x_train`` and only `NPZ_KEYS`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # incl. pickled objects
        raise DataError(f"{path}: not a readable .npz file ({e}); write it with "
                        "np.savez(path, x_train=images, ...) and class names as a str array") from e
    unknown = sorted(set(arrays) - set(NPZ_KEYS))
    if "x_train" not in arrays or unknown:
        raise DataError(
            f"{path}: holds {sorted(arrays)}; the zoo reads x_train and optionally "
            f"{', '.join(NPZ_KEYS[1:])} (write it with np.savez(path, x_train=images, ...))"
        )
    return arrays


def _some(items, shown: int = 3) -> str:
    """Up to ``shown`` of ``items`` for a message, saying how many more there are."""
    items = [str(item) for item in items]
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


# ----------------------------------------------------------------------- loading


def load_dataset(
    name: str,
    source: str = "auto",
    data_dir=None,
    validation_split: float = 0.1,
    seed: int = 0,
    download_timeout: float = 5.0,
    *,
    image_size=None,
    test_split: float = 0.2,
) -> ImageDataset:
    """Load a dataset by name as float32 images in [0, 1].

    Parameters
    ----------
    name : str
        ``"mnist"`` or ``"fashion_mnist"`` (any source), or with ``source="tfds"`` any
        image-classification dataset of tensorflow-datasets (``"kmnist"``, ``"cifar10"``,
        ``"emnist/letters"`` ...; class names from its builder info).
    source : str, default="auto"
        ``"auto"``, ``"tfds"``, ``"idx"`` or ``"sample"`` (see the module docstring).
    data_dir : str or path, default=None
        Folder of IDX files for ``source="idx"``; defaults to ``$ZOO_DATA_DIR``.
    validation_split : float, default=0.1
        Fraction of the training split held out for validation, stratified by class
        (when every class has enough examples); reproducible for a given ``seed``. 0
        gives an empty split.
    seed : int, default=0
        Seed of the held-out splits, an integer in [0, 2**32).
    download_timeout : float, default=5.0
        Seconds to wait for the tfds host before failing.
    image_size : (int, int), default=None
        ``(height, width)`` to resize (stretch) every image to; None keeps their size,
        and a tfds dataset of varying sizes then raises `DataError`.
    test_split : float, default=0.2
        Fraction of the images held out as the test split, for a tfds dataset without
        one; in (0, 1).

    Returns
    -------
    ImageDataset with ``x_*`` of shape ``(N, H, W, C)`` (``(N, 28, 28, 1)`` for MNIST)
    and ``y_*`` of shape ``(N,)``.
    """
    if source not in SOURCES:
        raise DataError(f"unknown source {source!r}; choose one of {SOURCES}")
    if name not in CLASS_NAMES and not (source == "tfds" and isinstance(name, str)):
        raise DataError(
            f"unknown dataset {name!r}; choose one of {sorted(CLASS_NAMES)}, or any "
            "image-classification dataset of tensorflow-datasets with source='tfds' (e.g. "
            "'kmnist', 'cifar10'); for a folder or .npz file use load_images(path)"
        )
    image_size = _check_options(validation_split, test_split, seed, image_size)
    data_dir = data_dir or os.environ.get("ZOO_DATA_DIR") or None
    if source == "auto":
        source = "idx" if data_dir else "tfds"

    # ``origin`` names the kind of source, which reports and model cards keep; the folder,
    # a path of this machine, goes to the log only.
    if source == "tfds":
        train, test, class_names, where = _load_tfds(name, download_timeout, image_size)
        origin = "tensorflow-datasets"
    else:
        if source == "sample":
            folder, origin = SAMPLE_DIR / name, "the embedded sample"
        elif data_dir is None:
            raise DataError("source='idx' needs data_dir=<folder> or ZOO_DATA_DIR")
        else:
            folder, origin = _idx_folder(name, data_dir), "IDX files"
        train, test = (_read_idx_split(folder, split) for split in ("train", "test"))
        class_names, where = CLASS_NAMES[name], folder
    return _finish(name, origin, where, *train, *(test or (None, None)),
                   class_names=class_names, validation_split=validation_split,
                   test_split=test_split, seed=seed, image_size=image_size)


def load_images(
    path, *, image_size=None, validation_split: float = 0.1, test_split: float = 0.2,
    seed: int = 0,
) -> ImageDataset:
    """Load your own images from a folder of image files or an ``.npz`` file.

    Parameters
    ----------
    path : str or path
        A folder of PNG/JPEG (or BMP/GIF) files, read with `tf.io.decode_image`: one
        sub-folder per class gives labels and class names (the sub-folders' names, in
        sorted order); a flat folder gives an unlabelled dataset. Or an ``.npz`` file
        (``np.savez``) holding ``x_train`` and optionally ``y_train``, ``x_test``,
        ``y_test`` and ``class_names``, read as `from_arrays` reads arrays.
    image_size : (int, int), default=None
        ``(height, width)`` to resize (stretch) every image to. None keeps their size,
        and images of different sizes raise `DataError`.
    validation_split : float, default=0.1
        Fraction of the training images held out for validation, in [0, 1).
    test_split : float, default=0.2
        Fraction of the images held out as the test split when the source has none (a
        folder, an ``.npz`` without ``x_test``), in (0, 1).
    seed : int, default=0
        Seed of the held-out splits, an integer in [0, 2**32).

    Returns
    -------
    ImageDataset named after the folder or file, with ``source`` ``"image folder"`` or
    ``"npz file"``. Grey images have 1 channel, colour ones 3 (4 with alpha).

    Examples
    --------
    >>> data = load_images("photos/", image_size=(64, 64))   # doctest: +SKIP
    >>> data.summary()                                        # doctest: +SKIP
    'photos from image folder: train 648, val 72, test 180 (held out: 20% ...'
    """
    image_size = _check_options(validation_split, test_split, seed, image_size)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a folder or .npz file path, got {path!r}")
    path = Path(path).expanduser()
    if path.is_dir():
        x_train, y_train, class_names = _read_image_folder(path, image_size)
        arrays = {"x_train": x_train, "y_train": y_train, "class_names": class_names}
        origin = "image folder"
    elif path.is_file() and path.suffix.lower() == ".npz":
        arrays, origin = _read_npz(path), "npz file"
    elif path.exists():
        raise DataError(f"{path}: not a folder or an .npz file; pass a folder of images "
                        "(one sub-folder per class, or none) or an .npz file")
    else:
        raise DataError(f"{path} does not exist; pass a folder of images (one sub-folder "
                        "per class, or none) or an .npz file")
    name = path.resolve().name if path.is_dir() else path.resolve().stem
    return _finish(name, origin, path, **arrays, validation_split=validation_split,
                   test_split=test_split, seed=seed, image_size=image_size)


def from_arrays(
    x_train, y_train=None, x_test=None, y_test=None, *, class_names=None, name: str = "arrays",
    image_size=None, validation_split: float = 0.1, test_split: float = 0.2, seed: int = 0,
) -> ImageDataset:
    """An `ImageDataset` of arrays in memory.

    Parameters
    ----------
    x_train, x_test : array of shape (N, H, W, C) or (N, H, W)
        uint8 pixels (scaled to [0, 1]) or floats already in [0, 1]; ``(N, H, W)`` gets
        a channel axis. Without ``x_test``, ``test_split`` of ``x_train`` is held out.
    y_train, y_test : array of int, shape (N,), default=None
        Class indices 0..K-1, for both splits or neither; None for unlabelled images.
    class_names : sequence of str, default=None
        One name per class; defaults to ``"0"``, ``"1"``, ... for labelled data.
    name : str, default="arrays"
        The dataset's name in summaries and titles.
    image_size, validation_split, test_split, seed
        As in `load_images`.

    Examples
    --------
    >>> from sklearn.datasets import load_digits                  # doctest: +SKIP
    >>> digits = load_digits()                                    # doctest: +SKIP
    >>> data = from_arrays(digits.images / 16, digits.target, name="digits")  # doctest: +SKIP
    """
    image_size = _check_options(validation_split, test_split, seed, image_size)
    return _finish(name, "arrays", "from_arrays", x_train, y_train, x_test, y_test,
                   class_names=class_names, validation_split=validation_split,
                   test_split=test_split, seed=seed, image_size=image_size)


def _check_options(validation_split, test_split, seed, image_size):
    """Check the options every loader takes; returns ``image_size`` as a tuple or None."""
    _check_fraction("validation_split", validation_split)
    _check_fraction("test_split", test_split, allow_zero=False)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    if not 0 <= seed < 2**32:  # what the split's NumPy RandomState accepts
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    if image_size is None:
        return None
    size = tuple(image_size) if isinstance(image_size, (tuple, list)) else ()
    if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer))
                             or s < 1 for s in size):
        raise ValueError(f"image_size must be (height, width), two positive integers, "
                         f"got {image_size!r}")
    return tuple(int(s) for s in size)


def _check_fraction(name: str, value, allow_zero: bool = True) -> None:
    interval = "[0, 1)" if allow_zero else "(0, 1)"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in {interval}, got {value!r}")
    if not 0.0 <= value < 1.0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be in {interval}, got {value}")


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


# ---------------------------------------------------------------------- tf.data


def make_tf_dataset(
    x, y=None, batch_size: int = 128, shuffle: bool = True, seed: int = 0, map_fn=None,
    repeat: bool = False,
):
    """A batched, prefetched `tf.data.Dataset` for `fit`.

    With ``y=None`` the targets are the images themselves (autoencoding). ``map_fn``,
    if given, maps ``(inputs, targets)`` batches, e.g. to corrupt the inputs for a
    denoising autoencoder; it runs after batching, so it sees whole batches. ``repeat``
    cycles through ``x`` without end (reshuffled each pass, full batches across the
    seams), for a `fit` counted in ``steps_per_epoch``.
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
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size)
    if map_fn is not None:
        ds = ds.map(map_fn, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
