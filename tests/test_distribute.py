import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from zoo.distribute import get_strategy, split_cpu

ROOT = Path(__file__).resolve().parents[1]

# Trains each named model under a strategy, then (in the chief) the same model on one
# device with the same seed, data and global batch, and reports both. SGD, unlike Adam,
# moves the weights in proportion to the gradient, so a missing or doubled per-replica
# loss scaling shows up as an update twice or half as long.
TRAIN = """
import json, sys
mode, out, *models = sys.argv[1:]
from zoo.distribute import get_strategy, split_cpu
# Both must come first: devices are fixed, and collectives configured, at TF start-up.
# mode "env": the strategy $ZOO_STRATEGY names.
strategy = get_strategy("mirrored", devices=split_cpu(2)) if mode == "mirrored" else get_strategy()
import keras, numpy as np
from zoo import ConvAutoencoder, load_dataset, set_seed

x = load_dataset("mnist", source="sample").x_train[:128]

def build(name):
    if name == "vae":
        from zoo.models.vae import VAE
        model = VAE(latent_dim=4, architecture="conv", filters=4, dense_units=16, seed=0)
        model.compile(optimizer=keras.optimizers.SGD(1e-4))
    elif name == "gan":
        from zoo.models.gan import GAN
        model = GAN(latent_dim=8, seed=0)
        model.compile(d_optimizer=keras.optimizers.SGD(0.05),
                      g_optimizer=keras.optimizers.SGD(0.05))
    else:
        model = ConvAutoencoder(latent_dim=4, filters=4, dense_units=16)
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    return model

# The weights compared, by part: the GAN's two networks train apart, so each is checked.
def networks(name, model):
    if name == "gan":
        return {"generator": model.generator, "discriminator": model.discriminator}
    return {"model": model}

def train(name, strategy):
    set_seed(0)
    with strategy.scope():
        model = build(name)
    parts = networks(name, model)
    start = {part: net.get_weights() for part, net in parts.items()}
    history = model.fit(x, epochs=3, batch_size=32, shuffle=False, verbose=0).history
    loss = history["d_loss" if name == "gan" else "loss"]
    return loss, start, {part: net.get_weights() for part, net in parts.items()}

def distance(a, b):
    return float(np.sqrt(sum(np.sum((p - q) ** 2) for p, q in zip(a, b))))

def max_difference(a, b):
    return max(float(np.abs(p - q).max()) for p, q in zip(a, b))

chief = strategy.cluster_resolver is None or strategy.cluster_resolver.task_id == 0
report = {"replicas": strategy.num_replicas_in_sync}
weights = {}
for name in models:
    loss, start, end = train(name, strategy)
    report[name] = {"loss": loss}
    weights.update({f"{name}_{part}_{i}": w for part in end for i, w in enumerate(end[part])})
    if chief:
        ref_loss, ref_start, ref_end = train(name, get_strategy("default"))
        report[name].update(
            reference_loss=ref_loss,
            start_difference=max(max_difference(start[p], ref_start[p]) for p in start),
            end_difference={p: max_difference(end[p], ref_end[p]) for p in end},
            update_ratio={p: distance(end[p], start[p]) / distance(ref_end[p], ref_start[p])
                          for p in end})
np.savez(out + ".npz", **weights)
with open(out, "w") as f:
    json.dump(report, f)
"""

# Tolerances. The CAE's loss is Keras's own, scaled per replica by Keras: the runs
# differ only in float32 summation order (measured: 1.5e-8 on weights). The VAE's
# sampling noise differs between one device and two (each replica draws its own
# half-batch of noise), so its losses agree to ~1e-4 and its update length to ~1e-4
# (measured 3e-5 and 7e-5), while a loss left unscaled gives an update ratio of ~1.8.
# The GAN draws its codes the same way, and both networks feed on them, so it drifts
# more: measured d_loss 5e-3 apart after 12 steps, weights 2.3e-3, update ratios 0.9999
# (G) and 1.002 (D); its two losses left unscaled give ratios 2.01 (G) and 1.78 (D),
# weights 0.035 and 0.24 apart and d_loss 16% off.
TOLERANCE = {"cae": dict(loss_rtol=1e-5, weights_atol=1e-5, ratio_atol=1e-4),
             "vae": dict(loss_rtol=1e-3, weights_atol=1e-2, ratio_atol=0.05),
             "gan": dict(loss_rtol=0.02, weights_atol=1e-2, ratio_atol=0.05)}


MODELS = ["cae", "vae", "gan"]


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("ZOO_STRATEGY", "TF_CONFIG") and "proxy" not in k.lower()}
    # CPU only, so the one-device reference runs where the replicas do.
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
               TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", **extra)
    return env


