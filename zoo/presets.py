"""Pretrained presets: small `.keras` files with model cards, loadable offline by name.

Presets ship with the package (``saved_models/`` in a source checkout, installed as
``zoo/saved_models``); ``$ZOO_PRESET_DIR`` points at presets kept elsewhere. For each name, ``<name>.keras`` (weights and config, no optimizer state) and ``<name>.json``
(the model card: test metrics, data source, the exact training command), rendered for
people as ``<name>.md``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras

from zoo.export import atomic_path, save_model


def preset_dir() -> Path:
    """``$ZOO_PRESET_DIR`` if set, else the presets shipped with deepzoo."""
    if os.environ.get("ZOO_PRESET_DIR"):
        return Path(os.environ["ZOO_PRESET_DIR"])
    package = Path(__file__).resolve().parent
    installed = package / "saved_models"  # a wheel or `pip install .`
    return installed if installed.is_dir() else package.parent / "saved_models"  # a checkout


def list_presets() -> list:
    """Names of the presets in `preset_dir`."""
    return sorted(p.stem for p in preset_dir().glob("*.keras"))


def preset_card(name: str) -> dict:
    """The model card of preset ``name`` (metrics, data, command)."""
    return json.loads(_existing(name, ".json").read_text())


def load_preset(name: str, expected_class=None) -> keras.Model:
    """Load preset ``name``; with ``expected_class``, check the model is one."""
    model = keras.saving.load_model(_existing(name, ".keras"))
    if expected_class is not None and not isinstance(model, expected_class):
        raise ValueError(f"preset {name!r} is a {type(model).__name__}, not a {expected_class.__name__}")
    return model


def save_preset(model: keras.Model, name: str, card: dict) -> Path:
    """Save ``model`` (weights only, no optimizer state) as preset ``name`` with its card.

    ``card`` holds at least ``"command"`` (how it was trained), ``"data"`` and ``"metrics"``
    (a dict of test-set numbers); ``"notes"``, if given, says in prose what the command
    does and why (the card's "Notes" section).
    """
    _check_name(name)
    if not isinstance(card, dict):
        raise TypeError(f"card must be a dict with 'command', 'data' and 'metrics', got "
                        f"{type(card).__name__}")
    missing = {"command", "data", "metrics"} - set(card)
    if missing:
        raise ValueError(f"a model card needs {sorted(missing)}")
    # A fresh copy carries no optimizer, which would triple the file size.
    bare = type(model).from_config(model.get_config())
    bare.set_weights(model.get_weights())
    folder = preset_dir()
    save_model(bare, folder / f"{name}.keras")
    card = {"name": name, "class": type(model).__name__, "config": _plain(model.get_config()), **card}
    write_card(card, folder)
    return folder / f"{name}.keras"


def write_card(card: dict, folder=None) -> None:
    """Write ``<name>.json`` and its human-readable ``<name>.md`` into ``folder``."""
    folder = Path(folder or preset_dir())
    name = card["name"]
    with atomic_path(folder / f"{name}.json") as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    zoo_class = keras.saving.get_registered_object(f"zoo>{card['class']}")
    loader = (f'{card["class"]}.from_preset("{name}")' if hasattr(zoo_class, "from_preset")
              else f'zoo.presets.load_preset("{name}")')
    metric_rows = "".join(f"| {key} | {value:.4g} |\n" if isinstance(value, float)
                          else f"| {key} | {value} |\n" for key, value in card["metrics"].items())
    with atomic_path(folder / f"{name}.md") as tmp:
        tmp.write_text(
            f"# {name}\n\n{card['class']} trained on {card['data']}.\n\n"
            f"## Test metrics\n\n| metric | value |\n|---|---|\n{metric_rows}\n"
            + (f"## Notes\n\n{card['notes']}\n\n" if card.get("notes") else "")
            + f"## Training command\n\nWith `ZOO_DATA_DIR` pointing at the IDX files "
            f"(see the README's Data section), in a checkout of deepzoo:\n\n"
            f"```bash\n{card['command']}\n```\n\nLoad it with `{loader}`.\n"
        )


def _check_name(name) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be a preset name (a str), got {name!r} of type "
                        f"{type(name).__name__}; list_presets() gives the names")


def _existing(name: str, suffix: str) -> Path:
    _check_name(name)
    path = preset_dir() / f"{name}{suffix}"
    if not path.is_file():
        raise ValueError(f"no preset {name!r} in {preset_dir()}; available: "
                         f"{', '.join(list_presets()) or 'none'}")
    return path


def _plain(config: dict) -> dict:
    """The scalar settings of a config (a functional model's layer graph is left out)."""
    scalar = (int, float, str, bool)
    return {k: v for k, v in config.items()
            if isinstance(v, scalar) or isinstance(v, (list, tuple)) and all(isinstance(i, scalar) for i in v)}
