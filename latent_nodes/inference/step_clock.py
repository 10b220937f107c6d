"""The clock of one online behaviour: when each step is due, and which step the behaviour has reached.

A behaviour that starts at ``start`` is executed as a trajectory whose point k lies (k + 1) * dt after
it (``messages.joint_trajectory``, ros2_control's convention: the arm moves from where it is to point 0
in one step). The online mode observes step k when point k is due; step 0 at once, while the arm is
still at home. An observer slower than real time (a busy machine) observes the step the behaviour has
reached and skips the ones it missed, never the last. Times are integer nanoseconds of whatever clock
the caller runs on (a node's clock, simulated or not), so no ROS type is needed here.
"""

from __future__ import annotations

from dataclasses import dataclass


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
