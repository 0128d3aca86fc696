"""Pretrained presets: small `.keras` files with model cards, loadable offline by name.

Two folders hold presets. A user's own live in `user_preset_dir` (``$ZOO_PRESET_DIR`` if
set, else a per-user data folder), where `save_preset` writes unless given a ``folder``;
the shipped ones live with the package (``saved_models/`` in a source checkout, installed
as ``zoo/saved_models``) and are written there only explicitly. A name is looked up in the
user's folder first, then among the shipped presets; a path to a ``.keras`` file loads
that file. For each name, ``<name>.keras`` (weights and config, no optimizer state) and
``<name>.json``, the model card as data, rendered for people as ``<name>.md``:

- ``command`` (the exact training command), ``data`` (what it was trained on), ``notes``
  (prose; every figure it states is one of the card's own, so a figure is said once);
- ``metrics``: a list of `metric` records, ``{"name", "value", "split", "samples",
  "setting"}``; `card_metric` reads one back;
- ``goals`` (optional): `goal` records, the targets the metrics are held to;
  `goal_reached` says which are met;
- ``references`` (optional): `reference` records, published figures to compare with;
- ``training``: ``epochs``, ``seconds`` and what else the run says of itself;
- ``metadata``: as keras-hub's ``metadata.json``, the versions it was saved with, its
  ``parameter_count``, ``date_saved``, and ``compile``, the optimizer (and loss) it was
  trained with: `load_preset` compiles the model with it, so a preset trains further with
  ``fit`` straight away.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import numbers
import os
import re
from pathlib import Path

import keras

from zoo.base import ZooModel
from zoo.saving import atomic_path, save_model
from zoo.validation import check_choice, check_positive_int

METRIC_NAME = re.compile(r"[a-z][a-z0-9_]*")
SPLITS = ("test", "validation", "train", "none")  # "none": a speed, measured on no data
# How a machine runs the steps, not what was trained: left to the machine that loads it
# (jit_compile=False would turn JAX's compilation off).
EXECUTION_SETTINGS = ("run_eagerly", "steps_per_execution", "jit_compile")


def shipped_preset_dir() -> Path:
    """The presets shipped with deepzoo (read-only for a user: an install replaces them)."""
    package = Path(__file__).resolve().parent
    installed = package / "saved_models"  # a wheel or `pip install .`
    return installed if installed.is_dir() else package.parent / "saved_models"  # a checkout


def user_preset_dir() -> Path:
    """Where a user's presets live: ``$ZOO_PRESET_DIR`` if set, else
    ``$XDG_DATA_HOME/deepzoo/presets`` (``~/.local/share/deepzoo/presets``; on Windows
    ``%LOCALAPPDATA%\\deepzoo\\presets``), never inside the installed package."""
    if os.environ.get("ZOO_PRESET_DIR"):
        return Path(os.environ["ZOO_PRESET_DIR"])
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "deepzoo" / "presets"
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "deepzoo" / "presets"


def preset_dirs() -> list:
    """The folders a name is looked up in, in order: the user's, then the shipped one."""
    return [user_preset_dir(), shipped_preset_dir()]


def list_presets(*, shipped_only: bool = False) -> list:
    """Names of the presets in `preset_dirs` (only the shipped ones with ``shipped_only``)."""
    folders = [shipped_preset_dir()] if shipped_only else preset_dirs()
    return sorted({p.stem for folder in folders for p in folder.glob("*.keras")})


def preset_card(name: str) -> dict:
    """The model card of preset ``name``: command, data, training, metrics (records, see
    `metric`), metadata."""
    return json.loads(_existing(name, ".json").read_text())


def load_preset(name: str, expected_class=None) -> keras.Model:
    """Load preset ``name``, compiled as its card says it was trained (ready to ``fit``,
    with a fresh optimizer); with ``expected_class``, check the model is one."""
    path = _existing(name, ".keras")
    model = keras.saving.load_model(path)
    if expected_class is not None and not isinstance(model, expected_class):
        raise ValueError(f"preset {name!r} is a {type(model).__name__}, not a {expected_class.__name__}")
    card = path.with_suffix(".json")
    # A card written before cards carried metadata loads the model uncompiled, as it was.
    metadata = json.loads(card.read_text()).get("metadata", {}) if card.is_file() else {}
    compile_config = metadata.get("compile")
    if compile_config:
        model.compile_from_config(compile_config)
    return model


