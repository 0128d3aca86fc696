"""Pretrained presets: small `.keras` files with model cards, loadable offline by name.

Two folders hold presets. A user's own live in `user_preset_dir` (``$ZOO_PRESET_DIR`` if
set, else a per-user data folder), where `save_preset` writes unless given a ``folder``;
the shipped ones live with the package (``saved_models/`` in a source checkout, installed
as ``zoo/saved_models``) and are written there only explicitly. A name is looked up in the
user's folder first, then among the shipped presets; a path to a ``.keras`` file loads
that file. For each name, ``<name>.keras`` (weights and config, no optimizer state) and
``<name>.json`` (the model card: test metrics, data source, the exact training command),
rendered for people as ``<name>.md``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import keras

from zoo.base import ZooModel
from zoo.saving import atomic_path, save_model


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
    """The model card of preset ``name`` (metrics, data, command)."""
    return json.loads(_existing(name, ".json").read_text())


def load_preset(name: str, expected_class=None) -> keras.Model:
    """Load preset ``name``; with ``expected_class``, check the model is one."""
    model = keras.saving.load_model(_existing(name, ".keras"))
    if expected_class is not None and not isinstance(model, expected_class):
        raise ValueError(f"preset {name!r} is a {type(model).__name__}, not a {expected_class.__name__}")
    return model


def save_preset(model: keras.Model, name: str, card: dict, folder=None) -> Path:
    """Save ``model`` (weights only, no optimizer state) as preset ``name`` with its card,
    in ``folder`` (default: `user_preset_dir`; ``saved_models/`` of a checkout for a preset
    to ship). Returns the ``.keras`` file written.

    ``card`` holds at least ``"command"`` (how it was trained), ``"data"`` and ``"metrics"``
    (a dict of test-set numbers); ``"notes"``, if given, says in prose what the command
    does and why (the card's "Notes" section).
    """
    check_preset_name(name)
    if not isinstance(card, dict):
        raise TypeError(f"card must be a dict with 'command', 'data' and 'metrics', got "
                        f"{type(card).__name__}")
    missing = {"command", "data", "metrics"} - set(card)
    if missing:
        raise ValueError(f"a model card needs {sorted(missing)}")
    # A fresh copy carries no optimizer, which would triple the file size.
    bare = type(model).from_config(model.get_config())
    bare.set_weights(model.get_weights())
    folder = Path(folder) if folder is not None else user_preset_dir()
    save_model(bare, folder / f"{name}.keras")
    card = {"name": name, "class": type(model).__name__, "config": _plain(model.get_config()), **card}
    write_card(card, folder)
    return folder / f"{name}.keras"


def write_card(card: dict, folder=None) -> None:
    """Write ``<name>.json`` and its human-readable ``<name>.md`` into ``folder``
    (default: `user_preset_dir`)."""
    folder = Path(folder) if folder is not None else user_preset_dir()
    name = check_preset_name(card["name"])
    with atomic_path(folder / f"{name}.json") as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    zoo_class = keras.saving.get_registered_object(f"zoo>{card['class']}")
    loader = (f'{card["class"]}.from_preset("{name}")'
              if zoo_class is not None and issubclass(zoo_class, ZooModel)
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
