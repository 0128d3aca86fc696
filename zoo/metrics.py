"""Quality metrics for generative models: domain FID, sample diversity, IWAE log-likelihood.

**Domain FID.** The Fréchet distance between Gaussians fitted to features of real and of
generated images, as in FID (Heusel et al., 2017), but the features come from the
penultimate layer of a small classifier trained on the same dataset
(`train_feature_classifier`), not from Inception-v3 on ImageNet. Numbers are comparable
between models scored with the same classifier on the same dataset, never with published
Inception FIDs. Lower is better; the distance between two real samples (e.g. train vs.
test) is the floor a reader should compare against.

**Log-likelihood.** `iwae_log_likelihood` estimates log p(x) of binary images under a VAE
with a Bernoulli decoder by importance sampling with the encoder as proposal (Burda et al.,
2016). The estimate is a lower bound in expectation that tightens as ``k`` grows; k = 1 is
the ELBO. MNIST results are quoted on *dynamically binarised* digits: each grey level
``p`` becomes a pixel that is 1 with probability ``p``, resampled every epoch in training
(`dynamic_binarization`) and drawn once, with a fixed seed, for the test set (`binarize`).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops
from scipy import linalg

from zoo import backends
from zoo.blocks import conv_encoder_features
from zoo.corruptions import seed_stream
from zoo.data import make_dataset
from zoo.validation import check_batch_size, check_images, check_positive_int

# ------------------------------------------------------------------ binarisation


def binarize(x, seed=None) -> np.ndarray:
    """Bernoulli(x) draw of images ``x`` in [0, 1]: float32 0/1 images of the same shape."""
    x = check_images(x)
    return (np.random.default_rng(seed).random(x.shape, dtype=np.float32) < x).astype(np.float32)


def dynamic_binarization(seed=None):
    """A ``map_fn`` for `zoo.make_dataset` that draws fresh Bernoulli images each epoch.

    Inputs and targets of each ``(inputs, targets)`` batch become the same binary draw,
    from one `keras.random.SeedGenerator` (seeded with ``seed``; None: a fresh stream) whose
    stream runs on across epochs: a fixed seed would redraw the same images every epoch.
    """
    generator = seed_stream(seed)

    def draw(x, _):
        x = ops.convert_to_tensor(x)
        binary = ops.cast(keras.random.uniform(ops.shape(x), dtype=x.dtype, seed=generator) < x,
                          x.dtype)
        return binary, binary
    return draw


# ------------------------------------------------------------------ log-likelihood


def iwae_log_likelihood(vae, x_binary, k: int = 100, batch_size: int | None = None,
                        seed: int = 0) -> float:
    """Mean importance-sampled log-likelihood of binary images under ``vae``, in nats.

    For each image, ``log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)`` with ``z_i ~ q(z|x)``
    (the VAE's encoder), ``p(z) = N(0, I)`` and the Bernoulli decoder
    ``vae.decoder_logits``; averaged over images. Negate it for the test NLL the
    literature quotes. ``x_binary``: ``(N,) + vae.image_shape`` with values in {0, 1}
    (see `binarize`). ``batch_size`` images are scored at a time (default: about 4096
    decoder evaluations per batch); ``seed`` fixes the importance samples.
    """
    from zoo.models.vae import VAE

    if not isinstance(vae, VAE) or vae.reconstruction_loss != "bce":
        raise ValueError("iwae_log_likelihood needs a VAE with a Bernoulli decoder "
                         "(reconstruction_loss='bce')")
    k = check_positive_int(k, "k")
    x = check_images(x_binary, vae.image_shape, "x_binary")
    if not np.all((x == 0) | (x == 1)):
        raise ValueError("x_binary must hold only 0s and 1s; draw it with zoo.metrics.binarize(x, seed)")
    batch_size = check_batch_size(batch_size) or max(1, 4096 // k)
    seed_generator = keras.random.SeedGenerator(seed)
    log_2pi = math.log(2 * math.pi)
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb = ops.convert_to_tensor(x[start:start + batch_size])
        n = xb.shape[0]
        # float32 under a mixed dtype policy too: the bound sums 784 terms per image.
        z_mean, z_log_var = (ops.cast(t, "float32") for t in vae.encoder(xb, training=False)[:2])
        eps = keras.random.normal((k, n, vae.latent_dim), seed=seed_generator)
        z = z_mean[None] + ops.exp(0.5 * z_log_var)[None] * eps
        logits = ops.cast(vae.decoder_logits(ops.reshape(z, (k * n, vae.latent_dim)),
                                             training=False), "float32")
        targets = ops.tile(xb, (k, 1, 1, 1))
        log_px_z = -ops.sum(ops.binary_crossentropy(targets, logits, from_logits=True),
                            axis=(1, 2, 3))
        log_pz = -0.5 * ops.sum(ops.square(z) + log_2pi, axis=-1)
        log_qz = -0.5 * ops.sum(ops.square(eps) + z_log_var[None] + log_2pi, axis=-1)
        log_w = ops.reshape(log_px_z, (k, n)) + log_pz - log_qz
        total += float(ops.convert_to_numpy(ops.sum(ops.logsumexp(log_w, axis=0) - math.log(k))))
    return total / len(x)


# ------------------------------------------------------------------ domain FID


def train_feature_classifier(dataset, epochs: int = 3, seed: int = 0, batch_size: int = 128,
                             filters: int = 16, feature_units: int = 128,
                             verbose: int = 0) -> keras.Model:
    """Train the small CNN whose penultimate features the domain FID uses.

    The `zoo.blocks` convolutional trunk (``filters``, 2x, 4x), a ``feature_units``
    ReLU layer (the features) and a softmax over ``dataset``'s classes, trained with
    Adam on ``dataset.x_train`` for ``epochs``. Calls `keras.utils.set_random_seed(seed)`
    so that the classifier, and hence the metric, is reproducible. Returns the
    classifier (``(N,) + image_shape`` images -> ``(N, num_classes)`` probabilities),
    compiled with an ``accuracy`` metric for `evaluate`.
    """
    epochs = check_positive_int(epochs, "epochs")
    keras.utils.set_random_seed(seed)
    images = keras.Input(dataset.image_shape, name="images")
    features = conv_encoder_features(images, filters, feature_units)
    probs = layers.Dense(dataset.num_classes, activation="softmax", name="class_probs")(features)
    classifier = keras.Model(images, probs, name="feature_classifier")
    classifier.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                       metrics=["accuracy"])
    backends.build_optimizer(classifier)
    classifier.fit(make_dataset(dataset.x_train, dataset.y_train, batch_size=batch_size,
                                seed=seed),
                   epochs=epochs, verbose=verbose, shuffle=False)  # it shuffles itself
    return classifier


def classifier_features(classifier: keras.Model, images, batch_size: int = 512) -> np.ndarray:
    """Penultimate-layer features ``(N, F)`` of ``classifier`` for ``images``."""
    images = check_images(images, classifier.input_shape[1:], "images")
    extractor = keras.Model(classifier.inputs, classifier.layers[-2].output)
    return extractor.predict(images, batch_size=batch_size, verbose=0).reshape(len(images), -1)


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``(N, F)``, ``(M, F)``.

    ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` with sample means and
    covariances, in squared feature units.
    """
    a, b = (np.asarray(f, dtype=np.float64) for f in (features_a, features_b))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be 2-D with the same width, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError("each feature set needs at least 2 rows to estimate a covariance")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("features hold NaN or infinite values")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # Tr((S_a S_b)^(1/2)) = Tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)): the same eigenvalues, but of
    # a symmetric matrix, so eigh stays exact where features are collinear (dead ReLU
    # units make the covariances singular, and scipy.linalg.sqrtm of S_a S_b inaccurate).
    values, vectors = linalg.eigh(cov_a)
    sqrt_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    trace_sqrt = np.sum(np.sqrt(np.clip(linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a), 0.0, None)))
    distance = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt
    return max(float(distance), 0.0)  # round-off can push a zero distance just below 0


