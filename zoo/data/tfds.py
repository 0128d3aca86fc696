"""Image-classification datasets of tensorflow-datasets, and whether its host is reachable."""

from __future__ import annotations

import socket

import numpy as np

from zoo.data.idx import CLASS_NAMES
from zoo.data.splits import DataError, _resized

# tfds serves its metadata and MNIST-style data from Google Cloud Storage; other datasets
# download from their publishers, but a machine that cannot reach GCS is taken as offline.
_TFDS_HOST = ("storage.googleapis.com", 443)


def _load_tfds(name: str, timeout: float, image_size):
    """``(x_train, y_train), (x_test, y_test) or None, class_names, folder`` of a tfds dataset.

    Images stay uint8 unless ``image_size`` resizes them (then float32 in [0, 1]).
    """
    from zoo.backends import require_tensorflow

    tf = require_tensorflow("source='tfds' (tensorflow-datasets)")
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
    """Whether ``host_port`` takes a connection within ``timeout`` seconds (tests patch it)."""
    try:
        socket.create_connection(host_port, timeout=timeout).close()
        return True
    except OSError:
        return False
