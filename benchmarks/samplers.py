"""Post-hoc samplers for an autoencoder: where to draw the codes a decoder turns into images.

    python -m benchmarks.samplers --data-dir "$ZOO_DATA_DIR" [--preset fashion_mnist_d36]
                                  [--dataset fashion_mnist] [--samples 10000] [--components 10]

An autoencoder has no prior: its decoder only knows the region its training codes fill.
The preset encodes the training split; `zoo.analysis.sample_codes` then draws ``--samples``
codes from N(0, I), from one Gaussian fitted to the codes, and from a mixture of
``--components`` Gaussians fitted to them (scikit-learn's `GaussianMixture`); each set is
decoded and scored against the test split with the domain FID and the class shares of the
zoo's feature classifier (`zoo.metrics.dataset_generative_scores`, one classifier for all
rows). Prints one Markdown table. Goal (#24): the mixture's FID at least 20% below the
single Gaussian's.
"""

from __future__ import annotations

import argparse
import time

from recipes import _common  # noqa: F401  first: it quiets TensorFlow's start-up lines
from zoo import load_dataset  # noqa: E402
from zoo.analysis import decode_codes, encode_dataset, sample_codes  # noqa: E402
from zoo.metrics import generative_scores, train_feature_classifier  # noqa: E402
from zoo.presets import load_preset  # noqa: E402
from recipes._common import positive_int  # noqa: E402
from recipes._report import markdown_table  # noqa: E402

SAMPLERS = {"N(0, I)": {}, "fitted Gaussian": {"method": "gaussian"},
            "fitted mixture": {"method": "gmm"}}


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="fashion_mnist_d36")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--data-dir", default=None,
                        help="IDX folder (default: ZOO_DATA_DIR, else tensorflow-datasets)")
    parser.add_argument("--samples", type=positive_int, default=10_000)
    parser.add_argument("--components", type=positive_int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    dataset = load_dataset(args.dataset, data_dir=args.data_dir)
    model = load_preset(args.preset)
    train_codes = encode_dataset(model, dataset.x_train)
    classifier = train_feature_classifier(dataset, epochs=3, seed=args.seed)
    n = min(args.samples, len(dataset.x_test), len(dataset.x_train))
    rows = []
    for name, options in SAMPLERS.items():
        started = time.perf_counter()
        fit_to = train_codes if options else None
        codes = sample_codes(args.samples, model.latent_dim, args.seed, fit_to=fit_to,
                             components=args.components, **options)
        images = decode_codes(model, codes)
        scores = generative_scores(images[:n], dataset.x_test[:n], classifier,
                                   reference=dataset.x_train[:n])
        rows.append({"sampler": name if name != "fitted mixture"
                     else f"fitted mixture of {args.components}",
                     "domain FID": scores["domain_fid"],
                     "real vs real": scores["domain_fid_real_vs_real"],
                     "min class share": min(scores["class_shares"]),
                     "max class share": max(scores["class_shares"]),
                     "seconds": round(time.perf_counter() - started, 1)})
    print(f"{args.preset} on {dataset.summary()}; {n} samples per row\n")
    print(markdown_table(rows))
    return rows


if __name__ == "__main__":
    main()
