"""The clock of one online behaviour: when each step is due, which step it has reached, which pose is fresh.

A behaviour that starts at ``start`` is executed as a trajectory whose point k lies (k + 1) * dt after
it (``messages.joint_trajectory``, ros2_control's convention: the arm moves from where it is to point 0
in one step). The online mode observes step k when point k is due; step 0 at once, while the arm is
still at home. An observer slower than real time (a busy machine) observes the step the behaviour has
reached and skips the ones it missed, never the last.

A block pose is an observation of the step it is taken at only if it is *fresh*: a pose the behaviour
has not observed yet (stamped later than the last one it observed, so a pose re-sent with its old stamp
is not seen again) and stamped when the block was there recently, at most ``max_age_s`` before the step
and at most one step after it (a stamp from a clock slightly ahead, e.g. the simulator's, whose /clock
reaches this node a tick later). The stamp is the observation's time: a camera stamps the pose with its
image's. The window is wider than one step because a camera's pose arrives after its image's time (30-
200 ms of software rendering, docs/camera.md) and less often than every step (2 Hz by default), so a
strict "stamped within this step" would lose most of them. Without a fresh pose the step leaves the
block unobserved: while the arm hides it the camera publishes nothing, and the last pose it saw is not
evidence of where the block is now.

Times are integer nanoseconds of whatever clock the caller runs on (a node's clock, simulated or not),
so no ROS type is needed here.
"""

from __future__ import annotations

from dataclasses import dataclass

FRESH = "fresh"  # a new observation of the block for this step
OBSERVED = "observed"  # not new: the behaviour observed this pose (or a newer one) already
STALE = "stale"  # new, but stamped more than max_age_s before the step
AHEAD = "ahead"  # stamped more than a step after the step: another clock's time


@dataclass(frozen=True)
class StepClock:
    """The timing of one behaviour of ``seq_len`` steps of ``dt`` seconds that started at ``start_ns``."""

    start_ns: int
    dt: float
    seq_len: int

    def due_ns(self, step: int) -> int:
        """When step ``step`` is due: its trajectory point's time, (step + 1) * dt after the start."""
        return self.start_ns + int(round((step + 1) * self.dt * 1e9))

    def reached(self, now_ns: int) -> int:
        """The step the behaviour has reached at ``now_ns``: the last one due by then (-1 before step 0 is
        due), at most the last step, so a late observer still observes the end of the behaviour.
        """
        elapsed = (now_ns - self.start_ns) * 1e-9
        return min(int(elapsed / self.dt + 1e-9) - 1, self.seq_len - 1)

    def freshness(self, stamp_ns: int, now_ns: int, last_ns: int | None, max_age_s: float) -> str:
        """Whether a pose stamped ``stamp_ns`` is a fresh observation for the step taken at ``now_ns``, given
        the stamp of the last pose the behaviour observed (``last_ns``, None before any): ``FRESH``,
        ``OBSERVED`` (nothing new), ``STALE`` or ``AHEAD``.
        """
        if last_ns is not None and stamp_ns <= last_ns:
            return OBSERVED
        age_s = (now_ns - stamp_ns) * 1e-9
        if age_s > max_age_s:
            return STALE
        if age_s < -self.dt:
            return AHEAD
        return FRESH
