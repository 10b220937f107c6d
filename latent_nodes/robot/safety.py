"""The commander's safety limits, without ROS: what may be sent to the arm and how fast.

A trajectory that the inference node (or anyone else on the topic) publishes is checked here before a
single joint target leaves the commander: the joint names must be exactly the arm's, every value finite,
the timing strictly increasing. Accepted trajectories are clamped to the joint limits, and the streamed
targets are rate-limited so that no joint is asked to move faster than its velocity limit, whatever the
trajectory (or a jump from the arm's current pose to the first point) demands; the commander's stream
also keeps within an acceleration limit (``latent_nodes.robot.stream_limiter``). Keeping this free of
rclpy lets the tests check every rule directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class UnsafeTrajectory(ValueError):
    """A trajectory the commander refuses; the message says which rule it breaks."""


@dataclass(frozen=True)
class JointLimits:
    """Position, velocity and (optionally) acceleration limits of the arm's joints, in the arm's joint order.

    A URDF ``<limit>`` has no acceleration, so ``max_acceleration`` is optional: ``None`` (the default, what
    every reader of a robot description passes) means none is known, infinite per joint; the commander
    adds its own (``with_acceleration_cap``, from its parameters).
    """

    names: tuple[str, ...]
    lower: np.ndarray  # [J] rad
    upper: np.ndarray  # [J] rad
    max_velocity: np.ndarray  # [J] rad/s
    max_acceleration: np.ndarray | None = None  # [J] rad/s^2; None: infinite

    def __post_init__(self) -> None:
        n = len(self.names)
        if self.max_acceleration is None:
            object.__setattr__(self, "max_acceleration", np.full(n, np.inf))
        for label in ("lower", "upper", "max_velocity", "max_acceleration"):
            value = np.asarray(getattr(self, label), dtype=np.float64).reshape(-1)
            if value.shape != (n,):
                raise ValueError(f"JointLimits.{label} has {value.size} values for {n} joints")
            object.__setattr__(self, label, value)
        if len(set(self.names)) != n:
            raise ValueError(f"joint names must be unique, got {list(self.names)}")
        if np.any(self.lower > self.upper) or np.any(self.max_velocity <= 0):
            raise ValueError("joint limits need lower <= upper and a positive velocity limit")
        if np.any(np.isnan(self.max_acceleration)) or np.any(self.max_acceleration <= 0):
            raise ValueError("joint limits need a positive acceleration limit (or none: infinite)")

    def with_velocity_cap(self, cap: float) -> JointLimits:
        """The same limits with every velocity limit at most ``cap`` rad/s (a commander setting)."""
        if not cap > 0:
            raise ValueError(f"velocity cap must be positive, got {cap}")
        return JointLimits(self.names, self.lower, self.upper, np.minimum(self.max_velocity, cap),
                           self.max_acceleration)

    def with_acceleration_cap(self, cap: float | np.ndarray) -> JointLimits:
        """The same limits with each acceleration limit at most ``cap`` rad/s^2 (one value, or one per joint)."""
        cap = np.broadcast_to(np.asarray(cap, dtype=np.float64), (len(self.names),))
        if np.any(np.isnan(cap)) or np.any(cap <= 0):
            raise ValueError(f"acceleration cap must be positive, got {cap.tolist()}")
        return JointLimits(self.names, self.lower, self.upper, self.max_velocity,
                           np.minimum(self.max_acceleration, cap))

    def clamp(self, q: np.ndarray) -> np.ndarray:
        """Positions clamped into [lower, upper], joint by joint (works on [J] or [N, J])."""
        return np.clip(q, self.lower, self.upper)


@dataclass
class CheckedTrajectory:
    """A trajectory that passed validation: times from its start and positions in the arm's joint order."""

    times: np.ndarray  # [N] seconds from the start, strictly increasing, >= 0
    positions: np.ndarray  # [N, J] rad, clamped to the joint limits
    clamped: bool  # whether clamping changed any value (worth a warning, not a refusal)

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    def sample(self, t: float) -> np.ndarray:
        """Desired positions at ``t`` seconds from the start: linear between points, held outside them."""
        if t <= self.times[0]:
            return self.positions[0].copy()
        if t >= self.times[-1]:
            return self.positions[-1].copy()
        i = int(np.searchsorted(self.times, t, side="right"))
        t0, t1 = self.times[i - 1], self.times[i]
        w = (t - t0) / (t1 - t0)
        return (1.0 - w) * self.positions[i - 1] + w * self.positions[i]


def check_trajectory(names: Sequence[str], times: Sequence[float], positions: Sequence[Sequence[float]],
                     limits: JointLimits) -> CheckedTrajectory:
    """Validate a trajectory against the arm; raises ``UnsafeTrajectory`` naming the broken rule.

    Names may come in any order (they are mapped onto the arm's order), but must be exactly the arm's
    joints: a missing, extra, duplicated or unknown name is refused rather than guessed at, because a
    mis-mapped joint is the most dangerous mistake a commander can make.
    """
    names = list(names)
    if len(names) != len(limits.names):
        raise UnsafeTrajectory(f"trajectory has {len(names)} joint names, the arm has {len(limits.names)}")
    if len(set(names)) != len(names):
        raise UnsafeTrajectory(f"trajectory repeats joint names: {names}")
    unknown = sorted(set(names) - set(limits.names))
    if unknown:
        raise UnsafeTrajectory(f"trajectory names unknown joints {unknown}; the arm's are {list(limits.names)}")
    n_points = len(positions)
    if n_points == 0:
        raise UnsafeTrajectory("trajectory has no points")
    if len(times) != n_points:
        raise UnsafeTrajectory(f"trajectory has {n_points} points but {len(times)} times")
    rows = []
    for k, row in enumerate(positions):
        row = np.asarray(row, dtype=np.float64).reshape(-1)
        if row.shape != (len(names),):
            raise UnsafeTrajectory(f"point {k} has {row.size} positions for {len(names)} joints")
        rows.append(row)
    q = np.stack(rows)
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(q)):
        k = int(np.argwhere(~np.isfinite(q))[0, 0])
        raise UnsafeTrajectory(f"point {k} has a non-finite position")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise UnsafeTrajectory("time_from_start values must be finite and non-negative")
    if np.any(np.diff(t) <= 0):
        raise UnsafeTrajectory("time_from_start values must be strictly increasing")
    order = [names.index(name) for name in limits.names]
    q = q[:, order]
    clamped = limits.clamp(q)
    return CheckedTrajectory(times=t, positions=clamped, clamped=bool(np.any(clamped != q)))


def rate_limit(previous: np.ndarray, target: np.ndarray, max_velocity: np.ndarray, dt: float) -> np.ndarray:
    """Move from ``previous`` towards ``target`` by at most ``max_velocity * dt`` per joint."""
    step = np.clip(np.asarray(target) - previous, -max_velocity * dt, max_velocity * dt)
    return previous + step