def metric(name: str, value, *, split: str = "test", samples: int | None = None,
           **setting) -> dict:
    """One figure of a model card, as data.

    ``name`` is a machine key, snake_case, with its unit where it has one (``mse``,
    ``domain_fid``, ``psnr_db``, ``prior_nll_nats``); ``value`` a number; ``split`` the
    data it was measured on (``"none"`` for a speed); ``samples`` how many images or
    draws it averages over (None where nothing was counted); ``setting`` whatever else
    qualifies it, as scalars (``guidance=0.0``, ``k=1000``, ``labels_per_class=10``).
    """
    if not isinstance(name, str) or not METRIC_NAME.fullmatch(name):
        raise ValueError(f"a metric name is a snake_case key such as 'domain_fid', got {name!r}")
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"metric {name!r} must have a number as value, got {value!r}")
    for key, qualifier in setting.items():
        if not isinstance(qualifier, (str, numbers.Real)):
            raise TypeError(f"metric {name!r}: setting {key}={qualifier!r} must be a str or number")
    return {"name": name, "value": _plain_number(value),
            "split": check_choice(split, "split", SPLITS),
            "samples": None if samples is None else int(check_positive_int(samples, "samples")),
            "setting": {key: qualifier if isinstance(qualifier, str) else _plain_number(qualifier)
                        for key, qualifier in sorted(setting.items())}}


def _plain_number(value):
    """``value`` as a Python int or float (JSON writes no NumPy scalar)."""
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def card_metric(card: dict, name: str, *, samples: int | None = None, **setting):
    """The value of ``card``'s metric ``name`` measured with exactly ``setting`` (and on
    ``samples`` images or draws, where the card holds the metric for several counts)."""
    found = [record for record in card["metrics"] if record["name"] == name
             and record["setting"] == setting and samples in (None, record["samples"])]
    if len(found) == 1:
        return found[0]["value"]
    if found:
        raise KeyError(f"{card['name']} holds {name!r} with {setting} for samples "
                       f"{sorted(r['samples'] for r in found)}: say which")
    held = sorted({f"{r['name']}{r['setting'] or ''}" for r in card["metrics"]})
    raise KeyError(f"{card['name']} has no metric {name!r} with setting {setting}; it has {held}")


BETTER = ("higher", "lower")


def goal(name: str, target, *, better: str, samples: int | None = None, **setting) -> dict:
    """A target of a model card: its metric ``name`` reaches ``target`` at or above it
    (``better="higher"``) or at or below it (``"lower"``). Only the card's records measured
    with ``setting`` (and on ``samples`` draws, if given) count: ``guidance=0.0`` holds an
    unguided goal to the unguided scores. `goal_reached` checks it."""
    record = metric(name, target, samples=samples, **setting)  # the same checks
    return {"name": record["name"], "target": record["value"],
            "better": check_choice(better, "better", BETTER), "samples": record["samples"],
            "setting": record["setting"]}


def goal_reached(card: dict, target: dict):
    """``(reached, record)``: whether ``card`` meets goal ``target`` (a `goal` record), and
    its best metric record that counts for it; ``(False, None)`` when none was measured."""
    counted = [record for record in card["metrics"] if record["name"] == target["name"]
               and target["samples"] in (None, record["samples"])
               and target["setting"].items() <= record["setting"].items()]
    if not counted:
        return False, None
    sign = 1 if target["better"] == "higher" else -1
    best = max(counted, key=lambda record: sign * record["value"])
    return sign * best["value"] >= sign * target["target"], best


def reference(name: str, value, *, source: str, samples: int | None = None, **setting) -> dict:
    """A published figure a card's metric ``name`` is compared with: ``value`` as
    ``source`` (paper or page, and the model it is of) reports it, measured with
    ``setting``."""
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"reference {name!r} needs its source, got {source!r}")
    record = metric(name, value, samples=samples, **setting)  # the same checks
    return {"name": record["name"], "value": record["value"], "source": source,
            "samples": record["samples"], "setting": record["setting"]}


