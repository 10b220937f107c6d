"""The streamed joint targets within velocity and acceleration limits, and a late tick's step capped, without ROS.

The streaming commander samples its trajectory once a tick and sends the sample as a position target.
A sample may ask for anything: a jump to the first point, a corner between two of the plan's linear
segments, a splice's blend at full speed. ``StreamLimiter`` turns the samples into targets that move
each joint at most ``max_velocity`` and change that speed by at most ``max_acceleration`` per second
(``JointLimits``), tick by tick:

- It follows the target's own velocity (its change since the last tick) and closes the remaining error
  no faster than it could still brake to a stop on it (``v = sqrt(a^2 dt^2 + 2 a |e|) - a dt``, the
  discrete time-optimal approach): a fixed target is reached without overshoot, a target moving at a
  steady speed is tracked without lag. A target that stops dead (the plan's own corner or end) can be
  overshot by at most ``v^2 / (2 a)``, but never past a joint limit: a joint approaches its limits no
  faster than it can stop at them, and positions are clamped to them besides.
- A late tick (a busy executor, a paused process) does not buy a bigger step: the step is limited as for
  at most ``LATE_TICK_PERIODS`` nominal periods, however long the tick was late. The stream then falls
  behind the plan and catches up within the limits, instead of jumping to where the plan has got to.
  Over ordinary jitter (a tick up to that many periods apart) the velocity, measured between the targets'
  send times, stays within the limits exactly; across a longer stall the arm has already held the last
  target that long, so the stream's speed drops there, as the arm's did.

The velocity kept from tick to tick is the one the arm was actually sent (step / real interval), so the
acceleration bound holds on the stream as sent. Free of rclpy so the tests can check every bound.
"""

from __future__ import annotations

import numpy as np

from latent_nodes.robot.safety import JointLimits

# A late tick steps at most as far as the limits allow over this many nominal command periods. Two: one
# period of jitter passes unchanged (the stream stays on time under ordinary load), a longer stall is cut.
LATE_TICK_PERIODS = 2.0


def braking_speed(error: np.ndarray, max_acceleration: np.ndarray, dt: float) -> np.ndarray:
    """The highest speed towards ``error`` (>= 0) from which steps of ``dt`` can still stop on it.

    Solves ``v dt + v^2 / (2 a) = e`` for v: this tick's step plus the braking distance equal the error.
    Infinite acceleration gives infinite speed (only the velocity limit applies); an error below zero
    (already past: a joint measured beyond its limit) gives zero.
    """
    a = np.asarray(max_acceleration, dtype=np.float64)
    error = np.maximum(error, 0.0)
    with np.errstate(invalid="ignore"):
        speed = np.sqrt((a * dt) ** 2 + 2.0 * a * error) - a * dt
    return np.where(np.isinf(a), np.inf, speed)


class StreamLimiter:
    """Keeps the last target sent and its velocity; ``step`` gives the next target within the limits."""

    def __init__(self, period: float) -> None:
        if not period > 0:
            raise ValueError(f"command period must be positive, got {period}")
        self.period = float(period)
        self.position: np.ndarray | None = None  # last target sent
        self.velocity: np.ndarray | None = None  # at which it was approached, rad/s (the real interval)
        self.last_target: np.ndarray | None = None  # last sample, for the target's own velocity

    def reset(self, position: np.ndarray, velocity: np.ndarray | None = None) -> None:
        """Start from ``position`` (the arm, or the last target sent), at ``velocity`` (default: at rest)."""
        self.position = np.asarray(position, dtype=np.float64).copy()
        self.velocity = np.zeros_like(self.position) if velocity is None else np.asarray(velocity, float).copy()
        self.last_target = None

    def new_trajectory(self) -> None:
        """The samples now come from another trajectory: its first is not a continuation of the last one."""
        self.last_target = None

    def max_step_dt(self) -> float:
        """The longest interval a step is limited for: ``LATE_TICK_PERIODS`` nominal periods."""
        return LATE_TICK_PERIODS * self.period

    def step(self, target: np.ndarray, limits: JointLimits, dt: float) -> np.ndarray:
        """The next target towards ``target`` after ``dt`` seconds, within ``limits``; it becomes the last sent."""
        if self.position is None:
            raise ValueError("StreamLimiter.step before reset: where the stream starts is unknown")
        target = np.asarray(target, dtype=np.float64)
        if not dt > 0:  # two ticks at one clock reading: nothing to move
            return self.position.copy()
        h = min(dt, self.max_step_dt())  # a late tick is limited as for at most LATE_TICK_PERIODS periods
        vmax, amax = limits.max_velocity, limits.max_acceleration
        # The target's own velocity (zero for the first sample of a trajectory), within the velocity limit.
        feed = np.zeros_like(target) if self.last_target is None else (target - self.last_target) / dt
        feed = np.clip(feed, -vmax, vmax)
        # What is left after following the target's motion: closed no faster than one could still brake on.
        error = target - self.position - feed * h
        correction = np.sign(error) * np.minimum(np.abs(error) / h, braking_speed(np.abs(error), amax, h))
        # Within one step's braking distance, arrive exactly: at most a h^2 away, the speed to get there and
        # the stop after both fit the acceleration limit (braking_speed alone would only approach it).
        correction = np.where(np.abs(error) <= amax * h * h, error / h, correction)
        wanted = np.clip(feed + correction, -vmax, vmax)
        # Never faster towards a joint limit than one can still stop at it: the clamp below then never has
        # to stop a joint dead (a plan running into a limit, a target overshot near one).
        wanted = np.clip(wanted, -braking_speed(self.position - limits.lower, amax, h),
                         braking_speed(limits.upper - self.position, amax, h))
        reach = amax * h
        velocity = np.clip(np.clip(wanted, self.velocity - reach, self.velocity + reach), -vmax, vmax)
        moved = self.position + velocity * h
        position = limits.clamp(moved)
        # The velocity sent, over the real interval; a joint the clamp stopped at its limit is at rest there
        # (a stream that started beyond a limit jumps onto it once, and does not carry that jump on).
        self.velocity = np.where(position != moved, 0.0, velocity * h / dt)
        self.position, self.last_target = position, target.copy()
        return position.copy()
