"""Exported SavedModels as a server sees them: named signatures, right numbers, guarded inputs.

Every model kind is exported, then served in a fresh process with TensorFlow alone (no
zoo import), through both ``loaded.<endpoint>(x)`` and ``loaded.signatures[...]`` (what
TF Serving calls). A bad input must fail with an error naming what was expected; a
crash of the serving process (as oneDNN's abort on a rank-3 batch was) fails the test.
"""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from zoo import GAN, VAE, ConvAutoencoder, build_classifier, export_saved_model, load_dataset
from zoo.presets import load_preset

SERVE = r"""
import json, sys
import numpy as np
import tensorflow as tf

report = {}
for path, cases_file in zip(sys.argv[1::2], sys.argv[2::2]):
    served = tf.saved_model.load(path)
    signatures = {name: (next(iter(f.structured_input_signature[1])), sorted(f.structured_outputs))
                  for name, f in served.signatures.items()}
    results = {}
    for key, x in np.load(cases_file).items():
        endpoint, case, via = key.split("|")
        try:
            if via == "call":
                out = getattr(served, endpoint)(x)
            else:
                out = served.signatures[endpoint](**{signatures[endpoint][0]: tf.constant(x)})
            results[key] = {"outputs": {k: v.numpy().tolist() for k, v in out.items()}}
        except Exception as error:
            results[key] = {"error": type(error).__name__, "message": str(error)}
    report[path] = {"signatures": signatures, "results": results,
                    "variables": len(served.variables)}
print(json.dumps(report))
"""

RNG = np.random.default_rng(0)
IMAGES = RNG.random((4, 28, 28, 1), dtype=np.float32)


def bad_images():
    """Inputs an image endpoint must refuse, with a word its error must contain."""
    return {
        "rank3": (IMAGES[0], "shape (N, 28, 28, 1)"),
        "32x32": (RNG.random((2, 32, 32, 1), dtype=np.float32), "shape (N, 28, 28, 1)"),
        "channels_first": (IMAGES.transpose(0, 3, 1, 2), "shape (N, 28, 28, 1)"),
        "pixels_0_255": (IMAGES * 255.0, "[0, 1]"),
        "uint8": ((IMAGES * 255).astype(np.uint8), "uint8"),
        "nan": (np.where(IMAGES > 0.5, np.nan, IMAGES).astype(np.float32), "NaN or infinite"),
        "inf": (np.where(IMAGES > 0.5, np.inf, IMAGES).astype(np.float32), "NaN or infinite"),
        "empty": (IMAGES[:0], "N >= 1"),  # failed inside a convolution
    }


def bad_codes(latent_dim):
    codes = RNG.normal(size=(3, latent_dim)).astype(np.float32)
    expected = f"shape (N, {latent_dim})"
    return {
        "too_wide": (RNG.normal(size=(3, latent_dim + 1)).astype(np.float32), expected),
        "rank1": (codes[0], expected),
        "images": (IMAGES, expected),
        "nan": (np.where(codes > 0, np.nan, codes).astype(np.float32), "NaN or infinite"),
        "empty": (codes[:0], "N >= 1"),
    }


def write_cases(path, good: dict, bad: dict):
    """``good``: {endpoint: input}; ``bad``: {endpoint: {case: (input, word)}}."""
    arrays = {}
    for endpoint, x in good.items():
        for via in ("call", "signature"):
            arrays[f"{endpoint}|good|{via}"] = x
    for endpoint, cases in bad.items():
        for case, (x, _) in cases.items():
            for via in ("call", "signature"):
                arrays[f"{endpoint}|{case}|{via}"] = x
    np.savez(path, **arrays)


