import gzip
import time
from pathlib import Path

import numpy as np
import pytest

from zoo.data import (ArrayBatches, DataError, IDX_FILES, check_images, load_dataset,
                      make_dataset, read_idx, write_idx)
from zoo.data import tfds as zoo_tfds

from helpers import batches_of

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def write_idx_folder(folder, n_train=30, n_test=10, size=28):
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        images_file, labels_file = IDX_FILES[split]
        write_idx(folder / images_file, rng.integers(0, 256, (n, size, size), dtype=np.uint8))
        write_idx(folder / labels_file, (np.arange(n) % 10).astype(np.uint8))
    return folder


# ----------------------------------------------------------------- sources


def test_sample_source_is_real_balanced_and_split(mnist_sample):
    d = mnist_sample
    assert d.x_train.dtype == np.float32 and d.x_train.shape[1:] == (28, 28, 1)
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    assert len(d.x_train) + len(d.x_val) == 4000 and len(d.x_test) == 1000
    assert np.all(np.bincount(d.y_test) == 100)
    assert np.all(np.bincount(d.y_val) == 40)  # stratified validation split
    assert "embedded sample" in d.source
    # Real digits, not noise: most pixels are background.
    assert 0.6 < np.mean(d.x_train == 0) < 0.95


def test_validation_split_is_reproducible_and_seeded():
    a = load_dataset("fashion_mnist", source="sample", seed=3)
    b = load_dataset("fashion_mnist", source="sample", seed=3)
    c = load_dataset("fashion_mnist", source="sample", seed=4)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.y_val, c.y_val)
    assert a.class_names[0] == "T-shirt/top" and a.num_classes == 10


def test_idx_source_from_argument_and_environment(tmp_path, monkeypatch, caplog):
    write_idx_folder(tmp_path / "mnist")
    with caplog.at_level("INFO", logger="zoo.data"):
        d = load_dataset("mnist", source="idx", data_dir=tmp_path, validation_split=0.2)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (24, 6, 10)
    # Reports keep the kind of source; the machine's folder is only logged.
    assert d.source.startswith("IDX files") and str(tmp_path / "mnist") in caplog.text
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "mnist"))  # files directly in the folder
    auto = load_dataset("mnist")  # auto picks idx when ZOO_DATA_DIR is set
    np.testing.assert_array_equal(auto.x_test, d.x_test)


def test_one_datasets_files_offered_as_the_others_are_refused(tmp_path):
    """Both datasets are 28x28 grey images in ten classes: only the files' checksums tell
    MNIST's digits from Fashion-MNIST's clothes, and the loader checks them."""
    import shutil

    from zoo.data.idx import SAMPLE_DIR

    shutil.copytree(SAMPLE_DIR / "mnist", tmp_path / "digits")
    with pytest.raises(DataError, match=r"holds MNIST files .* not Fashion-MNIST's: "
                                        r"load_dataset\('mnist'"):
        load_dataset("fashion_mnist", source="idx", data_dir=tmp_path / "digits")
    # Known files load as themselves; files the zoo does not know load, and the summary says so.
    assert load_dataset("mnist", source="idx", data_dir=tmp_path / "digits").source == "IDX files"
    unknown = load_dataset("fashion_mnist", source="idx", data_dir=write_idx_folder(tmp_path / "mine"))
    assert "not known by checksum: train-images-idx3-ubyte.gz" in unknown.summary()


@pytest.mark.skipif(not SHARED.is_dir(), reason="full IDX copies not present")
def test_full_idx_copies_load():
    d = load_dataset("fashion_mnist", source="idx", data_dir=SHARED, validation_split=0.1)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (54000, 6000, 10000)
    assert d.source == "IDX files"  # known by checksum
    with pytest.raises(DataError, match="holds Fashion-MNIST files"):
        load_dataset("mnist", source="idx", data_dir=SHARED / "fashion_mnist")


def test_tfds_source_through_tensorflow_datasets(monkeypatch, tmp_path):
    import tensorflow_datasets as tfds

    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(zoo_tfds, "_reachable", lambda *a: True)
    with tfds.testing.mock_data(num_examples=20):
        d = load_dataset("mnist", source="tfds", validation_split=0.25)
    assert d.source == "tensorflow-datasets"
    assert d.x_train.shape == (15, 28, 28, 1) and d.x_test.shape == (20, 28, 28, 1)
    assert d.x_train.dtype == np.float32 and d.x_train.max() <= 1.0


def test_unreachable_download_fails_fast_naming_offline_options(monkeypatch, tmp_path):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    monkeypatch.setattr(zoo_tfds, "_reachable", lambda *a: False)
    start = time.perf_counter()
    with pytest.raises(DataError, match="source='idx'.*ZOO_DATA_DIR.*source='sample'"):
        load_dataset("mnist")  # auto -> tfds, which cannot download
    assert time.perf_counter() - start < 30


# ----------------------------------------------------------- file errors


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("mnist", source="idx", data_dir=tmp_path / "nope")
    folder = write_idx_folder(tmp_path / "mnist")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing IDX file.*t10k-labels-idx1-ubyte.gz"):
        load_dataset("mnist", source="idx", data_dir=tmp_path)
    with pytest.raises(DataError, match="idx' needs data_dir"):
        load_dataset("mnist", source="idx")


