"""The streamed targets within velocity and acceleration limits, and a late tick capped, without ROS."""

import numpy as np
import pytest

from latent_nodes.robot.safety import CheckedTrajectory, JointLimits
from latent_nodes.robot.stream_limiter import LATE_TICK_PERIODS, StreamLimiter

PERIOD = 0.02
VMAX, AMAX = 2.0, 10.0
LIMITS = JointLimits(("a", "b"), [-3.0, -3.0], [3.0, 3.0], [VMAX, VMAX], [AMAX, AMAX])


def run(targets, dts, start=(0.0, 0.0)) -> np.ndarray:
    limiter = StreamLimiter(PERIOD)
    limiter.reset(np.array(start))
    return np.vstack([np.array(start)] + [limiter.step(q, LIMITS, dt) for q, dt in zip(targets, dts)])


def rates(q: np.ndarray, dts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(velocity per interval, acceleration between intervals), as measured on the stream."""
    v = np.diff(q, axis=0) / dts[:, None]
    return v, np.diff(v, axis=0) / dts[1:, None]


def test_a_jump_is_reached_within_both_limits_without_overshoot():
    dts = np.full(150, PERIOD)
    q = run([np.array([1.5, -0.4])] * 150, dts)
    v, a = rates(q, dts)
    assert np.abs(v).max() <= VMAX + 1e-9 and np.abs(a).max() <= AMAX + 1e-6
    assert np.abs(a).max() > 0.99 * AMAX, "it does accelerate at the limit"
    assert q[:, 0].max() <= 1.5 + 1e-12 and q[:, 1].min() >= -0.4 - 1e-12, "no overshoot of a fixed target"
    np.testing.assert_allclose(q[-1], [1.5, -0.4], atol=1e-9)
    # Time-optimal within the limits: 1.5 rad at 2 rad/s and 10 rad/s^2 takes 1.5/2 + 2/10 = 0.95 s.
    arrived = np.nonzero(np.abs(q[:, 0] - 1.5) < 1e-6)[0][0] * PERIOD
    assert 0.95 <= arrived <= 0.95 + 3 * PERIOD, arrived


def test_a_steadily_moving_target_is_tracked_without_lag():
    t = np.arange(1, 200) * PERIOD
    targets = np.stack([0.5 * t, 0.8 * np.sin(t)], axis=1)
    q = run(targets, np.full(len(t), PERIOD))
    assert np.abs(q[1:][60:] - targets[60:]).max() < 1e-3  # after the start from rest


def test_the_acceleration_bound_holds_under_jitter_and_a_stall_is_capped():
    rng = np.random.default_rng(3)
    dts = rng.uniform(0.3 * PERIOD, LATE_TICK_PERIODS * PERIOD, 400)
    dts[200] = 0.5  # a stalled tick: half a second late
    t = np.cumsum(dts)
    targets = np.stack([2.5 * np.sin(2.0 * t), np.where(t > 2.0, 1.0, -1.0)], axis=1)
    q = run(targets, dts)
    v, a = rates(q, dts)
    assert np.abs(v).max() <= VMAX + 1e-9
    near_stall = np.zeros(len(a), bool)
    near_stall[199:201] = True  # the two accelerations that use the stalled interval
    assert np.abs(a[~near_stall]).max() <= AMAX + 1e-6
    # The stalled tick stepped no further than the limits allow over LATE_TICK_PERIODS periods.
    assert np.abs(q[201] - q[200]).max() <= VMAX * LATE_TICK_PERIODS * PERIOD + 1e-12


def test_a_late_tick_does_not_jump_to_where_the_plan_has_got_to():
    """Before: the step was velocity x the whole late interval, so a 1 s stall allowed a 2 rad jump."""
    plan = CheckedTrajectory(np.array([0.0, 2.0]), np.array([[0.0, 0.0], [2.0, -2.0]]), False)
    limiter = StreamLimiter(PERIOD)
    limiter.reset(plan.sample(0.0))
    t, previous = 0.0, plan.sample(0.0)
    for _ in range(10):
        t += PERIOD
        previous = limiter.step(plan.sample(t), LIMITS, PERIOD)
    after_stall = limiter.step(plan.sample(t + 1.0), LIMITS, 1.0)
    assert np.abs(after_stall - previous).max() <= VMAX * LATE_TICK_PERIODS * PERIOD + 1e-12


def test_positions_stay_within_the_joint_limits_and_bad_use_is_refused():
    q = run([np.array([3.0, -3.0])] * 300, np.full(300, PERIOD))
    assert q[:, 0].max() <= 3.0 and q[:, 1].min() >= -3.0
    with pytest.raises(ValueError, match="before reset"):
        StreamLimiter(PERIOD).step(np.zeros(2), LIMITS, PERIOD)
    with pytest.raises(ValueError, match="period must be positive"):
        StreamLimiter(0.0)


def test_without_an_acceleration_limit_only_the_velocity_limit_applies():
    limits = JointLimits(("a", "b"), [-3.0, -3.0], [3.0, 3.0], [VMAX, VMAX])
    limiter = StreamLimiter(PERIOD)
    limiter.reset(np.zeros(2))
    np.testing.assert_allclose(limiter.step(np.array([1.0, 0.01]), limits, PERIOD), [VMAX * PERIOD, 0.01])


def test_a_target_running_into_a_joint_limit_is_stopped_there_within_the_acceleration_limit():
    """The plan reaches the limit at speed and stops there: the stream brakes in time, no dead stop."""
    dts = np.full(200, PERIOD)
    t = np.cumsum(dts)
    targets = np.stack([np.minimum(1.8 * t, 3.0), np.zeros_like(t)], axis=1)  # 1.8 rad/s into the 3 rad limit
    q = run(targets, dts)
    v, a = rates(q, dts)
    assert np.abs(a).max() <= AMAX + 1e-6 and q[:, 0].max() <= 3.0
    np.testing.assert_allclose(q[-1, 0], 3.0, atol=1e-9)


def test_a_stream_that_starts_beyond_a_joint_limit_is_brought_inside_not_made_nan():
    """An arm measured past its limit (a calibration offset): the stream starts there and is clamped."""
    q = run([np.array([3.0, 0.0])] * 5, np.full(5, PERIOD), start=(3.05, 0.0))
    assert np.all(np.isfinite(q)) and np.all(q[1:, 0] == 3.0)
