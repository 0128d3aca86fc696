"""Every figure the zoo draws, written to files: import this module when you want figures.

Image grids and training curves, the latent-space scatters and class ellipses
(`zoo.analysis` computes what they show), the transfer study's figures (`zoo.transfer`:
validation accuracy by epoch and by second, confusion matrices, label-efficiency
curves), KerasTuner search plots (`zoo.tuning` records the trials) and `SampleGrid`, a
callback that saves a generative model's samples during training. The rest of `zoo`
never imports matplotlib. Figures are plain `matplotlib.figure.Figure` objects, never
pyplot's: drawing one neither needs a display nor touches matplotlib's backend or
pyplot's list of open figures, so a notebook's own backend and figures are left alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import matplotlib
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from zoo.saving import atomic_path


def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """``(figure, axes)`` like `matplotlib.pyplot.subplots`, without pyplot."""
    figure_kwargs = {k: kwargs.pop(k) for k in ("figsize", "dpi", "layout") if k in kwargs}
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
    # One axes per row, its images side by side: one axes per image (100 for a 10 x 10
    # grid) took most of a recipe's drawing time to lay out and save.
    ncols = max(len(images) for _, images in rows)
    fig, axes = subplots(len(rows), 1, figsize=(cell * ncols, cell * len(rows) + 0.4),
                         squeeze=False)
    for (label, images), (ax,) in zip(rows, axes):
        ax.imshow(_image_row(images, ncols), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def _image_row(images, ncols: int):
    """``images`` (N, H, W, C) in [0, 1], N <= ``ncols``, side by side in one displayable
    array (white between them and in the N..ncols empty places): grey as (H, W'), drawn
    with the grey colour map; colour as (H, W', 3), clipped to [0, 1] since imshow ignores
    vmin/vmax for RGB (and warns when it clips)."""
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    gap = max(1, images.shape[2] // 8)
    cells = np.pad(images, ((0, ncols - len(images)), (0, 0), (0, gap), (0, 0)),
                   constant_values=1.0)  # white: the empty places and a gap after each
    row = np.concatenate(list(cells), axis=1)[:, :-gap]
    return row[..., 0] if row.shape[-1] == 1 else row


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


# ------------------------------------------------------------------ latent space


def _legend_names(labels, class_names):
    return {int(c): (class_names[int(c)] if class_names is not None else str(int(c)))
            for c in np.unique(labels)}


def _panels(count):
    """A figure with ``count`` side-by-side panels and room for a legend on the right."""
    fig, axes = subplots(1, count, figsize=(5.0 * count + 1.5, 4.6), squeeze=False)
    return fig, axes[0]


def _finish(fig, axes, path, title, **legend):
    if axes[-1].get_legend_handles_labels()[0]:  # nothing labelled (unlabelled data): no legend
        axes[-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
                        frameon=False, **legend)
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def plot_embedding(embeddings: dict, labels, path, class_names=None, title=None,
                   point_size: float = 4.0):
    """Scatter plots of 2-D embeddings ``{panel title: (N, 2)}``, coloured by class;
    ``labels=None`` (unlabelled data) draws every point in one colour, with no legend."""
    if labels is not None:
        labels = np.asarray(labels)
        names = _legend_names(labels, class_names)
        colours = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    fig, axes = _panels(len(embeddings))
    for ax, (panel, embedding) in zip(axes, embeddings.items()):
        embedding = np.asarray(embedding)
        if labels is None:
            ax.scatter(embedding[:, 0], embedding[:, 1], s=point_size, color="tab:blue")
        elif labels.shape != (len(embedding),):
            raise ValueError(f"labels must have shape ({len(embedding)},), got {labels.shape}")
        else:
            for i, (label, name) in enumerate(names.items()):
                chosen = labels == label
                ax.scatter(embedding[chosen, 0], embedding[chosen, 1], s=point_size,
                           color=colours(i), label=name)
        ax.set_title(panel, fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
    return _finish(fig, axes, path, title, markerscale=3)


def plot_class_ellipses(statistics: dict, path, title=None, n_std: float = 1.0):
    """Ellipses of ``n_std`` standard deviations around each class mean.

    ``statistics`` maps a panel title to `class_statistics` rows; the ellipse axes are
    the embedding's axes, so its width and height show the two std's.
    """
    from matplotlib.patches import Ellipse

    fig, axes = _panels(len(statistics))
    colours = matplotlib.colormaps["tab10"]
    for ax, (panel, rows) in zip(axes, statistics.items()):
        for i, row in enumerate(rows):
            colour = colours(i % 10)
            ax.add_patch(Ellipse((row["mean_1"], row["mean_2"]), 2 * n_std * row["std_1"],
                                 2 * n_std * row["std_2"], facecolor=colour, alpha=0.25,
                                 edgecolor=colour, lw=1.5, label=str(row["class"])))
            ax.plot(row["mean_1"], row["mean_2"], "+", color=colour)
        ax.autoscale_view()
        gap = np.mean([row["relative_std_gap"] for row in rows])  # unitless: panels compare
        ax.set_title(f"{panel}\nmean |std 1 - std 2| / std = {gap:.3g}", fontsize=10)
    return _finish(fig, axes, path, title)


# ------------------------------------------------------------------ transfer


def plot_accuracy_curves(histories: dict, path, title: str | None = None) -> Path:
    """Validation accuracy against epoch and against training seconds, one line per run.

    ``histories`` maps a run's name to its per-epoch history, which holds
    ``val_accuracy`` and ``seconds`` (each epoch's wall-clock seconds, as
    `zoo.transfer.train_variant` records them); the right panel's x is their running sum.
    """
    if not histories:
        raise ValueError("no histories to plot")
    fig, (by_epoch, by_time) = subplots(1, 2, figsize=(10, 3.8))
    for name, history in histories.items():
        accuracy = history["val_accuracy"]
        by_epoch.plot(range(1, len(accuracy) + 1), accuracy, marker="o", ms=3, label=name)
        by_time.plot(np.cumsum(history["seconds"]), accuracy, marker="o", ms=3, label=name)
    for ax, xlabel in ((by_epoch, "epoch"), (by_time, "training wall-clock seconds")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel("validation accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    by_epoch.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_confusion_matrices(labels, predictions: dict, path, class_names,
                            title: str | None = None) -> Path:
    """One confusion matrix per classifier, side by side, each titled with its accuracy.

    ``labels`` are the true classes ``(N,)``, ``predictions`` maps a classifier's name to
    its predicted classes ``(N,)`` and ``class_names`` names classes ``0..K-1``.
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    if not predictions:
        raise ValueError("no predictions to plot")
    labels = np.asarray(labels)
    fig, axes = subplots(1, len(predictions), figsize=(6.2 * len(predictions), 5.8), squeeze=False)
    for ax, (name, predicted) in zip(axes[0], predictions.items()):
        ConfusionMatrixDisplay.from_predictions(
            labels, predicted, labels=range(len(class_names)), display_labels=class_names,
            ax=ax, colorbar=False, xticks_rotation=60,
        )
        ax.set_title(f"{name} (accuracy {np.mean(predicted == labels):.3f})", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_label_efficiency(rows: list, path, title: str | None = None) -> Path:
    """Test accuracy against labelled images per class, one line per method.

    ``rows`` hold ``method``, ``labels_per_class`` (an int), ``accuracy_mean`` and
    ``accuracy_std`` (error bars of one std over seeds), and an optional ``label`` for the
    x tick (``"all"`` for the whole training split). The x-axis is logarithmic.
    """
    if not rows:
        raise ValueError("no label-efficiency rows to plot")
    fig, ax = subplots(figsize=(6.4, 4.0))
    for method in dict.fromkeys(row["method"] for row in rows):
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["labels_per_class"])
        ax.errorbar([r["labels_per_class"] for r in mine], [r["accuracy_mean"] for r in mine],
                    yerr=[r["accuracy_std"] for r in mine], marker="o", ms=4, capsize=3,
                    label=method)
    ticks = {r["labels_per_class"]: r.get("label", str(r["labels_per_class"])) for r in rows}
    ax.set_xscale("log")
    ax.set_xticks(sorted(ticks), [ticks[t] for t in sorted(ticks)])
    ax.minorticks_off()
    ax.set_xlabel("labelled training images per class")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "Label efficiency", fontsize=11)
    return save_figure(fig, path)


# ------------------------------------------------------------ KerasTuner search


def plot_optimization_history(records: list, path, objective: str = "val_loss",
                              title: str | None = None) -> Path:
    """Each completed trial's objective and the running best, against trial number."""
    done = [(i + 1, r["score"]) for i, r in enumerate(records)
            if r["status"] == "COMPLETED" and math.isfinite(r["score"])]
    if not done:
        raise ValueError("no completed trial to plot")
    numbers, scores = zip(*done)
    fig, ax = subplots(figsize=(6, 3.6))
    ax.plot(numbers, scores, "o", ms=5, label=f"trial {objective}")
    ax.step(numbers, np.minimum.accumulate(scores), where="post", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(objective)
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "Optimisation history", fontsize=11)
    return save_figure(fig, path)


def plot_intermediate_values(records: list, path, metric: str = "val_loss",
                             title: str | None = None) -> Path:
    """``metric`` per epoch for every trial. A Hyperband trial that continues a parent's
    weights continues its parent's line; trials that stopped before the longest ones
    (Hyperband's unpromoted trials, early stopping) end in a cross."""
    by_id = {r["trial_id"]: r for r in records if r["epochs"].get(metric)}
    if not by_id:
        raise ValueError(f"no trial logged {metric!r}")
    parents = {r["parent"] for r in by_id.values()}
    last_epoch = max(r["epochs"]["epoch"][-1] for r in by_id.values())
    cmap = matplotlib.colormaps["tab20"]
    fig, ax = subplots(figsize=(6.5, 4))
    stopped_label = "stopped early"
    for i, (trial_id, record) in enumerate(by_id.items()):
        epochs, values = list(record["epochs"]["epoch"]), list(record["epochs"][metric])
        parent = by_id.get(record["parent"])
        if parent is not None:
            epochs.insert(0, parent["epochs"]["epoch"][-1])
            values.insert(0, parent["epochs"][metric][-1])
        ax.plot(epochs, values, "-", marker=".", color=cmap(i % 20), lw=1, alpha=0.85)
        if epochs[-1] < last_epoch and trial_id not in parents:
            ax.plot(epochs[-1], values[-1], "x", color="k", ms=7, label=stopped_label)
            stopped_label = None
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if stopped_label is None:
        ax.legend(fontsize=8)
    ax.set_title(title or f"Intermediate values: {metric} per epoch, one line per trial",
                 fontsize=11)
    return save_figure(fig, path)


def plot_parallel_coordinates(records: list, path, log_names=(), objective: str = "val_loss",
                              title: str | None = None) -> Path:
    """One vertical axis per hyperparameter, one line per completed trial, coloured by
    the objective (darker = lower). Numeric axes run from the smallest to the largest
    value tried (log scale for ``log_names``); categorical axes list their choices.
    A hyperparameter a trial did not use (SGD momentum under Adam) breaks its line.
    """
    done = [r for r in records if r["status"] == "COMPLETED" and math.isfinite(r["score"])]
    names = [n for n in dict.fromkeys(k for r in done for k in r["hyperparameters"])
             if len({r["hyperparameters"].get(n) for r in done} - {None}) > 1]
    if not done or not names:
        raise ValueError("parallel coordinates need completed trials that differ in a hyperparameter")
    positions, ticks = {}, {}
    for name in names:
        values = [r["hyperparameters"].get(name) for r in done]
        present = [v for v in values if v is not None]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            scale = np.log10 if name in log_names else np.asarray
            low, high = float(np.min(scale(present))), float(np.max(scale(present)))
            span = high - low or 1.0
            positions[name] = [math.nan if v is None else (float(scale(v)) - low) / span
                               for v in values]
            ticks[name] = (f"{min(present):.3g}", f"{max(present):.3g}")
        else:
            choices = sorted({str(v) for v in present})
            step = max(len(choices) - 1, 1)
            positions[name] = [math.nan if v is None else choices.index(str(v)) / step
                               for v in values]
            ticks[name] = (choices[0], choices[-1] if len(choices) > 1 else "")
    scores = np.array([r["score"] for r in done])
    norm = Normalize(scores.min(), scores.max())
    cmap = matplotlib.colormaps["viridis"]
    fig, ax = subplots(figsize=(1.5 * len(names) + 2, 4))
    for i in np.argsort(-scores):  # best trials drawn last, on top
        ax.plot(range(len(names)), [positions[n][i] for n in names], "-o", ms=3,
                color=cmap(norm(scores[i])), lw=1.4, alpha=0.9)
    for x, name in enumerate(names):
        ax.axvline(x, color="0.6", lw=0.8)
        ax.text(x, -0.06, ticks[name][0], ha="center", va="top", fontsize=7)
        ax.text(x, 1.06, ticks[name][1], ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(names)), [n + (" (log)" if n in log_names else "") for n in names],
                  rotation=20, fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.15, 1.15)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=objective)
    ax.set_title(title or "Hyperparameters of each trial, coloured by objective", fontsize=11)
    return save_figure(fig, path)


