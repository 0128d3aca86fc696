import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# scikit-learn's t-SNE slows tenfold with two threads on a busy 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    # Workers share the cores: one thread each in TensorFlow's pools (the kit's training
    # tests ran 9% faster so on 2 cores). Set before TensorFlow starts; the backends'
    # subprocesses inherit it.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    # and in XLA's, for the JAX subprocesses (their compiles ran as fast alone; beside a
    # busy worker, two threads of theirs only took turns with it). Once: the kit's own
    # pytest subprocesses load this file again with the flags inherited.
    if "--xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = " ".join(
            [os.environ.get("XLA_FLAGS", ""), "--xla_cpu_multi_thread_eigen=false",
             "intra_op_parallelism_threads=1"]).strip()

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import write_png  # noqa: E402
from zoo.data import load_dataset  # noqa: E402


@pytest.fixture(scope="session")
def mnist_sample():
    """The embedded MNIST sample: real digits, loaded once per test session."""
    return load_dataset("mnist", source="sample")


@pytest.fixture
def images():
    """A small reproducible batch of float images in [0, 1]."""
    return np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    """scikit-learn's digits as uint8 pixels, and as PNGs in a class-folder tree and a flat folder.

    File names keep the digits' order, so the folders read back in the order of ``order``.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = np.round(bunch.images * 255 / 16).astype(np.uint8)[..., None]
    root = tmp_path_factory.mktemp("digits")
    for i, (image, label) in enumerate(zip(pixels, bunch.target)):
        write_png(root / "digits" / str(label) / f"{i:05d}.png", image)
        write_png(root / "flat" / f"{i:05d}.png", image)
    return {"pixels": pixels, "labels": bunch.target, "tree": root / "digits",
            "flat": root / "flat", "order": np.argsort(bunch.target, kind="stable")}
