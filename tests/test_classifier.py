import keras
import numpy as np
import pytest

from zoo import VAE, ConvAutoencoder
from zoo.blocks import augmentation
from zoo.testing import MIXED_POLICIES, dtype_policy
from zoo.classifier import (TRANSFER_METHODS, augment_inputs, build_classifier, build_cnn_baseline,
                            classifier_encoder, compile_classifier, cosine_decay, fit_transfer,
                            fit_two_phase, label_subset, transfer_classifier)


def tiny_autoencoder():
    return ConvAutoencoder(latent_dim=4, filters=4, dense_units=16, dropout=0.2)


@pytest.fixture
def labelled(images):
    return images, np.arange(len(images)) % 3


def weights(model):
    return [w.copy() for w in model.get_weights()]


def changed(before, after):
    return [not np.array_equal(a, b) for a, b in zip(before, after)]


def test_frozen_encoder_weights_do_not_change(labelled):
    x, y = labelled
    autoencoder = tiny_autoencoder()
    classifier = compile_classifier(build_classifier(autoencoder, 3, hidden_units=8))
    assert classifier.output_shape == (None, 3)
    encoder_before, all_before = weights(autoencoder.encoder), weights(classifier)
    classifier.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert not any(changed(encoder_before, autoencoder.encoder.get_weights()))
    assert any(changed(all_before, classifier.get_weights()))  # the head did learn
    trainable = sum(int(np.prod(w.shape)) for w in classifier.trainable_weights)
    assert trainable == (4 * 8 + 8) + (8 * 3 + 3)


def test_fine_tuning_changes_the_encoder_and_clone_protects_the_original(labelled):
    x, y = labelled
    autoencoder = tiny_autoencoder()
    original = weights(autoencoder.encoder)
    classifier = compile_classifier(build_classifier(autoencoder, 3, freeze=False, clone=True))
    np.testing.assert_allclose(classifier.predict(x, verbose=0).sum(axis=1), 1.0, rtol=1e-5)
    classifier.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert all(changed(original, classifier_encoder(classifier).get_weights()))
    assert not any(changed(original, autoencoder.encoder.get_weights()))


def test_two_phase_schedule_freezes_then_unfreezes(labelled):
    x, y = labelled
    autoencoder = tiny_autoencoder()
    classifier = build_classifier(autoencoder, 3)
    snapshots, phases = [], []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(weights(autoencoder.encoder))

    def callbacks(phase):
        phases.append(phase)
        return [Snapshot()]

    before = weights(autoencoder.encoder)
    history = fit_two_phase(classifier, x, y, warmup_epochs=2, epochs=3, callbacks=callbacks,
                            batch_size=4, verbose=0)
    assert phases == ["warmup", "fine_tune"] and len(history["loss"]) == 3
    assert not any(changed(before, snapshots[1]))  # warm-up: encoder frozen
    assert any(changed(snapshots[1], snapshots[2]))  # then fine-tuned
    assert classifier_encoder(classifier).trainable
    with pytest.raises(ValueError, match="warmup_epochs"):
        fit_two_phase(classifier, x, y, warmup_epochs=4, epochs=3)


def test_baseline_is_the_same_architecture_from_random_init(labelled):
    x, y = labelled
    autoencoder = tiny_autoencoder()
    pretrained = build_classifier(autoencoder, 3, hidden_units=8, freeze=False)
    scratch = build_cnn_baseline(3, latent_dim=4, filters=4, dense_units=16, hidden_units=8)
    assert scratch.count_params() == pretrained.count_params()
    assert [w.shape for w in scratch.get_weights()] == [w.shape for w in pretrained.get_weights()]
    compile_classifier(scratch).fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert scratch.predict(x, verbose=0).shape == (8, 3)


