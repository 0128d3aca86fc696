"""Search autoencoder hyperparameters with KerasTuner, then cross-validate the best configuration.

    python -m recipes.tuning --quick
    python -m recipes.tuning --data-dir "$ZOO_DATA_DIR" --tuner bayesian --trials 12 --epochs 3 \\
        --train-subset 12000 --folds 5

Writes the optimisation history, the intermediate values (validation loss per epoch per
trial), parallel coordinates of the hyperparameters, the best configuration, every
trial, and the k-fold cross-validation table into ``<out>/tuning/``. The search lives in
``<out>/tuning/search/`` and resumes after an interruption unless ``--overwrite`` is given.
Run the same command under KerasTuner's ``KERASTUNER_*`` variables for a distributed
search (see `zoo.tuning`): workers train trials and exit, the chief writes the report.
"""

from __future__ import annotations

import argparse
import sys
import time

from ._common import base_parser, non_negative_int, positive_int, prepare


def build_parser() -> argparse.ArgumentParser:
    """The recipe's options (`run all` routes to it only the options it takes)."""
    from zoo import tuning

    parser = base_parser(__doc__.splitlines()[0], epochs=4, quick_epochs=2, name="tuning")
    parser.add_argument("--tuner", default="bayesian", choices=sorted(tuning.TUNERS))
    parser.add_argument("--trials", type=positive_int, default=None,
                        help="trials for random/bayesian (default 12; 4 with --quick); "
                             "Hyperband's budget is --epochs per model")
    parser.add_argument("--folds", type=positive_int, default=None,
                        help="cross-validation folds for the best configuration (default 5; 3 with --quick)")
    parser.add_argument("--cv-epochs", type=positive_int, default=None,
                        help="epochs per cross-validation fold (default --epochs)")
    parser.add_argument("--train-subset", type=non_negative_int, default=0,
                        help="search and cross-validate on the first N training images (0: all)")
    parser.add_argument("--patience", type=positive_int, default=2,
                        help="stop a trial after this many epochs without validation improvement")
    parser.add_argument("--overwrite", action="store_true",
                        help="start the search afresh instead of resuming <out>/tuning/search")
    parser.quick_default("trials", 12, 4)
    parser.quick_default("folds", 5, 3)
    return parser


def parse_args(argv):
    return build_parser().parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    dataset, out = prepare(args, "tuning")
    cv_epochs = args.cv_epochs or args.epochs

    import keras

    from zoo import tuning
    from zoo.crossval import cross_validate
    from zoo.training import tensorboard_logs
    from ._report import write_table

    x_train = dataset.x_train[:args.train_subset or None]
    hypermodel = tuning.AutoencoderHyperModel(input_shape=dataset.image_shape,
                                              steps_per_execution=args.steps_per_execution)
    tuner = tuning.make_tuner(args.tuner, hypermodel, out, project_name="search",
                              max_trials=args.trials, max_epochs=args.epochs, seed=args.seed,
                              overwrite=args.overwrite)
    started = time.perf_counter()
    # Trials resume at trial level (overwrite=False), so fits get no BackupAndRestore:
    # one backup folder shared by successive trials would restore the wrong model.
    tuner.search(x_train, epochs=args.epochs, validation_data=dataset.x_val,
                 batch_size=args.batch_size, verbose=2,
                 callbacks=[keras.callbacks.EarlyStopping("val_loss", patience=args.patience),
                            # KerasTuner gives each trial its own subfolder.
                            *tensorboard_logs(out / "tensorboard")])
    search_seconds = time.perf_counter() - started
    if tuning.distributed_role() == "worker":
        print("[tuning] worker done; the chief writes the report", flush=True)
        return {"role": "worker", "search seconds": round(search_seconds, 1)}

    records = tuning.trial_records(tuner)
    best = _write_search_report(tuner, records, args, dataset, out)

    best_hp = tuner.get_best_hyperparameters()[0]
    started = time.perf_counter()
    cv = cross_validate(lambda: hypermodel.build(best_hp), x_train, n_splits=args.folds,
                        epochs=cv_epochs, batch_size=args.batch_size, seed=args.seed,
                        run_dir=out / "cv_run")
    cv_seconds = time.perf_counter() - started
    write_table(cv.rows(), out / "cross_validation",
                f"{args.folds}-fold cross-validated test MSE of the best configuration "
                f"({len(x_train)} {dataset.name} training images, {dataset.source}, {cv_epochs} "
                f"epochs per fold)")
    summary = {
        "dataset": dataset.name,
        "data source": dataset.source,
        "tuner": args.tuner,
        "trials": sum(r["status"] == "COMPLETED" for r in records),
        "best val MSE": best["score"],
        "best configuration": {k: v for k, v in best.items() if k not in ("trial_id", "score")},
        "CV test MSE mean": cv.mean,
        "CV test MSE std": cv.std,
        "search seconds": round(search_seconds, 1),
        "CV seconds": round(cv_seconds, 1),
    }
    print(f"[tuning] best val MSE {best['score']:.5f}; {args.folds}-fold CV test MSE "
          f"{cv.mean:.5f} ± {cv.std:.5f}; wrote {out}", flush=True)
    return summary


def _write_search_report(tuner, records, args, dataset, out) -> dict:
    """The search's figures, its trials and the best configuration (returned)."""
    from zoo import plotting, tuning
    from ._report import write_table

    title = f"{args.tuner} search on {dataset.name}"
    plotting.plot_optimization_history(records, out / "optimization_history.png",
                                     title=f"Optimisation history, {title}")
    plotting.plot_intermediate_values(records, out / "intermediate_values.png",
                                    title=f"Validation MSE per epoch, {title}")
    plotting.plot_parallel_coordinates(records, out / "parallel_coordinates.png",
                                     log_names=tuning.log_scaled(tuner),
                                     title=f"Hyperparameters by validation MSE, {title}")
    write_table([{"trial": r["trial_id"], "status": r["status"], "val_loss": r["score"],
                  "epochs": len(r["epochs"]["epoch"]), **r["hyperparameters"]}
                 for r in records], out / "trials", f"All trials, {title}")
    best = tuning.best_configuration(tuner)
    write_table([{"hyperparameter": k, "value": v} for k, v in best.items()],
                out / "best_configuration", f"Best configuration, {title}")
    return best


if __name__ == "__main__":
    main(sys.argv[1:])
