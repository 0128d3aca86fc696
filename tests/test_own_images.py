"""Your own images: folders of image files, .npz files, arrays, any tfds dataset, and --dataset.

The real images are scikit-learn's bundled digits (1797 8x8 images, values 0..16), written
as PNG files; the colour ones are 32x32x3 PNGs made here.
"""

import time

import numpy as np
import pytest
from helpers import write_png
from PIL import Image

from zoo.data import DataError, from_arrays, load_dataset, load_images
from zoo.data import tfds as zoo_tfds

DIGITS = 1797


def assert_same_dataset(a, b):
    for split in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        if getattr(b, split) is None:
            assert getattr(a, split) is None, split
        else:
            np.testing.assert_array_equal(getattr(a, split), getattr(b, split), err_msg=split)


# ------------------------------------------------------------------------ folders


def test_digits_class_folders_load_as_the_arrays_they_were_written_from(digits, caplog):
    with caplog.at_level("INFO", logger="zoo.data"):
        d = load_images(digits["tree"], seed=3)
    assert d.source == "image folder" and d.name == "digits" and str(digits["tree"]) in caplog.text
    assert d.class_names == tuple(str(c) for c in range(10)) and d.num_classes == 10
    assert d.image_shape == (8, 8, 1) and d.x_train.dtype == np.float32
    # 20% held out as the test split (ceil), then 10% of the rest for validation.
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (1293, 144, 360)
    assert d.held_out_test == 0.2 and "test 360 (held out: 20% of the images" in d.summary()
    # Every PNG read back bit for bit, with its label: the folder is the arrays it came from.
    order = digits["order"]
    expected = from_arrays(digits["pixels"][order], digits["labels"][order],
                           class_names=d.class_names, seed=3)
    assert_same_dataset(d, expected)
    images = np.concatenate([d.x_train, d.x_val, d.x_test])
    labels = np.concatenate([d.y_train, d.y_val, d.y_test])
    pixels = np.round(images * 255).astype(np.uint8)
    assert sorted(zip(labels, map(bytes, pixels))) == sorted(
        zip(digits["labels"], map(bytes, digits["pixels"])))
    assert np.all(np.bincount(d.y_test) >= 35)  # stratified: about 36 of each digit


def test_a_flat_folder_is_unlabelled(digits):
    d = load_images(digits["flat"], validation_split=0.0)
    assert d.y_train is None and d.y_val is None and d.y_test is None
    assert d.class_names is None and d.num_classes == 0 and not d.labelled
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (1437, 0, 360)
    assert d.summary().endswith(", unlabelled")
    assert_same_dataset(d, from_arrays(digits["pixels"], validation_split=0.0))


