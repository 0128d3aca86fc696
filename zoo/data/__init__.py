"""Image datasets: loading from named datasets, folders, files and arrays; validation;
batches for `fit`.

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
    The files are checked by checksum (`zoo.data.idx.KNOWN_IDX_FILES`): one dataset's
    files offered as the other's raise `DataError`; files the zoo does not know load,
    and ``summary()`` names them.
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

Modules, by source: `zoo.data.idx` (IDX files and the embedded sample), `zoo.data.tfds`,
`zoo.data.files` (folders, ``.npz`` files, arrays); `zoo.data.splits` holds `ImageDataset`
and what every loader shares; `zoo.data.pipeline` batches arrays for `fit` (`tf.data` on TensorFlow, a
`keras.utils.PyDataset` elsewhere). Everything
public is importable from `zoo.data` itself.
"""

from __future__ import annotations

import numbers
import os

from zoo.data.files import IMAGE_SUFFIXES, NPZ_KEYS, from_arrays, load_images
from zoo.data.idx import (CLASS_NAMES, IDX_FILES, SAMPLE_DIR, _idx_folder, _read_idx_split,
                          check_idx_files, make_sample, read_idx, write_idx)
from zoo.data.pipeline import ArrayBatches, make_dataset
from zoo.data.splits import DataError, ImageDataset, _check_options, _finish
from zoo.data.tfds import _load_tfds
from zoo.validation import check_batch_size, check_choice, check_images, check_scalar

__all__ = [
    "CLASS_NAMES", "IDX_FILES", "IMAGE_SUFFIXES", "NPZ_KEYS", "SAMPLE_DIR", "SOURCES", "DataError",
    "ImageDataset", "check_batch_size", "check_images", "from_arrays", "load_dataset",
    "ArrayBatches", "load_images", "make_sample", "make_dataset", "read_idx", "write_idx",
]

SOURCES = ("auto", "tfds", "idx", "sample")


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
    if not isinstance(name, str):
        raise TypeError(f"name must be a dataset name (a str), got {name!r} of type "
                        f"{type(name).__name__}; for your own images use load_images(path) "
                        "or from_arrays")
    check_choice(source, "source", SOURCES)
    check_scalar(download_timeout, "download_timeout", numbers.Real, min_val=0,
                 include_boundaries="neither")
    if name not in CLASS_NAMES and source != "tfds":
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
            if unknown := check_idx_files(name, folder):
                origin += f" (not known by checksum: {', '.join(unknown)})"
        train, test = (_read_idx_split(folder, split) for split in ("train", "test"))
        class_names, where = CLASS_NAMES[name], folder
    return _finish(name, origin, where, *train, *(test or (None, None)),
                   class_names=class_names, validation_split=validation_split,
                   test_split=test_split, seed=seed, image_size=image_size)
