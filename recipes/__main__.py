"""Run the study's recipes in order and gather them into one HTML report.

Installed, the command is ``deepzoo``; in a source checkout ``python -m recipes`` is the same::

    deepzoo run all --quick                  # every recipe on the embedded sample
    deepzoo run autoencoder vae --data-dir "$ZOO_DATA_DIR"
    deepzoo run all --dtype-policy mixed_bfloat16 --steps-per-execution 50   # on a GPU
    deepzoo autoencoder --help               # one recipe on its own
    deepzoo list
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
import traceback
from importlib import metadata as importlib_metadata
from pathlib import Path

from . import _common  # first: it quiets TensorFlow before TensorFlow loads

import zoo  # noqa: E402  (after _common, for the same reason)

# Report order: the autoencoder first (everything else builds on it), then its uses.
RECIPES = {
    "autoencoder": "Convolutional autoencoder",
    "denoising": "Denoising autoencoder",
    "finetune": "Transfer learning vs. training from scratch",
    "latent": "Latent space: AE vs. VAE",
    "vae": "Variational autoencoder",
    "gan": "Generative adversarial network",
    "conditional": "Class-conditional generation",
    "vqvae": "VQ-VAE with a PixelCNN prior",
    "diffusion": "Guided diffusion",
    "tuning": "Hyperparameter search and cross-validation",
    "compare": "Every shipped preset side by side",
}
PACKAGES = ("deepzoo", "keras", "tensorflow", "jax", "torch", "keras-tuner", "scikit-learn",
            "matplotlib", "tensorflow-datasets", "numpy")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in RECIPES:  # one recipe, with its own options
        importlib.import_module(f".{argv[0]}", __package__).main(argv[1:])
        return 0
    parser = _parser()
    # Options the orchestrator does not know (e.g. --data-dir, --export) go to the recipes
    # that take them (see _route).
    args, passthrough = parser.parse_known_args(argv)
    if args.command == "list":
        for name, title in RECIPES.items():
            print(f"{name:12s} {title}")
        return 0

    names = list(RECIPES) if args.recipes == ["all"] else args.recipes
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {unknown}; choose from {list(RECIPES)} or 'all'")
    routes = {name: _route(passthrough, name) for name in names}
    nowhere = set.intersection(*(set(skipped) for _, skipped in routes.values()))
    if nowhere:
        parser.error(f"no recipe of {names} takes {sorted(nowhere)}; see each recipe's --help")
    out = args.out or Path("reports") / (_common.report_folder_name(args.dataset)
                                         + ("-quick" if args.quick else ""))
    if complaint := _common.out_inside_data(args.dataset, out):
        parser.error(complaint)
    # Spelled out even at their defaults, so that a rerun compares them as options.
    common = ["--dataset", args.dataset, "--seed", str(args.seed), "--out", str(out),
              "--dtype-policy", args.dtype_policy,
              "--steps-per-execution", str(args.steps_per_execution)]
    common += ["--quick"] * args.quick
    for name in names:  # a bad value ends the run in one line, before anything trains
        importlib.import_module(f".{name}", __package__).build_parser().parse_args(
            common + routes[name][0])

    record = out / "study.json"
    kept = _interrupted_results(record, common + passthrough)
    results = []
    for i, name in enumerate(names, 1):
        if name in kept:
            print(f"\n=== [{i}/{len(names)}] {name}: {kept[name]['status']} in "
                  f"{kept[name]['seconds']:.0f} s before the interruption, not rerun ===", flush=True)
        taken, skipped = routes[name]
        if skipped and name not in kept:
            print(f"[run] {name} takes no {', '.join(skipped)}: not passed to it", flush=True)
        results.append(kept.get(name) or _run_recipe(name, common + taken, f"{i}/{len(names)}"))
        _write_record(record, common + passthrough, results)
    total = sum(result["seconds"] for result in results)

    from ._report import write_html_report

    sample = " (embedded sample)" if args.dataset in _common.zoo_data.CLASS_NAMES else ""
    metadata = {
        "dataset": args.dataset,
        "mode": f"quick{sample}" if args.quick else "full",
        "seed": args.seed,
        "backend": _backend(),
        "dtype policy": args.dtype_policy,
        "steps per execution": args.steps_per_execution,
        "wall time (s)": round(total, 1),  # the recipes' own seconds, summed over restarts
        "command": f"{_common.command_name()} {' '.join(argv)}",
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.system()}",
        **{name: _version(name) for name in PACKAGES},
    }
    title = f"deepzoo study: {args.dataset}" + (" (quick)" if args.quick else "")
    page = write_html_report(out, results, metadata, title)
    _write_record(record, common + passthrough, results, metadata)
    # A skipped recipe (finetune without labels) is no failure: the report says why.
    failed = [r["name"] for r in results if r["status"] == "failed"]
    skipped = [r["name"] for r in results if r["status"] == "skipped"]
    print(f"\nreport: {page.resolve()} ({total:.0f} s; {len(failed)} failed {failed or ''}"
          + (f"; {len(skipped)} skipped {skipped}" if skipped else "") + ")")
    return 1 if failed else 0


def _route(passthrough: list, name: str) -> tuple:
    """``(taken, skipped)``: the options of ``passthrough`` (each with its values) that
    recipe ``name``'s parser knows, and the option names it does not (``--export`` goes to
    the recipes that export, not to latent, denoising or tuning)."""
    recipe = importlib.import_module(f".{name}", __package__)
    known = {option for action in recipe.build_parser()._actions for option in action.option_strings}
    taken, skipped, keep = [], [], False
    for word in passthrough:
        if word.startswith("--"):  # an option; the words up to the next one are its values
            option = word.split("=")[0]
            keep = option in known
            if not keep:
                skipped.append(option)
        if keep:
            taken.append(word)
    return taken, skipped


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_common.command_name(), description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"deepzoo {zoo.__version__}")
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{list,run," + ",".join(RECIPES) + "}")
    commands.add_parser("list", help="list the recipes")
    for name, title in RECIPES.items():
        # Parsed by the recipe itself (in main); listed here for --help.
        commands.add_parser(name, help=f"{title} (see {name} --help)", add_help=False)
    run = commands.add_parser("run", help="run recipes and write <out>/index.html")
    run.add_argument("recipes", nargs="+", help=f"'all' or any of: {', '.join(RECIPES)}")
    run.add_argument("--dataset", default="fashion_mnist", type=_common.dataset_spec,
                     help="a built-in name, tfds:<name> or a path, as for each recipe")
    run.add_argument("--quick", action="store_true", help="every recipe on the embedded sample, fast")
    run.add_argument("--out", type=Path, default=None,
                     help="default: reports/<dataset>[-quick], with the name of a folder or "
                          "the stem of a file as <dataset>")
    run.add_argument("--seed", type=_common.non_negative_int, default=0)
    _common.add_compute_arguments(run)
    return parser


def _write_record(path: Path, arguments: list, results: list, metadata=None) -> None:
    """``study.json``: the run for programs (benchmarks.quality tables its wall times) and
    for a rerun. Written after each recipe, with ``finished`` false until the report is."""
    from zoo.saving import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"finished": metadata is not None, "arguments": arguments,
              "metadata": metadata or {}, "recipes": results}
    with atomic_path(path) as tmp:  # a kill leaves the previous record whole
        tmp.write_text(json.dumps(record, indent=2))


def _interrupted_results(path: Path, arguments: list) -> dict:
    """The recipes that ended ok (or skipped) in an interrupted run with the same options,
    by name, so a rerun goes on where it was cut instead of retraining them (the recipes
    asked for may differ; failed ones run again). A finished run, like a finished `fit`,
    starts afresh; so does a run with other options."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if record.get("finished", True) or record.get("arguments") != arguments:
        return {}
    return {r["name"]: r for r in record.get("recipes", []) if r.get("status") in ("ok", "skipped")}


