"""A checked trajectory as ros2_control's joint_trajectory_controller wants it, without ROS.

The commander streams position targets to the embedded and CoppeliaSim arms; a ros2_control arm instead
receives the whole behaviour at once and its joint_trajectory_controller interpolates between the points.
Given positions *and* velocities it interpolates each segment with a cubic Hermite spline (piecewise
linear otherwise; ros2_controllers kilted, joint_trajectory_controller/src/trajectory.cpp L279-364, with
its default ``interpolation_method: splines``), so this module supplies velocities that make that spline
safe and smooth:

- knot velocities follow the Fritsch-Carlson rule (central difference, zero where a joint turns,
  at most three times the neighbouring slopes), so the spline never overshoots a knot: it stays within
  the joint limits the knots were clamped to; it starts and ends at rest (the controller rejects a
  trajectory whose last point moves, unless told otherwise: joint_trajectory_controller.cpp L1712-1726);
- a segment whose spline would move any joint faster than its velocity limit, or accelerate it harder
  than its acceleration limit, is slowed (its duration stretched until the spline's peak velocity and
  peak acceleration, both computed exactly, are within the limits): the same limits the streaming
  commander enforces by rate limiting (``latent_nodes.robot.stream_limiter``), enforced here by timing.

Before timing, the checked trajectory is joined to where the arm is (``controller_knots``): a first knot
at t = 0 at the measured positions, the trajectory's points after it. A stamped trajectory (timed from
its behaviour's start) is first continued from the arm at its current phase (``splice_sent_joints``).

Model joints are renamed for the robot (``JointNameMap``) and split between the arm controller and a
gripper controller (``split_joints``), because a joint_trajectory_controller refuses a trajectory that
names a joint it does not control.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latent_nodes.robot.safety import CheckedTrajectory, JointLimits
from latent_nodes.robot.splice import splice

# Stretching stops once every segment's peak velocity and acceleration are within this fraction above
# their limits.
VELOCITY_TOLERANCE = 1e-6
MAX_RETIMING_ROUNDS = 1000
# When a trajectory's first point is due at once (time 0) but the arm is elsewhere, it is moved this far
# out first; the timing within the limits then stretches it as far as the move needs.
FIRST_POINT_S = 1e-3


@dataclass(frozen=True)
class JointNameMap:
    """The model's joint names and the robot's name for each, in the model's order."""

    model_names: tuple[str, ...]
    robot_names: tuple[str, ...]

    @classmethod
    def parse(cls, model_names: Sequence[str], entries: Sequence[str]) -> JointNameMap:
        """From ``model_name:robot_name`` entries; unmapped joints keep their names.

        ValueError (one line) for an entry without exactly one ``:``, an unknown or repeated model joint,
        or two model joints mapped onto one robot joint: each would send a position to the wrong joint.
        """
        model_names = tuple(model_names)
        robot = dict(zip(model_names, model_names, strict=True))
        seen: set[str] = set()
        for entry in entries:
            parts = entry.split(":")
            if len(parts) != 2 or not all(p.strip() for p in parts):
                raise ValueError(f"joint_name_map entry {entry!r}: expected model_name:robot_name")
            model, name = (p.strip() for p in parts)
            if model not in robot:
                raise ValueError(f"joint_name_map names unknown joint {model!r}; the model's joints are "
                                 f"{list(model_names)}")
            if model in seen:
                raise ValueError(f"joint_name_map maps {model!r} twice")
            seen.add(model)
            robot[model] = name
        names = tuple(robot[m] for m in model_names)
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"joint_name_map gives several model joints the robot name(s) {doubled}")
        return cls(model_names, names)


def split_joints(model_names: Sequence[str], gripper_joints: Sequence[str]) -> tuple[list[int], list[int]]:
    """Indices (model order) of the arm controller's joints and of the gripper controller's joints.

    ValueError for a gripper joint the model does not have, or one listed twice.
    """
    model_names = list(model_names)
    unknown = [n for n in gripper_joints if n not in model_names]
    if unknown:
        raise ValueError(f"gripper_joints names unknown joint(s) {unknown}; the model's joints are {model_names}")
    if len(set(gripper_joints)) != len(gripper_joints):
        raise ValueError(f"gripper_joints repeats a joint: {list(gripper_joints)}")
    gripper = [i for i, n in enumerate(model_names) if n in set(gripper_joints)]
    arm = [i for i in range(len(model_names)) if i not in set(gripper)]
    if not arm:
        raise ValueError("gripper_joints takes every joint: the arm controller would get none")
    return arm, gripper


