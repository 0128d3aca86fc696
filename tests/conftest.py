import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from zoo.data import load_dataset  # noqa: E402


@pytest.fixture(scope="session")
def mnist_sample():
    """The embedded MNIST sample: real digits, loaded once per test session."""
    return load_dataset("mnist", source="sample")


@pytest.fixture
def images():
    """A small reproducible batch of float images in [0, 1]."""
    return np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)
