"""Transfer learning: classifiers on a pre-trained autoencoder's encoder vs. a CNN from scratch.

Pre-trains a ConvAutoencoder on the training images (no labels), then trains three
classifiers with the same architecture (encoder + Dense(64) + softmax): ``frozen``
(head only), ``fine-tuned`` (a frozen warm-up, then everything at a lower learning
rate) and ``from scratch`` (random init). Each is trained on all labels and on only
``--labels-per-class`` labels per class. Writes validation accuracy vs. epoch and vs.
wall-clock seconds, confusion matrices with class names and a test-accuracy table.

    python -m recipes.finetune --quick
    python -m recipes.finetune --dataset fashion_mnist --data-dir "$ZOO_DATA_DIR" --epochs 5
"""

from __future__ import annotations

import sys
import time

import numpy as np

from ._common import (add_model_arguments, base_parser, build_autoencoder, non_negative_int,
                      portable_command, positive_float, positive_int, prepare, save_outputs)


def parse_args(argv):
    parser = base_parser(__doc__.splitlines()[0], epochs=10, quick_epochs=3, exportable=True,
                         name="finetune")
    parser.add_argument("--pretrain-epochs", type=positive_int, default=None,
                        help="autoencoder pre-training epochs (default: --epochs)")
    parser.add_argument("--warmup-epochs", type=non_negative_int, default=1,
                        help="frozen epochs before fine-tuning everything")
    parser.add_argument("--labels-per-class", type=non_negative_int, default=100,
                        help="labels per class of the few-labels setting (0: skip it)")
    parser.add_argument("--few-label-epochs", type=positive_int, default=None,
                        help="epochs of the few-labels setting (default: 3x --epochs)")
    add_model_arguments(parser, latent_dim=36)
    parser.add_argument("--hidden-units", type=positive_int, default=64)
    parser.add_argument("--fine-tune-learning-rate", type=positive_float, default=3e-4)
    parser.add_argument("--pretrained", default=None,
                        help="start from this ConvAutoencoder preset instead of pre-training one")
    parser.add_argument("--preset", default=None,
                        help="save the fine-tuned all-labels classifier as this preset")
    args = parser.parse_args(argv)
    given = {word.split("=")[0] for word in (sys.argv[1:] if argv is None else argv)}
    fixed_by_preset = sorted(given & {"--latent-dim", "--filters", "--dense-units",
                                      "--pretrain-epochs"})
    if args.pretrained and fixed_by_preset:
        parser.error(f"--pretrained {args.pretrained} fixes the encoder; drop "
                     f"{', '.join(fixed_by_preset)}")
    return args


def main(argv=None) -> list:
    args = parse_args(argv)
    dataset, out = prepare(args, "finetune")
    from zoo.classifier import TRANSFER_METHODS
    from ._report import write_table

    autoencoder, pretrain_seconds = _pretrained_autoencoder(args, dataset, out)
    rows = []
    for setting, chosen, epochs in _label_settings(args, dataset):
        tag = setting.split()[0]
        results = {method: _train(method, autoencoder, dataset, chosen, epochs, args,
                                  out / f"run_{tag}_{method.replace(' ', '_')}")
                   for method in TRANSFER_METHODS}
        if setting == "all labels":  # the study's product: the fine-tuned classifier
            _save_classifier(results["fine-tuned"], args, argv, dataset, out)
        for method, result in results.items():
            rows.append({"labels": setting, "method": method, **result["row"],
                         "pre-training s": 0.0 if method == "from scratch" else pretrain_seconds,
                         "dataset": dataset.name, "source": dataset.source})
            print(f"[finetune] {setting}, {method}: test accuracy "
                  f"{result['row']['test accuracy']:.4f}", flush=True)
        _plot_curves({m: r["history"] for m, r in results.items()}, out / f"accuracy_{tag}.png",
                     f"{dataset.name}, {setting}: validation accuracy")
        _plot_confusions(dataset, {m: r["predictions"] for m, r in results.items()},
                         out / f"confusion_{tag}.png",
                         f"{dataset.name}, {setting}: test confusion matrices")
    write_table(rows, out / "accuracy",
                f"Test accuracy: frozen / fine-tuned encoder vs. CNN from scratch ({dataset.name})")
    print(f"[finetune] wrote {out}", flush=True)
    return rows


def _pretrained_autoencoder(args, dataset, out):
    """The ``--pretrained`` preset, or a CAE pre-trained here on the training images; and
    the seconds it took, rounded for the table."""
    from zoo import ConvAutoencoder, make_tf_dataset, save_model
    from zoo.training import resumable_callbacks

    started = time.perf_counter()
    if args.pretrained:
        autoencoder = ConvAutoencoder.from_preset(args.pretrained)
    else:
        autoencoder = build_autoencoder(args, dataset.image_shape)
        autoencoder.fit(make_tf_dataset(dataset.x_train, batch_size=args.batch_size, seed=args.seed),
                        epochs=args.pretrain_epochs or args.epochs,
                        callbacks=resumable_callbacks(out / "run_pretrain"), verbose=2)
    seconds = round(time.perf_counter() - started, 1)
    save_model(autoencoder, out / "autoencoder.keras")
    return autoencoder, seconds


