"""Train a variational autoencoder; write loss curves, reconstructions, samples, a latent traversal and metrics.

    python -m recipes.vae --quick
    python -m recipes.vae --data-dir "$ZOO_DATA_DIR" --architecture mlp --latent-dim 32 --epochs 30

With a Bernoulli decoder (``--reconstruction-loss bce``, the default) training uses
dynamically binarised images and the test set is binarised once (seeded), so the test
loss and the importance-sampled log-likelihood are in nats per image, as in the papers.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ._common import (add_model_arguments, add_preset_arguments, base_parser, non_negative_float,
                      non_negative_int, positive_int, prepare, sample_scores, save_outputs,
                      save_recipe_preset, shown_examples, timed_fit, card_metrics)


def build_parser() -> argparse.ArgumentParser:
    """The recipe's options (`run all` routes to it only the options it takes)."""
    parser = base_parser(__doc__.splitlines()[0], epochs=30, quick_epochs=10, exportable=True,
                         name="vae")
    parser.set_defaults(dataset="mnist")
    parser.add_argument("--architecture", default="conv", choices=("conv", "mlp"))
    add_model_arguments(parser, latent_dim=16)
    parser.add_argument("--reconstruction-loss", default="bce", choices=("bce", "mse"))
    parser.add_argument("--beta", type=non_negative_float, default=1.0, help="KL weight")
    parser.add_argument("--binarize", action=argparse.BooleanOptionalAction, default=True,
                        help="dynamically binarised training images and a binarised test set")
    parser.add_argument("--iwae-k", type=positive_int, default=100,
                        help="importance samples per image for the log-likelihood")
    parser.add_argument("--iwae-images", type=non_negative_int, default=1000,
                        help="test images scored for the log-likelihood (0: all)")
    parser.add_argument("--classifier-epochs", type=positive_int, default=3,
                        help="epochs of the domain-FID feature classifier")
    parser.add_argument("--fid-samples", type=positive_int, default=5000,
                        help="generated images (and test images) for the domain FID")
    add_preset_arguments(parser, "the trained model")
    return parser


def parse_args(argv):
    return build_parser().parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    dataset, out = prepare(args, "vae")

    import keras

    from zoo import make_dataset
    from zoo.metrics import binarize, dynamic_binarization
    from ._report import computed_on, generative_columns, write_table
    from zoo.training import read_history
    from zoo.models.vae import VAE

    model = VAE(latent_dim=args.latent_dim, architecture=args.architecture, filters=args.filters,
                dense_units=args.dense_units, reconstruction_loss=args.reconstruction_loss,
                beta=args.beta, input_shape=dataset.image_shape, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                  steps_per_execution=args.steps_per_execution)
    if args.binarize:  # the papers' protocol: fixed binarised evaluation sets
        x_val, x_test = binarize(dataset.x_val, args.seed), binarize(dataset.x_test, args.seed + 1)
    else:
        x_val, x_test = dataset.x_val, dataset.x_test
    timing = timed_fit(
        model,
        make_dataset(dataset.x_train, batch_size=args.batch_size, seed=args.seed,
                     map_fn=dynamic_binarization(args.seed) if args.binarize else None),
        out / "run", len(dataset.x_train),
        validation_data=make_dataset(x_val, batch_size=512, shuffle=False),
        epochs=args.epochs,
    )
    history = read_history(out / "run")
    samples = model.generate(max(args.fid_samples, 2), seed=args.seed)
    _write_figures(model, args, dataset, x_test, history, samples, out)

    scores = sample_scores("vae", samples, dataset, args)
    row = {"dataset": dataset.name, "data source": dataset.source,
           "architecture": args.architecture, "latent dim": args.latent_dim, "beta": args.beta,
           "binarized": args.binarize, "epochs": len(history["loss"]),
           **_test_scores(model, args, x_test),
           **(generative_columns(scores) if scores else {}),
           **timing}
    write_table([row], out / "metrics", "Variational autoencoder: test loss terms (nats per image), "
                "log-likelihood" + (" and domain FID of samples, " if scores else ", ")
                + computed_on(dataset, row["epochs"], args.quick))
    save_outputs(model, out, args.export)
    if args.preset:
        _save_preset(model, args, argv, dataset, row)
    fid = f", domain FID {row['domain FID']:.3f}" if scores else ""
    print(f"[vae] test loss {row['test loss']:.2f} (reconstruction {row['test reconstruction']:.2f}, "
          f"KL {row['test KL']:.2f}){fid}; wrote {out}", flush=True)
    return row


