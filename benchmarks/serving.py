"""What the serving guards cost: guarded vs. unguarded SavedModel endpoints of one preset.

    python -m benchmarks.serving [--preset fashion_mnist_d36] [--repeats 5]

Both SavedModels hold the same weights and are called the way TF Serving calls them,
through ``loaded.signatures["encode"]``. The guarded one is `zoo.export_saved_model`'s
(rank, shape, finiteness and [0, 1] checked in the graph); the unguarded one is the plain
Keras `ExportArchive` endpoint with a fixed input shape. Images/s is the best of
``--repeats`` timed runs of ~2 s each, per batch size.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from recipes import _common  # noqa: F401  first: it quiets TensorFlow's start-up lines
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from zoo import export_saved_model, load_dataset  # noqa: E402
from zoo.presets import load_preset  # noqa: E402
from recipes._report import markdown_table  # noqa: E402


def unguarded_export(model, path) -> None:
    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = tf.TensorSpec((None, *model.image_shape), tf.float32, name="images")
    archive.add_endpoint("encode", lambda x: {"codes": model.encoder(x, training=False)},
                         input_signature=[spec])
    archive.write_out(str(path), verbose=False)


def images_per_second(signature, images, repeats: int) -> float:
    batch = tf.constant(images)
    signature(images=batch)  # warm-up
    best = 0.0
    for _ in range(repeats):
        calls, started = 0, time.perf_counter()
        while time.perf_counter() - started < 2.0:
            signature(images=batch)
            calls += 1
        best = max(best, calls * len(images) / (time.perf_counter() - started))
    return best


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="fashion_mnist_d36")
    parser.add_argument("--batch-sizes", default="1,32,256")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    model = load_preset(args.preset)
    images = load_dataset("fashion_mnist", source="sample").x_test
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        export_saved_model(model, Path(folder) / "guarded")
        unguarded_export(model, Path(folder) / "unguarded")
        encode = {name: tf.saved_model.load(str(Path(folder) / name)).signatures["encode"]
                  for name in ("guarded", "unguarded")}
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            speed = {name: images_per_second(fn, images[:batch_size], args.repeats)
                     for name, fn in encode.items()}
            rows.append({"batch": batch_size, "guarded images/s": round(speed["guarded"]),
                         "unguarded images/s": round(speed["unguarded"]),
                         "guarded / unguarded": round(speed["guarded"] / speed["unguarded"], 3)})
    print(markdown_table(rows))
    return rows


if __name__ == "__main__":
    main()
