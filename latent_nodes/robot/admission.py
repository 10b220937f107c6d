"""Whether a stamped trajectory or joint state can be timed on this node's clock, without ROS.

A JointTrajectory's header stamp says when its first point's clock starts; a zero stamp means "start on
receipt". This follows ros2_controllers' joint_trajectory_controller (JTC), which the commander is
modelled on (joint_trajectory_controller.cpp, branch kilted, ``validate_trajectory_msg`` L1728-1745): a
trajectory with a non-zero stamp that *ends* in the past (stamp + last ``time_from_start`` < now) is
refused, not executed. JTC has no bound on a start far in the future (it waits for it); the commander
does (``max_future_start_s``): a stamp hours ahead is a clock problem, not a plan, and waiting for it
would keep the arm "executing" nothing.

A stamp that disagrees with this node's clock by more than the behaviour's own length is almost always
two clocks, not one late message, and the refusal says which clock is probably wrong. Stamps count
seconds since the clock's epoch: wall time (``use_sim_time`` false) is about 1.7e9 s (since 1970), while
simulated time and a machine's time since boot are far smaller. Which side of ``WALL_EPOCH_S`` each
value lies on tells a sim-time / wall-time mix apart from two unsynchronized wall clocks.

``feedback_time`` applies the same reading to ``/joint_states``: its header stamp is when the positions
were measured, a better age than the receipt time, unless it comes from another clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from latent_nodes.robot.safety import UnsafeTrajectory

# Seconds since 1970 on 2001-09-09. A wall clock reads more; simulated time and time since boot read less.
WALL_EPOCH_S = 1e9
# A joint state stamped up to this far ahead of this node's clock is taken as measured now: two clocks on
# one machine, or NTP-synchronized machines, differ by milliseconds.
FEEDBACK_FUTURE_SLACK_S = 0.05


class RefusedStamp(UnsafeTrajectory):
    """A trajectory whose stamp cannot be executed on this clock; the message says why and which clock."""


def _kind(seconds: float) -> str:
    return "wall time" if seconds >= WALL_EPOCH_S else "simulated time or time since boot"


def clock_hint(stamp_s: float, now_s: float) -> str:
    """Which clock is probably wrong, for a stamp ``stamp_s`` read on a node whose clock says ``now_s``."""
    offset = stamp_s - now_s
    where = "ahead of" if offset > 0 else "behind"
    head = f"stamp is {abs(offset):.3g} s {where} this node's clock"
    if stamp_s >= WALL_EPOCH_S > now_s:
        return (f"{head}: the stamp is wall time and this node's clock is not: is this node on sim time "
                "(use_sim_time) and the sender on wall time?")
    if now_s >= WALL_EPOCH_S > stamp_s:
        return (f"{head}: this node's clock is wall time and the stamp is not: is the sender on sim time "
                "(use_sim_time) and this node on wall time?")
    if now_s >= WALL_EPOCH_S:
        return (f"{head}: both are wall time, so the two machines' clocks differ (are they synchronized, "
                "e.g. by chrony or NTP?) or the message was delayed or replayed")
    return (f"{head}: both are {_kind(now_s)}, so the sender's clock is another one (a restarted "
            "simulation?) or the message was delayed or replayed")


@dataclass(frozen=True)
class Admission:
    """What the commander needs from a stamped trajectory it accepts."""

    elapsed: float  # seconds since the trajectory's stamp, now (negative: it starts in the future)
    clock_warning: str | None  # set when the stamp disagrees with this clock by more than the behaviour's length


def admit_stamp(stamp_s: float, now_s: float, duration: float, max_future_start_s: float) -> Admission:
    """Judge a non-zero trajectory stamp ``stamp_s`` against this node's clock ``now_s`` (both seconds).

    ``duration`` is the trajectory's last ``time_from_start``. Raises ``RefusedStamp`` (one line) when
    the trajectory ends before now (JTC's rule) or starts more than ``max_future_start_s`` from now. A
    stamp off by more than ``duration`` that is still admitted (a long behaviour) carries a warning.
    """
    elapsed = now_s - stamp_s
    off_clock = abs(elapsed) > max(duration, 0.0)
    hint = f" ({clock_hint(stamp_s, now_s)})" if off_clock else ""
    if stamp_s + duration <= now_s:  # JTC refuses an end before now; at now, nothing would be left either
        raise RefusedStamp(f"the trajectory ended {now_s - stamp_s - duration:.3g} s ago (stamp + last "
                           f"time_from_start {duration:.3g} s is before now){hint}")
    if -elapsed > max_future_start_s:
        raise RefusedStamp(f"the trajectory starts {-elapsed:.3g} s from now, more than max_future_start_s "
                           f"({max_future_start_s:g} s){hint}")
    return Admission(elapsed, clock_hint(stamp_s, now_s) if off_clock else None)


@dataclass(frozen=True)
class FeedbackTime:
    """When a joint state was measured, on this node's clock, and a warning when its stamp was not usable."""

    at_s: float
    warning: str | None


def feedback_time(stamp_s: float, received_s: float) -> FeedbackTime:
    """The time a joint state's positions were measured: its header stamp where set, else its receipt.

    ``stamp_s`` is the header stamp (0: not set) and ``received_s`` this node's clock on receipt. A stamp
    ahead of the receipt by more than ``FEEDBACK_FUTURE_SLACK_S``, or on another kind of clock (sim time
    against wall time, ``WALL_EPOCH_S``), cannot give an age: the receipt time is used and the warning
    says which clock is probably wrong. An old stamp on the same kind of clock is believed: the data is
    stale, and the commander treats it so.
    """
    if stamp_s == 0.0:
        return FeedbackTime(received_s, None)
    other_kind = (stamp_s >= WALL_EPOCH_S) != (received_s >= WALL_EPOCH_S)
    if other_kind or stamp_s - received_s > FEEDBACK_FUTURE_SLACK_S:
        return FeedbackTime(received_s, f"/joint_states {clock_hint(stamp_s, received_s)}; using the receipt "
                                        "time for its age")
    return FeedbackTime(min(stamp_s, received_s), None)
