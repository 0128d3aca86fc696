"""The zoo on JAX and PyTorch: the contract kit, and training with no TensorFlow installed.

Keras picks its backend once, at import, so each backend runs in a process of its own;
this process (TensorFlow, the default) runs the rest of the suite.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("jax", "torch")


def run_on(backend: str, args: list, timeout: int = 900) -> subprocess.CompletedProcess:
    """``python <args>`` with ``KERAS_BACKEND=backend``, from the repository root."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


# The kit off TensorFlow, in the default run: training under every policy for the
# two-optimizer step with batch norm and labels (the loss scaling of both optimizers goes
# through the base's one `minimize` per backend, as the VAE's own step does), and saving,
# export and the verbs with labels of a two-optimizer model. The VAE's own step, the
# critic's input gradient and the diffusion model's moving average (under mixed_float16)
# and sampler train and run, and a preset loads, in
# test_the_zoo_imports_and_trains_with_no_tensorflow. With -m slow: the whole kit, and
# every preset's outputs against TensorFlow's. The contrastive encoder's augmentation
# layers are slow off TensorFlow on a CPU (four minutes of the kit on PyTorch): it runs
# in the TensorFlow suite alone.
SMOKE = ("test_precision[cgan]", "test_saving[cgan]", "test_export[cgan]", "test_api[cgan]")
FULL = "not contrastive"


def run_kit(backend: str, tests=(), select: str = "") -> None:
    """The kit's ``tests`` (names with their model, e.g. ``test_saving[cgan]``), or those
    that the -k expression ``select`` picks, of ``tests/test_contract.py`` on ``backend``;
    SavedModel export where the backend has it (not PyTorch)."""
    if backend == "torch":
        tests = [test for test in tests if not test.startswith("test_export")]
        select = select and f"({select}) and not test_export"
    kit = "tests/test_contract.py"
    args = [f"{kit}::{test}" for test in tests] or [kit, "-k", select]
    # In this process (-n 0): the suite's xdist workers would each import the backend and
    # the zoo again, and take turns on the cores with this test's own worker.
    result = run_on(backend, ["-m", "pytest", *args, "-q", "-p", "no:cacheprovider", "-x",
                              "-n", "0"], timeout=1800)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1], result.stdout[-2000:]


@pytest.mark.parametrize("backend", BACKENDS)
def test_contract_kit_passes_on(backend):
    """A two-optimizer model trains (float32 and both mixed policies), saves, reloads,
    trains on, keeps the API's verbs and types and (on JAX) serves its guarded
    SavedModel (PyTorch's export: see test_the_zoo_imports_and_trains_with_no_tensorflow)."""
    run_kit(backend, SMOKE)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_whole_contract_kit_passes_on(backend):
    """Every model, every test of the kit (about six minutes on JAX on 2 cores)."""
    run_kit(backend, select=FULL)