def test_colour_pngs_keep_their_channels_and_mixed_sizes_resize_on_request(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    for i, image in enumerate(pixels):
        write_png(tmp_path / "colour" / ("cat", "dog")[i % 2] / f"{i:02d}.png", image)
    d = load_images(tmp_path / "colour", test_split=0.25, validation_split=0.0)
    assert d.image_shape == (32, 32, 3) and d.class_names == ("cat", "dog")
    x = np.concatenate([d.x_train, d.x_test])
    assert sorted(map(bytes, np.round(x * 255).astype(np.uint8))) == sorted(map(bytes, pixels))

    write_png(tmp_path / "colour" / "dog" / "small.png", pixels[0, :16, :20])
    with pytest.raises(DataError, match=r"different sizes.*\(32, 32\) in cat/00.png, \(16, 20\) "
                                        r"in dog/small.png.*image_size=\(height, width\)"):
        load_images(tmp_path / "colour")
    resized = load_images(tmp_path / "colour", image_size=(24, 24))
    assert resized.image_shape == (24, 24, 3) and len(resized.x_train) + len(resized.x_val) \
        + len(resized.x_test) == 13
    assert 0.0 <= resized.x_train.min() and resized.x_train.max() <= 1.0


def test_jpeg_files_and_hidden_files(tmp_path):
    image = np.full((10, 12, 3), 200, np.uint8)
    for i in range(4):
        Image.fromarray(image).save(tmp_path / f"{i}.jpg", quality=95)
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")  # skipped, as every image tool does
    d = load_images(tmp_path, test_split=0.25, validation_split=0.0)
    assert d.image_shape == (10, 12, 3) and abs(float(d.x_train.mean()) - 200 / 255) < 0.02


# ----------------------------------------------------------------- npz and arrays


def test_npz_files_with_and_without_a_test_split(digits, tmp_path):
    pixels, labels = digits["pixels"], digits["labels"]
    names = np.array([f"digit {c}" for c in range(10)])
    np.savez(tmp_path / "full.npz", x_train=pixels[:1500, ..., 0], y_train=labels[:1500],
             x_test=pixels[1500:, ..., 0], y_test=labels[1500:], class_names=names)
    d = load_images(tmp_path / "full.npz")
    assert d.source == "npz file" and d.name == "full" and d.held_out_test == 0
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (1350, 150, 297)
    assert d.image_shape == (8, 8, 1) and d.class_names[3] == "digit 3"  # (N, H, W): channel added
    np.testing.assert_array_equal(d.x_test, pixels[1500:] / np.float32(255))
    np.testing.assert_array_equal(d.y_test, labels[1500:])
    assert "held out" not in d.summary()

    np.savez(tmp_path / "unlabelled.npz", x_train=pixels.astype(np.float32) / 255)
    u = load_images(tmp_path / "unlabelled.npz")
    assert not u.labelled and u.held_out_test == 0.2 and len(u.x_test) == 360


def test_arrays_float_and_uint8_give_the_same_dataset(digits):
    pixels, labels = digits["pixels"][:100], digits["labels"][:100]
    a = from_arrays(pixels, labels, name="digits")
    b = from_arrays(pixels.astype(np.float64) / 255, labels, name="digits")
    assert a.source == "arrays" and a.class_names == tuple("0123456789")
    np.testing.assert_allclose(a.x_train, b.x_train, atol=1e-7)
    np.testing.assert_array_equal(a.y_train, b.y_train)


def test_builtin_datasets_resize_on_request(mnist_sample):
    d = load_dataset("mnist", source="sample", image_size=(32, 32))
    assert d.image_shape == (32, 32, 1) and len(d.x_test) == len(mnist_sample.x_test)
    np.testing.assert_array_equal(d.y_test, mnist_sample.y_test)


# --------------------------------------------------------------------- bad input


def bad_folders(root):
    """Folders that must not load, each with the words its message must hold."""
    grey, colour = np.zeros((8, 8, 1), np.uint8), np.zeros((8, 8, 3), np.uint8)
    (root / "empty").mkdir()
    write_png(root / "not_images" / "a.png", grey)
    (root / "not_images" / "notes.txt").write_text("not an image")
    write_png(root / "channels" / "a.png", grey)
    write_png(root / "channels" / "b.png", colour)
    write_png(root / "corrupt" / "a.png", grey)
    (root / "corrupt" / "b.png").write_bytes(b"\x89PNG but cut short")
    write_png(root / "empty_class" / "cat" / "a.png", grey)
    (root / "empty_class" / "dog").mkdir()
    write_png(root / "mixed" / "cat" / "a.png", grey)
    write_png(root / "mixed" / "b.png", grey)
    np.savez(root / "no_x_train.npz", images=np.zeros((4, 8, 8), np.uint8))
    np.savez(root / "short_labels.npz", x_train=np.zeros((4, 8, 8), np.uint8),
             y_train=np.zeros(3, int))
    np.savez(root / "test_without_labels.npz", x_train=np.zeros((4, 8, 8), np.uint8),
             y_train=np.zeros(4, int), x_test=np.zeros((2, 8, 8), np.uint8))
    (root / "broken.npz").write_bytes(b"PK not a zip")
    (root / "a_file.txt").write_text("neither")
    return {
        "empty": "the folder is empty",
        "not_images": r"1 file\(s\) are not images \(notes.txt\)",
        "channels": r"different channel counts: 1 in a.png, 3 in b.png; convert them all",
        "corrupt": r"b.png: not a readable image",
        "empty_class": r"class folder\(s\) dog hold no images",
        "mixed": r"both class sub-folders and files \(b.png\)",
        "no_x_train.npz": r"holds \['images'\]; the zoo reads x_train",
        "short_labels.npz": "y_train has 3 labels for 4 images in x_train",
        "test_without_labels.npz": "x_test and y_test come together",
        "broken.npz": r"not a readable \.npz file",
        "a_file.txt": "not a folder or an .npz file",
        "missing": "does not exist",
    }


def test_each_bad_input_raises_one_data_error_naming_the_path_and_the_fix(tmp_path):
    for name, message in bad_folders(tmp_path).items():
        with pytest.raises(DataError, match=message) as info:
            load_images(tmp_path / name)
        assert str(tmp_path / name) in str(info.value), name


@pytest.mark.parametrize("arrays, message", [
    ({"x_train": np.zeros((4, 8, 8)), "y_train": np.zeros(5, int)}, "5 labels for 4 images"),
    ({"x_train": np.full((4, 8, 8), 16.0)}, r"values span \[16, 16\]; the zoo expects images"),
    ({"x_train": np.zeros((4, 8, 8), np.int64)}, "dtype int64"),
    ({"x_train": np.zeros((4, 8))}, "must have shape"),
    ({"x_train": np.zeros((4, 8, 8)), "y_train": np.zeros(4)}, "integer class indices"),
    ({"x_train": np.zeros((4, 8, 8)), "y_train": [0, 1, -1, 0]}, "negative labels"),
    ({"x_train": np.zeros((4, 8, 8)), "class_names": ["a"]}, "class_names came without y_train"),
    ({"x_train": np.zeros((4, 8, 8)), "y_train": [0, 1, 2, 0], "class_names": ["a", "b"]},
     "labels go up to 2"),
    ({"x_train": np.zeros((4, 8, 8)), "x_test": np.zeros((2, 9, 9))}, "x_test has images of"),
])
def test_bad_arrays(arrays, message):
    with pytest.raises(DataError, match=f"from_arrays: .*{message}"):
        from_arrays(**arrays)


@pytest.mark.parametrize("options, error, message", [
    ({"test_split": 0}, ValueError, r"test_split must be in \(0\.0, 1\.0\)"),
    ({"test_split": "0.2"}, TypeError, "test_split must be a number"),
    ({"image_size": (8,)}, ValueError, r"image_size must be \(height, width\)"),
    ({"image_size": (8, 0)}, ValueError, r"image_size\[1\] must be in \[1, inf\]"),
    ({"image_size": "8x8"}, TypeError, r"image_size must be \(height, width\)"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.5}, TypeError, "seed must be an integer"),
    ({"validation_split": 0.99}, ValueError, "validation_split=0.99 leaves none of the 3 images"),
])
def test_bad_options(options, error, message):
    with pytest.raises(error, match=message):
        from_arrays(np.zeros((4, 8, 8)), **options)


