import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.metrics import (binarize, classifier_features, domain_fid, dynamic_binarization,
                         frechet_distance, iwae_log_likelihood, sample_diversity,
                         train_feature_classifier)
from zoo.models.vae import VAE


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 6))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_shifted_and_scaled_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(400, 5))
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    # Same sample covariance, means apart by `shift`: exactly |shift|^2.
    assert frechet_distance(a, a + shift) == pytest.approx(np.sum(shift**2), rel=1e-6)
    # Covariance S vs. s^2 S: Tr(S + s^2 S - 2 s S) = (1 - s)^2 Tr(S).
    scale = 3.0
    mean_gap = (scale - 1) * a.mean(axis=0) + shift
    expected = np.sum(mean_gap**2) + (1 - scale) ** 2 * np.trace(np.cov(a, rowvar=False))
    assert frechet_distance(a, scale * a + shift) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_agrees_with_the_sqrtm_formula_and_survives_dead_units():
    from scipy import linalg

    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4))
    b = 2.0 * rng.normal(size=(300, 4)) + 1.0
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    textbook = (np.sum((a.mean(0) - b.mean(0)) ** 2)
                + np.trace(cov_a + cov_b - 2 * np.real(linalg.sqrtm(cov_a @ cov_b))))
    assert frechet_distance(a, b) == pytest.approx(textbook, rel=1e-8)
    dead = np.zeros((300, 3))  # ReLU units that never fire: singular covariances
    a_dead, b_dead = np.hstack([a, dead]), np.hstack([b, dead])
    assert frechet_distance(a_dead, a_dead) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a_dead, b_dead) == pytest.approx(textbook, rel=1e-8)


def test_frechet_distance_rejects_bad_features():
    with pytest.raises(ValueError, match="same width"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.full((5, 3), np.nan), np.zeros((5, 3)))


@pytest.fixture(scope="module")
def classifier(mnist_sample):
    return train_feature_classifier(mnist_sample, epochs=3, seed=0, batch_size=64, filters=8,
                                    feature_units=32)


def test_feature_classifier_learns_and_gives_penultimate_features(classifier, mnist_sample):
    x, y = mnist_sample.x_test[:500], mnist_sample.y_test[:500]
    accuracy = classifier.evaluate(x, y, verbose=0, return_dict=True)["accuracy"]
    assert accuracy > 0.8  # chance is 0.1
    assert classifier_features(classifier, x[:7]).shape == (7, 32)


def test_domain_fid_ranks_real_digits_closer_than_noise(classifier, mnist_sample):
    real_a, real_b = mnist_sample.x_test[:400], mnist_sample.x_test[400:800]
    noise = np.random.default_rng(0).random((400, 28, 28, 1), dtype=np.float32)
    assert domain_fid(real_a, real_a, classifier) == pytest.approx(0.0, abs=1e-3)
    assert 0 < domain_fid(real_a, real_b, classifier) < domain_fid(real_a, noise, classifier)
    with pytest.raises(ValueError, match="shape"):
        domain_fid(real_a[..., 0], real_b, classifier)


def test_sample_diversity_tells_varied_digits_from_one_repeated_digit(classifier, mnist_sample):
    varied = sample_diversity(mnist_sample.x_test[:500], classifier)
    same = sample_diversity(np.repeat(mnist_sample.x_test[:1], 500, axis=0), classifier)
    assert varied["num_classes"] == 10 and varied["classes_covered"] >= 8
    assert same["classes_covered"] == 1
    assert same["class_shares"] == [float(c == np.argmax(same["class_shares"])) for c in range(10)]
    assert sum(varied["class_shares"]) == pytest.approx(1.0) and max(varied["class_shares"]) < 0.3
    assert varied["marginal_entropy"] > max(2.0, same["marginal_entropy"] + 0.5)
    assert same["marginal_entropy"] == pytest.approx(same["mean_entropy"], abs=1e-6)
    assert same["score"] == pytest.approx(1.0, abs=1e-5)
    assert 1.0 < varied["score"] <= 10.0
    assert varied["marginal_entropy"] <= math.log(10) + 1e-9


