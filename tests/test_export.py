"""Atomic saves; what exports serve is tested in test_serving.py."""

import numpy as np
import pytest

from zoo import ConvAutoencoder, export_saved_model, save_model
from zoo.saving import atomic_path


def test_atomic_path_keeps_the_old_file_when_the_write_fails(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("good")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_an_export_replaces_the_folder_of_a_different_model(tmp_path, images):
    import tensorflow as tf

    first = ConvAutoencoder(latent_dim=2, filters=2, dense_units=0)
    second = ConvAutoencoder(latent_dim=3, filters=2, dense_units=0)
    export_saved_model(first, tmp_path / "served")
    export_saved_model(second, tmp_path / "served")  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]
    served = tf.saved_model.load(str(tmp_path / "served"))  # kept: its functions need it
    codes = served.encode(images)["codes"]
    assert codes.shape == (len(images), 3)  # the second model's, not the first's
    np.testing.assert_allclose(codes, second.encode(images), atol=1e-5)
    model = second
    save_model(model, tmp_path / "m.keras")
    with pytest.raises(ValueError, match=".keras"):
        save_model(model, tmp_path / "m.h5")


def test_any_one_input_keras_model_exports_and_a_loaded_preset_exports_with_keras(tmp_path, images):
    """The docs' quickstart classifier is a Sequential (it had no output_names); a loaded
    preset had never been called, which Keras's own export requires."""
    import keras
    import tensorflow as tf

    cae = ConvAutoencoder.from_preset("fashion_mnist_d36")
    classifier = keras.Sequential([cae.encoder, keras.layers.Dense(10, name="logits")])
    served = tf.saved_model.load(str(export_saved_model(classifier, tmp_path / "sequential")))
    np.testing.assert_allclose(served.serve(images)["logits"], classifier.predict(images, verbose=0),
                               atol=1e-5)
    cae.export(tmp_path / "keras_export")  # Keras's own: unguarded, but it works
    exported = tf.saved_model.load(str(tmp_path / "keras_export"))  # kept: its functions need it
    np.testing.assert_allclose(exported.serve(images), cae.predict(images, verbose=0), atol=1e-5)


def test_a_subclassed_keras_model_exports_on_the_shape_it_is_given(tmp_path, images):
    import keras
    import tensorflow as tf

    class Scorer(keras.Model):
        def __init__(self):
            super().__init__(name="scorer")
            self.flatten, self.dense = keras.layers.Flatten(), keras.layers.Dense(3)

        def call(self, x):
            return self.dense(self.flatten(x))

    scorer = Scorer()
    scorer(images)
    with pytest.raises(ValueError, match="pass input_shape"):
        export_saved_model(scorer, tmp_path / "no_shape")
    served = tf.saved_model.load(str(export_saved_model(scorer, tmp_path / "scorer",
                                                        input_shape=images.shape[1:])))
    np.testing.assert_allclose(served.serve(images)["scorer"], scorer.predict(images, verbose=0),
                               atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or infinite"):
        served.serve(np.full_like(images, np.nan))
