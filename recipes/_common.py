"""Arguments and set-up shared by every recipe."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

# Lines TensorFlow's native libraries print while loading, before its logging starts, so
# that TF_CPP_MIN_LOG_LEVEL cannot hide them (no GPU here is not news to a CPU user).
STARTUP_NOISE = ("All log messages before absl::InitializeLog()", "cudart_stub.cc",
                 "Could not find cuda drivers", "oneDNN custom operations are on")


@contextlib.contextmanager
def native_stderr_without(noise: tuple):
    """Capture the process's stderr (file descriptor 2) and replay it less ``noise`` lines."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (an embedding host): leave it be
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not any(pattern in line for pattern in noise):
                    sys.stderr.write(line)
            sys.stderr.flush()


# Recipes are programs, so they (not the library) quiet TensorFlow: its C++ log level
# (cuInit, NodeDef attributes) must be set before it is imported (with Keras, on its
# backend); real errors still raise.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
with native_stderr_without(STARTUP_NOISE):
    import keras

    from zoo import data as zoo_data
    from zoo.distribute import get_strategy
    from zoo.training import set_seed

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    # Python-side warnings such as tf.function retracing notes repeat once per model.
    tf.get_logger().setLevel("ERROR")


# Holds the strategy scope a recipe enters: a scope object that is garbage-collected
# closes its variable-creator scope, and new variables would silently not be distributed.
_PROCESS_SCOPES = contextlib.ExitStack()


def command_name() -> str:
    """How the user runs the recipes: ``deepzoo`` (installed) or ``python -m recipes``."""
    return "deepzoo" if Path(sys.argv[0]).name == "deepzoo" else f"python -m {__package__}"


class RecipeParser(argparse.ArgumentParser):
    """An argument parser that also rejects option combinations a recipe cannot honour.

    Every bad command line ends in argparse's one-line ``error:`` and exit status 2.
    Options whose default depends on ``--quick`` (`quick_default`) are resolved here, so
    that a recipe reads its options and never changes them.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._quick_defaults = {}

    def error(self, message):
        """One line, ``<prog>: error: <message>``, and exit status 2 (argparse prints the
        usage first; ``--help`` shows it)."""
        self.exit(2, f"{self.prog}: error: {message}\n")

    def quick_default(self, dest: str, default, quick) -> None:
        """``dest`` (an option whose default is None) defaults to ``quick`` with --quick."""
        self._quick_defaults[dest] = (default, quick)

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        for dest, (default, quick) in self._quick_defaults.items():
            if getattr(parsed, dest) is None:
                setattr(parsed, dest, quick if parsed.quick else default)
        data_dir = parsed.data_dir or os.environ.get("ZOO_DATA_DIR")
        builtin = parsed.dataset in zoo_data.CLASS_NAMES
        if not builtin and (parsed.data_dir or parsed.source != "auto"):
            self.error(f"--dataset {parsed.dataset} names its data itself; --data-dir and "
                       f"--source apply to the built-in {', '.join(sorted(zoo_data.CLASS_NAMES))}")
        if parsed.quick and (parsed.data_dir or parsed.source not in ("auto", "sample")):
            self.error("--quick runs on the embedded sample; drop --data-dir/--source, "
                       "or drop --quick to train on them")
        if parsed.source == "idx" and not data_dir:
            self.error("--source idx needs --data-dir <folder of IDX .gz files> or ZOO_DATA_DIR")
        if parsed.source == "sample" and parsed.data_dir:
            self.error("--source sample reads the embedded sample; --data-dir would be ignored")
        if parsed.data_dir and not Path(parsed.data_dir).is_dir():
            self.error(f"--data-dir {parsed.data_dir}: no such folder")
        if complaint := out_inside_data(parsed.dataset, parsed.out):
            self.error(complaint)
        return parsed


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each option's default, except where there is none to show (None:
    the help says what happens, e.g. "default: $ZOO_DATA_DIR")."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def base_parser(description: str, epochs: int, quick_epochs: int, exportable: bool = False,
                *, name: str) -> argparse.ArgumentParser:
    """The options every recipe shares; ``name`` is the recipe's subcommand."""
    parser = RecipeParser(
        prog=f"{command_name()} {name}", description=description,
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", default="fashion_mnist", type=dataset_spec,
                        help=f"a built-in dataset ({', '.join(sorted(zoo_data.CLASS_NAMES))}), "
                             "tfds:<name> for an image-classification dataset of "
                             "tensorflow-datasets, or a folder of images (one sub-folder per "
                             "class, or none) or an .npz file")
    parser.add_argument("--source", default="auto", choices=zoo_data.SOURCES,
                        help="where a built-in dataset comes from (see zoo.data); --quick "
                             "forces 'sample'")
    parser.add_argument("--data-dir", default=None,
                        help="folder of IDX .gz files (default: $ZOO_DATA_DIR)")
    parser.add_argument("--image-size", type=positive_int, nargs=2, default=None,
                        metavar=("HEIGHT", "WIDTH"),
                        help="resize every image to this size (needed for images of mixed sizes)")
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help=f"training epochs (default {epochs}; {quick_epochs} with --quick)")
    parser.add_argument("--batch-size", type=positive_int, default=128)
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--strategy", default=None,
                        help="tf.distribute strategy: default, mirrored[:DEV,...] or multiworker "
                             "(TF_CONFIG); default $ZOO_STRATEGY, else 'default'. "
                             "--batch-size is the global batch")
    parser.add_argument("--quick", action="store_true",
                        help="a fast run (few epochs, small grids), for a first look and for "
                             "CI: on the embedded sample for a built-in dataset, else on the "
                             "data given")
    parser.add_argument("--out", type=Path, default=Path("reports/latest"),
                        help="report folder; this recipe writes into <out>/<recipe>/")
    add_compute_arguments(parser)
    if exportable:
        parser.add_argument("--export", action="store_true",
                            help="also write a TensorFlow SavedModel to <out>/<recipe>/savedmodel/1 "
                                 "(TF Serving's versioned layout)")
    parser.quick_default("epochs", epochs, quick_epochs)
    return parser


DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def add_compute_arguments(parser) -> None:
    """How the models compute: options of every recipe, which ``run`` passes on to each."""
    parser.add_argument("--dtype-policy", default="float32", choices=DTYPE_POLICIES,
                        help="Keras dtype policy of the models: the mixed ones compute in 16 "
                             "bits and keep float32 weights (faster on a GPU, not on most CPUs)")
    parser.add_argument("--steps-per-execution", type=positive_int, default=1, metavar="N",
                        help="training steps per compiled call (Keras compile's "
                             "steps_per_execution); more of them speed small models up on a GPU")


def add_model_arguments(parser, latent_dim: int) -> None:
    """The architecture and optimiser options of the recipes that train a zoo autoencoder."""
    parser.add_argument("--latent-dim", type=positive_int, default=latent_dim)
    parser.add_argument("--filters", type=positive_int, default=32)
    parser.add_argument("--dense-units", type=non_negative_int, default=256)
    parser.add_argument("--learning-rate", type=positive_float, default=1e-3)


def add_preset_arguments(parser, what: str) -> None:
    """``--preset NAME`` saves ``what`` as a preset, in ``--preset-dir`` (default: the
    user's preset folder, `zoo.presets.user_preset_dir`; ``saved_models`` of a checkout
    for a preset to ship)."""
    parser.add_argument("--preset", default=None, type=preset_name,
                        help=f"also save {what} as this preset (a name, not a path)")
    parser.add_argument("--preset-dir", type=Path, default=None,
                        help="where --preset writes (default: $ZOO_PRESET_DIR, else the "
                             "per-user folder zoo.presets.user_preset_dir())")


def build_autoencoder(args, image_shape, **options):
    """A `ConvAutoencoder` from `add_model_arguments`' options, compiled with Adam and MSE."""
    import keras

    from zoo import ConvAutoencoder

    model = ConvAutoencoder(latent_dim=args.latent_dim, filters=args.filters,
                            dense_units=args.dense_units, input_shape=image_shape, **options)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="mse",
                  steps_per_execution=args.steps_per_execution)
    return model