@pytest.mark.parametrize("corrupt, message", [
    (lambda raw: raw[:-100], "truncated or corrupt"),
    (lambda raw: raw[:6], "truncated IDX header"),
    (lambda raw: b"\x00\x00\x0d\x03" + raw[4:], "bad IDX magic"),
    (lambda raw: b"\x01\x02", "too short"),
])
def test_corrupt_idx_files_name_the_file(tmp_path, corrupt, message):
    folder = write_idx_folder(tmp_path / "mnist")
    path = folder / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(corrupt(raw)))
    with pytest.raises(DataError, match=message) as info:
        load_dataset("mnist", source="idx", data_dir=tmp_path)
    assert str(path) in str(info.value)


def test_not_gzip_and_truncated_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(b"plain text, not gzip")
    with pytest.raises(DataError, match="not a readable gzip"):
        read_idx(path)
    write_idx(path, np.zeros((5, 4, 4), np.uint8))
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(DataError, match=str(path)):
        read_idx(path)


def test_label_count_mismatch(tmp_path):
    folder = write_idx_folder(tmp_path / "mnist")
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(7, np.uint8))
    with pytest.raises(DataError, match="7 labels for 30 images"):
        load_dataset("mnist", source="idx", data_dir=folder)


def test_idx_round_trip_and_unknown_names(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), array)
    with pytest.raises(DataError, match="unknown dataset 'cifar'"):
        load_dataset("cifar", source="sample")
    with pytest.raises(ValueError, match="validation_split"):
        load_dataset("mnist", source="sample", validation_split=1.0)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"name": 3}, TypeError, r"^name must be a dataset name \(a str\).*load_images"),
    ({"source": "web"}, ValueError, r"^source must be one of \('auto', 'tfds', 'idx', 'sample'\)"),
    ({"source": None}, TypeError, "^source must be one of"),
    ({"download_timeout": 0}, ValueError, r"^download_timeout must be in \(0, inf\)"),
    ({"download_timeout": "5"}, TypeError, "^download_timeout must be a number"),
    ({"seed": 2**32}, ValueError, r"^seed must be in \[0, 4294967295\]"),
    ({"image_size": 28}, TypeError, r"^image_size must be \(height, width\)"),
    ({"image_size": (28, 28.0)}, TypeError, r"^image_size\[1\] must be an integer"),
])
def test_load_dataset_rejects_bad_arguments_by_type_and_value(kwargs, error, message):
    with pytest.raises(error, match=message):
        load_dataset(**{"name": "mnist", "source": "sample", **kwargs})


# ------------------------------------------------------------- validation


@pytest.mark.parametrize("bad, error, message", [
    (np.zeros((2, 28, 28), np.float32), ValueError, r"add a channel axis"),
    (np.zeros((2, 28, 28, 1), np.uint8), TypeError, r"astype\('float32'\) / 255"),
    (np.full((2, 28, 28, 1), np.nan, np.float32), ValueError, "NaN"),
    (np.full((2, 28, 28, 1), np.inf, np.float32), ValueError, "infinite"),
    (np.full((2, 28, 28, 1), 255.0, np.float32), ValueError, r"span \[255, 255\]"),
    (np.zeros((0, 28, 28, 1), np.float32), ValueError, "empty"),
    (np.zeros((2, 32, 32, 1), np.float32), ValueError, r"model expects \(28, 28, 1\)"),
    (np.array(["a", "b"]), TypeError, "numeric"),
])
def test_check_images_rejects_bad_input(bad, error, message):
    with pytest.raises(error, match=message):
        check_images(bad, image_shape=(28, 28, 1))


PIPELINES = ("tf.data", "ArrayBatches")


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_make_dataset_batches_shuffles_and_pairs_targets(images, pipeline):
    batches = batches_of(pipeline, images, batch_size=3, seed=0)
    assert [b[0].shape[0] for b in batches] == [3, 3, 2]
    np.testing.assert_array_equal(batches[0][0], batches[0][1])  # target is the input
    shuffled = np.concatenate([x for x, _ in batches])
    assert sorted(map(bytes, shuffled)) == sorted(map(bytes, images))
    labels = np.arange(8)
    ((_, y),) = batches_of(pipeline, images, labels, batch_size=8, shuffle=False)
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(ValueError, match="8 images but y has 3"):
        make_dataset(images, labels[:3])


def test_array_batches_reshuffle_each_epoch_and_repeat_a_seeded_order(images):
    ds = ArrayBatches(images, np.arange(8), 4, shuffle=True, seed=0, map_fn=None, repeat=False)
    first = np.concatenate([ds[i][1] for i in range(ds.num_batches)])
    ds.on_epoch_end()  # Keras calls it after each epoch
    second = np.concatenate([ds[i][1] for i in range(ds.num_batches)])
    assert sorted(first) == sorted(second) == list(range(8))
    assert not np.array_equal(first, second)
    again = ArrayBatches(images, np.arange(8), 4, shuffle=True, seed=0, map_fn=None, repeat=False)
    np.testing.assert_array_equal(again[0][1], first[:4])
    with pytest.raises(IndexError):
        ds[2]


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_make_dataset_repeats_in_full_batches_each_pass_reshuffled(images, pipeline):
    labels = np.arange(len(images))  # 8 images: batches of 3 cross each pass's seam
    batches = [y for _, y in batches_of(pipeline, images, labels, count=8, batch_size=3,
                                        seed=0, repeat=True)]
    assert all(len(b) == 3 for b in batches)
    seen = np.concatenate(batches)  # 24 labels: three whole passes over the 8 images
    passes = seen.reshape(3, 8)
    assert all(sorted(p) == list(range(8)) for p in passes)
    assert not np.array_equal(passes[0], passes[1])  # reshuffled each pass
