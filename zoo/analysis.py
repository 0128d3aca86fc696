"""Latent-space analysis of any zoo model that has ``encode``/``decode``.

Works with `zoo.ConvAutoencoder`, the VAE (whose ``encode`` gives the posterior
means), or bare Keras encoder/decoder models:

- `encode_dataset`, `embed_2d` (PCA or t-SNE from scikit-learn), `class_statistics`
  (per-class mean and std along the two embedded axes; ``std_gap`` is the reports'
  isotropy statistic ``|std_1 - std_2|``; `zoo.plotting` draws both);
- `latent_traversal`, `interpolate`, `sample_codes` (from N(0, I), or from a Gaussian or
  a Gaussian mixture fitted to encoded data), `decode_codes`;
- scores: `knn_accuracy`, `linear_probe_accuracy`, `silhouette`, `latent_scores`.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np

from zoo.base import ZooModel, gaussian_codes
from zoo.validation import check_choice, check_codes, check_images, check_positive_int, check_scalar

EMBEDDINGS = ("pca", "tsne")


# ---------------------------------------------------------------- encode/decode


def encode_dataset(model, x, batch_size: int = 256) -> np.ndarray:
    """Codes ``(N, latent_dim)`` of images ``x`` ``(N, H, W, C)``.

    ``model`` is a zoo model that ``encodes`` (for a VAE: the posterior means; for a
    VQ-VAE: the quantised grid, flattened) or a bare Keras encoder; an encoder with
    several outputs contributes its first one.
    """
    x = check_images(x)
    if isinstance(model, ZooModel):
        if not model.encodes:
            raise TypeError(f"a {type(model).__name__} has no encoder")
        return model.encode(x, batch_size=batch_size)
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a zoo model or a keras.Model, got {type(model).__name__}")
    codes = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(codes[0] if isinstance(codes, (list, tuple)) else codes, dtype=np.float32)


def decode_codes(model, z, batch_size: int = 256) -> np.ndarray:
    """Images decoded from codes ``z`` ``(N, latent_dim)`` by a zoo model that ``decodes``
    or a bare decoder."""
    if isinstance(model, ZooModel):
        if not model.decodes:
            raise TypeError(f"a {type(model).__name__} has no decoder")
        return model.decode(np.asarray(z, np.float32), batch_size=batch_size)
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a zoo model or a keras.Model, got {type(model).__name__}")
    return model.predict(check_codes(z, model.input_shape[-1]), batch_size=batch_size, verbose=0)


def _codes(codes, name="codes", min_rows=1) -> np.ndarray:
    array = np.asarray(codes)
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (N, latent_dim), got {array.shape}")
    array = check_codes(array, array.shape[1], name)
    if len(array) < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {len(array)}")
    return array


def _labels(labels, n, name="labels") -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"{name} must have shape ({n},), got {labels.shape}")
    return labels


# ------------------------------------------------------------------- embeddings


def embed_2d(codes, method: str = "pca", seed: int = 0, perplexity: float = 30.0,
             max_iter: int = 1000) -> np.ndarray:
    """A 2-D embedding ``(N, 2)`` of ``codes`` ``(N, D)`` by PCA or t-SNE (scikit-learn).

    t-SNE costs O(N log N) per iteration for ``max_iter`` (>= 250) iterations; keep it to
    a few thousand points. Its perplexity is capped below N.
    """
    check_choice(method, "method", EMBEDDINGS)
    codes = _codes(codes, min_rows=3)
    if method == "pca":
        from sklearn.decomposition import PCA

        if codes.shape[1] < 2:
            raise ValueError("PCA to 2-D needs codes with at least 2 components")
        return PCA(n_components=2, random_state=seed).fit_transform(codes).astype(np.float32)
    from sklearn.manifold import TSNE

    tsne = TSNE(n_components=2, perplexity=min(perplexity, len(codes) - 1.0), init="pca",
                max_iter=max_iter, random_state=seed)
    return tsne.fit_transform(codes).astype(np.float32)


def class_statistics(embedding, labels, class_names=None) -> list:
    """Per-class mean and standard deviation along each of the two embedded axes.

    Returns one dict per class present, in label order: ``class``, ``n``, ``mean_1``,
    ``mean_2``, ``std_1``, ``std_2`` (population std), ``std_gap`` = ``|std_1 - std_2|``,
    the reports' isotropy statistic (0 for a round cloud, in the embedding's units), and
    ``relative_std_gap`` = ``std_gap / mean(std_1, std_2)``, the same without units, so
    that embeddings of differently scaled codes (an AE's and a VAE's) compare.
    """
    embedding = _codes(embedding, "embedding")
    if embedding.shape[1] != 2:
        raise ValueError(f"embedding must have shape (N, 2), got {embedding.shape}")
    labels = _labels(labels, len(embedding))
    rows = []
    for label in np.unique(labels):
        points = embedding[labels == label]
        mean, std = points.mean(axis=0), points.std(axis=0)
        rows.append({
            "class": class_names[int(label)] if class_names is not None else int(label),
            "n": len(points),
            "mean_1": float(mean[0]), "mean_2": float(mean[1]),
            "std_1": float(std[0]), "std_2": float(std[1]),
            "std_gap": float(abs(std[0] - std[1])),
            "relative_std_gap": float(abs(std[0] - std[1]) / max(std.mean(), 1e-12)),
        })
    return rows


def isotropy_table(statistics: dict, key: str = "std_gap") -> list:
    """Rows ``{class, <model>: <key>, ...}`` and a final ``mean`` row.

    ``statistics`` maps a model name to its `class_statistics` rows (same classes);
    ``key`` is the statistic tabled, ``"std_gap"`` or the unitless ``"relative_std_gap"``.
    """
    check_choice(key, "key", ("std_gap", "relative_std_gap"))
    if not statistics:
        raise ValueError("isotropy_table needs the statistics of at least one model")
    names = list(statistics)
    classes = [row["class"] for row in statistics[names[0]]]
    for name in names:
        if [row["class"] for row in statistics[name]] != classes:
            raise ValueError(f"{name!r} has statistics for other classes than {names[0]!r}")
    rows = [{"class": c, **{name: statistics[name][i][key] for name in names}}
            for i, c in enumerate(classes)]
    rows.append({"class": "mean", **{name: float(np.mean([r[name] for r in rows])) for name in names}})
    return rows


# ------------------------------------------------------------ decoding the space


def latent_traversal(model, base_code, components=None, span: float = 3.0, steps: int = 9,
                     scale=None) -> np.ndarray:
    """Decode ``base_code`` with one component varied at a time, the others fixed.

    Component ``c`` takes the values ``base_code[c] + t * scale[c]`` for ``steps`` values
    of ``t`` evenly spaced in ``[-span, span]`` (``scale`` defaults to 1; the std of
    encoded data makes the steps comparable across components).

    Returns an image grid array ``(len(components), steps, H, W, C)``: one row per
    component (default: all of them).
    """
    base_code = np.asarray(base_code, np.float32).reshape(-1)
    latent_dim = len(base_code)
    check_codes(base_code[None], latent_dim, "base_code")
    components = list(range(latent_dim)) if components is None else [int(c) for c in components]
    if not components or not all(0 <= c < latent_dim for c in components):
        raise ValueError(f"components must be indices in [0, {latent_dim}), got {components}")
    check_positive_int(steps, "steps")
    check_scalar(span, "span", numbers.Real, min_val=0, include_boundaries="neither")
    scale = np.ones(latent_dim, np.float32) if scale is None else np.asarray(scale, np.float32)
    if scale.shape != (latent_dim,):
        raise ValueError(f"scale must have shape ({latent_dim},), got {scale.shape}")
    offsets = np.linspace(-span, span, steps, dtype=np.float32)
    codes = np.repeat(base_code[None, None], len(components), axis=0).repeat(steps, axis=1)
    for row, c in enumerate(components):
        codes[row, :, c] += offsets * scale[c]
    images = decode_codes(model, codes.reshape(-1, latent_dim))
    return images.reshape(len(components), steps, *images.shape[1:])


def interpolate(model, image_a, image_b, steps: int = 8) -> np.ndarray:
    """Decode ``steps`` codes on the line from ``encode(image_a)`` to ``encode(image_b)``.

    ``image_a`` and ``image_b`` are single images ``(H, W, C)``; returns
    ``(steps, H, W, C)``, the first and last being the two reconstructions.
    """
    check_scalar(steps, "steps", numbers.Integral, min_val=2)
    pair = check_images(np.stack([np.asarray(image_a), np.asarray(image_b)]), name="image pair")
    start, end = encode_dataset(model, pair)
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return decode_codes(model, (1 - weights) * start + weights * end)


SAMPLERS = ("gaussian", "gmm")


def sample_codes(n: int, latent_dim: int, seed: int = 0, fit_to=None, method: str = "gaussian",
                 components: int = 10) -> np.ndarray:
    """``n`` random codes ``(n, latent_dim)`` to decode: a prior, or a density fitted to codes.

    Parameters
    ----------
    n : int
        How many codes.
    latent_dim : int
        Their size.
    seed : int, default=0
        The same seed, the same codes.
    fit_to : array of shape (M, latent_dim), default=None
        Codes of real images (e.g. the encoded training set). None draws from N(0, I),
        the prior a VAE or GAN was trained with; an autoencoder's decoder only knows the
        region its codes fill, which a density fitted to them samples (a post-hoc sampler,
        as in Ghosh et al., 2020).
    method : {"gaussian", "gmm"}, default="gaussian"
        With ``fit_to``: one Gaussian with their mean and full covariance, or a mixture
        of ``components`` full-covariance Gaussians fitted by scikit-learn's
        `GaussianMixture` (EM), which follows clusters (classes) the single one blurs.
    components : int, default=10
        Mixture components for ``"gmm"``; at most the number of codes.
    """
    check_positive_int(n, "n")
    check_choice(method, "method", SAMPLERS)
    check_positive_int(components, "components")
    if fit_to is None:
        return gaussian_codes(n, latent_dim, seed)
    fit_to = _codes(fit_to, "fit_to", min_rows=2)
    if fit_to.shape[1] != latent_dim:
        raise ValueError(f"fit_to has {fit_to.shape[1]} components, expected {latent_dim}")
    if method == "gaussian":
        mean, cov = fit_to.mean(axis=0), np.cov(fit_to, rowvar=False).reshape(latent_dim, latent_dim)
        return np.random.default_rng(seed).multivariate_normal(mean, cov, size=n).astype(np.float32)
    if components > len(fit_to):
        raise ValueError(f"components must be at most the {len(fit_to)} codes of fit_to, "
                         f"got {components}")
    from sklearn.mixture import GaussianMixture

    mixture = GaussianMixture(components, covariance_type="full", random_state=seed).fit(fit_to)
    codes, _ = mixture.sample(n)
    # sample() returns the draws grouped by component; shuffle them into a random order.
    return np.random.default_rng(seed).permutation(codes).astype(np.float32)


# ----------------------------------------------------------------------- scores


def _split(train_codes, y_train, test_codes, y_test):
    train_codes, test_codes = _codes(train_codes, "train_codes"), _codes(test_codes, "test_codes")
    if train_codes.shape[1] != test_codes.shape[1]:
        raise ValueError(f"train codes have {train_codes.shape[1]} components, "
                         f"test codes {test_codes.shape[1]}")
    return (train_codes, _labels(y_train, len(train_codes), "y_train"),
            test_codes, _labels(y_test, len(test_codes), "y_test"))


def knn_accuracy(train_codes, y_train, test_codes, y_test, k: int = 5) -> float:
    """Test accuracy of a k-nearest-neighbour classifier fitted on the training codes."""
    from sklearn.neighbors import KNeighborsClassifier

    train_codes, y_train, test_codes, y_test = _split(train_codes, y_train, test_codes, y_test)
    check_positive_int(k, "k")
    return float(KNeighborsClassifier(n_neighbors=k).fit(train_codes, y_train)
                 .score(test_codes, y_test))


def linear_probe_accuracy(train_codes, y_train, test_codes, y_test, max_iter: int = 1000) -> float:
    """Test accuracy of a logistic regression on standardised training codes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_codes, y_train, test_codes, y_test = _split(train_codes, y_train, test_codes, y_test)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    return float(probe.fit(train_codes, y_train).score(test_codes, y_test))


def silhouette(codes, labels, sample_size: int | None = 2000, seed: int = 0) -> float:
    """Silhouette score of the classes in code space, in [-1, 1] (on at most ``sample_size`` points)."""
    from sklearn.metrics import silhouette_score

    codes = _codes(codes)
    labels = _labels(labels, len(codes))
    if len(np.unique(labels)) < 2:
        raise ValueError("the silhouette score needs at least 2 classes")
    size = None if sample_size is None or sample_size >= len(codes) else sample_size
    return float(silhouette_score(codes, labels, sample_size=size, random_state=seed))


def latent_scores(train_codes, y_train, test_codes, y_test, k: int = 5) -> dict:
    """``{"knn_accuracy", "linear_probe_accuracy", "silhouette"}`` (silhouette on the test codes)."""
    return {
        "knn_accuracy": knn_accuracy(train_codes, y_train, test_codes, y_test, k),
        "linear_probe_accuracy": linear_probe_accuracy(train_codes, y_train, test_codes, y_test),
        "silhouette": silhouette(test_codes, y_test),
    }
