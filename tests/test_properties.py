"""Property-based bad-input tests: every public entry point either works or raises one
clear `ValueError`/`TypeError` (`zoo.DataError` is a `ValueError`), never an error from
deep inside NumPy, gzip or TensorFlow.

Hypothesis draws shapes, dtypes, value ranges (NaN, inf, negatives, > 1), empty arrays,
datasets of the wrong structure, random and truncated bytes, and hyperparameters of the
wrong type or sign. A `ValueError`/`TypeError` raised from inside TensorFlow itself does
not count as clear. Example counts stay small and the models tiny; one shared
`ConvAutoencoder` and one shared `VAE` serve every fit/evaluate/predict/encode example.
"""

import gzip
import math
import os
import tempfile
from pathlib import Path
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from zoo import ConvAutoencoder
from zoo.data import (CLASS_NAMES, IDX_FILES, DataError, check_images, load_dataset,
                      make_tf_dataset, read_idx, write_idx)

CLEAR_ERRORS = (ValueError, TypeError)
# database=None: no .hypothesis/ folder in the checkout; a failure prints its example.
FAST = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(FAST, max_examples=25)
IMAGE_SHAPE = (8, 8, 1)
LATENT_DIM = 2

DTYPES = st.sampled_from([np.float32, np.float64, np.float16, np.uint8, np.int32, np.int64,
                          np.bool_, np.complex64, np.str_])
# Mostly values in [0, 1], often out of range or not finite.
VALUES = st.one_of(st.floats(0, 1, width=16), st.floats(width=16),
                   st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 2.0, 255.0]))


def mostly(good, bad):
    """Draw from ``good`` about three times in four, so the working path is exercised too."""
    return st.one_of(good, good, good, bad)


def one_bad(data, good: dict, bad: dict) -> dict:
    """Keyword arguments drawn from ``good``, with at most one of them drawn from ``bad``,
    so each error can be traced to one argument and the all-good case is common."""
    which = data.draw(st.sampled_from([None, *bad]), label="bad argument")
    return {name: data.draw(bad[name] if name == which else strategy, label=name)
            for name, strategy in good.items()}


def arrays(shapes=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4)):
    """Arrays of any dtype and shape, with values drawn from `VALUES` where they fit."""
    return DTYPES.flatmap(lambda dtype: hnp.arrays(
        dtype, shapes, elements=VALUES if np.dtype(dtype).kind in "fc" else None))


def image_batches(image_shape):
    """Valid batches of ``image_shape`` images most of the time, anything else otherwise."""
    valid = hnp.arrays(st.sampled_from([np.float32, np.float64]),
                       st.integers(1, 3).map(lambda n: (n, *image_shape)),
                       elements=st.floats(0, 1, width=16))
    right = st.integers(0, 3).map(lambda n: (n, *image_shape))
    near = st.tuples(st.integers(0, 3), *(st.integers(max(d - 1, 0), d + 1) for d in image_shape))
    return mostly(valid, arrays(st.one_of(right, near, hnp.array_shapes(
        min_dims=0, max_dims=5, min_side=0, max_side=9))))


def outcome(call):
    """``call()``'s result, or None when it raised a clear error; tallied for --hypothesis-show-statistics.

    A `ValueError`/`TypeError` raised by TensorFlow itself (a shape or dtype complaint
    from an op, far from the argument that caused it) does not count as clear.
    """
    try:
        result = call()
    except CLEAR_ERRORS as e:
        frame = e.__traceback__
        while frame.tb_next is not None:
            frame = frame.tb_next
        origin = frame.tb_frame.f_globals.get("__name__", "")
        assert not origin.startswith("tensorflow."), f"raised inside TensorFlow ({origin}): {e}"
        event(f"raised {type(e).__name__}")
        return None
    event("worked")
    return result


NOT_ARRAYS = st.one_of(st.none(), st.text(max_size=5), st.dictionaries(st.text(max_size=2), st.integers()),
                       st.lists(st.lists(st.floats(0, 1), max_size=3), max_size=3))  # ragged


def assert_valid_images(out, image_shape=None):
    assert out.dtype == np.float32 and out.ndim == 4 and len(out) > 0
    assert image_shape is None or out.shape[1:] == image_shape
    assert np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 1


# --------------------------------------------------------------------- check_images


@FAST
@given(x=st.one_of(image_batches(IMAGE_SHAPE), NOT_ARRAYS), with_shape=st.booleans())
def test_check_images_accepts_only_finite_float_images_in_unit_range(x, with_shape):
    shape = IMAGE_SHAPE if with_shape else None
    out = outcome(lambda: check_images(x, shape))
    if out is not None:
        assert_valid_images(out, shape)


