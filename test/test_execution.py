"""The commander's execution state machine without ROS (latent_nodes/robot/execution.py): plain arrays and times."""

from __future__ import annotations

import numpy as np
import pytest

from latent_nodes.robot.execution import Execution, rms_of, with_start_row
from latent_nodes.robot.safety import CheckedTrajectory, JointLimits
from latent_nodes.robot.tolerances import ToleranceMonitor

NAMES = ["a", "b"]
LIMITS = JointLimits(tuple(NAMES), np.array([-1.0, -1.0]), np.array([1.0, 1.0]), np.array([2.0, 2.0]),
                     np.array([30.0, 30.0]))
MS = 1_000_000  # ns
T0 = 1_700_000_000 * 10**9  # a wall clock reading: intervals must stay exact at this size


def monitor(path: float = 0.3, goal: float = 0.05, path_time_s: float = 0.1) -> ToleranceMonitor:
    return ToleranceMonitor(NAMES, np.full(2, path), path_time_s, np.full(2, goal))


def trajectory(end: float = 0.5, duration: float = 1.0) -> CheckedTrajectory:
    return CheckedTrajectory(np.array([0.0, duration]), np.array([[0.0, 0.0], [end, -end]]), False)


def streaming(**kwargs) -> Execution:
    return Execution(NAMES, monitor(**kwargs), period_s=0.02, stale_feedback_s=0.5, settle_s=0.2)


def run_followed(ex: Execution, until_ns: int, lag_ns: int = 0, offset: np.ndarray | None = None):
    """Tick every 20 ms; the arm reports the command it was sent ``lag_ns`` ago, plus ``offset``."""
    sent = []
    now = ex.started_at_ns
    while now <= until_ns and ex.active is not None:
        tick = ex.tick(now, LIMITS)
        if tick is None:
            break
        if tick.command is not None:
            sent.append((now, tick.command))
            if tick.overdue_s >= 0:
                return sent, ex.finish(now)
        if tick.stale_s is not None:
            return sent, tick
        arrived = [q for t, q in sent if t <= now - lag_ns]
        if arrived:
            violation = ex.feedback(arrived[-1] + (0.0 if offset is None else offset), now)
            if violation is not None:
                return sent, violation
        now += 20 * MS
    return sent, None


