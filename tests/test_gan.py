import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import assert_outputs
from zoo.models.gan import GAN
from zoo.plotting import SampleGrid
from zoo.training import StopOnNaN


def tiny(**kwargs):
    return GAN(**{"latent_dim": 8, "filters": 4, "seed": 0, **kwargs})


@pytest.mark.parametrize("architecture, shape", [("mlp", (28, 28, 1)), ("dcgan", (28, 28, 1)),
                                                 ("dcgan", (30, 22, 3))])
def test_shapes_and_output_ranges(architecture, shape):
    model = tiny(architecture=architecture, input_shape=shape)
    z = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32) * 10
    raw = np.asarray(model.generator(z))
    assert raw.shape == (5, *shape) and -1.0 <= raw.min() and raw.max() <= 1.0  # tanh
    images = model.generate_from(z)
    np.testing.assert_allclose(images, (raw + 1) / 2, atol=1e-6)  # served in [0, 1]
    assert model.generate(3, seed=0).shape == (3, *shape)
    assert model.discriminator(images).shape == (5, 1)


def test_dcgan_uses_batch_normalisation_in_both_networks():
    model = tiny(architecture="dcgan")
    for network in (model.generator, model.discriminator):
        assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in network.layers)
    assert not any(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in tiny().discriminator.layers)


@pytest.mark.parametrize("architecture", ["mlp", "dcgan"])
def test_train_step_updates_both_networks_and_reports_scores(architecture, mnist_sample):
    keras.utils.set_random_seed(0)
    model = tiny(architecture=architecture)
    model.compile()
    before = {name: [w.numpy().copy() for w in getattr(model, name).trainable_weights]
              for name in ("generator", "discriminator")}
    history = model.fit(mnist_sample.x_train[:256], epochs=2, batch_size=64, verbose=0).history
    assert set(history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    for name, weights in before.items():
        for a, w in zip(weights, getattr(model, name).trainable_weights):
            assert not np.array_equal(a, w.numpy()), w.path
    assert int(model.d_optimizer.iterations) == int(model.g_optimizer.iterations) == 8
    assert all(0 < v < 1 for key in ("d_real", "d_fake") for v in history[key])
    assert all(np.isfinite(v) and v > 0 for key in ("d_loss", "g_loss") for v in history[key])


def test_one_step_moves_d_and_g_in_the_adversarial_direction(mnist_sample):
    keras.utils.set_random_seed(0)
    model = tiny()
    model.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                  g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    images = mnist_sample.x_train[:64]
    real = images * 2.0 - 1.0  # D sees G's range
    z = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
    old_d = keras.models.clone_model(model.discriminator)
    old_d.set_weights(model.discriminator.get_weights())
    old_fakes = model.generator(z, training=False)

    def realness(discriminator, x):  # mean D(x) as a probability
        return float(np.mean(keras.ops.sigmoid(discriminator(x, training=False))))

    model.train_on_batch(images)
    # D's step: the real batch looks more real, the fakes it saw more fake.
    assert realness(model.discriminator, real) > realness(old_d, real)
    assert realness(model.discriminator, old_fakes) < realness(old_d, old_fakes)
    # G's step: its new images fool the discriminator it trained against more than before.
    assert realness(old_d, model.generator(z, training=False)) > realness(old_d, old_fakes)


def test_discriminator_sees_real_images_rescaled_to_the_generators_range():
    model = tiny()
    model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    seen = []
    model.discriminator.call = _recording(model.discriminator.call, seen)
    model.train_step((np.zeros((4, 28, 28, 1), np.float32),))
    assert float(np.min(seen[0])) == -1.0 and float(np.max(seen[0])) == -1.0


def _recording(call, seen):
    def wrapper(inputs, *args, **kwargs):
        seen.append(np.asarray(inputs))
        return call(inputs, *args, **kwargs)
    return wrapper


def test_generation_is_reproducible_under_a_seed():
    model = tiny(architecture="dcgan")
    np.testing.assert_array_equal(model.generate(4, seed=3), model.generate(4, seed=3))
    assert not np.allclose(model.generate(4, seed=3), model.generate(4, seed=4))
    assert any(v is model.seed_generator.state for v in model.variables)


def test_keras_round_trip_restores_both_optimizers_and_training_continues(tmp_path, images):
    model = tiny(architecture="dcgan")
    model.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.RMSprop(5e-4))
    model.fit(images, epochs=1, batch_size=4, verbose=0)
    model.save(tmp_path / "gan.keras")
    loaded = keras.saving.load_model(tmp_path / "gan.keras")
    assert isinstance(loaded, GAN) and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.generate(3, seed=1), model.generate(3, seed=1))
    assert isinstance(loaded.g_optimizer, keras.optimizers.RMSprop)
    assert float(loaded.g_optimizer.learning_rate) == pytest.approx(5e-4)
    for name in ("d_optimizer", "g_optimizer"):
        restored, original = getattr(loaded, name), getattr(model, name)
        assert len(restored.variables) == len(original.variables) > 1
        for a, b in zip(restored.variables, original.variables):
            np.testing.assert_array_equal(a, b)
        assert int(restored.iterations) == 2
    history = loaded.fit(images, epochs=1, batch_size=4, verbose=0).history
    assert int(loaded.d_optimizer.iterations) == int(loaded.g_optimizer.iterations) == 4
    assert np.isfinite(history["d_loss"][0])


