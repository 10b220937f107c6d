"""What an online node observes of the simulated arm executing a demonstration: the lag recognition must bear.

A demonstration's joints are what the model was trained on; an arm driven through them lags. The demo's
commander streams a trajectory (point k at (k + 1) dt, ``nodes/messages.joint_trajectory``) as position
targets at ``command_rate``, linear in joint space between points (the first point reached from where the
arm is), and the PD servos (``ArmSimulator``) follow with a lag. The inference node's clock starts when the
block pose arrives, ``delay`` after the motion started, and observes step 0 at once and step k at
(k + 1) dt (``nodes/inference_node.py``, ``run_online``), each ``late`` by the executor and reading a joint
state ``age`` old. ``observed_joints`` replays exactly that without ROS, so recognition thresholds can be
calibrated and scored on executed-arm-like data (``benchmarks/recognition_calibration.py``).
"""

from __future__ import annotations

import numpy as np

from latent_nodes.sim.simulator import ArmSimulator

COMMAND_RATE = 50.0  # Hz: the commander's targets (NodesConfig.command_rate)


def observed_joints(sim: ArmSimulator, targets: np.ndarray, block_xy: np.ndarray, dt: float, delay: float,
                    late: np.ndarray | None = None, age: np.ndarray | None = None,
                    command_rate: float = COMMAND_RATE) -> np.ndarray:
    """[T, J] the joints the node observes at its steps while ``sim`` executes ``targets`` [T, J] from rest.

    ``delay`` (s) is when the node's clock starts after the motion; ``late`` and ``age`` [T] (s, default 0)
    shift each observation later and its joint state earlier. The arm starts at rest at HOME with the block
    at ``block_xy``.
    """
    targets = np.asarray(targets, dtype=np.float64)
    steps = len(targets)
    late = np.zeros(steps) if late is None else np.asarray(late, dtype=np.float64)
    age = np.zeros(steps) if age is None else np.asarray(age, dtype=np.float64)
    if targets.ndim != 2 or late.shape != (steps,) or age.shape != (steps,) or not dt > 0 or not command_rate > 0:
        raise ValueError(f"observed_joints needs targets [T, J], late and age [T], dt > 0 and command_rate > 0; "
                         f"got {targets.shape}, {late.shape}, {age.shape}, {dt}, {command_rate}")
    sim.reset()
    sim.set_block(*np.asarray(block_xy, dtype=np.float64))
    knots_t = np.concatenate([[0.0], (np.arange(steps) + 1) * dt])
    knots_q = np.vstack([sim.joint_positions, targets])
    index = np.arange(steps)
    when = np.maximum(delay + np.where(index == 0, 0.0, (index + 1) * dt) + late - age, 0.0)
    order = np.argsort(when, kind="stable")
    out = np.zeros_like(targets)
    physics = sim.model.opt.timestep
    per_tick = max(1, int(round(1.0 / (command_rate * physics))))  # physics steps per commander tick
    n, k = 0, 0
    while k < steps:
        t = n * physics
        if n % per_tick == 0:
            sim.set_targets(np.array([np.interp(t, knots_t, knots_q[:, j]) for j in range(knots_q.shape[1])]))
        while k < steps and when[order[k]] <= t + 1e-9:
            out[order[k]] = sim.joint_positions
            k += 1
        sim.step(physics)
        n += 1
    return out
