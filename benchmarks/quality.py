"""The reports' headline numbers beside the zoo's, from full-data report folders.

    python -m benchmarks.quality [--reports reports]

Reads the metric tables that recipes write (``<reports>/full-<dataset>/<recipe>/*.json``)
after full-data runs such as
``python -m recipes run all --dataset fashion_mnist --data-dir "$ZOO_DATA_DIR" --out reports/full-fashion_mnist``
(or one recipe at a time with the same ``--out``), and prints one Markdown table. A number
whose run is missing is shown as "not run", never guessed. A second table gives each
recipe's wall time in minutes, from the ``study.json`` that ``run all`` writes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recipes import _common  # noqa: F401  first: it quiets TensorFlow's start-up lines
from recipes._report import markdown_table  # noqa: E402

# (what, dataset, recipe, table stem, row filter, column, the reports' value, better)
REFERENCES = [
    ("CAE test MSE, latent 36", "fashion_mnist", "autoencoder", "metrics", {"latent dim": 36},
     "test MSE", 0.00917, "lower"),
    ("CAE test MSE, latent 9", "mnist", "autoencoder", "metrics", {"latent dim": 9},
     "test MSE", 0.0164, "lower"),
    ("classifier on frozen CAE encoder, test accuracy", "fashion_mnist", "finetune", "accuracy",
     {"labels": "all labels", "method": "frozen"}, "test accuracy", 0.816, "higher"),
    ("classifier, fine-tuned CAE encoder, test accuracy", "fashion_mnist", "finetune", "accuracy",
     {"labels": "all labels", "method": "fine-tuned"}, "test accuracy", 0.87, "higher"),
    ("CNN from scratch, test accuracy", "fashion_mnist", "finetune", "accuracy",
     {"labels": "all labels", "method": "from scratch"}, "test accuracy", None, "higher"),
    ("classifier on frozen CAE encoder, test accuracy", "mnist", "finetune", "accuracy",
     {"labels": "all labels", "method": "frozen"}, "test accuracy", 0.94, "higher"),
    ("CNN from scratch, test accuracy", "mnist", "finetune", "accuracy",
     {"labels": "all labels", "method": "from scratch"}, "test accuracy", None, "higher"),
    ("denoising AE PSNR gain over noisy input at sigma=0.3 (dB)", "fashion_mnist", "denoising",
     "metrics", {"corruption": "gaussian", "level": "sigma=0.3"}, "PSNR gain (dB)", None, "higher"),
    ("linear probe on CAE codes (latent 16), test accuracy", "mnist", "latent", "scores",
     {"model": "AE"}, "linear probe accuracy", None, "higher"),
    ("linear probe on VAE codes (latent 16), test accuracy", "mnist", "latent", "scores",
     {"model": "VAE"}, "linear probe accuracy", None, "higher"),
    ("tuned CAE, 5-fold CV test MSE (4 epochs per fold)", "fashion_mnist", "tuning",
     "cross_validation", {"fold": "mean ± std"}, "test MSE", None, "lower"),
    # The best one-stochastic-layer VAE reference: the IWAE paper's VAE, 86.8 nats (Burda et
    # al., 2016; a fully connected VAE in a public benchmark table: 87.0). The IWAE objective
    # itself (k=50) reaches 84.8 there.
    ("VAE test log-likelihood (nats, IWAE)", "mnist", "vae", "metrics", {},
     "IWAE log-likelihood", -86.8, "higher"),
    ("VAE test loss (negative ELBO, nats)", "mnist", "vae", "metrics", {}, "test loss", None, "lower"),
    # The reports had no FID; the floor is the same statistic between two real image sets.
    ("VAE domain FID (floor: real vs real)", "mnist", "vae", "metrics", {}, "domain FID", None, "lower"),
    ("GAN domain FID (floor: real vs real)", "fashion_mnist", "gan", "metrics", {}, "domain FID",
     None, "lower"),
    # Uniform is 0.1 per class; the bar for a balanced generator is 0.06-0.14.
    ("GAN samples: smallest class share", "fashion_mnist", "gan", "metrics", {}, "min class share",
     None, "higher"),
    ("GAN samples: largest class share", "fashion_mnist", "gan", "metrics", {}, "max class share",
     None, "lower"),
    # Recipes run on both datasets: the other dataset's row, no reference.
    ("CAE test MSE, latent 36", "mnist", "autoencoder", "metrics", {"latent dim": 36},
     "test MSE", None, "lower"),
    ("linear probe on CAE codes (latent 16), test accuracy", "fashion_mnist", "latent", "scores",
     {"model": "AE"}, "linear probe accuracy", None, "higher"),
    ("linear probe on VAE codes (latent 16), test accuracy", "fashion_mnist", "latent", "scores",
     {"model": "VAE"}, "linear probe accuracy", None, "higher"),
    ("VAE domain FID (floor: real vs real)", "fashion_mnist", "vae", "metrics", {}, "domain FID",
     None, "lower"),
    ("GAN domain FID (floor: real vs real)", "mnist", "gan", "metrics", {}, "domain FID", None,
     "lower"),
]


def lookup(reports: Path, dataset, recipe, stem, where, column):
    path = reports / f"full-{dataset}" / recipe / f"{stem}.json"
    if not path.is_file():
        return None
    for row in json.loads(path.read_text())["rows"]:
        if all(row.get(k) == v for k, v in where.items()):
            return row.get(column)
    return None


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    rows = []
    for what, dataset, recipe, stem, where, column, reference, better in REFERENCES:
        value = lookup(args.reports, dataset, recipe, stem, where, column)
        if "floor" in what and value is not None:
            floor = lookup(args.reports, dataset, recipe, stem, where, column + " real vs real")
            what = what.replace("floor:", f"floor {floor:.3g}:") if floor is not None else what
        rows.append({
            "metric": what, "dataset": dataset, "reports": "none" if reference is None else reference,
            "deepzoo": "not run" if value is None else value, "better": better,
            "deepzoo better?": "" if value is None or reference is None else
            ("yes" if (value < reference if better == "lower" else value > reference) else "no"),
        })
    print(markdown_table(rows))
    times = wall_times(args.reports)
    if times:
        print()
        print(markdown_table(times))
    return rows


def wall_times(reports: Path) -> list:
    """One row per recipe: its minutes in each ``full-<dataset>`` run of ``run all``."""
    runs = {dataset: json.loads(path.read_text())
            for dataset in sorted({r[1] for r in REFERENCES})
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