# ------------------------------------------------------------------ make_tf_dataset


OUT_OF_UNIT = st.one_of(st.floats(-1, -1e-6), st.floats(1, 2))  # outside [0, 1)
BATCH_SIZES = mostly(st.integers(1, 4), st.one_of(
    st.integers(-2, 0), st.floats(-1, 5), st.booleans(), st.none(), st.text(max_size=2)))
SEEDS = mostly(st.integers(0, 2**31), st.one_of(
    st.integers(-(2**65), 2**65), st.none(), st.floats(), st.text(max_size=2)))


@FAST
@given(x=image_batches(IMAGE_SHAPE), y=mostly(st.none(), st.one_of(arrays(), NOT_ARRAYS)),
       batch_size=BATCH_SIZES, shuffle=st.booleans(), seed=SEEDS)
def test_make_tf_dataset_builds_a_pipeline_or_refuses(x, y, batch_size, shuffle, seed):
    ds = outcome(lambda: make_tf_dataset(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed))
    if ds is not None:
        batches = list(ds)
        assert sum(len(inputs) for inputs, _ in batches) == len(x)
        assert all(len(inputs) <= batch_size for inputs, _ in batches)


# ---------------------------------------------------------------------- load_dataset


@pytest.fixture(scope="module", autouse=True)
def full_tracebacks():
    """Keep TensorFlow's and Keras's frames in tracebacks, so `outcome` sees where errors start."""
    tf.debugging.disable_traceback_filtering()
    keras.config.disable_traceback_filtering()
    yield
    tf.debugging.enable_traceback_filtering()
    keras.config.enable_traceback_filtering()


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory):
    """Folders load_dataset may be pointed at: good, missing, empty, a file, corrupt."""
    root = tmp_path_factory.mktemp("data_dirs")
    rng = np.random.default_rng(0)
    good, corrupt = root / "good", root / "corrupt"
    for folder in (good, corrupt):
        folder.mkdir()
        for split, n in (("train", 30), ("test", 10)):
            images, labels = IDX_FILES[split]
            write_idx(folder / images, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
            write_idx(folder / labels, (np.arange(n) % 10).astype(np.uint8))
    (corrupt / IDX_FILES["test"][0]).write_bytes(b"\x1f\x8b garbage")
    (root / "empty").mkdir()
    (root / "a_file").write_text("not a folder")
    return {"good": good, "bad": [None, str(root / "missing"), root / "empty", root / "a_file",
                                  corrupt, 3]}


@SLOW
@given(data=st.data())
def test_load_dataset_loads_or_raises_a_clear_error(data_dirs, data):
    kwargs = one_bad(data, good={
        "name": st.sampled_from(sorted(CLASS_NAMES)),
        "source": st.sampled_from(["idx", "sample", "auto"]),
        "data_dir": st.just(data_dirs["good"]),
        "validation_split": st.floats(0, 0.9),
        "seed": st.integers(0, 2**31),
    }, bad={
        "name": st.one_of(st.text(max_size=8), st.none(), st.integers()),
        # "tfds", and "auto" without a folder, would try the network; tests never touch it.
        "source": st.one_of(st.text(max_size=6).filter(lambda t: t not in ("tfds", "auto")),
                            st.none(), st.integers()),
        "data_dir": st.sampled_from(data_dirs["bad"]),
        "validation_split": st.one_of(OUT_OF_UNIT,
                                      st.sampled_from([0.9999, math.nan, math.inf, "0.1", None])),
        "seed": st.one_of(st.integers(-(2**40), -1), st.integers(2**32, 2**40), st.floats(0, 3),
                          st.text(max_size=2)),
    })
    assume(not (kwargs["source"] == "auto" and kwargs["data_dir"] is None))
    with mock.patch.dict(os.environ):
        os.environ.pop("ZOO_DATA_DIR", None)
        d = outcome(lambda: load_dataset(**kwargs))
    if d is not None:
        assert len(d.x_train) > 0 and len(d.x_test) > 0
        for x in (d.x_train, d.x_val, d.x_test):
            assert x.dtype == np.float32 and x.shape[1:] == (28, 28, 1)
        assert_valid_images(d.x_train, (28, 28, 1))


# ------------------------------------------------------------------------- read_idx


def _idx_bytes(shape):
    header = bytes([0, 0, 8, len(shape)]) + b"".join(int(d).to_bytes(4, "big") for d in shape)
    return header + bytes(math.prod(shape))


IDX_PAYLOADS = st.one_of(
    st.binary(max_size=64),  # random bytes
    hnp.array_shapes(min_dims=1, max_dims=4, max_side=5).map(_idx_bytes).flatmap(
        lambda raw: mostly(st.just(raw), st.integers(0, len(raw)).map(lambda n: raw[:n]))),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),  # random headers
              st.lists(st.integers(0, 2**32 - 1), max_size=5)).map(
        lambda t: bytes(t[:3]) + bytes([len(t[3])]) + b"".join(d.to_bytes(4, "big") for d in t[3])),
)


