"""Property-based bad-input tests: every public entry point does what its docstring says
for each input Hypothesis draws.

Every strategy here is strictly good or strictly bad, and each bad draw carries the outcome
the docs promise for it: the documented error type (`zoo.DataError` is a `ValueError`)
with a message naming the argument. A call given only good inputs must succeed, and its
result is checked. So no example passes by raising whatever error, or by silently doing
nothing with a bad argument. At most one input is bad per example, so each failure points
at one argument.

Hypothesis draws shapes, dtypes, value ranges (NaN, inf, negatives, > 1), empty arrays,
datasets of the wrong structure, random and truncated bytes, and hyperparameters of the
wrong type or sign. Example counts stay small and the models tiny; one shared
`ConvAutoencoder` and one shared `VAE` serve every fit/evaluate/predict/encode example.
"""

import gzip
import math
import os
import re
import struct
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from zoo import ConvAutoencoder
from zoo.data import (CLASS_NAMES, IDX_FILES, SAMPLE_DIR, SOURCES, DataError, check_images,
                      load_dataset, make_dataset, read_idx, write_idx)
from zoo.validation import SEED_RANGE

# database=None: no .hypothesis/ folder in the checkout; a failure prints its example.
FAST = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(FAST, max_examples=25)
IMAGE_SHAPE = (8, 8, 1)
LATENT_DIM = 2


# ------------------------------------------------------------------ expected outcomes
# An expected outcome is None (accepted) or ``(error type, regex the message must match)``.


def rejected(error, argument: str, detail: str = ""):
    """``error`` with a message that starts by naming ``argument``, then says ``detail``."""
    return error, rf"^{re.escape(argument)} {detail}"


def call_expecting(call, expected):
    """``call()``'s result when ``expected`` is None; else assert it raises exactly that."""
    if expected is None:
        event("accepted")
        return call()
    error, pattern = expected
    event(f"rejected with {error.__name__}")
    with pytest.raises(error, match=pattern) as raised:
        call()
    assert type(raised.value) is error, f"raised {type(raised.value).__name__}: {raised.value}"
    return None


def one_bad(data, good: dict, bad: dict, messages=None):
    """Keyword arguments drawn from ``good``, at most one of them from ``bad``, and the
    outcome that documents: ``(kwargs, None)`` or ``(kwargs, (error type, pattern))``.

    ``bad[name]`` maps each documented error type to a strategy of values raising it. The
    message must match ``name``, or ``messages[name]`` (a regex, or a function of the bad
    value giving one) where the library words it otherwise.
    """
    which = data.draw(st.sampled_from([None, *bad]), label="bad argument")
    kwargs = {name: data.draw(strategy, label=name)
              for name, strategy in good.items() if name != which}
    if which is None:
        return kwargs, None
    error = data.draw(st.sampled_from(list(bad[which])), label=f"{which} error")
    kwargs[which] = value = data.draw(bad[which][error], label=which)
    message = (messages or {}).get(which, re.escape(which))
    return kwargs, (error, message(value) if callable(message) else message)


# ------------------------------------------------------------------ array strategies

FLOAT_DTYPES = st.sampled_from([np.float16, np.float32, np.float64])
NOT_FLOAT = [np.uint8, np.int32, np.int64, np.bool_, np.complex64]
# Neither arrays nor numbers. None is not among them: fit/evaluate/predict pass it to Keras
# unchecked, as `check_image_inputs` documents.
NON_ARRAYS = st.one_of(st.text(max_size=3), st.dictionaries(st.text(max_size=2), st.integers()))
UNIT = st.floats(0, 1, width=16)  # exact in every float dtype
NOT_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
# Outside [0, 1] even after rounding to float16.
OUT_OF_UNIT_PIXELS = st.one_of(st.floats(1.01, 1e4), st.floats(-1e4, -1e-3))
SIDES = st.integers(1, 4)


def _with_one(draw, array, values):
    """``array`` with one element, anywhere, replaced by a draw from ``values``."""
    array = array.copy()
    array.flat[draw(st.integers(0, array.size - 1))] = draw(values)
    return array


IMAGE_DEFECTS = ("not numbers", "not float", "rank", "image shape", "empty", "not finite",
                 "out of range")


