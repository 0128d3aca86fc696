"""The zoo's models, one file each; every one is a `zoo.base.ZooModel`."""

from zoo.models.autoencoder import ConvAutoencoder
from zoo.models.contrastive import ContrastiveEncoder
from zoo.models.gan import GAN
from zoo.models.vae import VAE
from zoo.models.wgan_gp import WGANGP

__all__ = ["ConvAutoencoder", "ContrastiveEncoder", "GAN", "VAE", "WGANGP"]
