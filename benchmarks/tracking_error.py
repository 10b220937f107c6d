"""Benchmark: how closely the simulated arm follows joint targets that arrive at 10 Hz.

The references are the clean scripted demonstrations (both behaviours, every unseen test position):
their 20 recorded points, 0.1 s apart, are exactly what the inference node sends in a
JointTrajectory. Each is replayed on a fresh arm starting at the first point in two ways:

- ``held``: every point is set as the servo target at its time and held for 0.1 s (a bare 10 Hz stream);
- ``interpolated``: targets linearly interpolated between the points and sent at ``--rate`` Hz (what
  the commander does, at 50 Hz by default).

The error is measured every physics step against the intended motion, the piecewise-linear path
through the points, and at the points' own times; the end-effector error is the fingertip-centre
distance (forward kinematics of actual vs intended angles). For held points it also reports how far
each joint still was from the held point when the next one arrived (the servo's 0.1 s step response).
After the last point the target is held 0.5 s and the remaining error is reported as the settling
error.

    python benchmarks/tracking_error.py               # test positions, 50 Hz interpolation
    python benchmarks/tracking_error.py --rate 100 --positions train

Not a test: it prints figures (quoted in docs/simulator.md) and exits 0.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from latent_nodes.config import BEHAVIOURS, DataConfig, SimConfig
from latent_nodes.sim import arm, kinematics
from latent_nodes.sim.demonstrations import generate_demonstration, train_test_positions
from latent_nodes.sim.simulator import ArmSimulator

SETTLE_S = 0.5


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--positions", choices=["test", "train"], default="test", help="which block positions")
    p.add_argument("--rate", type=float, default=50.0, help="interpolated stream rate, Hz")
    return p.parse_args(argv)


def replay(sim: ArmSimulator, points: np.ndarray, dt: float, mode: str, rate: float) -> dict[str, np.ndarray]:
    """Drive the arm through ``points`` [T, 9]; errors against the piecewise-linear path, every physics step."""
    physics_dt = sim.model.opt.timestep
    sim.reset(points[0])
    duration = (len(points) - 1) * dt
    n_steps = int(round((duration + SETTLE_S) / physics_dt))
    stream_every = max(1, int(round(1.0 / (rate * physics_dt))))
    point_every = int(round(dt / physics_dt))
    times = np.arange(len(points)) * dt
    errors, at_points, ee, hold_end = [], [], [], []
    for i in range(n_steps):
        t = i * physics_dt
        if mode == "held" and i % point_every == 0:
            k = i // point_every
            if 0 < k < len(points):  # the end of the hold of point k - 1: how close did the servo get?
                hold_end.append(sim.joint_positions - points[k - 1])
            sim.set_targets(points[min(k, len(points) - 1)])
        elif mode == "interpolated" and i % stream_every == 0:
            sim.set_targets(np.array([np.interp(t, times, points[:, j]) for j in range(points.shape[1])]))
        intended = np.array([np.interp(t, times, points[:, j]) for j in range(points.shape[1])])
        q = sim.joint_positions
        if t <= duration + 1e-9:
            errors.append(q - intended)
            if i % point_every == 0:
                at_points.append(q - intended)
                ee.append(np.linalg.norm(kinematics.forward_kinematics(q) - kinematics.forward_kinematics(intended)))
        sim.step(physics_dt)
    settle = sim.joint_positions - points[-1]
    return {"err": np.array(errors), "at_points": np.array(at_points), "ee": np.array(ee), "settle": settle,
            "hold_end": np.array(hold_end).reshape(-1, points.shape[1])}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sim_cfg, data_cfg = SimConfig(), replace(DataConfig(), perturbation=0.0)
    train_xy, test_xy = train_test_positions(data_cfg, sim_cfg)
    positions = test_xy if args.positions == "test" else train_xy
    sim = ArmSimulator(sim_cfg)
    start = time.perf_counter()
    refs = [generate_demonstration(b, xy, None, sim_cfg, data_cfg, simulator=sim)[:, :9]
            for b in BEHAVIOURS for xy in positions]
    print(f"{len(refs)} reference trajectories ({', '.join(BEHAVIOURS)} at {len(positions)} {args.positions} "
          f"positions), 20 points 0.1 s apart; physics {sim_cfg.physics_dt * 1000:g} ms, MuJoCo position servos\n")
    names = [n.replace("arm_joint_", "j").replace("finger_joint_", "f_") for n in arm.JOINT_NAMES]
    for mode in ("held", "interpolated"):
        runs = [replay(sim, r, sim_cfg.dt, mode, args.rate) for r in refs]
        err = np.abs(np.concatenate([r["err"] for r in runs]))
        at_points = np.abs(np.concatenate([r["at_points"] for r in runs]))
        ee = np.concatenate([r["ee"] for r in runs]) * 1000
        settle = np.abs(np.array([r["settle"] for r in runs]))
        label = "10 Hz points held" if mode == "held" else f"10 Hz points interpolated, streamed at {args.rate:g} Hz"
        print(f"== {label}")
        print("   joint     " + " ".join(f"{n:>7}" for n in names))
        print("   RMS  rad  " + " ".join(f"{v:7.4f}" for v in np.sqrt(np.mean(err**2, axis=0))))
        print("   max  rad  " + " ".join(f"{v:7.4f}" for v in err.max(axis=0)))
        print(f"   at the points: joint error RMS {np.sqrt(np.mean(at_points[:, :7] ** 2)):.4f} rad, "
              f"max {at_points[:, :7].max():.4f} rad (arm joints)")
        print(f"   fingertip error at the points: RMS {np.sqrt(np.mean(ee ** 2)):.1f} mm, "
              f"95th percentile {np.percentile(ee, 95):.1f} mm, max {ee.max():.1f} mm")
        if mode == "held":
            hold_end = np.abs(np.concatenate([r["hold_end"] for r in runs]))[:, :7]
            print(f"   left to go at the end of each 0.1 s hold: RMS {np.sqrt(np.mean(hold_end ** 2)):.4f} rad, "
                  f"max {hold_end.max():.4f} rad (arm joints)")
        print(f"   settling error {SETTLE_S:g} s after the last point: max {settle.max():.2e} rad\n")
    print(f"({time.perf_counter() - start:.1f} s)")
    sim.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
