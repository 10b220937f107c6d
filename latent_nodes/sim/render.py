"""Pictures of the data: a behaviour as a filmstrip, and the block positions on the table (the paper's Fig. 3).

Both are for a person to look at what the demonstrations are; nothing downstream reads them. Figures
are drawn with matplotlib's Agg canvas directly (no pyplot state, no display) and written atomically.
Rendering the arm needs an OpenGL context: see ``ArmSimulator.render``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle
from matplotlib.ticker import MaxNLocator

from latent_nodes.atomic import save_png
from latent_nodes.config import DataConfig, SimConfig
from latent_nodes.sim import kinematics
from latent_nodes.sim.demonstrations import STEPS, generate_demonstration
from latent_nodes.sim.simulator import ArmSimulator


def filmstrip_frames(behaviour: str, block_xy, *, sim_cfg: SimConfig | None = None,
                     data_cfg: DataConfig | None = None, rng: np.random.Generator | None = None,
                     n_frames: int = 9, width: int = 400, height: int = 300, camera: str = "overview",
                     trail: bool = True) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Run one demonstration and render it: (recorded sequence [T, 11], frames, their step indices).

    ``n_frames`` frames are taken at recorded steps spread evenly from the first to the last; with
    ``trail`` each frame also shows the fingertip's recorded path so far as green beads.
    """
    if not 1 <= n_frames <= STEPS:
        raise ValueError(f"n_frames must be in 1..{STEPS}, got {n_frames}")
    sim_cfg = sim_cfg or SimConfig()
    shown = sorted({int(k) for k in np.round(np.linspace(0, STEPS - 1, n_frames))})
    frames: list[np.ndarray] = []
    path: list[np.ndarray] = []

    def on_step(k: int, sim: ArmSimulator) -> None:
        path.append(sim.end_effector_position())
        if k in shown:
            frames.append(sim.render(width, height, camera=camera, trail=np.array(path) if trail else None))

    with ArmSimulator(sim_cfg) as sim:
        seq = generate_demonstration(behaviour, block_xy, rng, sim_cfg, data_cfg, simulator=sim, on_step=on_step)
    return seq, frames, np.array(shown)


