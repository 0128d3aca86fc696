"""Saving without half-written files: a crash or kill leaves the old file, never half a new one."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path

import keras


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary sibling of ``path``; move it onto ``path`` only on success.

    Works for files and folders. A crash or kill inside the block leaves the old
    ``path`` untouched (plus, at worst, a stray ``.tmp-`` sibling), never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the suffix: keras.saving insists on ".keras".
    tmp = path.with_name(f".{path.stem}.tmp-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        yield tmp
        if tmp.is_dir() and path.exists():
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        else:
            os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def save_model(model: keras.Model, path) -> Path:
    """`model.save(path)` for a ``.keras`` file, atomically."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save_model writes .keras files, got {path}")
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path