def test_sample_grid_callback_saves_chosen_epochs_and_history(tmp_path, images):
    model = tiny()
    model.compile()
    grid = SampleGrid(tmp_path, epochs=(1, 3, 50), n=6, ncols=3, seed=5)
    model.fit(images, epochs=3, batch_size=4, verbose=0, callbacks=[grid])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples_epoch_001.png",
                                                          "samples_epoch_003.png"]
    assert sorted(grid.samples) == [1, 3] and grid.samples[3].shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(grid.samples[3], model.generate(6, seed=5))  # fixed noise
    assert not np.allclose(grid.samples[1], grid.samples[3])  # ...from a model that moved
    assert set(grid.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(len(values) == 3 for values in grid.history.values())
    with pytest.raises(ValueError, match="epochs"):
        SampleGrid(tmp_path, epochs=(0, 5))


def test_nan_loss_stops_training_with_a_clear_error(images):
    model = tiny()
    model.compile(d_optimizer=keras.optimizers.SGD(1e20), g_optimizer=keras.optimizers.SGD(1e20))
    with pytest.raises(FloatingPointError, match=r"[dg]_loss became (nan|inf)"):
        model.fit(images, epochs=20, batch_size=2, verbose=0, callbacks=[StopOnNaN()])


def test_bad_compile_arguments_inputs_and_hyperparameters():
    model = tiny()
    for probabilities in (keras.losses.BinaryCrossentropy(), "binary_crossentropy"):
        with pytest.raises(ValueError, match="from_logits=True"):
            model.compile(loss_fn=probabilities)
    with pytest.raises(ValueError, match="shape"):  # codes, whatever their container
        model.predict(tf.zeros((2, 3)), verbose=0)
    assert model.generate_from(tf.zeros((2, 8)).numpy()).shape == (2, 28, 28, 1)
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two optimizer instances"):
        model.compile(d_optimizer=shared, g_optimizer=shared)
    model.compile()
    for bad, message in [(np.zeros((4, 28, 28), np.float32), "shape"),
                         (np.full((4, 28, 28, 1), 2.0, np.float32), r"\[0, 1\]")]:
        with pytest.raises(ValueError, match=message):
            model.fit(bad, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"shape \(N >= 1, 8\)"):
        model.generate_from(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="n must be in"):
        model.generate(-1)
    for kwargs, error, message in [({"architecture": "vae"}, ValueError, "architecture"),
                                   ({"filters": -2}, ValueError, "filters"),
                                   ({"seed": 1.5}, TypeError, "seed")]:
        with pytest.raises(error, match=message):
            tiny(**kwargs)


def test_recipe_quick_writes_curves_grids_metrics_and_model(tmp_path):
    from recipes import gan
    from zoo.data import load_dataset
    from zoo.metrics import dataset_generative_scores

    row = gan.main(["--quick", "--epochs", "10", "--batch-size", "32", "--latent-dim", "8",
                    "--sample-epochs", "1,50", "--classifier-epochs", "1", "--fid-samples", "200",
                    "--out", str(tmp_path), "--export"])
    out = tmp_path / "gan"
    assert_outputs(out, ("loss_curves.png", "samples_epoch_001.png", "samples_epoch_010.png",
                         "samples_by_epoch.png", "metrics.md", "model.keras",
                         "savedmodel/1/saved_model.pb"))
    assert not (out / "samples_epoch_050.png").exists()  # beyond the run
    table = json.loads((out / "metrics.json").read_text())["rows"][0]
    assert table["domain FID"] == pytest.approx(row["domain FID"]) and row["domain FID"] > 0
    assert row["epochs"] == 10 and 0 < row["final D(x)"] < 1
    # The bar: the recipe's untrained generator (the same seed, hence the same initial
    # weights), scored here by the same feature classifier (same seed and epochs; the equal
    # real-vs-real FID checks that it is the same one). Measured with these settings: the
    # trained generator reaches FID 29 against the untrained one's 346 (2 epochs of batch
    # 64, the old settings, only reached 300). A third of the untrained FID, 115, sits
    # about halfway between them on a log scale. The baseline is measured rather than
    # written down because, with no optimizer stepping, the untrained feature classifier
    # scores the untrained generator low too (FID 0.09 of features that barely vary), so a
    # fixed bar would pass; its accuracy (0.68 after one epoch; chance 0.1) shows that
    # its features mean something.
    keras.utils.set_random_seed(0)
    untrained = GAN(latent_dim=8, seed=0)
    baseline = dataset_generative_scores(untrained.generate(200, seed=0),
                                         load_dataset("fashion_mnist", source="sample"),
                                         classifier_epochs=1, seed=0)
    assert baseline["domain_fid_real_vs_real"] == pytest.approx(row["domain FID real vs real"])
    assert row["classifier test accuracy"] > 0.5
    assert row["domain FID"] < baseline["domain_fid"] / 3, (row["domain FID"], baseline["domain_fid"])
    with pytest.raises(SystemExit):
        gan.main(["--quick", "--sample-epochs", "one", "--out", str(tmp_path)])


def test_evaluate_scores_held_out_images_without_updating_either_network(mnist_sample):
    model = tiny()
    model.compile()
    weights = [w.copy() for w in model.get_weights()]
    scores = model.evaluate(mnist_sample.x_test[:64], batch_size=32, verbose=0, return_dict=True)
    assert set(scores) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert scores["d_loss"] > 0 and 0 < scores["d_fake"] < 1
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert int(model.d_optimizer.iterations) == int(model.g_optimizer.iterations) == 0
