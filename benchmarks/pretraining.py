"""Which unsupervised pre-training helps a classifier when labels are scarce.

    python -m benchmarks.pretraining --data-dir "$ZOO_DATA_DIR" --epochs 15
    python -m benchmarks.pretraining --quick          # a smoke run on the embedded sample

Pre-trains each candidate encoder on the training split only (no labels): a plain
`ConvAutoencoder`, the same denoising (`zoo.corruptions`: Gaussian noise, salt and pepper
or a 14-px occlusion per image) or masked (`patch_mask`, half of the 4x4 cells), a conv
`VAE` (its posterior means), a `ContrastiveEncoder` (SimCLR, latent 128), and as a
control an ``untrained`` CAE. Each is saved as a preset in ``<out>/<dataset>/presets/``
and goes through ``recipes.finetune --pretrained``'s label-efficiency study: frozen /
fine-tuned / from scratch (the same architecture from random weights), the same Adam
steps for all, mean ± std over seeded label subsets, on the full test split.
``--features conv`` puts the heads on the encoders' flattened convolutional features
instead of their codes. Prints one Markdown table; a finished candidate is not trained
again. ``--preset NAME`` ships the first candidate as a zoo preset whose card holds its
study (how ``fashion_mnist_pretrained`` and ``mnist_pretrained`` were made; their cards
have the commands).
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial
from pathlib import Path

from recipes._common import portable_command, positive_float  # first: it quiets TensorFlow
from recipes._report import markdown_table  # noqa: E402


def candidates(image_shape, flip: bool, epochs: int):
    """name -> (a compiled model, the training pipeline's ``map_fn``, batch size, epochs)."""
    import keras

    from zoo import VAE, ConvAutoencoder
    from zoo.models.contrastive import ContrastiveEncoder
    from zoo.corruptions import (corrupt_inputs, occlusion, one_of, patch_mask,
                                 random_gaussian_noise, salt_and_pepper)

    def autoencoder():
        model = ConvAutoencoder(latent_dim=36, input_shape=image_shape)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        return model

    def compiled(model):
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        return model

    noise = one_of(partial(random_gaussian_noise, max_sigma=0.5),
                   partial(salt_and_pepper, fraction=0.2),
                   partial(occlusion, size=min(14, min(image_shape[:2]))))
    return {
        "cae": lambda: (autoencoder(), None, 128, epochs),
        "denoising cae": lambda: (autoencoder(), corrupt_inputs(noise, seed=0), 128, epochs),
        "masked cae": lambda: (autoencoder(), corrupt_inputs(partial(patch_mask, ratio=0.5, patch=4),
                                                             seed=0), 128, epochs),
        "vae": lambda: (compiled(VAE(latent_dim=32, input_shape=image_shape, seed=0)), None, 128,
                        epochs),
        "contrastive": lambda: (compiled(ContrastiveEncoder(latent_dim=128, input_shape=image_shape,
                                                            flip=flip, seed=0)), None, 256, epochs),
        # The control: what the architecture gives without pre-training.
        "untrained": lambda: (autoencoder(), None, 128, 0),
    }


def pretrain(name, build, dataset, out: Path) -> str:
    """Train candidate ``name`` resumably and save it as a preset in ``out/presets``
    (a candidate of 0 epochs as built)."""
    from zoo import make_dataset
    from zoo.presets import list_presets, save_preset
    from zoo.training import resumable_callbacks

    preset = name.replace(" ", "_")
    if preset in list_presets():
        return preset
    model, map_fn, batch_size, epochs = build()
    started = time.perf_counter()
    if epochs:
        model.fit(make_dataset(dataset.x_train, batch_size=batch_size, seed=0, map_fn=map_fn),
                  epochs=epochs, callbacks=resumable_callbacks(out / "runs" / preset), verbose=2)
    seconds = round(time.perf_counter() - started)
    save_preset(model, preset, {"command": "python -m benchmarks.pretraining",
                                "data": dataset.summary(), "metrics": [],
                                "training": {"epochs": epochs, "seconds": seconds}})
    return preset


def save_candidate_preset(candidate, args, argv, dataset, study, folder) -> None:
    """Candidate preset ``candidate`` (in ``args.out/<dataset>/presets``) as zoo preset
    ``args.preset`` in ``folder``, its card holding each study row's mean test accuracy
    (and std)."""
    import shutil

    from zoo.presets import metric, preset_card, user_preset_dir, write_card

    shutil.copyfile(user_preset_dir() / f"{candidate}.keras", folder / f"{args.preset}.keras")
    card = preset_card(candidate)
    metrics, accuracies = [], {}
    for row in study:
        count = row["labels per class"]
        point = {"samples": len(dataset.x_test), "labels_per_class": count, "method": row["method"]}
        metrics.append(metric("accuracy", round(row["test accuracy"], 4), **point))
        metrics.append(metric("accuracy_std", round(row["± std"], 4), **point))
        accuracies.setdefault(count, {})[row["method"]] = row["test accuracy"]
    gains = {count: round(100 * (max(by["frozen"], by["fine-tuned"]) - by["from scratch"]), 2)
             for count, by in accuracies.items()}
    metrics += [metric("transfer_gain_points", gain, samples=len(dataset.x_test),
                       labels_per_class=count) for count, gain in gains.items()]
    said = ", ".join(f"{gain:+.1f} with {'all labels' if count == 'all' else f'{count} per class'}"
                     for count, gain in gains.items())
    read = ("the flattened feature maps of its convolutional trunk"
            if args.features == "conv" else "its code")
    training = {**card["training"], "head_steps": args.steps,
                "fine_tune_learning_rate": args.fine_tune_learning_rate, "seeds": args.seeds}
    write_card({**card, "name": args.preset, "data": dataset.summary(), "metrics": metrics,
                "training": training,
                "command": portable_command("pretraining", argv, package="benchmarks"),
                "notes": (f"Pre-trained without labels on the training images for "
                          f"{card['training']['epochs']} epochs. The study's "
                          f"classifiers read {read} (`transfer_classifier(method, model, "
                          f"{dataset.num_classes}, features={args.features!r})`): a Dense(64) + "
                          f"softmax head trained for {args.steps} Adam steps of 64 images on "
                          "n labelled images per class, frozen, or fine-tuned (the head alone "
                          f"for a fifth of the steps, then everything at "
                          f"{args.fine_tune_learning_rate:g}), against the same network from "
                          f"random weights; mean ± std over {args.seeds} seeded label subsets, "
                          f"all test images. The better transfer variant against scratch, in "
                          f"points of accuracy: {said}.")}, folder)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--data-dir", default=None, help="IDX folder (default: $ZOO_DATA_DIR)")
    parser.add_argument("--quick", action="store_true", help="one epoch on the embedded sample")
    parser.add_argument("--epochs", type=int, default=15, help="pre-training epochs (1 with --quick)")
    parser.add_argument("--candidates", default="cae,denoising cae,masked cae,vae,contrastive,untrained")
    parser.add_argument("--labels-per-class", default="10,100")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1500,
                        help="Adam steps of each study run (300 with --quick)")
    parser.add_argument("--features", choices=("code", "conv"), default="code",
                        help="what the classifiers' head reads (recipes.finetune --features)")
    parser.add_argument("--fine-tune-learning-rate", type=positive_float, default=3e-4)
    parser.add_argument("--out", type=Path, default=Path("reports/pretraining"))
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                        help="random horizontal flips in the contrastive views (default: on, "
                             "off for mnist, whose digits are not symmetric)")
    parser.add_argument("--preset", default=None,
                        help="save the first candidate as this zoo preset, its card holding "
                             "the study's accuracies")
    args = parser.parse_args(argv)
    if args.quick and args.preset:
        parser.error("--preset ships a preset; a --quick candidate is a smoke run")
    if args.quick:
        args.epochs, args.steps = 1, 300

    from zoo.data import load_dataset
    from zoo.presets import shipped_preset_dir
    from recipes import finetune

    shipped = shipped_preset_dir()  # where --preset ships the chosen candidate

    dataset = load_dataset(args.dataset, source="sample" if args.quick else "auto",
                           data_dir=args.data_dir)
    # One folder per dataset, so a candidate pre-trained on one is never reused for another.
    args.out = args.out / dataset.name
    (args.out / "presets").mkdir(parents=True, exist_ok=True)
    os.environ["ZOO_PRESET_DIR"] = str(args.out / "presets")  # where finetune finds them
    flip = args.dataset != "mnist" if args.flip is None else args.flip
    builders = candidates(dataset.image_shape, flip=flip, epochs=args.epochs)
    data = ["--dataset", args.dataset] + (["--quick"] if args.quick else []) + (
        ["--data-dir", args.data_dir] if args.data_dir else [])
    names = args.candidates.split(",")
    rows = []
    for name in names:
        preset = pretrain(name, builders[name], dataset, args.out)
        study = finetune.main(data + [
            "--pretrained", preset, "--epochs", "1", "--labels-per-class", args.labels_per_class,
            "--study-seeds", str(args.seeds), "--study-steps", str(args.steps),
            "--fine-tune-learning-rate", str(args.fine_tune_learning_rate),
            "--features", args.features,
            "--out", str(args.out / f"{preset}-{args.features}")])["label_efficiency"]
        rows += [{"pre-training": name, **row} for row in study]
        if args.preset and name == names[0]:
            save_candidate_preset(preset, args, argv, dataset, study, shipped)
    table = markdown_table(rows)
    (args.out / "pretraining.md").write_text(table)
    print(table)
    return table


if __name__ == "__main__":
    main()
