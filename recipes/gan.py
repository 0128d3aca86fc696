"""Train a GAN; write loss and score curves, fixed-noise sample grids at chosen epochs and domain FID.

    python -m recipes.gan --quick
    python -m recipes.gan --data-dir "$ZOO_DATA_DIR" --architecture mlp --epochs 50
"""

from __future__ import annotations

import argparse
import sys

from ._common import (base_parser, fraction, positive_float, positive_int, prepare, sample_scores,
                      save_outputs, timed_fit)


def parse_args(argv):
    parser = base_parser(__doc__.splitlines()[0], epochs=50, quick_epochs=30, exportable=True,
                         name="gan")
    parser.set_defaults(batch_size=64)
    parser.add_argument("--architecture", default="mlp", choices=("mlp", "dcgan"))
    parser.add_argument("--latent-dim", type=positive_int, default=64)
    parser.add_argument("--filters", type=positive_int, default=32, help="DCGAN width")
    parser.add_argument("--learning-rate", type=positive_float, default=2e-4)
    parser.add_argument("--beta-1", type=fraction, default=0.5, help="Adam beta_1 of both networks")
    parser.add_argument("--sample-epochs", type=epoch_list, default="1,5,50,200",
                        help="comma-separated epochs after which to save a fixed-noise grid "
                             "(the last epoch is always added)")
    parser.add_argument("--classifier-epochs", type=positive_int, default=3,
                        help="epochs of the domain-FID feature classifier")
    parser.add_argument("--fid-samples", type=positive_int, default=5000,
                        help="generated images (and test images) for the domain FID")
    return parser.parse_args(argv)


def epoch_list(text: str) -> list:
    """``--sample-epochs``: comma-separated positive integers (argparse converts the default too)."""
    try:
        epochs = [int(e) for e in text.split(",") if e.strip()]
    except ValueError:
        epochs = []
    if not epochs or min(epochs) < 1:
        raise argparse.ArgumentTypeError(f"must be comma-separated positive integers, got {text!r}")
    return epochs


def main(argv=None) -> dict:
    args = parse_args(argv)
    dataset, out = prepare(args, "gan")

    import keras

    from zoo import make_tf_dataset
    from zoo.models.gan import GAN
    from zoo.plotting import SampleGrid, image_rows, training_curves
    from ._report import class_share_rows, computed_on, generative_columns, write_table
    from zoo.training import read_history

    model = GAN(latent_dim=args.latent_dim, architecture=args.architecture, filters=args.filters,
                input_shape=dataset.image_shape, seed=args.seed)
    model.compile(d_optimizer=keras.optimizers.Adam(args.learning_rate, beta_1=args.beta_1),
                  g_optimizer=keras.optimizers.Adam(args.learning_rate, beta_1=args.beta_1),
                  steps_per_execution=args.steps_per_execution)
    chosen = [e for e in args.sample_epochs if e <= args.epochs] + [args.epochs]  # SampleGrid sorts
    grid = SampleGrid(out, epochs=chosen, n=64, ncols=8, seed=args.seed)
    train = make_tf_dataset(dataset.x_train, batch_size=args.batch_size, seed=args.seed)
    timing = timed_fit(model, train, out / "run", len(dataset.x_train), callbacks=[grid],
                       epochs=args.epochs)

    history = read_history(out / "run")
    training_curves(history, out / "loss_curves.png", groups=[["d_loss", "g_loss"], ["d_real", "d_fake"]],
                    title=f"{args.architecture.upper()} GAN on {dataset.name}: losses and mean D scores")
    if grid.samples:  # epochs run by this process (a resumed run lacks the earlier ones)
        image_rows({f"epoch {e}": images[:10] for e, images in sorted(grid.samples.items())},
                   out / "samples_by_epoch.png", title="The same noise through training")

    row = {
        "dataset": dataset.name,
        "data source": dataset.source,
        "architecture": args.architecture,
        "latent dim": args.latent_dim,
        "epochs": len(history["d_loss"]),
        "final d_loss": history["d_loss"][-1],
        "final g_loss": history["g_loss"][-1],
        "final D(x)": history["d_real"][-1],
        "final D(G(z))": history["d_fake"][-1],
    }
    n = min(args.fid_samples, len(dataset.x_test), len(dataset.x_train))
    scores = sample_scores("gan", model.generate(n, seed=args.seed), dataset, args)
    if scores:
        row.update(generative_columns(scores))
        write_table(class_share_rows(scores, dataset.class_names), out / "class_shares",
                    f"Share of {n} samples per class by the feature classifier (uniform: "
                    f"{1 / dataset.num_classes:.2f})")
        print(f"[gan] domain FID {row['domain FID']:.3f} "
              f"(real vs real {row['domain FID real vs real']:.3f})", flush=True)
        caption = f"GAN: domain FID and diversity of {n} samples against "
    else:
        caption = "GAN: final losses and D scores, "
    row.update(timing)
    write_table([row], out / "metrics", caption + computed_on(dataset, row["epochs"], args.quick))
    save_outputs(model, out, args.export)
    print(f"[gan] wrote {out}", flush=True)
    return row


if __name__ == "__main__":
    main(sys.argv[1:])
