"""The contract every zoo model keeps (`zoo.base.ZooModel`), checked on each model alike
by the test kit (`zoo.testing`), driven by each model's constructor kwargs.

`MODELS` holds the zoo's models and the model CONTRIBUTING.md walks through, built from
that document's own code block: a contributor's model passes these checks by subclassing
the base, and the walkthrough cannot drift from what works.
"""

import re
import types
from pathlib import Path

import keras
import pytest

import zoo.models
from zoo import GAN, VAE, ContrastiveEncoder, ConvAutoencoder
from zoo.presets import list_presets, preset_card
from zoo.testing import (compiled, run_export_test, run_model_test, run_precision_test,
                         run_preset_test, run_saving_test)

ROOT = Path(__file__).resolve().parents[1]


def contributed_module():
    """CONTRIBUTING.md's model, as a module."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    code = re.search(r"```python\n(import math\n.*?)```", text, re.S).group(1)
    module = types.ModuleType("contributed")
    exec(compile(code, "CONTRIBUTING.md", "exec"), module.__dict__)
    return module


def sgd(learning_rate):
    return keras.optimizers.SGD(learning_rate, momentum=0.9)


# name: (class, init_kwargs, compile_kwargs for the model test, SGD compile_kwargs for the
# precision test, the fall of progress_metric the model test asks of 3 epochs).
MODELS = {
    "cae": (ConvAutoencoder, {"latent_dim": 8, "filters": 8, "dense_units": 32},
            {"optimizer": keras.optimizers.Adam(2e-3), "loss": "mse"},
            {"optimizer": sgd(0.05), "loss": "mse"}, 0.2),
    "vae_mlp_mse": (VAE, {"latent_dim": 4, "architecture": "mlp", "reconstruction_loss": "mse",
                          "seed": 0},
                    {"optimizer": keras.optimizers.Adam(2e-3)}, {"optimizer": sgd(0.01)}, 0.2),
    "vae_conv_bce": (VAE, {"latent_dim": 4, "filters": 8, "dense_units": 32, "seed": 0},
                     {"optimizer": keras.optimizers.Adam(2e-3)}, {"optimizer": sgd(0.01)}, 0.2),
    "gan_mlp": (GAN, {"latent_dim": 8, "seed": 0}, {},
                {"d_optimizer": sgd(0.02), "g_optimizer": sgd(0.002)}, 0.05),
    "gan_dcgan": (GAN, {"latent_dim": 8, "architecture": "dcgan", "filters": 8, "seed": 0}, {},
                  {"d_optimizer": sgd(0.002), "g_optimizer": sgd(0.0002)}, 0.05),
    "contrastive": (ContrastiveEncoder, {"latent_dim": 8, "filters": 8, "dense_units": 32,
                                         "seed": 0},
                    {"optimizer": keras.optimizers.Adam(2e-3)}, {"optimizer": sgd(0.1)}, 0.1),
    "sparse": (contributed_module().SparseAutoencoder, {"latent_dim": 16, "l1": 1e-4},
               {"optimizer": keras.optimizers.Adam(2e-3)}, {"optimizer": sgd(0.5)}, 0.2),
}


@pytest.fixture(params=sorted(MODELS))
def case(request):
    return MODELS[request.param]


def test_model(case, mnist_sample):
    cls, init_kwargs, compile_kwargs, _, min_improvement = case
    run_model_test(cls, init_kwargs, mnist_sample.x_train[:1024], mnist_sample.x_test[:256],
                   compile_kwargs=compile_kwargs, min_improvement=min_improvement)


def test_saving(case, mnist_sample, tmp_path):
    cls, init_kwargs, compile_kwargs, _, _ = case
    run_saving_test(cls, init_kwargs, tmp_path, mnist_sample.x_train[:128],
                    compile_kwargs=compile_kwargs)


def test_export(case, tmp_path):
    cls, init_kwargs, compile_kwargs, _, _ = case
    run_export_test(compiled(cls, init_kwargs, compile_kwargs), tmp_path / "served")


def test_precision(case, mnist_sample, tmp_path):
    """Every model trains under mixed_float16 and mixed_bfloat16 as float32 does, and its
    export serves float32."""
    cls, init_kwargs, _, sgd_kwargs, _ = case
    run_precision_test(cls, init_kwargs, mnist_sample.x_train[:512], compile_kwargs=sgd_kwargs,
                       path=tmp_path)


@pytest.mark.parametrize("name", [name for name in list_presets()
                                  if preset_card(name)["class"] in zoo.models.__all__])
def test_preset(name):
    run_preset_test(getattr(zoo.models, preset_card(name)["class"]), name)
