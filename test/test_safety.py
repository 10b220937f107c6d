"""The commander's safety rules, checked without ROS."""

import numpy as np
import pytest

from latent_nodes.robot.safety import JointLimits, UnsafeTrajectory, check_trajectory, rate_limit

NAMES = ("a", "b", "c")
LIMITS = JointLimits(NAMES, lower=[-1.0, -2.0, 0.0], upper=[1.0, 2.0, 0.5], max_velocity=[1.0, 2.0, 0.5])


def test_valid_trajectory_is_reordered_to_the_arms_joints():
    out = check_trajectory(["c", "a", "b"], [0.1, 0.2], [[0.3, 0.1, 0.2], [0.4, 0.5, 0.6]], LIMITS)
    np.testing.assert_allclose(out.positions, [[0.1, 0.2, 0.3], [0.5, 0.6, 0.4]])
    np.testing.assert_allclose(out.times, [0.1, 0.2])
    assert not out.clamped and out.duration == pytest.approx(0.2)


def test_out_of_range_positions_are_clamped_and_flagged():
    out = check_trajectory(NAMES, [0.1], [[5.0, -5.0, 0.2]], LIMITS)
    np.testing.assert_allclose(out.positions, [[1.0, -2.0, 0.2]])
    assert out.clamped


@pytest.mark.parametrize("names, times, positions, message", [
    (["a", "b"], [0.1], [[0, 0]], "2 joint names, the arm has 3"),
    (["a", "b", "b"], [0.1], [[0, 0, 0]], "repeats"),
    (["a", "b", "x"], [0.1], [[0, 0, 0]], "unknown joints"),
    (NAMES, [], [], "no points"),
    (NAMES, [0.1, 0.2], [[0, 0, 0]], "1 points but 2 times"),
    (NAMES, [0.1], [[0, 0]], "point 0 has 2 positions"),
    (NAMES, [0.1, 0.2], [[0, 0, 0], [0, float("nan"), 0]], "point 1 has a non-finite"),
    (NAMES, [0.1], [[float("inf"), 0, 0]], "non-finite"),
    (NAMES, [float("nan")], [[0, 0, 0]], "finite and non-negative"),
    (NAMES, [-0.1], [[0, 0, 0]], "finite and non-negative"),
    (NAMES, [0.2, 0.2], [[0, 0, 0], [0, 0, 0]], "strictly increasing"),
])
def test_unsafe_trajectories_are_refused(names, times, positions, message):
    with pytest.raises(UnsafeTrajectory, match=message):
        check_trajectory(names, times, positions, LIMITS)


def test_sampling_interpolates_and_holds():
    out = check_trajectory(NAMES, [0.0, 1.0], [[0, 0, 0], [1, 2, 0.5]], LIMITS)
    np.testing.assert_allclose(out.sample(0.5), [0.5, 1.0, 0.25])
    np.testing.assert_allclose(out.sample(-1.0), [0, 0, 0])
    np.testing.assert_allclose(out.sample(7.0), [1, 2, 0.5])


def test_rate_limit_respects_each_joints_velocity():
    step = rate_limit(np.zeros(3), np.array([10.0, -10.0, 0.01]), LIMITS.max_velocity, 0.1)
    np.testing.assert_allclose(step, [0.1, -0.2, 0.01])


def test_velocity_cap_and_bad_limits():
    np.testing.assert_allclose(LIMITS.with_velocity_cap(0.8).max_velocity, [0.8, 0.8, 0.5])
    with pytest.raises(ValueError):
        LIMITS.with_velocity_cap(0.0)
    with pytest.raises(ValueError, match="2 values for 3 joints"):
        JointLimits(NAMES, [0, 0], [1, 1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="lower <= upper"):
        JointLimits(NAMES, [0, 0, 2], [1, 1, 1], [1, 1, 1])


def test_acceleration_limits_are_optional_and_capped():
    assert np.all(np.isinf(LIMITS.max_acceleration)), "no acceleration known: infinite (a URDF has none)"
    capped = LIMITS.with_acceleration_cap(5.0).with_acceleration_cap([10.0, 2.0, 7.0])
    np.testing.assert_allclose(capped.max_acceleration, [5.0, 2.0, 5.0])
    np.testing.assert_allclose(capped.with_velocity_cap(0.8).max_acceleration, [5.0, 2.0, 5.0])  # kept
    with pytest.raises(ValueError, match="acceleration cap must be positive"):
        LIMITS.with_acceleration_cap(0.0)
    with pytest.raises(ValueError, match="positive acceleration"):
        JointLimits(NAMES, [0, 0, 0], [1, 1, 1], [1, 1, 1], [1.0, -1.0, 1.0])
