"""Convolutional autoencoder with a reusable encoder."""

from __future__ import annotations

import keras
from keras import layers

from zoo.base import EncoderDecoderMixin, ZooModel
from zoo.blocks import check_trunk, conv_decoder, conv_encoder_features
from zoo.serving import Endpoint
from zoo.validation import check_images


@keras.saving.register_keras_serializable(package="zoo")
class ConvAutoencoder(EncoderDecoderMixin, ZooModel):
    """Convolutional autoencoder: images -> ``latent_dim`` codes -> images.

    Encoder: three stride-2 3x3 convolutions (``filters``, 2x, 4x), dropout, a dense
    layer of ``dense_units`` and a linear ``latent_dim`` code. Decoder: the mirror image
    with transposed convolutions and a sigmoid output, so images live in [0, 1].

    Train it like any Keras model. The reconstruction target defaults to the input,
    so ``model.fit(x_train)`` works as well as ``model.fit(x_train, x_train)``::

        model = ConvAutoencoder(latent_dim=36)
        model.compile(optimizer="adam", loss="mse")
        model.fit(x_train, epochs=10, validation_data=x_val)
        features = model.encoder(x_test)          # reuse the encoder elsewhere

    Parameters
    ----------
    latent_dim : int, default=36
        Size of the code.
    filters : int, default=32
        Filters of the first convolution (then 2x and 4x).
    dense_units : int, default=256
        Units of the hidden dense layer on each side (0: none).
    dropout : float, default=0.0
        Dropout rate before the encoder's dense layers, in [0, 1).
    input_shape : tuple, default=(28, 28, 1)
        ``(height, width, channels)`` of the images.
    """

    def __init__(self, latent_dim: int = 36, filters: int = 32, dense_units: int = 256,
                 dropout: float = 0.0, input_shape=(28, 28, 1), **kwargs):
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, **kwargs)
        check_trunk(filters, dense_units, dropout)
        self.filters = filters
        self.dense_units = dense_units
        self.dropout = dropout

        images = keras.Input(self.image_shape, name="images")
        features = conv_encoder_features(images, filters, dense_units, dropout)
        codes = layers.Dense(latent_dim, name="code")(features)
        self.encoder = keras.Model(images, codes, name="encoder")
        self.decoder = conv_decoder(latent_dim, self.image_shape, filters, dense_units)
        self.build((None, *self.image_shape))

    def call(self, inputs, training=False):
        return self.decoder(self.encoder(inputs, training=training), training=training)

    # A target other than the input (a denoising autoencoder's clean images) is an image
    # batch too: checking it here stops a wrong one before it fails inside the loss.
    def check_targets(self, y, x, name="y"):
        y = super().check_targets(y, x, name)
        return y if y is None else check_images(y, self.image_shape, name)

    # The reconstruction target is the input unless the caller gives another
    # (a denoising autoencoder gives the clean image).
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(x, x if y is None else y, y_pred, sample_weight, training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, x if y is None else y, y_pred, sample_weight)

    def export_endpoints(self) -> dict:
        """Serving endpoints for `zoo.export_saved_model`; the first is the default."""
        return {
            "reconstruct": Endpoint(self.image_input(),
                                    lambda x: {"reconstruction": self(x, training=False)}),
            "encode": Endpoint(self.image_input(),
                               lambda x: {"codes": self.encoder(x, training=False)}),
            "decode": Endpoint(self.code_input(),
                               lambda z: {"images": self.decoder(z, training=False)}),
        }

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "dense_units": self.dense_units,
            "dropout": self.dropout,
        }
