"""The VAE preset's importance-sampled test log-likelihood against the number of samples k.

    python -m benchmarks.likelihood --data-dir "$ZOO_DATA_DIR" [--preset mnist_vae_d32] [--k 1,10,100,1000]

Scores every test image, binarised once as the VAE recipe does (``binarize(x_test, seed=1)``,
the recipe's ``--seed 0`` plus one), with `zoo.metrics.iwae_log_likelihood`. k=1 is the
ELBO; the bound tightens towards the true log-likelihood as k grows, so the k=1000 figure
is the one to set beside the literature's (which quotes k=5000 or k=100 for the IWAE and
VAE papers). Prints one Markdown table: k, test images, log-likelihood (nats), seconds.
"""

from __future__ import annotations

import argparse
import time

from recipes import _common  # noqa: F401  first: it quiets TensorFlow's start-up lines
from zoo import load_dataset  # noqa: E402
from zoo.metrics import binarize, iwae_log_likelihood  # noqa: E402
from zoo.presets import load_preset  # noqa: E402
from recipes._common import non_negative_int, positive_int  # noqa: E402
from recipes._report import markdown_table  # noqa: E402


def sample_counts(text: str) -> list:
    """``--k``: comma-separated positive integers."""
    return [positive_int(word) for word in text.split(",")]


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="mnist_vae_d32")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", default=None,
                        help="IDX folder (default: ZOO_DATA_DIR, else tensorflow-datasets)")
    parser.add_argument("--k", type=sample_counts, default="1,10,100,1000",
                        help="comma-separated sample counts")
    parser.add_argument("--images", type=non_negative_int, default=0,
                        help="test images scored (0: all)")
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset, data_dir=args.data_dir)
    print(f"[likelihood] {dataset.summary()}", flush=True)
    vae = load_preset(args.preset)
    x_test = binarize(dataset.x_test, seed=1)[:args.images or None]
    rows = []
    for k in args.k:
        started = time.perf_counter()
        log_likelihood = iwae_log_likelihood(vae, x_test, k=k)
        rows.append({"k": k, "test images": len(x_test), "log-likelihood (nats)": round(log_likelihood, 2),
                     "seconds": round(time.perf_counter() - started, 1)})
        print(f"[likelihood] k={k}: {log_likelihood:.2f} nats", flush=True)
    print(markdown_table(rows))
    return rows


if __name__ == "__main__":
    main()
