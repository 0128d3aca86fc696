"""The IDX files of MNIST and Fashion-MNIST: reading and writing them, finding them in a
folder, and the class-balanced sample shipped inside the package."""

from __future__ import annotations

import gzip
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
