"""The study on your own images: the quick report on the digits folders, labelled and not;
the autoencoder, VAE and GAN recipes and models on colour images; presets tied to their shape.
"""

import importlib
import re

import keras
import numpy as np
import pytest
from helpers import assert_figure, read_table, write_png

from recipes.__main__ import RECIPES, main
from zoo import GAN, VAE, ConvAutoencoder

COLOUR = (32, 32, 3)


@pytest.fixture(scope="module")
def colour_folder(tmp_path_factory):
    """48 colour PNGs of ``COLOUR`` shape in two class folders: a saturated background with
    a square of another colour, so that a figure of them is unmistakably not grey."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("colour") / "blocks"
    for i in range(48):
        image = np.empty(COLOUR, np.uint8)
        image[:] = rng.permutation([255, 40, rng.integers(0, 256)])  # one strong channel
        top, left = rng.integers(0, 16, 2)
        image[top:top + 16, left:left + 16] = rng.permutation([230, 20, 120])
        write_png(root / ("squares", "blocks")[i % 2] / f"{i:02d}.png", image)
    return root


def colour_share(pixels) -> float:
    """The share of a figure's pixels whose channels differ by more than 0.2 (0 for grey)."""
    rgb = pixels[..., :3]
    return float(np.mean(rgb.max(axis=-1) - rgb.min(axis=-1) > 0.2))


def overview(page: str) -> dict:
    """The report's Recipes table: ``{title: (status, note)}``."""
    run = re.search(r'<section id="run">(.*?)</section>', page, re.S).group(1)
    rows = re.findall(r"<tr><td>([^<]*)</td><td>(\w+)</td><td>[^<]*</td><td>([^<]*)</td></tr>", run)
    return {title: (status, note) for title, status, note in rows}


# The recipes that read labels, or say they have none. The autoencoder, denoising and
# tuning recipes never read labels (test_recipes runs them).
# The VAE and VQ-VAE recipes leave out the same scores as the GAN, by the same helper
# (`recipes._common.sample_scores`): they are not run again here (the VAE's recipe runs on
# colour images below).
LABEL_AWARE = ["finetune", "latent", "gan", "conditional", "diffusion", "compare"]


