"""The tests every zoo model gets for free, driven by its constructor's ``init_kwargs``.

Like keras-hub's ``TestCase`` helpers: a model's test file is its kwargs, one call per
kit function and the tests of its own maths. Needs the ``test`` extra (pytest)::

    from zoo.testing import run_model_test, run_precision_test

    def test_model(mnist_sample):
        run_model_test(SparseAutoencoder, {"latent_dim": 16}, mnist_sample.x_train[:512],
                       mnist_sample.x_test[:256])

Every function raises `AssertionError` (or pytest's failure) naming what broke.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest

from zoo.backends import backend
from zoo.base import dtype_policy
from zoo.export import export_saved_model
from zoo.serving import ServingInput

MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")


def sample_batch(spec, n: int = 4, seed: int = 0) -> np.ndarray:
    """``n`` inputs of the `zoo.export.ServingInput` ``spec``: images in [0, 1], N(0, I)
    codes or class labels."""
    rng = np.random.default_rng(seed)
    if spec.classes is not None:
        return rng.integers(spec.classes, size=(n, *spec.shape)).astype(np.int32)
    if spec.unit_range:
        return rng.random((n, *spec.shape), dtype=np.float32)
    return rng.standard_normal((n, *spec.shape)).astype(np.float32)


def sample_inputs(model, n: int = 4, seed: int = 0):
    """``n`` inputs of what ``model.predict`` takes: images in [0, 1] or N(0, I) codes,
    with labels beside them (a list) for a conditional model."""
    specs = model.call_input()
    if isinstance(specs, ServingInput):
        return sample_batch(specs, n, seed)
    return [sample_batch(spec, n, seed) for spec in specs]


def compiled(cls, init_kwargs: dict, compile_kwargs: dict | None = None, seed: int = 0):
    """``cls(**init_kwargs)`` built and compiled after seeding, with fresh copies of the
    optimizers in ``compile_kwargs`` (one instance cannot serve two models)."""
    keras.utils.set_random_seed(seed)
    model = cls(**init_kwargs)
    model.compile(**{name: type(value).from_config(value.get_config())
                     if isinstance(value, keras.optimizers.Optimizer) else value
                     for name, value in (compile_kwargs or {}).items()})
    return model


def progress(model, x, y, epochs: int, batch_size: int) -> tuple:
    """``model.progress_metric`` on ``x`` (labels ``y`` or None) before and after
    ``epochs`` of ``fit`` on them."""
    key = model.progress_metric
    before = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)[key]
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
    return before, model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)[key]


def run_model_test(cls, init_kwargs: dict, x_train, x_test, *, y_train=None, y_test=None,
                   compile_kwargs=None, epochs: int = 3, batch_size: int = 64,
                   min_improvement: float = 0.2) -> None:
    """``fit`` learns and reports every tracker; inputs and common fields are checked.

    - ``model.progress_metric`` on ``x_test`` falls by at least ``min_improvement`` of its
      untrained value (the baseline a model that learned nothing keeps), the weights
      move, and ``fit``'s history and ``evaluate`` report the same trackers;
    - ``predict`` returns float32;
    - bad images (shape, range, dtype, NaN), batch sizes, targets and ``predict`` inputs
      fail in the zoo's checks; ``latent_dim``/``input_shape`` are validated; an
      unknown preset is refused;
    - with labels ``y_train``/``y_test`` (a conditional model): missing, float and
      out-of-range labels are refused.
    """
    model = compiled(cls, init_kwargs, compile_kwargs)
    key = model.progress_metric
    before = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0, return_dict=True)
    weights = [w.copy() for w in model.get_weights()]
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0).history
    after = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0, return_dict=True)
    assert set(history) == set(before) == set(after) and key in after, (history, after)
    assert all(len(values) == epochs for values in history.values())
    assert any(not np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert before[key] - after[key] >= min_improvement * abs(before[key]), \
        f"{key}: {before[key]} -> {after[key]}"
    assert model.predict(sample_inputs(model), verbose=0).dtype == np.float32

    images, labels = x_test[:4], None if y_test is None else y_test[:4]
    for bad, error, message in [(images[..., 0], ValueError, "shape"),
                                (images * 255 + 1, ValueError, r"\[0, 1\]"),
                                ((images * 255).astype(np.uint8), TypeError, "float"),
                                (np.full_like(images, np.nan), ValueError, "NaN")]:
        with pytest.raises(error, match=message):
            model.fit(bad, labels, epochs=1, verbose=0)
        with pytest.raises(error, match=message):
            model.evaluate(bad, labels, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be in"):
        model.fit(images, labels, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="one (target per image|label per example)"):
        model.fit(images, images[:2] if labels is None else labels[:2], verbose=0)
    if labels is not None:
        for bad, error, message in [(None, ValueError, "class-conditional"),
                                    (labels.astype(np.float32), TypeError, "integer class indices"),
                                    (labels + 1000, ValueError, r"must lie in \[0, ")]:
            with pytest.raises(error, match=message):
                model.fit(images, bad, epochs=1, verbose=0)
    inputs = sample_inputs(model)
    with pytest.raises(ValueError, match="shape"):
        model.predict([inputs[0][:, :2], inputs[1]] if labels is not None else inputs[:, :2],
                      verbose=0)
    if "latent_dim" in model.get_config():  # a choice, not fixed by the images (Diffusion)
        with pytest.raises(ValueError, match="latent_dim must be in"):
            cls(**{**init_kwargs, "latent_dim": 0})
    with pytest.raises(ValueError, match=r"input_shape must be \(height, width, channels\)"):
        cls(**{**init_kwargs, "input_shape": (28, 28)})
    with pytest.raises(ValueError, match="no preset 'clowntown'"):
        cls.from_preset("clowntown")


def run_api_test(model) -> None:
    """``model`` has the verbs it declares, with the zoo's one signature and return type
    each (`zoo.base.ZooModel`'s ``encodes``/``decodes``/``generates``/``conditional``):

    - ``encode(x)``: float32 codes ``(N, latent_dim)``;
    - ``decode(z)``: images, and ``reconstruct(x)`` is ``decode(encode(x))``;
    - ``generate(n, seed)`` and ``generate_from(z)``: images, the same for the same seed;
    - a conditional model takes ``labels`` as a keyword-only argument of every one.

    Images are float32 ``(N,) + image_shape`` in [0, 1]."""
    verbs = {"encode": model.encodes, "decode": model.decodes, "reconstruct": model.decodes,
             "generate": model.generates, "generate_from": model.generates}
    declared = {verb for verb, flag in verbs.items() if flag}
    assert declared == {verb for verb in verbs if hasattr(model, verb)}, declared

    def assert_images(images, n):
        assert images.dtype == np.float32 and images.shape == (n, *model.image_shape)
        assert images.min() >= 0.0 and images.max() <= 1.0

    n = 3
    images = sample_batch(model.image_input(), n)
    labels = {"labels": np.arange(n, dtype=np.int32)} if model.conditional else {}
    for verb in declared:
        if model.conditional:
            kind = inspect.signature(getattr(model, verb)).parameters["labels"].kind
            assert kind is inspect.Parameter.KEYWORD_ONLY, f"{verb}: labels is {kind}"
    if model.encodes:
        codes = model.encode(images, batch_size=2, **labels)
        assert codes.dtype == np.float32 and codes.shape == (n, model.latent_dim), codes.shape
    if model.decodes:
        decoded = model.decode(codes, batch_size=2, **labels)
        assert_images(decoded, n)
        np.testing.assert_allclose(model.reconstruct(images, batch_size=2, **labels), decoded,
                                   atol=1e-5)
    if model.generates:
        generated = model.generate(n, seed=0, batch_size=2, **labels)
        assert_images(generated, n)
        np.testing.assert_array_equal(model.generate(n, seed=0, batch_size=2, **labels), generated)
        assert_images(model.generate_from(sample_batch(model.code_input(), n), batch_size=2,
                                          **labels), n)


def run_xla_test(cls, init_kwargs: dict, x, *, y=None, compile_kwargs=None,
                 batch_size: int = 64) -> None:
    """Two steps and an evaluation compiled by XLA (``jit_compile=True``) give finite
    losses. JAX compiles every step with XLA already; PyTorch has no XLA, so this runs on
    TensorFlow alone (a skip elsewhere)."""
    if backend() != "tensorflow":
        pytest.skip(f"jit_compile is XLA on TensorFlow; {backend()} compiles its own way")
    model = compiled(cls, init_kwargs, {**(compile_kwargs or {}), "jit_compile": True})
    model.fit(x[:2 * batch_size], None if y is None else y[:2 * batch_size],
              batch_size=batch_size, epochs=1, verbose=0)
    logs = model.evaluate(x[:batch_size], None if y is None else y[:batch_size], verbose=0,
                          return_dict=True)
    assert np.isfinite(logs[model.progress_metric]), logs


def run_saving_test(cls, init_kwargs: dict, path, x_train, *, y_train=None,
                    compile_kwargs=None) -> None:
    """A trained model's ``.keras`` file and config round-trip, and training resumes.

    The reloaded model has the same class, config, predictions and optimizer step count,
    and one more epoch runs on it.
    """
    model = compiled(cls, init_kwargs, compile_kwargs)
    model.fit(x_train, y_train, batch_size=64, epochs=1, verbose=0)
    model.save(path / "model.keras")
    loaded = keras.saving.load_model(path / "model.keras")
    x = sample_inputs(model)
    assert type(loaded) is cls and loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert [int(o.iterations) for o in loaded.optimizers()] == [int(o.iterations) for o in model.optimizers()]
    loaded.fit(x_train, y_train, batch_size=64, epochs=1, verbose=0)
    rebuilt = cls.from_config(model.get_config())
    assert rebuilt.image_shape == model.image_shape and rebuilt.latent_dim == model.latent_dim


def run_export_test(model, path) -> None:
    """``model``'s SavedModel serves every endpoint with no zoo code, float32 out (integer
    outputs stay int32), matches the model, and refuses inside the graph NaNs, integers
    out of range (labels, code indices) and inputs of different batch sizes."""
    import tensorflow as tf

    served = tf.saved_model.load(str(export_saved_model(model, path, version=1)))
    for name, endpoint in model.export_endpoints().items():
        batches = [sample_batch(spec) for spec in endpoint.inputs]
        outputs = getattr(served, name)(*batches)
        expected = {key: np.asarray(value) for key, value in endpoint.fn(*batches).items()}
        assert set(outputs) == set(expected), name
        for key, value in outputs.items():
            floating = np.issubdtype(expected[key].dtype, np.floating) or expected[key].dtype.name == "bfloat16"
            wanted_dtype = tf.float32 if floating else tf.int32
            assert value.dtype == wanted_dtype, f"{name}/{key} serves {value.dtype.name}"
            wanted = np.asarray(expected[key], np.float32)
            # float16 and bfloat16 keep 3 or 2 significant digits, relative to the largest
            # value a sum ran through; the graph may sum in another order than eager code.
            scale = 1e-5 if model.compute_dtype == "float32" else 3e-2 * np.abs(wanted).max()
            np.testing.assert_allclose(np.asarray(value, np.float32), wanted, rtol=0,
                                       atol=scale + 1e-6)
        for i, spec in enumerate(endpoint.inputs):
            bad = list(batches)
            if spec.classes is None:
                bad[i], message = np.full_like(batches[i], np.nan), "NaN or infinite"
            else:
                bad[i], message = batches[i] + 1000, r"integers in \[0, "
            with pytest.raises(tf.errors.InvalidArgumentError, match=message):
                getattr(served, name)(*bad)
        if len(batches) > 1:  # a conditional model's labels
            with pytest.raises(tf.errors.InvalidArgumentError, match="one row per example"):
                getattr(served, name)(*batches[:-1], batches[-1][:2])


def run_preset_test(cls, name: str) -> None:
    """Preset ``name`` loads as a ``cls`` from its own folder, offline, and predicts
    finite float32; its card says what it was trained on."""
    from zoo.presets import preset_card

    model = cls.from_preset(name)
    assert isinstance(model, cls)
    card = preset_card(name)
    assert card["command"] and card["data"], f"{name}'s card lacks its command or data"
    prediction = model.predict(sample_inputs(model), verbose=0)
    assert prediction.dtype == np.float32 and np.all(np.isfinite(prediction))


def run_precision_test(cls, init_kwargs: dict, x, *, y=None, compile_kwargs, path=None,
                       policies=MIXED_POLICIES, export_policies=(),
                       epochs: int = 1, batch_size: int = 32) -> dict:
    """Under each mixed policy, ``fit`` moves the loss at least half as far as float32.

    One epoch of 16 steps (512 images) is enough: without loss scaling, small float16
    gradients underflow from the first step on.

    Use SGD with momentum in ``compile_kwargs``: Adam's update is nearly scale-free and
    hides a loss that was never multiplied by the loss scale. Under ``mixed_float16``
    every optimizer must be a `LossScaleOptimizer`. With ``path``, each mixed model's
    ``.keras`` file must reload in its own policy under the float32 one, returning float32,
    and its export under each of ``export_policies`` must serve float32
    (`run_export_test`; the casts to float32 are one code path for every model and both
    16-bit types, so one model and one policy check them). ``y``: a conditional model's
    labels. Returns ``{policy: (before, after)}``
    of ``progress_metric`` on ``x``, float32 included.
    """
    results = {}
    for policy in ("float32", *policies):
        with dtype_policy(policy):
            model = compiled(cls, init_kwargs, compile_kwargs)
            if policy == "mixed_float16":
                scaled = [isinstance(o, keras.optimizers.LossScaleOptimizer) for o in model.optimizers()]
                assert all(scaled), model.optimizers()
            results[policy] = progress(model, x, y, epochs, batch_size)
        if path is not None and policy != "float32":
            if policy in export_policies and backend() != "torch":  # TensorFlow and JAX
                run_export_test(model, path / policy)
            model.save(path / f"{policy}.keras")  # reloaded under the float32 policy
            loaded = keras.saving.load_model(path / f"{policy}.keras")
            assert loaded.compute_dtype == model.compute_dtype, (policy, loaded.compute_dtype)
            assert loaded.predict(sample_inputs(loaded), verbose=0).dtype == np.float32
    before, after = results["float32"]
    assert before - after > 0, f"float32 did not learn: {results}"
    for policy in policies:
        drop = results[policy][0] - results[policy][1]
        assert drop >= 0.5 * (before - after), f"{policy} moved {drop:.4g}, float32 {before - after:.4g}"
    return results