# As if these were not installed: the path finder does not find them, so importing them
# fails, `importlib.util.find_spec` gives None and `sys.modules` never holds them (Keras
# reads that to tell a tf.data graph).
NO_TENSORFLOW = textwrap.dedent("""
    import importlib.machinery
    import sys

    class PathFinderWithoutTensorFlow(importlib.machinery.PathFinder):
        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if name.partition(".")[0] in ("tensorflow", "tensorflow_datasets", "tf_keras"):
                return None
            return super().find_spec(name, path, target)

    sys.meta_path = [PathFinderWithoutTensorFlow if finder is importlib.machinery.PathFinder
                     else finder for finder in sys.meta_path]
""")


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_zoo_imports_and_trains_with_no_tensorflow(backend):
    """``import zoo`` finds the embedded sample and a VAE, a WGAN-GP and a diffusion model
    (under mixed_float16) train one epoch on it (the last samples too), a preset loads by
    name, and a denoising CAE learns from `make_dataset`'s corrupted batches, with
    TensorFlow and tensorflow-datasets unimportable. A feature that needs TensorFlow says
    so; export says which backends it runs on (PyTorch: none of Keras's SavedModel path);
    `get_strategy` gives the backend's own strategy (JAX: data parallel over the local
    devices) and refuses the others."""
    script = NO_TENSORFLOW + textwrap.dedent("""
        import functools

        import keras
        import numpy as np
        import zoo
        import zoo.corruptions
        from zoo.data import load_dataset

        x = load_dataset("mnist", source="sample").x_train[:256]
        with zoo.base.dtype_policy("mixed_float16"):  # its attention: float32 (JAX's CPU)
            diffusion = zoo.Diffusion(widths=[4, 8], seed=0)
        for model, compile_kwargs in [
                (zoo.VAE(latent_dim=4, filters=8, dense_units=32, seed=0), {"optimizer": "adam"}),
                (zoo.WGANGP(latent_dim=8, filters=8, n_critic=2, seed=0), {}),
                (diffusion, {"optimizer": "adam"})]:
            model.compile(**compile_kwargs)
            labels = np.arange(len(x)) % 10 if isinstance(model, zoo.Diffusion) else None
            history = model.fit(x, labels, epochs=1, batch_size=64, verbose=0).history
            assert all(np.isfinite(v[-1]) for v in history.values()), history
        assert model.generate(2, seed=0, steps=2).shape == (2, 28, 28, 1)  # the EMA network
        preset = zoo.ConvAutoencoder.from_preset("mnist_d9")  # by name, from the package
        assert preset.predict(x[:2], verbose=0).shape == (2, 28, 28, 1)
        # make_dataset's batches and the corruptions, off tf.data: a denoising CAE
        noise = zoo.corruptions.corrupt_inputs(
            functools.partial(zoo.corruptions.gaussian_noise, sigma=0.3), seed=0)
        denoiser = zoo.ConvAutoencoder(latent_dim=8, filters=8, dense_units=32)
        denoiser.compile(optimizer="adam", loss="mse")
        loss = denoiser.fit(zoo.make_dataset(x, batch_size=64, map_fn=noise), epochs=2,
                            verbose=0).history["loss"]
        assert loss[1] < loss[0], loss
        on_torch = keras.backend.backend() == "torch"
        for feature, says in [
                (lambda: load_dataset("mnist", source="tfds"),
                 ("source='tfds'", "pip install tensorflow")),
                (lambda: zoo.export_saved_model(denoiser, "unwritten"),
                 ("export_saved_model", "not 'torch'" if on_torch else "pip install tensorflow"))]:
            try:
                feature()
            except (ImportError, NotImplementedError) as error:
                assert all(words in str(error) for words in says), error
            else:
                raise AssertionError(f"{says[0]} ran with no TensorFlow")
        strategy = zoo.get_strategy("mirrored" if zoo.get_strategy() is not None else "default")
        try:
            zoo.get_strategy("multiworker")
        except ValueError as error:
            assert "runs on the TensorFlow backend" in str(error), error
            print("strategy:", type(strategy).__name__)
        assert "tensorflow" not in sys.modules  # never imported
        print("trained without TensorFlow")
    """)
    result = run_on(backend, ["-c", script], timeout=300)
    assert result.returncode == 0 and "trained without TensorFlow" in result.stdout, \
        result.stdout[-3000:] + result.stderr[-3000:]
    # mirrored: data parallel over the local devices; default: one device
    assert {"jax": "strategy: DataParallel", "torch": "strategy: NoneType"}[backend] \
        in result.stdout, result.stdout


PREDICT_EVERY_PRESET = textwrap.dedent("""
    import sys

    import numpy as np

    import zoo.models
    from zoo.presets import list_presets, preset_card
    from zoo.testing import sample_inputs


    def predict_every_preset(path):
        outputs = {}
        for name in list_presets(shipped_only=True):
            cls = getattr(zoo.models, preset_card(name)["class"], None)
            if cls is not None:
                model = cls.from_preset(name)
                outputs[name] = model.predict(sample_inputs(model, n=8), verbose=0)
        np.savez(path, **outputs)


    if __name__ == "__main__":
        predict_every_preset(sys.argv[1])
""")


@pytest.fixture(scope="module")
def tensorflow_outputs(tmp_path_factory):
    """Every shipped preset's outputs on fixed inputs, on TensorFlow (this process)."""
    import numpy as np

    path = tmp_path_factory.mktemp("presets") / "tensorflow.npz"
    script = {"__name__": "predict"}
    exec(compile(PREDICT_EVERY_PRESET, "PREDICT_EVERY_PRESET", "exec"), script)
    script["predict_every_preset"](path)
    return np.load(path)


# With -m slow (45 s on JAX, a minute on PyTorch, of the default run's 12-minute budget):
# JAX's random initializers compile once per weight shape before a preset's weights
# replace them, 11 s for the diffusion preset's. A preset loads by name in the default
# run's test_the_zoo_imports_and_trains_with_no_tensorflow.
@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_preset_gives_the_same_outputs_as_on_tensorflow(backend, tensorflow_outputs,
                                                              tmp_path):
    """A preset is the same function on every backend, to float32 tolerance."""
    import numpy as np

    script = tmp_path / "predict.py"
    script.write_text(PREDICT_EVERY_PRESET)
    result = run_on(backend, [str(script), str(tmp_path / "outputs.npz")], timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = np.load(tmp_path / "outputs.npz")
    assert sorted(outputs.files) == sorted(tensorflow_outputs.files)
    assert len(outputs.files) >= 10
    for preset in outputs.files:
        np.testing.assert_allclose(outputs[preset], tensorflow_outputs[preset],
                                   atol=2e-4, rtol=1e-3, err_msg=preset)