# ---------------------------------------------------------- tensorflow-datasets


def test_any_tfds_image_classification_dataset_with_its_class_names(monkeypatch, tmp_path):
    import tensorflow_datasets as tfds

    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(zoo_tfds, "_reachable", lambda *a: True)
    with tfds.testing.mock_data(num_examples=10):
        d = load_dataset("kmnist", source="tfds", validation_split=0.2)
        colour = load_dataset("cifar10", source="tfds", image_size=(16, 16))
    assert d.source == "tensorflow-datasets" and d.class_names[:3] == ("o", "ki", "su")
    assert d.x_train.shape == (8, 28, 28, 1) and d.x_test.shape == (10, 28, 28, 1)
    assert colour.image_shape == (16, 16, 3) and colour.num_classes == 10


def test_unprepared_tfds_dataset_offline_fails_fast_naming_the_options(monkeypatch, tmp_path):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(zoo_tfds, "_reachable", lambda *a: False)
    start = time.perf_counter()
    with pytest.raises(DataError, match=r"cannot download 'kmnist'.*no prepared copy.*"
                                        r"download_and_prepare.*load_images"):
        load_dataset("kmnist", source="tfds")
    assert time.perf_counter() - start < 30
    with pytest.raises(DataError, match="tensorflow-datasets has no dataset 'no_such_images'"):
        load_dataset("no_such_images", source="tfds")
    with pytest.raises(DataError, match=r"varying size; pass image_size"):
        load_dataset("oxford_flowers102", source="tfds")
    with pytest.raises(DataError, match=r"'celeb_a' is not an image-classification dataset"):
        load_dataset("celeb_a", source="tfds")
    with pytest.raises(DataError, match=r"unknown dataset 'kmnist'.*source='tfds'.*load_images"):
        load_dataset("kmnist")


# -------------------------------------------------------------------- the recipes


def test_autoencoder_recipe_quick_on_the_digits_folder(digits, tmp_path):
    from recipes import autoencoder

    row = autoencoder.main(["--quick", "--epochs", "1", "--dataset", str(digits["tree"]),
                            "--latent-dim", "4", "--filters", "4", "--dense-units", "16",
                            "--batch-size", "64", "--out", str(tmp_path)])
    assert row["dataset"] == "digits" and row["data source"] == "image folder"
    assert row["epochs"] == 1 and (tmp_path / "autoencoder" / "reconstructions.png").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "no/such/folder"], "'no/such/folder' is not a built-in dataset"),
    (["--dataset", "tfds:kmnist", "--source", "idx"], "--source apply to the built-in"),
    (["--dataset", "tfds:kmnist", "--image-size", "32"], "--image-size: expected 2 arguments"),
])
def test_bad_dataset_options_exit_2_with_one_line(argv, message, capsys):
    from recipes import autoencoder

    with pytest.raises(SystemExit) as exit_:
        autoencoder.main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err.splitlines()[-1]
