"""Generative adversarial network (Goodfellow et al., 2014)."""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from zoo.adversarial import AdversarialModel
from zoo.blocks import check_trunk, conv_decoder, conv_encoder_features, mlp
from zoo.validation import check_choice

ARCHITECTURES = ("mlp", "dcgan")
MLP_UNITS = (256, 256)  # the reports' pair: 64 -> 256 -> 256 -> 784 and 784 -> 256 -> 256 -> 1


@keras.saving.register_keras_serializable(package="zoo")
class GAN(AdversarialModel):
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
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, seed=seed, **kwargs)
        check_trunk(filters, 0, 0.0)
        self.architecture = check_choice(architecture, "architecture", ARCHITECTURES)
        self.filters = filters

        self.generator, self.discriminator = self.networks()
        self.build(self.call_shapes())

    def networks(self) -> tuple:
        """``(generator, discriminator)``: codes -> images in [-1, 1], images -> logits."""
        generator = self.generator_network(self.latent_dim, name="generator")
        images = keras.Input(self.image_shape, name="images")
        features = self.discriminator_features(images)  # before the logit layer: the order
        logits = layers.Dense(1, name="logit")(features)  # of creation fixes seeded weights
        return generator, keras.Model(images, logits, name="discriminator")

    def generator_network(self, code_dim: int, name: str) -> keras.Model:
        """G, ``(batch, code_dim)`` -> images in [-1, 1]: the MLP (ReLU, tanh out) or
        DCGAN's (the `zoo.blocks` decoder with batch norm and a tanh)."""
        if self.architecture == "dcgan":
            return conv_decoder(code_dim, self.image_shape, self.filters, 0,
                                output_activation="tanh", batch_norm=True, name=name)
        codes = keras.Input((code_dim,), name="latent")
        x = layers.Dense(math.prod(self.image_shape), activation="tanh", name="pixels")(
            mlp(codes, MLP_UNITS, "relu"))
        return keras.Model(codes, layers.Reshape(self.image_shape, name="to_image")(x), name=name)

    def discriminator_features(self, images):
        """D before its logit, LeakyReLU 0.2: the MLP, or DCGAN's conv trunk with batch norm."""
        if self.architecture == "dcgan":
            return conv_encoder_features(images, self.filters, 0, batch_norm=True,
                                         activation="leaky_relu")
        return mlp(layers.Flatten(name="flatten")(images), MLP_UNITS, "leaky_relu")

    def discriminator_losses(self, real, fake, training=False) -> dict:
        """D's loss on a real batch (label 1) and a fake one (label 0), the sum of both
        means, and D's mean belief in each (``d_real``, ``d_fake``, probabilities)."""
        # Real and fake batches go through D separately, so batch normalisation sees the
        # same all-fake batches here as in the generator's step (DCGAN practice).
        real_logits = self.discriminator(real, training=training)
        fake_logits = self.discriminator(fake, training=training)
        d_loss = (self.mean_loss(ops.ones_like(real_logits), real_logits)
                  + self.mean_loss(ops.zeros_like(fake_logits), fake_logits))
        return {"d_loss": d_loss,
                "d_real": ops.mean(ops.sigmoid(ops.cast(real_logits, "float32"))),
                "d_fake": ops.mean(ops.sigmoid(ops.cast(fake_logits, "float32")))}

    def generator_losses(self, fake, training=False) -> dict:
        """G's non-saturating loss: D should call its ``fake`` batch real (label 1)."""
        logits = self.discriminator(fake, training=training)
        return {"g_loss": self.mean_loss(ops.ones_like(logits), logits)}

    def get_config(self):
        return {
            **super().get_config(),
            "architecture": self.architecture,
            "filters": self.filters,
        }
