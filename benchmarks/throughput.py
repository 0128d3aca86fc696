"""Training throughput of zoo models vs. the same layers in plain Keras, per Keras backend.

    python -m benchmarks.throughput [--steps 150] [--repeats 5] [--batch-size 128]
                                    [--dtype-policy float32,mixed_float16,mixed_bfloat16]
                                    [--backend tensorflow,jax,torch]
                                    [--models Diffusion,VQVAE]

Each ``--backend`` runs in a process of its own (Keras picks its backend at import) and
gets its own rows; the default is this process's backend. Every zoo model gets a row; the
CAE, the VAE and, on TensorFlow, the GAN also get a plain-Keras side.

Both sides train on the same in-memory float32 images with `fit`, the same optimizer and
batch size, on fresh copies of the zoo model's own layers, so the ratio measures what the
zoo adds (input checks, subclassing, its `train_step`s), not a different network. The
CAE's plain side is a `keras.Sequential` of those layers. The VAE's is the same
convolutional trunk and decoder as a plain autoencoder, so its ratio also prices sampling
and the KL term. The GAN's is `PlainGAN`, keras-io's DCGAN ``train_step`` (one tape for D
on a concatenated real and fake batch, one for G), so its ratio also prices the zoo GAN's
separate real and fake passes through D (kept for batch normalisation) and its ``d_real``/
``d_fake`` trackers. Each ``--dtype-policy`` (comma-separated or repeated) gets its own rows:
both sides are built under it (mixed_float16 scales their losses), and float32 is restored
after. Runs alternate and the best of ``--repeats`` timed runs counts, which damps noise
from other processes (on a 2-core VM single runs vary by about 20%, so shorter settings
are not worth reading). Goal: zoo/plain >= 0.95.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from recipes._common import DTYPE_POLICIES  # first: it quiets TensorFlow's start-up lines
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from zoo import (GAN, VAE, VQVAE, WGANGP, ConditionalGAN, ConditionalVAE, Diffusion,  # noqa: E402
                 ContrastiveEncoder, ConvAutoencoder, load_dataset)
from zoo.backends import accelerator, backend  # noqa: E402
from recipes._report import markdown_table  # noqa: E402

from benchmarks import without_option  # noqa: E402

BACKENDS = ("tensorflow", "jax", "torch")


def plain_copy(*models) -> keras.Sequential:
    """A `keras.Sequential` of fresh copies of the layers of functional ``models``."""
    layers = [type(layer).from_config({**layer.get_config(), "name": f"{model.name}_{layer.name}"})
              for model in models for layer in model.layers[1:]]  # skip each InputLayer
    return keras.Sequential([keras.Input(models[0].input_shape[1:]), *layers])


def cases(image_shape, batch_size, labels) -> dict:
    """``{name: build}`` for each zoo model; ``build()`` makes its (zoo step, plain step or
    None). A step trains on images ``(N, ...)`` (and ``labels``, cycled to N, for the
    conditional models)."""

    def autoencoder():
        cae = ConvAutoencoder(latent_dim=36, input_shape=image_shape)
        cae.compile(optimizer="adam", loss="mse")
        plain = plain_copy(cae.encoder, cae.decoder)
        plain.compile(optimizer="adam", loss="mse")
        return (fit_step(cae, autoencode=True, batch_size=batch_size),
                fit_step(plain, autoencode=True, batch_size=batch_size))

    def vae():
        model = VAE(latent_dim=36, input_shape=image_shape)
        model.compile(optimizer="adam")
        twin = ConvAutoencoder(latent_dim=36, input_shape=image_shape)
        plain = plain_copy(twin.encoder, twin.decoder)
        plain.compile(optimizer="adam", loss="binary_crossentropy")
        return (fit_step(model, autoencode=False, batch_size=batch_size),
                fit_step(plain, autoencode=True, batch_size=batch_size))

    def gan():
        model = GAN(architecture="mlp", input_shape=image_shape)
        model.compile()
        plain = None
        if backend() == "tensorflow":  # keras-io's step opens a tf.GradientTape
            plain = PlainGAN(plain_copy(model.generator), plain_copy(model.discriminator),
                             model.latent_dim)
            plain.compile()
            plain = fit_step(plain, autoencode=False, batch_size=batch_size)
        return fit_step(model, autoencode=False, batch_size=batch_size), plain

    def alone(make, compile_kwargs, conditional):
        """A zoo model with no plain side."""
        def build():
            model = make()
            model.compile(**compile_kwargs)
            return fit_step(model, autoencode=False, batch_size=batch_size,
                            labels=labels if conditional else None), None
        return build

    adam = {"optimizer": "adam"}  # the two-optimizer models compile with their defaults
    return {
        "ConvAutoencoder": autoencoder, "VAE (conv)": vae, "GAN (mlp)": gan,
        "GAN (dcgan)": alone(lambda: GAN(architecture="dcgan", input_shape=image_shape), {}, False),
        "WGANGP": alone(lambda: WGANGP(input_shape=image_shape), {}, False),
        "ConditionalVAE": alone(lambda: ConditionalVAE(input_shape=image_shape), adam, True),
        "ConditionalGAN": alone(lambda: ConditionalGAN(input_shape=image_shape), {}, True),
        "VQVAE": alone(lambda: VQVAE(input_shape=image_shape), adam, False),
        "ContrastiveEncoder": alone(lambda: ContrastiveEncoder(input_shape=image_shape), adam, False),
        # The fashion_mnist_diffusion preset's U-Net.
        "Diffusion": alone(lambda: Diffusion(widths=(16, 32, 64), input_shape=image_shape),
                           adam, True),
    }


def fit_step(model, autoencode, batch_size, labels=None):
    def step(x):
        y = x if autoencode else None if labels is None else np.resize(labels, len(x))
        return model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return step


class PlainGAN(keras.Model):
    """keras-io's DCGAN ``train_step`` (dcgan_overriding_train_step.py, without its label
    noise), on the zoo GAN's losses: D learns real 1 and fake 0, then G learns to make D
    say 1. Real images in [0, 1] are rescaled to G's [-1, 1], as the zoo GAN does."""

    def __init__(self, generator, discriminator, latent_dim):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(0)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self):
        super().compile()
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_optimizer = self._adam()
        self.g_optimizer = self._adam()

    def _adam(self):
        # Keras's compile wraps its one optimizer so under mixed_float16; this model has two.
        adam = keras.optimizers.Adam(2e-4, beta_1=0.5)
        return keras.optimizers.LossScaleOptimizer(adam) \
            if self.dtype_policy.name == "mixed_float16" else adam

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def train_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        real = ops.cast(x, "float32") * 2.0 - 1.0
        n = ops.shape(real)[0]
        z = keras.random.normal((n, self.latent_dim), seed=self.seed_generator)
        images = ops.concatenate([real, ops.cast(self.generator(z), "float32")], axis=0)
        labels = ops.concatenate([ops.ones((n, 1)), ops.zeros((n, 1))], axis=0)
        import tensorflow as tf

        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(images))
            scaled = self.d_optimizer.scale_loss(d_loss)  # identity unless loss-scaled
        weights = self.discriminator.trainable_weights
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))

        z = keras.random.normal((n, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:  # only G's weights are updated here
            g_loss = self.loss_fn(ops.ones((n, 1)), self.discriminator(self.generator(z)))
            scaled = self.g_optimizer.scale_loss(g_loss)
        weights = self.generator.trainable_weights
        self.g_optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def images_per_second(step, x) -> float:
    start = time.perf_counter()
    step(x)
    return len(x) / (time.perf_counter() - start)


def dtype_policies(text: str) -> list:
    """``--dtype-policy``: comma-separated names of the recipes' `DTYPE_POLICIES`."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names or set(names) - set(DTYPE_POLICIES):
        raise argparse.ArgumentTypeError(
            f"must be comma-separated {', '.join(DTYPE_POLICIES)}; got {text!r}")
    return names


def best_rates(zoo_step, plain_step, x, batch_size, repeats) -> dict:
    """The best images/s of each side over ``repeats`` alternating runs, after a warm-up;
    a side that is None is left out."""
    steps = {side: step for side, step in (("zoo", zoo_step), ("plain", plain_step)) if step}
    for step in steps.values():  # warm-up: trace the train functions
        step(x[:2 * batch_size])
    best = dict.fromkeys(steps, 0.0)
    for _ in range(repeats):
        for side, step in steps.items():
            best[side] = max(best[side], images_per_second(step, x))
    return best


def on_backends(backends, argv) -> list:
    """The rows of this benchmark run by ``python -m benchmarks.throughput`` on each of
    ``backends``, in a process of its own."""
    rows = []
    for name in backends:
        result = subprocess.run([sys.executable, "-m", "benchmarks.throughput", *argv, "--json"],
                                env={**os.environ, "KERAS_BACKEND": name}, capture_output=True,
                                text=True, check=False)
        if result.returncode:  # the other backends' rows still count
            print(f"the {name} run failed:\n{result.stderr[-3000:]}", file=sys.stderr)
            continue
        rows += json.loads(result.stdout.strip().splitlines()[-1])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--dtype-policy", type=dtype_policies, action="extend", default=None,
                        help=f"Keras dtype policies to build both sides under, comma-separated "
                             f"or repeated ({', '.join(DTYPE_POLICIES)}; default float32)")
    parser.add_argument("--backend", type=lambda text: [b.strip() for b in text.split(",")],
                        action="extend", default=None,
                        help=f"Keras backends, each in its own process ({', '.join(BACKENDS)}; "
                             "default: this process's)")
    parser.add_argument("--models", type=lambda text: [m.strip() for m in text.split(",")],
                        default=None, help="the rows to run, comma-separated, e.g. "
                                           "'Diffusion,VQVAE' (default: every model)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    known = cases((28, 28, 1), 1, None)  # names only: nothing is built
    if args.models and set(args.models) - set(known):
        parser.error(f"--models must name rows of {', '.join(known)}; got {args.models}")
    if args.backend and args.backend != [backend()]:
        if set(args.backend) - set(BACKENDS):
            parser.error(f"--backend must name {', '.join(BACKENDS)}; got {args.backend}")
        passed_on = [a for a in without_option(list(argv or sys.argv[1:]), "--backend")
                     if a != "--json"]
        rows = on_backends(list(dict.fromkeys(args.backend)), passed_on)
        print(json.dumps(rows) if args.json else markdown_table(rows))
        return rows
    policies = list(dict.fromkeys(args.dtype_policy or ["float32"]))
    device = accelerator()
    if device == "CPU" and policies != ["float32"]:
        print("Note: on CPU, float16 and bfloat16 are emulated and slow; mixed-precision rows "
              "measure that emulation, not what an accelerator would gain.", flush=True)
    data = load_dataset("fashion_mnist", source="sample")
    need = args.steps * args.batch_size
    x = np.resize(data.x_train, (need, *data.image_shape)).astype(np.float32)
    rows = []
    for policy in policies:
        keras.config.set_dtype_policy(policy)  # both sides' layers take it when built
        try:
            for name, build in cases(data.image_shape, args.batch_size, data.y_train).items():
                if args.models and name not in args.models:
                    continue
                zoo_step, plain_step = build()
                row = {"model": name, "backend": backend(), "dtype policy": policy,
                       "device": device, "batch": args.batch_size}
                try:
                    best = best_rates(zoo_step, plain_step, x, args.batch_size, args.repeats)
                except Exception as error:  # a model that fails is a row that says so
                    rows.append({**row, "zoo images/s": f"fails: {type(error).__name__}: "
                                                        f"{str(error).splitlines()[0][:120]}"})
                    continue
                plain = best.get("plain")
                rows.append({
                    **row, "zoo images/s": round(best["zoo"], 1),
                    "plain Keras images/s": round(plain, 1) if plain else "",
                    "zoo / plain": round(best["zoo"] / plain, 3) if plain else "",
                })
        finally:
            keras.config.set_dtype_policy("float32")
    print(json.dumps(rows) if args.json else markdown_table(rows))
    return rows


if __name__ == "__main__":
    main()
