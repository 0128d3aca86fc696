"""Latent-space analysis: autoencoder vs. VAE codes, embeddings, traversals, samples, scores.

Trains a ConvAutoencoder and a VAE (same latent size and trunk) and writes: PCA and
t-SNE scatters of the test codes coloured by class, per-class ellipses (mean ± 1 std
along the embedded axes) with the table of ``|std 1 - std 2| / mean std`` per class, latent
traversals, decoded random codes from N(0, I) and from a Gaussian fitted to the
encoded training set, interpolations, and k-NN / linear-probe / silhouette scores.

    python -m recipes.latent --quick
    python -m recipes.latent --dataset mnist --data-dir "$ZOO_DATA_DIR" --epochs 5
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ._common import (add_model_arguments, base_parser, build_autoencoder, no_labels,
                      positive_int, prepare, shown_examples)


def build_parser() -> argparse.ArgumentParser:
    """The recipe's options (`run all` routes to it only the options it takes)."""
    parser = base_parser(__doc__.splitlines()[0], epochs=10, quick_epochs=4, name="latent")
    add_model_arguments(parser, latent_dim=16)
    parser.add_argument("--tsne-points", type=positive_int, default=2000,
                        help="test points embedded by t-SNE (at most 1000 with --quick)")
    parser.add_argument("--traversal-components", type=positive_int, default=8)
    return parser


def parse_args(argv):
    return build_parser().parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    dataset, out = prepare(args, "latent")
    tsne_points = min(args.tsne_points, 1000) if args.quick else args.tsne_points

    from zoo.analysis import class_statistics, embed_2d, encode_dataset, isotropy_table, latent_scores
    from zoo.plotting import plot_class_ellipses, plot_embedding
    from ._report import LATENT_COLUMNS, computed_on, write_table

    models = _trained_models(args, dataset, out)
    rng = np.random.default_rng(args.seed)
    shown = rng.choice(len(dataset.x_test), min(tsne_points, len(dataset.x_test)), replace=False)
    labels = dataset.y_test[shown] if dataset.labelled else None
    if labels is None:
        no_labels("latent", "class ellipses, per-class statistics and kNN/probe/silhouette scores")
    titles = {"pca": "PCA", "tsne": "t-SNE"}
    scores, embeddings = [], {m: {} for m in titles}
    for name, model in models.items():
        train_codes = encode_dataset(model, dataset.x_train)
        test_codes = encode_dataset(model, dataset.x_test)
        if labels is not None:
            measured = latent_scores(train_codes, dataset.y_train, test_codes, dataset.y_test)
            scores.append({"model": name, "latent dim": args.latent_dim,
                           **{LATENT_COLUMNS[key]: value for key, value in measured.items()}})
            print(f"[latent] {name}: {scores[-1]}", flush=True)
        for method in embeddings:
            embeddings[method][name] = embed_2d(test_codes[shown], method=method, seed=args.seed)
        _decoded_figures(name, model, train_codes, test_codes[0], args, dataset, out)

    for method, title in titles.items():
        plot_embedding({f"{name} ({title})": e for name, e in embeddings[method].items()}, labels,
                       out / f"scatter_{method}.png", dataset.class_names,
                       title=f"{dataset.name} test codes, {len(shown)} points")
        if labels is None:
            continue
        statistics = {name: class_statistics(embedding, labels, dataset.class_names)
                      for name, embedding in embeddings[method].items()}
        plot_class_ellipses({f"{name} ({title})": s for name, s in statistics.items()},
                            out / f"ellipses_{method}.png",
                            title="per-class mean ± 1 std along the embedded axes")
        write_table(isotropy_table(statistics, key="relative_std_gap"),
                    out / f"isotropy_{method}",
                    f"|std 1 - std 2| / mean std per class along the {title} axes of "
                    f"{len(shown)} test codes (0: round classes; unitless, since AE and VAE "
                    f"codes have different scales)")
    if scores:
        write_table(scores, out / "scores",
                    "Latent-space scores (probe and kNN fitted on training codes) of "
                    + computed_on(dataset, args.epochs, args.quick, images="test codes"))
    print(f"[latent] wrote {out}", flush=True)
    return scores


def _trained_models(args, dataset, out) -> dict:
    """An autoencoder and a VAE of the same latent size and trunk, trained resumably."""
    import keras

    from zoo import VAE, make_dataset, save_model
    from zoo.training import resumable_callbacks

    models = {"AE": build_autoencoder(args, dataset.image_shape),
              "VAE": VAE(latent_dim=args.latent_dim, architecture="conv", filters=args.filters,
                         dense_units=args.dense_units, input_shape=dataset.image_shape,
                         seed=args.seed)}
    models["VAE"].compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                          steps_per_execution=args.steps_per_execution)
    for name, model in models.items():
        model.fit(make_dataset(dataset.x_train, batch_size=args.batch_size, seed=args.seed),
                  validation_data=make_dataset(dataset.x_val, batch_size=512, shuffle=False),
                  epochs=args.epochs, callbacks=resumable_callbacks(out / f"run_{name}"), verbose=2)
        save_model(model, out / f"{name}.keras")
    return models


def _decoded_figures(name, model, train_codes, base_code, args, dataset, out) -> None:
    """``name``'s traversal around ``base_code``, decoded random codes and interpolations."""
    from zoo.analysis import decode_codes, interpolate, latent_traversal, sample_codes
    from zoo.plotting import image_grid, image_rows

    spread = train_codes.std(axis=0)
    components = np.argsort(spread)[::-1][:args.traversal_components]
    grid = latent_traversal(model, base_code, components=components, span=2.0, steps=9,
                            scale=spread)
    image_rows({f"z[{c}]": row for c, row in zip(components, grid)},
               out / f"traversal_{name}.png",
               title=f"{name}: one component from -2 to +2 std, others fixed "
                     f"(most spread components first)")
    image_rows({
        "z ~ N(0, I)": decode_codes(model, sample_codes(10, args.latent_dim, args.seed)),
        "fitted Gaussian": decode_codes(model, sample_codes(10, args.latent_dim, args.seed,
                                                            fit_to=train_codes)),
        "fitted mixture of 10": decode_codes(model, sample_codes(
            10, args.latent_dim, args.seed, fit_to=train_codes, method="gmm", components=10)),
    }, out / f"samples_{name}.png", title=f"{name}: decoded random codes")
    pairs = shown_examples(dataset)
    image_grid(np.concatenate([interpolate(model, dataset.x_test[a], dataset.x_test[b], 10)
                               for a, b in zip(pairs[:-1:2], pairs[1::2])]),
               out / f"interpolation_{name}.png", ncols=10,
               title=f"{name}: linear interpolation in latent space")


if __name__ == "__main__":
    main(sys.argv[1:])
