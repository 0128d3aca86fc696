"""Same seed, same run: identical weights and metrics on CPU; another seed, another run.

The two runs of one seed are processes of their own, because op determinism
(`zoo.set_seed`) and TensorFlow's global seed are process-wide; the other seed's run
follows one of them in its process (it only has to differ). A run exercises every place
randomness enters: the validation split, the `make_dataset` shuffle, weight
initialisation, dropout, and the VAE's sampling noise.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo.data import make_dataset

ROOT = Path(__file__).resolve().parents[1]

RUN = """
import json, sys
import numpy as np
from zoo import ConvAutoencoder, load_dataset, make_dataset, set_seed
from zoo.models.vae import VAE


def run(seed, out):
    set_seed(seed)
    data = load_dataset("mnist", source="sample", seed=seed)
    x, x_val = data.x_train[:96], data.x_val[:32]

    cae = ConvAutoencoder(latent_dim=4, filters=4, dense_units=16, dropout=0.2)
    cae.compile(optimizer="adam", loss="mse")
    cae_history = cae.fit(make_dataset(x, batch_size=16, seed=seed), epochs=2,
                          validation_data=x_val, verbose=0).history
    vae = VAE(latent_dim=4, architecture="conv", filters=4, dense_units=16, seed=seed)
    vae.compile(optimizer="adam")
    vae_history = vae.fit(x, epochs=2, batch_size=16, validation_data=x_val, verbose=0).history
    noisy_codes = vae.encoder.predict(x_val[:4], verbose=0)[2]  # z drawn by the sampling layer

    np.savez(out + ".npz", *cae.get_weights(), *vae.get_weights(), noisy_codes)
    json.dump({"cae": cae_history, "vae": vae_history,
               "validation_labels": data.y_val[:50].tolist()}, open(out, "w"))


for seed, out in zip(map(int, sys.argv[1::2]), sys.argv[2::2]):
    run(seed, out)
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs: seed 0, then seed 1 in the same process; beside them, seed 0 again."""
    folder = tmp_path_factory.mktemp("runs")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",  # on CPU
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    outs = [folder / f"run{i}.json" for i in range(3)]
    processes = [subprocess.Popen([sys.executable, "-c", RUN, *map(str, job)], cwd=ROOT,
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)
                 for job in [(0, outs[0], 1, outs[2]), (0, outs[1])]]
    try:
        errors = [p.communicate(timeout=300)[1] for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, err in zip(processes, errors):
        assert p.returncode == 0, err[-3000:]
    return [(json.loads(out.read_text()), np.load(f"{out}.npz")) for out in outs]


def test_same_seed_gives_identical_weights_and_metrics(runs):
    (metrics_a, weights_a), (metrics_b, weights_b), _ = runs
    assert len(weights_a.files) == len(weights_b.files) > 10
    for key in weights_a:  # bit for bit
        np.testing.assert_array_equal(weights_a[key], weights_b[key])
    assert metrics_a["validation_labels"] == metrics_b["validation_labels"]
    for model in ("cae", "vae"):
        assert metrics_a[model].keys() == metrics_b[model].keys()
        for name, values in metrics_a[model].items():
            # Identical weights, yet under CPU contention a logged epoch mean can come out
            # one float32 ulp apart (seen: the VAE's loss, 540.10107 vs 540.10114, with
            # its two terms bit-identical); 1e-6 allows that and nothing more.
            np.testing.assert_allclose(values, metrics_b[model][name], rtol=1e-6, atol=0,
                                       err_msg=f"{model} {name}")


def test_another_seed_gives_another_run(runs):
    (metrics_a, weights_a), _, (metrics_c, weights_c) = runs
    assert metrics_a["validation_labels"] != metrics_c["validation_labels"]  # the split
    for model in ("cae", "vae"):
        assert metrics_a[model]["loss"] != metrics_c[model]["loss"]
    # The last array is the VAE's sampled codes: its noise follows the seed too.
    same = [key for key in weights_a if np.array_equal(weights_a[key], weights_c[key])]
    assert not same, f"arrays {same} ignore the seed"


def _epochs(ds, count=2):
    """The images of ``count`` passes over ``ds``, in the order it yields them."""
    return [np.concatenate([inputs.numpy() for inputs, _ in ds]) for _ in range(count)]


def test_tf_dataset_shuffle_is_seeded_and_reshuffles_each_epoch():
    x = (np.arange(32, dtype=np.float32) / 32).reshape(32, 1, 1, 1)
    first, second = _epochs(make_dataset(x, batch_size=8, seed=5))
    again = _epochs(make_dataset(x, batch_size=8, seed=5))
    other = _epochs(make_dataset(x, batch_size=8, seed=6))
    np.testing.assert_array_equal(first, again[0])
    np.testing.assert_array_equal(second, again[1])
    assert not np.array_equal(first, second)  # a new order every epoch
    assert not np.array_equal(first, other[0])
    np.testing.assert_array_equal(np.sort(first, axis=0), x)  # a permutation, nothing lost
