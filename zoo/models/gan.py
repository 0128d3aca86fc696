"""Generative adversarial network (Goodfellow et al., 2014) with a custom ``train_step``."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from zoo.base import GenerativeMixin, ZooModel, check_codes, check_seed, replica_scaled
from zoo.blocks import check_trunk, conv_decoder, conv_encoder_features
from zoo.export import Endpoint, ServingInput

ARCHITECTURES = ("mlp", "dcgan")
MLP_UNITS = (256, 256)  # the reports' pair: 64 -> 256 -> 256 -> 784 and 784 -> 256 -> 256 -> 1


@keras.saving.register_keras_serializable(package="zoo")
class GAN(GenerativeMixin, ZooModel):
    """A generator G: z ~ N(0, I) -> image and a discriminator D: image -> logit.

    ``architecture="mlp"``: the reports' pair, G = latent -> 256 -> 256 -> pixels (ReLU,
    tanh output) and D = pixels -> 256 -> 256 -> 1 (LeakyReLU 0.2). ``"dcgan"``: G is the
    `zoo.blocks` transposed-convolution decoder and D the convolutional trunk, both with
    batch normalisation (``filters`` sets their width), LeakyReLU 0.2 in D.

    G's tanh output lives in [-1, 1]; feed real images in [0, 1] like every zoo model
    (``train_step`` rescales them) and read samples in [0, 1] (`generate`, ``call``).
    D returns logits, so ``loss_fn`` must take logits (the default does)::

        gan = GAN(latent_dim=64)
        gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                    g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
        gan.fit(x_train, epochs=50, callbacks=[SampleGrid("samples", epochs=(1, 5, 50))])  # zoo.plotting
        images = gan.generate(16, seed=0)

    Each step trains D on a real and a generated batch (labels 1 and 0; ``d_loss`` is the
    sum of the two mean losses, 2 log 2 = 1.386 when D cannot tell them apart), then G to make
    D say 1 (the non-saturating loss). ``fit`` reports ``d_loss``, ``g_loss``, ``d_real``
    (mean D(x) as a probability) and ``d_fake`` (mean D(G(z))).
    """

    def __init__(self, latent_dim: int = 64, architecture: str = "mlp", filters: int = 32,
                 input_shape=(28, 28, 1), seed=None, **kwargs):
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, **kwargs)
        check_trunk(filters, 0, 0.0)
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        self.seed = check_seed(seed)
        self.architecture = architecture
        self.filters = filters

        images = keras.Input(self.image_shape, name="images")
        if architecture == "mlp":
            self.generator = self._mlp_generator()
            x = layers.Flatten(name="flatten")(images)
            for i, units in enumerate(MLP_UNITS):
                x = layers.Dense(units, name=f"hidden{i + 1}")(x)
                x = layers.LeakyReLU(0.2, name=f"hidden{i + 1}_act")(x)
        else:
            self.generator = conv_decoder(latent_dim, self.image_shape, filters, 0,
                                          output_activation="tanh", batch_norm=True,
                                          name="generator")
            x = conv_encoder_features(images, filters, 0, batch_norm=True, activation="leaky_relu")
        self.discriminator = keras.Model(images, layers.Dense(1, name="logit")(x),
                                         name="discriminator")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.build((None, latent_dim))

    def _mlp_generator(self) -> keras.Model:
        codes = keras.Input((self.latent_dim,), name="latent")
        x = codes
        for i, units in enumerate(MLP_UNITS):
            x = layers.Dense(units, activation="relu", name=f"hidden{i + 1}")(x)
        x = layers.Dense(math.prod(self.image_shape), activation="tanh", name="pixels")(x)
        return keras.Model(codes, layers.Reshape(self.image_shape, name="to_image")(x),
                           name="generator")

    def compile(self, d_optimizer=None, g_optimizer=None, loss_fn=None, **kwargs):
        """Set one optimizer per network and the loss on D's logits.

        Defaults: Adam(2e-4, beta_1=0.5) for both (Radford et al., 2016) and
        ``BinaryCrossentropy(from_logits=True)``. Both optimizers are built here, so their
        state exists before a `.keras` file or a `BackupAndRestore` backup is loaded.
        """
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = keras.optimizers.get(
            d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        self.g_optimizer = keras.optimizers.get(
            g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        if self.d_optimizer is self.g_optimizer:
            raise ValueError("d_optimizer and g_optimizer must be two optimizer instances; "
                             "one optimizer cannot hold the state of both networks")
        self.loss_fn = keras.losses.get(loss_fn or keras.losses.BinaryCrossentropy(from_logits=True))
        if getattr(self.loss_fn, "get_config", dict)().get("from_logits") is False:
            raise ValueError("the discriminator outputs logits: use a loss with from_logits=True, "
                             "e.g. keras.losses.BinaryCrossentropy(from_logits=True)")
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {name: keras.saving.serialize_keras_object(getattr(self, name))
                for name in ("d_optimizer", "g_optimizer", "loss_fn")}

    def compile_from_config(self, config):
        self.compile(**{name: keras.saving.deserialize_keras_object(value)
                        for name, value in config.items()})

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def call(self, inputs, training=False):
        """Images in [0, 1] generated from codes ``(batch, latent_dim)``."""
        return (self.generator(inputs, training=training) + 1.0) / 2.0

    # fit and evaluate take real images; predict (like call) takes codes.
    def _check_predict_inputs(self, x, name):
        return check_codes(x, self.latent_dim, name) if isinstance(x, np.ndarray) else x

    def _unpack(self, data):
        """Real images in G's range [-1, 1], a draw of codes z ~ N(0, I), labels 1 and 0."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        real = ops.cast(x, "float32") * 2.0 - 1.0
        batch = ops.shape(real)[0]
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        return real, z, ops.ones((batch, 1)), ops.zeros((batch, 1))

    def train_step(self, data):
        real, z, ones, zeros = self._unpack(data)
        fake = self.generator(z, training=True)
        # Real and fake batches go through D separately, so batch normalisation sees the
        # same all-fake batches here as in the generator's step below (DCGAN practice).
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = self._mean_loss(ones, real_logits) + self._mean_loss(zeros, fake_logits)
            scaled = replica_scaled(d_loss)
        weights = self.discriminator.trainable_weights
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))

        z = keras.random.normal(ops.shape(z), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            g_logits = self.discriminator(self.generator(z, training=True), training=True)
            g_loss = self._mean_loss(ones, g_logits)
            scaled = replica_scaled(g_loss)
        weights = self.generator.trainable_weights
        self.g_optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))

        return self._track(d_loss, g_loss, real_logits, fake_logits)

    def test_step(self, data):
        """``evaluate``: both losses on real images and fresh fakes, with no update."""
        real, z, ones, zeros = self._unpack(data)
        real_logits = self.discriminator(real, training=False)
        fake_logits = self.discriminator(self.generator(z, training=False), training=False)
        d_loss = self._mean_loss(ones, real_logits) + self._mean_loss(zeros, fake_logits)
        return self._track(d_loss, self._mean_loss(ones, fake_logits), real_logits, fake_logits)

    def _track(self, d_loss, g_loss, real_logits, fake_logits):
        return self.update_trackers({"d_loss": d_loss, "g_loss": g_loss,
                                     "d_real": ops.sigmoid(real_logits),
                                     "d_fake": ops.sigmoid(fake_logits)})

    def _mean_loss(self, labels, logits):
        # Unreduced per-example values: a `keras.losses.Loss` called as a whole already
        # divides by the replica count under a strategy, and `replica_scaled` does that
        # once, explicitly, for the gradient only.
        call = self.loss_fn.call if isinstance(self.loss_fn, keras.losses.Loss) else self.loss_fn
        return ops.mean(call(labels, logits))

    def generate_from(self, z, batch_size: int = 256) -> np.ndarray:
        """Images in [0, 1] generated from codes ``z`` of shape ``(N, latent_dim)``."""
        return self.predict(check_codes(z, self.latent_dim), batch_size=batch_size, verbose=0)

    @property
    def serving_model(self) -> keras.Model:
        """What an export saves: the generator alone (D is only needed for training)."""
        return self.generator

    def export_endpoints(self) -> dict:
        """Serving endpoint ``generate``: ``codes`` ``(N, latent_dim)`` -> ``images`` in [0, 1]."""
        codes = ServingInput("codes", (self.latent_dim,))
        return {"generate": Endpoint(codes, lambda z: {"images": self(z, training=False)})}

    def get_config(self):
        return {
            **super().get_config(),
            "architecture": self.architecture,
            "filters": self.filters,
            "seed": self.seed,
        }
