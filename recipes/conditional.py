"""Train a class-conditional VAE and GAN; write one row of samples per class, conditional accuracy and domain FID.

    python -m recipes.conditional --quick
    python -m recipes.conditional --data-dir "$ZOO_DATA_DIR" --model vae --epochs 30
    python -m recipes.conditional --data-dir "$ZOO_DATA_DIR" --model gan --epochs 20

Conditional accuracy is the share of samples drawn for class c that the domain FID's
feature classifier calls c (the classes in turn, ``--samples`` in all); the classifier's
own test accuracy, beside it, is what real images score.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ._common import (RecipeSkipped, add_preset_arguments, base_parser, card_metrics,
                      classifier_reference, conditional_accuracy_goal,
                      positive_float, positive_int, prepare, save_outputs,
                      save_recipe_preset, timed_fit)

MODELS = {"vae": "ConditionalVAE", "gan": "ConditionalGAN"}
DEFAULTS = {"vae": {"latent_dim": 16, "learning_rate": 1e-3},
            "gan": {"latent_dim": 64, "learning_rate": 2e-4}}


def build_parser() -> argparse.ArgumentParser:
    """The recipe's options (`run all` routes to it only the options it takes)."""
    parser = base_parser(__doc__.splitlines()[0], epochs=20, quick_epochs=3, exportable=True,
                         name="conditional")
    parser.add_argument("--model", default="both", choices=("vae", "gan", "both"))
    parser.add_argument("--latent-dim", type=positive_int, default=None,
                        help="size of z (default: 16 for the VAE, 64 for the GAN)")
    parser.add_argument("--filters", type=positive_int, default=32, help="conv trunk width")
    parser.add_argument("--learning-rate", type=positive_float, default=None,
                        help="Adam's rate (default: 1e-3 for the VAE; 2e-4, beta_1 0.5, for "
                             "both networks of the GAN)")
    add_preset_arguments(parser, "the trained model (with --model vae or gan)")
    parser.add_argument("--classifier-epochs", type=positive_int, default=3,
                        help="epochs of the feature classifier")
    parser.add_argument("--samples", type=positive_int, default=None,
                        help="samples for conditional accuracy and domain FID (at most the "
                             "test set's size for the FID; default 10,000, 1,000 with --quick)")
    parser.quick_default("samples", 10_000, 1_000)
    return parser


