"""Train a convolutional autoencoder; write loss curves, reconstructions and test MSE.

    python -m recipes.autoencoder --quick
    python -m recipes.autoencoder --dataset fashion_mnist --data-dir ../shared/data --latent-dim 36
"""

from __future__ import annotations

import sys
import time

from recipes._common import base_parser, one_per_class, prepare


def main(argv=None) -> dict:
    parser = base_parser(__doc__.splitlines()[0], epochs=30, quick_epochs=15)
    parser.add_argument("--latent-dim", type=int, default=36)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--dense-units", type=int, default=256)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--export", action="store_true",
                        help="also write a TensorFlow SavedModel to <out>/autoencoder/savedmodel")
    parser.add_argument("--preset", default=None,
                        help="also save the trained model as this preset in saved_models/")
    args = parser.parse_args(argv)
    dataset, out = prepare(args, "autoencoder")

    import keras

    from zoo import ConvAutoencoder, export_saved_model, make_tf_dataset, save_model
    from zoo.plotting import image_rows, training_curves
    from zoo.report import write_table
    from zoo.training import EpochTimer, read_history, resumable_callbacks

    model = ConvAutoencoder(latent_dim=args.latent_dim, filters=args.filters,
                            dense_units=args.dense_units, dropout=args.dropout,
                            input_shape=dataset.image_shape)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="mse")
    timer = EpochTimer()
    started = time.perf_counter()
    model.fit(
        make_tf_dataset(dataset.x_train, batch_size=args.batch_size, seed=args.seed),
        validation_data=make_tf_dataset(dataset.x_val, batch_size=512, shuffle=False),
        epochs=args.epochs,
        callbacks=resumable_callbacks(out / "run") + [timer],
        verbose=2,
    )
    train_seconds = time.perf_counter() - started
    test_mse = float(model.evaluate(dataset.x_test, dataset.x_test, batch_size=512, verbose=0))

    history = read_history(out / "run")
    training_curves(history, out / "loss_curves.png",
                    title=f"CAE on {dataset.name} (latent {args.latent_dim})")
    shown = dataset.x_test[one_per_class(dataset.y_test)]
    image_rows({"test image": shown, "reconstruction": model.predict(shown, verbose=0)},
               out / "reconstructions.png", title=f"Test images and reconstructions, test MSE {test_mse:.5f}")
    row = {
        "dataset": dataset.name,
        "data source": dataset.source,
        "latent dim": args.latent_dim,
        "epochs": len(history["loss"]),
        "parameters": model.count_params(),
        "test MSE": test_mse,
        "train seconds": round(train_seconds, 1),
        "train images/s": round(timer.images_per_second(len(dataset.x_train)), 1) if timer.seconds else "",
    }
    write_table([row], out / "metrics", "Convolutional autoencoder: test reconstruction error")
    save_model(model, out / "model.keras")
    if args.export:
        export_saved_model(model, out / "savedmodel")
    if args.preset:
        from zoo.presets import save_preset

        save_preset(model, args.preset, {
            "command": "python -m recipes.autoencoder " + " ".join(argv if argv is not None else sys.argv[1:]),
            "data": dataset.summary(),
            "metrics": {"test MSE": test_mse, "test images": len(dataset.x_test), "epochs": row["epochs"]},
        })
    print(f"[autoencoder] test MSE {test_mse:.5f}; wrote {out}", flush=True)
    return row


if __name__ == "__main__":
    main(sys.argv[1:])