def test_generative_scores_use_identifier_keys_and_the_real_vs_real_floor(classifier, mnist_sample):
    from zoo.metrics import generative_scores

    real, reference = mnist_sample.x_test[:300], mnist_sample.x_test[300:600]
    noise = np.random.default_rng(0).random((300, 28, 28, 1), dtype=np.float32)
    scores = generative_scores(noise, real, classifier, reference=reference)
    assert set(scores) == {"domain_fid", "domain_fid_real_vs_real", "classes_covered",
                           "num_classes", "class_shares", "classifier_score", "mean_entropy"}
    assert scores["domain_fid"] > scores["domain_fid_real_vs_real"] > 0
    assert scores["domain_fid"] == pytest.approx(domain_fid(real, noise, classifier), rel=1e-6)
    assert "domain_fid_real_vs_real" not in generative_scores(noise, real, classifier)


def test_binarize_draws_bernoulli_pixels_reproducibly():
    x = np.full((200, 28, 28, 1), 0.3, np.float32)
    draw = binarize(x, seed=0)
    assert set(np.unique(draw)) == {0.0, 1.0}
    assert draw.mean() == pytest.approx(0.3, abs=0.01)
    np.testing.assert_array_equal(draw, binarize(x, seed=0))
    assert not np.array_equal(draw, binarize(x, seed=1))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        binarize(x * 4)


def test_dynamic_binarization_redraws_each_pass():
    x = np.full((64, 28, 28, 1), 0.5, np.float32)
    map_fn = dynamic_binarization(seed=0)
    ds = tf.data.Dataset.from_tensor_slices((x, x)).batch(64).map(map_fn)
    (a, ta), (b, _) = next(iter(ds)), next(iter(ds))
    assert set(np.unique(a)) == {0.0, 1.0}
    np.testing.assert_array_equal(a, ta)
    assert not np.array_equal(a, b)


@pytest.fixture(scope="module")
def trained_vae(mnist_sample):
    keras.utils.set_random_seed(0)
    vae = VAE(latent_dim=4, architecture="mlp", seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae.fit(binarize(mnist_sample.x_train[:1024], seed=0), epochs=2, batch_size=64, verbose=0)
    return vae, binarize(mnist_sample.x_test[:64], seed=1)


def test_iwae_bound_is_finite_negative_and_tightens_with_k(trained_vae):
    vae, x = trained_vae
    estimates = [iwae_log_likelihood(vae, x, k=k, seed=0) for k in (1, 10, 100)]
    assert all(math.isfinite(e) and e < 0 for e in estimates)
    assert estimates[0] < estimates[1] < estimates[2]
    # Other batches mean other draws of the same estimator: close, not equal.
    assert iwae_log_likelihood(vae, x, k=10, seed=0, batch_size=7) == pytest.approx(
        estimates[1], abs=2.0)
    assert iwae_log_likelihood(vae, x, k=10, seed=0) == estimates[1]  # seeded


def test_iwae_with_one_sample_is_the_elbo(trained_vae):
    vae, x = trained_vae
    x = np.repeat(x, 8, axis=0)  # average the single-sample noise down
    elbo = -vae.evaluate(x, batch_size=128, verbose=0, return_dict=True)["loss"]
    assert iwae_log_likelihood(vae, x, k=1, seed=3) == pytest.approx(elbo, abs=1.5)


def test_iwae_rejects_grey_images_and_non_bernoulli_models(trained_vae, images):
    vae, _ = trained_vae
    with pytest.raises(ValueError, match="0s and 1s"):
        iwae_log_likelihood(vae, images)
    with pytest.raises(ValueError, match="k must be"):
        iwae_log_likelihood(vae, np.ones((2, 28, 28, 1), np.float32), k=0)
    with pytest.raises(TypeError, match="^k must be an integer"):
        iwae_log_likelihood(vae, np.ones((2, 28, 28, 1), np.float32), k=10.0)
    with pytest.raises(ValueError, match="Bernoulli"):
        iwae_log_likelihood(VAE(latent_dim=2, architecture="mlp", reconstruction_loss="mse"),
                            np.ones((2, 28, 28, 1), np.float32))
