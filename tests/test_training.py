import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from zoo import ConvAutoencoder, read_history, resumable_callbacks, set_seed
from zoo.training import EpochTimer, StopOnNaN

# A tiny deterministic training run; slow batches leave time to kill it mid-epoch.
TRAIN = """
import sys, time
import keras, numpy as np
from zoo import ConvAutoencoder, load_dataset, resumable_callbacks, set_seed
run_dir, weights_out = sys.argv[1:]
set_seed(0)
x = load_dataset("mnist", source="sample").x_train[:64]
model = ConvAutoencoder(latent_dim=3, filters=4, dense_units=8)
model.compile(optimizer="adam", loss="mse")
slow = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: time.sleep(0.1))
model.fit(x, epochs=5, batch_size=8, shuffle=False, verbose=0,
          callbacks=resumable_callbacks(run_dir) + [slow])
np.savez(weights_out, *model.get_weights())
"""


def run_training(run_dir, weights_out):
    return subprocess.Popen([sys.executable, "-c", TRAIN, str(run_dir), str(weights_out)],
                            stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    # The uninterrupted reference runs beside the victim: both spend most of their time
    # starting up and sleeping.
    reference = run_training(tmp_path / "ref", tmp_path / "ref.npz")
    victim = run_training(tmp_path / "run", tmp_path / "resumed.npz")
    history = tmp_path / "run" / "history.csv"
    deadline = time.time() + 240
    while time.time() < deadline and (not history.exists() or len(history.read_text().splitlines()) < 3):
        time.sleep(0.05)  # header + 2 completed epochs
    time.sleep(0.3)  # well inside epoch 3 (8 batches of 0.1 s)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "resumed.npz").exists()
    assert (tmp_path / "run" / "backup").is_dir()
    completed = len(read_history(tmp_path / "run")["loss"])
    assert 2 <= completed < 5

    resumed = run_training(tmp_path / "run", tmp_path / "resumed.npz")
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err[-2000:]
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-2000:]
    losses = read_history(tmp_path / "run")["loss"]
    assert len(losses) == 5  # resumed epochs appended after the completed ones
    assert losses[-1] < losses[0]
    # Same seed, no shuffling, deterministic ops: the resumed run ends where the
    # uninterrupted one does (float32 round-off only).
    ref, got = np.load(tmp_path / "ref.npz"), np.load(tmp_path / "resumed.npz")
    for key in ref:
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses, read_history(tmp_path / "ref")["loss"], rtol=1e-5)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"seed": -1}, ValueError, r"^seed must be in \[0, 4294967295\]"),
    ({"seed": 2**32}, ValueError, r"^seed must be in \[0, 4294967295\]"),
    ({"seed": None}, TypeError, "^seed must be an integer"),
    ({"seed": 0, "deterministic": "yes"}, TypeError, "^deterministic must be True or False"),
])
def test_set_seed_rejects_what_numpy_and_tensorflow_would_not_take(kwargs, error, message):
    with pytest.raises(error, match=message):
        set_seed(**kwargs)


def test_nan_loss_stops_training_with_a_clear_error(tmp_path, images):
    model = ConvAutoencoder(latent_dim=2, filters=2, dense_units=0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e12), loss="mse")
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch \d+, batch \d+"):
        model.fit(images, epochs=50, batch_size=2, verbose=0, callbacks=[StopOnNaN()])


def test_history_keeps_the_last_copy_of_a_repeated_epoch(tmp_path):
    (tmp_path / "history.csv").write_text(
        "epoch,loss,val_loss\n0,0.5,NA\n1,0.4,NA\n1,0.3,NA\n2,0.2,NA\n")
    assert read_history(tmp_path) == {"loss": [0.5, 0.3, 0.2]}
    with pytest.raises(FileNotFoundError):
        read_history(tmp_path / "missing")


def test_fresh_run_drops_a_finished_runs_history(tmp_path, images):
    model = ConvAutoencoder(latent_dim=2, filters=2, dense_units=0)
    model.compile(optimizer="adam", loss="mse")
    timer = EpochTimer()
    for _ in range(2):
        model.fit(images, epochs=2, verbose=0, callbacks=resumable_callbacks(tmp_path) + [timer])
    assert len(read_history(tmp_path)["loss"]) == 2
    # read_history keeps the last row per epoch, so count the file's rows: the second,
    # fresh run must have replaced the first run's two rows, not appended to them.
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 1 + 2
    assert len(timer.seconds) == 4 and timer.images_per_second(8) > 0


def test_resume_survives_a_backup_cut_short_by_a_kill(tmp_path, images):
    """A kill during BackupAndRestore's own save leaves a truncated weights file; the
    double checkpoint lets the rerun fall back to the previous epoch's copy: it resumes
    at epoch 1 (after the last intact backup, epoch 0's) with the weights and optimizer
    state saved at the end of epoch 0, not from scratch and not from the torn file."""

    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("crash")

    class Probe(keras.callbacks.Callback):
        """The weights at the end of each epoch, and the epoch and weights a fit starts with."""

        def __init__(self):
            super().__init__()
            self.saved, self.start = {}, None

        def on_epoch_begin(self, epoch, logs=None):
            if self.start is None:  # after every on_train_begin: BackupAndRestore has restored
                self.start = (epoch, self.model.get_weights(), int(self.model.optimizer.iterations))

        def on_epoch_end(self, epoch, logs=None):
            self.saved[epoch] = self.model.get_weights()

    def fresh():
        keras.utils.set_random_seed(0)
        model = ConvAutoencoder(latent_dim=2, filters=2, dense_units=0)
        model.compile(optimizer="adam", loss="mse")
        return model

    first, resumed = Probe(), Probe()
    with pytest.raises(RuntimeError, match="crash"):
        fresh().fit(images, epochs=4, batch_size=4, verbose=0,
                    callbacks=resumable_callbacks(tmp_path) + [first, Crash()])
    assert sorted(first.saved) == [0, 1]
    latest = tmp_path / "backup" / "latest.weights.h5"
    latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])
    model = fresh()
    initial = model.get_weights()
    history = model.fit(images, epochs=4, batch_size=4, verbose=0,
                        callbacks=resumable_callbacks(tmp_path) + [resumed])
    epoch, weights, iterations = resumed.start
    assert epoch == 1 and history.epoch == [1, 2, 3]
    assert iterations == 2  # Adam's state after epoch 0's two batches came back too
    for got, saved in zip(weights, first.saved[0], strict=True):
        np.testing.assert_array_equal(got, saved)
    # The probe can tell the backups apart: training moved every kernel in each epoch.
    for before, after in ((initial, first.saved[0]), (first.saved[0], first.saved[1])):
        assert all(not np.array_equal(a, b) for a, b in zip(before, after) if a.ndim > 1)
    # history.csv: epochs 0 and 1 of the first run, then 1 (redone), 2 and 3 appended.
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 1 + 2 + 3
    assert len(read_history(tmp_path)["loss"]) == 4
