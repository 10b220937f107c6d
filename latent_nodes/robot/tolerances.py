"""Path and goal tolerances of a streamed trajectory, without ROS: when is the arm off the plan?

Modelled on ros2_controllers' joint_trajectory_controller (JTC; branch kilted). JTC compares the
measured state with the desired one every cycle (joint_trajectory_controller.cpp L376-412,
``check_state_tolerance_per_joint`` in tolerances.hpp L297-344): per joint, a path (``trajectory``)
tolerance while the trajectory runs and a ``goal`` tolerance once its last point is due, a tolerance of
zero meaning "not enforced" (joint_trajectory_controller_parameters.yaml L226-236, tolerances.hpp
L95-127). On a path violation it aborts and holds the current position (L473-497 with an action goal,
L547-563 without, ``set_hold_position`` L1835-1845); past the goal time (``constraints.goal_time``,
L209-217) outside the goal tolerance it aborts the same way (L518-544).

What differs here, and why:

- The reference is the target the commander streamed (in force when the positions were measured), not
  the trajectory's sample: the streamed target is what the arm was asked to be at (JTC commands its
  desired state directly); when the commander's own velocity or acceleration limits hold the stream
  behind the plan, that is the commander's doing, not the arm being off.
- A path violation must last ``path_tolerance_time_s`` before it counts: the arm's own servo lag, and a
  feedback message that arrives late, make single samples noisy, and JTC's one-cycle check runs at the
  controller's rate on its hardware's own state. A joint that comes back within its tolerance starts over.
- The goal is checked once, after ``settle_s`` (the commander's goal time), against the last point, on
  positions only: JTC's goal also bounds the velocity (``stopped_velocity_tolerance``, tolerances.hpp
  L113), but ``/joint_states`` velocities are optional, and the streamed targets end at rest anyway.

``joint_values`` reads the per-joint overrides (``"joint:value"`` entries, the shape of ros2_control's
``joint_limits.<joint>.max_acceleration`` and JTC's ``constraints.<joint>.trajectory``) the commander's
parameters give for tolerances and acceleration limits.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def parse_joint_values(entries: Sequence[str], what: str, positive: bool = False) -> dict[str, float]:
    """``["joint:value", ...]`` as a mapping; ValueError (one line naming ``what``) for a malformed entry.

    Values must be finite and >= 0 (a tolerance of 0 is not enforced), or > 0 with ``positive`` (a limit).
    """
    values: dict[str, float] = {}
    for entry in entries:
        name, sep, text = str(entry).rpartition(":")
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not sep or not name or not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise ValueError(f"{what}: entry {entry!r} is not joint_name:value with a finite value "
                             f"{'> 0' if positive else '>= 0'}")
        if name in values:
            raise ValueError(f"{what}: joint {name!r} is given twice")
        values[name] = value
    return values


def joint_values(overrides: dict[str, float], names: Sequence[str], default: float) -> tuple[np.ndarray, list[str]]:
    """([J] the value of each of ``names``: its override, else ``default``; the overrides that name no joint)."""
    values = np.array([overrides.get(name, default) for name in names], dtype=np.float64)
    return values, sorted(set(overrides) - set(names))


@dataclass(frozen=True)
class Violation:
    """A joint off the plan: which, by how much, against which tolerance, for how long."""

    kind: str  # "path" or "goal"
    joint: str
    error: float  # rad, measured minus reference
    tolerance: float  # rad
    duration: float  # seconds it has been outside (0 for the goal)

    def describe(self) -> str:
        lasting = f" for {self.duration:.2f} s" if self.kind == "path" else ""
        return (f"{self.kind} tolerance violated: joint {self.joint} is {abs(self.error):.4f} rad off "
                f"(tolerance {self.tolerance:g} rad){lasting}")


class CommandHistory:
    """The targets sent over the last ``keep_s`` seconds: which one was in force at a given time."""

    def __init__(self, keep_s: float) -> None:
        self.keep_s = float(keep_s)
        self.sent: deque[tuple[float, np.ndarray]] = deque()

    def clear(self) -> None:
        self.sent.clear()

    def add(self, t: float, command: np.ndarray) -> None:
        self.sent.append((float(t), np.asarray(command, dtype=np.float64).copy()))
        while len(self.sent) > 1 and self.sent[1][0] <= t - self.keep_s:
            self.sent.popleft()  # the newest one older than keep_s stays: it is in force at t - keep_s

    def at(self, t: float) -> np.ndarray | None:
        """The last target sent at or before ``t``; None if none was (the measurement predates the stream)."""
        for sent_at, command in reversed(self.sent):
            if sent_at <= t:
                return command
        return None


class ToleranceMonitor:
    """Path tolerance (lasting ``path_time_s``) while a trajectory streams, goal tolerance at its end."""

    def __init__(self, names: Sequence[str], path: np.ndarray, path_time_s: float, goal: np.ndarray) -> None:
        self.names = list(names)
        self.path = np.asarray(path, dtype=np.float64)
        self.goal = np.asarray(goal, dtype=np.float64)
        if self.path.shape != (len(self.names),) or self.goal.shape != (len(self.names),):
            raise ValueError(f"tolerances need one value per joint ({len(self.names)})")
        if np.any(~np.isfinite(self.path)) or np.any(self.path < 0) or np.any(~np.isfinite(self.goal)) \
                or np.any(self.goal < 0) or not path_time_s >= 0:
            raise ValueError("tolerances and path_tolerance_time_s must be finite and >= 0 (0: not enforced)")
        self.path_time_s = float(path_time_s)
        self.outside_since = np.full(len(self.names), np.nan)  # per joint: when its violation began

    def start(self) -> None:
        """A new trajectory: no joint has been outside yet."""
        self.outside_since[:] = np.nan

    def check_path(self, error: np.ndarray, t: float) -> Violation | None:
        """The worst joint outside its path tolerance for ``path_time_s`` up to ``t``, else None.

        ``error`` is measured minus reference, per joint (NaN: a joint without feedback, never judged).
        """
        error = np.asarray(error, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            outside = (self.path > 0) & np.isfinite(error) & (np.abs(error) > self.path)
        self.outside_since[~outside] = np.nan
        began = outside & np.isnan(self.outside_since)
        self.outside_since[began] = t
        lasting = outside & (t - np.where(outside, self.outside_since, t) >= self.path_time_s - 1e-9)
        if not np.any(lasting):
            return None
        j = int(np.argmax(np.where(lasting, np.abs(error) / np.where(self.path > 0, self.path, 1.0), -np.inf)))
        return Violation("path", self.names[j], float(error[j]), float(self.path[j]), float(t - self.outside_since[j]))

    def check_goal(self, error: np.ndarray) -> Violation | None:
        """The worst joint outside its goal tolerance at the end, else None (NaN errors are not judged)."""
        error = np.asarray(error, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            outside = (self.goal > 0) & np.isfinite(error) & (np.abs(error) > self.goal)
        if not np.any(outside):
            return None
        j = int(np.argmax(np.where(outside, np.abs(error) / np.where(self.goal > 0, self.goal, 1.0), -np.inf)))
        return Violation("goal", self.names[j], float(error[j]), float(self.goal[j]), 0.0)
