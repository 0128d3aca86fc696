"""Training throughput of zoo models vs. the same layers as a plain `keras.Sequential`.

    python -m benchmarks.throughput [--steps 150] [--repeats 5] [--batch-size 128]

Both sides train on the same in-memory float32 images with `fit`, the same optimizer and
batch size; the plain side is a `keras.Sequential` holding fresh copies of the zoo model's
own layers, so the ratio measures what the zoo adds (input checks, subclassing, custom
`train_step`s), not a different network. The VAE's plain side is the same convolutional
trunk and decoder as a plain autoencoder, so its ratio also prices sampling and the KL
term. The GAN's plain side is the classic two-`fit` step: a Sequential discriminator on a
real and a fake batch, then a Sequential generator+discriminator on codes. Runs alternate and the best of ``--repeats``
timed runs counts, which damps noise from other processes (on a 2-core VM single runs vary
by about 20%, so shorter settings are not worth reading). Goal: zoo/plain >= 0.95.
"""

from __future__ import annotations

import argparse
import time

from recipes import _common  # noqa: F401  first: it quiets TensorFlow's start-up lines
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from zoo import GAN, VAE, ConvAutoencoder, load_dataset  # noqa: E402
from recipes._report import markdown_table  # noqa: E402


def plain_copy(*models) -> keras.Sequential:
    """A `keras.Sequential` of fresh copies of the layers of functional ``models``."""
    layers = [type(layer).from_config({**layer.get_config(), "name": f"{model.name}_{layer.name}"})
              for model in models for layer in model.layers[1:]]  # skip each InputLayer
    return keras.Sequential([keras.Input(models[0].input_shape[1:]), *layers])


def cases(image_shape, batch_size):
    """(name, zoo step, plain step) for each zoo model; a step trains on images (N, ...)."""
    cae = ConvAutoencoder(latent_dim=36, input_shape=image_shape)
    cae.compile(optimizer="adam", loss="mse")
    plain = plain_copy(cae.encoder, cae.decoder)
    plain.compile(optimizer="adam", loss="mse")
    yield "ConvAutoencoder", fit_step(cae, autoencode=True, batch_size=batch_size), \
        fit_step(plain, autoencode=True, batch_size=batch_size)

    vae = VAE(latent_dim=36, input_shape=image_shape)
    vae.compile(optimizer="adam")
    twin = ConvAutoencoder(latent_dim=36, input_shape=image_shape)
    plain = plain_copy(twin.encoder, twin.decoder)
    plain.compile(optimizer="adam", loss="binary_crossentropy")
    yield "VAE (conv)", fit_step(vae, autoencode=False, batch_size=batch_size), \
        fit_step(plain, autoencode=True, batch_size=batch_size)

    gan = GAN(architecture="mlp", input_shape=image_shape)
    gan.compile()
    yield "GAN (mlp)", fit_step(gan, autoencode=False, batch_size=batch_size), \
        classic_gan_step(gan, batch_size)


def fit_step(model, autoencode, batch_size):
    return lambda x: model.fit(x, x if autoencode else None, batch_size=batch_size, epochs=1,
                               shuffle=False, verbose=0)


def classic_gan_step(gan, batch_size):
    discriminator = plain_copy(gan.discriminator)
    discriminator.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                          loss=keras.losses.BinaryCrossentropy(from_logits=True))
    stacked = plain_copy(gan.generator, gan.discriminator)
    stacked.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                    loss=keras.losses.BinaryCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)

    def step(x):
        n = len(x)
        z = rng.normal(size=(n, gan.latent_dim)).astype(np.float32)
        fake = gan.generator.predict(z, batch_size=batch_size, verbose=0)
        images = np.concatenate([x * 2 - 1, fake])
        labels = np.concatenate([np.ones((n, 1)), np.zeros((n, 1))]).astype(np.float32)
        discriminator.fit(images, labels, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        stacked.fit(z, np.ones((n, 1), np.float32), batch_size=batch_size, epochs=1, shuffle=False,
                    verbose=0)
    return step


def images_per_second(step, x) -> float:
    start = time.perf_counter()
    step(x)
    return len(x) / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    data = load_dataset("fashion_mnist", source="sample")
    need = args.steps * args.batch_size
    x = np.resize(data.x_train, (need, *data.image_shape)).astype(np.float32)
    rows = []
    for name, zoo_step, plain_step in cases(data.image_shape, args.batch_size):
        for step in (zoo_step, plain_step):  # warm-up: trace the train functions
            step(x[:2 * args.batch_size])
        best = {"zoo": 0.0, "plain": 0.0}
        for _ in range(args.repeats):
            best["zoo"] = max(best["zoo"], images_per_second(zoo_step, x))
            best["plain"] = max(best["plain"], images_per_second(plain_step, x))
        rows.append({
            "model": name, "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
            "batch": args.batch_size, "zoo images/s": round(best["zoo"], 1),
            "plain Keras images/s": round(best["plain"], 1),
            "zoo / plain": round(best["zoo"] / best["plain"], 3),
        })
    print(markdown_table(rows))
    return rows


if __name__ == "__main__":
    main()