def _label_settings(args, dataset) -> list:
    """``(setting name, training indices, epochs)``: all labels, then the few-labels subset."""
    from zoo.classifier import label_subset

    settings = [("all labels", np.arange(len(dataset.y_train)), args.epochs)]
    if args.labels_per_class:
        try:
            chosen = label_subset(dataset.y_train, args.labels_per_class, args.seed)
        except ValueError as error:
            raise SystemExit(f"finetune: error: --labels-per-class: {error}") from None
        settings.append((f"{args.labels_per_class} per class", chosen,
                         args.few_label_epochs or 3 * args.epochs))
    return settings


def _train(method, autoencoder, dataset, chosen, epochs, args, run_dir) -> dict:
    """Train one `TRANSFER_METHODS` classifier on ``chosen`` training images, resumably.

    Returns ``row`` (the table's columns), ``history``, test ``predictions`` and ``model``.
    """
    from zoo.classifier import compile_classifier, fit_two_phase, transfer_classifier
    from zoo.training import EpochTimer, read_history, resumable_callbacks

    class LoggedEpochTimer(EpochTimer):
        """Puts each epoch's seconds into the logs, so the CSV history keeps them on resume."""

        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            logs["seconds"] = self.seconds[-1]

    def callbacks(phase=""):
        # The timer comes first so that CSVLogger sees the seconds it adds.
        return [LoggedEpochTimer()] + resumable_callbacks(run_dir / phase)

    model = transfer_classifier(method, autoencoder, dataset.num_classes, args.hidden_units)
    fit_kwargs = dict(x=dataset.x_train[chosen], y=dataset.y_train[chosen],
                      batch_size=args.batch_size, validation_data=(dataset.x_val, dataset.y_val),
                      verbose=2)
    started = time.perf_counter()
    if method == "fine-tuned":
        warmup = min(args.warmup_epochs, epochs - 1)
        fit_two_phase(model, warmup_epochs=warmup, epochs=epochs, callbacks=callbacks,
                      head_learning_rate=args.learning_rate,
                      fine_tune_learning_rate=args.fine_tune_learning_rate, **fit_kwargs)
        phases = [run_dir / "warmup"] * (warmup > 0) + [run_dir / "fine_tune"]
        history = {}
        for phase_dir in phases:
            for name, values in read_history(phase_dir).items():
                history.setdefault(name, []).extend(values)
    else:
        compile_classifier(model, args.learning_rate)
        model.fit(epochs=epochs, callbacks=callbacks(), **fit_kwargs)
        history = read_history(run_dir)
    train_seconds = time.perf_counter() - started
    predictions = model.predict(dataset.x_test, batch_size=512, verbose=0).argmax(axis=1)
    row = {
        "labelled images": len(chosen),
        "trainable parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "epochs": epochs,
        "test accuracy": float(np.mean(predictions == dataset.y_test)),
        "train s": round(train_seconds, 1),
    }
    return {"row": row, "history": history, "predictions": predictions, "model": model}


def _save_classifier(result, args, argv, dataset, out):
    """``model.keras``, with ``--export`` a `classify` SavedModel, with ``--preset`` a preset."""
    save_outputs(result["model"], out, args.export)
    if args.preset:
        _save_classifier_preset(result["model"], args, argv, dataset, result["row"])


def _save_classifier_preset(classifier, args, argv, dataset, result):
    from zoo.presets import save_preset

    encoder = f"preset {args.pretrained}" if args.pretrained else "a CAE pre-trained by this run"
    save_preset(classifier, args.preset, {
        "command": portable_command("finetune", argv),
        "data": f"{dataset.summary()}; encoder: {encoder}, fine-tuned",
        "metrics": {"test accuracy": result["test accuracy"], "test images": len(dataset.x_test),
                    "epochs": result["epochs"]},
    })


def _plot_curves(curves: dict, path, title):
    from matplotlib.ticker import MaxNLocator

    from zoo.plotting import save_figure, subplots

    fig, (by_epoch, by_time) = subplots(1, 2, figsize=(10, 3.8))
    for method, history in curves.items():
        accuracy = history["val_accuracy"]
        by_epoch.plot(range(1, len(accuracy) + 1), accuracy, marker="o", ms=3, label=method)
        by_time.plot(np.cumsum(history["seconds"]), accuracy, marker="o", ms=3, label=method)
    for ax, xlabel in ((by_epoch, "epoch"), (by_time, "training wall-clock seconds")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel("validation accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    by_epoch.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


def _plot_confusions(dataset, predictions: dict, path, title):
    from sklearn.metrics import ConfusionMatrixDisplay

    from zoo.plotting import save_figure, subplots

    fig, axes = subplots(1, len(predictions), figsize=(6.2 * len(predictions), 5.8))
    for ax, (method, predicted) in zip(np.atleast_1d(axes), predictions.items()):
        ConfusionMatrixDisplay.from_predictions(
            dataset.y_test, predicted, labels=range(dataset.num_classes),
            display_labels=dataset.class_names, ax=ax, colorbar=False, xticks_rotation=60,
        )
        accuracy = np.mean(predicted == dataset.y_test)
        ax.set_title(f"{method} (accuracy {accuracy:.3f})", fontsize=10)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


if __name__ == "__main__":
    main(sys.argv[1:])
