"""Figures for the report: image grids and training curves, written to files.

Figures are plain `matplotlib.figure.Figure` objects, never pyplot's: drawing one neither
needs a display nor touches matplotlib's backend or pyplot's list of open figures, so a
notebook's own backend and figures are left alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from zoo.export import atomic_path


def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """``(figure, axes)`` like `matplotlib.pyplot.subplots`, without pyplot."""
    figure_kwargs = {k: kwargs.pop(k) for k in ("figsize", "dpi") if k in kwargs}
    fig = Figure(**figure_kwargs)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save_figure(fig, path) -> Path:
    """Save ``fig`` atomically, in the format of ``path``'s suffix (PNG by default)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    return path


def image_rows(rows: dict, path, title: str | None = None, cell: float = 0.9) -> Path:
    """A grid with one labelled row per entry of ``rows`` ({label: images (N, H, W, C)})."""
    return _draw_rows(list(rows.items()), path, title, cell)


def image_grid(images, path, ncols: int = 10, title: str | None = None, cell: float = 0.8) -> Path:
    """A plain ``ncols``-wide grid of images (N, H, W, C) in [0, 1]."""
    images = np.asarray(images)
    return _draw_rows([("", images[i:i + ncols]) for i in range(0, len(images), ncols)],
                      path, title, cell)


def _draw_rows(rows, path, title, cell):
    ncols = max(len(images) for _, images in rows)
    fig, axes = subplots(len(rows), ncols, figsize=(cell * ncols, cell * len(rows) + 0.4),
                             squeeze=False)
    for (label, images), row_axes in zip(rows, axes):
        for ax, image in zip(row_axes, list(images) + [None] * (ncols - len(images))):
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if image is not None:
                ax.imshow(_displayable(image), cmap="gray", vmin=0, vmax=1)
        row_axes[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def _displayable(image):
    image = np.asarray(image)
    return image[..., 0] if image.shape[-1] == 1 else image


def training_curves(history: dict, path, groups=None, title: str | None = None) -> Path:
    """Line plots of per-epoch metrics.

    ``groups`` is a list of metric-name lists, one panel each; by default one panel per
    metric with its ``val_`` twin (``loss`` with ``val_loss``, ...).
    """
    if groups is None:
        groups = [[k] + ([f"val_{k}"] if f"val_{k}" in history else [])
                  for k in history if not k.startswith("val_")]
    fig, axes = subplots(1, len(groups), figsize=(4.2 * len(groups), 3.2), squeeze=False)
    for ax, names in zip(axes[0], groups):
        for name in names:
            values = history[name]
            ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=name)
        ax.set_xlabel("epoch")
        ax.set_title(" / ".join(names), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)
