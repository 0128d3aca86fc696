"""Transfer learning: classifiers on a pre-trained autoencoder's encoder vs. a CNN from scratch.

Pre-trains a ConvAutoencoder on the training images (no labels), or takes a preset, then
compares three classifiers of the same architecture (encoder + Dense(64) + softmax):
``frozen`` (head only), ``fine-tuned`` (a frozen warm-up, then everything at a lower
learning rate) and ``from scratch`` (random init), twice:

- **on all labels**, for ``--epochs``: validation accuracy vs. epoch and vs. wall-clock
  seconds, test confusion matrices and accuracies; the fine-tuned classifier is the
  recipe's product (``model.keras``, ``--export``, ``--preset``);
- **the label-efficiency study**: test accuracy against ``--labels-per-class`` (stratified,
  seeded subsets; ``all`` is the whole training split), mean ± std over ``--study-seeds``
  subsets, every variant trained for the same ``--study-steps`` Adam steps of 64 images.
  Each run's result is kept, so a rerun resumes.

The protocols are `zoo.transfer`'s and the figures `zoo.plotting`'s; this recipe reads the
command line, pre-trains or loads the encoder and writes the report.

``--features conv`` puts every variant's head on the encoder's flattened convolutional
features instead of its code (how the ``*_pretrained`` presets pay off with few labels).
``--shift``/``--flip`` augment the training images, ``--head-dropout`` regularises the head
and ``--schedule cosine`` lets each learning rate fall to zero by the last epoch, for all
three variants alike (the study gets the same augmentation and dropout). Together they
take the fine-tuned Fashion-MNIST classifier past 0.92 (the ``fashion_mnist_d36_classifier``
preset's card has the command).

    python -m recipes.finetune --quick
    python -m recipes.finetune --dataset fashion_mnist --data-dir "$ZOO_DATA_DIR" --epochs 5
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ._common import (RecipeSkipped, add_model_arguments, add_preset_arguments, base_parser,
                      build_autoencoder, fraction, half_fraction, non_negative_int,
                      positive_float, positive_int, prepare, save_outputs, save_recipe_preset)


def build_parser() -> argparse.ArgumentParser:
    """The recipe's options (`run all` routes to it only the options it takes)."""
    parser = base_parser(__doc__.splitlines()[0], epochs=10, quick_epochs=3, exportable=True,
                         name="finetune")
    parser.add_argument("--pretrain-epochs", type=positive_int, default=None,
                        help="autoencoder pre-training epochs (default: --epochs)")
    parser.add_argument("--warmup-epochs", type=non_negative_int, default=1,
                        help="frozen epochs before fine-tuning everything")
    parser.add_argument("--labels-per-class", type=label_counts, default=None,
                        help="the study's labels per class, comma-separated integers or 'all' "
                             "(default 10,100,1000,all; 10,100 with --quick)")
    parser.add_argument("--study-seeds", type=non_negative_int, default=None,
                        help="label subsets (seeds) per point of the study; 0 skips the study "
                             "(default 3; 2 with --quick)")
    parser.add_argument("--study-steps", type=positive_int, default=None,
                        help="Adam steps of each study run (default 1500; 300 with --quick)")
    add_model_arguments(parser, latent_dim=36)
    parser.add_argument("--hidden-units", type=positive_int, default=64)
    parser.add_argument("--fine-tune-learning-rate", type=positive_float, default=3e-4)
    parser.add_argument("--features", choices=("code", "conv"), default="code",
                        help="what the head reads: the encoder's code, or the flattened "
                             "feature maps of its convolutional trunk (before the bottleneck)")
    parser.add_argument("--head-dropout", type=fraction, default=0.0,
                        help="dropout between the head's two layers")
    parser.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                        help="learning rate per epoch of the all-labels runs: constant, or "
                             "falling towards zero by each phase's last epoch (the study's "
                             "runs keep a constant rate)")
    parser.add_argument("--shift", type=half_fraction, default=0.0,
                        help="augment training images with random shifts by up to this "
                             "fraction of their size (0: no augmentation)")
    parser.add_argument("--flip", action="store_true",
                        help="augment training images with random horizontal flips "
                             "(clothes, not digits)")
    parser.add_argument("--pretrained", default=None,
                        help="start from this preset's encoder (a ConvAutoencoder, VAE or "
                             "ContrastiveEncoder preset) instead of pre-training a CAE")
    add_preset_arguments(parser, "the fine-tuned all-labels classifier")
    parser.add_argument("--compare-pretrained", default="auto",
                        help="a preset whose frozen and fine-tuned heads (on its conv features) "
                             "join the label-efficiency study beside this run's encoder; 'auto' "
                             "(default): <dataset>_pretrained when it is shipped; 'none': no "
                             "comparison")
    parser.quick_default("labels_per_class", label_counts("10,100,1000,all"), label_counts("10,100"))
    parser.quick_default("study_seeds", 3, 2)
    parser.quick_default("study_steps", 1500, 300)
    return parser