@dataclass
class SplineTrajectory:
    """Knots of a cubic Hermite spline: times from the start (the first is 0, where the arm is)."""

    times: np.ndarray  # [N] seconds, strictly increasing, times[0] == 0
    positions: np.ndarray  # [N, J] rad
    velocities: np.ndarray  # [N, J] rad/s; zero at the first and the last knot

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    def sample(self, t: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, velocities) of the spline at ``t`` (held at the ends), as the controller computes them
        (trajectory.cpp L334-364; test/test_trajectory_controller_stand_in.py compares the two).
        """
        t = np.clip(np.atleast_1d(np.asarray(t, dtype=np.float64)), self.times[0], self.times[-1])
        i = np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, len(self.times) - 2)
        h = (self.times[i + 1] - self.times[i])[:, None]
        s = ((t - self.times[i])[:, None]) / h
        p0, p1 = self.positions[i], self.positions[i + 1]
        m0, m1 = self.velocities[i] * h, self.velocities[i + 1] * h
        s2, s3 = s * s, s * s * s
        q = (2 * s3 - 3 * s2 + 1) * p0 + (s3 - 2 * s2 + s) * m0 + (-2 * s3 + 3 * s2) * p1 + (s3 - s2) * m1
        v = ((6 * s2 - 6 * s) * p0 + (3 * s2 - 4 * s + 1) * m0 + (-6 * s2 + 6 * s) * p1 + (3 * s2 - 2 * s) * m1) / h
        return q, v


def knot_velocities(times: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """[N, J] Fritsch-Carlson velocities: no overshoot between knots, at rest at both ends."""
    slopes = np.diff(positions, axis=0) / np.diff(times)[:, None]  # [N-1, J]
    v = np.zeros_like(positions)
    if len(times) > 2:
        before, after = slopes[:-1], slopes[1:]
        central = (positions[2:] - positions[:-2]) / (times[2:] - times[:-2])[:, None]
        same_way = before * after > 0
        bound = 3.0 * np.minimum(np.abs(before), np.abs(after))
        v[1:-1] = np.where(same_way, np.clip(central, -bound, bound), 0.0)
    return v


def segment_peak_speed(times: np.ndarray, positions: np.ndarray, velocities: np.ndarray) -> np.ndarray:
    """[N-1, J] the largest |velocity| the Hermite spline reaches on each segment, exactly.

    On a segment, velocity is a quadratic in s = (t - t0) / h: c + b s + a s^2 with c = v0,
    b = 6 d - 4 v0 - 2 v1, a = 3 v0 + 3 v1 - 6 d (d the segment's mean velocity); its extreme is at an
    end or at the vertex.
    """
    d = np.diff(positions, axis=0) / np.diff(times)[:, None]
    v0, v1 = velocities[:-1], velocities[1:]
    a, b = 3 * v0 + 3 * v1 - 6 * d, 6 * d - 4 * v0 - 2 * v1
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(a != 0, -b / (2 * a), 0.0)
    s = np.clip(s, 0.0, 1.0)
    vertex = v0 + b * s + a * s * s
    return np.maximum.reduce([np.abs(v0), np.abs(v1), np.abs(vertex)])


def segment_peak_acceleration(times: np.ndarray, positions: np.ndarray, velocities: np.ndarray) -> np.ndarray:
    """[N-1, J] the largest |acceleration| the Hermite spline reaches on each segment, exactly.

    On a segment of duration h the acceleration is linear in time (the spline is a cubic), so its
    extreme is at an end: (6 d - 4 v0 - 2 v1) / h at the start and (-6 d + 2 v0 + 4 v1) / h at the end,
    d the segment's mean velocity (the derivative of ``segment_peak_speed``'s quadratic, over h).
    """
    h = np.diff(times)[:, None]
    d = np.diff(positions, axis=0) / h
    v0, v1 = velocities[:-1], velocities[1:]
    return np.maximum(np.abs(6 * d - 4 * v0 - 2 * v1), np.abs(-6 * d + 2 * v0 + 4 * v1)) / h


def spline_trajectory(times: Sequence[float], positions: np.ndarray, max_velocity: np.ndarray,
                      max_acceleration: np.ndarray | None = None) -> SplineTrajectory:
    """Knots with velocities, segments slowed where the spline would exceed ``max_velocity`` [J] rad/s or
    ``max_acceleration`` [J] rad/s^2 (None or inf: no acceleration limit).

    ``times[0]`` must be 0 with ``positions[0]`` where the arm is now (at rest); times strictly
    increase. A segment's excess is its peak-to-limit velocity ratio, or the square root of its
    acceleration ratio (acceleration falls with the square of the duration). Each round stretches every
    segment in excess by the square root of its excess and recomputes the knot velocities from the new
    times, so they stay the Fritsch-Carlson ones, until no segment exceeds a limit. The half step keeps
    the result close to the limits: stretching a segment also slows the knots it shares with its
    neighbours, so a full step overshoots (a first point 0.05 rad away due at once ended at 0.73 of its
    acceleration limit, and random knots took 3 % longer); the half step takes about 20 rounds instead of
    5. It converges: a knot's velocity is at most three times either neighbouring segment's mean velocity,
    so a segment's peak speed is at most 4 |dq| / h and its peak acceleration at most 24 |dq| / h^2
    whatever its neighbours' times, and stretching brings both under any limit.
    """
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    q = np.asarray(positions, dtype=np.float64)
    vmax = np.asarray(max_velocity, dtype=np.float64).reshape(-1)
    if q.ndim != 2 or q.shape[0] != t.size or t.size < 2:
        raise ValueError(f"need at least 2 knots with one time each, got {t.size} times for {q.shape} positions")
    if q.shape[1] != vmax.size or np.any(vmax <= 0):
        raise ValueError(f"need one positive velocity limit per joint ({q.shape[1]}), got {vmax}")
    amax = (np.full(vmax.size, np.inf) if max_acceleration is None
            else np.asarray(max_acceleration, dtype=np.float64).reshape(-1))
    if amax.size != vmax.size or not np.all(amax > 0):
        raise ValueError(f"need one positive acceleration limit per joint ({q.shape[1]}), got {amax}")
    if t[0] != 0 or np.any(np.diff(t) <= 0) or not np.all(np.isfinite(t)) or not np.all(np.isfinite(q)):
        raise ValueError("knots need finite values and times strictly increasing from 0")
    h = np.diff(t)
    for _ in range(MAX_RETIMING_ROUNDS):
        t = np.concatenate([[0.0], np.cumsum(h)])
        v = knot_velocities(t, q)
        speed = (segment_peak_speed(t, q, v) / vmax).max(axis=1)  # [N-1]
        acceleration = (segment_peak_acceleration(t, q, v) / amax).max(axis=1)
        if np.all(speed <= 1.0 + VELOCITY_TOLERANCE) and np.all(acceleration <= 1.0 + VELOCITY_TOLERANCE):
            return SplineTrajectory(t, q, v)
        excess = np.maximum(speed, np.sqrt(acceleration))
        h = np.where(excess > 1.0, h * np.sqrt(excess) * (1.0 + VELOCITY_TOLERANCE), h)
    raise ValueError(f"could not time the trajectory within the velocity and acceleration limits in "
                     f"{MAX_RETIMING_ROUNDS} rounds")


def controller_knots(trajectory: CheckedTrajectory, measured: np.ndarray,
                     sent: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """([N] times, [N, J] positions) of the knots the controllers go through: t = 0 where the arm is, then
    ``trajectory``'s points.

    ``measured`` [J] is the arm's position (NaN for joints never sent, which may have no feedback);
    ``sent`` the joints (columns) that reach a controller. The commander's start row lacks the joints
    never sent: they take the trajectory's next row. A first knot is added at t = 0 where the arm is
    unless the trajectory already starts there at t = 0; a first point due at once elsewhere is moved
    ``FIRST_POINT_S`` out, and the timing within the limits (``spline_trajectory``) stretches the move.
    """
    sent = list(sent)
    times, q = np.asarray(trajectory.times, dtype=np.float64), trajectory.positions.astype(np.float64)
    if len(q) > 1:
        missing = ~np.isfinite(q[0])
        q[0, missing] = q[1, missing]
    start = np.where(np.isfinite(measured), measured, q[0])
    if times[0] > 0 or not np.array_equal(q[0, sent], start[sent]):
        times = np.concatenate([[0.0], times + (FIRST_POINT_S if times[0] <= 0 else 0.0)])
        q = np.vstack([start, q])
    return times, q


def time_for_controller(trajectory: CheckedTrajectory, measured: np.ndarray, sent: Sequence[int],
                        limits: JointLimits) -> tuple[SplineTrajectory, np.ndarray, float]:
    """(the spline of the ``sent`` joints, timed within ``limits``' velocity and acceleration limits; [N, J]
    the knots' positions, every joint; the knots' duration before timing: longer spline, slowed) for
    ``trajectory`` from ``measured`` (``controller_knots``).
    """
    sent = list(sent)
    times, q = controller_knots(trajectory, measured, sent)
    spline = spline_trajectory(times, q[:, sent], limits.max_velocity[sent], limits.max_acceleration[sent])
    return spline, q, float(times[-1])


def splice_sent_joints(trajectory: CheckedTrajectory, elapsed: float, measured: np.ndarray,
                       max_velocity: np.ndarray, sent: Sequence[int]) -> CheckedTrajectory:
    """A stamped trajectory (timed from its behaviour's start, ``elapsed`` s ago) continued from the arm.

    Only the joints ``sent`` to a controller are spliced from the arm (``latent_nodes.robot.splice``):
    a joint never sent may have no feedback (NaN in ``measured``); it takes the plan's own position at
    ``elapsed`` and does not limit the blend.
    """
    sent = list(sent)
    start = np.asarray(trajectory.sample(elapsed), dtype=np.float64)
    vmax = np.full(len(start), np.inf)
    start[sent], vmax[sent] = np.asarray(measured)[sent], np.asarray(max_velocity)[sent]
    return splice(trajectory, elapsed, start, vmax)


def without_position_interface(joints: Sequence[str], position_commanded: Sequence[str]) -> list[str]:
    """Those of ``joints`` the robot description's ``<ros2_control>`` block gives no position command interface.

    ``position_commanded`` is ``RobotDescription.position_commanded``. A joint_trajectory_controller with
    ``command_interfaces: [position]`` needs one per joint; hardware that takes only velocity or effort
    commands follows a position trajectory only through a controller configured for those. An empty
    ``position_commanded`` tells nothing (a description without a ``<ros2_control>`` block, such as the
    embedded arm's, names no interfaces at all): nothing is reported then.
    """
    if not position_commanded:
        return []
    commanded = set(position_commanded)
    return [name for name in joints if name not in commanded]


@dataclass
class ControllerTrajectory:
    """What one controller receives: its joints (robot names) and the points after the start knot."""

    joint_names: list[str]
    times: np.ndarray  # [N] seconds from "now" (the message's zero stamp), strictly increasing, > 0
    positions: np.ndarray  # [N, J] rad
    velocities: np.ndarray  # [N, J] rad/s


def for_controller(spline: SplineTrajectory, joint_names: Sequence[str],
                   columns: Sequence[int]) -> ControllerTrajectory:
    """The part of ``spline`` for one controller: ``columns`` of it, named ``joint_names``.

    The start knot (t = 0, where the arm is) is left out: a joint_trajectory_controller starts from its
    own current state and interpolates to the first point, as the spline here assumed (its state has no
    velocity or the arm is at rest: joint_trajectory_controller.cpp L301-317, trajectory.cpp L50-76).
    """
    columns = list(columns)
    if len(joint_names) != len(columns):
        raise ValueError(f"{len(joint_names)} names for {len(columns)} joints")
    return ControllerTrajectory(list(joint_names), spline.times[1:].copy(), spline.positions[1:, columns].copy(),
                                spline.velocities[1:, columns].copy())
