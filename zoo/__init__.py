"""deepzoo: a Keras 3 model zoo for unsupervised deep learning on images.

Models: `ConvAutoencoder`, `VAE`, `GAN`, `WGANGP`, `ContrastiveEncoder`, `ConditionalVAE`,
`ConditionalGAN`, `VQVAE`, `Diffusion`, each a `ZooModel` (the contract in `zoo.base`; CONTRIBUTING.md adds a model in one page). Data: `load_dataset` (named datasets, tfds),
`load_images` (your folder or .npz file), `from_arrays`, `make_dataset`. Serving:
`export_saved_model`. Modules for the rest of the study: `zoo.classifier` (transfer
learning), `zoo.transfer` (the transfer study's protocol), `zoo.corruptions` (denoising), `zoo.analysis` (latent space), `zoo.metrics`
(domain FID, IWAE log-likelihood), `zoo.tuning` and `zoo.crossval` (KerasTuner search,
k-fold CV), `zoo.distribute` (tf.distribute strategies), `zoo.presets`.
"""

from zoo.models.autoencoder import ConvAutoencoder
from zoo.models.cgan import ConditionalGAN
from zoo.models.cvae import ConditionalVAE
from zoo.models.diffusion import Diffusion
from zoo.base import ZooModel
from zoo.classifier import build_classifier, build_cnn_baseline, compile_classifier, fit_two_phase
from zoo.models.contrastive import ContrastiveEncoder
from zoo.distribute import get_strategy
from zoo.data import (DataError, ImageDataset, check_images, from_arrays, load_dataset, load_images,
                      make_dataset)
from zoo.export import export_saved_model
from zoo.saving import save_model
from zoo.models.gan import GAN
from zoo.metrics import binarize, domain_fid, iwae_log_likelihood, sample_diversity, train_feature_classifier
from zoo.crossval import CrossValidation, cross_validate
from zoo.training import read_history, resumable_callbacks, set_seed
from zoo.tuning import AutoencoderHyperModel, CrossValidatedHyperModel, SearchSpace, make_tuner
from zoo.models.vae import VAE
from zoo.models.vqvae import VQVAE
from zoo.models.wgan_gp import WGANGP

__version__ = "0.2.0"  # the one place: setup.cfg reads it, CITATION.cff is tested against it

__all__ = [
    "AutoencoderHyperModel",
    "ConditionalGAN",
    "ConditionalVAE",
    "ContrastiveEncoder",
    "ConvAutoencoder",
    "CrossValidatedHyperModel",
    "CrossValidation",
    "DataError",
    "Diffusion",
    "GAN",
    "ImageDataset",
    "SearchSpace",
    "VAE",
    "VQVAE",
    "WGANGP",
    "ZooModel",
    "binarize",
    "build_classifier",
    "build_cnn_baseline",
    "check_images",
    "compile_classifier",
    "cross_validate",
    "domain_fid",
    "export_saved_model",
    "fit_two_phase",
    "from_arrays",
    "get_strategy",
    "iwae_log_likelihood",
    "load_dataset",
    "load_images",
    "make_tuner",
    "make_dataset",
    "read_history",
    "resumable_callbacks",
    "sample_diversity",
    "save_model",
    "set_seed",
    "train_feature_classifier",
]
