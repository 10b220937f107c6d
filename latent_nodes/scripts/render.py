"""Pictures of the demonstrations: ``latent-nodes render``.

Writes ``filmstrip_<behaviour>.png`` for each chosen behaviour (frames of the simulated arm with the
fingertip's path, and the path seen from above) and ``positions.png`` (training and unseen test block
positions on the table, like the paper's Fig. 3) into ``--out-dir``. Rendering is offscreen: on a
machine without a display it uses OSMesa (``apt-get install libosmesa6``; MUJOCO_GL=osmesa).

    latent-nodes render                                   # both behaviours, out/render/
    latent-nodes render --behaviour reach_circle --block 0.55 -0.15 --out-dir docs/img
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from latent_nodes.config import BEHAVIOURS, DataConfig, SimConfig, add_arguments, apply_arguments, load_config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="latent-nodes render", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="examples:\n" + __doc__.split("\n\n")[-1])
    p.add_argument("--config", type=Path, help="YAML config file (sections data, sim, ...) read before the options")
    from latent_nodes.sim.demonstrations import DEMONSTRATIONS

    p.add_argument("--behaviour", choices=[*DEMONSTRATIONS, "all"], default="all",
                   help=f"which filmstrip(s) to render (all: the paper's {' and '.join(BEHAVIOURS)})")
    p.add_argument("--block", type=float, nargs=2, metavar=("X", "Y"),
                   help="block position, metres in the table frame (default: the unseen test position nearest "
                        "the workspace centre)")
    p.add_argument("--out-dir", type=Path, default=Path("out/render"), help="where the PNGs go")
    p.add_argument("--camera", choices=["overview", "side", "top"], default="overview", help="filmstrip camera")
    p.add_argument("--frames", type=int, default=9, help="rendered frames per filmstrip (1-20)")
    p.add_argument("--size", type=int, nargs=2, default=[400, 300], metavar=("W", "H"), help="frame size, pixels")
    p.add_argument("--perturbed", action="store_true",
                   help="draw the waypoint perturbation with --seed, as in the dataset (default: the clean script)")
    p.add_argument("--no-positions", action="store_true", help="skip positions.png")
    add_arguments(p, DataConfig, only=["train_grid", "test_grid", "perturbation", "hover_height", "circle_radius",
                                       "seed"])
    add_arguments(p, SimConfig, prefix="sim_", only=["table_x", "table_y", "workspace_x", "workspace_y", "block_size"])
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        cfg = load_config(args.config)
        apply_arguments(cfg.data, args)
        apply_arguments(cfg.sim, args, prefix="sim_")
        from latent_nodes.sim.demonstrations import train_test_positions
        from latent_nodes.sim.render import plot_positions, render_filmstrip
        from latent_nodes.sim.simulator import RenderUnavailable

        train_xy, test_xy = train_test_positions(cfg.data, cfg.sim)
        if args.block is not None:
            block = np.array(args.block, dtype=np.float64)
        else:
            centre = np.array([np.mean(cfg.sim.workspace_x), np.mean(cfg.sim.workspace_y)])
            pool = test_xy if len(test_xy) else train_xy
            block = pool[np.argmin(np.linalg.norm(pool - centre, axis=1))]
        written = []
        if not args.no_positions:
            written.append(plot_positions(train_xy, test_xy, args.out_dir / "positions.png", cfg.sim))
        for behaviour in (BEHAVIOURS if args.behaviour == "all" else [args.behaviour]):
            rng = np.random.default_rng(cfg.data.seed) if args.perturbed else None
            written.append(render_filmstrip(behaviour, block, args.out_dir / f"filmstrip_{behaviour}.png",
                                            sim_cfg=cfg.sim, data_cfg=cfg.data, rng=rng, n_frames=args.frames,
                                            width=args.size[0], height=args.size[1], camera=args.camera))
    except (ValueError, FileNotFoundError) as exc:
        print(f"latent-nodes render: {exc}", file=sys.stderr)
        return 2
    except RenderUnavailable as exc:
        print(f"latent-nodes render: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
