"""Train a class-guided diffusion model; write samples per class, FID against steps and guidance, and a denoising trajectory.

    python -m recipes.diffusion --quick
    python -m recipes.diffusion --data-dir "$ZOO_DATA_DIR" --epochs 20
    python -m recipes.diffusion --data-dir "$ZOO_DATA_DIR" --from-preset fashion_mnist_diffusion

Scores use the zoo's feature classifier (the conditional recipe's protocol): conditional
accuracy is the share of samples drawn for class c that it calls c; domain FID compares
class-balanced samples with the test images. The headline row samples ``--samples``
images at the model's own steps and guidance; the curves sweep one setting each on
``--curve-samples`` images. ``--from-preset`` scores a trained preset instead of training
one; with ``--more-epochs`` it trains that preset further first, at ``--learning-rate``.
Guidance 0 samples p(x) without labels: its class shares say whether every class is
drawn.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ._common import (RecipeSkipped, add_preset_arguments, base_parser, card_metrics,
                      classifier_reference, conditional_accuracy_goal,
                      non_negative_float, positive_float, positive_int,
                      prepare, preset_name, save_outputs, save_recipe_preset, timed_fit)


def int_list(text: str) -> list:
    """An argparse ``type``: comma-separated positive integers, e.g. ``16,32,64``."""
    return [positive_int(part) for part in text.split(",")]


def float_list(text: str) -> list:
    """An argparse ``type``: comma-separated non-negative numbers, e.g. ``0,1,2``."""
    return [non_negative_float(part) for part in text.split(",")]


def build_parser() -> argparse.ArgumentParser:
    """The recipe's options (`run all` routes to it only the options it takes)."""
    parser = base_parser(__doc__.splitlines()[0], epochs=20, quick_epochs=1, exportable=True,
                         name="diffusion")
    parser.add_argument("--widths", type=int_list, default=None,
                        help="U-Net channels per resolution (default 16,32,64; 8,16 with --quick)")
    parser.add_argument("--objective", default="v", choices=("v", "epsilon", "flow"))
    parser.add_argument("--learning-rate", type=positive_float, default=1e-3,
                        help="AdamW's rate (weight decay 1e-4)")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help="sampling steps of the model and the headline scores "
                             "(default 50; 5 with --quick)")
    parser.add_argument("--guidance", type=non_negative_float, default=1.25,
                        help="guidance scale of the model and the headline scores")
    parser.add_argument("--samples", type=positive_int, default=None,
                        help="samples of the headline scores (default 10,000; 200 with --quick)")
    parser.add_argument("--curve-samples", type=positive_int, default=None,
                        help="samples per point of the curves (default 1,000; 100 with --quick)")
    parser.add_argument("--step-grid", type=int_list, default=None,
                        help="sampling steps of the FID curve (default 10,25,50,100; 2,5 with --quick)")
    parser.add_argument("--guidance-grid", type=float_list, default=None,
                        help="guidance scales of the FID and accuracy curve "
                             "(default 0,1,1.5,2,3,4; 0,2 with --quick)")
    parser.add_argument("--from-preset", default=None, type=preset_name,
                        help="score this preset instead of training a model (the architecture "
                             "options are then the preset's)")
    parser.add_argument("--more-epochs", type=positive_int, default=None,
                        help="with --from-preset: train the preset this many more epochs "
                             "(AdamW at --learning-rate, resumable in --out) before scoring it")
    parser.add_argument("--classifier-epochs", type=positive_int, default=3,
                        help="epochs of the feature classifier")
    add_preset_arguments(parser, "the trained model")
    parser.quick_default("widths", [16, 32, 64], [8, 16])
    parser.quick_default("steps", 50, 5)
    parser.quick_default("samples", 10_000, 200)
    parser.quick_default("curve_samples", 1_000, 100)
    parser.quick_default("step_grid", [10, 25, 50, 100], [2, 5])
    parser.quick_default("guidance_grid", [0.0, 1.0, 1.5, 2.0, 3.0, 4.0], [0.0, 2.0])
    return parser


