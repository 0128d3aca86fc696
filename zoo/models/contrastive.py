"""Contrastive encoder (SimCLR, Chen et al., 2020): features learned by telling views apart."""

from __future__ import annotations

import numbers

import keras
from keras import layers, ops

from zoo.base import EncoderMixin, ZooModel
from zoo.blocks import augmentation, check_trunk, conv_encoder_features
from zoo.serving import Endpoint
from zoo.validation import check_bool, check_positive_int, check_scalar, check_seed


@keras.saving.register_keras_serializable(package="zoo")
class ContrastiveEncoder(EncoderMixin, ZooModel):
    """An encoder trained without labels to map two random views of an image close together.

    Each training image is augmented twice (a random horizontal flip with ``flip``, a
    shift by up to ``shift`` of its size, zoom, contrast); both views go through the encoder (the
    `ConvAutoencoder` trunk: three stride-2 convolutions, a dense layer of
    ``dense_units`` and a linear ``latent_dim`` code) and a projection head (Dense(128,
    relu), Dense(``projection_dim``)). The loss is InfoNCE over the batch: with ``p``
    and ``q`` the L2-normalised projections of the two views, row ``i`` of
    ``p @ q.T / temperature`` must pick column ``i`` among the batch's N images,
    averaged over both directions (a cross-entropy, in nats; log N for random features).
    ``contrastive_accuracy`` is the fraction of rows that pick it.

    The head is dropped after training: ``encoder`` (images -> codes) is the product,
    for `zoo.classifier` or `encode`. There is no decoder, so nothing to generate::

        model = ContrastiveEncoder(latent_dim=36)
        model.compile(optimizer="adam")
        model.fit(make_dataset(x_train, batch_size=256), epochs=15)
        clf = transfer_classifier("frozen", model, num_classes=10)

    Parameters
    ----------
    latent_dim : int, default=36
        Size of the code (the encoder's output).
    filters, dense_units : int, default=32, 256
        Width of the convolutional trunk and its dense layer.
    projection_dim : int, default=64
        Output size of the projection head the loss compares.
    temperature : float, default=0.2
        Softmax temperature of the InfoNCE logits (> 0).
    shift : float, default=0.15
        Largest random translation, a fraction of height and width in (0, 0.5).
    flip : bool, default=True
        Random horizontal flips (right for clothes and most photos, wrong for digits
        and text).
    input_shape : tuple, default=(28, 28, 1)
        ``(height, width, channels)``.
    seed : int or None, default=None
        Seed of the augmentations' random streams (None: random).
    """

    def __init__(self, latent_dim: int = 36, filters: int = 32, dense_units: int = 256,
                 projection_dim: int = 64, temperature: float = 0.2, shift: float = 0.15,
                 flip: bool = True, input_shape=(28, 28, 1), seed=None, **kwargs):
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, **kwargs)
        check_trunk(filters, dense_units, 0.0)
        self.filters = filters
        self.dense_units = dense_units
        self.projection_dim = check_positive_int(projection_dim, "projection_dim")
        self.temperature = check_scalar(temperature, "temperature", numbers.Real, min_val=0.0,
                                        include_boundaries="neither")
        self.shift = check_scalar(shift, "shift", numbers.Real, min_val=0.0, max_val=0.5,
                                  include_boundaries="neither")
        self.flip = check_bool(flip, "flip")
        self.seed = check_seed(seed)

        images = keras.Input(self.image_shape, name="images")
        codes = layers.Dense(latent_dim, name="code")(conv_encoder_features(images, filters, dense_units))
        self.encoder = keras.Model(images, codes, name="encoder")
        self.projector = keras.Sequential(
            [keras.Input((latent_dim,)), layers.Dense(128, activation="relu", name="hidden"),
             layers.Dense(self.projection_dim, name="projection")], name="projector")
        # Changes of view a class survives, so the codes learn to ignore them.
        self.augment = augmentation(flip=flip, shift=self.shift, zoom=(-0.3, 0.1), contrast=0.5,
                                    seed=self.seed)
        self.augment.build((None, *self.image_shape))  # call() never runs it; a reload needs it built
        self.build((None, *self.image_shape))

    def call(self, inputs, training=False):
        """The codes ``(N, latent_dim)`` of images ``(N,) + image_shape``."""
        return self.encoder(inputs, training=training)

    def views(self, x):
        """Two independent random augmentations of the batch ``x``, kept in [0, 1]."""
        return tuple(ops.clip(self.augment(x, training=True), 0.0, 1.0) for _ in range(2))

    def compute_losses(self, x, training=False) -> dict:
        """``loss`` (InfoNCE, both directions, nats) and ``contrastive_accuracy`` of the
        batch ``x``, from two fresh views of it (`views`); float32 under any dtype policy."""
        return self.view_losses(*self.views(x), training=training)

    def view_losses(self, first, second, training=False) -> dict:
        """The terms of two batches of views, image ``i`` of ``first`` matching image ``i``
        of ``second``."""
        p, q = (ops.normalize(ops.cast(self.projector(self.encoder(v, training=training),
                                                      training=training), "float32"), axis=1)
                for v in (first, second))
        logits = ops.matmul(p, ops.transpose(q)) / self.temperature
        matches = ops.arange(ops.shape(logits)[0])
        loss = 0.5 * (ops.mean(keras.losses.sparse_categorical_crossentropy(matches, logits, from_logits=True))
                      + ops.mean(keras.losses.sparse_categorical_crossentropy(
                          matches, ops.transpose(logits), from_logits=True)))
        picked = ops.cast(ops.equal(ops.argmax(logits, axis=1), matches), "float32")
        return {"loss": loss, "contrastive_accuracy": ops.mean(picked)}

    def export_endpoints(self) -> dict:
        """Serving endpoints: ``encode`` (the default), images -> ``codes``."""
        return {"encode": Endpoint(self.image_input(),
                                   lambda x: {"codes": self.encoder(x, training=False)})}

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "dense_units": self.dense_units,
                "projection_dim": self.projection_dim, "temperature": self.temperature,
                "shift": self.shift, "flip": self.flip, "seed": self.seed}
