import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# scikit-learn's t-SNE slows tenfold with two threads on a busy 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def add_xla_flags(*flags):
    """Append ``flags`` to XLA_FLAGS, each unless it is there already (set by the user, or
    inherited: the kit's pytest subprocesses load this file again). Set before XLA starts,
    the JAX subprocesses inherit them."""
    present = os.environ.get("XLA_FLAGS", "")
    missing = [flag for flag in flags if flag.partition("=")[0] not in present]
    os.environ["XLA_FLAGS"] = " ".join([present, *missing]).strip()


# A test runs each compiled function for a few steps, so XLA's compile time outweighs the
# speed of the code it makes: without LLVM's optimisations, the JAX subprocesses and the
# jit_compile tests ran 1.5x faster (the no-TensorFlow test on JAX: 35 s -> 20 s). The
# benchmarks compile as users do.
add_xla_flags("--xla_backend_optimization_level=0")
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    # Workers share the cores: one thread each in TensorFlow's pools (the kit's training
    # tests ran 9% faster so on 2 cores). Set before TensorFlow starts; the backends'
    # subprocesses inherit it.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    # and in XLA's, for the JAX subprocesses (their compiles ran as fast alone; beside a
    # busy worker, two threads of theirs only took turns with it).
    add_xla_flags("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")

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