def test_classifier_round_trips_through_keras_format(tmp_path, labelled):
    x, _ = labelled
    classifier = build_classifier(tiny_autoencoder(), 3)
    classifier.save(tmp_path / "c.keras")
    loaded = keras.saving.load_model(tmp_path / "c.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), classifier.predict(x, verbose=0), atol=1e-6)


def test_multi_output_encoder_uses_its_first_output(images):
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    encoder = keras.Model(inputs, [keras.layers.Dense(5)(flat), keras.layers.Dense(7)(flat)])
    classifier = build_classifier(encoder, 4, hidden_units=6)
    assert classifier.get_layer("head_hidden").kernel.shape == (5, 6)


@pytest.mark.parametrize("kwargs, error", [
    ({"num_classes": 1}, ValueError), ({"num_classes": 3, "hidden_units": 0}, ValueError),
    ({"num_classes": 3, "dropout": 1.0}, ValueError), ({"num_classes": 3.0}, TypeError),
    ({"num_classes": 3, "hidden_units": "8"}, TypeError),
    ({"num_classes": 3, "features": None}, TypeError),
])
def test_bad_hyperparameters(kwargs, error):
    with pytest.raises(error):
        build_classifier(tiny_autoencoder(), **kwargs)


def test_bad_encoder():
    with pytest.raises(TypeError, match="keras.Model"):
        build_classifier("not a model", 3)
    with pytest.raises(ValueError, match="learning_rate"):
        compile_classifier(build_cnn_baseline(3), learning_rate=0)
    with pytest.raises(TypeError, match="learning_rate"):
        compile_classifier(build_cnn_baseline(3), learning_rate="1e-3")
    with pytest.raises(ValueError, match="steps_per_execution"):
        compile_classifier(build_cnn_baseline(3), steps_per_execution=0)


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_transfer_variants_start_from_the_right_weights():
    autoencoder = tiny_autoencoder()
    head = (4 * 8 + 8) + (8 * 3 + 3)
    variants = {m: transfer_classifier(m, autoencoder, 3, hidden_units=8) for m in TRANSFER_METHODS}
    # frozen and fine-tuned (before its warm-up ends) train the head only, on a copy of the encoder
    for method in ("frozen", "fine-tuned"):
        assert trainable_count(variants[method]) == head
        encoder = classifier_encoder(variants[method])
        assert encoder is not autoencoder.encoder
        for copied, original in zip(encoder.get_weights(), autoencoder.encoder.get_weights()):
            np.testing.assert_array_equal(copied, original)
    scratch = variants["from scratch"]
    assert trainable_count(scratch) == scratch.count_params() == variants["frozen"].count_params()
    with pytest.raises(ValueError, match="method must be one of"):
        transfer_classifier("linear", autoencoder, 3)


def test_conv_features_feed_the_head_the_trunks_feature_maps(images):
    autoencoder = tiny_autoencoder()  # 28x28 -> 4x4 maps of 4 * filters = 16 channels
    flat = 4 * 4 * 16
    variants = {m: transfer_classifier(m, autoencoder, 3, hidden_units=8, features="conv")
                for m in TRANSFER_METHODS}
    for method, classifier in variants.items():
        assert classifier.get_layer("head_hidden").kernel.shape == (flat, 8), method
    # The pre-trained variants read exactly the autoencoder's flattened maps...
    trunk = keras.Model(autoencoder.encoder.input, autoencoder.encoder.get_layer("flatten").output)
    np.testing.assert_allclose(classifier_encoder(variants["frozen"]).predict(images, verbose=0),
                               trunk.predict(images, verbose=0), atol=1e-6)
    # ...and scratch is the same network: no dense bottleneck in either.
    assert variants["from scratch"].count_params() == variants["frozen"].count_params()
    assert trainable_count(variants["frozen"]) == flat * 8 + 8 + 8 * 3 + 3


def test_conv_features_of_a_vae_and_a_regularised_baseline(images):
    vae = VAE(latent_dim=2, filters=4, dense_units=8)  # encoder outputs [mean, log_var, z]
    classifier = build_classifier(vae, 3, hidden_units=8, features="conv")
    assert classifier.get_layer("head_hidden").kernel.shape == (4 * 4 * 16, 8)
    scratch = build_cnn_baseline(3, filters=4, hidden_units=8, dropout=0.5, features="conv")
    assert scratch.get_layer("dropout").rate == 0.5
    assert scratch.predict(images, verbose=0).shape == (8, 3)


def test_conv_features_need_a_convolutional_trunk():
    inputs = keras.Input((28, 28, 1))
    mlp = keras.Model(inputs, keras.layers.Dense(5)(keras.layers.Flatten(name="flatten")(inputs)))
    with pytest.raises(ValueError, match="convolutional encoder"):
        build_classifier(mlp, 3, features="conv")
    with pytest.raises(ValueError, match="does not have"):
        build_classifier(keras.Model(inputs, keras.layers.Dense(5)(keras.layers.Flatten(name="flat")(inputs))),
                         3, features="conv")
    with pytest.raises(ValueError, match="convolutional encoder"):
        build_classifier(VAE(latent_dim=2, architecture="mlp"), 3, features="conv")
    with pytest.raises(ValueError, match="features must be one of"):
        build_classifier(tiny_autoencoder(), 3, features="hidden")
    with pytest.raises(ValueError, match="features must be one of"):
        build_cnn_baseline(3, features="pixels")


def test_label_subset_is_stratified_seeded_and_checked():
    labels = np.repeat(np.arange(4), [5, 6, 7, 8])
    chosen = label_subset(labels, 3, seed=1)
    assert len(set(chosen)) == 12 and np.all(np.diff(chosen) > 0)
    np.testing.assert_array_equal(np.bincount(labels[chosen]), [3, 3, 3, 3])
    np.testing.assert_array_equal(label_subset(labels, 3, seed=1), chosen)
    assert not np.array_equal(label_subset(labels, 3, seed=2), chosen)
    assert set(np.flatnonzero(labels == 0)) <= set(label_subset(labels, 5))  # a class just big enough
    with pytest.raises(ValueError, match="class 0 has only 5 examples"):
        label_subset(labels, 6)
    with pytest.raises(ValueError, match="per_class"):
        label_subset(labels, 0)
    with pytest.raises(ValueError, match="1-D"):
        label_subset(labels[:, None], 2)


def test_fit_transfer_runs_the_protocols_steps_and_freezes_what_it_should(labelled):
    x, y = labelled
    autoencoder = tiny_autoencoder()
    pretrained = weights(autoencoder.encoder)
    for method, encoder_moves in (("frozen", False), ("fine-tuned", True), ("from scratch", True)):
        classifier = transfer_classifier(method, autoencoder, 3, hidden_units=8)
        start = weights(classifier)
        fit_transfer(method, classifier, x, y, steps=10, batch_size=4, warmup_steps=4)
        # Fresh optimizers per phase: the last one ran the phase's steps (all for one phase).
        assert int(classifier.optimizer.iterations) == (6 if method == "fine-tuned" else 10)
        assert any(changed(start, classifier.get_weights()))
        if method != "from scratch":
            moved = changed(pretrained, classifier_encoder(classifier).get_weights())
            assert any(moved) == encoder_moves, method
    assert not any(changed(pretrained, autoencoder.encoder.get_weights()))  # clones only
    with pytest.raises(ValueError, match="warmup_steps"):
        fit_transfer("fine-tuned", classifier, x, y, steps=5, warmup_steps=5)
    with pytest.raises(ValueError, match="one label per image"):
        fit_transfer("frozen", classifier, x, y[:3], steps=2)
    with pytest.raises(TypeError, match="steps"):
        fit_transfer("frozen", classifier, x, y, steps=2.0)


def test_steps_per_execution_keeps_the_protocols_step_count(labelled):
    x, y = labelled
    classifier = transfer_classifier("fine-tuned", tiny_autoencoder(), 3, hidden_units=8)
    fit_transfer("fine-tuned", classifier, x, y, steps=9, batch_size=4, warmup_steps=3,
                 steps_per_execution=4)
    # 6 fine-tuning steps, though 4 does not divide them (whole calls of 4 would run 8).
    assert int(classifier.optimizer.iterations) == 6
    compile_classifier(classifier, steps_per_execution=4)
    assert classifier.steps_per_execution == 4


def test_fit_transfer_trains_on_the_mapped_batches(labelled):
    x, y = labelled
    # A map_fn that relabels every training image as class 2: the classifier learns it.
    # Seeded here: under pytest-xdist the tests before this one differ from run to run, and
    # from some initial weights 40 steps were not enough.
    keras.utils.set_random_seed(0)
    classifier = transfer_classifier("from scratch", tiny_autoencoder(), 3, hidden_units=8)
    fit_transfer("from scratch", classifier, x, y, steps=40, batch_size=4, seed=0,
                 map_fn=lambda images, labels: (images, keras.ops.full_like(labels, 2)))
    assert np.all(classifier.predict(x, verbose=0).argmax(axis=1) == 2)


def test_cosine_decay_falls_from_the_rate_to_near_zero():
    rates = [cosine_decay(1e-3, 2, 6).schedule(epoch, None) for epoch in range(2, 6)]
    np.testing.assert_allclose(rates, 1e-3 * (1 + np.cos(np.pi * np.arange(4) / 4)) / 2)
    assert rates[0] == pytest.approx(1e-3) and rates[2] == pytest.approx(5e-4)
    for args, match in (((0.0, 0, 3), "learning_rate"), ((1e-3, 3, 3), "first_epoch")):
        with pytest.raises(ValueError, match=match):
            cosine_decay(*args)


def test_two_phase_cosine_schedule_sets_each_epochs_rate(labelled):
    x, y = labelled
    classifier = build_classifier(tiny_autoencoder(), 3)
    seen = []

    class Rate(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(float(self.model.optimizer.learning_rate))

    fit_two_phase(classifier, x, y, warmup_epochs=1, epochs=4, head_learning_rate=1e-2,
                  fine_tune_learning_rate=1e-3, schedule="cosine", callbacks=lambda _: [Rate()],
                  batch_size=8, verbose=0)
    expected = [1e-2] + [1e-3 * (1 + np.cos(np.pi * i / 3)) / 2 for i in range(3)]
    np.testing.assert_allclose(seen, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="schedule"):
        fit_two_phase(classifier, x, y, warmup_epochs=1, epochs=2, schedule="linear")


def test_augment_inputs_moves_images_keeps_labels_and_range(images):
    labels = np.arange(len(images))
    augmented, kept = augment_inputs(flip=True, shift=0.2, seed=0)(images, labels)
    augmented = np.asarray(augmented)
    assert augmented.shape == images.shape and np.array_equal(np.asarray(kept), labels)
    assert augmented.min() >= 0.0 and augmented.max() <= 1.0
    moved = [not np.allclose(a, b) for a, b in zip(augmented, images)]
    assert sum(moved) > len(images) // 2
    # Flips alone give each image or its mirror, nothing else.
    flipped = np.asarray(augmentation(flip=True, shift=0.0, seed=0)(images, training=True))
    for image, view in zip(images, flipped):
        assert np.allclose(view, image) or np.allclose(view, image[:, ::-1])
    assert np.allclose(np.asarray(augmentation(flip=False, shift=0.0)(images, training=True)), images)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"flip": 1, "shift": 0.1}, TypeError, "flip"),
    ({"flip": False, "shift": 0.5}, ValueError, "shift"),
    ({"flip": False, "shift": -0.1}, ValueError, "shift"),
    ({"flip": False, "shift": 0.1, "contrast": 1.0}, ValueError, "contrast"),
])
def test_augmentation_rejects_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        augmentation(**kwargs)