@st.composite
def images(draw, image_shape=None, name="x", count=None, defects=IMAGE_DEFECTS, objects=NON_ARRAYS,
           valid=True):
    """``(x, expected)``: images valid by `check_images`' docstring (a non-empty float array
    of shape ``(N,) + image_shape`` with finite values in [0, 1]), or breaking exactly one
    of its rules, with the outcome it documents for that rule.

    About half are valid (none when not ``valid``), the rest break one of ``defects``.
    ``count`` fixes N (a target must have one entry per image); ``objects`` are the
    non-arrays drawn as "not numbers" (none for a target: its length is checked first).
    """
    shape = image_shape or draw(st.tuples(SIDES, SIDES, st.integers(1, 3)), label="image shape")
    n = draw(st.integers(1, 3)) if count is None else count
    defects = [d for d in defects if d != "image shape" or image_shape is not None]
    defect = draw(st.sampled_from([None] * valid * max(len(defects), 1) + defects), label="defect")
    valid = draw(hnp.arrays(FLOAT_DTYPES, (n, *shape), elements=UNIT))
    if defect is None:
        # Inputs may come as nested lists too; targets may not, since only a ConvAutoencoder
        # converts them and the VAE hands them to Keras as they are.
        as_list = count is None and draw(st.booleans(), label="as list")
        return (valid.tolist() if as_list else valid), None
    if defect == "not numbers":  # TypeError: not an array of numbers
        ragged = [np.zeros(shape).tolist(), np.zeros((shape[0] + 1, *shape[1:])).tolist()]
        x = draw(st.one_of(hnp.arrays(np.str_, (n, *shape)), objects,
                           *([st.just(ragged)] if count is None else [])))
        return x, rejected(TypeError, name, "must be (a numeric|an) array of images")
    if defect == "not float":  # a TypeError too; the rest are ValueErrors
        return (draw(hnp.arrays(st.sampled_from(NOT_FLOAT), (n, *shape))),
                rejected(TypeError, name, "has dtype"))
    if defect == "rank":
        rest = draw(st.sampled_from([(), shape[:1], shape[:2], (*shape, 1)]))
        return (draw(hnp.arrays(FLOAT_DTYPES, (n, *rest), elements=UNIT)),
                rejected(ValueError, name, r"must have shape \(N, H, W, C\)"))
    if defect == "image shape":
        other = draw(st.tuples(*(st.integers(max(d - 1, 0), d + 1) for d in image_shape))
                     .filter(lambda s: s != tuple(image_shape)))
        return (draw(hnp.arrays(FLOAT_DTYPES, (n, *other), elements=UNIT)),
                rejected(ValueError, name, "has images of shape"))
    if defect == "empty":  # no images, or (without an image_shape) images with no pixels
        axis = 0 if image_shape else draw(st.integers(0, 3))
        empty = (n, *shape)[:axis] + (0,) + (n, *shape)[axis + 1:]
        return np.zeros(empty, draw(FLOAT_DTYPES)), rejected(ValueError, name, "is empty")
    if defect == "not finite":
        return (_with_one(draw, valid, NOT_FINITE),
                rejected(ValueError, name, r"holds \d+ NaN or infinite"))
    return (_with_one(draw, valid, OUT_OF_UNIT_PIXELS),
            rejected(ValueError, name, r"values span .*\[0, 1\]"))


@st.composite
def targets(draw, n, name, check_images_too):
    """``(y, expected)`` for a model given ``n`` images: one target per image, each an image
    when the model checks its targets as images (``check_images_too``)."""
    kind = draw(st.sampled_from(["good", "wrong length"] + ["images"] * check_images_too))
    if kind == "good":
        return draw(images(IMAGE_SHAPE, name, count=n, defects=()))
    if kind == "wrong length":
        y = draw(st.one_of(st.just(np.float32(0.5)), st.integers(0, 4).filter(lambda m: m != n)
                           .flatmap(lambda m: images(IMAGE_SHAPE, name, count=m, defects=()))
                           .map(lambda drawn: drawn[0])))
        return y, rejected(ValueError, name, "must hold one target per image")
    return draw(images(IMAGE_SHAPE, name, count=n, objects=st.nothing(),
                       defects=tuple(d for d in IMAGE_DEFECTS if d != "empty")))


