import numpy as np
import pytest

from helpers import assert_figure
from zoo import ConvAutoencoder
from zoo.analysis import (class_statistics, decode_codes, embed_2d, encode_dataset, interpolate,
                          isotropy_table, knn_accuracy, latent_scores, latent_traversal,
                          linear_probe_accuracy, sample_codes, silhouette)
from zoo.plotting import plot_class_ellipses, plot_embedding


@pytest.fixture(scope="module")
def model():
    return ConvAutoencoder(latent_dim=3, filters=4, dense_units=8)


def blobs(n_per_class=40, dim=6, seed=0):
    """Three well-separated Gaussian clusters: trivially separable classes."""
    rng = np.random.default_rng(seed)
    centres = np.eye(3, dim) * 20
    codes = np.concatenate([c + rng.standard_normal((n_per_class, dim)) for c in centres])
    return codes.astype(np.float32), np.repeat(np.arange(3), n_per_class)


def test_encode_dataset_with_a_model_or_a_bare_encoder(model, images):
    assert encode_dataset(model, images).shape == (8, 3)
    np.testing.assert_allclose(encode_dataset(model.encoder, images), model.encode(images), atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        encode_dataset(model, images[..., 0])
    assert decode_codes(model.decoder, np.zeros((2, 3), np.float32)).shape == (2, 28, 28, 1)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embeddings_are_2d_per_point(method):
    codes, labels = blobs()
    embedding = embed_2d(codes, method=method, seed=0, max_iter=250)
    assert embedding.shape == (len(codes), 2) and np.all(np.isfinite(embedding))
    # Well-separated clusters stay separated in 2-D (chance: 1/3). t-SNE's optimisation
    # rounds differently on other CPUs: 1.0 here, 0.992 (one point of 120) on an AMD EPYC.
    assert knn_accuracy(embedding, labels, embedding, labels, k=3) >= 0.95
    with pytest.raises(ValueError, match="method"):
        embed_2d(codes, method="umap")


def test_class_statistics_known_answer():
    # Class 0: x in {-2, 2} around 1, y in {-1, 1} around 5 -> std (2, 1), gap 1.
    # Class 1: a round cloud around (-3, 0) with std 0.5 on both axes -> gap 0.
    pattern = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], np.float32)
    points = np.concatenate([[1, 5] + pattern * [2, 1], [-3, 0] + pattern * 0.5])
    labels = np.array([0] * 4 + [1] * 4)
    rows = class_statistics(points, labels, class_names=("zero", "one"))
    assert [r["class"] for r in rows] == ["zero", "one"]
    assert rows[0] == pytest.approx({"class": "zero", "n": 4, "mean_1": 1, "mean_2": 5,
                                     "std_1": 2, "std_2": 1, "std_gap": 1,
                                     "relative_std_gap": 1 / 1.5})
    assert rows[1]["std_gap"] == 0 and rows[1]["mean_1"] == -3
    # The unitless gap ignores the embedding's scale; the plain gap scales with it.
    scaled = class_statistics(points * 10, labels)
    assert scaled[0]["relative_std_gap"] == pytest.approx(rows[0]["relative_std_gap"])
    assert scaled[0]["std_gap"] == pytest.approx(10 * rows[0]["std_gap"])
    assert isotropy_table({"AE": rows}, key="relative_std_gap")[0]["AE"] == pytest.approx(1 / 1.5)
    with pytest.raises(ValueError, match="key"):
        isotropy_table({"AE": rows}, key="std_1")
    table = isotropy_table({"AE": rows, "VAE": [dict(r, **{"std_gap": 0.25}) for r in rows]})
    assert table[0] == {"class": "zero", "AE": 1.0, "VAE": 0.25}
    assert table[-1] == {"class": "mean", "AE": 0.5, "VAE": 0.25}
    with pytest.raises(ValueError, match="other classes"):
        isotropy_table({"AE": rows, "VAE": rows[:1]})


def test_plots_draw_one_panel_per_entry(tmp_path):
    codes, labels = blobs()
    embedding = embed_2d(codes)
    names = ("a", "b", "c")
    one = assert_figure(plot_embedding({"PCA": embedding}, labels, tmp_path / "s.png", names))
    two = assert_figure(plot_embedding({"PCA": embedding, "again": embedding}, labels,
                                       tmp_path / "s2.png", names))
    assert two.shape[1] > 1.6 * one.shape[1]  # a second panel, side by side
    stats = {"AE": class_statistics(embedding, labels, names)}
    assert_figure(plot_class_ellipses(stats, tmp_path / "e.png"))
    with pytest.raises(ValueError, match="labels must have shape"):
        plot_embedding({"PCA": embedding}, labels[:-1], tmp_path / "bad.png", names)