def _run_recipe(name: str, argv: list, position: str) -> dict:
    """Run one recipe; its ``status`` is "ok", "skipped" with the ``reason`` (it cannot
    run on this data) or "failed" with the ``error``, and ``seconds``."""
    import keras

    print(f"\n=== [{position}] {name}: {RECIPES[name]} ===", flush=True)
    if not _common.distributed():
        # Under a strategy, clearing would reuse collective-op keys of the last
        # recipe's (differently shaped) all-reduces.
        keras.backend.clear_session()
    started = time.perf_counter()
    result = {"name": name, "title": RECIPES[name]}
    try:
        importlib.import_module(f".{name}", __package__).main(argv)
        result["status"] = "ok"
    except _common.RecipeSkipped as skip:
        result.update(status="skipped", reason=skip.reason)
    except (Exception, SystemExit) as error:  # one broken recipe must not hide the others'
        if isinstance(error, SystemExit) and error.code in (None, 0):
            result["status"] = "ok"  # a recipe that ends early on purpose
        else:  # SystemExit too: a data error or an option this recipe refuses
            traceback.print_exc()
            result.update(status="failed", error=f"{type(error).__name__}: {error}")
    result["seconds"] = time.perf_counter() - started
    print(f"=== {name}: {result['status']} in {result['seconds']:.0f} s ===", flush=True)
    return result


def _backend() -> str:
    import keras

    return keras.backend.backend()


def _version(package: str) -> str:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
