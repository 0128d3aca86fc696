"""Score every shipped preset of the dataset by one protocol; write one table and their samples side by side.

    python -m recipes.compare --quick
    python -m recipes.compare --dataset fashion_mnist --data-dir "$ZOO_DATA_DIR"

Loads each shipped preset trained on ``--dataset`` (the classifier preset aside: it
generates and encodes nothing) and scores it on the test split with one protocol, as
pythae's reproducibility table does for its models:

- parameters, and training minutes as its card records them;
- seconds to draw 1,000 samples on this machine (a GAN's one forward pass, a diffusion
  model's 50 guided steps);
- reconstruction test MSE, where the model reconstructs (a conditional model is given
  the test labels);
- domain FID against the test images and the smallest / largest class share of
  ``--samples`` samples by one feature classifier for every row: a GAN's or VQ-VAE's own
  samples, a VAE's prior draws, a conditional model's samples of uniformly drawn classes,
  and an autoencoder's decoded draws from a Gaussian mixture fitted to its training
  codes (`zoo.analysis.sample_codes`);
- conditional accuracy, for the conditional models: the share of samples drawn for
  class c that the same classifier calls c (`zoo.metrics.conditional_accuracy`);
- the IWAE log-likelihood a VAE's card records (``benchmarks.likelihood`` measures it);
- a linear probe on the codes of encoders of vectors (10,000 training codes, the test
  codes; not the VQ-VAE's index grids, nor a conditional model's codes, which the labels
  were given to leave the class out of).

Writes the table and ``samples.png``, ten samples per generative preset.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ._common import RecipeSkipped, base_parser, positive_int, prepare, preset_name

PROBE_IMAGES = 10_000


def build_parser() -> argparse.ArgumentParser:
    """The recipe's options (`run all` routes to it only the options it takes)."""
    parser = base_parser(__doc__.splitlines()[0], epochs=3, quick_epochs=3, name="compare")
    parser.add_argument("--samples", type=positive_int, default=10_000,
                        help="samples per generative preset (at most the test set's size)")
    parser.add_argument("--presets", type=preset_names, default=None,
                        help="comma-separated presets to score alone, e.g. a new preset's "
                        "row (default: every shipped preset of the dataset)")
    return parser


def preset_names(text: str) -> list:
    """An argparse ``type``: comma-separated names of shipped presets."""
    from zoo.presets import list_presets

    names = list(dict.fromkeys(preset_name(part) for part in text.split(",")))
    shipped = list_presets(shipped_only=True)
    unknown = [name for name in names if name not in shipped]
    if unknown:
        raise argparse.ArgumentTypeError(f"{unknown} are not shipped presets: {shipped}")
    return names


def main(argv=None) -> list:
    args = build_parser().parse_args(argv)
    dataset, out = prepare(args, "compare")

    from zoo.metrics import train_feature_classifier
    from zoo.plotting import image_rows
    from zoo.presets import list_presets, preset_card
    from ._report import computed_on, write_table

    cards = {name: preset_card(name) for name in list_presets(shipped_only=True)
             if name.startswith(f"{dataset.name}_")}
    names = [name for name, card in cards.items() if card["class"] != "Functional"
             and tuple(card["config"]["input_shape"]) == dataset.image_shape]
    if args.presets:
        unknown = sorted(set(args.presets) - set(names))
        if unknown:
            raise ValueError(f"--presets: {unknown} were not trained on {dataset.name} images "
                             f"of this shape; these were: {names}")
        names = args.presets
    if not names or not dataset.labelled:
        raise RecipeSkipped("compare", f"no shipped preset was trained on {dataset.name} "
                            "images of this shape" if not names else
                            "the feature classifier of the scores learns the labels; this "
                            "dataset has none")
    # --epochs: the feature classifier's (the presets are trained already).
    classifier = train_feature_classifier(dataset, epochs=args.epochs, seed=args.seed)
    n = min(args.samples, len(dataset.x_test), len(dataset.x_train))
    rows, shown = [], {}
    for name in names:
        row, images = score(name, dataset, classifier, n, args.seed)
        rows.append(row)
        if images is not None:
            shown[name] = images
        print(f"[compare] {name}: {row}", flush=True)
    write_table(rows, out / "metrics", f"Every shipped preset by one protocol: {n} samples per "
                f"generative preset, {computed_on(dataset, quick=args.quick)}")
    image_rows(shown, out / "samples.png", title=f"Ten samples of every generative preset, "
                                                 f"{dataset.name}")
    print(f"[compare] wrote {out}", flush=True)
    return rows


def samples(model, n: int, train_codes, seed: int):
    """``n`` samples of ``model``: its own generator, or decoded mixture draws."""
    from zoo.analysis import decode_codes, sample_codes

    if model.generates:
        return model.generate(n, seed=seed)
    codes = sample_codes(n, model.latent_dim, seed, fit_to=train_codes, method="gmm")
    return decode_codes(model, codes)


def score(name: str, dataset, classifier, n: int, seed: int) -> tuple:
    """(the table row of preset ``name``, ten of its samples or None)."""
    from zoo.analysis import encode_dataset, linear_probe_accuracy
    from zoo.metrics import conditional_accuracy, generative_scores
    from zoo.presets import load_preset, preset_card

    card = preset_card(name)
    model = load_preset(name)
    seconds = card["training"].get("seconds")
    row = {"preset": name, "model": card["class"], "parameters": model.parameter_count(),
           "train min": round(seconds / 60, 1) if seconds else "not recorded"}
    labels = {"labels": dataset.y_test} if model.conditional else {}
    # A conditional model's codes are given the labels: no probe, no mixture to draw from.
    encodes = model.encodes and not model.conditional
    train_codes = encode_dataset(model, dataset.x_train) if encodes else None
    if model.decodes:
        reconstructions = model.reconstruct(dataset.x_test, batch_size=512, **labels)
        row["test MSE"] = float(np.mean((reconstructions - dataset.x_test) ** 2))
    images = None
    if model.generates or model.decodes:
        started = time.perf_counter()
        images = samples(model, n, train_codes, seed)
        row["sampling s per 1,000"] = round((time.perf_counter() - started) / n * 1000, 2)
        scores = generative_scores(images[:n], dataset.x_test[:n], classifier,
                                   reference=dataset.x_train[:n])
        row.update({"domain FID": scores["domain_fid"],
                    "min class share": min(scores["class_shares"]),
                    "max class share": max(scores["class_shares"])})
    if model.conditional:
        row["conditional accuracy"] = conditional_accuracy(model, classifier, n, seed)[
            "conditional_accuracy"]
    iwae = [r for r in card["metrics"] if r["name"] == "iwae_log_likelihood_nats"]
    if iwae:  # the largest k's bound, the tightest
        row["IWAE log-likelihood (card)"] = max(iwae, key=lambda r: r["setting"]["k"])["value"]
    if encodes:
        row["linear probe"] = linear_probe_accuracy(
            train_codes[:PROBE_IMAGES], dataset.y_train[:PROBE_IMAGES],
            encode_dataset(model, dataset.x_test), dataset.y_test)
    return row, None if images is None else images[:10]


if __name__ == "__main__":
    main(sys.argv[1:])