def test_traversal_interpolation_and_samples_shapes(model, images):
    grid = latent_traversal(model, np.zeros(3, np.float32), components=[0, 2], steps=5,
                            scale=np.array([1, 2, 3], np.float32))
    assert grid.shape == (2, 5, 28, 28, 1)
    assert not np.allclose(grid[0, 0], grid[0, -1])  # the varied component matters
    assert latent_traversal(model, np.zeros(3, np.float32)).shape == (3, 9, 28, 28, 1)
    with pytest.raises(ValueError, match="components"):
        latent_traversal(model, np.zeros(3, np.float32), components=[3])
    path = interpolate(model, images[0], images[1], steps=6)
    assert path.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(path[0], model.predict(images[:1], verbose=0)[0], atol=1e-5)
    prior = sample_codes(500, 3, seed=1)
    assert prior.shape == (500, 3) and abs(prior.std() - 1) < 0.1
    np.testing.assert_array_equal(prior, sample_codes(500, 3, seed=1))
    codes, _ = blobs(dim=3)
    fitted = sample_codes(4000, 3, seed=1, fit_to=codes)
    np.testing.assert_allclose(fitted.mean(axis=0), codes.mean(axis=0), atol=0.5)
    np.testing.assert_allclose(fitted.std(axis=0), codes.std(axis=0), rtol=0.1)
    with pytest.raises(ValueError, match="components"):
        sample_codes(4, 5, fit_to=codes)


def test_mixture_sampler_follows_clusters_a_single_gaussian_blurs():
    codes, labels = blobs(dim=3)
    centres = np.stack([codes[labels == c].mean(axis=0) for c in np.unique(labels)])

    def distance_to_nearest_centre(samples):
        return np.linalg.norm(samples[:, None] - centres[None], axis=2).min(axis=1).mean()

    gaussian = sample_codes(2000, 3, seed=1, fit_to=codes)
    mixture = sample_codes(2000, 3, seed=1, fit_to=codes, method="gmm", components=len(centres))
    assert mixture.shape == (2000, 3) and mixture.dtype == np.float32
    np.testing.assert_array_equal(mixture, sample_codes(2000, 3, seed=1, fit_to=codes,
                                                        method="gmm", components=len(centres)))
    # The mixture's draws sit on the clusters; the single Gaussian's fill the space between.
    assert distance_to_nearest_centre(mixture) < 0.5 * distance_to_nearest_centre(gaussian)
    assert distance_to_nearest_centre(mixture) <= 1.5 * distance_to_nearest_centre(codes)
    with pytest.raises(ValueError, match="components must be at most"):
        sample_codes(4, 3, fit_to=codes[:5], method="gmm", components=10)
    with pytest.raises(ValueError, match="method must be one of"):
        sample_codes(4, 3, fit_to=codes, method="flow")


@pytest.mark.parametrize("call, error, message", [
    (lambda m, x: latent_traversal(m, np.zeros(3, np.float32), steps=0), ValueError, "^steps"),
    (lambda m, x: latent_traversal(m, np.zeros(3, np.float32), steps=4.0), TypeError,
     "^steps must be an integer"),
    (lambda m, x: latent_traversal(m, np.zeros(3, np.float32), span=0), ValueError,
     r"^span must be in \(0, inf\)"),
    (lambda m, x: interpolate(m, x[0], x[1], steps=1), ValueError, r"^steps must be in \[2, inf\]"),
    (lambda m, x: sample_codes(None, 3), TypeError, "^n must be an integer"),
    (lambda m, x: embed_2d(np.zeros((4, 2)), method=None), TypeError, "^method must be one of"),
], ids=["zero-steps", "float-steps", "zero-span", "one-step", "no-n", "no-method"])
def test_bad_arguments_raise_type_or_value_errors_naming_them(model, images, call, error, message):
    with pytest.raises(error, match=message):
        call(model, images)


def test_scores_on_a_trivially_separable_case():
    codes, labels = blobs(seed=0)
    test_codes, test_labels = blobs(seed=1)
    scores = latent_scores(codes, labels, test_codes, test_labels)
    assert scores["knn_accuracy"] == 1.0 and scores["linear_probe_accuracy"] == 1.0
    assert scores["silhouette"] > 0.8
    shuffled = np.random.default_rng(0).permutation(labels)
    assert silhouette(codes, shuffled) < 0.1
    assert linear_probe_accuracy(codes, shuffled, test_codes, test_labels) < 0.7
    with pytest.raises(ValueError, match="components"):
        knn_accuracy(codes, labels, test_codes[:, :2], test_labels)
    with pytest.raises(ValueError, match="NaN"):
        silhouette(np.full((4, 2), np.nan, np.float32), np.array([0, 0, 1, 1]))
