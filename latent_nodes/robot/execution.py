"""One trajectory's execution on the arm, without ROS: what to command each tick, and when to stop.

The commander node reads parameters and messages and publishes what this decides; the decisions live
here so they can be tested without DDS. Times are integer nanoseconds on the node's clock (as rclpy's
``Time.nanoseconds``), so intervals are exact however large the clock reads; positions are arrays in the
arm's joint order.

An ``Execution`` is fed:

- ``feedback(q, at_ns)``: each ``/joint_states`` (positions, and when they were measured). While a
  trajectory runs it is compared with the reference (``latent_nodes.robot.tolerances``): streaming, the
  target in force when the positions were measured (``CommandHistory``); with a controller that
  interpolates on its own (ros2_control over the topic), the trajectory as sent, sampled at that time,
  on the joints sent only. A lasting path violation ends the execution and is returned: the caller holds
  the arm. The squared error against the trajectory is summed for the tracking error (running sums:
  bounded memory however long it runs).
- ``begin(trajectory, start, started_at_ns, now_ns)``: a checked trajectory (its start row already
  prepended by ``with_start_row``, or spliced) starts, replacing any running one. Streaming, a new
  stream starts where the arm is, at rest; a replacing one goes on from the last target at its velocity.
- ``tick(now_ns, limits)``: streaming, the next target within the velocity and acceleration limits, a
  late tick's step capped (``latent_nodes.robot.stream_limiter``), and whether the trajectory and
  ``settle_s`` are over: ``settle_s`` counts from when the stream has actually sent the last point (late
  ticks on a busy machine leave the stream behind the trajectory's clock, and the arm cannot settle on
  a target it has not been sent yet), and at most ``MAX_CATCH_UP_S`` past the trajectory's end; for a
  controller, how far past the end and ``settle_s`` the time is (its outcome decides). Either
  way, feedback older than ``stale_feedback_s`` stops the execution (nothing to hold: where the arm is
  is unknown).
- ``finish(now_ns)``: the tracking error over the run, and the goal check after ``settle_s`` (JTC's
  goal tolerance, once) on the supervised joints, against fresh feedback only.
- ``hold(now_ns, limits)``: the measured position clamped to the limits (JTC's ``set_hold_position``
  holds the measured state, joint_trajectory_controller.cpp kilted L1835-1845; a joint measured past its
  limit is held at the limit), or None without fresh feedback; streaming, the stream restarts there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latent_nodes.robot.safety import CheckedTrajectory, JointLimits
from latent_nodes.robot.stream_limiter import StreamLimiter
from latent_nodes.robot.tolerances import CommandHistory, ToleranceMonitor, Violation

NS = 1e-9
# Streaming: how long past the trajectory's end the stream may take to send its last point before the
# goal is checked anyway (a stream this far behind has already been stopped for stale feedback or is stuck).
MAX_CATCH_UP_S = 5.0


def rms_of(squared_errors: np.ndarray) -> float:
    """Root of the mean over the finite entries (NaN: a joint without feedback, never sent); NaN if none."""
    finite = squared_errors[np.isfinite(squared_errors)]
    return float(np.sqrt(finite.mean())) if finite.size else float("nan")


def with_start_row(trajectory: CheckedTrajectory, start: np.ndarray) -> CheckedTrajectory:
    """``trajectory`` reaching its first point from ``start`` within its first interval (a row at t = 0).

    A trajectory whose first point is due at once is left as it is: the limits take it there.
    """
    if trajectory.times[0] <= 0:
        return trajectory
    return CheckedTrajectory(np.concatenate([[0.0], trajectory.times]), np.vstack([start, trajectory.positions]),
                             trajectory.clamped)


@dataclass(frozen=True)
class Tick:
    """What one tick decided: ``stale_s`` set when stale feedback stopped the execution (its age);
    streaming, the ``command`` to send; ``overdue_s``: the time past the trajectory's end and settle_s
    (>= 0: streaming, the execution is to be finished).
    """

    command: np.ndarray | None = None
    stale_s: float | None = None
    overdue_s: float = float("-inf")


@dataclass(frozen=True)
class Finished:
    """How an execution ended: RMS tracking errors over the run and at the last feedback, samples, goal."""

    tracking_error: float
    final_error: float
    samples: int
    goal: np.ndarray  # the last point
    violation: Violation | None  # the goal tolerance, checked against fresh feedback on supervised joints


class Execution:
    """The running trajectory and the arm's feedback for one commander.

    ``streaming``: the commander sends every target itself (else a controller interpolates the trajectory
    sent). ``supervised``: the joints whose path and goal tolerances the commander checks (None: all;
    empty: none, the controller's result decides).
    """

    def __init__(self, names: Sequence[str], monitor: ToleranceMonitor, period_s: float, stale_feedback_s: float,
                 settle_s: float, streaming: bool = True, supervised: Sequence[int] | None = None) -> None:
        self.streaming = streaming
        self.stale_feedback_s = float(stale_feedback_s)
        self.settle_s = float(settle_s)
        self.limiter = StreamLimiter(period_s)
        self.history = CommandHistory(keep_s=stale_feedback_s + 1.0)
        self.supervised_given = None if supervised is None else list(supervised)
        self.active: CheckedTrajectory | None = None
        self.started_at_ns: int | None = None
        self.sent_last_at_ns: int | None = None  # streaming: when the running trajectory's last point was sent
        self.last_command: np.ndarray | None = None
        self.last_tick_ns: int | None = None
        self.measured: np.ndarray | None = None  # latest feedback, arm order
        self.measured_at_ns: int | None = None  # when it was measured
        self.set_joints(names, monitor)

    def set_joints(self, names: Sequence[str], monitor: ToleranceMonitor) -> None:
        """The arm's joints (fixed by an accepted trajectory): feedback and sums under the old ones are gone."""
        self.names = list(names)
        n = len(self.names)
        self.monitor = monitor
        self.supervised = np.zeros(n, dtype=bool)
        self.supervised[slice(None) if self.supervised_given is None else self.supervised_given] = True
        self.measured, self.measured_at_ns = None, None
        self.error_sum, self.error_count = np.zeros(n), np.zeros(n)
        self.last_squared_error = np.full(n, np.nan)

    # --- feedback -------------------------------------------------------------------------------------

    def feedback_age(self, now_ns: int) -> float:
        return float("inf") if self.measured_at_ns is None else (now_ns - self.measured_at_ns) * NS

    def fresh(self, now_ns: int) -> bool:
        return self.measured is not None and self.feedback_age(now_ns) <= self.stale_feedback_s

    def forget_feedback(self) -> None:
        """The clock jumped: feedback from before belongs to another world."""
        self.measured, self.measured_at_ns = None, None

    def feedback(self, q: np.ndarray, at_ns: int) -> Violation | None:
        """Positions ``q`` measured at ``at_ns``; a lasting path violation stops the execution and is returned."""
        self.measured, self.measured_at_ns = np.asarray(q, dtype=np.float64), int(at_ns)
        if self.active is None:
            return None
        if self.supervised.any():
            reference = self.reference(at_ns)
            if reference is not None:
                error = self.measured - reference
                error[~self.supervised] = np.nan  # not judged
                violation = self.monitor.check_path(error, at_ns * NS)
                if violation is not None:
                    self.active = None
                    return violation
        if at_ns < self.started_at_ns:
            return None
        squared = (self.measured - self.active.sample((at_ns - self.started_at_ns) * NS)) ** 2
        finite = np.isfinite(squared)
        self.error_sum[finite] += squared[finite]
        self.error_count[finite] += 1
        self.last_squared_error = squared
        return None

    def reference(self, at_ns: int) -> np.ndarray | None:
        """What the arm was asked to be at ``at_ns``: the streamed target then (also before a future stamp,
        while the stream moves to the first point), or the sent trajectory there; None before either.
        """
        if self.streaming:
            return self.history.at(at_ns * NS)
        if at_ns < self.started_at_ns:
            return None
        return self.active.sample((at_ns - self.started_at_ns) * NS)

    # --- execution ------------------------------------------------------------------------------------

    def start_position(self) -> np.ndarray | None:
        """Where a new trajectory starts: streaming over a running one, the last target; else the arm."""
        return self.last_command if self.active is not None and self.streaming else self.measured

    def begin(self, trajectory: CheckedTrajectory, start: np.ndarray, started_at_ns: int, now_ns: int) -> None:
        """Execute ``trajectory`` (its time 0 at ``started_at_ns``) from ``start``, replacing any running one."""
        if not self.streaming or self.active is None:  # a new stream starts where the arm is, at rest
            if self.streaming:
                self.limiter.reset(start)
                self.history.clear()
            self.last_tick_ns = int(now_ns)
        self.limiter.new_trajectory()  # a replaced trajectory's stream goes on at its velocity, from its last tick
        self.monitor.start()
        self.active, self.started_at_ns = trajectory, int(started_at_ns)
        self.sent_last_at_ns: int | None = None  # streaming: when the last point was first sent
        self.last_command = np.asarray(start, dtype=np.float64).copy()
        self.error_sum[:], self.error_count[:], self.last_squared_error[:] = 0.0, 0.0, np.nan

    def stop(self) -> None:
        """End the execution now (a stop request, a clock jump, the controller's outcome)."""
        self.active = None

    def tick(self, now_ns: int, limits: JointLimits) -> Tick | None:
        """The command period's decision; None while nothing runs."""
        if self.active is None:
            return None
        age = self.feedback_age(now_ns)
        if age > self.stale_feedback_s:
            self.active = None  # no hold: with stale feedback where the arm is is unknown
            return Tick(stale_s=age)
        t = (now_ns - self.started_at_ns) * NS
        overdue = t - self.active.duration - self.settle_s
        if not self.streaming:
            return Tick(overdue_s=overdue)
        dt = max((now_ns - self.last_tick_ns) * NS, 0.0)
        self.last_tick_ns = int(now_ns)
        # Within the velocity and acceleration limits; a late tick steps no further than LATE_TICK_PERIODS
        # nominal periods allow (stream_limiter.py).
        command = self.limiter.step(self.active.sample(t), limits, dt)
        self.history.add(now_ns * NS, command)
        self.last_command = command
        if self.sent_last_at_ns is None and t >= self.active.duration and np.allclose(
                command, self.active.positions[-1], rtol=0.0, atol=1e-9):
            self.sent_last_at_ns = int(now_ns)
        if self.sent_last_at_ns is not None:
            overdue = (now_ns - self.sent_last_at_ns) * NS - self.settle_s
        else:  # the stream is still catching up with its last point: wait, at most MAX_CATCH_UP_S more
            overdue -= MAX_CATCH_UP_S
        return Tick(command=command, overdue_s=overdue)

    def finish(self, now_ns: int) -> Finished:
        """End the execution after settle_s: the tracking error, and the goal tolerance on fresh feedback."""
        total = self.error_count.sum()
        rms = float(np.sqrt(self.error_sum.sum() / total)) if total else float("nan")
        goal = self.active.positions[-1]
        self.active = None
        violation = None
        if self.fresh(now_ns) and self.supervised.any():
            error = self.measured - goal
            error[~self.supervised] = np.nan  # never sent: not judged
            violation = self.monitor.check_goal(error)
        samples = int(self.error_count.max()) if self.error_count.size else 0
        return Finished(rms, rms_of(self.last_squared_error), samples, goal, violation)

    def hold(self, now_ns: int, limits: JointLimits) -> np.ndarray | None:
        """The measured position clamped to ``limits``, to hold; None without fresh feedback."""
        if not self.fresh(now_ns):
            return None
        q = limits.clamp(self.measured)
        if self.streaming:
            self.limiter.reset(q)
            self.history.add(now_ns * NS, q)
            self.last_tick_ns = int(now_ns)
        self.last_command = q
        return q