def test_start_row_is_prepended_only_when_the_first_point_is_later():
    t = CheckedTrajectory(np.array([0.5, 1.0]), np.array([[0.1, 0.1], [0.2, 0.2]]), False)
    got = with_start_row(t, np.array([0.0, -0.1]))
    np.testing.assert_array_equal(got.times, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(got.positions[0], [0.0, -0.1])
    due_at_once = trajectory()
    assert with_start_row(due_at_once, np.array([0.3, 0.3])) is due_at_once


def test_a_followed_stream_ends_within_the_limits_and_its_goal():
    ex = streaming()
    ex.feedback(np.zeros(2), T0)
    ex.begin(trajectory(), ex.start_position(), T0, T0)
    sent, done = run_followed(ex, T0 + 3000 * MS)
    assert done is not None and done.violation is None and ex.active is None
    commands = np.array([q for _, q in sent])
    speeds = np.abs(np.diff(commands, axis=0)) / 0.02
    assert speeds.max() <= 2.0 + 1e-9
    assert np.abs(np.diff(speeds, axis=0)).max() / 0.02 <= 30.0 + 1e-6
    np.testing.assert_allclose(commands[-1], [0.5, -0.5], atol=1e-9)
    # A plan within the limits is streamed as planned, and the arm reports each command as it is sent.
    assert done.tracking_error < 1e-9 and done.samples == len(sent) - 1  # the last tick finishes first
    np.testing.assert_array_equal(done.goal, [0.5, -0.5])


def test_an_arm_that_stops_is_a_path_violation_after_the_tolerance_time():
    ex = streaming(path_time_s=0.1)
    ex.feedback(np.zeros(2), T0)
    ex.begin(trajectory(end=0.9, duration=0.6), np.zeros(2), T0, T0)
    now, first_outside = T0, None
    while True:
        tick = ex.tick(now, LIMITS)
        reference = ex.history.at(now * 1e-9)
        violation = ex.feedback(np.zeros(2), now)  # the arm never moves
        if first_outside is None and np.abs(reference).max() > 0.3:
            first_outside = now
        if violation is not None:
            break
        assert tick is not None and tick.overdue_s < 0, "the arm never moved and the trajectory was not stopped"
        now += 20 * MS
    assert ex.active is None and violation.kind == "path" and violation.tolerance == 0.3
    assert (now - first_outside) * 1e-9 == pytest.approx(0.1, abs=0.021)
    hold = ex.hold(now, LIMITS)
    np.testing.assert_array_equal(hold, [0.0, 0.0])
    assert ex.tick(now + 20 * MS, LIMITS) is None  # stopped: nothing more is commanded


def test_stale_feedback_stops_without_a_hold():
    ex = streaming()
    ex.feedback(np.zeros(2), T0)
    ex.begin(trajectory(), np.zeros(2), T0, T0)
    assert ex.tick(T0 + 400 * MS, LIMITS).command is not None
    tick = ex.tick(T0 + 520 * MS, LIMITS)
    assert tick.stale_s == pytest.approx(0.52) and tick.command is None and ex.active is None
    assert ex.hold(T0 + 520 * MS, LIMITS) is None


def test_the_goal_is_judged_on_fresh_feedback_only():
    ex = streaming()
    ex.feedback(np.zeros(2), T0)
    ex.begin(trajectory(), np.zeros(2), T0, T0)
    _, done = run_followed(ex, T0 + 3000 * MS, offset=np.array([0.0, 0.1]))
    assert done.violation is not None and done.violation.kind == "goal" and done.violation.joint == "b"
    assert done.violation.error == pytest.approx(0.1)
    ex.begin(trajectory(), ex.measured, T0 + 4000 * MS, T0 + 4000 * MS)
    ex.feedback(np.array([0.5, -0.4]), T0 + 4000 * MS)
    assert ex.finish(T0 + 4600 * MS).violation is None  # 0.6 s old: stale, not judged


def test_a_controller_trajectory_is_checked_on_the_joints_sent_only():
    """ros2_control over the topic: the reference is the trajectory as sent; joint b was never sent."""
    ex = Execution(NAMES, monitor(path_time_s=0.0), 0.02, 0.5, 0.2, streaming=False, supervised=[0])
    ex.feedback(np.array([0.0, np.nan]), T0)
    ex.begin(trajectory(), ex.measured, T0, T0)
    assert ex.feedback(np.array([0.2, 5.0]), T0 + 400 * MS) is None  # a at 0.2 on a plan at 0.2; b not judged
    assert ex.tick(T0 + 400 * MS, LIMITS).overdue_s == pytest.approx(0.4 - 1.2)
    violation = ex.feedback(np.array([0.2, 0.0]), T0 + 1000 * MS)  # the plan is at 0.5: 0.3 rad behind
    assert violation is None or violation.joint == "a"
    violation = ex.feedback(np.array([0.1, 0.0]), T0 + 1020 * MS)
    assert violation is not None and violation.joint == "a" and violation.error == pytest.approx(-0.4)
    assert ex.active is None


def test_a_controller_trajectory_over_the_action_is_not_supervised():
    ex = Execution(NAMES, monitor(path_time_s=0.0), 0.02, 0.5, 0.2, streaming=False, supervised=[])
    ex.feedback(np.zeros(2), T0)
    ex.begin(trajectory(), ex.measured, T0, T0)
    assert ex.feedback(np.array([0.9, 0.9]), T0 + 100 * MS) is None and ex.active is not None
    ex.feedback(np.array([0.9, 0.9]), T0 + 1300 * MS)
    assert ex.finish(T0 + 1300 * MS).violation is None


def test_a_replacing_trajectory_starts_from_the_last_target_and_keeps_the_velocity():
    ex = streaming()
    ex.feedback(np.zeros(2), T0)
    ex.begin(trajectory(end=0.9), np.zeros(2), T0, T0)
    now = T0
    for _ in range(10):
        tick = ex.tick(now, LIMITS)
        ex.feedback(tick.command, now)
        now += 20 * MS
    moving = ex.limiter.velocity.copy()
    start = ex.start_position()
    np.testing.assert_array_equal(start, ex.last_command)
    ex.begin(trajectory(end=0.0), start, now, now)
    np.testing.assert_array_equal(ex.limiter.velocity, moving)  # not restarted at rest
    np.testing.assert_array_equal(ex.limiter.position, start)


def test_rms_ignores_joints_without_feedback():
    assert rms_of(np.array([4.0, np.nan])) == 2.0 and np.isnan(rms_of(np.array([np.nan])))


def test_settle_time_counts_from_when_the_stream_sent_the_last_point():
    """Late ticks (a busy machine) leave the stream behind the trajectory's clock: the goal is checked settle_s
    after the last point was actually sent, not settle_s after the trajectory's nominal end. Before, a stream
    120 ms late at the end was judged 0.2 s past the nominal end while the arm was still short of the goal.
    """
    ex = streaming()
    ex.feedback(np.zeros(2), T0)
    ex.begin(trajectory(end=0.9, duration=0.5), np.zeros(2), T0, T0)  # 0.9 rad at 2 rad/s: 0.45 s + ramps
    now, sent_last, finished = T0, None, None
    while finished is None and now < T0 + 10_000 * MS:
        now += 80 * MS  # every tick four periods late: the stream's step is capped at two
        tick = ex.tick(now, LIMITS)
        ex.feedback(tick.command, now)
        if sent_last is None and np.allclose(tick.command, [0.9, -0.9], atol=1e-9):
            sent_last = now
        if tick.overdue_s >= 0:
            finished = ex.finish(now)
    assert sent_last is not None and sent_last - T0 > 0.5e9 + 0.2e9  # the stream arrived after end + settle_s
    assert now - sent_last == pytest.approx(0.2e9, abs=80 * MS)  # judged settle_s after it arrived
    assert finished.violation is None, finished.violation  # the arm, following the stream, is on its goal