def _launch(args, out, env):
    return subprocess.Popen([sys.executable, "-c", TRAIN, *args, str(out), *MODELS], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finish(processes, timeout):
    """Wait ``timeout`` seconds in all for the processes; kill any left over; return their
    stderr tails. (A worker whose peer died waits for it forever: the bound matters.)"""
    errors, deadline = [], time.monotonic() + timeout
    try:
        for process in processes:
            _, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            errors.append(err[-3000:])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return errors


def _check_against_single_device(report):
    for name in MODELS:
        tol, result = TOLERANCE[name], report[name]
        assert result["start_difference"] == 0.0, f"{name}: same seed, different initial weights"
        np.testing.assert_allclose(result["loss"], result["reference_loss"], rtol=tol["loss_rtol"],
                                   err_msg=f"{name}: loss differs from one device")
        for part, ratio in result["update_ratio"].items():
            assert result["end_difference"][part] < tol["weights_atol"], f"{name} {part}"
            assert abs(ratio - 1.0) < tol["ratio_atol"], (
                f"{name} {part}: the distributed update is {ratio:.3f}x the one-device "
                "update (per-replica loss scaling wrong?)")
        assert result["loss"][-1] < result["loss"][0], f"{name} did not train"


def test_mirrored_on_two_cpu_devices_matches_one_device(tmp_path):
    out = tmp_path / "mirrored.json"
    process = _launch(["mirrored"], out, _env())
    (err,) = _finish([process], timeout=240)
    assert process.returncode == 0, err
    report = json.loads(out.read_text())
    assert report["replicas"] == 2
    _check_against_single_device(report)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# Slow (40 s): test_mirrored_on_two_cpu_devices_matches_one_device holds the same sums.
@pytest.mark.slow
def test_multi_worker_on_loopback_matches_one_device(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    outs = [tmp_path / f"worker{i}.json" for i in range(2)]
    processes = []
    try:
        for i, out in enumerate(outs):
            config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}
            processes.append(_launch(["env"], out, _env(ZOO_STRATEGY="multiworker",
                                                   TF_CONFIG=json.dumps(config))))
    finally:
        errors = _finish(processes, timeout=240)
    for process, err in zip(processes, errors):
        assert process.returncode == 0, err
    chief, other = (json.loads(out.read_text()) for out in outs)
    assert chief["replicas"] == other["replicas"] == 2
    _check_against_single_device(chief)
    # Synchronous training: both workers log the same losses and end with the same weights.
    for name in MODELS:
        assert chief[name]["loss"] == other[name]["loss"]
    a, b = (np.load(f"{out}.npz") for out in outs)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


# ------------------------------------------------------------------ get_strategy


def test_get_strategy_by_name_and_from_the_environment(monkeypatch):
    monkeypatch.delenv("ZOO_STRATEGY", raising=False)
    assert get_strategy() is tf.distribute.get_strategy()
    monkeypatch.setenv("ZOO_STRATEGY", "mirrored:/cpu:0")
    mirrored = get_strategy()
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert mirrored.num_replicas_in_sync == 1
    assert get_strategy(mirrored) is mirrored
    assert get_strategy("Default") is tf.distribute.get_strategy()  # the argument wins


@pytest.mark.parametrize("kwargs, error, message", [
    ({"name": "tpu"}, ValueError, "unknown strategy 'tpu'.*default, mirrored, multiworker"),
    ({"name": "default", "devices": ["/cpu:0"]}, ValueError, "only the 'mirrored'"),
    ({"name": "mirrored:/cpu:0", "devices": ["/cpu:0"]}, ValueError, "devices given twice"),
    ({"name": 3}, TypeError, "must be a string"),
])
def test_get_strategy_rejects_bad_names(kwargs, error, message):
    with pytest.raises(error, match=message):
        get_strategy(**kwargs)


def test_unknown_name_in_the_environment_is_named(monkeypatch):
    monkeypatch.setenv("ZOO_STRATEGY", "horovod")
    with pytest.raises(ValueError, match=r"'horovod'.*\$ZOO_STRATEGY"):
        get_strategy()


@pytest.mark.parametrize("config", ["not json", '{"task": {}}', '{"cluster": {"worker": []}}'])
def test_multiworker_rejects_a_bad_tf_config_before_starting(monkeypatch, config):
    monkeypatch.setenv("TF_CONFIG", config)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        get_strategy("multiworker")


def test_split_cpu_validates_and_must_come_first():
    with pytest.raises(ValueError, match=r"^num_devices must be in \[1, inf\], got 0"):
        split_cpu(0)
    with pytest.raises(TypeError, match="^num_devices must be an integer"):
        split_cpu(2.0)
    tf.config.list_logical_devices()  # devices are initialised from here on
    with pytest.raises(RuntimeError, match="before TensorFlow initialises"):
        split_cpu(2)
