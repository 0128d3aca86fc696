"""Every shipped model of a dataset in one table, and their samples side by side.

    python -m benchmarks.zoo --dataset fashion_mnist --data-dir "$ZOO_DATA_DIR" [--out reports/zoo]

Loads each shipped preset of ``--dataset`` (the classifier preset aside: it generates and
encodes nothing) and scores it on the full test split with one protocol, as pythae's
reproducibility table does for its models:

- parameters, and training minutes as its card records them;
- reconstruction test MSE, where the model reconstructs (a conditional model is given
  the test labels);
- domain FID against the test images and the smallest / largest class share of
  ``--samples`` samples by the zoo's feature classifier (one classifier for every row):
  a GAN's own samples, a VAE's prior draws, a VQ-VAE's draws from its PixelCNN prior, a
  conditional model's samples of uniformly drawn classes, and an autoencoder's decoded
  draws from a Gaussian mixture fitted to its training codes (`zoo.analysis.sample_codes`);
- conditional accuracy, for the conditional models: the share of samples drawn for
  class c that the same classifier calls c (`zoo.metrics.conditional_accuracy`);
- the IWAE log-likelihood a VAE's card records (``benchmarks.likelihood`` measures it);
- a linear probe on the codes of encoders of vectors (10,000 training codes, the test
  codes; not the VQ-VAE's index grids, nor a conditional model's codes, which the
  labels were given to leave the class out of).

Prints one Markdown table and writes ``<out>/<dataset>_samples.png``, ten samples per model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from recipes import _common  # noqa: F401  first: it quiets TensorFlow's start-up lines
import numpy as np  # noqa: E402

from zoo import load_dataset  # noqa: E402
from zoo.analysis import decode_codes, encode_dataset, linear_probe_accuracy, sample_codes  # noqa: E402
from zoo.conditional import ConditionalMixin  # noqa: E402
from zoo.metrics import conditional_accuracy, generative_scores, train_feature_classifier  # noqa: E402
from zoo.models.vqvae import VQVAE  # noqa: E402
from zoo.presets import list_presets, load_preset, preset_card  # noqa: E402
from recipes._common import positive_int  # noqa: E402
from recipes._report import markdown_table  # noqa: E402

PROBE_IMAGES = 10_000


def samples(model, n: int, train_codes, seed: int):
    """``n`` samples of ``model``: its own generator, or decoded mixture draws."""
    if hasattr(model, "generate"):
        return model.generate(n, seed=seed)
    codes = sample_codes(n, model.latent_dim, seed, fit_to=train_codes, method="gmm")
    return decode_codes(model, codes)


def score(name: str, dataset, classifier, n: int, seed: int) -> tuple:
    """(the table row of preset ``name``, ten of its samples or None)."""
    card = preset_card(name)
    model = load_preset(name)
    seconds = card["metrics"].get("train seconds") or card["metrics"].get("pre-training seconds")
    row = {"preset": name, "model": card["class"], "parameters": model.count_params(),
           "train min": round(seconds / 60, 1) if seconds else "not recorded"}
    conditional = isinstance(model, ConditionalMixin)
    decodes = hasattr(model, "decode")
    encodes = hasattr(model, "encode") and not conditional and not isinstance(model, VQVAE)
    train_codes = encode_dataset(model, dataset.x_train) if encodes else None
    if decodes:
        inputs = [dataset.x_test, dataset.y_test] if conditional else dataset.x_test
        reconstructions = model.predict(inputs, batch_size=512, verbose=0)
        row["test MSE"] = float(np.mean((reconstructions - dataset.x_test) ** 2))
    images = None
    if hasattr(model, "generate") or decodes:
        images = samples(model, n, train_codes, seed)
        scores = generative_scores(images[:n], dataset.x_test[:n], classifier,
                                   reference=dataset.x_train[:n])
        row.update({"domain FID": scores["domain_fid"],
                    "min class share": min(scores["class_shares"]),
                    "max class share": max(scores["class_shares"])})
    if conditional:
        row["conditional accuracy"] = conditional_accuracy(model, classifier, n, seed)[
            "conditional_accuracy"]
    iwae = [value for key, value in card["metrics"].items() if key.startswith("IWAE")]
    if iwae:
        row["IWAE log-likelihood (card)"] = min(iwae, key=abs)  # the largest k's bound
    if encodes:
        row["linear probe"] = linear_probe_accuracy(
            train_codes[:PROBE_IMAGES], dataset.y_train[:PROBE_IMAGES],
            encode_dataset(model, dataset.x_test), dataset.y_test)
    return row, None if images is None else images[:10]


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist", choices=("fashion_mnist", "mnist"))
    parser.add_argument("--data-dir", default=None,
                        help="IDX folder (default: ZOO_DATA_DIR, else tensorflow-datasets)")
    parser.add_argument("--samples", type=positive_int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("reports/zoo"))
    args = parser.parse_args(argv)

    from zoo.plotting import image_rows

    dataset = load_dataset(args.dataset, data_dir=args.data_dir)
    classifier = train_feature_classifier(dataset, epochs=3, seed=args.seed)
    n = min(args.samples, len(dataset.x_test), len(dataset.x_train))
    names = [name for name in list_presets(shipped_only=True)
             if name.startswith(f"{args.dataset}_") and preset_card(name)["class"] != "Functional"]
    rows, shown = [], {}
    for name in names:
        row, images = score(name, dataset, classifier, n, args.seed)
        rows.append(row)
        if images is not None:
            shown[name] = images
        print(f"[zoo] {name}: {row}", flush=True)
    print(f"\n{dataset.summary()}; {n} samples per generative row\n")
    print(markdown_table(rows))
    image_rows(shown, args.out / f"{args.dataset}_samples.png",
               title=f"Samples of every generative preset, {dataset.name}")
    return rows


if __name__ == "__main__":
    main()
