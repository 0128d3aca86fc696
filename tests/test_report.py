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
    rows = {(r["metric"], r["dataset"]): r for r in quality.main(["--reports", str(tmp_path)])}
    cae = rows[("CAE test MSE, latent 36", "fashion_mnist")]
    assert cae["deepzoo"] == 0.007 and cae["deepzoo better?"] == "yes"  # reports: 0.00917
    assert rows[("CAE test MSE, latent 9", "mnist")]["deepzoo"] == "not run"
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
