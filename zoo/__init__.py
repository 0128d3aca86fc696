"""deepzoo: a Keras 3 model zoo for unsupervised deep learning on images."""

from zoo.autoencoder import ConvAutoencoder
from zoo.data import DataError, ImageDataset, check_images, load_dataset, make_tf_dataset
from zoo.export import export_saved_model, save_model
from zoo.training import read_history, resumable_callbacks, set_seed

__version__ = "0.1.0"  # keep in step with setup.cfg

__all__ = [
    "ConvAutoencoder",
    "DataError",
    "ImageDataset",
    "check_images",
    "export_saved_model",
    "load_dataset",
    "make_tf_dataset",
    "read_history",
    "resumable_callbacks",
    "save_model",
    "set_seed",
]
