"""Benchmark: what timing for a ros2_control arm does to the shipped model's completed behaviours.

For both behaviours at every unseen test position, the shipped model completes the behaviour (as the
inference node does) and the commander's ros2_control path times it from the home pose: spline
velocities, segments stretched where the spline would exceed the velocity limits (the arm's rated
speeds capped at ``--cap``, the commander's ``max_joint_velocity``) or the acceleration limit
(``--acceleration``, the commander's ``max_joint_acceleration``). Printed per behaviour: how many
completions were slowed and by how much (duration against the behaviour's 2 s), the spline's peak joint
speed and acceleration, and the time the timing takes (median over repeats).

    python benchmarks/ros2_control_timing.py            # 2.0 rad/s, 30 rad/s^2, as config/commander.yaml
    python benchmarks/ros2_control_timing.py --cap 1.0 --acceleration 10

Not a test: it prints figures (quoted in docs/nodes.md) and exits 0.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from latent_nodes.config import BEHAVIOURS
from latent_nodes.inference.completion import BehaviourCompleter
from latent_nodes.robot.joint_trajectory import segment_peak_acceleration, segment_peak_speed, spline_trajectory
from latent_nodes.sim import arm
from latent_nodes.sim.demonstrations import train_test_positions


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cap", type=float, default=2.0, help="velocity cap, rad/s (the commander's max_joint_velocity)")
    p.add_argument("--acceleration", type=float, default=30.0,
                   help="acceleration limit, rad/s^2 (the commander's max_joint_acceleration)")
    p.add_argument("--repeats", type=int, default=20, help="timing repeats per trajectory")
    args = p.parse_args(argv)
    completer = BehaviourCompleter.from_checkpoint()
    dt = completer.ckpt.config.sim.dt
    vmax = np.minimum(arm.MAX_VELOCITY, args.cap)
    amax = np.full(len(vmax), args.acceleration)
    _, test_xy = train_test_positions()
    print(f"{len(test_xy)} unseen positions per behaviour; velocity limits min(rated, {args.cap:g}) rad/s, "
          f"acceleration limit {args.acceleration:g} rad/s^2")
    print(f"{'behaviour':<14}{'slowed':>8}{'duration s (max)':>18}{'stretch (max)':>15}{'peak rad/s':>12}"
          f"{'peak rad/s^2':>14}{'timing ms (p50)':>17}")
    for behaviour in BEHAVIOURS:
        durations, peaks, accelerations, costs = [], [], [], []
        for xy in test_xy:
            joints = completer.complete(xy, behaviour).joints
            times = np.arange(len(joints) + 1) * dt  # from the home pose at t = 0, one step to point 0
            knots = np.vstack([arm.HOME, joints])
            spline = spline_trajectory(times, knots, vmax, amax)
            start = time.perf_counter()
            for _ in range(args.repeats):
                spline_trajectory(times, knots, vmax, amax)
            costs.append((time.perf_counter() - start) / args.repeats * 1e3)
            durations.append(spline.duration / times[-1])
            total = times[-1]
            peaks.append(float(segment_peak_speed(spline.times, knots, spline.velocities).max()))
            accelerations.append(float(segment_peak_acceleration(spline.times, knots, spline.velocities).max()))
        durations = np.array(durations)
        print(f"{behaviour:<14}{int(np.sum(durations > 1 + 1e-9)):>5}/{len(test_xy):<2}"
              f"{durations.max() * total:>18.2f}{durations.max():>15.3f}{max(peaks):>12.3f}"
              f"{max(accelerations):>14.2f}{np.median(costs):>17.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