def preset_metadata(model: keras.Model) -> dict:
    """What keras-hub's ``metadata.json`` says of a preset, and how it was compiled."""
    backend = keras.backend.backend()
    from zoo import __version__

    return {
        "zoo_version": __version__,
        "keras_version": keras.version(),
        "backend": backend,
        "backend_version": importlib.metadata.version(backend),
        "parameter_count": (model.parameter_count() if isinstance(model, ZooModel)
                            else model.count_params()),
        "date_saved": datetime.date.today().isoformat(),
        "compile": {key: value for key, value in (model.get_compile_config() or {}).items()
                    if key not in EXECUTION_SETTINGS} or None,
    }


def save_preset(model: keras.Model, name: str, card: dict, folder=None) -> Path:
    """Save ``model`` (weights only, no optimizer state) as preset ``name`` with its card,
    in ``folder`` (default: `user_preset_dir`; ``saved_models/`` of a checkout for a preset
    to ship). Returns the ``.keras`` file written.

    ``card`` holds ``"command"`` (how it was trained), ``"data"`` and ``"metrics"`` (a list
    of `metric` records); ``"training"`` (``epochs``, ``seconds``, ...), ``"notes"`` (in
    prose, what the command does and why), ``"goals"`` (`goal` records) and
    ``"references"`` (`reference` records) if there are any. The card's ``metadata``
    comes from the model (`preset_metadata`): compile it as it was trained.
    """
    check_preset_name(name)
    if not isinstance(card, dict):
        raise TypeError(f"card must be a dict with 'command', 'data' and 'metrics', got "
                        f"{type(card).__name__}")
    missing = {"command", "data", "metrics"} - set(card)
    if missing:
        raise ValueError(f"a model card needs {sorted(missing)}")
    metrics = [metric(record["name"], record["value"], split=record["split"],
                      samples=record["samples"], **record["setting"])
               for record in card["metrics"]]
    checked = {"goals": [goal(r["name"], r["target"], better=r["better"], samples=r["samples"],
                              **r["setting"]) for r in card.get("goals", [])],
               "references": [reference(r["name"], r["value"], source=r["source"],
                                        samples=r["samples"], **r["setting"])
                              for r in card.get("references", [])]}
    # A fresh copy carries no optimizer, which would triple the file size.
    bare = type(model).from_config(model.get_config())
    bare.set_weights(model.get_weights())
    folder = Path(folder) if folder is not None else user_preset_dir()
    save_model(bare, folder / f"{name}.keras")
    write_card({"name": name, "class": type(model).__name__, "config": _plain(model.get_config()),
                "training": {}, **card, "metrics": metrics,
                **{key: records for key, records in checked.items() if records},
                "metadata": preset_metadata(model)}, folder)
    return folder / f"{name}.keras"


def write_card(card: dict, folder=None) -> None:
    """Write ``<name>.json`` and its human-readable ``<name>.md`` into ``folder``
    (default: `user_preset_dir`)."""
    folder = Path(folder) if folder is not None else user_preset_dir()
    name = check_preset_name(card["name"])
    with atomic_path(folder / f"{name}.json") as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    with atomic_path(folder / f"{name}.md") as tmp:
        tmp.write_text(card_markdown(card))