@FAST
@given(payload=IDX_PAYLOADS, packing=st.sampled_from(["gzip", "gzip", "raw", "cut", "flipped"]))
def test_read_idx_reads_or_raises_data_error(payload, packing):
    raw = payload if packing == "raw" else gzip.compress(payload)
    if packing == "cut":
        raw = raw[: len(raw) // 2]  # a download that stopped half-way
    elif packing == "flipped":
        middle = len(raw) // 2  # one corrupt byte inside the compressed stream
        raw = raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1:]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file.gz"
        path.write_bytes(raw)
        try:
            array = read_idx(path)
        except DataError as e:
            event("raised DataError")
            assert str(path) in str(e)
            return
    event("worked")
    assert array.dtype == np.uint8 and array.size == len(payload) - 4 - 4 * array.ndim


def test_read_idx_rejects_a_header_whose_size_overflows(tmp_path):
    """(65536,) * 4 is 2**64 bytes: 0 in int64 arithmetic, so an empty file "matched" it."""
    path = tmp_path / "overflow.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 4]) + (65536).to_bytes(4, "big") * 4))
    with pytest.raises(DataError, match="declares shape"):
        read_idx(path)


# --------------------------------------------------------- ConvAutoencoder arguments


BAD_SIZES = st.one_of(st.integers(-2, 0), st.floats(-1, 4), st.booleans(), st.none(),
                      st.text(max_size=2))


@SLOW
@given(data=st.data())
def test_conv_autoencoder_builds_or_rejects_its_hyperparameters(data):
    kwargs = one_bad(data, good={
        "latent_dim": st.integers(1, 4),
        "filters": st.integers(1, 3),
        "dense_units": st.integers(0, 4),
        "dropout": st.floats(0, 0.9),
        "input_shape": st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 3)),
    }, bad={
        "latent_dim": BAD_SIZES,
        "filters": BAD_SIZES,
        "dense_units": st.one_of(st.integers(-2, -1), st.floats(-1, 4), st.none(), st.text(max_size=2)),
        "dropout": st.one_of(OUT_OF_UNIT,
                             st.sampled_from([math.nan, 1.0, True, None, "0.1"])),
        "input_shape": st.one_of(
            st.tuples(st.integers(-1, 0), st.integers(1, 9), st.integers(1, 3)),
            st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(-1, 0)),
            st.lists(st.integers(1, 9), max_size=4).filter(lambda s: len(s) != 3).map(tuple),
            st.none(), st.text(max_size=3), st.integers()),
    })
    model = outcome(lambda: ConvAutoencoder(**kwargs))
    if model is not None:
        x = np.full((1, *model.image_shape), 0.5, np.float32)
        assert model.predict(x, verbose=0).shape == x.shape
        assert model.encode(x).shape == (1, kwargs["latent_dim"])


# ------------------------------------------------------- ConvAutoencoder inputs


@pytest.fixture(scope="module")
def tiny_model():
    model = ConvAutoencoder(latent_dim=LATENT_DIM, filters=2, dense_units=0, input_shape=IMAGE_SHAPE)
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.fixture(scope="module")
def tiny_vae():
    from zoo.vae import VAE

    model = VAE(latent_dim=LATENT_DIM, filters=2, dense_units=0, input_shape=IMAGE_SHAPE, seed=0)
    model.compile(optimizer="adam")
    return model


@pytest.fixture(scope="module", params=["cae", "vae"])
def any_model(request):
    return request.getfixturevalue({"cae": "tiny_model", "vae": "tiny_vae"}[request.param])


# x as a tf.data.Dataset of several element structures.
DATASETS = st.sampled_from([
    lambda x: tf.data.Dataset.from_tensor_slices(x).batch(2),
    lambda x: tf.data.Dataset.from_tensor_slices((x, x)).batch(2),
    lambda x: tf.data.Dataset.from_tensor_slices({"images": x}).batch(2),
    lambda x: tf.data.Dataset.from_tensor_slices(x),  # unbatched
])


@SLOW
@given(x=image_batches(IMAGE_SHAPE),
       y=mostly(st.none(), st.one_of(image_batches(IMAGE_SHAPE), arrays())),
       method=st.sampled_from(["fit", "fit_validation", "evaluate", "predict", "encode"]),
       as_dataset=st.one_of(st.none(), DATASETS))
