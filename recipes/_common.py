"""Arguments and set-up shared by every recipe."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
from pathlib import Path

# Quiet TensorFlow's C++ start-up chatter before it is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from zoo import data as zoo_data  # noqa: E402
from zoo.distribute import get_strategy  # noqa: E402
from zoo.training import set_seed  # noqa: E402


# Holds the strategy scope a recipe enters: a scope object that is garbage-collected
# closes its variable-creator scope, and new variables would silently not be distributed.
_PROCESS_SCOPES = contextlib.ExitStack()


def base_parser(description: str, epochs: int, quick_epochs: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--dataset", default="fashion_mnist", choices=sorted(zoo_data.CLASS_NAMES))
    parser.add_argument("--source", default="auto", choices=zoo_data.SOURCES,
                        help="where the data comes from (see zoo.data); --quick forces 'sample'")
    parser.add_argument("--data-dir", default=None,
                        help="folder of IDX .gz files (default: $ZOO_DATA_DIR)")
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help=f"training epochs (default {epochs}; {quick_epochs} with --quick)")
    parser.add_argument("--batch-size", type=positive_int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategy", default=None,
                        help="tf.distribute strategy: default, mirrored[:DEV,...] or multiworker "
                             "(TF_CONFIG); default $ZOO_STRATEGY, else 'default'. "
                             "--batch-size is the global batch")
    parser.add_argument("--quick", action="store_true",
                        help="a fast run on the embedded sample, for a first look and for CI")
    parser.add_argument("--out", type=Path, default=Path("reports/latest"),
                        help="report folder; this recipe writes into <out>/<recipe>/")
    parser.set_defaults(default_epochs=epochs, quick_epochs=quick_epochs)
    return parser


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def prepare(args, recipe: str):
    """Seed, resolve epochs, load the data and make the output folder.

    Returns ``(dataset, out_dir)``; says which data source was used.
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if tf.distribute.has_strategy():  # an earlier recipe of this process set it up
        strategy = tf.distribute.get_strategy()
    else:
        # The multi-worker strategy must exist before TensorFlow runs anything.
        strategy = get_strategy(args.strategy)
        if strategy is not tf.distribute.get_strategy():
            # Everything built from here on lives under the strategy, as in the body of
            # a `with strategy.scope():` that lasts for the rest of the process.
            _PROCESS_SCOPES.enter_context(strategy.scope())
    set_seed(args.seed)
    if args.epochs is None:
        args.epochs = args.quick_epochs if args.quick else args.default_epochs
    source = "sample" if args.quick else args.source
    dataset = zoo_data.load_dataset(args.dataset, source=source, data_dir=args.data_dir,
                                    seed=args.seed)
    print(f"[{recipe}] data: {dataset.summary()}", flush=True)
    out_dir = Path(args.out) / recipe
    worker = getattr(strategy.cluster_resolver, "task_id", None) or 0
    if worker:  # only the chief writes the report; other workers keep their files apart
        out_dir = out_dir / f"worker{worker}"
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