def main(argv=None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.more_epochs and not args.from_preset:
        parser.error("--more-epochs trains a preset further: give --from-preset")
    dataset, out = prepare(args, "diffusion")
    if not dataset.labelled:
        raise RecipeSkipped("diffusion", "the guided diffusion model trains on labels; "
                            "this dataset has none")

    model, timing = (_from_preset(args, dataset, out) if args.from_preset
                     else _train(args, dataset, out))
    return evaluate(model, timing, args, argv, dataset, out)


def evaluate(model, timing: dict, args, argv, dataset, out) -> dict:
    """Everything after training: the figures, the scores, the preset, the curves; returns
    the headline row. ``timing`` holds the training's ``train seconds`` and ``train
    images/s``."""
    from zoo.base import gaussian_codes
    from zoo.metrics import train_feature_classifier
    from zoo.plotting import image_rows, plot_sweep
    from ._report import computed_on, write_table

    class_names = dataset.class_names or [str(c) for c in range(dataset.num_classes)]
    # One call for every class, on the same ten noises (one call: one compiled step).
    noises = gaussian_codes(10, model.latent_dim, args.seed)
    samples = model.generate_from(np.tile(noises, (len(class_names), 1)),
                                  labels=np.repeat(np.arange(len(class_names)), 10))
    image_rows({name: samples[10 * c:10 * c + 10] for c, name in enumerate(class_names)},
               out / "samples_by_class.png",
               title=f"Diffusion, {args.steps} steps, guidance {args.guidance}: one row per "
                     "class, the same ten noises in every column")
    _trajectory(model, args, out)
    save_outputs(model, out / "model", args.export)

    classifier = train_feature_classifier(dataset, epochs=args.classifier_epochs, seed=args.seed)
    row = {"model": "Diffusion", "dataset": dataset.name, "data source": dataset.source,
           "parameters": model.parameter_count(), "epochs": args.epochs, **timing,
           **_scores(model, classifier, dataset, args, args.samples, args.steps, args.guidance,
                     timed=True)}
    unconditional = _scores(model, classifier, dataset, args, args.samples, args.steps, 0.0)
    row["guidance 0 domain FID"] = unconditional["domain FID"]
    row["guidance 0 min class share"] = unconditional["min class share"]
    row["guidance 0 max class share"] = unconditional["max class share"]
    caption = computed_on(dataset, args.epochs, args.quick)
    write_table([row], out / "metrics", f"Guided diffusion: {args.samples} samples at "
                f"{args.steps} steps, guidance {args.guidance}, {caption}")
    if args.preset:
        _save_preset(model, args, argv, dataset, row)
    print(f"[diffusion] conditional accuracy {row['conditional accuracy']:.3f}, domain FID "
          f"{row['domain FID']:.3f} ({args.samples} samples, {args.steps} steps, guidance "
          f"{args.guidance}); {row['sampling images/s']:.1f} images/s", flush=True)

    curves = {"steps": [{"steps": steps, **_scores(model, classifier, dataset, args,
                                                    args.curve_samples, steps, args.guidance)}
                        for steps in args.step_grid],
              "guidance": [{"guidance": scale, **_scores(model, classifier, dataset, args,
                                                          args.curve_samples, args.steps, scale)}
                           for scale in args.guidance_grid]}
    write_table(curves["steps"], out / "fid_by_steps", f"Domain FID of {args.curve_samples} "
                f"samples against sampling steps (guidance {args.guidance}), {caption}")
    plot_sweep(curves["steps"], "steps", ("domain FID",), out / "fid_by_steps.png", log_x=True,
               title=f"Domain FID against DDIM steps ({args.curve_samples} samples)")
    write_table(curves["guidance"], out / "fid_by_guidance", f"Domain FID and conditional "
                f"accuracy of {args.curve_samples} samples against the guidance scale "
                f"({args.steps} steps), {caption}")
    plot_sweep(curves["guidance"], "guidance", ("domain FID", "conditional accuracy"),
               out / "fid_by_guidance.png",
               title=f"Classifier-free guidance ({args.curve_samples} samples, {args.steps} steps)")
    print(f"[diffusion] wrote {out}", flush=True)
    return row


def _train(args, dataset, out):
    """The model trained on ``dataset``'s images and labels, and its timing columns."""
    from zoo import Diffusion

    model = Diffusion(widths=args.widths, objective=args.objective,
                      num_classes=dataset.num_classes, input_shape=dataset.image_shape,
                      sampling_steps=args.steps, guidance=args.guidance, seed=args.seed)
    return model, _fit(model, args, dataset, out, args.epochs)


def _from_preset(args, dataset, out):
    """Preset ``args.from_preset`` with this run's sampling settings, trained
    ``args.more_epochs`` further if asked, and the timing columns of its whole training;
    ``args.epochs`` becomes the preset's (plus the further epochs)."""
    from zoo import Diffusion
    from zoo.presets import load_preset, preset_card

    model = load_preset(args.from_preset, Diffusion)
    model.sampling_steps, model.guidance = args.steps, args.guidance
    training = preset_card(args.from_preset)["training"]
    args.epochs = training["epochs"]
    timing = {"train seconds": training.get("seconds", ""), "train images/s": ""}
    if args.more_epochs:
        further = _fit(model, args, dataset, out, args.more_epochs)
        args.epochs += args.more_epochs
        timing = {"train seconds": round(training["seconds"] + further["train seconds"], 1),
                  "train images/s": further["train images/s"]}
    return model, timing


def _fit(model, args, dataset, out, epochs: int) -> dict:
    """``model`` trained ``epochs`` epochs with AdamW at ``args.learning_rate``, resumably in
    ``out/run``; returns the timing columns."""
    import keras

    from zoo import make_dataset

    model.compile(optimizer=keras.optimizers.AdamW(args.learning_rate, weight_decay=1e-4),
                  steps_per_execution=args.steps_per_execution)
    train = make_dataset(dataset.x_train, dataset.y_train, batch_size=args.batch_size,
                         seed=args.seed)
    return timed_fit(model, train, out / "run", len(dataset.x_train), epochs=epochs)


def _scores(model, classifier, dataset, args, n: int, steps: int, guidance: float,
            timed: bool = False) -> dict:
    """Conditional accuracy, domain FID and class shares of ``n`` class-balanced samples
    (the classes in turn) at ``steps`` and ``guidance``; with ``timed``, the images/s."""
    from zoo.metrics import class_fidelity, dataset_generative_scores
    from ._report import generative_columns

    labels = np.arange(n) % model.num_classes
    started = time.perf_counter()
    images = model.generate(n, seed=args.seed, labels=labels, steps=steps, guidance=guidance)
    seconds = time.perf_counter() - started
    fidelity = class_fidelity(images, labels, classifier)
    scores = dataset_generative_scores(images, dataset, seed=args.seed, classifier=classifier)
    row = {"samples": n, "conditional accuracy": fidelity["conditional_accuracy"],
           "worst class accuracy": min(fidelity["per_class_accuracy"]),
           **generative_columns(scores)}
    if timed:
        row["sampling images/s"] = round(n / seconds, 1)
    return row


def _trajectory(model, args, out) -> None:
    """One denoising trajectory per class: the predicted clean image after each step."""
    from zoo.base import gaussian_codes
    from zoo.plotting import image_rows

    steps = min(args.steps, 10)
    labels = np.arange(model.num_classes)
    path = model.generate_from(gaussian_codes(len(labels), model.latent_dim, args.seed),
                               labels=labels,
                               steps=steps, trajectory=True)
    image_rows({f"class {c}": path[:, c] for c in labels}, out / "trajectory.png",
               title=f"Denoising: the predicted image after each of {steps} DDIM steps")


def _save_preset(model, args, argv, dataset, row) -> None:
    """The trained model as preset ``args.preset``, its card holding this run's command,
    scores and #30's goals (the domain FID goal, below every other preset's, is
    docs/results.md's comparison)."""
    from zoo.presets import goal, metric

    n, guided = row["samples"], {"steps": args.steps, "guidance": args.guidance}
    unguided = {key: row[f"guidance 0 {key}"]
                for key in ("domain FID", "min class share", "max class share")}
    metrics = (card_metrics(row, ["conditional accuracy", "worst class accuracy", "domain FID",
                                  "min class share", "max class share"], n, **guided)
               + card_metrics(row, ["domain FID real vs real"], n)
               + card_metrics(unguided, list(unguided), n, steps=args.steps, guidance=0.0)
               + [metric("sampling_images_per_second", row["sampling images/s"], split="none",
                         samples=n, **guided)])
    goals = [conditional_accuracy_goal(n, steps=args.steps),
             # Unguided, every class is drawn: between 8% and 12% of the samples.
             goal("min_class_share", 0.08, better="higher", samples=n, guidance=0.0),
             goal("max_class_share", 0.12, better="lower", samples=n, guidance=0.0)]
    save_recipe_preset(model, "diffusion", args, argv, dataset, metrics,
                       {"epochs": row["epochs"], "seconds": row["train seconds"]},
                       started_from=args.from_preset, goals=goals,
                       references=[classifier_reference(row, dataset)])


if __name__ == "__main__":
    main(sys.argv[1:])