def timed_fit(model, train, run_dir, images_per_epoch: int, callbacks=(), **fit_kwargs) -> dict:
    """`model.fit` made resumable in ``run_dir``; returns the tables' timing columns.

    A kill during training resumes after the last finished epoch (`resumable_callbacks`).
    A kill after it, while the recipe scores the model, does not retrain: the trained
    weights and timing are kept in ``run_dir/trained/``, and a rerun of the same model
    (config) and epochs loads them."""
    from zoo.saving import atomic_path
    from zoo.training import EpochTimer, resumable_callbacks

    trained = Path(run_dir) / "trained"
    config = {key: value for key, value in model.get_config().items() if key != "name"}
    run = {"config": config, "epochs": fit_kwargs.get("epochs", 1)}
    if (trained / "run.json").is_file():
        record = json.loads((trained / "run.json").read_text())
        if record["run"] == json.loads(json.dumps(run, default=str)):
            with warnings.catch_warnings():  # the optimizer's state: not needed any more
                warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
                model.load_weights(trained / "model.weights.h5")
            print(f"[resume] {run_dir} finished training before: loaded its weights", flush=True)
            return record["timing"]
        (trained / "run.json").unlink()  # another run: its weights are about to be replaced
    timer = EpochTimer()
    started = time.perf_counter()
    model.fit(train, callbacks=resumable_callbacks(run_dir) + [*callbacks, timer], verbose=2,
              **fit_kwargs)
    timing = {
        "train seconds": round(time.perf_counter() - started, 1),
        "train images/s": round(timer.images_per_second(images_per_epoch), 1) if timer.seconds else "",
    }
    trained.mkdir(parents=True, exist_ok=True)
    model.save_weights(trained / "model.weights.h5")
    with atomic_path(trained / "run.json") as tmp:  # written last: the weights are complete
        tmp.write_text(json.dumps({"run": run, "timing": timing}, default=str))
    return timing


def save_outputs(model, out_dir, export: bool) -> None:
    """``<out_dir>/model.keras``, plus a SavedModel in ``<out_dir>/savedmodel/1`` if asked."""
    from zoo import export_saved_model, save_model

    save_model(model, out_dir / "model.keras")
    if export:
        path = export_saved_model(model, out_dir / "savedmodel", version=1)
        print(f"SavedModel: {path} (serve with --model_base_path={path.parent.resolve()})",
              flush=True)


def conditional_accuracy_goal(samples: int, **setting) -> dict:
    """#24's and #30's goal as a `zoo.presets.goal`: 0.95 of ``samples`` class-balanced
    samples called their class by the feature classifier."""
    from zoo.presets import goal

    return goal("conditional_accuracy", 0.95, better="higher", samples=samples, **setting)


def classifier_reference(row: dict, dataset) -> dict:
    """The conditional-accuracy `zoo.presets.reference` of the generative protocol: the
    feature classifier of ``row``'s scores on the real test images."""
    from zoo.presets import reference

    return reference("conditional_accuracy", round(row["classifier test accuracy"], 4),
                     samples=len(dataset.x_test),
                     source="the feature classifier on the real test images")


def portable_command(recipe: str, argv, package: str = "recipes") -> str:
    """The command line a model card records, ``python -m <package>.<recipe> ...``,
    runnable in a fresh checkout.

    The data folder becomes ``"$ZOO_DATA_DIR"``, an absolute ``--out`` a relative
    ``runs/<recipe>`` and an absolute ``--preset-dir`` ``saved_models`` (the shipped
    presets' folder in a checkout), so no path of this machine is recorded.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    for i, (option, value) in enumerate(zip(argv, argv[1:])):
        if option == "--data-dir":
            argv[i + 1] = '"$ZOO_DATA_DIR"'
        elif option == "--out" and Path(value).is_absolute():
            argv[i + 1] = f"runs/{recipe}"
        elif option == "--preset-dir" and Path(value).is_absolute():
            argv[i + 1] = "saved_models"
    return " ".join([f"python -m {package}.{recipe}", *argv])


# The table columns a model card keeps, by their machine names (`zoo.presets.metric`).
CARD_METRICS = {
    "test MSE": "mse", "test perplexity": "perplexity",
    "prior NLL (nats/image)": "prior_nll_nats", "test loss": "negative_elbo_nats",
    "test reconstruction": "reconstruction_nats", "test KL": "kl_nats",
    "domain FID": "domain_fid", "domain FID real vs real": "domain_fid_real_vs_real",
    "min class share": "min_class_share", "max class share": "max_class_share",
    "conditional accuracy": "conditional_accuracy", "worst class accuracy": "worst_class_accuracy",
}


def card_metrics(row: dict, columns, samples: int, **setting) -> list:
    """Columns ``columns`` of table row ``row`` (those it has), as model-card records
    measured on ``samples`` test images or draws, with ``setting``."""
    from zoo.presets import metric

    return [metric(CARD_METRICS[column], row[column], samples=samples, **setting)
            for column in columns if row.get(column, "") != ""]


def save_recipe_preset(model, recipe: str, args, argv, dataset, metrics: list,
                       training: dict, notes: str | None = None, data: str | None = None,
                       started_from: str | None = None, goals=(), references=()) -> None:
    """``model`` as preset ``args.preset`` in ``args.preset_dir``, its card holding this
    run's portable command, ``metrics`` (`zoo.presets.metric` records), ``training``
    (``epochs``, ``seconds``), ``notes``, ``goals`` and ``references`` (`zoo.presets.goal`
    and `reference` records); ``data`` defaults to the dataset's summary. A model that
    ``started_from`` another preset records that preset's command first."""
    from zoo.presets import preset_card, save_preset

    command = portable_command(recipe, argv)
    if started_from:
        command = f"{preset_card(started_from)['command']} && {command}"
    card = {"command": command, "data": data or dataset.summary(),
            "metrics": metrics, "training": training}
    for key, value in (("notes", notes), ("goals", list(goals)),
                       ("references", list(references))):
        if value:
            card[key] = value
    save_preset(model, args.preset, folder=args.preset_dir, card=card)


