"""Denoising autoencoder vs. plain autoencoder on Gaussian, salt-and-pepper and occlusion noise.

Trains two identical ConvAutoencoders: a plain one on clean images and a denoising one
on corrupted -> clean pairs (the corruption is applied to training inputs only, in the
input pipeline: Gaussian noise with a random sigma per image in [0, --max-sigma],
salt-and-pepper, or an occluding square, one picked per image). Writes rows of
original / corrupted / denoised images for several levels of each corruption, and a
table of test MSE and PSNR (dB, of the mean MSE) vs. noise level for the noisy input, the plain AE and the
denoising AE.

    python -m recipes.denoising --quick
    python -m recipes.denoising --dataset fashion_mnist --data-dir "$ZOO_DATA_DIR" --epochs 5
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

import numpy as np

from ._common import (add_model_arguments, add_preset_arguments, base_parser, build_autoencoder,
                      positive_float, prepare, save_recipe_preset, shown_examples)

SIGMAS = (0.1, 0.2, 0.3, 0.5)
FRACTIONS = (0.05, 0.1, 0.2)
SQUARES = (6, 10, 14)  # on 28x28 images; `occlusion_sizes` scales them to others


def occlusion_sizes(image_shape) -> tuple:
    """`SQUARES` scaled to images of ``image_shape``, by their shorter side over 28 pixels."""
    side = min(image_shape[:2])
    return tuple(sorted({max(1, round(s * side / 28)) for s in SQUARES}))


def build_parser() -> argparse.ArgumentParser:
    """The recipe's options (`run all` routes to it only the options it takes)."""
    parser = base_parser(__doc__.splitlines()[0], epochs=10, quick_epochs=8, name="denoising")
    add_model_arguments(parser, latent_dim=36)
    parser.add_argument("--max-sigma", type=positive_float, default=0.5,
                        help="training noise: sigma drawn per image in [0, max-sigma]")
    add_preset_arguments(parser, "the denoising autoencoder")
    return parser


def parse_args(argv):
    return build_parser().parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    dataset, out = prepare(args, "denoising")

    from keras import ops

    from zoo.corruptions import gaussian_noise, occlusion, salt_and_pepper
    from zoo.plotting import image_rows
    from ._report import computed_on, write_table

    models = _trained_models(args, dataset, out)
    corruptions = {
        "gaussian": [(f"sigma={s}", partial(gaussian_noise, sigma=s)) for s in SIGMAS],
        "salt_and_pepper": [(f"fraction={f}", partial(salt_and_pepper, fraction=f))
                            for f in FRACTIONS],
        "occlusion": [(f"square={s}px", partial(occlusion, size=s))
                      for s in occlusion_sizes(dataset.image_shape)],
    }
    shown = shown_examples(dataset)
    clean = dataset.x_test
    rows = []
    for kind, levels in corruptions.items():
        figure_rows = {"original": clean[shown]}
        for level, corruption in levels:
            noisy = ops.convert_to_numpy(corruption(clean, seed=args.seed + 2))
            row = {"corruption": kind, "level": level, **_scores("noisy input", clean, noisy)}
            for name, model in models.items():
                restored = model.predict(noisy, batch_size=512, verbose=0)
                row.update(_scores(name, clean, restored))
                if name == "denoising AE":
                    figure_rows[f"{level}\ncorrupted"] = noisy[shown]
                    figure_rows[f"{level}\ndenoised"] = restored[shown]
            row["PSNR gain (dB)"] = row["denoising AE PSNR"] - row["noisy input PSNR"]
            rows.append(row)
            print(f"[denoising] {kind} {level}: PSNR noisy {row['noisy input PSNR']:.2f} dB, "
                  f"plain AE {row['plain AE PSNR']:.2f} dB, "
                  f"denoising AE {row['denoising AE PSNR']:.2f} dB", flush=True)
        image_rows(figure_rows, out / f"denoised_{kind}.png",
                   title=f"{dataset.name}: {kind.replace('_', ' ')} noise, denoising autoencoder")
    write_table(rows, out / "metrics",
                "Test MSE and PSNR (dB) vs. noise level, "
                + computed_on(dataset, args.epochs, args.quick))
    if args.preset:
        from zoo.presets import metric

        save_recipe_preset(models["denoising AE"], "denoising", args, argv, dataset, [
            metric("psnr_db", r["denoising AE PSNR"], samples=len(dataset.x_test),
                   corruption=r["corruption"], level=r["level"]) for r in rows],
            {"epochs": args.epochs})
    print(f"[denoising] wrote {out}", flush=True)
    return rows


def _trained_models(args, dataset, out) -> dict:
    """The plain AE (clean -> clean) and the denoising AE (corrupted -> clean), trained
    resumably; the denoiser's training inputs are corrupted in the input pipeline, one
    corruption drawn per image at its heaviest level (Gaussian sigma up to --max-sigma)."""
    from keras import ops

    from zoo import make_dataset, save_model
    from zoo.corruptions import (corrupt_inputs, occlusion, one_of, random_gaussian_noise,
                                 salt_and_pepper)
    from zoo.training import resumable_callbacks

    square = max(occlusion_sizes(dataset.image_shape))
    training_corruption = one_of(partial(random_gaussian_noise, max_sigma=args.max_sigma),
                                 partial(salt_and_pepper, fraction=max(FRACTIONS)),
                                 partial(occlusion, size=square))
    val_noisy = ops.convert_to_numpy(training_corruption(dataset.x_val, seed=args.seed + 1))
    models = {}
    for name, map_fn, val_inputs in (
        ("plain AE", None, dataset.x_val),
        ("denoising AE", corrupt_inputs(training_corruption, args.seed), val_noisy),
    ):
        tag = name.split()[0]
        model = build_autoencoder(args, dataset.image_shape)
        model.fit(
            make_dataset(dataset.x_train, batch_size=args.batch_size, seed=args.seed,
                         map_fn=map_fn),
            validation_data=make_dataset(val_inputs, dataset.x_val, batch_size=512,
                                         shuffle=False),
            epochs=args.epochs, callbacks=resumable_callbacks(out / f"run_{tag}"),
            verbose=2,
        )
        save_model(model, out / f"{tag}_autoencoder.keras")
        models[name] = model
    return models


def _scores(name, clean, restored) -> dict:
    # PSNR of the mean MSE over the test set: an occluding square on a blank area leaves
    # an image unchanged, and its infinite per-image PSNR would swamp a mean of PSNRs.
    mse = float(np.mean((clean - restored) ** 2))
    return {f"{name} MSE": mse, f"{name} PSNR": float(10 * np.log10(1.0 / mse))}


if __name__ == "__main__":
    main(sys.argv[1:])
