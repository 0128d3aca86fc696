"""Class-conditional GAN (Mirza & Osindero, 2014) with a projection discriminator
(Miyato & Koyama, 2018)."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from zoo.conditional import ConditionalMixin, one_hot
from zoo.serving import Endpoint
from zoo.models.gan import GAN
from zoo.validation import check_codes


@keras.saving.register_keras_serializable(package="zoo")
class ConditionalGAN(ConditionalMixin, GAN):
    """`GAN` whose generator and discriminator are both told the class.

    G reads ``[z, one_hot(label)]``. D is the GAN's, plus a projection: its logit is
    ``psi(h) + <embed(label), h>`` on its features ``h`` (Miyato & Koyama, 2018), so it
    judges whether an image is real *and of that class*, which conditions G far more
    firmly than feeding D the label as extra channels. The step, losses and reports are
    the `GAN`'s: D's real batch pairs images with their labels, G's fakes carry the labels
    of the real batch they are compared with. ::

        cgan = ConditionalGAN(latent_dim=64, architecture="dcgan", num_classes=10)
        cgan.compile()
        cgan.fit(x_train, y_train, epochs=20)
        shoes = cgan.generate(16, seed=0, labels=np.full(16, 7))

    Parameters are the `GAN`'s, plus ``num_classes`` (default 10): labels are ints in
    ``[0, num_classes)``.
    """

    def __init__(self, latent_dim: int = 64, architecture: str = "dcgan", filters: int = 32,
                 num_classes: int = 10, input_shape=(28, 28, 1), seed=None, **kwargs):
        super().__init__(latent_dim=latent_dim, architecture=architecture, filters=filters,
                         num_classes=num_classes, input_shape=input_shape, seed=seed, **kwargs)

    def networks(self) -> tuple:
        """``(generator, discriminator)``: ``[codes, labels]`` -> images in [-1, 1] and
        ``[images, labels]`` -> logits."""
        codes = keras.Input((self.latent_dim,), name="latent")
        labels = keras.Input((), dtype="int32", name="labels")
        trunk = self.generator_network(self.latent_dim + self.num_classes, name="generator_trunk")
        conditioned = layers.Concatenate(name="codes_and_class")([codes, one_hot(labels, self.num_classes)])
        generator = keras.Model([codes, labels], trunk(conditioned), name="generator")

        images = keras.Input(self.image_shape, name="images")
        image_labels = keras.Input((), dtype="int32", name="labels")
        features = self.discriminator_features(images)
        class_embedding = layers.Embedding(self.num_classes, features.shape[-1],
                                           name="class_embedding")(image_labels)
        logits = layers.Add(name="logit")([
            layers.Dense(1, name="unconditional_logit")(features),
            layers.Dot(axes=1, name="projection")([class_embedding, features])])
        return generator, keras.Model([images, image_labels], logits, name="discriminator")

    def real_batch(self, inputs):
        images, labels = inputs
        return [super().real_batch(images), labels]

    def codes_like(self, real):
        return [super().codes_like(real[0]), real[1]]

    def fake_batch(self, codes, training=False):
        return [super().fake_batch(codes, training), codes[1]]

    def generate_from(self, z, *, labels, batch_size: int = 256) -> np.ndarray:
        """Images in [0, 1] of classes ``labels`` ``(N,)`` from codes ``z`` ``(N, latent_dim)``."""
        z = check_codes(z, self.latent_dim)
        return self.predict([z, self.checked_labels(labels, len(z))], batch_size=batch_size,
                            verbose=0)

    def export_endpoints(self) -> dict:
        """``generate``: ``codes`` ``(N, latent_dim)`` and ``labels`` ``(N,)`` -> ``images``."""
        return {"generate": Endpoint((self.code_input(), self.label_input()),
                                     lambda z, y: {"images": self([z, y], training=False)})}
