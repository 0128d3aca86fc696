"""Atomic saves; what exports serve is tested in test_serving.py."""

import pytest

from zoo import ConvAutoencoder, export_saved_model, save_model
from zoo.export import atomic_path


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
