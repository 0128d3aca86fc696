"""VQVAE: the quantiser picks the nearest codebook vector, gradients pass it straight
through, the PixelCNN prior reads only the positions before each one, and the prior makes
the model generative."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.models.vqvae import VQVAE, MaskedConv2D


def tiny(**kwargs):
    keras.utils.set_random_seed(0)
    return VQVAE(**{"embedding_dim": 4, "num_embeddings": 8, "filters": 8, "residual_blocks": 1,
                    "prior_filters": 8, "prior_blocks": 1, **kwargs})


def test_quantiser_picks_the_nearest_codebook_vector():
    model = tiny()
    z = np.random.default_rng(0).standard_normal((3, 7, 7, 4)).astype(np.float32) * 0.1
    quantized, indices = model.quantizer(z)
    codebook = model.quantizer.codebook.numpy()
    distances = np.sum((z[..., None, :] - codebook) ** 2, axis=-1)   # (3, 7, 7, K)
    np.testing.assert_array_equal(indices, distances.argmin(axis=-1))
    np.testing.assert_allclose(quantized, codebook[distances.argmin(axis=-1)])


def test_gradients_pass_the_quantiser_straight_through_to_the_encoder(images):
    model = tiny()
    with tf.GradientTape() as tape:
        losses = model.compute_losses(tf.constant(images), training=True)
    weights = model.encoder.trainable_weights + model.quantizer.trainable_weights
    gradients = tape.gradient(losses["loss"], weights)
    assert all(g is not None and np.any(np.asarray(g) != 0) for g in gradients)
    assert float(losses["loss"]) == pytest.approx(
        float(losses["reconstruction_loss"]) + float(losses["vq_loss"]), rel=1e-5)


def test_the_reconstruction_decodes_the_encoded_grid(images):
    model = tiny()
    grids = model.encode_indices(images)
    assert grids.shape == (8, 7, 7) and grids.dtype == np.int32
    assert grids.min() >= 0 and grids.max() < 8
    np.testing.assert_allclose(model.decode_indices(grids), model.reconstruct(images), atol=1e-5)


def test_codes_are_the_flattened_codebook_vectors_and_decode_snaps_to_them(images):
    model = tiny()
    codes = model.encode(images)
    assert codes.shape == (8, 7 * 7 * 4) == (8, model.latent_dim) and codes.dtype == np.float32
    np.testing.assert_allclose(codes, model.decode_indices_to_codes(model.encode_indices(images)))
    np.testing.assert_allclose(model.decode(codes), model.reconstruct(images), atol=1e-5)
    # A code a little off the codebook decodes as the vectors it is nearest to.
    np.testing.assert_allclose(model.decode(codes + 1e-4), model.reconstruct(images), atol=1e-5)


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_a_masked_convolution_reads_only_the_positions_before_the_centre(mask_type):
    layer = MaskedConv2D(mask_type, 2, 5)
    x = tf.random.normal((1, 9, 9, 3), seed=0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        centre = layer(x)[0, 4, 4]
    reads = np.abs(tape.gradient(centre, x).numpy()[0]).sum(axis=-1) > 0  # (9, 9)
    before = np.zeros((9, 9), bool)
    before[2:4, 2:7] = True  # the rows above, within the kernel
    before[4, 2:4] = True  # the centre row, left of the centre
    before[4, 4] = mask_type == "B"
    np.testing.assert_array_equal(reads, before)


def test_the_priors_logits_at_a_position_ignore_that_position_and_the_later_ones():
    model = tiny()
    grid = np.random.default_rng(0).integers(0, 8, (1, 7, 7)).astype(np.int32)
    changed = grid.copy()
    changed[0, 3, 3:] = (grid[0, 3, 3:] + 1) % 8  # position (3, 3) and what follows it
    changed[0, 4:] = (grid[0, 4:] + 1) % 8
    before, after = (model.prior(g, training=False).numpy()[0] for g in (grid, changed))
    np.testing.assert_allclose(before[:3], after[:3], atol=1e-6)
    np.testing.assert_allclose(before[3, :4], after[3, :4], atol=1e-6)
    assert not np.allclose(before[3, 4:], after[3, 4:])


def test_fit_prior_learns_the_codes_and_generate_decodes_its_draws(mnist_sample):
    model = tiny()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(mnist_sample.x_train[:512], epochs=2, batch_size=64, verbose=0)
    x_test = mnist_sample.x_test[:128]
    untrained = model.prior_nll(x_test)
    model.fit_prior(mnist_sample.x_train[:512], epochs=3, batch_size=64, verbose=0,
                    optimizer=keras.optimizers.Adam(3e-3))
    # A uniform prior costs 49 log 8 = 101.9 nats per grid; the trained one far less.
    assert model.prior_nll(x_test) < 0.8 * min(untrained, 49 * np.log(8)), untrained
    images = model.generate(5, seed=0)
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_allclose(model.generate(5, seed=0), images)
    assert not np.allclose(model.generate(5, seed=1), images)


@pytest.mark.parametrize("grids, error, message", [
    (np.zeros((2, 7, 6), np.int32), ValueError, r"shape \(N, 7, 7\)"),
    (np.full((2, 7, 7), 8), ValueError, r"\[0, 8\)"),
    (np.zeros((2, 7, 7), np.float32), TypeError, "integer"),
])
def test_bad_grids_are_named(grids, error, message):
    with pytest.raises(error, match=message):
        tiny().decode_indices(grids)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"num_embeddings": 1}, ValueError, "num_embeddings"), ({"commitment": -1.0}, ValueError, "commitment"),
    ({"filters": 0}, ValueError, "filters"), ({"residual_blocks": 1.5}, TypeError, "residual_blocks"),
])
def test_bad_hyperparameters_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        tiny(**kwargs)
