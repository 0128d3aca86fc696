"""Batches of in-memory images for `fit`, on every Keras backend: a `tf.data` pipeline on
TensorFlow, a `keras.utils.PyDataset` on JAX and PyTorch."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from zoo.validation import check_batch_size, check_bool, check_images, check_seed


def make_dataset(
    x, y=None, batch_size: int = 128, shuffle: bool = True, seed: int = 0, map_fn=None,
    repeat: bool = False,
):
    """Shuffled batches of ``(inputs, targets)`` for `fit`.

    With ``y=None`` the targets are the images themselves (autoencoding). ``map_fn``,
    if given, maps ``(inputs, targets)`` batches, e.g. to corrupt the inputs for a
    denoising autoencoder (`zoo.corruptions.corrupt_inputs`); it runs after batching, so
    it sees whole batches, and is written in `keras.ops`. ``repeat`` cycles through ``x``
    without end (reshuffled each pass, full batches across the seams), for a `fit`
    counted in ``steps_per_epoch``. ``seed`` (an integer in [0, 2**32), or None for a
    fresh order each run) fixes the shuffling.

    On TensorFlow this is a prefetched `tf.data.Dataset`; on JAX and PyTorch, where
    `tf.data` would need TensorFlow, an `ArrayBatches` `keras.utils.PyDataset` of NumPy
    batches. Either way ``map_fn`` maps the batches in order, so a seeded ``map_fn`` draws
    the same numbers every run.
    """
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
    if keras.backend.backend() != "tensorflow":
        return ArrayBatches(x, targets, batch_size, shuffle=shuffle, seed=seed, map_fn=map_fn,
                            repeat=repeat)
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, targets))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size)
    if map_fn is not None:
        # One batch after another: a map_fn's random stream (a keras.random.SeedGenerator
        # reads and then advances its state) is drawn in batch order, as off TensorFlow.
        # Prefetching still overlaps the mapping with training.
        ds = ds.map(map_fn)
    return ds.prefetch(tf.data.AUTOTUNE)


class ArrayBatches(keras.utils.PyDataset):
    """`make_dataset`'s batches off TensorFlow: NumPy ``(inputs, targets)`` batches of
    in-memory arrays, in a seeded order reshuffled each epoch (or each pass with
    ``repeat``), mapped by ``map_fn`` one batch after another (one worker), so that a
    seeded ``map_fn`` draws the same numbers every run."""

    def __init__(self, x, targets, batch_size: int, *, shuffle: bool, seed, map_fn, repeat: bool):
        super().__init__()
        self.x, self.targets, self.batch_size = x, targets, batch_size
        self.shuffle, self.map_fn, self.repeat = shuffle, map_fn, repeat
        self.rng = np.random.default_rng(seed)
        self.order = self._pass_order()
        self.position = 0  # with repeat: where the next batch starts in the stream of passes

    def _pass_order(self) -> np.ndarray:
        return self.rng.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))

    @property
    def num_batches(self):
        return None if self.repeat else math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        if self.repeat:  # the next batch_size indices of an endless stream of passes
            indices = []
            while len(indices) < self.batch_size:
                if self.position == len(self.order):
                    self.order, self.position = self._pass_order(), 0
                taken = self.order[self.position:self.position + self.batch_size - len(indices)]
                indices.extend(taken)
                self.position += len(taken)
        else:
            if not 0 <= index < self.num_batches:
                raise IndexError(f"batch {index} of {self.num_batches}")
            indices = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        batch = self.x[indices], self.targets[indices]
        if self.map_fn is not None:
            batch = keras.tree.map_structure(ops.convert_to_numpy, self.map_fn(*batch))
        return batch

    def on_epoch_end(self):
        if not self.repeat:
            self.order = self._pass_order()
