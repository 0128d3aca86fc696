"""Train a GAN; write loss and score curves, fixed-noise sample grids at chosen epochs and domain FID.

    python -m recipes.gan --quick
    python -m recipes.gan --data-dir "$ZOO_DATA_DIR" --architecture mlp --epochs 50
    python -m recipes.gan --data-dir "$ZOO_DATA_DIR" --architecture wgan-gp --epochs 30

``--architecture wgan-gp`` trains `zoo.models.wgan_gp.WGANGP` (a critic with a gradient
penalty, ``--n-critic`` critic steps per generator step) with Adam(beta_2=0.9).
"""

from __future__ import annotations

import argparse
import sys

from ._common import (add_preset_arguments, base_parser, fraction, positive_float, positive_int,
                      prepare, sample_scores, save_outputs, save_recipe_preset, timed_fit)


def build_parser() -> argparse.ArgumentParser:
    """The recipe's options (`run all` routes to it only the options it takes)."""
    parser = base_parser(__doc__.splitlines()[0], epochs=50, quick_epochs=30, exportable=True,
                         name="gan")
    parser.set_defaults(batch_size=64)
    parser.add_argument("--architecture", default="mlp", choices=("mlp", "dcgan", "wgan-gp"))
    parser.add_argument("--latent-dim", type=positive_int, default=64)
    parser.add_argument("--filters", type=positive_int, default=32, help="DCGAN and WGAN-GP width")
    parser.add_argument("--learning-rate", type=positive_float, default=None,
                        help="Adam's rate for both networks (default 2e-4; 1e-4 for wgan-gp)")
    parser.add_argument("--beta-1", type=fraction, default=0.5, help="Adam beta_1 of both networks")
    parser.add_argument("--n-critic", type=positive_int, default=5,
                        help="wgan-gp: critic steps per generator step")
    add_preset_arguments(parser, "the trained model")
    parser.add_argument("--sample-epochs", type=epoch_list, default="1,5,50,200",
                        help="comma-separated epochs after which to save a fixed-noise grid "
                             "(the last epoch is always added)")
    parser.add_argument("--classifier-epochs", type=positive_int, default=3,
                        help="epochs of the domain-FID feature classifier")
    parser.add_argument("--fid-samples", type=positive_int, default=5000,
                        help="generated images (and test images) for the domain FID")
    return parser


def parse_args(argv):
    return build_parser().parse_args(argv)


SCORE_NAMES = {"d_real": "D(x)", "d_fake": "D(G(z))", "wasserstein": "Wasserstein estimate",
               "gradient_penalty": "gradient penalty"}


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

    from zoo import make_dataset
    from zoo.models.gan import GAN
    from zoo.models.wgan_gp import WGANGP
    from zoo.plotting import SampleGrid, image_rows, training_curves
    from ._report import class_share_rows, computed_on, generative_columns, write_table
    from zoo.training import read_history

    common = {"latent_dim": args.latent_dim, "filters": args.filters,
              "input_shape": dataset.image_shape, "seed": args.seed}
    if args.architecture == "wgan-gp":
        model = WGANGP(n_critic=args.n_critic, **common)
        adam = {"learning_rate": args.learning_rate or 1e-4, "beta_1": args.beta_1, "beta_2": 0.9}
    else:
        model = GAN(architecture=args.architecture, **common)
        adam = {"learning_rate": args.learning_rate or 2e-4, "beta_1": args.beta_1}
    model.compile(d_optimizer=keras.optimizers.Adam(**adam), g_optimizer=keras.optimizers.Adam(**adam),
                  steps_per_execution=args.steps_per_execution)
    chosen = [e for e in args.sample_epochs if e <= args.epochs] + [args.epochs]  # SampleGrid sorts
    grid = SampleGrid(out, epochs=chosen, n=64, ncols=8, seed=args.seed)
    train = make_dataset(dataset.x_train, batch_size=args.batch_size, seed=args.seed)
    timing = timed_fit(model, train, out / "run", len(dataset.x_train), callbacks=[grid],
                       epochs=args.epochs)

    history = read_history(out / "run")
    scores_tracked = [name for name in ("d_real", "d_fake", "wasserstein", "gradient_penalty")
                      if name in history]
    training_curves(history, out / "loss_curves.png", groups=[["d_loss", "g_loss"], scores_tracked],
                    title=f"{args.architecture.upper()} on {dataset.name}: losses and critic scores")
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
        **{f"final {SCORE_NAMES[name]}": history[name][-1] for name in scores_tracked},
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
    if args.preset:
        save_gan_preset(model, args, argv, dataset, row)
    print(f"[gan] wrote {out}", flush=True)
    return row


def save_gan_preset(model, args, argv, dataset, row) -> None:
    """The trained model as preset ``args.preset``, its card holding this run's command and
    the domain FID and class shares of 10,000 samples (the zoo's comparison protocol)."""
    from zoo.metrics import dataset_generative_scores
    from zoo.presets import metric

    n = 10_000
    scores = dataset_generative_scores(model.generate(n, seed=0), dataset, 3, seed=0)
    shares = scores["class_shares"]
    save_recipe_preset(model, "gan", args, argv, dataset, [
        metric("domain_fid", scores["domain_fid"], samples=n),
        metric("domain_fid_real_vs_real", scores["domain_fid_real_vs_real"], samples=n),
        metric("min_class_share", min(shares), samples=n),
        metric("max_class_share", max(shares), samples=n),
    ], {"epochs": row["epochs"], "seconds": row["train seconds"]})


if __name__ == "__main__":
    main(sys.argv[1:])