@st.composite
def image_datasets(draw, image_shape, name="x"):
    """``(dataset, n, expected)`` by `check_batches`' docstring: a dataset must yield
    float32 batches ``(None,) + image_shape`` (or tuples starting with them) and not be
    empty; the values are not checked."""
    n = draw(st.integers(1, 3))
    x = draw(hnp.arrays(np.float32, (n, *image_shape), elements=UNIT))
    form = draw(st.sampled_from(["batches", "pairs"] * 3 + [
        "dict", "unbatched", "float64", "other shape", "empty"]), label="dataset")
    expected = {
        "dict": rejected(TypeError, name, "must yield float32 batches"),
        "unbatched": rejected(ValueError, name, "yields batches of shape"),
        "float64": rejected(TypeError, name, "must yield float32 batches"),
        "other shape": rejected(ValueError, name, "yields batches of shape"),
        "empty": rejected(ValueError, name, "is an empty dataset"),
    }.get(form)
    if form == "float64":
        x = x.astype(np.float64)
    elif form == "other shape":
        x = np.zeros((n, image_shape[0] + 1, *image_shape[1:]), np.float32)
    elif form == "empty":
        x = x[:0]
    elements = {"pairs": (x, x), "dict": {"images": x}}.get(form, x)
    ds = tf.data.Dataset.from_tensor_slices(elements)
    return (ds if form == "unbatched" else ds.batch(2)), n, expected


def assert_unit_images(out, n, image_shape):
    assert out.dtype == np.float32 and out.shape == (n, *image_shape)
    assert np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 1


# Argument values: each bad strategy is bad by the documented rule it is filed under.
POSITIVE_INTS = st.integers(1, 4)
NOT_INTS = st.one_of(st.floats(), st.booleans(), st.none(), st.text(max_size=2))
BATCH_SIZES = st.one_of(st.none(), POSITIVE_INTS)  # None: Keras's default
BAD_BATCH_SIZES = {  # `check_batch_size`
    TypeError: st.one_of(st.floats(), st.booleans(), st.text(max_size=2)),
    ValueError: st.integers(-2, 0),
}
OUT_OF_UNIT = st.one_of(st.floats(-1, -1e-6), st.floats(1, 2), NOT_FINITE)  # outside [0, 1)


# --------------------------------------------------------------------- check_images


# One run per rule, so that every rule is exercised whatever the random draw.
@pytest.mark.parametrize("defect", [None, *IMAGE_DEFECTS])
@settings(FAST, max_examples=10)
@given(data=st.data(), with_shape=st.booleans(),
       name=st.sampled_from(["x", "validation_data[0]"]))
def test_check_images_accepts_only_finite_float_images_in_unit_range(defect, data, with_shape,
                                                                     name):
    shape = IMAGE_SHAPE if with_shape or defect == "image shape" else None
    x, expected = data.draw(images(shape, name, defects=[defect] if defect else [],
                                   valid=defect is None, objects=st.one_of(st.none(), NON_ARRAYS)))
    out = call_expecting(lambda: check_images(x, shape, name), expected)
    if expected is None:
        np.testing.assert_array_equal(out, np.asarray(x, np.float32))  # values kept as given
        assert out.dtype == np.float32 and (shape is None or out.shape[1:] == shape)


# ------------------------------------------------------------------ make_dataset


def labels(n):
    """Targets that say which image they belong to: ``0 .. n-1`` as ints, floats or text."""
    return st.sampled_from([np.int64, np.float32, np.str_]).map(lambda t: np.arange(n).astype(t))


