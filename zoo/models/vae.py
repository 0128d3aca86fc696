"""Variational autoencoder (Kingma & Welling, 2014) with a custom ``train_step``."""

from __future__ import annotations

import math
import numbers

import keras
import numpy as np
from keras import layers, ops

from zoo.base import EncoderDecoderMixin, GenerativeMixin, ZooModel
from zoo.blocks import check_trunk, conv_decoder, conv_encoder_features, mlp
from zoo.serving import Endpoint
from zoo.validation import check_choice, check_scalar, check_seed

ARCHITECTURES = ("conv", "mlp")
RECONSTRUCTION_LOSSES = ("bce", "mse")
MLP_UNITS = (512, 256)  # the reports' 784-512-256-latent encoder, mirrored by the decoder


@keras.saving.register_keras_serializable(package="zoo")
class Sampling(layers.Layer):
    """Reparameterisation: ``z = mean + exp(log_var / 2) * eps`` with ``eps ~ N(0, I)``.

    The layer owns its `keras.random.SeedGenerator`, so the noise stream is part of the
    model's state (saved, restored, seeded per model) rather than a module global.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def with_sigmoid(logits_network: keras.Model) -> keras.Model:
    """``logits_network`` then a sigmoid, as the model ``decoder``: images in [0, 1]."""
    inputs = [keras.Input(t.shape[1:], dtype=t.dtype, name=t.name) for t in logits_network.inputs]
    inputs = inputs[0] if len(inputs) == 1 else inputs
    pixels = layers.Activation("sigmoid", name="pixels")(logits_network(inputs))
    return keras.Model(inputs, pixels, name="decoder")


@keras.saving.register_keras_serializable(package="zoo")
class VAE(EncoderDecoderMixin, GenerativeMixin, ZooModel):
    """Variational autoencoder: images -> q(z|x) = N(mean, diag(exp(log_var))) -> images.

    ``architecture="conv"`` uses the convolutional encoder/decoder of `zoo.blocks` (as
    `ConvAutoencoder`); ``"mlp"`` is the reports' dense 784-512-256-latent encoder and its
    mirror (``filters`` and ``dense_units`` apply to ``"conv"`` only). The decoder ends in
    a sigmoid, so images live in [0, 1]; ``decoder_logits`` is the same network without
    it (the Bernoulli logits the loss and `zoo.metrics.iwae_log_likelihood` use).

    The loss, per image and averaged over the batch, is
    ``reconstruction + beta * KL(q(z|x) || N(0, I))``, where the reconstruction term is
    summed over pixels: with ``"bce"`` it is the Bernoulli negative log-likelihood in nats
    per image (the literature's unit on MNIST), with ``"mse"`` the summed squared error.
    ``fit``/``evaluate`` report ``loss``, ``reconstruction_loss`` and ``kl_loss``
    (``val_``-prefixed with ``validation_data``)::

        vae = VAE(latent_dim=16)
        vae.compile(optimizer="adam")
        vae.fit(x_train, epochs=10, validation_data=x_val)
        codes = vae.encode(x_test)          # posterior means (N, latent_dim)
        digits = vae.generate(16, seed=0)   # decoded draws from N(0, I)

    Parameters
    ----------
    latent_dim : int, default=16
        Size of z.
    architecture : {"conv", "mlp"}, default="conv"
    filters, dense_units : int, default=32, 256
        Conv trunk width and hidden dense units (conv only).
    reconstruction_loss : {"bce", "mse"}, default="bce"
        Bernoulli decoder (nats) or summed squared error.
    beta : float, default=1.0
        KL weight (1: the ELBO; >1: beta-VAE).
    input_shape : tuple, default=(28, 28, 1)
        ``(height, width, channels)``.
    seed : int or None, default=None
        Seed of the sampling layer's noise stream (None: random).
    """

    def __init__(self, latent_dim: int = 16, architecture: str = "conv", filters: int = 32,
                 dense_units: int = 256, reconstruction_loss: str = "bce", beta: float = 1.0,
                 input_shape=(28, 28, 1), seed=None, **kwargs):
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, **kwargs)
        check_trunk(filters, dense_units, 0.0)
        self.architecture = check_choice(architecture, "architecture", ARCHITECTURES)
        self.reconstruction_loss = check_choice(reconstruction_loss, "reconstruction_loss",
                                                RECONSTRUCTION_LOSSES)
        self.beta = check_scalar(beta, "beta", numbers.Real, min_val=0.0, fix="1 is the ELBO")
        self.seed = check_seed(seed)
        self.filters = filters
        self.dense_units = dense_units

        encoder, decoder_logits = self.networks()
        # Tracked in this order, as the shipped presets were: it sets the order of the
        # weights (and of the optimizer's slots) in the saved files.
        self.decoder_logits, self.encoder = decoder_logits, encoder
        self.decoder = with_sigmoid(self.decoder_logits)
        self.build(self.call_shapes())

    def networks(self) -> tuple:
        """``(encoder, decoder_logits)``: images -> ``[z_mean, z_log_var, z]`` and codes ->
        Bernoulli logits (the conditional VAE gives both networks the labels too)."""
        images = keras.Input(self.image_shape, name="images")
        features = self.features(images)
        # Created in this order so that a seed gives the weights it gave before this split.
        decoder_logits = self.logits_network(self.latent_dim, name="decoder_logits")
        return keras.Model(images, self.posterior(features), name="encoder"), decoder_logits

    def features(self, images):
        """The encoder's flat features of ``images``: the conv trunk or the dense layers."""
        if self.architecture == "conv":
            return conv_encoder_features(images, self.filters, self.dense_units)
        return mlp(layers.Flatten(name="flatten")(images), MLP_UNITS, "relu")

    def posterior(self, features) -> list:
        """``[z_mean, z_log_var, z]``: q(z|x) from the encoder's ``features``, and a draw."""
        z_mean = layers.Dense(self.latent_dim, name="z_mean")(features)
        z_log_var = layers.Dense(self.latent_dim, name="z_log_var")(features)
        return [z_mean, z_log_var, Sampling(self.seed, name="sampling")([z_mean, z_log_var])]

    def logits_network(self, code_dim: int, name: str) -> keras.Model:
        """A network ``(batch, code_dim)`` -> logits ``(batch,) + image_shape``."""
        if self.architecture == "conv":
            return conv_decoder(code_dim, self.image_shape, self.filters, self.dense_units,
                                output_activation=None, name=name)
        codes = keras.Input((code_dim,), name="latent")
        x = mlp(codes, MLP_UNITS[::-1], "relu")
        x = layers.Dense(math.prod(self.image_shape), name="logits")(x)
        return keras.Model(codes, layers.Reshape(self.image_shape, name="to_image")(x), name=name)

    def call(self, inputs, training=False):
        """Deterministic reconstruction: the decoded posterior mean."""
        z_mean, _, _ = self.encoder(inputs, training=training)
        return self.decoder(z_mean, training=training)

    def compute_losses(self, x, training=False) -> dict:
        """``loss``, ``reconstruction_loss`` and ``kl_loss`` in nats (bce) per image,
        averaged over the batch ``x``; float32 under any dtype policy."""
        z_mean, z_log_var, z = self.encoder(x, training=training)
        return self.elbo_terms(x, self.decoder_logits(z, training=training), z_mean, z_log_var)

    def elbo_terms(self, x, logits, z_mean, z_log_var) -> dict:
        """The loss terms of images ``x`` from the decoder's ``logits`` and q(z|x)."""
        logits = ops.cast(logits, "float32")
        z_mean, z_log_var = ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")
        if self.reconstruction_loss == "bce":
            per_pixel = ops.binary_crossentropy(x, logits, from_logits=True)
        else:
            per_pixel = ops.square(x - ops.sigmoid(logits))
        reconstruction = ops.mean(ops.sum(per_pixel, axis=tuple(range(1, len(x.shape)))))
        kl = ops.mean(-0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var),
                                     axis=1))
        return {"loss": reconstruction + self.beta * kl, "reconstruction_loss": reconstruction,
                "kl_loss": kl}

    def train_step(self, data):
        # keras-io's shape, on every backend: the ELBO's terms, one step of the base
        # on their "loss" (the gradient, replica and loss scaling, the update), the trackers.
        inputs = self.loss_inputs(data)
        losses = self.minimize(lambda: self.compute_losses(inputs, training=True))
        return self.update_trackers(losses)

    def encode(self, x, batch_size: int = 256) -> np.ndarray:
        """Posterior means ``(N, latent_dim)`` of images ``(N,) + image_shape``."""
        return super().encode(x, batch_size)[0]  # the encoder's outputs: mean, log_var, z

    def generate_from(self, z, batch_size: int = 256) -> np.ndarray:
        """Images in [0, 1] decoded from codes ``z`` of shape ``(N, latent_dim)``."""
        return self.decode(z, batch_size=batch_size)

    def export_endpoints(self) -> dict:
        """Deterministic serving endpoints; the first (``reconstruct``) is the default."""
        decode = Endpoint(self.code_input(), lambda z: {"images": self.decoder(z, training=False)})

        def encode(x):
            z_mean, z_log_var, _ = self.encoder(x, training=False)
            return {"mean": z_mean, "log_var": z_log_var}

        return {
            "reconstruct": Endpoint(self.image_input(),
                                    lambda x: {"reconstruction": self(x, training=False)}),
            "encode": Endpoint(self.image_input(), encode),
            "decode": decode,
            "generate": decode,  # decoding prior draws: the name a generative model serves
        }

    def get_config(self):
        return {
            **super().get_config(),
            "architecture": self.architecture,
            "filters": self.filters,
            "dense_units": self.dense_units,
            "reconstruction_loss": self.reconstruction_loss,
            "beta": self.beta,
            "seed": self.seed,
        }
