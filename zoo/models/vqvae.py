"""Vector-quantised VAE (van den Oord et al., 2017) with a PixelCNN prior over its codes
(van den Oord et al., 2016), in Keras 3 alone."""

from __future__ import annotations

import math
import numbers

import keras
import numpy as np
from keras import layers, ops

from zoo.base import EncoderDecoderMixin, ZooModel, as_float32
from zoo.blocks import crop_to
from zoo.serving import Endpoint, ServingInput
from zoo.validation import (check_batch_size, check_codes, check_image_shape, check_images,
                            check_labels, check_positive_int, check_scalar, check_seed)

DOWNSAMPLINGS = 2  # 28x28 images -> a 7x7 grid of codes


@keras.saving.register_keras_serializable(package="zoo")
class VectorQuantizer(layers.Layer):
    """The nearest of ``num_embeddings`` codebook vectors to each position of a grid.

    ``call(z)`` takes encoder outputs ``(N, H, W, embedding_dim)`` and returns the
    quantised grid (the codebook vectors, same shape) and the index grid ``(N, H, W)``
    (int32). Build it with ``dtype="float32"`` under a mixed policy (the VQ-VAE does).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim

    def build(self, input_shape):
        # Uniform in +-1/K, as in the paper's reference code: every vector starts near the
        # encoder's early outputs, so few are never chosen.
        limit = 1.0 / self.num_embeddings
        self.codebook = self.add_weight(
            shape=(self.num_embeddings, self.embedding_dim), name="codebook", dtype="float32",
            initializer=keras.initializers.RandomUniform(-limit, limit))

    def indices(self, z):
        """The index of the nearest codebook vector at each position: ``(N, H, W)``."""
        flat = ops.reshape(ops.cast(z, self.codebook.dtype), (-1, self.embedding_dim))
        distances = (ops.sum(flat**2, axis=1, keepdims=True) - 2.0 * flat @ ops.transpose(self.codebook)
                     + ops.sum(self.codebook**2, axis=1))
        return ops.reshape(ops.cast(ops.argmin(distances, axis=1), "int32"), ops.shape(z)[:-1])

    def lookup(self, indices):
        """The codebook vectors of an index grid ``(N, H, W)``: ``(N, H, W, embedding_dim)``."""
        return ops.take(self.codebook, indices, axis=0)

    def call(self, z):
        indices = self.indices(z)
        return self.lookup(indices), indices

    def compute_output_spec(self, z):
        return (keras.KerasTensor(z.shape, dtype="float32"),
                keras.KerasTensor(z.shape[:-1], dtype="int32"))

    def get_config(self):
        return {**super().get_config(), "num_embeddings": self.num_embeddings,
                "embedding_dim": self.embedding_dim}


@keras.saving.register_keras_serializable(package="zoo")
class MaskedConv2D(layers.Layer):
    """A 2-D convolution that sees only the positions before the centre, in raster order
    (``mask_type="A"``, the first layer) or those and the centre (``"B"``, the others):
    the PixelCNN's guarantee that position i's output depends on positions < i alone."""

    def __init__(self, mask_type: str, filters: int, kernel_size: int, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.mask_type = mask_type
        self.filters = filters
        self.kernel_size = kernel_size
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self.add_weight(shape=(k, k, input_shape[-1], self.filters), name="kernel",
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")
        mask = np.ones((k, k, 1, 1), np.float32)
        mask[k // 2, k // 2 + (self.mask_type == "B"):] = 0.0  # the centre row from the centre on
        mask[k // 2 + 1:] = 0.0  # every row below
        self.mask = mask

    def call(self, x):
        kernel = ops.cast(self.kernel * self.mask, x.dtype)
        return self.activation(ops.conv(x, kernel, padding="same") + ops.cast(self.bias, x.dtype))

    def get_config(self):
        return {**super().get_config(), "mask_type": self.mask_type, "filters": self.filters,
                "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation)}


def residual_block(x, filters: int, name: str):
    """``x + conv1x1(relu(conv3x3(relu(x))))``: the paper's residual block."""
    y = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv3")(
        layers.Activation("relu", name=f"{name}_relu")(x))
    return layers.Add(name=name)([x, layers.Conv2D(x.shape[-1], 1, name=f"{name}_conv1")(y)])