@FAST
@given(data=st.data(), shuffle=st.booleans())
def test_make_dataset_builds_the_pipeline_or_rejects_one_argument(data, shuffle):
    x, expected = data.draw(images(), label="x")
    n = len(x) if expected is None else 0
    kwargs, bad_argument = one_bad(data, good={
        "y": st.one_of(st.none(), labels(n)) if n else st.none(),  # None: x is its own target
        "batch_size": POSITIVE_INTS,
        "seed": st.one_of(st.none(), st.integers(*SEED_RANGE)),
    }, bad={} if expected else {
        "batch_size": {TypeError: st.one_of(st.none(), BAD_BATCH_SIZES[TypeError]),
                       ValueError: BAD_BATCH_SIZES[ValueError]},
        "seed": {TypeError: st.one_of(st.floats(), st.booleans(), st.text(max_size=2)),
                 ValueError: st.one_of(st.integers(max_value=-1),
                                       st.integers(min_value=SEED_RANGE[1] + 1))},
        "y": {ValueError: st.one_of(st.just(np.float32(0)), st.text(max_size=2), hnp.arrays(
                  np.int64, st.integers(0, 4).filter(lambda m: m != n))),  # not one per image
              TypeError: st.just([[0.5], [0.5, 0.5]])},  # ragged
    }, messages={"y": lambda y: r"^y must be an array" if isinstance(y, list)
                 else r"^x has \d+ images but y has"})
    ds = call_expecting(lambda: make_dataset(x, shuffle=shuffle, **kwargs),
                        expected or bad_argument)
    if ds is None:
        return
    batches = list(ds)
    assert all(len(inputs) <= kwargs["batch_size"] for inputs, _ in batches)
    inputs = np.concatenate([inputs for inputs, _ in batches])
    outputs = np.concatenate([targets for _, targets in batches])
    x = np.asarray(x, np.float32)
    if kwargs["y"] is None:
        np.testing.assert_array_equal(outputs, inputs)
        assert sorted(row.tobytes() for row in inputs) == sorted(row.tobytes() for row in x)
    else:  # each image still with its own target
        index = np.array([int(v.decode() if isinstance(v, bytes) else v) for v in outputs])
        assert sorted(index) == list(range(n))
        np.testing.assert_array_equal(inputs, x[index])
    if not shuffle:
        np.testing.assert_array_equal(inputs, x)


# ---------------------------------------------------------------------- load_dataset


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory):
    """Folders load_dataset may be pointed at: good, and bad ones with the path a message names."""
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
    return {"good": good, "bad": [root / "missing", root / "empty", root / "a_file", corrupt]}


def split_sizes(folder):
    """``(train, test)`` image counts of the IDX files in ``folder``."""
    return tuple(len(read_idx(folder / IDX_FILES[split][1])) for split in ("train", "test"))


@SLOW
@given(data=st.data())
def test_load_dataset_loads_or_rejects_one_argument(data_dirs, data):
    kwargs, expected = one_bad(data, good={
        "name": st.sampled_from(sorted(CLASS_NAMES)),
        "source": st.sampled_from(["idx", "sample", "auto"]),
        "data_dir": st.just(data_dirs["good"]),
        "validation_split": st.floats(0, 0.9),
        "seed": st.integers(*SEED_RANGE),
    }, bad={
        "name": {DataError: st.text(max_size=8).filter(lambda t: t not in CLASS_NAMES),
                 TypeError: st.one_of(st.none(), st.integers())},
        # "tfds", and "auto" without a folder, would try the network; tests never touch it.
        "source": {ValueError: st.text(max_size=6).filter(lambda t: t not in SOURCES),
                   TypeError: st.one_of(st.none(), st.integers())},
        # The data folder is read by source="idx" (which "auto" picks given one) only.
        "data_dir": {DataError: st.sampled_from([None, *data_dirs["bad"]]), TypeError: st.just(3)},
        "validation_split": {
            # 0.9999 leaves no training image of the 30 (or the sample's 4000).
            ValueError: st.one_of(OUT_OF_UNIT, st.just(0.9999)),
            TypeError: st.sampled_from(["0.1", None, True])},
        "seed": {TypeError: st.one_of(st.floats(0, 3), st.none(), st.booleans(),
                                      st.text(max_size=2)),
                 ValueError: st.one_of(st.integers(-(2**40), -1),
                                       st.integers(SEED_RANGE[1] + 1, 2**40))},
    }, messages={"name": lambda n: "unknown dataset" if isinstance(n, str) else "^name must be",
                 "data_dir": lambda d: "data_dir" if d is None or d == 3 else re.escape(str(d))})
    if kwargs["data_dir"] != data_dirs["good"]:  # read by source="idx", or "auto" given a folder
        kwargs["source"] = "idx" if kwargs["data_dir"] is None else data.draw(
            st.sampled_from(["idx", "auto"]), label="source")
    with mock.patch.dict(os.environ):
        os.environ.pop("ZOO_DATA_DIR", None)
        d = call_expecting(lambda: load_dataset(**kwargs), expected)
    if d is None:
        return
    folder = SAMPLE_DIR / kwargs["name"] if kwargs["source"] == "sample" else data_dirs["good"]
    n_train, n_test = split_sizes(folder)
    assert len(d.x_val) == math.ceil(kwargs["validation_split"] * n_train)
    assert len(d.x_train) + len(d.x_val) == n_train and len(d.x_test) == n_test
    assert d.class_names == CLASS_NAMES[kwargs["name"]]
    for x, y in ((d.x_train, d.y_train), (d.x_val, d.y_val), (d.x_test, d.y_test)):
        assert x.dtype == np.float32 and x.shape[1:] == (28, 28, 1) and len(y) == len(x)
        assert np.all((0 <= x) & (x <= 1)) and y.dtype == np.int64 and np.all((0 <= y) & (y < 10))


