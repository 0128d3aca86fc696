import json
import subprocess
import sys

import numpy as np
import pytest

from zoo import ConvAutoencoder, export_saved_model, save_model
from zoo.export import atomic_path

RELOAD = """
import json, sys
import numpy as np
import tensorflow as tf
path, x_file, z_file = sys.argv[1:]
served = tf.saved_model.load(path)
x, z = np.load(x_file), np.load(z_file)
out = {
    "reconstruct": served.reconstruct(x).numpy().tolist(),
    "encode": served.encode(x).numpy().tolist(),
    "decode": served.decode(z).numpy().tolist(),
    "default": served.signatures["serving_default"](images=x)["output_0"].numpy().tolist(),
    "signatures": sorted(served.signatures),
}
print(json.dumps(out))
"""


def test_saved_model_reloads_in_a_fresh_process(tmp_path, images):
    model = ConvAutoencoder(latent_dim=3, filters=4, dense_units=8)
    z = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "z.npy", z)
    export_saved_model(model, tmp_path / "served")
    result = subprocess.run(
        [sys.executable, "-c", RELOAD, str(tmp_path / "served"), str(tmp_path / "x.npy"),
         str(tmp_path / "z.npy")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["signatures"] == ["decode", "encode", "reconstruct", "serving_default"]
    np.testing.assert_allclose(served["reconstruct"], model.predict(images, verbose=0), atol=1e-6)
    np.testing.assert_allclose(served["default"], served["reconstruct"], atol=0)
    np.testing.assert_allclose(served["encode"], model.encode(images), atol=1e-5)
    np.testing.assert_allclose(served["decode"], model.decode(z), atol=1e-6)


def test_atomic_path_keeps_the_old_file_when_the_write_fails(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("good")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_atomic_path_replaces_folders(tmp_path, images):
    model = ConvAutoencoder(latent_dim=2, filters=2, dense_units=0)
    export_saved_model(model, tmp_path / "served")
    export_saved_model(model, tmp_path / "served")  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]
    save_model(model, tmp_path / "m.keras")
    with pytest.raises(ValueError, match=".keras"):
        save_model(model, tmp_path / "m.h5")
