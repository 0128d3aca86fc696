"""Your own images: folders of image files, ``.npz`` files, and arrays in memory."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from zoo.data.splits import DataError, ImageDataset, _check_options, _finish, _resized, _to_unit_float

# The files `tf.io.decode_image` reads (an animated GIF gives its first frame).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test", "class_names")


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
