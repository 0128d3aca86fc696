"""The IDX files of MNIST and Fashion-MNIST: reading and writing them, finding them in a
folder, and the class-balanced sample shipped inside the package."""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from zoo.data.splits import DataError

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
SAMPLE_DIR = Path(__file__).parents[1] / "sample_data"

# The IDX files the loader knows, so that it can refuse one dataset's files offered as the
# other's (both are 28x28 grey images with ten classes: nothing else tells them apart).
# Keys: the MD5 of a gzip file as published (the digests torchvision and
# tensorflow-datasets check), or the SHA-256 (first 32 hex digits) of a file's
# decompressed bytes, which a copy compressed again keeps.
KNOWN_IDX_FILES = {
    # The official releases (yann.lecun.com; zalandoresearch/fashion-mnist), as published.
    "f68b3c2dcbeaaa9fbdd348bbdeb94873": "mnist", "d53e105ee54ea40749a09fcbcd1e9432": "mnist",
    "9fb629c4189551a2d022fa330f9573f3": "mnist", "ec29112dd5afa0611ce80d1b7f02629c": "mnist",
    "8d4fb7e6c68d591d4c3dfef9ec88bf0d": "fashion_mnist",
    "25c81989df183df01b3e8a0aad5dffbe": "fashion_mnist",
    "bef4ecab320f06d8554ea6380940ec79": "fashion_mnist",
    "bb300cfdad3c16e7a12a480ee83cd310": "fashion_mnist",
    # The offline copies the presets were trained on (their provenance: docs/data.md).
    "ba891046e6505d7aadcbbe25680a0738": "mnist", "65a50cbbf4e906d70832878ad85ccda5": "mnist",
    "0fa7898d509279e482958e8ce81c8e77": "mnist", "ff7bcfd416de33731a308c3f266cc351": "mnist",
    "78af20091c5d087c418fa52c91e53862": "fashion_mnist",
    "7cd88f551e93510030f93325e39e5d81": "fashion_mnist",
    "30270969a8ba48240e771468112d9ad6": "fashion_mnist",
    "59df6c6ad638dc43879f10a8c5b516aa": "fashion_mnist",
    # The embedded samples.
    "43bab6e3e0320c9c0ac7879abd0f0b53": "mnist", "10144bd0e325e06ff335f728c346539a": "mnist",
    "691b411f244e3c4c1b85ba29123eb60d": "mnist", "e08808015ee5f25d262ea42b41a2c5ce": "mnist",
    "1879d37f710def52e825c525fa455993": "fashion_mnist",
    "08d58109d89b01c2154d64f8cdb24587": "fashion_mnist",
    "e7dfce5545428a645bba99e862ccde8e": "fashion_mnist",
    "4b42e39d2b57cdfaf059e52e1317a3e8": "fashion_mnist",
}
DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def identify_idx_file(path) -> str | None:
    """The dataset (``"mnist"`` or ``"fashion_mnist"``) whose file ``path`` is, by
    `KNOWN_IDX_FILES`; None for a file the zoo does not know."""
    data = Path(path).read_bytes()
    known = KNOWN_IDX_FILES.get(hashlib.md5(data).hexdigest())
    if known is None:
        try:
            known = KNOWN_IDX_FILES.get(hashlib.sha256(gzip.decompress(data)).hexdigest()[:32])
        except (OSError, EOFError, zlib.error):
            return None  # read_idx names the broken file
    return known


def check_idx_files(name: str, folder) -> list:
    """The IDX files of ``folder`` the zoo does not know (their names); `DataError` if any
    is known to be the other dataset's, naming both datasets."""
    found = {f: identify_idx_file(Path(folder) / f) for pair in IDX_FILES.values() for f in pair}
    others = sorted({dataset for dataset in found.values() if dataset not in (None, name)})
    if others:
        theirs = [f for f, dataset in found.items() if dataset == others[0]]
        raise DataError(
            f"{folder} holds {DATASET_TITLES[others[0]]} files ({', '.join(theirs)}), not "
            f"{DATASET_TITLES[name]}'s: load_dataset({others[0]!r}, ...) reads them, or point "
            f"data_dir at the {name} files (a folder with an {name}/ sub-folder works for both)")
    return [f for f, dataset in found.items() if dataset is None]
_IDX_UBYTE = 0x08


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
