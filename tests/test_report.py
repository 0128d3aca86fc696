import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from zoo.plotting import image_grid
from recipes._report import markdown_table, write_html_report, write_table

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_tables_round_trip_and_render(tmp_path):
    rows = [{"model": "CAE", "test MSE": 0.0071234, "epochs": 30},
            {"model": "VAE", "test MSE": np.float32(0.0123), "note": "x"}]
    path = write_table(rows, tmp_path / "metrics", "Test MSE")
    saved = json.loads(path.read_text())
    assert saved["title"] == "Test MSE"
    assert saved["rows"] == [rows[0], {"model": "VAE", "test MSE": float(np.float32(0.0123)),
                                       "note": "x"}]  # NumPy numbers come back as floats
    lines = (tmp_path / "metrics.md").read_text().splitlines()
    assert lines[0] == "### Test MSE"
    assert lines[2:] == ["| model | test MSE | epochs | note |", "|---|---|---|---|",
                         "| CAE | 0.007123 | 30 |  |", "| VAE | 0.0123 |  | x |"]
    with pytest.raises(ValueError, match="no rows"):
        write_table([], tmp_path / "never", "empty")
    assert not list(tmp_path.glob("never*"))


def test_html_report_embeds_figures_tables_and_failures(tmp_path):
    folder = tmp_path / "autoencoder"
    folder.mkdir()
    image_grid(np.random.default_rng(0).random((4, 28, 28, 1)), folder / "samples.png")
    write_table([{"test MSE": 0.5}], folder / "metrics", "CAE metrics")
    (folder / "run.json").write_text(json.dumps({"data": "mnist from somewhere"}))
    page = write_html_report(tmp_path, [
        {"name": "autoencoder", "title": "Autoencoder", "seconds": 3.0, "status": "ok"},
        {"name": "vae", "title": "VAE", "seconds": 1.0, "status": "failed", "error": "ValueError: boom"},
    ], {"seed": 0}, "study")
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 1 and 'data-figures="1"' in text
    assert "CAE metrics" in text and "mnist from somewhere" in text
    assert 'class="failed">failed' in text and "ValueError: boom" in text


def test_html_report_shows_a_skipped_recipe_with_its_reason(tmp_path):
    page = write_html_report(tmp_path, [
        {"name": "finetune", "title": "Transfer", "seconds": 0.5, "status": "skipped",
         "reason": "no labels: the transfer study trains classifiers"},
    ], {"seed": 0}, "study").read_text()
    assert 'class="skipped">skipped' in page
    assert "<td>skipped</td><td>0.5</td><td>no labels: the transfer study trains classifiers</td>" in page


def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing on CI: .ci/run installs it with apt-get")
        pytest.skip("chromium not installed (apt-get install chromium; .ci/run does this)")
    return path


def test_quick_report_loads_in_a_real_browser(tmp_path):
    browser = chromium()
    from recipes.__main__ import main

    out = tmp_path / "report"
    assert main(["run", "autoencoder", "--quick", "--epochs", "1", "--out", str(out)]) == 0
    url = (out / "index.html").resolve().as_uri()
    dom = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--virtual-time-budget=10000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body[^>]*>", dom).group(0)
    figures = int(re.search(r'data-figures="(\d+)"', body).group(1))
    loaded = int(re.search(r'data-images-loaded="(\d+)"', body).group(1))
    assert figures >= 2 and loaded == figures, body
    for section in ("run", "autoencoder"):
        assert f'id="{section}"' in dom
    assert "of %d figures loaded" % figures in dom
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
                    "--window-size=1280,2400", f"--screenshot={artifacts / 'report.png'}", url],
                   capture_output=True, timeout=120, check=True)
    assert (artifacts / "report.png").stat().st_size > 10_000


def test_quality_benchmark_reads_full_runs_and_never_guesses(tmp_path, capsys):
    from benchmarks import quality

    full = tmp_path / "full-fashion_mnist"
    write_table([{"latent dim": 36, "test MSE": 0.007}], full / "autoencoder" / "metrics", "t")
    (full / "study.json").write_text(json.dumps({
        "finished": True, "metadata": {"wall time (s)": 450.0},
        "recipes": [{"name": "autoencoder", "status": "ok", "seconds": 420.0},
                    {"name": "gan", "status": "failed", "seconds": 30.0}]}))
    rows = {r["metric"]: r for r in quality.main(["--reports", str(tmp_path)])}
    cae = rows["CAE test MSE, latent 36"]
    assert cae["Fashion-MNIST"] == "0.007" and cae["the reports"] == "0.00917 (Fashion-MNIST)"
    assert cae["MNIST"] == "not run" and rows["VAE (30 epochs), IWAE log-likelihood, k=100, "
                                               "1000 test images"]["Fashion-MNIST"] == "not run"
    assert quality.wall_times(tmp_path) == [
        {"recipe": "autoencoder", "fashion_mnist min": 7.0},
        {"recipe": "gan", "fashion_mnist min": "failed"},
        {"recipe": "total", "fashion_mnist min": 7.5}]
    assert "| autoencoder | 7 |" in capsys.readouterr().out
    (tmp_path / "full-mnist").mkdir()  # a run still going (or cut): no metadata yet
    (tmp_path / "full-mnist" / "study.json").write_text(json.dumps({
        "finished": False, "metadata": {},
        "recipes": [{"name": "autoencoder", "status": "ok", "seconds": 60.0}]}))
    assert quality.wall_times(tmp_path)[-1] == {
        "recipe": "total", "fashion_mnist min": 7.5, "mnist min": "1.0 (unfinished)"}