def domain_fid(real, generated, feature_model: keras.Model, batch_size: int = 512) -> float:
    """Domain-specific FID between image sets ``real`` and ``generated`` (see module doc).

    ``feature_model`` is a classifier from `train_feature_classifier` (its penultimate
    layer gives the features). Use a few thousand images per set: the estimate is biased
    upwards for small sets.
    """
    return frechet_distance(classifier_features(feature_model, real, batch_size),
                            classifier_features(feature_model, generated, batch_size))


def sample_diversity(images, classifier: keras.Model, batch_size: int = 512) -> dict:
    """How confidently and how evenly ``classifier`` labels generated ``images``.

    Returns, in nats: ``mean_entropy`` (mean entropy of p(y|x); low = each sample looks
    like one class), ``marginal_entropy`` (entropy of the mean prediction; log(num
    classes) = every class equally often), their ``score`` ``exp(marginal - mean)`` (the
    Inception Score formula with this classifier; 1 to num_classes, higher is better),
    ``classes_covered`` (distinct predicted classes), ``num_classes`` and
    ``class_shares``, the fraction of ``images`` predicted as each class (a list of
    ``num_classes`` floats summing to 1; 1 / num_classes each for a balanced generator).
    """
    images = check_images(images, classifier.input_shape[1:], "images")
    probs = np.clip(classifier.predict(images, batch_size=batch_size, verbose=0).astype(np.float64),
                    1e-12, 1.0)
    mean_entropy = float(np.mean(-np.sum(probs * np.log(probs), axis=1)))
    marginal = probs.mean(axis=0)
    marginal_entropy = float(-np.sum(marginal * np.log(marginal)))
    return {
        "mean_entropy": mean_entropy,
        "marginal_entropy": marginal_entropy,
        "score": math.exp(marginal_entropy - mean_entropy),
        "classes_covered": int(len(np.unique(probs.argmax(axis=1)))),
        "num_classes": int(probs.shape[1]),
        "class_shares": (np.bincount(probs.argmax(axis=1), minlength=probs.shape[1])
                         / len(probs)).tolist(),
    }