def test_head_dropout_is_the_same_in_every_variant():
    for method in TRANSFER_METHODS:
        classifier = transfer_classifier(method, tiny_autoencoder(), 3, hidden_units=8,
                                         head_dropout=0.3)
        assert classifier.get_layer("head_dropout").rate == 0.3, method


def test_label_efficiency_figure(tmp_path):
    from helpers import assert_figure
    from zoo.plotting import plot_label_efficiency

    rows = [{"method": m, "labels_per_class": n, "label": "all" if n == 5400 else str(n),
             "accuracy_mean": 0.5 + 0.1 * i + 0.01 * n ** 0.3, "accuracy_std": 0.02}
            for i, m in enumerate(TRANSFER_METHODS) for n in (10, 100, 5400)]
    assert_figure(plot_label_efficiency(rows, tmp_path / "curve.png"), min_size=(400, 250))
    with pytest.raises(ValueError, match="no label-efficiency rows"):
        plot_label_efficiency([], tmp_path / "empty.png")


def test_each_augmentation_draws_its_own_random_numbers():
    # A left-to-right ramp: a flip turns it round, a contrast change scales its spread.
    ramp = np.tile(np.linspace(0.2, 0.8, 28, dtype=np.float32)[None, :, None], (28, 1, 1))
    views = np.asarray(augmentation(flip=True, shift=0.0, contrast=0.5, seed=0)(
        np.repeat(ramp[None], 512, axis=0), training=True))
    flipped = views[:, 0, 0, 0] > views[:, 0, -1, 0]
    spread = views.std(axis=(1, 2, 3))
    assert 0.3 < flipped.mean() < 0.7 and spread.std() > 0.01
    # Layers seeded alike drew the same numbers: flips came with low contrast (r = -0.87).
    assert abs(np.corrcoef(flipped, spread)[0, 1]) < 0.2


