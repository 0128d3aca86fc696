"""The reports' headline numbers beside the zoo's, from full-data report folders.

    python -m benchmarks.quality [--reports reports]

Reads the metric tables that recipes write (``<reports>/full-<dataset>/<recipe>/*.json``)
after full-data runs such as
``python -m recipes run all --dataset fashion_mnist --data-dir "$ZOO_DATA_DIR" --out reports/full-fashion_mnist``
(or one recipe at a time with the same ``--out``), and prints the two tables of
docs/results.md: what the full runs measure beside the reports' numbers (one column per
dataset; a number whose run is missing is shown as "not run", never guessed), and each
recipe's wall time in minutes, from the ``study.json`` that ``run all`` writes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recipes import _common  # noqa: F401  first: it quiets TensorFlow's start-up lines
from recipes._report import markdown_table  # noqa: E402

DATASETS = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST"}


def value(reports: Path, dataset: str, recipe: str, stem: str, where: dict, column: str):
    """``column`` of the first row matching ``where`` in a run's table, or None."""
    path = reports / f"full-{dataset}" / recipe / f"{stem}.json"
    if not path.is_file():
        return None
    for row in json.loads(path.read_text())["rows"]:
        if all(row.get(k) == v for k, v in where.items()):
            return row.get(column)
    return None


def number(recipe, stem, where, column, form="{:.3g}"):
    """A cell reading one number of a run's table (``form`` formats it; a string, such as
    cross-validation's "mean ± std", is shown as it is)."""
    def read(reports, dataset):
        found = value(reports, dataset, recipe, stem, where, column)
        return found if found is None or isinstance(found, str) else form.format(found)
    return read


def gan_cell(reports, dataset):
    """The MLP GAN's domain FID (its real-vs-real floor); smallest / largest class share."""
    read = {column: value(reports, dataset, "gan", "metrics", {}, column)
            for column in ("domain FID", "domain FID real vs real", "min class share",
                           "max class share")}
    if None in read.values():
        return None
    return (f"{read['domain FID']:.3g} ({read['domain FID real vs real']:.2g}); "
            f"{read['min class share']:.1%} / {read['max class share']:.1%}")


def probes_cell(reports, dataset):
    """Linear-probe accuracy on the CAE's and the VAE's codes."""
    probes = [value(reports, dataset, "latent", "scores", {"model": model}, "linear probe accuracy")
              for model in ("AE", "VAE")]
    return None if None in probes else " / ".join(f"{p:.3g}" for p in probes)


# (metric, the reports' numbers, how to read a cell from one dataset's report folder):
# the rows and columns of the table "What the full runs measure" in docs/results.md.
ROWS = [
    ("CAE test MSE, latent 36", "0.00917 (Fashion-MNIST)",
     number("autoencoder", "metrics", {"latent dim": 36}, "test MSE")),
    ("classifier on the frozen CAE encoder, test accuracy", "0.816 / 0.94",
     number("finetune", "accuracy", {"labels": "all labels", "method": "frozen"}, "test accuracy")),
    ("classifier, fine-tuned CAE encoder, test accuracy", "0.87 (Fashion-MNIST)",
     number("finetune", "accuracy", {"labels": "all labels", "method": "fine-tuned"},
            "test accuracy")),
    ("CNN from scratch (same network), test accuracy", "",
     number("finetune", "accuracy", {"labels": "all labels", "method": "from scratch"},
            "test accuracy")),
    ("denoising CAE, PSNR gain over the noisy input at sigma 0.3", "",
     number("denoising", "metrics", {"corruption": "gaussian", "level": "sigma=0.3"},
            "PSNR gain (dB)", "{:.2g} dB")),
    ("tuned CAE, 5-fold cross-validated test MSE (4 epochs per fold)", "",
     number("tuning", "cross_validation", {"fold": "mean ± std"}, "test MSE")),
    # The best one-stochastic-layer VAE reference: the IWAE paper's VAE, 86.8 nats (Burda et
    # al., 2016; a fully connected VAE in a public benchmark table: 87.0).
    ("VAE (30 epochs), IWAE log-likelihood, k=100, 1000 test images", "-86.8 (MNIST)",
     number("vae", "metrics", {}, "IWAE log-likelihood", "{:.2f}")),
    # The reports had no FID; the floor is the same statistic between two real image sets.
    ("MLP GAN: domain FID (real vs. real); smallest / largest class share", "", gan_cell),
    ("linear probe on CAE / VAE codes (latent 16)", "", probes_cell),
]


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    rows = [{"metric": metric, "the reports": reports_said,
             **{name: cell(args.reports, dataset) or "not run" for dataset, name in DATASETS.items()}}
            for metric, reports_said, cell in ROWS]
    print(markdown_table(rows))
    times = wall_times(args.reports)
    if times:
        print()
        print(markdown_table(times))
    return rows


def wall_times(reports: Path) -> list:
    """One row per recipe: its minutes in each ``full-<dataset>`` run of ``run all``."""
    runs = {dataset: json.loads(path.read_text())
            for dataset in DATASETS
            if (path := reports / f"full-{dataset}" / "study.json").is_file()}
    rows = {}
    for dataset, run in runs.items():
        for recipe in run["recipes"]:
            row = rows.setdefault(recipe["name"], {"recipe": recipe["name"]})
            row[f"{dataset} min"] = (round(recipe["seconds"] / 60, 1) if recipe["status"] == "ok"
                                     else recipe["status"])
    for dataset, run in runs.items():
        minutes = round(sum(r["seconds"] for r in run["recipes"]) / 60, 1)
        rows.setdefault("total", {"recipe": "total"})[f"{dataset} min"] = \
            minutes if run.get("finished") else f"{minutes} (unfinished)"
    return list(rows.values())


if __name__ == "__main__":
    main()
