"""Arguments and set-up shared by every recipe."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import time
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


def base_parser(description: str, epochs: int, quick_epochs: int,
                exportable: bool = False) -> argparse.ArgumentParser:
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
    if exportable:
        parser.add_argument("--export", action="store_true",
                            help="also write a TensorFlow SavedModel to <out>/<recipe>/savedmodel")
    parser.set_defaults(default_epochs=epochs, quick_epochs=quick_epochs)
    return parser


def add_model_arguments(parser, latent_dim: int) -> None:
    """The architecture and optimiser options of the recipes that train a zoo autoencoder."""
    parser.add_argument("--latent-dim", type=int, default=latent_dim)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--dense-units", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=1e-3)


def build_autoencoder(args, image_shape, **options):
    """A `ConvAutoencoder` from `add_model_arguments`' options, compiled with Adam and MSE."""
    import keras

    from zoo import ConvAutoencoder

    model = ConvAutoencoder(latent_dim=args.latent_dim, filters=args.filters,
                            dense_units=args.dense_units, input_shape=image_shape, **options)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="mse")
    return model


def timed_fit(model, train, run_dir, images_per_epoch: int, callbacks=(), **fit_kwargs) -> dict:
    """`model.fit` made resumable in ``run_dir``; returns the tables' timing columns."""
    from zoo.training import EpochTimer, resumable_callbacks

    timer = EpochTimer()
    started = time.perf_counter()
    model.fit(train, callbacks=resumable_callbacks(run_dir) + [*callbacks, timer], verbose=2,
              **fit_kwargs)
    return {
        "train seconds": round(time.perf_counter() - started, 1),
        # A run resumed after its last epoch trains none, so it has no throughput.
        "train images/s": round(timer.images_per_second(images_per_epoch), 1) if timer.seconds else "",
    }


def save_outputs(model, out_dir, export: bool) -> None:
    """``<out_dir>/model.keras``, plus a SavedModel in ``<out_dir>/savedmodel`` if asked."""
    from zoo import export_saved_model, save_model

    save_model(model, out_dir / "model.keras")
    if export:
        export_saved_model(model, out_dir / "savedmodel")


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