def test_model_methods_work_or_raise_a_clear_error(any_model, x, y, method, as_dataset):
    if as_dataset is not None:
        try:
            x = as_dataset(x)
        except CLEAR_ERRORS:
            return  # not even TensorFlow can hold x
        y = None
    calls = {
        "fit": lambda: any_model.fit(x, y, epochs=1, batch_size=2, verbose=0),
        "fit_validation": lambda: any_model.fit(
            np.zeros((2, *IMAGE_SHAPE), np.float32), epochs=1, verbose=0,
            validation_data=x if y is None else (x, y)),
        "evaluate": lambda: any_model.evaluate(x, y, verbose=0),
        "predict": lambda: any_model.predict(x, verbose=0),
        "encode": lambda: any_model.encode(x),
    }
    out = outcome(calls[method])
    if out is not None and method in ("predict", "encode") and as_dataset is None:
        assert len(out) == len(x) and np.all(np.isfinite(out))


@SLOW
@given(z=mostly(hnp.arrays(st.sampled_from([np.float32, np.float64]),
                           st.integers(1, 3).map(lambda n: (n, LATENT_DIM)),
                           elements=st.floats(-5, 5, width=16)),
                st.one_of(arrays(st.one_of(st.integers(0, 3).map(lambda n: (n, LATENT_DIM)),
                                           hnp.array_shapes(min_dims=0, max_dims=3, min_side=0))),
                          NOT_ARRAYS)),
       batch_size=BATCH_SIZES)
def test_decode_works_or_raises_a_clear_error(tiny_model, z, batch_size):
    out = outcome(lambda: tiny_model.decode(z, batch_size=batch_size))
    if out is not None:
        assert_valid_images(out, IMAGE_SHAPE)


@SLOW
@given(batch_size=BATCH_SIZES, epochs=mostly(st.integers(1, 2), st.one_of(
    st.integers(-1, 0), st.floats(0, 2), st.none(), st.text(max_size=1))))
def test_fit_arguments_work_or_raise_a_clear_error(tiny_model, batch_size, epochs):
    x = np.full((3, *IMAGE_SHAPE), 0.5, np.float32)
    outcome(lambda: tiny_model.fit(x, batch_size=batch_size, epochs=epochs, verbose=0))
    outcome(lambda: tiny_model.predict(x, batch_size=batch_size, verbose=0))


# ------------------------------------------- what hypothesis found, kept as fixed cases
# Each crashed inside gzip, NumPy, Keras or TensorFlow before the fix; kept here so they
# stay fixed whatever the random draw.

X = np.full((3, *IMAGE_SHAPE), 0.5, np.float32)


def _dataset(x):
    return tf.data.Dataset.from_tensor_slices(x).batch(2)


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m.fit(_dataset({"images": X}), verbose=0), ValueError, "must yield batches of images"),
    (lambda m: m.predict(_dataset(X[:0]), verbose=0), ValueError, "empty dataset"),
    (lambda m: m.fit(_dataset(X.astype(np.float64)), verbose=0), ValueError, "float32 batches"),
    (lambda m: m.fit(X, np.float32(0), verbose=0), ValueError, "y"),
    (lambda m: m.evaluate(X, X[:2], verbose=0), ValueError, "y"),
    (lambda m: m.decode(np.zeros((1, LATENT_DIM), np.float32), batch_size=-1), ValueError,
     "batch_size must be a positive integer"),
    (lambda m: m.predict(X, batch_size=2.5, verbose=0), TypeError, "batch_size"),
    (lambda m: m.fit(X, batch_size=1e-300, verbose=0), TypeError, "batch_size"),
], ids=["dict-dataset", "empty-dataset", "float64-dataset", "scalar-target", "short-target",
        "negative-batch", "float-batch", "tiny-float-batch"])
def test_inputs_hypothesis_found(any_model, call, error, message):
    with pytest.raises(error, match=message):
        call(any_model)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"batch_size": 2.5}, TypeError, "batch_size"),
    ({"seed": "a"}, TypeError, "seed"),
    ({"seed": 1.0}, TypeError, "seed"),
    ({"seed": 2**64}, ValueError, "seed"),
])
def test_make_tf_dataset_arguments_hypothesis_found(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_tf_dataset(X, **kwargs)


def test_read_idx_corrupt_deflate_stream_is_a_data_error(tmp_path):
    """A flipped byte inside the compressed stream raised zlib.error, not DataError."""
    path = tmp_path / "flipped.gz"
    raw = gzip.compress(b"")
    path.write_bytes(raw[:len(raw) // 2] + bytes([raw[len(raw) // 2] ^ 0xFF]) + raw[len(raw) // 2 + 1:])
    with pytest.raises(DataError, match="not a readable gzip"):
        read_idx(path)