# ------------------------------------------------------------------------- read_idx


def _idx_bytes(shape):
    header = bytes([0, 0, 8, len(shape)]) + b"".join(int(d).to_bytes(4, "big") for d in shape)
    return header + bytes(math.prod(shape))


IDX_PAYLOADS = st.one_of(
    st.binary(max_size=64),  # random bytes
    hnp.array_shapes(min_dims=1, max_dims=4, max_side=5).map(_idx_bytes).flatmap(
        lambda raw: st.one_of(st.just(raw), st.integers(0, len(raw)).map(lambda n: raw[:n]))),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),  # random headers
              st.lists(st.integers(0, 2**32 - 1), max_size=5)).map(
        lambda t: bytes(t[:3]) + bytes([len(t[3])]) + b"".join(d.to_bytes(4, "big") for d in t[3])),
)


def idx_shape(payload: bytes):
    """The shape ``payload`` holds by the IDX format (uint8, 1 to 4 dimensions), or None."""
    if len(payload) < 4 or payload[:3] != bytes([0, 0, 8]) or not 1 <= payload[3] <= 4:
        return None
    header = 4 + 4 * payload[3]
    if len(payload) < header:
        return None
    shape = struct.unpack(f">{payload[3]}I", payload[4:header])
    return shape if len(payload) - header == math.prod(shape) else None


@FAST
@given(payload=IDX_PAYLOADS, packing=st.sampled_from(["gzip", "gzip", "raw", "cut", "flipped"]))
def test_read_idx_reads_valid_files_and_raises_data_error_naming_the_file(payload, packing):
    raw = payload if packing == "raw" else gzip.compress(payload)
    if packing == "cut":
        raw = raw[: len(raw) // 2]  # a download that stopped half-way
    elif packing == "flipped":
        middle = len(raw) // 2  # one corrupt byte inside the compressed stream
        raw = raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1:]
    # Only a whole gzip stream of a well-formed IDX payload reads.
    shape = idx_shape(payload) if packing == "gzip" else None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file.gz"
        path.write_bytes(raw)
        array = call_expecting(lambda: read_idx(path),
                               None if shape else (DataError, re.escape(str(path))))
    if shape:
        assert array.dtype == np.uint8 and array.shape == shape
        assert array.tobytes() == payload[4 + 4 * len(shape):]


def test_read_idx_rejects_a_header_whose_size_overflows(tmp_path):
    """(65536,) * 4 is 2**64 bytes: 0 in int64 arithmetic, so an empty file "matched" it."""
    path = tmp_path / "overflow.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 4]) + (65536).to_bytes(4, "big") * 4))
    with pytest.raises(DataError, match="declares shape"):
        read_idx(path)


# --------------------------------------------------------- ConvAutoencoder arguments

# `check_positive_int` and friends: TypeError for a wrong type, ValueError for a wrong value.
BAD_SIZES = {ValueError: st.integers(-2, 0), TypeError: NOT_INTS}


