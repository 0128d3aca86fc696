"""The zoo's models, one file each; every one is a `zoo.base.ZooModel`."""

from zoo.models.autoencoder import ConvAutoencoder
from zoo.models.cgan import ConditionalGAN
from zoo.models.contrastive import ContrastiveEncoder
from zoo.models.cvae import ConditionalVAE
from zoo.models.diffusion import Diffusion
from zoo.models.gan import GAN
from zoo.models.vae import VAE
from zoo.models.vqvae import VQVAE
from zoo.models.wgan_gp import WGANGP

__all__ = ["ConditionalGAN", "ConditionalVAE", "ConvAutoencoder", "ContrastiveEncoder", "Diffusion", "GAN", "VAE",
           "VQVAE", "WGANGP"]
