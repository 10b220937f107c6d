"""Where a teaching run's joint paths part from the generated ones: a time offset per episode, or jitter within one.

Reads the bags of ``latent-nodes teach`` (``OUT/train``, ``OUT/test``) at 200 Hz (linear between the
100 Hz joint states) and replays each lesson in the simulator in lock step, recorded at every control
tick: the path the generator records every 0.1 s. For each episode it finds the time shift of the taught
path that fits the replay best (1 ms grid) and prints, per behaviour:

- the shift (the motion's delay after the episode mark): median, spread across episodes;
- the RMS difference (rad) at the mark (no shift), at the best shift (what is left is jitter within the
  episode), and with the episode started at its motion onset (``bag2dataset --align-onset RAD``);
- the motion onset's delay after the mark, and how far the best shift lies from it;

and the intervals between the world's joint states (its ticks: each steps the physics with the one
target it has).

    python benchmarks/teach_timing.py runs/your_arm_realtime/bags [--onset 0.001]

For the bags of ``latent-nodes teach --realtime``; a lock-step teaching run's paths are the replay's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

FINE_DT = 0.005  # s: resampling of the taught paths
SHIFTS = np.arange(-0.02, 0.0801, 0.001)  # s: candidate delays of the taught motion after its mark
SPAN = 1.8  # s of each path compared (the generator's 1.9 s, less the largest shift's margin)


def replay(lesson, data_cfg, sim_cfg, sim) -> np.ndarray:
    """[K + 1, 9] the lesson's joint path in lock step with its targets, every control tick (as the generator)."""
    from latent_nodes.sim.demonstrations import CONTROL_RATE

    targets = lesson.targets(data_cfg, sim_cfg)
    sim.reset()
    sim.set_block(*lesson.block_xy)
    path = [sim.joint_positions]
    for target in targets[:-1]:
        sim.set_targets(target)
        sim.step(1.0 / CONTROL_RATE)
        path.append(sim.joint_positions)
    return np.array(path)


def shifted_rms(q: np.ndarray, times: np.ndarray, t: np.ndarray, want: np.ndarray, shift: float) -> float:
    """RMS of the path ``q`` (sampled at ``times``) read ``shift`` s late against ``want`` at ``t``."""
    got = np.stack([np.interp(t + shift, times, q[:, j]) for j in range(q.shape[1])], axis=1)
    return float(np.sqrt(np.mean((got - want) ** 2)))


def tick_intervals(bag: Path) -> np.ndarray:
    """Seconds between consecutive joint states of ``bag`` (receive times)."""
    from rosbags.highlevel import AnyReader

    from latent_nodes.data.bags import JOINT_TOPIC

    with AnyReader([bag]) as reader:
        wanted = [c for c in reader.connections if c.topic == JOINT_TOPIC]
        stamps = np.sort([stamp for _, stamp, _ in reader.messages(connections=wanted)])
    return np.diff(stamps) * 1e-9


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bags", type=Path, help="directory of the teaching run's bags train/ and test/")
    p.add_argument("--onset", type=float, default=1e-3, help="motion onset threshold, rad (as --align-onset)")
    p.add_argument("--train-grid", type=int, nargs=2, default=None, metavar=("NX", "NY"))
    p.add_argument("--test-grid", type=int, nargs=2, default=None, metavar=("NX", "NY"))
    args = p.parse_args(argv)

    from latent_nodes.config import DataConfig, SimConfig
    from latent_nodes.data.bags import read_episodes
    from latent_nodes.data.teaching import lessons
    from latent_nodes.sim import arm
    from latent_nodes.sim.demonstrations import CONTROL_RATE, STEPS
    from latent_nodes.sim.simulator import ArmSimulator

    data_cfg, sim_cfg = DataConfig(), SimConfig()
    if args.train_grid:
        data_cfg.train_grid = list(args.train_grid)
    if args.test_grid:
        data_cfg.test_grid = list(args.test_grid)
    sim = ArmSimulator(sim_cfg)
    names = list(arm.JOINT_NAMES)
    fine_steps = int(round(1.9 / FINE_DT)) + 1
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    for split in ("train", "test"):
        plan = [lesson for lesson in lessons(data_cfg, sim_cfg) if lesson.split == split]
        fine = read_episodes(args.bags / split, names, fine_steps, FINE_DT)
        onset = read_episodes(args.bags / split, names, STEPS, sim_cfg.dt, onset=args.onset)
        if len(fine) != len(plan):
            raise SystemExit(f"{args.bags / split}: {len(fine)} episodes, the plan has {len(plan)} (grids?)")
        for lesson, ep, ep_on in zip(plan, fine, onset):
            ref = replay(lesson, data_cfg, sim_cfg, sim)
            t_ref = np.arange(len(ref)) / CONTROL_RATE
            t = np.arange(0.0, SPAN, FINE_DT)
            want = np.stack([np.interp(t, t_ref, ref[:, j]) for j in range(ref.shape[1])], axis=1)
            taught_t = np.arange(fine_steps) * FINE_DT
            q = ep.sequence[:, :len(names)]
            errors = np.array([shifted_rms(q, taught_t, t, want, s) for s in SHIFTS])
            k = int(np.argmin(errors))
            step_ref = ref[:: int(round(sim_cfg.dt * CONTROL_RATE))][:STEPS]
            on = float(np.sqrt(np.mean((ep_on.sequence[:, :len(names)] - step_ref) ** 2)))
            at_mark = shifted_rms(q, taught_t, t, want, 0.0)
            delay = (ep_on.start_ns - ep.start_ns) * 1e-9  # motion onset after the mark
            rows.setdefault(lesson.behaviour, []).append((SHIFTS[k], at_mark, errors[k], on, delay))
    print(f"taught paths against the lock-step replay (rad RMS over {SPAN} s; onset threshold {args.onset} rad):")
    for behaviour, r in rows.items():
        a = np.array(r)
        print(f"  {behaviour:<13} {len(a)} episodes: best shift median {1e3 * np.median(a[:, 0]):.0f} ms, "
              f"p10-p90 {1e3 * np.percentile(a[:, 0], 10):.0f}-{1e3 * np.percentile(a[:, 0], 90):.0f} ms; "
              f"RMS at the mark {np.sqrt(np.mean(a[:, 1] ** 2)):.4f}, "
              f"at the best shift {np.sqrt(np.mean(a[:, 2] ** 2)):.4f}, "
              f"onset-aligned (20 steps) {np.sqrt(np.mean(a[:, 3] ** 2)):.4f}; onset after the mark median "
              f"{1e3 * np.median(a[:, 4]):.0f} ms, best shift minus onset p10-p90 "
              f"{1e3 * np.percentile(a[:, 0] - a[:, 4], 10):.0f}-{1e3 * np.percentile(a[:, 0] - a[:, 4], 90):.0f} ms")
    ticks = np.concatenate([tick_intervals(args.bags / split) for split in ("train", "test")])
    print(f"  world ticks: median {1e3 * np.median(ticks):.0f} ms, p90 {1e3 * np.percentile(ticks, 90):.0f} ms, "
          f"max {1e3 * ticks.max():.0f} ms (nominal {1e3 / CONTROL_RATE:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