def generative_scores(generated, real, classifier: keras.Model, reference=None) -> dict:
    """How a generative model's samples compare with real images.

    Returns ``domain_fid`` between ``real`` and ``generated``; with ``reference`` (other
    real images, e.g. training images while ``real`` are test images) also
    ``domain_fid_real_vs_real``, the floor that sample size and classifier impose; plus
    `sample_diversity` of ``generated``: ``classes_covered`` of ``num_classes``,
    ``class_shares``, ``classifier_score`` and ``mean_entropy`` (nats).
    """
    features = classifier_features(classifier, real)
    diversity = sample_diversity(generated, classifier)
    scores = {"domain_fid": frechet_distance(features, classifier_features(classifier, generated))}
    if reference is not None:
        scores["domain_fid_real_vs_real"] = frechet_distance(
            features, classifier_features(classifier, reference))
    scores.update({
        "classes_covered": diversity["classes_covered"],
        "num_classes": diversity["num_classes"],
        "class_shares": diversity["class_shares"],
        "classifier_score": diversity["score"],
        "mean_entropy": diversity["mean_entropy"],
    })
    return scores


def dataset_generative_scores(generated, dataset, classifier_epochs: int = 3, seed: int = 0,
                              classifier=None) -> dict:
    """`generative_scores` of ``generated`` against an `ImageDataset`.

    Trains the feature classifier on ``dataset`` (`train_feature_classifier`; or takes
    the ``classifier`` it trained before) and returns its ``classifier_test_accuracy``,
    then the scores of the first ``n`` generated images against the first ``n`` test
    images (training images as the real-vs-real reference), with ``n`` = ``fid_images``,
    the smallest of the three set sizes.
    """
    if classifier is None:
        classifier = train_feature_classifier(dataset, epochs=classifier_epochs, seed=seed)
    n = min(len(generated), len(dataset.x_test), len(dataset.x_train))
    return {
        "classifier_test_accuracy": classifier.evaluate(
            dataset.x_test, dataset.y_test, batch_size=512, verbose=0, return_dict=True)["accuracy"],
        **generative_scores(generated[:n], dataset.x_test[:n], classifier,
                            reference=dataset.x_train[:n]),
        "fid_images": n,
    }


def conditional_accuracy(model, classifier: keras.Model, n: int = 10_000, seed: int = 0,
                         batch_size: int = 512) -> dict:
    """How often a class-conditional ``model`` draws the class it is asked for.

    ``n`` samples, the classes in turn (``n / num_classes`` each), from
    ``model.generate(n, seed, labels=labels)``; ``classifier`` (`train_feature_classifier`)
    names the class of each. Returns ``conditional_accuracy`` (the share of class-c
    samples it calls c, over all samples) and ``per_class_accuracy`` (a list, one share
    per class), both in [0, 1].
    """
    n = check_positive_int(n, "n")
    labels = np.arange(n) % model.num_classes
    return class_fidelity(model.generate(n, seed=seed, labels=labels), labels, classifier,
                          batch_size)


def class_fidelity(images, labels, classifier: keras.Model, batch_size: int = 512) -> dict:
    """`conditional_accuracy` of ``images`` drawn for the classes ``labels`` (int ``(N,)``):
    the share ``classifier`` calls their class, overall and per class."""
    labels = np.asarray(labels)
    probabilities = classifier.predict(images, batch_size=batch_size, verbose=0)
    hits = probabilities.argmax(axis=1) == labels
    classes = probabilities.shape[1]
    return {"conditional_accuracy": float(hits.mean()),
            "per_class_accuracy": [float(hits[labels == c].mean()) for c in range(classes)]}
