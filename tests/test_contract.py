"""The contract every zoo model keeps (`zoo.base.ZooModel`), checked on each model alike.

`MODELS` holds the zoo's models and the model CONTRIBUTING.md walks through, built from
that document's own code block: a contributor's model passes these checks by subclassing
the base, and the walkthrough cannot drift from what works.
"""

import re
import types
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import GAN, VAE, ConvAutoencoder, export_saved_model
from zoo.models.contrastive import ContrastiveEncoder

ROOT = Path(__file__).resolve().parents[1]


def contributed_module():
    """CONTRIBUTING.md's model, as a module."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    code = re.search(r"```python\n(import math\n.*?)```", text, re.S).group(1)
    module = types.ModuleType("contributed")
    exec(compile(code, "CONTRIBUTING.md", "exec"), module.__dict__)
    return module


SparseAutoencoder = contributed_module().SparseAutoencoder


def compiled(model):
    if isinstance(model, GAN):
        model.compile()
    elif isinstance(model, ConvAutoencoder):
        model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
    else:
        model.compile(optimizer=keras.optimizers.Adam(2e-3))
    return model


MODELS = {
    "cae": lambda: ConvAutoencoder(latent_dim=8, filters=8, dense_units=32),
    "vae": lambda: VAE(latent_dim=4, architecture="mlp", reconstruction_loss="mse", seed=0),
    "gan": lambda: GAN(latent_dim=8, seed=0),
    "sparse": lambda: SparseAutoencoder(latent_dim=16, l1=1e-4),
    "contrastive": lambda: ContrastiveEncoder(latent_dim=8, filters=8, dense_units=32, seed=0),
}


@pytest.fixture(params=sorted(MODELS))
def model(request):
    keras.utils.set_random_seed(0)
    return compiled(MODELS[request.param]())


def prediction_inputs(model, n=4):
    """What ``predict`` maps: codes for a GAN, images for the rest."""
    if isinstance(model, GAN):
        return np.random.default_rng(0).normal(size=(n, model.latent_dim)).astype(np.float32)
    return np.random.default_rng(0).random((n, *model.image_shape), dtype=np.float32)


def test_fit_trains_and_evaluate_reports_every_tracker(model, mnist_sample):
    x_train, x_test = mnist_sample.x_train[:1024], mnist_sample.x_test[:256]
    before = model.evaluate(x_test, batch_size=128, verbose=0, return_dict=True)
    weights = [w.copy() for w in model.get_weights()]
    history = model.fit(x_train, None, 64, 3, verbose=0).history  # Keras's positional order
    after = model.evaluate(x_test, batch_size=128, verbose=0, return_dict=True)
    assert set(history) == set(before) == set(after) and "compile_metrics" not in history
    assert all(len(values) == 3 for values in history.values())
    assert any(not np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    if isinstance(model, GAN):  # no single loss to fall: D must tell real from fake better
        assert after["d_real"] > before["d_real"] or after["d_fake"] < before["d_fake"]
    elif isinstance(model, ContrastiveEncoder):  # InfoNCE falls slowly from log(batch)
        assert after["loss"] < 0.9 * before["loss"]  # measured 5.17 -> 4.32
        assert after["contrastive_accuracy"] > 2 * before["contrastive_accuracy"]  # 0.027 -> 0.066
    else:
        assert after["loss"] < 0.8 * before["loss"]


def test_bad_inputs_fail_before_tensorflow_sees_them(model):
    images = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    for bad, message in [(images[..., 0], "shape"), (images * 255, r"\[0, 1\]"),
                         ((images * 255).astype(np.uint8), "float"),
                         (np.full_like(images, np.nan), "NaN")]:
        with pytest.raises(ValueError, match=message):
            model.fit(bad, epochs=1, verbose=0)
        with pytest.raises(ValueError, match=message):
            model.evaluate(bad, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        model.fit(images, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="one target per image"):
        model.fit(images, images[:2], verbose=0)
    wrong = np.zeros((2, 3), np.float32) if isinstance(model, GAN) else images[:, :20]
    with pytest.raises(ValueError, match="shape"):
        model.predict(wrong, verbose=0)


def test_keras_file_and_config_round_trip(model, tmp_path):
    x = prediction_inputs(model)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    rebuilt = type(model).from_config(model.get_config())
    assert rebuilt.image_shape == model.image_shape and rebuilt.latent_dim == model.latent_dim


def test_export_serves_the_first_endpoint_and_guards_it(model, tmp_path):
    served = tf.saved_model.load(str(export_saved_model(model, tmp_path / "served", version=1)))
    name, endpoint = next(iter(model.export_endpoints().items()))
    x = prediction_inputs(model) if endpoint.input.name == "images" or isinstance(model, GAN) \
        else np.zeros((4, model.latent_dim), np.float32)
    outputs = getattr(served, name)(x)
    assert set(outputs) == set(endpoint.fn(tf.constant(x)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or infinite"):
        getattr(served, name)(np.full_like(x, np.nan))


def test_common_fields_are_checked_and_presets_are_per_class(model):
    cls = type(model)
    with pytest.raises(ValueError, match="latent_dim must be a positive integer, got 0"):
        cls(latent_dim=0)
    with pytest.raises(ValueError, match=r"input_shape must be \(height, width, channels\)"):
        cls(latent_dim=2, input_shape=(28, 28))
    with pytest.raises(ValueError, match="no preset 'clowntown'"):
        cls.from_preset("clowntown")
