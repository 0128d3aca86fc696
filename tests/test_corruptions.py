from functools import partial

import numpy as np
import pytest

from zoo.corruptions import (compose, corrupt_inputs, gaussian_noise, occlusion, one_of,
                             patch_mask, psnr, random_gaussian_noise, salt_and_pepper)
from zoo.training import set_seed

from helpers import batches_of

GREY = np.full((64, 28, 28, 1), 0.5, np.float32)


def test_gaussian_noise_has_the_asked_sigma_and_stays_in_range():
    noisy = gaussian_noise(GREY, sigma=0.1, seed=1).numpy()
    assert noisy.shape == GREY.shape
    assert np.std(noisy - GREY) == pytest.approx(0.1, rel=0.02)
    clipped = gaussian_noise(GREY, sigma=2.0, seed=1).numpy()
    assert clipped.min() == 0.0 and clipped.max() == 1.0


def test_random_sigma_differs_per_image_within_bounds():
    noisy = random_gaussian_noise(GREY, max_sigma=0.2, min_sigma=0.05, seed=3).numpy()
    sigmas = np.std(noisy - GREY, axis=(1, 2, 3))
    assert 0.04 < sigmas.min() and sigmas.max() < 0.21
    assert sigmas.std() > 0.02  # not one sigma for the whole batch


def test_salt_and_pepper_fraction_and_values():
    noisy = salt_and_pepper(GREY, fraction=0.2, seed=2).numpy()
    hit = noisy != 0.5
    assert hit.mean() == pytest.approx(0.2, abs=0.01)
    assert set(np.unique(noisy[hit])) == {0.0, 1.0}
    assert (noisy == 1.0).mean() == pytest.approx(0.1, abs=0.01)


def test_occlusion_blanks_one_square_of_the_asked_size():
    occluded = occlusion(GREY, size=7, seed=4).numpy()
    blank = occluded[..., 0] == 0.0
    assert np.all(blank.sum(axis=(1, 2)) == 49)
    rows, cols = blank.any(axis=2), blank.any(axis=1)
    assert np.all(rows.sum(axis=1) == 7) and np.all(cols.sum(axis=1) == 7)
    assert len({tuple(np.argwhere(b)[0]) for b in blank}) > 10  # squares move around
    with pytest.raises(ValueError, match="does not fit"):
        occlusion(GREY, size=29)


def test_patch_mask_blanks_whole_cells_at_the_asked_rate():
    colour = np.full((64, 30, 30, 3), 0.5, np.float32)  # 30 = 7 cells of 4 + a cropped one
    masked = patch_mask(colour, ratio=0.6, patch=4, seed=5).numpy()
    blank = masked == 0.0
    assert np.all(blank == blank[..., :1])  # a cell is blanked in every channel
    assert np.all(masked[~blank] == 0.5)  # the rest is untouched
    cells = blank[:, ::4, ::4, 0]  # one pixel per cell; each cell is all blank or all kept
    assert np.array_equal(np.repeat(np.repeat(cells, 4, 1), 4, 2)[:, :30, :30], blank[..., 0])
    assert cells.mean() == pytest.approx(0.6, abs=0.03)  # 64 x 8 x 8 cells
    assert np.all(patch_mask(colour, ratio=0.0, seed=5).numpy() == colour)
    for bad in ({"ratio": 1.0}, {"ratio": -0.1}, {"ratio": 0.5, "patch": 0}):
        with pytest.raises(ValueError, match="ratio|patch"):
            patch_mask(colour, **bad)


@pytest.mark.parametrize("corruption", [
    partial(gaussian_noise, sigma=0.3), partial(random_gaussian_noise, max_sigma=0.5),
    partial(salt_and_pepper, fraction=0.1), partial(occlusion, size=5),
    partial(patch_mask, ratio=0.5),
])
def test_same_seed_same_corruption_other_seed_other(corruption, images):
    a, b, c = (corruption(images, seed=s).numpy() for s in (7, 7, 8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and 0.0 <= a.min() and a.max() <= 1.0


def test_compose_and_one_of():
    both = compose(partial(gaussian_noise, sigma=0.1), partial(occlusion, size=6))(GREY, seed=0).numpy()
    assert np.all((both[..., 0] == 0).sum(axis=(1, 2)) >= 36)
    assert np.std(both[both > 0] - 0.5) == pytest.approx(0.1, rel=0.1)
    either = one_of(partial(occlusion, size=5, value=1.0), partial(occlusion, size=4))(GREY, seed=0)
    counts = (either.numpy()[..., 0] != 0.5).sum(axis=(1, 2))
    assert set(counts) == {16, 25}
    with pytest.raises(TypeError):
        compose()


@pytest.mark.parametrize("pipeline", ("tf.data", "ArrayBatches"))
def test_corrupt_inputs_touches_only_inputs_and_is_reproducible(pipeline):
    set_seed(0)  # op determinism: tf.data calls the seed generator in batch order
    corruption = partial(gaussian_noise, sigma=0.2)

    def batches():
        return batches_of(pipeline, np.tile(GREY, (2, 1, 1, 1)), batch_size=16, shuffle=False,
                          map_fn=corrupt_inputs(corruption, 5))

    first, second = batches(), batches()
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, GREY[:16])
        assert np.std(x1 - y1) == pytest.approx(0.2, rel=0.05)
    assert not np.array_equal(first[0][0], first[1][0])  # fresh noise per batch


def test_psnr_in_db():
    noisy = np.clip(GREY + 0.1, 0, 1)  # MSE 0.01 -> 20 dB
    np.testing.assert_allclose(psnr(GREY, noisy), 20.0, atol=1e-3)
    with pytest.raises(ValueError):
        psnr(GREY, GREY[:3])


@pytest.mark.parametrize("call, error", [
    (lambda: gaussian_noise(GREY, sigma=-1), ValueError),
    (lambda: salt_and_pepper(GREY, fraction=1.5), ValueError),
    (lambda: occlusion(GREY, size=0), ValueError),
    (lambda: gaussian_noise(GREY[0], sigma=0.1), ValueError),
    (lambda: gaussian_noise(GREY, sigma=0.1, seed="x"), TypeError),
    (lambda: gaussian_noise(GREY, sigma="0.1"), TypeError),
    (lambda: gaussian_noise((GREY * 255).astype(np.uint8), sigma=0.1), TypeError),
    (lambda: gaussian_noise(GREY, sigma=0.1, seed=-1), ValueError),
    (lambda: occlusion(GREY, size=2.5), TypeError),
    (lambda: patch_mask(GREY, ratio=0.5, value=2.0), ValueError),
])
def test_bad_arguments(call, error):
    with pytest.raises(error):
        call()