def test_quick_report_on_an_unlabelled_folder(digits, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["run", *LABEL_AWARE, "--quick", "--epochs", "1", "--dataset",
                 str(digits["flat"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    page = (out / "index.html").read_text()
    statuses = overview(page)
    assert set(statuses) == {RECIPES[name] for name in LABEL_AWARE}
    for name in LABEL_AWARE:
        title = RECIPES[name]
        assert f'<section id="{name}">' in page
        expected = "skipped" if name in ("finetune", "conditional", "diffusion", "compare") else "ok"
        assert statuses[title][0] == expected, (name, statuses[title])
    # What needs labels is left out with one line each, the rest is written.
    assert statuses[RECIPES["finetune"]][1] == "no labels: the transfer study trains and tests " \
                                                "classifiers on them"
    assert statuses[RECIPES["conditional"]][1] == "class-conditional models train on labels; " \
                                                   "this dataset has none"
    assert statuses[RECIPES["diffusion"]][1] == "the guided diffusion model trains on labels; " \
                                                 "this dataset has none"
    assert statuses[RECIPES["compare"]][1].startswith("no shipped preset was trained on")
    assert 'class="skipped">skipped' in page
    assert "4 skipped ['finetune', 'conditional', 'diffusion', 'compare']" in printed
    for recipe, skipped in [("latent", "class ellipses"), ("gan", "domain FID")]:
        assert len(re.findall(rf"^\[{recipe}\] no labels: {skipped}.* skipped$", printed,
                              re.M)) == 1, recipe
    assert not list((out / "latent").glob("ellipses_*")) and not (out / "latent" / "scores.json").exists()
    assert not (out / "gan" / "class_shares.json").exists()
    for recipe, figure in [("gan", "samples_by_epoch.png"),
                           ("latent", "scatter_pca.png"), ("latent", "interpolation_VAE.png")]:
        assert_figure(out / recipe / figure)


def test_quick_report_on_a_labelled_folder(digits, tmp_path):
    """The recipes that learn from labels, on the folder's classes: the conditional models
    and the transfer study. A folder's labels reach every recipe as an `ImageDataset`'s, as
    the labelled sample's do: the latent, VAE, GAN and diffusion recipes' own tests read
    them there; every recipe but the VQ-VAE's ran on the unlabelled folder above."""
    from recipes import finetune

    out = tmp_path / "report"
    assert main(["run", "conditional", "--quick", "--epochs", "1", "--dataset",
                 str(digits["tree"]), "--out", str(out)]) == 0
    assert overview((out / "index.html").read_text()) == {RECIPES["conditional"]: ("ok", "")}
    assert len(read_table(out / "conditional" / "per_class_accuracy")) == 10
    assert_figure(out / "conditional" / "gan_samples_by_class.png")
    # The transfer study, out of `run` to take its own options: one short study run per method.
    tables = finetune.main(["--quick", "--epochs", "1", "--labels-per-class", "10",
                            "--study-seeds", "1", "--study-steps", "50",
                            "--dataset", str(digits["tree"]), "--out", str(out)])
    methods = ["frozen", "fine-tuned", "from scratch"]
    assert [r["method"] for r in tables["accuracy"]] == methods
    assert [(r["labels per class"], r["method"]) for r in tables["label_efficiency"]] == \
        [("10", m) for m in methods]


def test_run_names_its_default_report_folder_after_the_data(digits, tmp_path, monkeypatch):
    from recipes._common import report_folder_name

    assert report_folder_name("mnist") == "mnist"
    assert report_folder_name("tfds:emnist/letters") == "tfds-emnist-letters"
    assert report_folder_name(str(digits["flat"]) + "/") == "flat"
    (tmp_path / "faces.npz").write_bytes(b"")
    assert report_folder_name(str(tmp_path / "faces.npz")) == "faces"
    # Never inside the data folder, whose next load would read the report's files.
    monkeypatch.chdir(digits["flat"])
    with pytest.raises(SystemExit) as exit_:
        main(["run", "autoencoder", "--quick", "--dataset", "."])
    assert exit_.value.code == 2


@pytest.mark.parametrize("recipe, argv", [
    ("autoencoder", ["--latent-dim", "4", "--filters", "4", "--dense-units", "0"]),
    ("vae", ["--latent-dim", "4", "--filters", "4", "--dense-units", "0", "--iwae-k", "2"]),
    ("gan", ["--architecture", "mlp", "--latent-dim", "4"]),
    ("gan", ["--architecture", "dcgan", "--latent-dim", "4", "--filters", "4"]),
])
def test_colour_images_through_the_recipes(recipe, argv, colour_folder, tmp_path):
    importlib.import_module(f"recipes.{recipe}").main(
        ["--quick", "--epochs", "1", "--dataset", str(colour_folder), "--out", str(tmp_path), *argv])
    folder = tmp_path / recipe
    model = keras.saving.load_model(folder / "model.keras")
    made = model.generate(3, seed=0) if recipe != "autoencoder" else \
        model.predict(np.zeros((3, *COLOUR), np.float32), verbose=0)
    assert made.shape == (3, *COLOUR)
    assert np.any(made[..., 0] != made[..., 1])  # three channels, not copies of one grey
    if recipe == "gan":  # one epoch's samples are near grey: the figure is drawn, no more
        assert_figure(folder / "samples_by_epoch.png")
    else:  # the test images' row is the fixture's colour, drawn as colour
        assert colour_share(assert_figure(folder / "reconstructions.png")) > 0.05


@pytest.mark.parametrize("shape", [COLOUR, (20, 24, 3)])
@pytest.mark.parametrize("make", [
    lambda s: GAN(latent_dim=4, architecture="mlp", input_shape=s, seed=0),
    lambda s: GAN(latent_dim=4, architecture="dcgan", filters=4, input_shape=s, seed=0),
    lambda s: VAE(latent_dim=4, filters=4, dense_units=0, input_shape=s, seed=0),
    lambda s: VAE(latent_dim=4, architecture="mlp", reconstruction_loss="mse", input_shape=s, seed=0),
], ids=["gan-mlp", "gan-dcgan", "vae-conv-bce", "vae-mlp-mse"])
def test_generative_models_make_the_input_shape(make, shape):
    model = make(shape)
    assert model.generate(2, seed=0).shape == (2, *shape)
    if isinstance(model, VAE):
        assert model.reconstruct(np.full((2, *shape), 0.5, np.float32)).shape == (2, *shape)


def test_a_preset_on_another_image_shape_says_so(colour_folder, tmp_path):
    from recipes import finetune

    with pytest.raises(ValueError, match=r"preset 'mnist_d9' was trained on images of shape "
                                         r"\(28, 28, 1\).*not \(32, 32, 3\)"):
        ConvAutoencoder.from_preset("mnist_d9", input_shape=COLOUR)
    assert ConvAutoencoder.from_preset("mnist_d9", input_shape=(28, 28, 1)).latent_dim == 9
    with pytest.raises(SystemExit, match=r"finetune: error: --pretrained preset 'mnist_d9' was "
                                         r"trained on images of shape \(28, 28, 1\).*\(32, 32, 3\)"):
        finetune.main(["--quick", "--dataset", str(colour_folder), "--pretrained", "mnist_d9",
                       "--out", str(tmp_path)])
