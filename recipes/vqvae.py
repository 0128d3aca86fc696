"""Train a VQ-VAE and its PixelCNN prior; write reconstructions, samples, test MSE, prior likelihood and domain FID.

    python -m recipes.vqvae --quick
    python -m recipes.vqvae --data-dir "$ZOO_DATA_DIR" --epochs 30 --prior-epochs 30

Two stages, each resumable: the VQ-VAE (``--epochs``), saved to ``<out>/vqvae/stage1.keras``
when done, then the prior on its codes of the training images (``--prior-epochs``); a rerun
after a kill picks up where the run stopped.
"""

from __future__ import annotations

import argparse
import json
import sys

from ._common import (add_preset_arguments, base_parser, fraction, non_negative_int,
                      positive_float, positive_int, prepare, sample_scores, save_outputs,
                      save_recipe_preset, shown_examples, timed_fit, card_metrics)


def build_parser() -> argparse.ArgumentParser:
    """The recipe's options (`run all` routes to it only the options it takes)."""
    parser = base_parser(__doc__.splitlines()[0], epochs=30, quick_epochs=3, exportable=True,
                         name="vqvae")
    parser.add_argument("--embedding-dim", type=positive_int, default=16,
                        help="size of each codebook vector")
    parser.add_argument("--num-embeddings", type=positive_int, default=128, help="codebook size")
    parser.add_argument("--filters", type=positive_int, default=64)
    parser.add_argument("--residual-blocks", type=non_negative_int, default=2)
    parser.add_argument("--commitment", type=fraction, default=0.25, help="commitment weight")
    parser.add_argument("--learning-rate", type=positive_float, default=1e-3)
    parser.add_argument("--prior-epochs", type=positive_int, default=None,
                        help="epochs of the PixelCNN prior (default 30; 3 with --quick)")
    parser.add_argument("--prior-filters", type=positive_int, default=64)
    parser.add_argument("--prior-blocks", type=non_negative_int, default=6)
    parser.add_argument("--prior-learning-rate", type=positive_float, default=1e-3)
    parser.add_argument("--classifier-epochs", type=positive_int, default=3,
                        help="epochs of the domain-FID feature classifier")
    parser.add_argument("--fid-samples", type=positive_int, default=10_000,
                        help="samples from the prior (and test images) for the domain FID")
    add_preset_arguments(parser, "the trained model, prior included")
    parser.quick_default("prior_epochs", 30, 3)
    return parser


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    dataset, out = prepare(args, "vqvae")

    import keras

    from zoo import VQVAE, make_dataset, save_model
    from zoo.training import read_history, resumable_callbacks
    from ._report import computed_on, generative_columns, write_table

    stage = out / "stage1.keras"
    if stage.is_file():  # a rerun after the first stage ended: only the prior is left
        model = keras.saving.load_model(stage)
        timing = json.loads((out / "stage1.json").read_text())
    else:
        model = VQVAE(embedding_dim=args.embedding_dim, num_embeddings=args.num_embeddings,
                      filters=args.filters, residual_blocks=args.residual_blocks,
                      commitment=args.commitment, prior_filters=args.prior_filters,
                      prior_blocks=args.prior_blocks, input_shape=dataset.image_shape)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                      steps_per_execution=args.steps_per_execution)
        timing = timed_fit(model, make_dataset(dataset.x_train, batch_size=args.batch_size,
                                               seed=args.seed),
                           out / "run", len(dataset.x_train),
                           validation_data=make_dataset(dataset.x_val, batch_size=512,
                                                        shuffle=False),
                           epochs=args.epochs)
        save_model(model, stage)
        (out / "stage1.json").write_text(json.dumps(timing))
    keras.utils.set_random_seed(args.seed)
    model.fit_prior(dataset.x_train, epochs=args.prior_epochs, batch_size=args.batch_size,
                    validation_data=dataset.x_val,
                    optimizer=keras.optimizers.Adam(args.prior_learning_rate),
                    callbacks=resumable_callbacks(out / "run_prior"), verbose=2)

    test = model.evaluate(dataset.x_test, batch_size=512, verbose=0, return_dict=True)
    n = min(args.fid_samples, len(dataset.x_test), len(dataset.x_train))
    samples = model.generate(n, seed=args.seed)
    _figures(model, dataset, samples, read_history(out / "run"), read_history(out / "run_prior"),
             test["mse"], out)
    scores = sample_scores("vqvae", samples, dataset, args)
    row = {"dataset": dataset.name, "data source": dataset.source,
           "codebook": f"{args.num_embeddings} x {args.embedding_dim}",
           "grid": "x".join(map(str, model.grid_shape)),
           "epochs": len(read_history(out / "run")["loss"]),
           "prior epochs": len(read_history(out / "run_prior")["loss"]),
           "parameters": model.count_params(), "test MSE": test["mse"],
           "test perplexity": test["perplexity"],
           "prior NLL (nats/image)": model.prior_nll(dataset.x_test),
           **(generative_columns(scores) if scores else {}), "samples": n,
           "train seconds": timing["train seconds"]}
    write_table([row], out / "metrics", "VQ-VAE: test reconstruction, codebook use, the prior's "
                "negative log-likelihood of the test codes and the domain FID of its samples, "
                + computed_on(dataset, row["epochs"], args.quick))
    save_outputs(model, out, args.export)
    if args.preset:
        _save_preset(model, args, argv, dataset, row)
    fid = f", domain FID {row['domain FID']:.3f}" if scores else ""
    print(f"[vqvae] test MSE {row['test MSE']:.5f}, prior NLL "
          f"{row['prior NLL (nats/image)']:.1f} nats{fid}; wrote {out}", flush=True)
    return row


def _figures(model, dataset, samples, history, prior_history, test_mse, out) -> None:
    """Loss curves of both stages, reconstructions and samples from the prior."""
    from zoo.plotting import image_grid, image_rows, training_curves

    training_curves(history, out / "loss_curves.png",
                    groups=[["reconstruction_loss", "val_reconstruction_loss"],
                            ["vq_loss", "val_vq_loss"], ["perplexity", "val_perplexity"]],
                    title=f"VQ-VAE on {dataset.name}")
    training_curves(prior_history, out / "prior_loss_curves.png",
                    title="PixelCNN prior: cross-entropy per grid position (nats)")
    shown = dataset.x_test[shown_examples(dataset)]
    image_rows({"test image": shown, "reconstruction": model.reconstruct(shown)},
               out / "reconstructions.png",
               title=f"Test images and reconstructions from 7x7 codes, test MSE {test_mse:.5f}")
    image_grid(samples[:64], out / "samples.png", ncols=8,
               title="Grids drawn from the PixelCNN prior, decoded")


def _save_preset(model, args, argv, dataset, row) -> None:
    """The trained model, prior included, as preset ``args.preset``."""
    metrics = (card_metrics(row, ["test MSE", "test perplexity", "prior NLL (nats/image)"],
                            len(dataset.x_test))
               + card_metrics(row, ["domain FID", "domain FID real vs real", "min class share",
                                    "max class share"], row["samples"]))
    save_recipe_preset(model, "vqvae", args, argv, dataset, metrics,
                       {"epochs": row["epochs"], "prior_epochs": row["prior epochs"],
                        "seconds": row["train seconds"]})


if __name__ == "__main__":
    main(sys.argv[1:])
