"""Arguments and set-up shared by every recipe."""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

# Quiet TensorFlow's C++ start-up chatter before it is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from zoo import data as zoo_data  # noqa: E402
from zoo.training import set_seed  # noqa: E402


def base_parser(description: str, epochs: int, quick_epochs: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--dataset", default="fashion_mnist", choices=sorted(zoo_data.CLASS_NAMES))
    parser.add_argument("--source", default="auto", choices=zoo_data.SOURCES,
                        help="where the data comes from (see zoo.data); --quick forces 'sample'")
    parser.add_argument("--data-dir", default=None,
                        help="folder of IDX .gz files (default: $ZOO_DATA_DIR)")
    parser.add_argument("--epochs", type=_positive_int, default=None,
                        help=f"training epochs (default {epochs}; {quick_epochs} with --quick)")
    parser.add_argument("--batch-size", type=_positive_int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="a fast run on the embedded sample, for a first look and for CI")
    parser.add_argument("--out", type=Path, default=Path("reports/latest"),
                        help="report folder; this recipe writes into <out>/<recipe>/")
    parser.set_defaults(default_epochs=epochs, quick_epochs=quick_epochs)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def prepare(args, recipe: str):
    """Seed, resolve epochs, load the data and make the output folder.

    Returns ``(dataset, out_dir)``; says which data source was used.
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    set_seed(args.seed)
    if args.epochs is None:
        args.epochs = args.quick_epochs if args.quick else args.default_epochs
    source = "sample" if args.quick else args.source
    dataset = zoo_data.load_dataset(args.dataset, source=source, data_dir=args.data_dir,
                                    seed=args.seed)
    print(f"[{recipe}] data: {dataset.summary()}", flush=True)
    out_dir = Path(args.out) / recipe
    out_dir.mkdir(parents=True, exist_ok=True)
    run = {"recipe": recipe, "data": dataset.summary(), "source": dataset.source,
           "arguments": {k: str(v) for k, v in vars(args).items()}}
    (out_dir / "run.json").write_text(json.dumps(run, indent=2))
    return dataset, out_dir


def one_per_class(labels, count: int = 10):
    """Indices of the first example of each class, up to ``count`` of them."""
    seen = {}
    for i, label in enumerate(labels):
        seen.setdefault(int(label), i)
    return [seen[c] for c in sorted(seen)][:count]
