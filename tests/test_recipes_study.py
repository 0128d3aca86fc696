"""Quick end-to-end runs of the transfer-learning, denoising and latent-space recipes."""

import json

import pytest

from helpers import assert_outputs, read_table

TINY = ["--quick", "--epochs", "2", "--filters", "4", "--dense-units", "16", "--batch-size", "256"]


def test_finetune_recipe(tmp_path):
    from recipes import finetune

    rows = finetune.main(TINY + ["--batch-size", "64", "--latent-dim", "8", "--pretrain-epochs", "1",
                                 "--labels-per-class", "10", "--few-label-epochs", "2",
                                 "--out", str(tmp_path)])
    out = tmp_path / "finetune"
    assert_outputs(out, ("accuracy_all.png", "accuracy_10.png", "confusion_all.png",
                         "confusion_10.png", "accuracy.md", "autoencoder.keras"))
    assert [(r["labels"], r["method"]) for r in rows] == [
        (labels, method) for labels in ("all labels", "10 per class")
        for method in ("frozen", "fine-tuned", "from scratch")]
    assert all(0 <= r["test accuracy"] <= 1 for r in rows)
    assert rows[2]["test accuracy"] > 0.3  # from scratch on all labels; chance is 0.1
    frozen, tuned, scratch = rows[:3]
    assert frozen["trainable parameters"] < tuned["trainable parameters"] == scratch["trainable parameters"]
    assert rows[3]["labelled images"] == 100
    table = json.loads((out / "accuracy.json").read_text())["rows"]
    assert table[0]["test accuracy"] == pytest.approx(rows[0]["test accuracy"])


def test_denoising_recipe(tmp_path):
    from recipes import denoising

    rows = denoising.main(["--quick", "--epochs", "3", "--filters", "8", "--dense-units", "64",
                           "--latent-dim", "16", "--batch-size", "64", "--learning-rate", "3e-3",
                           "--out", str(tmp_path)])
    out = tmp_path / "denoising"
    assert_outputs(out, ("denoised_gaussian.png", "denoised_salt_and_pepper.png",
                         "denoised_occlusion.png", "metrics.md"))
    by_level = {(r["corruption"], r["level"]): r for r in rows}
    gaussian = [r for r in rows if r["corruption"] == "gaussian"]
    assert [r["level"] for r in gaussian] == ["sigma=0.1", "sigma=0.2", "sigma=0.3", "sigma=0.5"]
    # Measured with these settings (dB): the denoiser restores the heaviest corruption of each
    # kind 2.1-4.4 dB above the corrupted input, and 14px occlusions 2.5 dB above the plain AE.
    # Light noise stays out: a small AE's own reconstruction error (about 15 dB) is above it.
    for heaviest in [("gaussian", "sigma=0.5"), ("salt_and_pepper", "fraction=0.2"),
                     ("occlusion", "square=14px")]:
        row = by_level[heaviest]
        assert row["denoising AE PSNR"] > row["noisy input PSNR"] + 1.0, heaviest
    occluded = by_level["occlusion", "square=14px"]
    assert occluded["denoising AE PSNR"] > occluded["plain AE PSNR"] + 1.0
    # And every level beats the best constant guess, the mean image (10.6 dB on this sample),
    # which an untrained network (about 7.7 dB) does not.
    assert all(r["denoising AE PSNR"] > 12.5 for r in rows)
    table = read_table(out / "metrics")
    assert table[3]["denoising AE PSNR"] == pytest.approx(gaussian[3]["denoising AE PSNR"])


def test_latent_recipe(tmp_path):
    from recipes import latent

    scores = latent.main(TINY + ["--latent-dim", "4", "--tsne-points", "200",
                                 "--traversal-components", "2", "--out", str(tmp_path)])
    out = tmp_path / "latent"
    models = [s["model"] for s in scores]
    assert models[0] == "AE"
    assert_outputs(out, ["scatter_pca.png", "scatter_tsne.png", "ellipses_pca.png",
                         "ellipses_tsne.png", "isotropy_pca.md", "isotropy_tsne.md", "scores.md"]
                   + [f"{kind}_{m}.png" for m in models
                      for kind in ("traversal", "samples", "interpolation")])
    for s in scores:
        assert 0.2 < s["kNN accuracy"] <= 1 and 0.2 < s["linear probe accuracy"] <= 1
        assert -1 <= s["silhouette"] <= 1
    isotropy = json.loads((out / "isotropy_pca.json").read_text())["rows"]
    assert len(isotropy) == 11 and isotropy[-1]["class"] == "mean"
    assert set(isotropy[0]) == {"class", *models}


def test_finetune_from_a_preset_saves_a_classifier_preset(tmp_path, monkeypatch):
    import shutil

    from recipes import finetune
    from zoo.presets import load_preset, preset_card, preset_dir

    for suffix in (".keras", ".json"):
        shutil.copy(preset_dir() / f"fashion_mnist_d36{suffix}", tmp_path)
    monkeypatch.setenv("ZOO_PRESET_DIR", str(tmp_path))
    rows = finetune.main(["--quick", "--epochs", "1", "--labels-per-class", "0",
                          "--pretrained", "fashion_mnist_d36", "--preset", "clf",
                          "--out", str(tmp_path / "out")])
    assert all(r["pre-training s"] < 5 for r in rows)  # loaded, not pre-trained
    classifier = load_preset("clf")
    card = preset_card("clf")
    tuned = next(r for r in rows if r["method"] == "fine-tuned")
    assert card["metrics"]["test accuracy"] == pytest.approx(tuned["test accuracy"])
    assert "preset fashion_mnist_d36" in card["data"]
    assert classifier.output_shape == (None, 10)