def test_pretraining_benchmark_ships_a_candidate_as_a_preset_with_its_study(tmp_path, monkeypatch):
    from argparse import Namespace

    from benchmarks import pretraining
    from zoo import ConvAutoencoder, load_dataset
    from zoo.presets import card_metric, load_preset, preset_card, save_preset

    out, shipped = tmp_path / "out", tmp_path / "shipped"
    (out / "presets").mkdir(parents=True)
    shipped.mkdir()
    monkeypatch.setenv("ZOO_PRESET_DIR", str(out / "presets"))
    candidate = ConvAutoencoder(latent_dim=4, filters=4, dense_units=0)
    save_preset(candidate, "cae", {"command": "-", "data": "-", "metrics": [],
                                   "training": {"epochs": 40, "seconds": 601}})
    study = [{"labels per class": "10", "method": m, "test accuracy": a, "± std": 0.01234, "seeds": 3}
             for m, a in (("frozen", 0.72049), ("fine-tuned", 0.7), ("from scratch", 0.69))]
    argv = ["--data-dir", str(tmp_path / "idx"), "--candidates", "cae", "--features", "conv",
            "--preset", "mine", "--out", str(out)]
    args = Namespace(out=out, preset="mine", steps=1500, seeds=3, features="conv",
                     fine_tune_learning_rate=3e-4)
    dataset = load_dataset("fashion_mnist", source="sample")
    pretraining.save_candidate_preset("cae", args, argv, dataset, study, shipped)

    monkeypatch.setenv("ZOO_PRESET_DIR", str(shipped))
    card = preset_card("mine")
    point = {"labels_per_class": "10", "samples": len(dataset.x_test)}
    assert card_metric(card, "accuracy", method="frozen", **point) == 0.7205
    assert card["training"]["seconds"] == 601
    assert card_metric(card, "accuracy_std", method="from scratch", **point) == 0.0123
    assert card["command"] == ('python -m benchmarks.pretraining --data-dir "$ZOO_DATA_DIR" '
                               "--candidates cae --features conv --preset mine --out runs/pretraining")
    assert "features='conv'" in card["notes"] and "40 epochs" in card["notes"]
    assert "points of accuracy: +3.0 with 10 per class." in card["notes"]
    assert card_metric(card, "transfer_gain_points", **point) == pytest.approx(3.05)
    assert card["training"]["fine_tune_learning_rate"] == 3e-4
    assert str(tmp_path) not in (shipped / "mine.md").read_text()
    np.testing.assert_array_equal(load_preset("mine").get_weights()[0], candidate.get_weights()[0])


def test_pretraining_benchmark_will_not_ship_a_quick_candidate():
    from benchmarks import pretraining

    with pytest.raises(SystemExit):
        pretraining.main(["--quick", "--preset", "smoke"])


def test_quality_benchmark_prints_the_results_table(tmp_path, capsys):
    """`benchmarks.quality` prints the table of the full runs in docs/results.md row for
    row (the metrics and columns) and reads every number of it from the report folders."""
    from benchmarks import quality

    tables = {
        ("autoencoder", "metrics"): [{"latent dim": 36, "test MSE": 0.00686}],
        ("finetune", "accuracy"): [{"labels": "all labels", "method": m, "test accuracy": a}
                                   for m, a in (("frozen", 0.872), ("fine-tuned", 0.893),
                                                ("from scratch", 0.907))],
        ("denoising", "metrics"): [{"corruption": "gaussian", "level": "sigma=0.3",
                                    "PSNR gain (dB)": 6.3}],
        ("tuning", "cross_validation"): [{"fold": "mean ± std", "test MSE": "0.0138 ± 0.0007"}],
        ("vae", "metrics"): [{"IWAE log-likelihood": -87.85}],
        ("gan", "metrics"): [{"domain FID": 3.82, "domain FID real vs real": 0.28,
                              "min class share": 0.063, "max class share": 0.14}],
        ("latent", "scores"): [{"model": "AE", "linear probe accuracy": 0.819},
                               {"model": "VAE", "linear probe accuracy": 0.793}],
    }
    for (recipe, stem), rows in tables.items():
        (tmp_path / "full-fashion_mnist" / recipe).mkdir(parents=True)
        (tmp_path / "full-fashion_mnist" / recipe / f"{stem}.json").write_text(json.dumps({"rows": rows}))
    rows = quality.main(["--reports", str(tmp_path)])
    printed = capsys.readouterr().out

    results = (ROOT / "docs" / "results.md").read_text()
    section = results[results.index("What the full runs measure"):]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    header, _, *body = lines[start:end]
    assert printed.splitlines()[0] == header
    assert [row["metric"] for row in rows] == [line.split(" | ")[0].lstrip("| ") for line in body]
    fashion = {row["metric"]: row["Fashion-MNIST"] for row in rows}
    assert "not run" not in fashion.values() and {row["MNIST"] for row in rows} == {"not run"}
    assert fashion["MLP GAN: domain FID (real vs. real); smallest / largest class share"] == \
        "3.82 (0.28); 6.3% / 14.0%"
    assert fashion["linear probe on CAE / VAE codes (latent 16)"] == "0.819 / 0.793"
