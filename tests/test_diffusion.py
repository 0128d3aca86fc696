"""The diffusion model's own maths; the contract (fit, save, export, precision) is the kit's
(tests/test_contract.py)."""

import keras
import numpy as np
import pytest
from keras import ops

from zoo import Diffusion
from zoo.base import moving_average_of, update_moving_average
from zoo.presets import preset_card

TINY = {"widths": [4, 8], "sampling_steps": 2, "seed": 0}


@pytest.fixture(scope="module")
def tiny():
    return Diffusion(**TINY)


@pytest.mark.parametrize("objective", ["v", "epsilon", "flow"])
def test_the_target_read_back_gives_the_images_and_the_noise(objective):
    """A network that predicts its target exactly recovers what x_t is made of, at every t."""
    model = Diffusion(**TINY, objective=objective)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (5, 28, 28, 1)).astype("float32")
    noise = rng.standard_normal((5, 28, 28, 1)).astype("float32")
    t = np.array([0.0, 0.1, 0.5, 0.9, 1.0], "float32")
    signal, noise_rate = (ops.reshape(r, (-1, 1, 1, 1)) for r in model.rates(t))
    noisy = signal * images + noise_rate * noise
    clean, recovered = model.denoised(noisy, model.target(images, noise, signal, noise_rate),
                                      signal, noise_rate)
    np.testing.assert_allclose(clean, images, atol=2e-4)
    np.testing.assert_allclose(recovered, noise, atol=2e-4)


def test_schedules():
    """The cosine schedule keeps the variance (signal^2 + noise^2 = 1) and runs from
    mostly image to mostly noise; rectified flow runs from the image to pure noise."""
    t = np.linspace(0, 1, 11).astype("float32")
    signal, noise = (np.asarray(r) for r in Diffusion(**TINY).rates(t))
    np.testing.assert_allclose(signal**2 + noise**2, 1, atol=1e-6)
    assert signal[0] > 0.97 and noise[-1] > 0.99 and np.all(np.diff(signal) < 0)
    signal, noise = (np.asarray(r) for r in Diffusion(**TINY, objective="flow").rates(t))
    np.testing.assert_allclose([signal[0], noise[0], signal[-1], noise[-1]], [1, 0, 0, 1])


def test_sampling_is_seeded_and_guidance_zero_ignores_labels(tiny):
    a = tiny.generate(4, seed=3, labels=[0, 1, 2, 3], steps=3)
    np.testing.assert_array_equal(a, tiny.generate(4, seed=3, labels=[0, 1, 2, 3], steps=3))
    assert a.shape == (4, 28, 28, 1) and a.dtype == np.float32 and 0 <= a.min() <= a.max() <= 1
    assert not np.array_equal(a, tiny.generate(4, seed=4, labels=[0, 1, 2, 3], steps=3))
    # The null label alone: the class asked for cannot matter.
    np.testing.assert_array_equal(tiny.generate(4, seed=3, labels=[0, 1, 2, 3], guidance=0.0),
                                  tiny.generate(4, seed=3, labels=[9, 9, 9, 9], guidance=0.0))
    ddpm = tiny.generate(2, seed=3, labels=[0, 1], steps=3, sampler="ddpm")
    np.testing.assert_array_equal(ddpm, tiny.generate(2, seed=3, labels=[0, 1], steps=3,
                                                      sampler="ddpm"))


def test_trajectory_ends_in_the_sample_and_batches_agree(tiny):
    codes = np.random.default_rng(0).standard_normal((3, tiny.latent_dim)).astype("float32")
    path = tiny.generate_from(codes, labels=[1, 2, 3], steps=4, trajectory=True, batch_size=2)
    assert path.shape == (4, 3, 28, 28, 1)
    np.testing.assert_allclose(path[-1], tiny.generate_from(codes, labels=[1, 2, 3], steps=4), atol=1e-5)
    # call / predict / the served endpoint: the model's own steps and guidance
    np.testing.assert_allclose(tiny.predict([codes, np.array([1, 2, 3])], verbose=0),
                               tiny.generate_from(codes, labels=[1, 2, 3]), atol=1e-4)


def test_any_image_shape_trains_and_samples():
    model = Diffusion(widths=[4, 8, 8], input_shape=(13, 11, 3), sampling_steps=2, seed=0)
    model.compile(optimizer="adam")
    x = np.random.default_rng(0).random((8, 13, 11, 3), dtype=np.float32)
    model.fit(x, np.arange(8) % 10, epochs=1, verbose=0)
    assert model.generate(2, seed=0).shape == (2, 13, 11, 3)


def test_the_moving_average_follows_training():
    """After fit, the sampled network is neither the untrained one nor the trained one."""
    model = Diffusion(**TINY)
    start = [w.copy() for w in model.ema_denoiser.get_weights()]
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = np.random.default_rng(0).random((64, 28, 28, 1), dtype=np.float32)
    model.fit(x, np.arange(64) % 10, batch_size=16, epochs=1, verbose=0)
    average, trained = model.ema_denoiser.get_weights(), model.denoiser.get_weights()
    assert any(not np.allclose(a, s) for a, s in zip(average, start))
    assert any(not np.allclose(a, w) for a, w in zip(average, trained))


def test_update_moving_average_warms_up_then_keeps_its_momentum():
    net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    average = moving_average_of(net, "average")
    net.set_weights([np.ones((2, 1), "float32")])
    average.set_weights([np.zeros((2, 1), "float32")])
    update_moving_average(average, net, momentum=0.99, step=0)  # m = 1 / 10
    np.testing.assert_allclose(average.get_weights()[0], 0.9)
    update_moving_average(average, net, momentum=0.99, step=10_000)  # m = 0.99
    np.testing.assert_allclose(average.get_weights()[0], 0.9 * 0.99 + 0.01, rtol=1e-6)
    assert not average.trainable


