"""Pictures of a training run: loss curves and the learned local coordinates (the paper's Fig. 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latent_nodes.atomic import save_png


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    return plt


def plot_losses(history: list[dict], path: str | Path, title: str = "") -> None:
    """Every loss term per epoch on a log scale."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in ("loss", "reconstruction", "regularizer"):
        values = np.array([h[key] for h in history])
        if np.any(values > 0):
            ax.semilogy(epochs, np.where(values > 0, values, np.nan), label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("value (normalized units)")
    ax.set_title(title or "training losses")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_png(fig, path, dpi=120)
    plt.close(fig)


def position_colours(xy: np.ndarray) -> np.ndarray:
    """RGB per block position: red grows with x, blue with y, so neighbours on the table look alike."""
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    t = (xy - lo) / np.where(hi - lo > 0, hi - lo, 1.0)
    return np.stack([0.15 + 0.8 * t[:, 0], 0.35 * np.ones(len(t)), 0.15 + 0.8 * t[:, 1]], axis=1)


def plot_local_coordinates(coords: np.ndarray, labels: np.ndarray, block_xy: np.ndarray, names: list[str],
                           path: str | Path, title: str = "") -> None:
    """Learned xi of the training samples, one panel per behaviour, coloured by block position.

    With regularization the points should look like the grid of block positions on the table
    (Fig. 4b); without it they need not (Fig. 4a). Grid neighbours are joined to make that visible.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(4 * (len(names) + 1), 3.8))
    colours = position_colours(block_xy)
    for p, name in enumerate(names):
        ax = axes[p]
        sel = labels == p
        c, xy = coords[sel], block_xy[sel]
        if c.shape[1] >= 2:
            _join_grid_neighbours(ax, c[:, :2], xy)
            ax.scatter(c[:, 0], c[:, 1], c=colours[sel], s=40, edgecolor="k", linewidth=0.5, zorder=3)
            ax.set_xlabel("xi_1")
            ax.set_ylabel("xi_2")
        ax.set_title(f"{name}: local coordinates")
        ax.grid(alpha=0.3)
    ax = axes[-1]
    ax.scatter(block_xy[:, 0], block_xy[:, 1], c=colours, s=40, edgecolor="k", linewidth=0.5)
    ax.set_xlabel("block x [m]")
    ax.set_ylabel("block y [m]")
    ax.set_title("block positions (colour key)")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_png(fig, path, dpi=120)
    plt.close(fig)


def _join_grid_neighbours(ax, coords: np.ndarray, xy: np.ndarray) -> None:
    """Join samples whose block positions are adjacent in a row or column of the position grid."""
    xs, ys = np.unique(np.round(xy[:, 0], 6)), np.unique(np.round(xy[:, 1], 6))
    ix = np.searchsorted(xs, np.round(xy[:, 0], 6))
    iy = np.searchsorted(ys, np.round(xy[:, 1], 6))
    for i in range(len(xy)):
        for j in range(i + 1, len(xy)):
            if abs(ix[i] - ix[j]) + abs(iy[i] - iy[j]) == 1:
                ax.plot(coords[[i, j], 0], coords[[i, j], 1], color="0.7", linewidth=0.8, zorder=1)
