"""Class-conditional variational autoencoder (Sohn et al., 2015)."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from zoo.base import as_float32
from zoo.conditional import ConditionalMixin, one_hot
from zoo.serving import Endpoint
from zoo.models.vae import VAE
from zoo.validation import check_batch_size, check_codes, check_images


@keras.saving.register_keras_serializable(package="zoo")
class ConditionalVAE(ConditionalMixin, VAE):
    """`VAE` whose encoder q(z|x, y) and decoder p(x|z, y) are both told the class.

    The one-hot label joins the encoder's features before ``z_mean``/``z_log_var`` and
    the code before the decoder, so z is free to hold what the class does not say (the
    style: thickness, slant, shade) and ``generate(n, seed, labels=...)`` draws images of the
    classes asked for. The loss is the `VAE`'s, and so are the parameters, plus
    ``num_classes`` (default 10; labels are ints in ``[0, num_classes)``)::

        cvae = ConditionalVAE(latent_dim=16, num_classes=10)
        cvae.compile(optimizer="adam")
        cvae.fit(x_train, y_train, epochs=20, validation_data=(x_val, y_val))
        shoes = cvae.generate(16, seed=0, labels=np.full(16, 7))
        codes = cvae.encode(x_test, y_test)
    """

    def __init__(self, latent_dim: int = 16, architecture: str = "conv", filters: int = 32,
                 dense_units: int = 256, reconstruction_loss: str = "bce", beta: float = 1.0,
                 num_classes: int = 10, input_shape=(28, 28, 1), seed=None, **kwargs):
        super().__init__(latent_dim=latent_dim, architecture=architecture, filters=filters,
                         dense_units=dense_units, reconstruction_loss=reconstruction_loss,
                         beta=beta, num_classes=num_classes, input_shape=input_shape, seed=seed,
                         **kwargs)

    def networks(self) -> tuple:
        """``(encoder, decoder_logits)``: ``[images, labels]`` -> ``[z_mean, z_log_var, z]``
        and ``[codes, labels]`` -> Bernoulli logits."""
        images = keras.Input(self.image_shape, name="images")
        labels = keras.Input((), dtype="int32", name="labels")
        features = layers.Concatenate(name="features_and_class")(
            [self.features(images), one_hot(labels, self.num_classes)])
        encoder = keras.Model([images, labels], self.posterior(features), name="encoder")

        codes = keras.Input((self.latent_dim,), name="latent")
        code_labels = keras.Input((), dtype="int32", name="labels")
        trunk = self.logits_network(self.latent_dim + self.num_classes, name="logits_trunk")
        conditioned = layers.Concatenate(name="codes_and_class")(
            [codes, one_hot(code_labels, self.num_classes)])
        return encoder, keras.Model([codes, code_labels], trunk(conditioned), name="decoder_logits")

    def call(self, inputs, training=False):
        """Deterministic reconstruction of ``[images, labels]``: the decoded posterior mean."""
        images, labels = inputs
        z_mean, _, _ = self.encoder([images, labels], training=training)
        return self.decoder([z_mean, labels], training=training)

    def compute_losses(self, inputs, training=False) -> dict:
        """The `VAE`'s terms for a batch of ``(images, labels)``."""
        images, labels = inputs
        z_mean, z_log_var, z = self.encoder([images, labels], training=training)
        return self.elbo_terms(images, self.decoder_logits([z, labels], training=training),
                               z_mean, z_log_var)

    def encode(self, x, *, labels, batch_size: int = 256) -> np.ndarray:
        """Posterior means ``(N, latent_dim)`` of images ``x`` of classes ``labels``."""
        x = check_images(x, self.image_shape)
        return as_float32(self.encoder.predict([x, self.checked_labels(labels, len(x))],
                                               batch_size=check_batch_size(batch_size), verbose=0)[0])

    def decode(self, z, *, labels, batch_size: int = 256) -> np.ndarray:
        """Images ``(N,) + image_shape`` of classes ``labels`` decoded from codes ``z``."""
        z = check_codes(z, self.latent_dim)
        return as_float32(self.decoder.predict([z, self.checked_labels(labels, len(z))],
                                               batch_size=check_batch_size(batch_size), verbose=0))

    def reconstruct(self, x, *, labels, batch_size: int = 256) -> np.ndarray:
        """Decoded posterior means of images ``x`` of classes ``labels``, in [0, 1]."""
        return self.predict([x, labels], batch_size=batch_size, verbose=0)

    def generate_from(self, z, *, labels, batch_size: int = 256) -> np.ndarray:
        """Images in [0, 1] of classes ``labels`` decoded from codes ``z``."""
        return self.decode(z, labels=labels, batch_size=batch_size)

    def export_endpoints(self) -> dict:
        """``reconstruct`` (the default), ``encode``, ``decode`` and ``generate``, each
        with int32 ``labels`` ``(N,)`` beside its images or codes."""
        images = (self.image_input(), self.label_input())
        decode = Endpoint((self.code_input(), self.label_input()),
                          lambda z, y: {"images": self.decoder([z, y], training=False)})

        def encode(x, y):
            z_mean, z_log_var, _ = self.encoder([x, y], training=False)
            return {"mean": z_mean, "log_var": z_log_var}

        return {
            "reconstruct": Endpoint(images, lambda x, y: {"reconstruction": self([x, y], training=False)}),
            "encode": Endpoint(images, encode),
            "decode": decode,
            "generate": decode,
        }