@SLOW
@given(data=st.data())
def test_conv_autoencoder_builds_or_rejects_one_hyperparameter(data):
    kwargs, expected = one_bad(data, good={
        "latent_dim": POSITIVE_INTS,
        "filters": st.integers(1, 3),
        "dense_units": st.integers(0, 4),
        "dropout": st.floats(0, 0.9),
        "input_shape": st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 3)),
    }, bad={
        "latent_dim": BAD_SIZES,
        "filters": BAD_SIZES,
        "dense_units": {ValueError: st.integers(-2, -1), TypeError: NOT_INTS},
        "dropout": {ValueError: OUT_OF_UNIT, TypeError: st.sampled_from([True, None, "0.1"])},
        "input_shape": {ValueError: st.one_of(
            st.tuples(st.integers(-1, 0), st.integers(1, 9), st.integers(1, 3)),
            st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(-1, 0)),
            st.lists(st.integers(1, 9), max_size=4).filter(lambda s: len(s) != 3).map(tuple)),
            TypeError: st.one_of(st.none(), st.text(max_size=3), st.integers(),
                                 st.tuples(st.integers(1, 9), st.floats(1, 9), st.integers(1, 3)))},
    })
    model = call_expecting(lambda: ConvAutoencoder(**kwargs), expected)
    if model is None:
        return
    config = model.get_config()
    assert {name: config[name] for name in kwargs} == kwargs
    x = np.full((1, *kwargs["input_shape"]), 0.5, np.float32)
    assert_unit_images(model.predict(x, verbose=0), 1, kwargs["input_shape"])
    assert model.encode(x).shape == (1, kwargs["latent_dim"])
    assert_unit_images(model.decode(np.zeros((1, kwargs["latent_dim"]), np.float32)), 1,
                       kwargs["input_shape"])


# ------------------------------------------------------------- model inputs


@pytest.fixture(scope="module")
def tiny_model():
    model = ConvAutoencoder(latent_dim=LATENT_DIM, filters=2, dense_units=0, input_shape=IMAGE_SHAPE)
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.fixture(scope="module")
def tiny_vae():
    from zoo.models.vae import VAE

    model = VAE(latent_dim=LATENT_DIM, filters=2, dense_units=0, input_shape=IMAGE_SHAPE, seed=0)
    model.compile(optimizer="adam")
    return model


@pytest.fixture(scope="module", params=["cae", "vae"])
def any_model(request):
    return request.getfixturevalue({"cae": "tiny_model", "vae": "tiny_vae"}[request.param])


def draw_model_inputs(data, model, method):
    """``(x, y, n, expected)`` for ``model.<method>``: at most one of x and y bad.

    x is an array, or a `tf.data.Dataset` one time in four (``encode`` takes arrays only,
    and a dataset is not an array of numbers). A `ConvAutoencoder` checks its targets as
    images; other models check only that there is one per image.
    """
    validation = method == "fit_validation"
    if data.draw(st.integers(0, 3), label="as dataset") == 0:
        x, n, expected = data.draw(image_datasets(IMAGE_SHAPE,
                                                  "validation_data" if validation else "x"))
        if method == "encode":
            expected = rejected(TypeError, "x", "must be a numeric array of images")
        return x, None, n, expected
    with_y = method in ("fit", "fit_validation", "evaluate") and data.draw(st.booleans(), label="y")
    x_name, y_name = ("validation_data", None) if validation else ("x", "y")
    if validation and with_y:
        x_name, y_name = "validation_data[0]", "validation_data[1]"
    x, expected = data.draw(images(IMAGE_SHAPE, x_name), label="x")
    n = len(x) if expected is None else 1
    y = None
    if with_y:
        # With a bad x any y will do: x is checked first.
        y, y_expected = data.draw(targets(n, y_name, isinstance(model, ConvAutoencoder)) if
                                  expected is None else images(IMAGE_SHAPE, defects=()), label="y")
        expected = expected or y_expected
    return x, y, n, expected


@SLOW
@given(data=st.data(), method=st.sampled_from(["fit", "fit_validation", "evaluate", "predict",
                                                "encode"]))