@pytest.mark.parametrize("kwargs, error, message", [
    ({"widths": []}, TypeError, "widths"),
    ({"widths": [8, 0]}, ValueError, r"widths\[i\]"),
    ({"objective": "score"}, ValueError, "objective"),
    ({"guidance": -1.0}, ValueError, "guidance"),
    ({"label_dropout": 1.0}, ValueError, "label_dropout"),
    ({"sampling_steps": 0}, ValueError, "sampling_steps"),
])
def test_bad_settings_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        Diffusion(**{**TINY, **kwargs})


def test_bad_sampling_arguments_are_refused(tiny):
    with pytest.raises(ValueError, match="steps"):
        tiny.generate(2, steps=0)
    with pytest.raises(ValueError, match="sampler"):
        tiny.generate(2, sampler="euler")
    with pytest.raises(ValueError, match="guidance"):
        tiny.generate(2, guidance=-0.5)
    with pytest.raises(ValueError, match="must lie in"):
        tiny.generate(2, labels=[0, 10])
    with pytest.raises(ValueError, match="'ddim'"):
        Diffusion(**TINY, objective="flow").generate(2, sampler="ddpm")


@pytest.mark.parametrize("objective", ["v", "epsilon", "flow"])
def test_a_step_to_the_same_time_leaves_x_where_it_is(objective):
    """The step's noise is the one x holds beside the clipped images: moving from t to t
    changes nothing. (Reusing the network's own noise after clipping drifted: guided
    samples at 50 steps came out blotched.)"""
    model = Diffusion(**TINY, objective=objective)
    x = 3.0 * np.random.default_rng(0).standard_normal((4, 28, 28, 1)).astype("float32")
    t = ops.convert_to_tensor(0.5, "float32")
    moved, clean = model.denoising_step(x, np.arange(4), t, t, guidance=2.0)
    assert np.asarray(clean).min() == -1.0 and np.asarray(clean).max() == 1.0  # clipped
    np.testing.assert_allclose(moved, x, atol=1e-4)


def test_the_recipe_scores_a_preset_with_its_cards_training_and_this_runs_sampling():
    from recipes.diffusion import _from_preset, build_parser

    args = build_parser().parse_args(["--from-preset", "fashion_mnist_diffusion", "--steps", "7",
                                      "--guidance", "1.0"])
    model, timing = _from_preset(args, dataset=None, out=None)
    assert (model.sampling_steps, model.guidance) == (7, 1.0)
    training = preset_card("fashion_mnist_diffusion")["training"]
    assert (args.epochs, timing["train seconds"]) == (training["epochs"], training["seconds"])


@pytest.mark.slow  # a real training step of the preset: ~15 s
def test_the_recipe_trains_a_preset_further_and_counts_its_whole_training(tmp_path):
    """``--more-epochs``: the preset's weights move, at this run's learning rate, and the
    timing adds the further epochs to the card's."""
    import dataclasses

    from recipes.diffusion import _from_preset, build_parser
    from zoo import load_dataset

    sample = load_dataset("fashion_mnist", source="sample")
    sample = dataclasses.replace(sample, x_train=sample.x_train[:64], y_train=sample.y_train[:64])
    args = build_parser().parse_args(["--from-preset", "fashion_mnist_diffusion",
                                      "--more-epochs", "1", "--learning-rate", "3e-4",
                                      "--batch-size", "32"])
    before = Diffusion.from_preset("fashion_mnist_diffusion").get_weights()
    model, timing = _from_preset(args, sample, tmp_path)
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-4)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    training = preset_card("fashion_mnist_diffusion")["training"]
    assert args.epochs == training["epochs"] + 1 and timing["train seconds"] > training["seconds"]


def test_more_epochs_without_a_preset_is_refused_before_training(capsys):
    from recipes.diffusion import main

    with pytest.raises(SystemExit) as raised:
        main(["--quick", "--more-epochs", "1"])
    assert raised.value.code == 2 and "--from-preset" in capsys.readouterr().err


def test_the_recipe_trains_samples_and_draws_its_figures(tmp_path):
    """`deepzoo diffusion --quick` on the embedded sample: the four figures, the headline
    scores, the trained model and its preset, whose card holds #30's goals (lean grids: one
    curve point of each kind is a curve)."""
    from helpers import assert_figure, read_table

    from recipes import diffusion
    from zoo.presets import goal_reached, preset_card

    row = diffusion.main(["--quick", "--widths", "4,8", "--steps", "2", "--samples", "50",
                          "--curve-samples", "50", "--step-grid", "2", "--guidance-grid", "0",
                          "--classifier-epochs", "1", "--out", str(tmp_path),
                          "--preset", "tiny", "--preset-dir", str(tmp_path)])
    out = tmp_path / "diffusion"
    for figure in ("samples_by_class", "trajectory", "fid_by_steps", "fid_by_guidance"):
        assert_figure(out / f"{figure}.png")
    assert {"conditional accuracy", "domain FID", "sampling images/s"} <= set(
        read_table(out / "metrics")[0])
    card = preset_card(str(tmp_path / "tiny.keras"))
    reached = {target["name"]: goal_reached(card, target)[1]["value"] for target in card["goals"]}
    assert reached == {"conditional_accuracy": row["conditional accuracy"],
                       "min_class_share": row["guidance 0 min class share"],
                       "max_class_share": row["guidance 0 max class share"]}
