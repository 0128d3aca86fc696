"""ContrastiveEncoder: the InfoNCE loss is what its docstring says, and the views are views."""

import keras
import numpy as np
import pytest

from zoo.models.contrastive import ContrastiveEncoder


def tiny(**kwargs):
    keras.utils.set_random_seed(0)
    return ContrastiveEncoder(latent_dim=4, filters=4, dense_units=8, **dict(dict(seed=0), **kwargs))


def log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def test_loss_is_infonce_over_the_batch_in_both_directions(images):
    model = tiny(temperature=0.3)
    first, second = images, images[::-1].copy()
    # compute_losses(x) is view_losses of two fresh random views of x.
    assert set(model.compute_losses(images)) == {"loss", "contrastive_accuracy"}
    p, q = (model.projector(model.encoder(v)).numpy() for v in (first, second))
    p, q = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (p, q))
    logits = p @ q.T / 0.3
    expected = -0.5 * (np.mean(np.diag(log_softmax(logits))) + np.mean(np.diag(log_softmax(logits.T))))
    losses = model.view_losses(first, second)
    assert float(losses["loss"]) == pytest.approx(expected, rel=1e-5)
    assert float(losses["contrastive_accuracy"]) == pytest.approx(
        np.mean(logits.argmax(axis=1) == np.arange(len(p))))
    # The same views twice: every image is closest to itself, the loss below log N.
    same = model.view_losses(first, first)
    assert float(same["contrastive_accuracy"]) == 1.0 and float(same["loss"]) < np.log(len(images))


@pytest.mark.parametrize("flip", [True, False])
def test_views_differ_from_each_other_and_stay_images(images, flip):
    model = tiny(flip=flip)
    first, second = (v.numpy() for v in model.views(images))
    assert first.shape == second.shape == images.shape
    assert 0.0 <= first.min() and first.max() <= 1.0
    assert not np.allclose(first, second) and not np.allclose(first, images)
    assert any(layer.name.startswith("random_flip") for layer in model.augment.layers) == flip


@pytest.mark.parametrize("kwargs, error, message", [
    ({"temperature": 0}, ValueError, "temperature"), ({"shift": 0.5}, ValueError, "shift"),
    ({"projection_dim": 0}, ValueError, "projection_dim"), ({"filters": 0}, ValueError, "filters"),
    ({"flip": "no"}, TypeError, "flip"),
])
def test_bad_hyperparameters_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        ContrastiveEncoder(**kwargs)
