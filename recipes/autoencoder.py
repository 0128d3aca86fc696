"""Train a convolutional autoencoder; write loss curves, reconstructions and test MSE.

    python -m recipes.autoencoder --quick
    python -m recipes.autoencoder --dataset fashion_mnist --data-dir "$ZOO_DATA_DIR" --latent-dim 36
"""

from __future__ import annotations

import argparse
import sys

from ._common import (add_model_arguments, add_preset_arguments, base_parser, build_autoencoder,
                      card_metrics, fraction, prepare, save_outputs, save_recipe_preset,
                      shown_examples, timed_fit)


def build_parser() -> argparse.ArgumentParser:
    """The recipe's options (`run all` routes to it only the options it takes)."""
    parser = base_parser(__doc__.splitlines()[0], epochs=30, quick_epochs=15, exportable=True,
                         name="autoencoder")
    add_model_arguments(parser, latent_dim=36)
    parser.add_argument("--dropout", type=fraction, default=0.0)
    add_preset_arguments(parser, "the trained model")
    return parser


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    dataset, out = prepare(args, "autoencoder")

    from zoo import make_dataset
    from zoo.plotting import image_rows, training_curves
    from ._report import computed_on, write_table
    from zoo.training import read_history

    model = build_autoencoder(args, dataset.image_shape, dropout=args.dropout)
    timing = timed_fit(
        model, make_dataset(dataset.x_train, batch_size=args.batch_size, seed=args.seed),
        out / "run", len(dataset.x_train),
        validation_data=make_dataset(dataset.x_val, batch_size=512, shuffle=False),
        epochs=args.epochs,
    )
    test_mse = float(model.evaluate(dataset.x_test, dataset.x_test, batch_size=512, verbose=0))

    history = read_history(out / "run")
    training_curves(history, out / "loss_curves.png",
                    title=f"CAE on {dataset.name} (latent {args.latent_dim})")
    shown = dataset.x_test[shown_examples(dataset)]
    image_rows({"test image": shown, "reconstruction": model.predict(shown, verbose=0)},
               out / "reconstructions.png", title=f"Test images and reconstructions, test MSE {test_mse:.5f}")
    row = {
        "dataset": dataset.name,
        "data source": dataset.source,
        "latent dim": args.latent_dim,
        "epochs": len(history["loss"]),
        "parameters": model.count_params(),
        "test MSE": test_mse,
        **timing,
    }
    write_table([row], out / "metrics", "Convolutional autoencoder: test reconstruction error, "
                + computed_on(dataset, row["epochs"], args.quick))
    save_outputs(model, out, args.export)
    if args.preset:
        save_recipe_preset(model, "autoencoder", args, argv, dataset,
                           card_metrics(row, ["test MSE"], len(dataset.x_test)),
                           {"epochs": row["epochs"]})
    print(f"[autoencoder] test MSE {test_mse:.5f}; wrote {out}", flush=True)
    return row


if __name__ == "__main__":
    main(sys.argv[1:])