def serve(pairs) -> dict:
    """Serve each ``(saved model folder, cases file)`` in one fresh TensorFlow process."""
    args = [str(p) for pair in pairs for p in pair]
    result = subprocess.run([sys.executable, "-c", SERVE, *args], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"the serving process died ({result.returncode}):\n" \
                                   f"{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Tiny models of every kind plus the classifier preset, exported and served."""
    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("serving")
    cae = ConvAutoencoder(latent_dim=3, filters=4, dense_units=8)
    vae = VAE(latent_dim=3, architecture="mlp")
    gan = GAN(latent_dim=8)
    classifier = build_classifier(cae, num_classes=10)
    preset = load_preset("fashion_mnist_d36_classifier")
    sample = load_dataset("fashion_mnist", source="sample").x_test[:200]
    codes3 = RNG.normal(size=(3, 3)).astype(np.float32)
    codes8 = RNG.normal(size=(3, 8)).astype(np.float32)
    models = {
        "cae": (cae, {"reconstruct": IMAGES, "encode": IMAGES, "decode": codes3},
                {"encode": bad_images(), "decode": bad_codes(3)}),
        "vae": (vae, {"encode": IMAGES, "generate": codes3},
                {"reconstruct": bad_images(), "generate": bad_codes(3)}),
        "gan": (gan, {"generate": codes8}, {"generate": bad_codes(8)}),
        "classifier": (classifier, {"classify": IMAGES}, {"classify": bad_images()}),
        "preset": (preset, {"classify": sample}, {}),
    }
    pairs = []
    for name, (model, good, bad) in models.items():
        path = export_saved_model(model, root / name, version=1)
        write_cases(root / f"{name}.npz", good, bad)
        pairs.append((path, root / f"{name}.npz"))
    report = serve(pairs)
    return {name: (models[name], report[str(path)]) for name, (path, _) in zip(models, pairs)}


def outputs(report, endpoint, via="call"):
    result = report["results"][f"{endpoint}|good|{via}"]
    assert "outputs" in result, result
    return {k: np.asarray(v) for k, v in result["outputs"].items()}


def test_signatures_have_named_inputs_and_outputs(served):
    expected = {
        "cae": {"reconstruct": ["images", ["reconstruction"]], "encode": ["images", ["codes"]],
                "decode": ["codes", ["images"]], "serving_default": ["images", ["reconstruction"]]},
        "vae": {"reconstruct": ["images", ["reconstruction"]],
                "encode": ["images", ["log_var", "mean"]], "decode": ["codes", ["images"]],
                "generate": ["codes", ["images"]], "serving_default": ["images", ["reconstruction"]]},
        "gan": {"generate": ["codes", ["images"]], "serving_default": ["codes", ["images"]]},
        "classifier": {"classify": ["images", ["probabilities"]],
                       "serving_default": ["images", ["probabilities"]]},
    }
    for name, signatures in expected.items():
        assert served[name][1]["signatures"] == signatures, name


def test_served_numbers_match_the_model(served):
    (cae, good, _), report = served["cae"]
    np.testing.assert_allclose(outputs(report, "reconstruct")["reconstruction"],
                               cae.predict(IMAGES, verbose=0), atol=1e-6)
    np.testing.assert_allclose(outputs(report, "encode", "signature")["codes"], cae.encode(IMAGES),
                               atol=1e-5)
    np.testing.assert_allclose(outputs(report, "decode")["images"], cae.decode(good["decode"]),
                               atol=1e-6)
    (vae, *_), report = served["vae"]
    mean, log_var, _ = vae.encoder.predict(IMAGES, verbose=0)
    encoded = outputs(report, "encode")
    np.testing.assert_allclose(encoded["mean"], mean, atol=1e-5)
    np.testing.assert_allclose(encoded["log_var"], log_var, atol=1e-5)
    (gan, *_), report = served["gan"]
    images = outputs(report, "generate", "signature")["images"]
    assert images.shape == (3, 28, 28, 1) and 0.0 <= images.min() and images.max() <= 1.0
    # The GAN's export holds the generator alone, not the discriminator.
    assert report["variables"] == len(gan.generator.variables) < len(gan.variables)


def test_every_bad_input_fails_with_an_error_naming_what_was_expected(served):
    checked = 0
    for name, ((_, _, bad), report) in served.items():
        for endpoint, cases in bad.items():
            for case, (_, word) in cases.items():
                for via in ("call", "signature"):
                    result = report["results"][f"{endpoint}|{case}|{via}"]
                    where = f"{name}.{endpoint} via {via} with {case}"
                    assert "error" in result, f"{where} served {list(result['outputs'])}"
                    assert result["error"] == "InvalidArgumentError", (where, result)
                    assert word in result["message"], (where, result["message"][-400:])
                    checked += 1
    assert checked == 2 * (3 * 8 + 3 * 5)


def test_classifier_preset_serves_its_accuracy(served):
    (preset, *_), report = served["preset"]
    sample = load_dataset("fashion_mnist", source="sample")
    probabilities = outputs(report, "classify", "signature")["probabilities"]
    np.testing.assert_allclose(probabilities, preset.predict(sample.x_test[:200], verbose=0),
                               atol=1e-5)
    accuracy = np.mean(probabilities.argmax(axis=1) == sample.y_test[:200])
    assert accuracy > 0.8  # the card: 0.892 on the full test split


def test_versioned_layout_and_reuse_in_keras(tmp_path):
    model = ConvAutoencoder(latent_dim=2, filters=2, dense_units=0)
    path = export_saved_model(model, tmp_path / "served", version=3)
    assert path == tmp_path / "served" / "3" and (path / "saved_model.pb").is_file()
    for version, error in ((0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError),
                           ("1", TypeError)):
        with pytest.raises(error, match="version must be"):
            export_saved_model(model, tmp_path / "bad", version=version)
    layer = keras.layers.TFSMLayer(str(path), call_endpoint="encode", trainable=False)
    np.testing.assert_allclose(layer(IMAGES)["codes"], model.encode(IMAGES), atol=1e-5)


def test_models_that_cannot_be_served_are_refused(tmp_path):
    two_inputs = [keras.Input((3,)), keras.Input((3,))]
    model = keras.Model(two_inputs, keras.layers.Add()(two_inputs))
    with pytest.raises(ValueError, match="one-input, one-output"):
        export_saved_model(model, tmp_path / "two")
    ragged = keras.Input((None, 3))
    model = keras.Model(ragged, keras.layers.Dense(2)(ragged))
    with pytest.raises(ValueError, match="every dimension but the batch"):
        export_saved_model(model, tmp_path / "ragged")