# "from scratch" trains every layer, as the fine-tuned variant's second phase does; its
# first phase trains the head alone, as "frozen" does (-m slow).
@pytest.mark.parametrize("method", [pytest.param("frozen", marks=pytest.mark.slow), "fine-tuned"])
def test_transfer_classifiers_train_alike_under_every_dtype_policy(method, mnist_sample):
    """SGD with momentum (which, unlike Adam, an unscaled float16 loss would stall) moves
    a frozen and a whole network's loss under mixed_float16 and mixed_bfloat16 at least
    half as far as under float32; the float16 optimizer scales the loss and the
    probabilities are float32."""
    x, y = mnist_sample.x_train[:512], mnist_sample.y_train[:512]
    drops = {}
    for policy in ("float32", *MIXED_POLICIES):
        with dtype_policy(policy):
            keras.utils.set_random_seed(0)
            classifier = transfer_classifier(method, ConvAutoencoder(latent_dim=8, filters=8,
                                                                     dense_units=32), 10)
            if method == "fine-tuned":  # its second phase: the encoder unfrozen
                classifier_encoder(classifier).trainable = True
            # A head alone takes a larger step; the whole network is unstable with it.
            learning_rate = 0.2 if method == "frozen" else 0.05
            classifier.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9),
                               loss="sparse_categorical_crossentropy", jit_compile=True)
            before = classifier.evaluate(x, y, verbose=0)
            classifier.fit(x, y, batch_size=32, epochs=3, verbose=0)
            drops[policy] = before - classifier.evaluate(x, y, verbose=0)
            assert classifier.predict(x[:4], verbose=0).dtype == np.float32
            if policy == "mixed_float16":
                assert isinstance(classifier.optimizer, keras.optimizers.LossScaleOptimizer)
    # A head on an untrained encoder's codes learns slowly (measured: 2.303 -> 2.279);
    # an unscaled float16 loss moves it 1000 times less.
    assert drops["float32"] > 0.01, drops
    assert all(drops[policy] >= 0.5 * drops["float32"] for policy in MIXED_POLICIES), drops
