"""Training throughput of zoo models vs. the same layers as a plain `keras.Sequential`.

    python -m benchmarks.throughput [--steps 60] [--repeats 3] [--batch-size 128]

Both sides train on the same in-memory float32 images with `fit`, the same optimizer and
batch size; the plain side is a `keras.Sequential` holding fresh copies of the zoo model's
own layers, so the ratio measures what the zoo adds (input checks, subclassing, custom
`train_step`s), not a different network. Runs alternate and the best of ``--repeats``
timed runs counts, which damps noise from other processes. Goal: zoo/plain >= 0.95.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from zoo import ConvAutoencoder, load_dataset  # noqa: E402
from zoo.report import markdown_table  # noqa: E402


def plain_copy(*models) -> keras.Sequential:
    """A `keras.Sequential` of fresh copies of the layers of functional ``models``."""
    layers = [type(layer).from_config({**layer.get_config(), "name": f"{model.name}_{layer.name}"})
              for model in models for layer in model.layers[1:]]  # skip each InputLayer
    return keras.Sequential([keras.Input(models[0].input_shape[1:]), *layers])


def cases(image_shape):
    """(name, zoo model, plain model) for each zoo model, compiled alike."""
    cae = ConvAutoencoder(latent_dim=36, input_shape=image_shape)
    cae.compile(optimizer="adam", loss="mse")
    plain = plain_copy(cae.encoder, cae.decoder)
    plain.compile(optimizer="adam", loss="mse")
    yield "ConvAutoencoder", cae, plain


def images_per_second(model, x, y, steps, batch_size) -> float:
    n = steps * batch_size
    start = time.perf_counter()
    model.fit(x[:n], y[:n], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return n / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    data = load_dataset("fashion_mnist", source="sample")
    need = args.steps * args.batch_size
    x = np.resize(data.x_train, (need, *data.image_shape)).astype(np.float32)
    rows = []
    for name, zoo_model, plain_model in cases(data.image_shape):
        for model in (zoo_model, plain_model):  # warm-up: trace the train function
            images_per_second(model, x, x, 2, args.batch_size)
        best = {"zoo": 0.0, "plain": 0.0}
        for _ in range(args.repeats):
            best["zoo"] = max(best["zoo"], images_per_second(zoo_model, x, x, args.steps, args.batch_size))
            best["plain"] = max(best["plain"], images_per_second(plain_model, x, x, args.steps, args.batch_size))
        rows.append({
            "model": name, "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
            "batch": args.batch_size, "zoo images/s": round(best["zoo"], 1),
            "plain Sequential images/s": round(best["plain"], 1),
            "zoo / plain": round(best["zoo"] / best["plain"], 3),
        })
    print(markdown_table(rows))
    return rows


if __name__ == "__main__":
    main()