def render_filmstrip(behaviour: str, block_xy, path: str | Path, *, sim_cfg: SimConfig | None = None,
                     data_cfg: DataConfig | None = None, rng: np.random.Generator | None = None,
                     n_frames: int = 9, columns: int = 5, width: int = 400, height: int = 300,
                     camera: str = "overview", dpi: int = 100) -> Path:
    """Write a PNG filmstrip of ``behaviour`` with the block at ``block_xy``.

    ``n_frames`` rendered frames in rows of ``columns``, then one panel with the fingertip's recorded
    path seen from above, so a circle (or its absence) is plain to see.
    """
    sim_cfg = sim_cfg or SimConfig()
    seq, frames, shown = filmstrip_frames(behaviour, block_xy, sim_cfg=sim_cfg, data_cfg=data_cfg, rng=rng,
                                          n_frames=n_frames, width=width, height=height, camera=camera)
    rows = -(-(len(frames) + 1) // columns)
    fig = Figure(figsize=(columns * width / dpi, rows * height / dpi * 1.1 + 0.6), dpi=dpi)
    FigureCanvasAgg(fig)
    for i, (frame, k) in enumerate(zip(frames, shown)):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(frame)
        ax.set_axis_off()
        ax.set_title(f"step {k}, t = {k * sim_cfg.dt:.1f} s", fontsize=10)
    x, y = (float(v) for v in block_xy)
    tips = np.array([kinematics.forward_kinematics(q) for q in seq[:, :9]])
    ax = fig.add_subplot(rows, columns, len(frames) + 1)
    h = sim_cfg.block_size / 2
    ax.add_patch(Rectangle((y - h, x - h), 2 * h, 2 * h, facecolor="#d8140f", edgecolor="black", label="block"))
    ax.plot(tips[:, 1], tips[:, 0], "-o", color="#1a9e2c", ms=3, lw=1.2, label="fingertip, every 0.1 s")
    ax.plot(tips[0, 1], tips[0, 0], "k^", ms=7, label="home")
    span = max(np.ptp(tips[:, 0]), np.ptp(tips[:, 1]), 0.1) / 2 + 0.03
    cx, cy = (tips[:, 0].max() + tips[:, 0].min()) / 2, (tips[:, 1].max() + tips[:, 1].min()) / 2
    ax.set_xlim(cy + span, cy - span)  # y to the left, as seen from behind the arm
    ax.set_ylim(cx - span, cx + span)
    ax.set_aspect("equal")
    ax.set_xlabel("y (m)", fontsize=8)
    ax.set_ylabel("x (m)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax.set_title("fingertip path, top view", fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)
    fig.suptitle(f"{behaviour}: block at x = {x:.3f} m, y = {y:.3f} m (table frame); green beads: fingertip "
                 f"path so far", fontsize=11)
    fig.subplots_adjust(left=0.005, right=0.99, bottom=0.06, top=1 - 0.6 / fig.get_figheight(),
                        wspace=0.12, hspace=0.14)
    return save_png(fig, path)


def plot_positions(train_xy: np.ndarray, test_xy: np.ndarray, path: str | Path,
                   sim_cfg: SimConfig | None = None) -> Path:
    """Top view of the table with training (black) and unseen test (white) block positions, like Fig. 3.

    Drawn as seen from behind the arm: x (forward) points up the page, y (left) to the left.
    """
    sim_cfg = sim_cfg or SimConfig()
    train_xy, test_xy = np.asarray(train_xy, float).reshape(-1, 2), np.asarray(test_xy, float).reshape(-1, 2)
    (tx0, tx1), (ty0, ty1) = sim_cfg.table_x, sim_cfg.table_y
    (wx0, wx1), (wy0, wy1) = sim_cfg.workspace_x, sim_cfg.workspace_y
    fig = Figure(figsize=(6.0, 5.4), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    # Horizontal axis: y, increasing to the left; vertical axis: x, away from the arm.
    ax.add_patch(Rectangle((ty0, tx0), ty1 - ty0, tx1 - tx0, facecolor="#dccbb2", edgecolor="#8a6d4b", lw=1.5,
                           label="table"))
    ax.add_patch(Rectangle((wy0, wx0), wy1 - wy0, wx1 - wx0, facecolor="none", edgecolor="#3355aa", lw=1.2,
                           ls="--", label="block workspace"))
    h = sim_cfg.block_size / 2
    for xy in train_xy:
        ax.add_patch(Rectangle((xy[1] - h, xy[0] - h), 2 * h, 2 * h, facecolor="black", edgecolor="black"))
    for xy in test_xy:
        ax.add_patch(Rectangle((xy[1] - h, xy[0] - h), 2 * h, 2 * h, facecolor="white", edgecolor="black", lw=1.2))
    ax.plot([], [], "s", color="black", label=f"training positions ({len(train_xy)})")
    ax.plot([], [], "s", mfc="white", mec="black", label=f"unseen test positions ({len(test_xy)})")
    ax.add_patch(Circle((0.0, 0.0), 0.075, facecolor="#2d2f36", edgecolor="black"))
    ax.annotate("arm base", (0.0, 0.0), xytext=(0.0, 0.1), ha="center", fontsize=9)
    ax.set_xlim(ty1 + 0.05, ty0 - 0.05)
    ax.set_ylim(-0.12, tx1 + 0.05)
    ax.set_aspect("equal")
    ax.set_xlabel("y (m), to the arm's left")
    ax.set_ylabel("x (m), forward from the arm's base")
    ax.set_title("Block positions on the table (table frame, top view)")
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_png(fig, path)
