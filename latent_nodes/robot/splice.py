"""Splicing an updated trajectory into a running behaviour, without ROS: keep the phase, never jump.

Online inference re-publishes the completion of the behaviour that is already running. Its points are
timed from the behaviour's start (the header stamp), not from receipt, so the commander must not restart
it: the arm is at some step of the behaviour and should continue from there, along the updated plan, as
if that plan had been the one from the start. The arm is not on the updated plan, though (the plan
changed, which is why it was sent), so the splice blends: a straight segment from the last commanded
position to the first updated point it can reach within the velocity limit, then the updated points at
their own times. Choosing the first *reachable* point (rather than the next one) keeps the blend within
the limit without stretching the rest of the behaviour: the phase after the blend is the updated plan's.
If no point is reachable in time (a large change near the end), the blend ends on the last point, as
soon as the velocity limit allows. A behaviour that is already over has nothing left to continue: it is
refused (``ValueError``), never turned into a straight line to its last point. The commander refuses such
a trajectory before it gets here (``latent_nodes.robot.admission``, JTC's rule for a stamp whose end is in
the past).

Everything here works in seconds from the behaviour's start, the clock the commander samples with.
"""

from __future__ import annotations

import numpy as np

from latent_nodes.robot.safety import CheckedTrajectory


def splice(updated: CheckedTrajectory, elapsed: float, last_command: np.ndarray,
           max_velocity: np.ndarray) -> CheckedTrajectory:
    """The command trajectory that continues a running behaviour along ``updated`` from ``last_command``.

    ``updated`` is timed from the behaviour's start (as published), ``elapsed`` is how long the behaviour
    has been running now (seconds) and ``last_command`` the position the arm was last sent. The result is
    timed from the same start: it holds ``last_command`` until ``elapsed`` (so sampling it at the current
    time gives no jump), moves in a straight line to the first updated point reachable within
    ``max_velocity`` (per joint, rad/s), and follows ``updated`` from there to its end.
    """
    start = np.asarray(last_command, dtype=np.float64).reshape(-1)
    vmax = np.asarray(max_velocity, dtype=np.float64).reshape(-1)
    if start.shape[0] != updated.positions.shape[1] or vmax.shape != start.shape:
        raise ValueError(f"last_command ({start.shape[0]}) and max_velocity ({vmax.shape[0]}) must have one "
                         f"value per joint of the trajectory ({updated.positions.shape[1]})")
    if not (np.all(np.isfinite(start)) and np.all(vmax > 0) and np.isfinite(elapsed)):
        raise ValueError("splice needs a finite last command and elapsed time and positive velocity limits")
    if elapsed >= updated.duration:
        raise ValueError(f"the behaviour ended {elapsed - updated.duration:.3g} s ago: nothing left to splice in")
    # Seconds each later point needs to be reached from ``start`` at the velocity limit (slowest joint).
    later = np.nonzero(updated.times > elapsed)[0]
    for j in later:
        needed = float(np.max(np.abs(updated.positions[j] - start) / vmax))
        if updated.times[j] - elapsed >= needed:
            times = np.concatenate([[elapsed], updated.times[j:]])
            positions = np.vstack([start, updated.positions[j:]])
            return CheckedTrajectory(times, positions, updated.clamped)
    # No point reachable on time: end on the last point, as fast as allowed.
    needed = float(np.max(np.abs(updated.positions[-1] - start) / vmax))
    blend = max(needed, 1e-3)  # strictly increasing times even when the arm is already there
    return CheckedTrajectory(np.array([elapsed, elapsed + blend]), np.vstack([start, updated.positions[-1]]),
                             updated.clamped)