@keras.saving.register_keras_serializable(package="zoo")
class VQVAE(EncoderDecoderMixin, ZooModel):
    """VQ-VAE: images -> a grid of discrete codes -> images, and a PixelCNN prior over the
    grid that makes it generative.

    The encoder (two stride-2 convolutions, ``residual_blocks`` residual blocks, a 1x1
    convolution to ``embedding_dim``) maps a 28x28 image to a 7x7 grid of vectors; each is
    replaced by the nearest of ``num_embeddings`` codebook vectors (`VectorQuantizer`),
    and the decoder (the mirror image, sigmoid output) maps the grid back to an image.
    Gradients skip the quantisation (the straight-through estimator). Per image, the
    loss is the summed squared error of the reconstruction, plus the codebook loss
    ``||sg(z) - e||^2`` that moves each chosen vector towards the encoder's output and
    ``commitment * ||z - sg(e)||^2`` that keeps the encoder near its vectors (summed over
    the grid). ``fit`` reports them (``reconstruction_loss``, ``vq_loss``), the pixel
    ``mse`` and the codebook's ``perplexity`` (how many vectors a batch uses in effect).

    The prior is a PixelCNN (`MaskedConv2D`) over the index grid, trained afterwards on
    the training set's codes by ``fit_prior`` (Keras's ``fit`` with a cross-entropy);
    ``generate(n, seed)`` draws grids from it position by position and decodes them.

    Its codes, as every zoo encoder's, are float vectors: ``encode`` gives the quantised
    grid flattened, ``(N, latent_dim)`` with ``latent_dim = H * W * embedding_dim``, and
    ``decode`` snaps codes to the codebook before decoding them. The discrete grid has
    its own names, ``encode_indices`` and ``decode_indices``::

        vqvae = VQVAE(num_embeddings=128)
        vqvae.compile(optimizer=keras.optimizers.Adam(1e-3))
        vqvae.fit(x_train, epochs=20)
        vqvae.fit_prior(x_train, epochs=20)
        codes = vqvae.encode(x_test)          # (N, 7 * 7 * 16) float32
        grids = vqvae.encode_indices(x_test)  # (N, 7, 7) int32 in [0, num_embeddings)
        images = vqvae.generate(16, seed=0)

    Parameters
    ----------
    embedding_dim : int, default=16
        Size of each codebook vector.
    num_embeddings : int, default=128
        Codebook size K.
    filters : int, default=64
        Width of the convolutions (the first has half as many).
    residual_blocks : int, default=2
        Residual blocks on each side of the quantiser.
    commitment : float, default=0.25
        The commitment term's weight (the paper's beta).
    prior_filters, prior_blocks : int, default=64, 6
        Width and depth of the PixelCNN.
    input_shape : tuple, default=(28, 28, 1)
        ``(height, width, channels)``.
    """

    generates = True  # from the PixelCNN prior

    def __init__(self, embedding_dim: int = 16, num_embeddings: int = 128, filters: int = 64,
                 residual_blocks: int = 2, commitment: float = 0.25, prior_filters: int = 64,
                 prior_blocks: int = 6, input_shape=(28, 28, 1), **kwargs):
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        height, width = (math.ceil(side / 2**DOWNSAMPLINGS)
                         for side in check_image_shape(input_shape)[:2])
        self.grid_shape = (height, width)
        super().__init__(input_shape=input_shape, latent_dim=height * width * embedding_dim,
                         **kwargs)
        self.num_embeddings = check_scalar(num_embeddings, "num_embeddings", numbers.Integral,
                                           min_val=2)
        self.filters = check_positive_int(filters, "filters")
        self.residual_blocks = check_scalar(residual_blocks, "residual_blocks", numbers.Integral,
                                            min_val=0)
        self.commitment = check_scalar(commitment, "commitment", numbers.Real, min_val=0.0)
        self.prior_filters = check_positive_int(prior_filters, "prior_filters")
        self.prior_blocks = check_scalar(prior_blocks, "prior_blocks", numbers.Integral, min_val=0)
        self.encoder = self._encoder()
        # float32 under any policy: distances between nearby vectors need the precision.
        self.quantizer = VectorQuantizer(self.num_embeddings, embedding_dim, dtype="float32",
                                         name="quantizer")
        self.quantizer.build((None, height, width, embedding_dim))
        self.decoder = self._decoder()
        self.prior = self._prior()
        # Trained apart, on the finished codes (fit_prior): frozen, it is outside the
        # weights that fit (and the optimizer saved with the model) move.
        self.prior.trainable = False
        self.build((None, *self.image_shape))

    def _encoder(self) -> keras.Model:
        images = keras.Input(self.image_shape, name="images")
        x = images
        for i, width in enumerate((self.filters // 2, self.filters)):
            x = layers.Conv2D(width, 4, strides=2, padding="same", activation="relu",
                              name=f"down{i + 1}")(x)
        x = layers.Conv2D(self.filters, 3, padding="same", name="features")(x)
        for i in range(self.residual_blocks):
            x = residual_block(x, self.filters, name=f"residual{i + 1}")
        z = layers.Conv2D(self.embedding_dim, 1, name="to_latent")(layers.Activation("relu")(x))
        return keras.Model(images, z, name="encoder")

    def _decoder(self) -> keras.Model:
        grid = keras.Input((*self.grid_shape, self.embedding_dim), name="quantized")
        x = layers.Conv2D(self.filters, 3, padding="same", name="features")(grid)
        for i in range(self.residual_blocks):
            x = residual_block(x, self.filters, name=f"residual{i + 1}")
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(self.filters // 2, 4, strides=2, padding="same",
                                   activation="relu", name="up1")(x)
        # float32, as `zoo.blocks.conv_decoder`'s output layer is (it says why).
        x = layers.Conv2DTranspose(self.image_shape[2], 4, strides=2, padding="same",
                                   activation="sigmoid", dtype="float32", name="to_image")(x)
        return keras.Model(grid, crop_to(x, *self.image_shape[:2]), name="decoder")

    def _prior(self) -> keras.Model:
        """PixelCNN: an index grid ``(N, H, W)`` -> logits ``(N, H, W, K)`` of each position
        given the positions before it."""
        indices = keras.Input(self.grid_shape, dtype="int32", name="indices")
        x = layers.Embedding(self.num_embeddings, self.prior_filters, name="embedding")(indices)
        x = MaskedConv2D("A", self.prior_filters, 7, activation="relu", name="masked_a")(x)
        for i in range(self.prior_blocks):
            y = layers.Conv2D(self.prior_filters // 2, 1, activation="relu", name=f"block{i + 1}_in")(x)
            y = MaskedConv2D("B", self.prior_filters // 2, 3, activation="relu",
                             name=f"block{i + 1}_masked")(y)
            y = layers.Conv2D(self.prior_filters, 1, activation="relu", name=f"block{i + 1}_out")(y)
            x = layers.Add(name=f"block{i + 1}")([x, y])
        x = layers.Conv2D(self.prior_filters, 1, activation="relu", name="head")(x)
        logits = layers.Conv2D(self.num_embeddings, 1, dtype="float32", name="logits")(x)
        return keras.Model(indices, logits, name="prior")

    def call(self, inputs, training=False):
        """The reconstruction: the decoded quantised grid of ``inputs``."""
        quantized, _ = self.quantizer(self.encoder(inputs, training=training))
        return self.decoder(quantized, training=training)

    def compute_losses(self, x, training=False) -> dict:
        """``loss`` (per image: summed squared error + codebook + commitment terms) and its
        parts, the pixel ``mse`` and the batch's codebook ``perplexity``; float32."""
        z = ops.cast(self.encoder(x, training=training), "float32")
        quantized, indices = self.quantizer(z)
        # Straight-through: the decoder reads the codebook vectors, the gradient of its
        # input goes to z unchanged.
        through = z + ops.stop_gradient(quantized - z)
        reconstruction = ops.cast(self.decoder(through, training=training), "float32")
        per_image = lambda t: ops.mean(ops.sum(t, axis=tuple(range(1, len(t.shape)))))
        reconstruction_loss = per_image(ops.square(x - reconstruction))
        codebook_loss = per_image(ops.square(quantized - ops.stop_gradient(z)))
        commitment_loss = per_image(ops.square(z - ops.stop_gradient(quantized)))
        vq_loss = codebook_loss + self.commitment * commitment_loss
        usage = ops.mean(ops.one_hot(ops.reshape(indices, (-1,)), self.num_embeddings), axis=0)
        perplexity = ops.exp(-ops.sum(usage * ops.log(usage + 1e-10)))
        return {"loss": reconstruction_loss + vq_loss, "reconstruction_loss": reconstruction_loss,
                "vq_loss": vq_loss, "mse": ops.mean(ops.square(x - reconstruction)),
                "perplexity": perplexity}

    # ---------------------------------------------------------------- codes and prior

    def encode(self, x, batch_size: int = 256) -> np.ndarray:
        """The quantised grids of images ``x``, flattened: float32 ``(N, latent_dim)``."""
        return self.decode_indices_to_codes(self.encode_indices(x, batch_size))

    def decode(self, z, batch_size: int = 256) -> np.ndarray:
        """Images ``(N,) + image_shape`` in [0, 1] from codes ``z`` ``(N, latent_dim)``, each
        grid vector first snapped to its nearest codebook vector (a code from ``encode``
        is one already; a blend of two, as in an interpolation, becomes one)."""
        z = check_codes(z, self.latent_dim).reshape(-1, *self.grid_shape, self.embedding_dim)
        return self.decode_indices(self.grid_indices(z, check_batch_size(batch_size)), batch_size)

    def encode_indices(self, x, batch_size: int = 256) -> np.ndarray:
        """The index grids ``(N, H, W)`` (int32, in ``[0, num_embeddings)``) of images ``x``."""
        batch_size = check_batch_size(batch_size)
        z = self.encoder.predict(check_images(x, self.image_shape), batch_size=batch_size, verbose=0)
        return self.grid_indices(z, batch_size)

    def decode_indices(self, indices, batch_size: int = 256) -> np.ndarray:
        """Images ``(N,) + image_shape`` in [0, 1] decoded from index grids ``(N, H, W)``."""
        quantized = self.quantizer.lookup(self.checked_grids(indices))
        return as_float32(self.decoder.predict(quantized, batch_size=check_batch_size(batch_size),
                                               verbose=0))

    def decode_indices_to_codes(self, indices) -> np.ndarray:
        """Index grids ``(N, H, W)`` as codes ``(N, latent_dim)``: their codebook vectors."""
        quantized = self.quantizer.lookup(self.checked_grids(indices))
        return as_float32(quantized).reshape(len(quantized), self.latent_dim)

    def grid_indices(self, z, batch_size: int) -> np.ndarray:
        """The nearest codebook vector's index at each position of grids ``z``
        ``(N, H, W, embedding_dim)``."""
        # In batches: the distances to every codebook vector of every position are large.
        return np.concatenate([np.asarray(self.quantizer.indices(z[i:i + batch_size]))
                               for i in range(0, len(z), batch_size)])

    def checked_grids(self, indices) -> np.ndarray:
        """``indices`` as int32 grids ``(N, H, W)`` of values in ``[0, num_embeddings)``."""
        array = np.asarray(indices)
        if array.ndim != 3 or array.shape[1:] != self.grid_shape:
            raise ValueError(f"indices must have shape (N, {self.grid_shape[0]}, "
                             f"{self.grid_shape[1]}), got {array.shape}")
        return check_labels(array.reshape(-1), self.num_embeddings, name="indices").reshape(array.shape)

    def fit_prior(self, x, epochs: int = 20, batch_size: int = 128, validation_data=None,
                  optimizer=None, **fit_kwargs) -> keras.callbacks.History:
        """Train the PixelCNN prior on the index grids of images ``x`` (the VQ-VAE itself
        stays fixed): Keras's ``fit`` with a cross-entropy on each position given the ones
        before it. ``validation_data``: images. Default optimizer: Adam(3e-4).
        ``fit_kwargs`` go to ``fit`` (``callbacks``, ``verbose``, ...)."""
        grids = self.encode_indices(x)
        if validation_data is not None:
            validation_grids = self.encode_indices(validation_data)
            validation_data = (validation_grids, validation_grids)
        self.prior.trainable = True
        try:
            self.prior.compile(optimizer=optimizer or keras.optimizers.Adam(3e-4),
                               loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            return self.prior.fit(grids, grids, epochs=check_positive_int(epochs, "epochs"),
                                  batch_size=check_batch_size(batch_size),
                                  validation_data=validation_data, **fit_kwargs)
        finally:
            self.prior.trainable = False

    def prior_nll(self, x, batch_size: int = 256) -> float:
        """The prior's negative log-likelihood of the index grids of images ``x``, in nats
        per image (the cross-entropy summed over the grid, averaged over images)."""
        grids = self.encode_indices(x)
        logits = self.prior.predict(grids, batch_size=check_batch_size(batch_size), verbose=0)
        per_position = keras.losses.sparse_categorical_crossentropy(grids, logits, from_logits=True)
        return float(np.mean(np.sum(np.asarray(per_position), axis=(1, 2))))

    def generate(self, n: int, seed=None, batch_size: int = 1000) -> np.ndarray:
        """``n`` images in [0, 1] decoded from grids drawn from the prior, position by
        position in raster order; the same ``seed``, the same images."""
        n, batch_size = check_positive_int(n, "n"), check_batch_size(batch_size)
        rng = np.random.default_rng(check_seed(seed))
        grids = np.zeros((n, *self.grid_shape), np.int32)
        for start in range(0, n, batch_size):
            grid = grids[start:start + batch_size]
            for row in range(self.grid_shape[0]):
                for col in range(self.grid_shape[1]):
                    logits = np.asarray(self.prior(grid, training=False)[:, row, col], np.float64)
                    # Inverse-CDF draws from the softmax, with the NumPy stream of seed.
                    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
                    cumulative = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
                    draws = (cumulative < rng.random((len(grid), 1))).sum(axis=1)
                    grid[:, row, col] = np.minimum(draws, self.num_embeddings - 1)
        return self.decode_indices(grids, batch_size=batch_size)

    def generate_from(self, z, batch_size: int = 256) -> np.ndarray:
        """Images in [0, 1] decoded from codes ``z`` ``(N, latent_dim)``, as ``decode``
        (``generate`` draws index grids from the prior instead)."""
        return self.decode(z, batch_size=batch_size)

    # ------------------------------------------------------------------ serving, config

    def export_endpoints(self) -> dict:
        """``reconstruct`` (the default); ``encode`` (images -> float ``codes``) and
        ``decode`` (``codes`` -> images, snapped to the codebook), as every encoder-decoder
        serves; ``encode_indices`` and ``decode_indices`` for the int32 index grid."""
        grids = ServingInput("indices", self.grid_shape, classes=self.num_embeddings)
        grid_of = lambda z: ops.reshape(z, (-1, *self.grid_shape, self.embedding_dim))
        quantized = lambda x: self.quantizer(self.encoder(x, training=False))[0]
        return {
            "reconstruct": Endpoint(self.image_input(),
                                    lambda x: {"reconstruction": self(x, training=False)}),
            "encode": Endpoint(self.image_input(), lambda x: {
                "codes": ops.reshape(quantized(x), (-1, self.latent_dim))}),
            "decode": Endpoint(self.code_input(), lambda z: {
                "images": self.decoder(self.quantizer(grid_of(z))[0], training=False)}),
            "encode_indices": Endpoint(self.image_input(), lambda x: {
                "indices": self.quantizer.indices(self.encoder(x, training=False))}),
            "decode_indices": Endpoint(grids, lambda g: {
                "images": self.decoder(self.quantizer.lookup(g), training=False)}),
        }

    @classmethod
    def from_config(cls, config):
        # Files saved before 0.2.0 name the codebook vector's size "latent_dim".
        config = dict(config)
        if "latent_dim" in config:
            config.setdefault("embedding_dim", config.pop("latent_dim"))
        return super().from_config(config)

    def get_config(self):
        config = {**super().get_config(), "embedding_dim": self.embedding_dim,
                  "num_embeddings": self.num_embeddings, "filters": self.filters,
                  "residual_blocks": self.residual_blocks, "commitment": self.commitment,
                  "prior_filters": self.prior_filters, "prior_blocks": self.prior_blocks}
        del config["latent_dim"]  # the grid's size times embedding_dim, not a choice
        return config
