"""`tf.data` pipelines for `fit`."""

from __future__ import annotations

import numpy as np

from zoo.validation import check_batch_size, check_bool, check_images, check_seed


def make_tf_dataset(
    x, y=None, batch_size: int = 128, shuffle: bool = True, seed: int = 0, map_fn=None,
    repeat: bool = False,
):
    """A batched, prefetched `tf.data.Dataset` for `fit`.

    With ``y=None`` the targets are the images themselves (autoencoding). ``map_fn``,
    if given, maps ``(inputs, targets)`` batches, e.g. to corrupt the inputs for a
    denoising autoencoder; it runs after batching, so it sees whole batches. ``repeat``
    cycles through ``x`` without end (reshuffled each pass, full batches across the
    seams), for a `fit` counted in ``steps_per_epoch``. ``seed`` (an integer in
    [0, 2**32), or None for a fresh order each run) fixes the shuffling.
    """
    from zoo.backends import require_tensorflow

    tf = require_tensorflow("make_tf_dataset (a tf.data pipeline)")
    batch_size = check_batch_size(batch_size, allow_none=False)
    shuffle, repeat = check_bool(shuffle, "shuffle"), check_bool(repeat, "repeat")
    seed = check_seed(seed)
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
