"""Wasserstein GAN with a gradient penalty (Gulrajani et al., 2017)."""

from __future__ import annotations

import numbers

import keras
from keras import layers, ops

from zoo.adversarial import AdversarialModel
from zoo.backends import input_gradient
from zoo.blocks import check_trunk, conv_decoder, conv_encoder_features
from zoo.validation import check_positive_int, check_scalar


@keras.saving.register_keras_serializable(package="zoo")
class WGANGP(AdversarialModel):
    """A generator G: z ~ N(0, I) -> image and a critic D: image -> score (no sigmoid).

    The critic estimates the Wasserstein-1 distance between real and generated images,
    ``E[D(x)] - E[D(G(z))]``, kept 1-Lipschitz by a penalty on its gradient at random
    points between real and fake images, ``gp_weight * E[(||grad D(x_hat)||_2 - 1)^2]``.
    It takes ``n_critic`` steps per generator step, each on the same real batch and a
    fresh fake one. G is the DCGAN decoder of `zoo.blocks` (batch normalisation, tanh);
    D is the convolutional trunk with LeakyReLU 0.2 and *no* batch normalisation, which
    would make each image's gradient depend on the rest of the batch and void the penalty.

    ``fit`` reports ``d_loss`` (the critic's loss: penalty included), ``g_loss`` (``-E[D(G(z))]``),
    ``wasserstein`` (the critic's estimate of the distance, which falls as G improves)
    and ``gradient_penalty`` (unweighted)::

        wgan = WGANGP(latent_dim=64)
        wgan.compile()        # Adam(1e-4, beta_1=0.5, beta_2=0.9) for both networks
        wgan.fit(x_train, epochs=30)
        images = wgan.generate(16, seed=0)

    Parameters
    ----------
    latent_dim : int, default=64
        Size of z.
    filters : int, default=32
        Width of both networks' convolutional trunks.
    n_critic : int, default=5
        Critic steps per generator step (the paper's 5).
    gp_weight : float, default=10.0
        The penalty's weight lambda (the paper's 10).
    input_shape : tuple, default=(28, 28, 1)
        ``(height, width, channels)``.
    seed : int or None, default=None
        Seed of the stream of codes and interpolation weights (None: random).
    """

    def __init__(self, latent_dim: int = 64, filters: int = 32, n_critic: int = 5,
                 gp_weight: float = 10.0, input_shape=(28, 28, 1), seed=None, **kwargs):
        super().__init__(input_shape=input_shape, latent_dim=latent_dim, seed=seed, **kwargs)
        check_trunk(filters, 0, 0.0)
        self.filters = filters
        self.n_critic = check_positive_int(n_critic, "n_critic")
        self.critic_steps = self.n_critic
        self.gp_weight = check_scalar(gp_weight, "gp_weight", numbers.Real, min_val=0.0)
        self.generator = conv_decoder(latent_dim, self.image_shape, filters, 0,
                                      output_activation="tanh", batch_norm=True, name="generator")
        images = keras.Input(self.image_shape, name="images")
        features = conv_encoder_features(images, filters, 0, activation="leaky_relu")
        self.discriminator = keras.Model(images, layers.Dense(1, name="score")(features),
                                         name="critic")
        self.build((None, latent_dim))

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Adam(1e-4, beta_1=0.5, beta_2=0.9) for both networks unless given (the paper's
        betas, with keras-io's beta_1); the critic's scores need no ``loss_fn``."""
        super().compile(
            d_optimizer=d_optimizer or keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
            g_optimizer=g_optimizer or keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
            **kwargs)

    def score(self, images, training=False):
        """The critic's score of each image, ``(N,)`` in float32."""
        return ops.cast(ops.squeeze(self.discriminator(images, training=training), axis=1),
                        "float32")

    def gradient_penalty(self, real, fake):
        """``E[(||grad_x D(x_hat)||_2 - 1)^2]`` at ``x_hat = real + u (fake - real)``,
        ``u ~ U(0, 1)`` per image (the paper's eq. 3)."""
        u = keras.random.uniform((ops.shape(real)[0], 1, 1, 1), seed=self.seed_generator)
        between = real + u * (ops.cast(fake, "float32") - real)
        gradients = input_gradient(lambda x: self.score(x, training=True), between)
        norms = ops.sqrt(ops.sum(ops.square(gradients), axis=(1, 2, 3)) + 1e-12)
        return ops.mean(ops.square(norms - 1.0))

    def discriminator_losses(self, real, fake, training=False) -> dict:
        """The critic's loss ``E[D(fake)] - E[D(real)] + gp_weight * penalty`` and its parts."""
        wasserstein = ops.mean(self.score(real, training)) - ops.mean(self.score(fake, training))
        penalty = self.gradient_penalty(real, fake)
        return {"d_loss": -wasserstein + self.gp_weight * penalty, "wasserstein": wasserstein,
                "gradient_penalty": penalty}

    def generator_losses(self, fake, training=False) -> dict:
        """G's loss ``-E[D(fake)]``: G raises the critic's score of its images."""
        return {"g_loss": -ops.mean(self.score(fake, training))}

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "n_critic": self.n_critic,
                "gp_weight": self.gp_weight}
