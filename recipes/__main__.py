"""Run the study's recipes in order and gather them into one HTML report.

    python -m recipes run all --dataset fashion_mnist --quick --out reports/quick
    python -m recipes run autoencoder vae --data-dir ../shared/data
    python -m recipes list
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
import traceback
from importlib import metadata as importlib_metadata
from pathlib import Path

from recipes import _common  # noqa: F401  (sets the TF log level before TF loads)

# Report order: the autoencoder first (everything else builds on it), then its uses.
RECIPES = {
    "autoencoder": "Convolutional autoencoder",
    "denoising": "Denoising autoencoder",
    "finetune": "Transfer learning vs. training from scratch",
    "latent": "Latent space: AE vs. VAE",
    "vae": "Variational autoencoder",
    "gan": "Generative adversarial network",
    "tuning": "Hyperparameter search and cross-validation",
}
PACKAGES = ("deepzoo", "keras", "tensorflow", "keras-tuner", "scikit-learn", "matplotlib",
            "tensorflow-datasets", "numpy")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recipes", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the recipes")
    run = commands.add_parser("run", help="run recipes and write <out>/index.html")
    run.add_argument("recipes", nargs="+", help=f"'all' or any of: {', '.join(RECIPES)}")
    run.add_argument("--dataset", default="fashion_mnist")
    run.add_argument("--quick", action="store_true", help="every recipe on the embedded sample, fast")
    run.add_argument("--out", type=Path, default=None, help="default: reports/<dataset>[-quick]")
    run.add_argument("--seed", type=int, default=0)
    # Options the orchestrator does not know (e.g. --data-dir, --epochs) go to every recipe.
    args, passthrough = parser.parse_known_args(argv)
    if args.command == "list":
        for name, title in RECIPES.items():
            print(f"{name:12s} {title}")
        return 0

    names = list(RECIPES) if args.recipes == ["all"] else args.recipes
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {unknown}; choose from {list(RECIPES)} or 'all'")
    out = args.out or Path("reports") / (args.dataset + ("-quick" if args.quick else ""))
    common = ["--dataset", args.dataset, "--seed", str(args.seed), "--out", str(out)]
    common += ["--quick"] * args.quick + passthrough

    import keras
    import tensorflow as tf

    started, results = time.perf_counter(), []
    for i, name in enumerate(names, 1):
        print(f"\n=== [{i}/{len(names)}] {name}: {RECIPES[name]} ===", flush=True)
        if not tf.distribute.has_strategy():
            # Under a strategy, clearing would reuse collective-op keys of the last
            # recipe's (differently shaped) all-reduces.
            keras.backend.clear_session()
        t0 = time.perf_counter()
        result = {"name": name, "title": RECIPES[name]}
        try:
            importlib.import_module(f"recipes.{name}").main(common)
            result["status"] = "ok"
        except Exception as error:  # one broken recipe must not hide the others' results
            traceback.print_exc()
            result.update(status="failed", error=f"{type(error).__name__}: {error}")
        result["seconds"] = time.perf_counter() - t0
        print(f"=== {name}: {result['status']} in {result['seconds']:.0f} s ===", flush=True)
        results.append(result)

    from zoo.report import write_html_report

    total = time.perf_counter() - started
    metadata = {
        "dataset": args.dataset,
        "mode": "quick (embedded sample)" if args.quick else "full",
        "seed": args.seed,
        "wall time (s)": round(total, 1),
        "command": "python -m recipes " + " ".join(argv if argv is not None else sys.argv[1:]),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.system()}",
        **{name: _version(name) for name in PACKAGES},
    }
    title = f"deepzoo study: {args.dataset}" + (" (quick)" if args.quick else "")
    page = write_html_report(out, results, metadata, title)
    failed = [r["name"] for r in results if r["status"] != "ok"]
    print(f"\nreport: {page.resolve()} ({total:.0f} s; {len(failed)} failed {failed or ''})")
    return 1 if failed else 0


def _version(package: str) -> str:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