def card_markdown(card: dict) -> str:
    """The model card ``card`` for people: its metrics as a table, training, provenance."""
    zoo_class = keras.saving.get_registered_object(f"zoo>{card['class']}")
    loader = (f'{card["class"]}.from_preset("{card["name"]}")'
              if zoo_class is not None and issubclass(zoo_class, ZooModel)
              else f'zoo.presets.load_preset("{card["name"]}")')
    shown = lambda value: f"{value:.4g}" if isinstance(value, float) else str(value)
    setting = lambda record: ", ".join(f"{k}={v}" for k, v in record["setting"].items())
    metric_rows = "".join(
        f"| {r['name']} | {shown(r['value'])} | {r['split']} | "
        f"{'' if r['samples'] is None else format(r['samples'], ',')} | "
        f"{setting(r)} |\n" for r in card["metrics"])
    goal_rows = ""
    for target in card.get("goals", []):
        reached, best = goal_reached(card, target)
        goal_rows += (f"| {target['name']} | {'≥' if target['better'] == 'higher' else '≤'} "
                      f"{shown(target['target'])} | {setting(target)} | "
                      f"{'not measured' if best is None else shown(best['value'])} | "
                      f"{'' if best is None else setting(best)} | {'yes' if reached else 'no'} |\n")
    reference_rows = "".join(f"| {r['name']} | {shown(r['value'])} | {setting(r)} | {r['source']} |\n"
                             for r in card.get("references", []))
    training = ", ".join(f"{key.replace('_', ' ')} {shown(value)}"
                         for key, value in card["training"].items())
    meta = card["metadata"]
    optimizer = _optimizer_text(meta["compile"])
    return (
        f"# {card['name']}\n\n{card['class']} trained on {card['data']}.\n\n"
        f"## Metrics\n\n| metric | value | split | samples | setting |\n|---|---|---|---|---|\n"
        f"{metric_rows}\n"
        + (f"## Goals\n\n| metric | goal | for | best here | at | reached |\n"
           f"|---|---|---|---|---|---|\n{goal_rows}\n" if goal_rows else "")
        + (f"## References\n\n| metric | value | setting | source |\n|---|---|---|---|\n"
           f"{reference_rows}\n" if reference_rows else "")
        + (f"## Notes\n\n{card['notes']}\n\n" if card.get("notes") else "")
        + f"## Training\n\n{training or 'not recorded'}; {optimizer}.\n\n"
        f"With `ZOO_DATA_DIR` pointing at the IDX files (see the README's Data section), in a "
        f"checkout of deepzoo:\n\n```bash\n{card['command']}\n```\n\n"
        f"## Metadata\n\n{meta['parameter_count']:,} parameters; saved {meta['date_saved']} "
        f"by deepzoo {meta['zoo_version']}, Keras {meta['keras_version']} on "
        f"{meta['backend']} {meta['backend_version']}.\n\n"
        f"Load it with `{loader}`: compiled as above, ready to `fit` further.\n"
    )


def _optimizer_text(compile_config) -> str:
    """``compile_config``'s optimizers in a few words: ``Adam (learning rate 0.001)``."""
    if not compile_config:
        return "loaded uncompiled"
    optimizers = {key: value for key, value in compile_config.items()
                  if isinstance(value, dict) and value.get("module") == "keras.optimizers"}
    def rate(config):
        value = config.get("learning_rate")
        return f" (learning rate {value:.3g})" if isinstance(value, numbers.Real) else ""

    said = [f"{'' if key == 'optimizer' else key + ' '}{value['class_name']}{rate(value['config'])}"
            for key, value in optimizers.items()]
    return "trained with " + " and ".join(said)


PRESET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_preset_name(name) -> str:
    """``name`` if it is a preset name: up to 64 letters, digits, ``_`` and ``-``, starting
    with a letter or digit. No separator and no ``..``: a name stays in its folder."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a preset name (a str), got {name!r} of type "
                        f"{type(name).__name__}; list_presets() gives the names")
    if not PRESET_NAME.fullmatch(name):
        raise ValueError(f"preset name {name!r} must be up to 64 letters, digits, '_' and '-', "
                         "starting with a letter or digit (no path separators or '..'); "
                         "to load a file, pass its path ending in .keras")
    return name


def _existing(name: str, suffix: str) -> Path:
    """The ``suffix`` file of preset ``name``: a path to its ``.keras`` file, or a name
    looked up in `preset_dirs`."""
    if isinstance(name, str) and name.endswith(".keras"):  # a path, meant as one
        path = Path(name).with_suffix(suffix)
        if not path.is_file():
            raise ValueError(f"no preset at {path}")
        return path
    check_preset_name(name)
    for folder in preset_dirs():
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    raise ValueError(f"no preset {name!r} in {' or '.join(map(str, preset_dirs()))}; "
                     f"available: {', '.join(list_presets()) or 'none'}")


def _plain(config: dict) -> dict:
    """The scalar settings of a config (a functional model's layer graph is left out)."""
    scalar = (int, float, str, bool)
    return {k: v for k, v in config.items()
            if isinstance(v, scalar) or isinstance(v, (list, tuple)) and all(isinstance(i, scalar) for i in v)}
