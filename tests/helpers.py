"""Checks shared by the tests: a figure is a real, non-blank picture; a table reads back;
image files written for the tests of your own images; and the batches `make_dataset` gives."""

import json
from pathlib import Path

import numpy as np
from matplotlib import image as mpimg
from PIL import Image

from zoo.data import ArrayBatches, make_dataset


def assert_figure(path, min_size=(150, 100)) -> np.ndarray:
    """``path`` is a PNG of at least ``min_size`` (width, height) pixels with content drawn.

    Content: more than 1% of the pixels differ from the background colour, so a blank or
    all-white canvas fails. Returns the pixels ``(height, width, channels)`` in [0, 1].
    """
    path = Path(path)
    assert path.is_file(), f"{path} was not written"
    pixels = mpimg.imread(path)
    height, width = pixels.shape[:2]
    assert width >= min_size[0] and height >= min_size[1], f"{path.name} is {width}x{height}"
    background = pixels[0, 0]
    drawn = np.any(np.abs(pixels - background) > 0.05, axis=-1).mean()
    assert drawn > 0.01, f"{path.name} is blank ({drawn:.2%} of its pixels drawn)"
    return pixels


def assert_outputs(folder, names) -> None:
    """Every file in ``names`` exists in ``folder``; every ``.png`` among them is a figure."""
    for name in names:
        if name.endswith(".png"):
            assert_figure(Path(folder) / name)
        else:
            assert (Path(folder) / name).is_file(), name


def read_table(stem) -> list:
    """The rows of a table written by the recipes (``<stem>.json``)."""
    return json.loads(Path(stem).with_suffix(".json").read_text())["rows"]


def write_png(path, pixels) -> None:
    """``pixels``, uint8 (H, W) or (H, W, C), as a PNG file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.squeeze() if pixels.shape[-1] == 1 else pixels).save(path)


def batches_of(pipeline, x, y=None, *, count=None, batch_size, shuffle=True, seed=0,
               map_fn=None, repeat=False):
    """The first ``count`` (default: all) NumPy ``(inputs, targets)`` batches of
    `make_dataset` on TensorFlow, or of the `ArrayBatches` it gives on JAX and PyTorch."""
    if pipeline == "tf.data":
        ds = make_dataset(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed,
                          map_fn=map_fn, repeat=repeat)
        return [(a.numpy(), b.numpy()) for a, b in (ds.take(count) if count else ds)]
    ds = ArrayBatches(x, x if y is None else y, batch_size, shuffle=shuffle, seed=seed,
                      map_fn=map_fn, repeat=repeat)
    return [ds[i] for i in range(count or ds.num_batches)]