def preset_name(text: str) -> str:
    """An argparse ``type`` for a preset name (`zoo.presets.check_preset_name`)."""
    from zoo.presets import check_preset_name

    try:
        return check_preset_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _number(kind, accept, requirement):
    """An argparse ``type`` that parses ``kind`` and rejects values failing ``accept``."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
        return value
    parse.__name__ = requirement  # argparse names the type in some messages
    return parse


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
non_negative_int = _number(int, lambda v: v >= 0, "a non-negative integer")
positive_float = _number(float, lambda v: math.isfinite(v) and v > 0, "a positive number")
non_negative_float = _number(float, lambda v: math.isfinite(v) and v >= 0, "a non-negative number")
fraction = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
half_fraction = _number(float, lambda v: 0 <= v < 0.5, "a number in [0, 0.5)")


def prepare(args, recipe: str):
    """Set the dtype policy, seed, load the data and make the output folder.

    Returns ``(dataset, out_dir)``; says which data source was used.
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    worker = enter_strategy(args.strategy)
    # Global, for every model built from here on: a program's choice, never the library's.
    keras.config.set_dtype_policy(args.dtype_policy)
    set_seed(args.seed)
    try:
        dataset = load_data(args)
    except zoo_data.DataError as error:  # missing or corrupt files: say which, no traceback
        raise SystemExit(f"{command_name()} {recipe}: error: {error}") from None
    print(f"[{recipe}] data: {dataset.summary()}", flush=True)
    if getattr(args, "pretrained", None):  # a recipe's --pretrained preset must fit the data
        from zoo.base import check_preset_shape

        try:
            check_preset_shape(args.pretrained, dataset.image_shape)
        except ValueError as error:
            raise SystemExit(f"{command_name()} {recipe}: error: --pretrained {error}") from None
    out_dir = Path(args.out) / recipe
    if worker:  # only the chief writes the report; other workers keep their files apart
        out_dir = out_dir / f"worker{worker}"
    out_dir.mkdir(parents=True, exist_ok=True)
    run = {"recipe": recipe, "data": dataset.summary(), "source": dataset.source,
           "arguments": {k: str(v) for k, v in vars(args).items()}}
    (out_dir / "run.json").write_text(json.dumps(run, indent=2))
    return dataset, out_dir


def distributed() -> bool:
    """Whether an earlier recipe of this process set up a distribution (`enter_strategy`)."""
    if keras.backend.backend() == "tensorflow":
        return tf.distribute.has_strategy()
    return keras.distribution.distribution() is not None