# ------------------------------------------------------------ generative models


class SampleGrid(keras.callbacks.Callback):
    """Save a grid of images generated from fixed noise at chosen epochs; keep the history.

    ``out_dir/samples_epoch_<E>.png`` is written after each 1-based epoch ``E`` in
    ``epochs`` (the same ``n`` codes every time, drawn with ``seed``, so the grids show
    how one set of samples evolves). ``samples`` maps those epochs to the images and
    ``history`` holds every epoch's logged metrics (``{name: [value per epoch]}``).
    """

    def __init__(self, out_dir, epochs=(1, 5, 50, 200), n: int = 64, ncols: int = 8, seed: int = 0):
        super().__init__()
        epochs = sorted({int(e) for e in epochs})
        if not epochs or epochs[0] < 1:
            raise ValueError(f"epochs must be positive 1-based epoch numbers, got {epochs}")
        self.out_dir, self.epochs, self.n, self.ncols, self.seed = Path(out_dir), epochs, n, ncols, seed
        self.samples, self.history = {}, {}

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        if epoch + 1 in self.epochs:
            images = self.model.generate(self.n, seed=self.seed)
            self.samples[epoch + 1] = images
            image_grid(images, self.out_dir / f"samples_epoch_{epoch + 1:03d}.png", ncols=self.ncols,
                       title=f"Samples after epoch {epoch + 1} (fixed noise)")


def plot_sweep(rows: list, x: str, metrics: tuple, path, title: str | None = None,
               log_x: bool = False) -> Path:
    """One panel per metric of ``metrics`` against the setting ``x``, from table ``rows``
    (dicts holding ``x`` and each metric), e.g. domain FID against sampling steps."""
    if not rows:
        raise ValueError("no rows to plot")
    # constrained: a panel's y label stays clear of the panel to its left
    fig, axes = subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.2), squeeze=False,
                         layout="constrained")
    for ax, metric in zip(axes[0], metrics):
        ax.plot([row[x] for row in rows], [row[metric] for row in rows], marker="o", ms=4)
        if log_x:
            ax.set_xscale("log")
            ax.set_xticks([row[x] for row in rows], [str(row[x]) for row in rows])
            ax.minorticks_off()
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"{', '.join(metrics)} against {x}", fontsize=11)
    return save_figure(fig, path)