def test_model_methods_accept_documented_inputs_and_reject_the_rest(any_model, data, method):
    x, y, n, expected = draw_model_inputs(data, any_model, method)
    calls = {
        "fit": lambda: any_model.fit(x, y, epochs=1, batch_size=2, verbose=0),
        "fit_validation": lambda: any_model.fit(
            np.zeros((2, *IMAGE_SHAPE), np.float32), epochs=1, verbose=0,
            validation_data=x if y is None else (x, y)),
        "evaluate": lambda: any_model.evaluate(x, y, verbose=0, return_dict=True),
        "predict": lambda: any_model.predict(x, verbose=0),
        "encode": lambda: any_model.encode(x),
    }
    out = call_expecting(calls[method], expected)
    if expected is not None:
        return
    if method in ("fit", "fit_validation"):
        losses = out.history["val_loss" if method == "fit_validation" else "loss"]
        assert len(losses) == 1 and np.isfinite(losses[0])
    elif method == "evaluate":
        assert all(np.isfinite(value) for value in out.values())
        if not isinstance(any_model, ConvAutoencoder):
            np.testing.assert_allclose(out["loss"], out["reconstruction_loss"] + out["kl_loss"],
                                       rtol=1e-5)
        elif not isinstance(x, tf.data.Dataset):  # the mse to y, or to x itself without one
            target = np.asarray(x if y is None else y, np.float32)
            np.testing.assert_allclose(
                out["loss"], np.mean((any_model.predict(x, verbose=0) - target) ** 2), rtol=1e-4)
    elif method == "predict":
        assert_unit_images(out, n, IMAGE_SHAPE)
    else:
        assert out.shape == (n, LATENT_DIM) and np.all(np.isfinite(out))


@st.composite
def codes(draw, latent_dim):
    """``(z, expected)`` by `check_codes`' docstring: a finite float array ``(N, latent_dim)``."""
    n = draw(st.integers(1, 3))
    valid = draw(hnp.arrays(FLOAT_DTYPES, (n, latent_dim), elements=st.floats(-5, 5, width=16)))
    defect = draw(st.sampled_from([None] * 4 + ["not float", "ragged", "shape", "not finite"]))
    if defect is None:
        return (valid.tolist() if draw(st.booleans()) else valid), None
    if defect == "not float":
        z = draw(st.one_of(hnp.arrays(st.sampled_from([*NOT_FLOAT, np.str_]),
                                      (n, latent_dim)), st.none(), st.text(max_size=3)))
        return z, rejected(TypeError, "z", "must be a float array")
    if defect == "ragged":
        return ([[0.5] * latent_dim, [0.5] * (latent_dim + 1)],
                rejected(TypeError, "z", "must be an array"))
    if defect == "shape":
        shape = draw(st.one_of(
            st.just((0, latent_dim)), hnp.array_shapes(min_dims=0, max_dims=3, min_side=1)
            .filter(lambda s: len(s) != 2 or s[1] != latent_dim)))
        return (draw(hnp.arrays(FLOAT_DTYPES, shape, elements=st.floats(-5, 5, width=16))),
                rejected(ValueError, "z", "must have shape"))
    return _with_one(draw, valid, NOT_FINITE), rejected(ValueError, "z", "holds NaN or infinite")


@SLOW
@given(data=st.data())
def test_decode_returns_images_or_rejects_one_argument(tiny_model, data):
    z, expected = data.draw(codes(LATENT_DIM), label="z")
    kwargs, bad_argument = one_bad(data, good={"batch_size": BATCH_SIZES},
                                   bad={} if expected else {"batch_size": BAD_BATCH_SIZES})
    out = call_expecting(lambda: tiny_model.decode(z, **kwargs), expected or bad_argument)
    if out is not None:
        assert_unit_images(out, len(z), IMAGE_SHAPE)


@SLOW
@given(data=st.data(), method=st.sampled_from(["fit", "predict"]))
def test_fit_and_predict_arguments_work_or_are_rejected(tiny_model, data, method):
    x = np.full((3, *IMAGE_SHAPE), 0.5, np.float32)
    good, bad = {"batch_size": BATCH_SIZES}, {"batch_size": BAD_BATCH_SIZES}
    if method == "fit":
        good["epochs"] = st.integers(1, 2)
        bad["epochs"] = {ValueError: st.integers(-1, 0), TypeError: NOT_INTS}  # `check_positive_int`
    kwargs, expected = one_bad(data, good, bad)
    out = call_expecting(lambda: getattr(tiny_model, method)(x, verbose=0, **kwargs), expected)
    if out is None:
        return
    if method == "fit":  # as many epochs as asked, each with a finite loss
        losses = out.history["loss"]
        assert len(losses) == kwargs["epochs"] and np.all(np.isfinite(losses))
    else:
        assert_unit_images(out, len(x), IMAGE_SHAPE)