def parse_args(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    given = {word.split("=")[0] for word in (sys.argv[1:] if argv is None else argv)}
    fixed_by_preset = sorted(given & {"--latent-dim", "--filters", "--dense-units",
                                      "--pretrain-epochs"})
    if args.pretrained and fixed_by_preset:
        parser.error(f"--pretrained {args.pretrained} fixes the encoder; drop "
                     f"{', '.join(fixed_by_preset)}")
    return args


def label_counts(text: str) -> list:
    """``--labels-per-class``: positive integers and ``all`` (None), comma-separated."""
    counts = []
    for word in (w.strip() for w in text.split(",") if w.strip()):
        if word == "all":
            counts.append(None)
        elif word.isdigit() and int(word) > 0:
            counts.append(int(word))
        else:
            raise argparse.ArgumentTypeError(
                f"must be comma-separated positive integers or 'all', got {text!r}")
    if not counts:
        raise argparse.ArgumentTypeError("needs at least one label count")
    return counts


def main(argv=None) -> dict:
    args = parse_args(argv)
    dataset, out = prepare(args, "finetune")
    if not dataset.labelled:
        raise RecipeSkipped("finetune", "no labels: the transfer study trains and tests "
                                        "classifiers on them")
    smallest_class = int(np.bincount(dataset.y_train).min())
    if args.study_seeds and max(n or 0 for n in args.labels_per_class) > smallest_class:
        raise SystemExit(f"finetune: error: --labels-per-class {args.labels_per_class}: the "
                         f"smallest class of {dataset.summary()} has {smallest_class} training "
                         "images")
    from zoo.classifier import TRANSFER_METHODS
    from zoo.plotting import plot_accuracy_curves, plot_confusion_matrices
    from zoo.transfer import train_variant
    from ._report import computed_on, write_table

    autoencoder, pretrain_seconds = _pretrained_autoencoder(args, dataset, out)
    setup = transfer_setup(args)
    results = {method: train_variant(method, autoencoder, dataset, setup, epochs=args.epochs,
                                     run_dir=out / f"run_all_{method.replace(' ', '_')}",
                                     warmup_epochs=_warmup_epochs(args),
                                     schedule=args.schedule, batch_size=args.batch_size,
                                     seed=args.seed, steps_per_execution=args.steps_per_execution)
               for method in TRANSFER_METHODS}
    _save_classifier(results, args, argv, dataset, out)
    rows = [{"labels": "all labels", "method": method,
             "labelled images": len(dataset.y_train),
             "trainable parameters": result["trainable_parameters"], "epochs": args.epochs,
             "test accuracy": result["test_accuracy"],
             "train s": round(result["train_seconds"], 1),
             "pre-training s": 0.0 if method == "from scratch" else pretrain_seconds,
             "dataset": dataset.name, "source": dataset.source}
            for method, result in results.items()]
    for row in rows:
        print(f"[finetune] all labels, {row['method']}: test accuracy {row['test accuracy']:.4f}",
              flush=True)
    plot_accuracy_curves({m: r["history"] for m, r in results.items()}, out / "accuracy_all.png",
                         f"{dataset.name}, all labels: validation accuracy")
    plot_confusion_matrices(dataset.y_test, {m: r["test_predictions"] for m, r in results.items()},
                            out / "confusion_all.png", dataset.class_names,
                            f"{dataset.name}, all labels: test confusion matrices")
    write_table(rows, out / "accuracy",
                "Test accuracy of frozen / fine-tuned encoder vs. CNN from scratch, all labels, "
                + computed_on(dataset, args.epochs) + _regularisation(args) + _quick_note(args))
    study = (_label_efficiency(autoencoder, dataset, setup, args, out, smallest_class)
             if args.study_seeds else [])
    print(f"[finetune] wrote {out}", flush=True)
    return {"accuracy": rows, "label_efficiency": study}


def transfer_setup(args):
    """The `zoo.transfer.TransferSetup` of the command line, shared by all runs."""
    from zoo.transfer import TransferSetup

    return TransferSetup(hidden_units=args.hidden_units, head_dropout=args.head_dropout,
                         features=args.features, learning_rate=args.learning_rate,
                         fine_tune_learning_rate=args.fine_tune_learning_rate, flip=args.flip,
                         shift=args.shift)


def _quick_note(args) -> str:
    return ("; --quick: a short run on the embedded sample, where pre-training has had too "
            "few epochs to pay off" if args.quick else "")


def _pretrained_autoencoder(args, dataset, out):
    """The ``--pretrained`` preset, or a CAE pre-trained here on the training images; and
    the seconds it took, rounded for the table. A preset must have the conv trunk that
    `transfer_classifier` reuses (an ``encoder`` and its ``filters``/``dense_units``);
    `prepare` has checked that it takes the dataset's image shape."""
    from zoo import make_dataset, save_model
    from zoo.base import ZooModel
    from zoo.presets import load_preset
    from zoo.training import resumable_callbacks

    started = time.perf_counter()
    if args.pretrained:
        autoencoder = load_preset(args.pretrained)
        config = autoencoder.get_config()  # the trunk transfer_classifier rebuilds
        if not (isinstance(autoencoder, ZooModel) and autoencoder.encodes
                and not autoencoder.conditional
                and {"filters", "dense_units"} <= set(config)
                and config.get("architecture", "conv") == "conv"):
            raise SystemExit(f"finetune: error: --pretrained {args.pretrained} is a "
                             f"{type(autoencoder).__name__} without a convolutional encoder")
    else:
        autoencoder = build_autoencoder(args, dataset.image_shape)
        autoencoder.fit(make_dataset(dataset.x_train, batch_size=args.batch_size, seed=args.seed),
                        epochs=args.pretrain_epochs or args.epochs,
                        callbacks=resumable_callbacks(out / "run_pretrain"), verbose=2)
    seconds = round(time.perf_counter() - started, 1)
    save_model(autoencoder, out / "autoencoder.keras")
    return autoencoder, seconds


def _label_efficiency(autoencoder, dataset, setup, args, out, smallest_class: int) -> list:
    """Test accuracy of each `TRANSFER_METHODS` variant against labels per class
    (`zoo.transfer.study_runs`), each run said as it finishes; beside them the frozen and
    fine-tuned heads on the ``--compare-pretrained`` preset's conv features (methods named
    ``"frozen, <preset>"``), so the report shows the zoo's best pre-training too.

    Writes the figure and the table of mean ± std over seeds (``all`` drawn at
    ``smallest_class`` labels per class), then drops the runs' records in
    ``<out>/study/``, which until then let an interrupted study resume (a finished one,
    like a finished `fit`, starts afresh); returns the table's rows.
    """
    import shutil
    from dataclasses import replace

    from zoo.classifier import TRANSFER_METHODS
    from zoo.plotting import plot_label_efficiency
    from zoo.presets import load_preset
    from zoo.transfer import study_runs, summarise_study
    from ._report import write_table

    records = out / "study"
    studies = [(autoencoder, setup, args.pretrained, TRANSFER_METHODS, "")]
    comparison = _comparison_preset(args, dataset)
    if comparison:  # the zoo's best shipped pre-training, read as its card measures it
        studies.append((load_preset(comparison), replace(setup, features="conv"), comparison,
                        ("frozen", "fine-tuned"), f", {comparison}"))
    runs = []
    for encoder, encoder_setup, pretrained, methods, suffix in studies:
        for run in study_runs(encoder, dataset, encoder_setup,
                              labels_per_class=args.labels_per_class,
                              seeds=range(args.seed, args.seed + args.study_seeds),
                              steps=args.study_steps, record_dir=records / (pretrained or "run"),
                              context={"dataset": args.dataset, "pretrained": pretrained},
                              steps_per_execution=args.steps_per_execution, methods=methods):
            run["method"] += suffix
            print(f"[finetune] study: {run['labels_per_class'] or 'all'} per class, seed "
                  f"{run['seed']}, {run['method']}: test accuracy {run['test_accuracy']:.4f}",
                  flush=True)
            runs.append(run)
    # Grouped by label count, each count's variants in the order they ran.
    points = sorted(summarise_study(runs, all_labels_at=smallest_class),
                    key=lambda point: point["labels_per_class"])
    where = (f"{dataset.name} ({dataset.source}), {len(dataset.x_test)} test images, "
             f"{args.study_steps} steps of 64 per run, mean ± std over {args.study_seeds} "
             "label subsets" + _regularisation(args, schedule=False))
    plot_label_efficiency(points, out / "label_efficiency.png",
                          title=f"Label efficiency, {dataset.name}")
    rows = [{"labels per class": p["label"], "method": p["method"],
             "test accuracy": p["accuracy_mean"], "± std": p["accuracy_std"],
             "seeds": p["seeds"]} for p in points]
    write_table(rows, out / "label_efficiency",
                f"Test accuracy against labelled images per class: {where}" + _quick_note(args))
    shutil.rmtree(records)
    return rows


def _comparison_preset(args, dataset):
    """The preset ``--compare-pretrained`` names for the study, or None: with ``auto``,
    ``<dataset>_pretrained`` when it is shipped and is not already ``--pretrained``."""
    from zoo.base import check_preset_shape
    from zoo.presets import list_presets

    if args.compare_pretrained == "none":
        return None
    if args.compare_pretrained == "auto":
        name = f"{dataset.name}_pretrained"
        return name if name in list_presets() and name != args.pretrained else None
    try:
        check_preset_shape(args.compare_pretrained, dataset.image_shape)
    except ValueError as error:
        raise SystemExit(f"finetune: error: --compare-pretrained: {error}") from None
    return args.compare_pretrained


def _warmup_epochs(args) -> int:
    """The fine-tuned classifier's frozen epochs: ``--warmup-epochs``, leaving at least one
    epoch of fine-tuning."""
    return min(args.warmup_epochs, args.epochs - 1)


def _views(args) -> str:
    """``--flip``/``--shift`` in words ("" if off)."""
    return " and ".join(word for word, on in (("flipped", args.flip),
                                              (f"shifted by up to {args.shift:g} of their size", args.shift))
                        if on)


def _head_reads(args) -> str:
    """``--features conv`` in words ("" for the code), for captions and cards."""
    return "heads on the encoder's flattened convolutional features" if args.features == "conv" else ""


def _regularisation(args, schedule: bool = True) -> str:
    """The caption's note of the options that change how classifiers train ("" if none);
    ``schedule=False`` for the study, whose runs keep a constant rate."""
    said = ([_head_reads(args)] if _head_reads(args) else []) \
        + ([f"training images {_views(args)}"] if _views(args) else []) \
        + ([f"head dropout {args.head_dropout:g}"] if args.head_dropout else []) \
        + (["cosine learning rates"] if schedule and args.schedule == "cosine" else [])
    return f"; {', '.join(said)}" if said else ""


def _save_classifier(results, args, argv, dataset, out):
    """The fine-tuned classifier to ``model.keras``, with ``--export`` a `classify`
    SavedModel, with ``--preset`` a preset whose card sets it beside the other variants."""
    fine_tuned = results["fine-tuned"]
    save_outputs(fine_tuned["model"], out, args.export)
    if args.preset:
        _save_classifier_preset(fine_tuned["model"], args, argv, dataset, results)


def _save_classifier_preset(classifier, args, argv, dataset, results):
    from zoo.presets import metric

    encoder = f"preset {args.pretrained}" if args.pretrained else "a CAE pre-trained by this run"
    save_recipe_preset(classifier, "finetune", args, argv, dataset, [
        metric("accuracy", result["test_accuracy"], samples=len(dataset.x_test), method=method)
        for method, result in results.items()], {"epochs": args.epochs},
        notes=_training_notes(args), data=f"{dataset.summary()}; encoder: {encoder}, fine-tuned")


def _training_notes(args) -> str:
    """The all-labels schedule in words, for the preset's card."""
    warmup = _warmup_epochs(args)
    decay = " (each phase's rate falling towards zero, cosine)" if args.schedule == "cosine" else ""
    head = (f"{warmup} epoch{'s' * (warmup > 1)} of the head alone at {args.learning_rate:g}, then "
            if warmup else "No warm-up: ")
    reads = f"; {_head_reads(args)}" if _head_reads(args) else ""
    return (f"{head}all weights for {args.epochs - warmup} epochs at "
            f"{args.fine_tune_learning_rate:g}{decay}; Adam, batches of {args.batch_size}. "
            f"Training images {_views(args) or 'as they are'}; head dropout "
            f"{args.head_dropout:g}{reads}. The frozen encoder and the same network from "
            "scratch were trained alike in the same run (their accuracies above).")


if __name__ == "__main__":
    main(sys.argv[1:])
