"""WGANGP: the critic's loss and its gradient penalty are what the paper defines, and each
step takes n_critic critic steps per generator step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.models.wgan_gp import WGANGP


def tiny(**kwargs):
    keras.utils.set_random_seed(0)
    return WGANGP(**{"latent_dim": 8, "filters": 4, "seed": 0, **kwargs})


def test_critic_has_no_batch_normalisation_and_scores_without_a_sigmoid():
    model = tiny()
    assert not any(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in model.discriminator.layers)
    assert model.discriminator.layers[-1].get_config()["activation"] == "linear"


def test_penalty_is_the_squared_distance_of_the_critics_gradient_norm_from_one(images):
    model = tiny(gp_weight=7.0)
    real = tf.constant(images * 2 - 1)
    # With fake == real every interpolate is the real image, so the penalty is computable
    # with no knowledge of the random weights u.
    with tf.GradientTape() as tape:
        tape.watch(real)
        scores = model.discriminator(real)[:, 0]
    norms = np.sqrt(np.sum(np.square(tape.gradient(scores, real).numpy()), axis=(1, 2, 3)))
    expected = np.mean((norms - 1) ** 2)
    assert float(model.gradient_penalty(real, real)) == pytest.approx(expected, rel=1e-4)
    losses = {name: float(value) for name, value in model.discriminator_losses(real, real).items()}
    assert losses["wasserstein"] == pytest.approx(0.0, abs=1e-6)  # the same images on both sides
    assert losses["d_loss"] == pytest.approx(7.0 * expected, rel=1e-4)


def test_critic_loss_is_the_negated_wasserstein_estimate_plus_the_penalty(images):
    model = tiny()
    real = tf.constant(images * 2 - 1)
    fake = model.generator(np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32))
    losses = {name: float(value) for name, value in model.discriminator_losses(real, fake).items()}
    d_real = float(np.mean(model.discriminator(real)))
    d_fake = float(np.mean(model.discriminator(fake)))
    assert losses["wasserstein"] == pytest.approx(d_real - d_fake, rel=1e-4, abs=1e-6)
    assert losses["d_loss"] == pytest.approx(-losses["wasserstein"] + 10 * losses["gradient_penalty"],
                                             rel=1e-5)
    assert float(model.generator_losses(fake)["g_loss"]) == pytest.approx(-d_fake, rel=1e-4, abs=1e-6)


def test_each_step_takes_n_critic_critic_steps_per_generator_step(images):
    model = tiny(n_critic=3)
    model.compile()
    history = model.fit(images, batch_size=4, epochs=1, verbose=0).history
    assert set(history) == {"d_loss", "g_loss", "wasserstein", "gradient_penalty"}
    assert int(model.d_optimizer.iterations) == 3 * int(model.g_optimizer.iterations) == 6


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n_critic": 0}, ValueError, "n_critic"), ({"n_critic": 2.0}, TypeError, "n_critic"),
    ({"gp_weight": -1.0}, ValueError, "gp_weight"), ({"filters": 0}, ValueError, "filters"),
])
def test_bad_hyperparameters_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        tiny(**kwargs)


# Slow (38 s): the gan recipe's quick test and the conditional recipe's preset test cover it.
@pytest.mark.slow
def test_recipe_trains_it_and_saves_a_preset_with_its_sample_scores(tmp_path, monkeypatch):
    from recipes import gan
    from zoo import presets

    monkeypatch.setenv("ZOO_PRESET_DIR", str(tmp_path / "presets"))
    row = gan.main(["--quick", "--architecture", "wgan-gp", "--epochs", "3", "--batch-size", "32",
                    "--latent-dim", "8", "--filters", "8", "--n-critic", "2", "--sample-epochs", "1",
                    "--classifier-epochs", "1", "--fid-samples", "200", "--out", str(tmp_path),
                    "--preset", "tiny_wgan"])
    assert {"final Wasserstein estimate", "final gradient penalty"} <= set(row)
    card = presets.preset_card("tiny_wgan")
    assert card["class"] == "WGANGP" and "--architecture wgan-gp" in card["command"]
    loaded = WGANGP.from_preset("tiny_wgan")
    np.testing.assert_allclose(loaded.generate(4, seed=0), loaded.generate(4, seed=0))