# ------------------------------------------- what hypothesis found, kept as fixed cases
# Each crashed inside gzip, NumPy, Keras or TensorFlow before the fix; kept here so they
# stay fixed whatever the random draw.

X = np.full((3, *IMAGE_SHAPE), 0.5, np.float32)


def _dataset(x):
    return tf.data.Dataset.from_tensor_slices(x).batch(2)


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m.fit(_dataset({"images": X}), verbose=0), TypeError, "must yield float32 batches"),
    (lambda m: m.predict(_dataset(X[:0]), verbose=0), ValueError, "empty dataset"),
    (lambda m: m.fit(_dataset(X.astype(np.float64)), verbose=0), TypeError, "float32 batches"),
    (lambda m: m.fit(X, np.float32(0), verbose=0), ValueError, "y"),
    (lambda m: m.evaluate(X, X[:2], verbose=0), ValueError, "y"),
    (lambda m: m.decode(np.zeros((1, LATENT_DIM), np.float32), batch_size=-1), ValueError,
     r"batch_size must be in \[1, inf\]"),
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
    ({"seed": SEED_RANGE[1] + 1}, ValueError, "seed"),
    ({"shuffle": 1}, TypeError, "shuffle must be True or False"),
])
def test_make_dataset_arguments_hypothesis_found(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_dataset(X, **kwargs)


def test_read_idx_corrupt_deflate_stream_is_a_data_error(tmp_path):
    """A flipped byte inside the compressed stream raised zlib.error, not DataError."""
    path = tmp_path / "flipped.gz"
    raw = gzip.compress(b"")
    path.write_bytes(raw[:len(raw) // 2] + bytes([raw[len(raw) // 2] ^ 0xFF]) + raw[len(raw) // 2 + 1:])
    with pytest.raises(DataError, match="not a readable gzip"):
        read_idx(path)


# --------------------------------- documented rejections the old property tests let pass
# Each was accepted silently, or failed inside NumPy, scikit-learn or Keras without naming
# the argument, while the old "any ValueError/TypeError" helper passed it.


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m.fit(X, epochs=0.5, verbose=0), TypeError, "epochs must be an integer"),
    (lambda m: m.fit(X, epochs=0, verbose=0), ValueError, r"epochs must be in \[1, inf\]"),
    (lambda m: m.decode([[0.5, 0.5], [0.5]]), TypeError, "z must be an array of latent codes"),
    (lambda m: check_images(np.zeros((2, 0, 8, 1))), ValueError, "x is empty"),
    (lambda m: make_dataset(X, y=np.float32(0)), ValueError, "y has a scalar"),
    (lambda m: make_dataset(X, y=[[0.5], [0.5, 0.5]]), TypeError, "y must be an array"),
    (lambda m: ConvAutoencoder(dropout=None), TypeError, "dropout"),
    (lambda m: load_dataset("mnist", source="sample", validation_split=0, seed=1.5), TypeError,
     "seed must be an integer"),
    (lambda m: load_dataset("mnist", source="sample", validation_split="0.1"), TypeError,
     "validation_split"),
    (lambda m: load_dataset("mnist", source="sample", validation_split=0.9999), ValueError,
     "validation_split=0.9999 leaves none"),
    (lambda m: load_dataset("mnist", source="idx", data_dir=3), TypeError, "data_dir"),
], ids=["half-epoch", "zero-epochs", "ragged-codes", "zero-height-images", "scalar-y",
        "ragged-y", "dropout-none", "float-seed", "text-split", "split-leaves-nothing",
        "data-dir-int"])
def test_documented_rejections_the_old_tests_let_pass(tiny_model, call, error, message):
    with pytest.raises(error, match=message):
        call(tiny_model)


def test_load_dataset_splits_at_random_when_the_training_side_cannot_hold_every_class(data_dirs):
    """30 images, 10 classes, validation_split=0.75: stratifying failed inside scikit-learn."""
    d = load_dataset("mnist", source="idx", data_dir=data_dirs["good"], validation_split=0.75)
    assert (len(d.x_train), len(d.x_val)) == (7, 23)
