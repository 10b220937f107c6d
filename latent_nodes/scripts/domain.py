"""`latent-nodes domain`: how wrong a completion gets as the block leaves the trained region.

For block positions inside the trained region (the unseen test positions) and at set distances outside
it (on all four sides of the workspace, three places per side), the model completes each behaviour with
the domain policy ``allow`` and is compared with the scripted demonstration at that position (no
waypoint noise): the fingertip's mean distance from the demonstrated path (millimetres, through the
arm's forward kinematics) and the paper's Eq. (1) error (normalized units). Positions the scripted arm
cannot reach are skipped and counted.

It prints a table per distance, writes every row to ``domain_sweep.json`` and a plot of error against
distance outside to ``domain_error.png``. docs/results.md uses it to justify the default margin.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

DISTANCES = [0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12]


def outside_positions(bounds: tuple[tuple[float, float], tuple[float, float]], distance: float) -> np.ndarray:
    """[12, 2] positions ``distance`` metres outside a rectangle: three along each side, pushed outwards."""
    (x0, x1), (y0, y1) = bounds
    along = (0.25, 0.5, 0.75)
    out = [(x0 - distance, y0 + f * (y1 - y0)) for f in along]
    out += [(x1 + distance, y0 + f * (y1 - y0)) for f in along]
    out += [(x0 + f * (x1 - x0), y0 - distance) for f in along]
    out += [(x0 + f * (x1 - x0), y1 + distance) for f in along]
    return np.array(out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="latent-nodes domain", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="", help="model file; empty means the shipped models/latent_nodes_default.pt")
    p.add_argument("--distances", nargs="+", type=float, default=DISTANCES,
                   help="metres outside the trained region to test")
    p.add_argument("--out", default="runs/domain", help="directory for domain_sweep.json and domain_error.png")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if any(not (np.isfinite(d) and d > 0) for d in args.distances):
        print("latent-nodes domain: --distances must be positive metres", file=sys.stderr)
        return 2
    from latent_nodes.inference.completion import BehaviourCompleter
    from latent_nodes.model.checkpoint import CheckpointError
    from latent_nodes.model.training import reconstruction_error
    from latent_nodes.sim import kinematics
    from latent_nodes.sim.demonstrations import generate_demonstration, train_test_positions
    from latent_nodes.sim.simulator import ArmSimulator

    try:
        completer = BehaviourCompleter.from_checkpoint(args.model or None, out_of_domain="allow")
    except CheckpointError as exc:
        print(f"latent-nodes domain: {exc}", file=sys.stderr)
        return 2
    if completer.ckpt.domain is None:
        print("latent-nodes domain: the model file records no training positions to measure against",
              file=sys.stderr)
        return 2
    cfg = completer.config
    sim = ArmSimulator(cfg.sim)
    normalizer = completer.ckpt.normalizer
    inside = np.asarray(train_test_positions(cfg.data, cfg.sim)[1], dtype=np.float64)

    rows: list[dict] = []
    for behaviour in completer.behaviours:
        pattern = completer.behaviour_index(behaviour)
        groups = [(0.0, inside)] + [(d, outside_positions(completer.ckpt.domain.bounds(pattern), d))
                                    for d in args.distances]
        for nominal, positions in groups:
            for xy in positions:
                row = {"behaviour": behaviour, "nominal_distance_m": nominal, "block_xy": xy.tolist()}
                try:
                    demo = generate_demonstration(behaviour, xy, None, cfg.sim, cfg.data, simulator=sim)
                except ValueError as exc:  # IKError: the scripted arm cannot do it there either
                    rows.append({**row, "skipped": str(exc).split(":")[0]})
                    continue
                completion = completer.complete(xy, behaviour)
                path = np.array([kinematics.forward_kinematics(q) for q in completion.joints])
                demo_path = np.array([kinematics.forward_kinematics(q) for q in demo[:, :-2]])
                err = reconstruction_error(normalizer.normalize(completion.sequence), normalizer.normalize(demo))
                rows.append({**row, **completion.domain.to_dict(),
                             "path_distance_mm": 1e3 * float(np.linalg.norm(path - demo_path, axis=1).mean()),
                             "eq1_error": float(err)})
    summary = summarize(rows, [0.0, *args.distances])
    out = Path(args.out)
    from latent_nodes.atomic import write_text_atomic

    write_text_atomic(out / "domain_sweep.json", json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")
    plot(rows, out / "domain_error.png")
    print(f"wrote {out / 'domain_sweep.json'} and {out / 'domain_error.png'}")
    return 0


def summarize(rows: list[dict], distances: list[float]) -> list[dict]:
    """Per behaviour and distance: count, median and 90th percentile of path distance and Eq. (1) error."""
    print(f"{'behaviour':<13} {'outside m':>9} {'n':>3} {'skip':>4} {'path mm p50':>11} {'p90':>6} "
          f"{'Eq.1 p50':>9} {'p90':>9} {'chart p50':>9}")
    summary = []
    for behaviour in dict.fromkeys(r["behaviour"] for r in rows):
        for d in distances:
            group = [r for r in rows if r["behaviour"] == behaviour and r["nominal_distance_m"] == d]
            done = [r for r in group if "skipped" not in r]
            if not done:
                continue
            path = np.array([r["path_distance_mm"] for r in done])
            eq1 = np.array([r["eq1_error"] for r in done])
            chart = np.array([r["chart_distance"] for r in done])
            entry = {"behaviour": behaviour, "distance_m": d, "n": len(done), "skipped": len(group) - len(done),
                     "path_mm_p50": float(np.median(path)), "path_mm_p90": float(np.percentile(path, 90)),
                     "eq1_p50": float(np.median(eq1)), "eq1_p90": float(np.percentile(eq1, 90)),
                     "chart_p50": float(np.median(chart))}
            summary.append(entry)
            print(f"{behaviour:<13} {d:9.3f} {entry['n']:3d} {entry['skipped']:4d} {entry['path_mm_p50']:11.1f} "
                  f"{entry['path_mm_p90']:6.1f} {entry['eq1_p50']:9.5f} {entry['eq1_p90']:9.5f} "
                  f"{entry['chart_p50']:9.2f}")
    return summary


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latent_nodes.atomic import save_png

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for behaviour, colour in zip(dict.fromkeys(r["behaviour"] for r in rows), ("tab:blue", "tab:orange")):
        done = [r for r in rows if r["behaviour"] == behaviour and "skipped" not in r]
        d = np.array([r["pose_distance_m"] for r in done]) * 100
        for ax, key in zip(axes, ("path_distance_mm", "eq1_error")):
            ax.scatter(d, [r[key] for r in done], s=12, alpha=0.7, color=colour, label=behaviour)
    axes[0].set_ylabel("fingertip path distance to the demonstration, mm")
    axes[1].set_ylabel("Eq. (1) error, normalized units")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("block distance outside the trained region, cm")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Completion error against distance outside the trained block positions")
    fig.tight_layout()
    save_png(fig, path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