def _test_scores(model, args, x_test) -> dict:
    """The test loss terms and, for a Bernoulli decoder on binary images, the IWAE bound."""
    from zoo.metrics import iwae_log_likelihood

    test = model.evaluate(x_test, batch_size=512, verbose=0, return_dict=True)
    scores = {"test loss": test["loss"], "test reconstruction": test["reconstruction_loss"],
              "test KL": test["kl_loss"]}
    if args.reconstruction_loss == "bce" and args.binarize:
        scored = x_test[:args.iwae_images or None]
        scores["IWAE log-likelihood"] = iwae_log_likelihood(model, scored, k=args.iwae_k,
                                                            seed=args.seed)
        scores.update({"IWAE k": args.iwae_k, "IWAE test images": len(scored)})
    return scores


def _save_preset(model, args, argv, dataset, row) -> None:
    """The trained model as preset ``args.preset``, its card holding this run's command and
    the table's test scores."""
    from zoo.presets import metric

    metrics = (card_metrics(row, ["test loss", "test reconstruction", "test KL"],
                            len(dataset.x_test))
               + card_metrics(row, ["domain FID", "domain FID real vs real"], args.fid_samples))
    if "IWAE log-likelihood" in row:
        metrics.append(metric("iwae_log_likelihood_nats", row["IWAE log-likelihood"],
                              samples=row["IWAE test images"], k=row["IWAE k"]))
    save_recipe_preset(model, "vae", args, argv, dataset, metrics,
                       {"epochs": row["epochs"], "seconds": row["train seconds"]})


def _write_figures(model, args, dataset, x_test, history, samples, out) -> None:
    """Loss curves, reconstructions, samples and a latent traversal."""
    from zoo.analysis import latent_traversal
    from zoo.plotting import image_grid, image_rows, training_curves

    training_curves(history, out / "loss_curves.png",
                    groups=[[k, f"val_{k}"] for k in ("loss", "reconstruction_loss", "kl_loss")],
                    title=f"VAE on {dataset.name} (latent {args.latent_dim}, beta {args.beta:g})")
    shown = shown_examples(dataset)
    image_rows({"test image": x_test[shown], "reconstruction": model.reconstruct(x_test[shown])},
               out / "reconstructions.png", title="Test images and decoded posterior means")
    image_grid(samples[:64], out / "samples.png", ncols=8, title="Decoded draws z ~ N(0, I)")
    z_mean, components = posterior_mean_and_used_components(model, x_test[shown[0]])
    grid = latent_traversal(model, z_mean, components=components, span=3.0, steps=11)
    image_rows({f"z[{c}]": row for c, row in zip(components, grid)}, out / "latent_traversal.png",
               title="Latent traversal: one component moved by -3 to +3 around the posterior "
                     "mean, the others fixed")


def posterior_mean_and_used_components(model, image, count: int = 8):
    """``image``'s posterior mean and its ``count`` components of largest KL to N(0, 1).

    Those are the components the posterior of ``image`` actually uses; the others sit at
    the prior and decode to the same picture whatever their value.
    """
    from keras import ops

    # A direct call, not predict: one image cannot be split across replicas.
    z_mean, z_log_var, _ = (ops.convert_to_numpy(t)[0]
                            for t in model.encoder(image[None], training=False))
    kl = 0.5 * (z_mean**2 + np.exp(z_log_var) - 1.0 - z_log_var)
    return z_mean, np.argsort(-kl)[:count]


if __name__ == "__main__":
    main(sys.argv[1:])