def enter_strategy(name: str) -> int:
    """Set up the strategy ``name`` (`zoo.get_strategy`) for the rest of the process, once;
    return this worker's index (0 but on the other workers of a multi-worker run)."""
    if keras.backend.backend() != "tensorflow":
        strategy = None if distributed() else get_strategy(name)
        if strategy is not None and len(strategy.device_mesh.devices.flat) > 1:
            keras.distribution.set_distribution(strategy)
        return 0
    if tf.distribute.has_strategy():  # an earlier recipe of this process set it up
        strategy = tf.distribute.get_strategy()
    else:
        # The multi-worker strategy must exist before TensorFlow runs anything.
        strategy = get_strategy(name)
        if strategy is not tf.distribute.get_strategy():
            # Everything built from here on lives under the strategy, as in the body of
            # a `with strategy.scope():` that lasts for the rest of the process.
            _PROCESS_SCOPES.enter_context(strategy.scope())
    return getattr(strategy.cluster_resolver, "task_id", None) or 0


def dataset_spec(text: str) -> str:
    """An argparse ``type`` for --dataset: a built-in name, ``tfds:<name>``, or a path."""
    if (text in zoo_data.CLASS_NAMES or text.startswith("tfds:") and len(text) > len("tfds:")
            or Path(text).expanduser().exists()):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a built-in dataset ({', '.join(sorted(zoo_data.CLASS_NAMES))}), "
        "tfds:<name> (e.g. tfds:kmnist), or an existing folder or .npz file")


def load_data(args):
    """The `ImageDataset` that --dataset names (--quick reads a built-in one's sample)."""
    options = {"seed": args.seed, "image_size": args.image_size}
    if args.dataset in zoo_data.CLASS_NAMES:
        source = "sample" if args.quick else args.source
        return zoo_data.load_dataset(args.dataset, source=source, data_dir=args.data_dir,
                                     **options)
    if args.dataset.startswith("tfds:"):
        return zoo_data.load_dataset(args.dataset[len("tfds:"):], source="tfds", **options)
    return zoo_data.load_images(args.dataset, **options)


def shown_examples(dataset, count: int = 10) -> list:
    """Indices of the test images a figure shows: the first of each class, up to ``count``
    of them; without labels, the first ``count`` images."""
    if not dataset.labelled:
        return list(range(min(count, len(dataset.x_test))))
    seen = {}
    for i, label in enumerate(dataset.y_test):
        seen.setdefault(int(label), i)
    return [seen[c] for c in sorted(seen)][:count]


def no_labels(recipe: str, skipped: str) -> None:
    """Say, in one line, what ``recipe`` leaves out because the dataset has no labels."""
    print(f"[{recipe}] no labels: {skipped} skipped", flush=True)


def sample_scores(recipe: str, samples, dataset, args):
    """`zoo.metrics.dataset_generative_scores` of generated ``samples`` (domain FID, class
    shares); without labels None, said in one line, since the FID's feature classifier
    learns the labels."""
    if not dataset.labelled:
        no_labels(recipe, "domain FID and class shares of samples")
        return None
    from zoo.metrics import dataset_generative_scores

    return dataset_generative_scores(samples, dataset, args.classifier_epochs, args.seed)


class RecipeSkipped(SystemExit):
    """A recipe that cannot run on this data, and why: exit status 0 on its own, and status
    "skipped" with the ``reason`` in the report of ``run``."""

    def __init__(self, recipe: str, reason: str):
        print(f"[{recipe}] skipped: {reason}", flush=True)
        super().__init__(0)
        self.reason = reason


def report_folder_name(dataset: str) -> str:
    """A folder name for ``dataset`` (a built-in name, ``tfds:<name>`` or a path): the
    name, ``tfds-<name>`` with ``/`` as ``-``, or the folder's name or the file's stem."""
    if dataset in zoo_data.CLASS_NAMES:
        return dataset
    if dataset.startswith("tfds:"):
        return "tfds-" + dataset[len("tfds:"):].replace("/", "-")
    path = Path(dataset).expanduser().resolve()
    return path.name if path.is_dir() else path.stem


def out_inside_data(dataset: str, out) -> str | None:
    """The complaint when report folder ``out`` lies inside the data folder ``dataset``
    (the next run would read the report's figures as images); else None."""
    data = Path(dataset).expanduser().resolve()
    if data.is_dir() and Path(out).expanduser().resolve().is_relative_to(data):
        return (f"--out {out} lies inside the data folder {dataset}, whose next load would "
                "read the report's files; choose a folder outside it")
    return None