def parse_args(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.preset and args.model == "both":
        parser.error("--preset saves one model: add --model vae or --model gan")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    dataset, out = prepare(args, "conditional")
    if not dataset.labelled:
        raise RecipeSkipped("conditional", "class-conditional models train on labels; "
                            "this dataset has none")

    from zoo.metrics import train_feature_classifier
    from zoo.training import read_history
    from ._report import computed_on, write_table

    classifier = train_feature_classifier(dataset, epochs=args.classifier_epochs, seed=args.seed)
    names = ["vae", "gan"] if args.model == "both" else [args.model]
    rows, per_class = [], {}
    for name in names:
        model, timing = _train(name, args, dataset, out)
        epochs = len(read_history(out / f"run_{name}")[model.progress_metric])
        row, accuracies = _scores(name, model, epochs, classifier, args, dataset)
        rows.append({**row, **timing})
        per_class[MODELS[name]] = accuracies
        _samples_by_class(name, model, dataset, args, out)
        save_outputs(model, out / name, args.export)
        if args.preset:
            _save_preset(model, args, argv, dataset, rows[-1])
        print(f"[conditional] {MODELS[name]}: conditional accuracy "
              f"{row['conditional accuracy']:.3f}, domain FID {row['domain FID']:.3f}", flush=True)
    caption = computed_on(dataset, args.epochs, args.quick)
    write_table(rows, out / "metrics", f"Class-conditional generation: conditional accuracy and "
                f"domain FID of {rows[0]['samples']} samples, {caption}")
    class_names = dataset.class_names or range(dataset.num_classes)
    write_table([{"class": c, **{m: a[i] for m, a in per_class.items()}}
                 for i, c in enumerate(class_names)], out / "per_class_accuracy",
                "Share of the samples drawn for each class that the feature classifier "
                "calls that class")
    print(f"[conditional] wrote {out}", flush=True)
    return rows[-1]


def _train(name: str, args, dataset, out):
    """The model ``name`` trained on ``dataset``'s images and labels, and its timing columns."""
    import keras

    from zoo import ConditionalGAN, ConditionalVAE, make_dataset

    options = {"latent_dim": args.latent_dim or DEFAULTS[name]["latent_dim"],
               "filters": args.filters, "num_classes": dataset.num_classes,
               "input_shape": dataset.image_shape, "seed": args.seed}
    rate = args.learning_rate or DEFAULTS[name]["learning_rate"]
    fit = {"epochs": args.epochs}
    if name == "vae":
        model = ConditionalVAE(**options)
        model.compile(optimizer=keras.optimizers.Adam(rate),
                      steps_per_execution=args.steps_per_execution)
        fit["validation_data"] = make_dataset(dataset.x_val, dataset.y_val, batch_size=512,
                                              shuffle=False)
    else:
        model = ConditionalGAN(architecture="dcgan", **options)
        model.compile(d_optimizer=keras.optimizers.Adam(rate, beta_1=0.5),
                      g_optimizer=keras.optimizers.Adam(rate, beta_1=0.5),
                      steps_per_execution=args.steps_per_execution)
    train = make_dataset(dataset.x_train, dataset.y_train, batch_size=args.batch_size,
                         seed=args.seed)
    return model, timed_fit(model, train, out / f"run_{name}", len(dataset.x_train), **fit)


def _scores(name: str, model, epochs: int, classifier, args, dataset) -> tuple:
    """The model's table row (conditional accuracy, domain FID, class shares; the VAE's
    test loss) and its accuracy per class."""
    from zoo.metrics import conditional_accuracy, dataset_generative_scores
    from ._report import generative_columns

    conditional = conditional_accuracy(model, classifier, args.samples, seed=args.seed)
    scores = dataset_generative_scores(model.generate(args.samples, seed=args.seed), dataset,
                                       seed=args.seed, classifier=classifier)
    row = {"model": MODELS[name], "dataset": dataset.name, "data source": dataset.source,
           "epochs": epochs,
           "samples": args.samples,
           "conditional accuracy": conditional["conditional_accuracy"],
           "worst class accuracy": min(conditional["per_class_accuracy"]),
           "classifier test accuracy": scores["classifier_test_accuracy"],
           **generative_columns(scores)}
    if name == "vae":
        test = model.evaluate(dataset.x_test, dataset.y_test, batch_size=512, verbose=0,
                              return_dict=True)
        row["test loss"] = test["loss"]
    return row, conditional["per_class_accuracy"]


def _samples_by_class(name: str, model, dataset, args, out) -> None:
    """One row of ten samples per class, the same ten codes in every row."""
    from zoo.plotting import image_rows

    class_names = dataset.class_names or [str(c) for c in range(dataset.num_classes)]
    image_rows({class_name: model.generate(10, seed=args.seed, labels=np.full(10, c))
                for c, class_name in enumerate(class_names)},
               out / f"{name}_samples_by_class.png",
               title=f"{MODELS[name]}: one row per class, the same ten codes in every column")


def _save_preset(model, args, argv, dataset, row) -> None:
    """The trained model as preset ``args.preset``, its card holding this run's command,
    scores and #24's goal (0.95 of the samples called their class)."""
    metrics = (card_metrics(row, ["conditional accuracy", "worst class accuracy", "domain FID",
                                  "domain FID real vs real", "min class share",
                                  "max class share"], row["samples"])
               + card_metrics(row, ["test loss"], len(dataset.x_test)))
    save_recipe_preset(model, "conditional", args, argv, dataset, metrics,
                       {"epochs": row["epochs"], "seconds": row["train seconds"]},
                       goals=[conditional_accuracy_goal(row["samples"])],
                       references=[classifier_reference(row, dataset)])


if __name__ == "__main__":
    main(sys.argv[1:])
