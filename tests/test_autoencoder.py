import keras
import numpy as np
import pytest

from zoo import ConvAutoencoder


def tiny(**kwargs):
    return ConvAutoencoder(**{"latent_dim": 4, "filters": 4, "dense_units": 16, **kwargs})


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (30, 22, 1)])
def test_shapes_for_several_image_sizes(shape):
    model = tiny(input_shape=shape)
    x = np.random.default_rng(0).random((3, *shape), dtype=np.float32)
    assert model.encode(x).shape == (3, 4)
    out = model.predict(x, verbose=0)
    assert out.shape == (3, *shape) and 0.0 <= out.min() and out.max() <= 1.0
    assert model.decode(np.zeros((2, 4), np.float32)).shape == (2, *shape)


def test_fit_learns_real_digits(mnist_sample):
    keras.utils.set_random_seed(0)
    model = ConvAutoencoder(latent_dim=8, filters=8, dense_units=64)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
    x_train, x_test = mnist_sample.x_train[:2048], mnist_sample.x_test[:256]
    # The bar: beat the best constant guess, the mean training image.
    mean_image_mse = float(np.mean((x_test - x_train.mean(axis=0)) ** 2))
    # Target defaults to the input: fit(x) is fit(x, x).
    history = model.fit(x_train, epochs=5, batch_size=32, validation_data=x_test, verbose=0)
    test_mse = model.evaluate(x_test, verbose=0)
    assert set(history.history) == {"loss", "val_loss"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert test_mse < 0.75 * mean_image_mse


def test_encoder_is_reusable_and_shares_weights(images):
    model = tiny()
    classifier = keras.Sequential([model.encoder, keras.layers.Dense(10, activation="softmax")])
    assert classifier.predict(images, verbose=0).shape == (8, 10)
    assert classifier.layers[0] is model.encoder
    model.encoder.trainable = False
    classifier.compile("adam", "sparse_categorical_crossentropy")
    before = [w.copy() for w in model.encoder.get_weights()]
    classifier.fit(images, np.arange(8), epochs=1, verbose=0)
    for a, b in zip(before, model.encoder.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad, error, message", [
    (np.zeros((4, 28, 28), np.float32), ValueError, "shape"),
    (np.zeros((4, 28, 28, 3), np.float32), ValueError, r"expects \(28, 28, 1\)"),
    (np.zeros((4, 28, 28, 1), np.uint8), TypeError, "dtype uint8"),
    (np.full((4, 28, 28, 1), np.nan, np.float32), ValueError, "NaN"),
    (np.full((4, 28, 28, 1), 2.0, np.float32), ValueError, r"\[0, 1\]"),
])
def test_bad_inputs_fail_before_training(bad, error, message):
    model = tiny()
    model.compile(optimizer="adam", loss="mse")
    weights = [w.copy() for w in model.get_weights()]
    for call in (lambda: model.fit(bad, epochs=1, verbose=0),
                 lambda: model.fit(np.zeros((4, 28, 28, 1), np.float32), epochs=1, verbose=0,
                                   validation_data=bad),
                 lambda: model.predict(bad), lambda: model.evaluate(bad), lambda: model.encode(bad)):
        with pytest.raises(error, match=message):
            call()
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bad_dataset_spec_and_codes():
    import tensorflow as tf

    model = tiny()
    model.compile(optimizer="adam", loss="mse")
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((4, 28, 28, 3), np.float32)).batch(2)
    with pytest.raises(ValueError, match="yields batches of shape"):
        model.fit(ds, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"shape \(N >= 1, 4\)"):
        model.decode(np.zeros((2, 5), np.float32))
    # Pixels in 0..255 get the arrays' message (they trained silently from a dataset).
    pixels = tf.data.Dataset.from_tensor_slices(np.full((4, 28, 28, 1), 200.0, np.float32)).batch(2)
    with pytest.raises(ValueError, match=r"values span \[200, 200\]; the zoo expects images "
                                         r"scaled to \[0, 1\]"):
        model.fit(pixels.map(lambda x: (x, x)), epochs=1, verbose=0)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"latent_dim": -3}, ValueError, "latent_dim"),
    ({"filters": 0}, ValueError, "filters"),
    ({"filters": 2.5}, TypeError, "filters"),
    ({"dense_units": -1}, ValueError, "dense_units"),
    ({"dropout": 1.0}, ValueError, "dropout"),
    ({"input_shape": "28x28"}, TypeError, "input_shape"),
])
def test_bad_hyperparameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        tiny(**kwargs)
