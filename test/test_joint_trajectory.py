"""Trajectories for ros2_control without ROS: name maps, gripper split, spline velocities and timing within the
velocity and acceleration limits, the knots from where the arm is, the splice of the joints sent, URDF limits.
"""

import numpy as np
import pytest

from latent_nodes.robot.joint_trajectory import (
    FIRST_POINT_S,
    JointNameMap,
    controller_knots,
    for_controller,
    knot_velocities,
    segment_peak_acceleration,
    segment_peak_speed,
    splice_sent_joints,
    spline_trajectory,
    split_joints,
    time_for_controller,
    without_position_interface,
)
from latent_nodes.robot.robot_description import RobotDescriptionError, joint_limits
from latent_nodes.robot.safety import CheckedTrajectory, JointLimits
from latent_nodes.sim import arm
from latent_nodes.sim.urdf import build_urdf

NAMES = list(arm.JOINT_NAMES)


def test_name_map_renames_listed_joints_and_keeps_the_others():
    m = JointNameMap.parse(NAMES, ["arm_joint_1:panda_joint1", " arm_joint_2 : panda_joint2"])
    assert m.model_names == tuple(NAMES)
    assert m.robot_names[:2] == ("panda_joint1", "panda_joint2") and m.robot_names[2:] == tuple(NAMES[2:])


@pytest.mark.parametrize("entries, problem", [
    (["arm_joint_9:j9"], "joint_name_map names unknown joint 'arm_joint_9'"),
    (["arm_joint_1"], "joint_name_map entry 'arm_joint_1': expected model_name:robot_name"),
    (["arm_joint_1:a:b"], "expected model_name:robot_name"),
    (["arm_joint_1:"], "expected model_name:robot_name"),
    (["arm_joint_1:j1", "arm_joint_1:j2"], "joint_name_map maps 'arm_joint_1' twice"),
    (["arm_joint_1:arm_joint_2"], "several model joints the robot name(s) ['arm_joint_2']"),
])
def test_bad_name_maps_are_refused_in_one_line(entries, problem):
    with pytest.raises(ValueError) as info:
        JointNameMap.parse(NAMES, entries)
    assert problem in str(info.value) and "\n" not in str(info.value)


def test_split_puts_gripper_joints_apart():
    arm_idx, gripper_idx = split_joints(NAMES, list(arm.FINGER_JOINTS))
    assert [NAMES[i] for i in arm_idx] == list(arm.ARM_JOINTS)
    assert [NAMES[i] for i in gripper_idx] == list(arm.FINGER_JOINTS)
    assert split_joints(NAMES, []) == (list(range(9)), [])
    with pytest.raises(ValueError, match="gripper_joints names unknown joint"):
        split_joints(NAMES, ["thumb"])
    with pytest.raises(ValueError, match="every joint"):
        split_joints(NAMES, NAMES)


def random_knots(rng, n=21, joints=9, dt=0.1):
    times = np.arange(n) * dt
    q = np.cumsum(rng.normal(0.0, 0.15, (n, joints)), axis=0)
    return times, q


def test_velocities_are_monotone_and_at_rest_at_the_ends():
    times = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    q = np.array([[0.0], [1.0], [2.0], [1.0], [1.0]])
    v = knot_velocities(times, q)[:, 0]
    assert v[0] == 0 and v[-1] == 0
    assert v[1] == pytest.approx(1.0)  # central difference on a straight stretch
    assert v[2] == 0  # the joint turns here: no overshoot past the knot
    assert v[3] == 0  # flat after it


@pytest.mark.parametrize("seed", range(5))
def test_the_spline_stays_within_the_velocity_limits_and_the_knots(seed):
    rng = np.random.default_rng(seed)
    times, q = random_knots(rng)
    vmax = np.full(q.shape[1], 2.0)
    spline = spline_trajectory(times, q, vmax)
    assert np.all(np.diff(spline.times) > 0) and spline.times[0] == 0
    np.testing.assert_array_equal(spline.positions, q)  # knots kept, only their times may stretch
    assert np.all(spline.times >= times - 1e-12)
    t = np.linspace(0.0, spline.duration, 20001)
    pos, vel = spline.sample(t)
    assert np.all(np.abs(vel) <= vmax * (1 + 1e-5)), np.abs(vel).max()
    # The Fritsch-Carlson velocities keep each segment between its knots: never past a (clamped) limit.
    i = np.clip(np.searchsorted(spline.times, t, side="right") - 1, 0, len(times) - 2)
    lo, hi = np.minimum(q[i], q[i + 1]), np.maximum(q[i], q[i + 1])
    assert np.all(pos >= lo - 1e-9) and np.all(pos <= hi + 1e-9)
    # At the knots the spline passes through them with the stated velocities (what the controller does).
    qk, vk = spline.sample(spline.times)
    np.testing.assert_allclose(qk, q, atol=1e-12)
    np.testing.assert_allclose(vk, spline.velocities, atol=1e-9)
    # The peak computed exactly agrees with the sampled one.
    peaks = segment_peak_speed(spline.times, spline.positions, spline.velocities)
    assert np.abs(vel).max() == pytest.approx(peaks.max(), rel=1e-3)


def test_a_slow_trajectory_keeps_its_timing_and_a_fast_one_is_slowed():
    times = np.arange(11) * 0.1
    q = np.linspace(0.0, 0.2, 11)[:, None] * np.ones((1, 3))  # 0.2 rad/s, far below the limit
    slow = spline_trajectory(times, q, np.full(3, 2.0))
    np.testing.assert_array_equal(slow.times, times)
    fast = spline_trajectory(times, q * 50, np.full(3, 2.0))  # 10 rad/s asked, 2 allowed
    assert fast.duration >= 10 * 1.0 / 2.0 * 0.99  # at least 10 rad at 2 rad/s
    assert np.abs(fast.sample(np.linspace(0, fast.duration, 5001))[1]).max() <= 2.0 * (1 + 1e-5)


def sampled_acceleration(spline, n: int = 40001) -> np.ndarray:
    """[J] the largest |acceleration| of ``spline``, by finite differences of its sampled velocity."""
    t = np.linspace(0.0, spline.duration, n)
    v = spline.sample(t)[1]
    return np.abs(np.diff(v, axis=0) / np.diff(t)[:, None]).max(axis=0)


def test_the_exact_peak_acceleration_agrees_with_the_sampled_one():
    rng = np.random.default_rng(11)
    times, q = random_knots(rng, n=12, joints=3)
    spline = spline_trajectory(times, q, np.full(3, 50.0))
    exact = segment_peak_acceleration(spline.times, spline.positions, spline.velocities).max(axis=0)
    np.testing.assert_allclose(sampled_acceleration(spline), exact, rtol=2e-3)


def test_a_first_point_due_at_once_is_reached_within_the_acceleration_limit():
    """0.05 rad due at once (the start knot FIRST_POINT_S before it): velocity-only timing made it a 0.0375 s
    segment at 213 rad/s^2; at 30 rad/s^2 from rest to rest it takes sqrt(6 * 0.05 / 30) = 0.1 s.
    """
    q = np.array([[0.0], [0.05]])
    unlimited = spline_trajectory([0.0, FIRST_POINT_S], q, [2.0])
    assert unlimited.duration == pytest.approx(0.0375, rel=1e-4)
    assert sampled_acceleration(unlimited)[0] == pytest.approx(213.3, rel=1e-3)
    limited = spline_trajectory([0.0, FIRST_POINT_S], q, [2.0], [30.0])
    assert limited.duration == pytest.approx(0.1, rel=1e-4)
    assert sampled_acceleration(limited)[0] <= 30.0 * (1 + 1e-5)
    assert sampled_acceleration(limited)[0] >= 30.0 * 0.999  # stretched no further than needed


@pytest.mark.parametrize("seed", range(5))
def test_the_spline_stays_within_the_acceleration_limits(seed):
    """Random knots 0.1 s apart, timed within the velocity limit alone, reach 70-80 rad/s^2; with the
    limits every joint keeps its own, and the velocities stay the Fritsch-Carlson ones for the stretched
    times (what the controller is sent).
    """
    rng = np.random.default_rng(seed)
    times, q = random_knots(rng)
    vmax, amax = np.full(9, 2.0), np.linspace(5.0, 40.0, 9)
    unlimited = spline_trajectory(times, q, vmax)
    assert (segment_peak_acceleration(unlimited.times, q, unlimited.velocities) / amax).max() > 3.0
    spline = spline_trajectory(times, q, vmax, amax)
    np.testing.assert_array_equal(spline.positions, q)
    np.testing.assert_array_equal(spline.velocities, knot_velocities(spline.times, q))
    assert np.all(sampled_acceleration(spline) <= amax * (1 + 1e-5))
    assert np.all(np.abs(spline.sample(np.linspace(0, spline.duration, 20001))[1]) <= vmax * (1 + 1e-5))
    # Tight: some joint is at its limit somewhere.
    assert (segment_peak_acceleration(spline.times, q, spline.velocities) / amax).max() > 0.999


def test_a_slow_trajectory_keeps_its_timing_under_an_acceleration_limit():
    times = np.arange(11) * 0.1
    q = 0.1 * np.sin(np.linspace(0.0, np.pi, 11))[:, None] * np.ones((1, 3))  # about 1 rad/s^2
    assert segment_peak_acceleration(times, q, knot_velocities(times, q)).max() < 30.0
    np.testing.assert_array_equal(spline_trajectory(times, q, np.full(3, 2.0), np.full(3, 30.0)).times, times)


def test_bad_knots_are_refused():
    with pytest.raises(ValueError, match="from 0"):
        spline_trajectory([0.1, 0.2], np.zeros((2, 1)), [1.0])
    with pytest.raises(ValueError, match="from 0"):
        spline_trajectory([0.0, 0.0], np.zeros((2, 1)), [1.0])
    with pytest.raises(ValueError, match="positive velocity limit"):
        spline_trajectory([0.0, 1.0], np.zeros((2, 1)), [0.0])
    with pytest.raises(ValueError, match="at least 2 knots"):
        spline_trajectory([0.0], np.zeros((1, 1)), [1.0])
    with pytest.raises(ValueError, match="positive acceleration limit"):
        spline_trajectory([0.0, 1.0], np.zeros((2, 1)), [1.0], [0.0])
    with pytest.raises(ValueError, match="positive acceleration limit"):
        spline_trajectory([0.0, 1.0], np.zeros((2, 1)), [1.0], [1.0, 2.0])


def limits_of(n: int, velocity: float = 2.0, acceleration: float = 30.0) -> JointLimits:
    return JointLimits(tuple(f"j{k}" for k in range(n)), np.full(n, -3.0), np.full(n, 3.0), np.full(n, velocity),
                       np.full(n, acceleration))


def test_the_knots_start_where_the_arm_is():
    trajectory = CheckedTrajectory(np.array([0.5, 1.0]), np.array([[0.2, 0.3, 0.4], [0.3, 0.4, 0.5]]), False)
    measured = np.array([0.0, 0.1, np.nan])  # joint 2 is never sent and has no feedback
    times, q = controller_knots(trajectory, measured, [0, 1])
    np.testing.assert_array_equal(times, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(q[0], [0.0, 0.1, 0.4])  # the unsent joint takes the trajectory's first row
    # The commander's start row (NaN for the joint never sent) at t = 0, where the arm is: kept as is.
    at_arm = CheckedTrajectory(np.array([0.0, 1.0]), np.array([[0.0, 0.1, np.nan], [0.3, 0.4, 0.5]]), False)
    times, q = controller_knots(at_arm, measured, [0, 1])
    np.testing.assert_array_equal(times, [0.0, 1.0])
    np.testing.assert_array_equal(q, [[0.0, 0.1, 0.5], [0.3, 0.4, 0.5]])
    # A first point due at once elsewhere: moved FIRST_POINT_S out, behind a start knot where the arm is.
    elsewhere = CheckedTrajectory(np.array([0.0, 1.0]), np.array([[0.2, 0.1, 0.4], [0.3, 0.4, 0.5]]), False)
    times, q = controller_knots(elsewhere, measured, [0, 1])
    np.testing.assert_allclose(times, [0.0, FIRST_POINT_S, 1.0 + FIRST_POINT_S])
    np.testing.assert_array_equal(q[:2], [[0.0, 0.1, 0.4], [0.2, 0.1, 0.4]])


def test_time_for_controller_applies_the_acceleration_limits_of_the_joints_sent():
    trajectory = CheckedTrajectory(np.array([0.2]), np.array([[0.3, 0.3, 3.0]]), False)
    limits = limits_of(3, acceleration=30.0)
    spline, q, planned = time_for_controller(trajectory, np.array([0.0, 0.0, np.nan]), [0, 1], limits)
    assert planned == pytest.approx(0.2)
    assert spline.positions.shape == (2, 2) and q.shape == (2, 3)  # the spline has the sent joints only
    assert spline.duration == pytest.approx(np.sqrt(6 * 0.3 / 30.0), rel=1e-4)  # 0.245 s, not 0.2 (45 rad/s^2)
    assert np.all(sampled_acceleration(spline) <= 30.0 * (1 + 1e-5))
    # The joint never sent (3 rad in 0.2 s) neither limits nor stretches the timing.
    free = time_for_controller(trajectory, np.array([0.0, 0.0, np.nan]), [0, 1], limits_of(3, acceleration=1e6))
    assert free[0].duration == pytest.approx(0.225, rel=1e-4)  # velocity bound: 1.5 * 0.3 / 2


def test_the_splice_of_the_joints_sent_starts_where_the_arm_is():
    """Joints never sent (no feedback: NaN) take the plan's own position and do not limit the blend."""
    times = np.linspace(0.0, 4.0, 41)
    plan = np.column_stack([0.5 * np.sin(times), 0.3 * times, 2.0 * times])
    trajectory = CheckedTrajectory(times, plan, False)
    measured = np.array([0.0, 0.0, np.nan])
    spliced = splice_sent_joints(trajectory, 1.0, measured, np.array([2.0, 2.0, 0.01]), [0, 1])
    assert spliced.times[0] == pytest.approx(1.0)
    np.testing.assert_allclose(spliced.positions[0], [0.0, 0.0, 2.0])  # the arm's, the plan's for joint 2
    # The first point reachable at 2 rad/s from the arm is the one at 1.3 s (joint 0 is 0.48 rad away: 0.24 s;
    # the one at 1.2 s needs 0.233 s); joint 2 at 0.01 rad/s would reach none (never sent: ignored).
    np.testing.assert_allclose(spliced.times[1:], times[13:])
    np.testing.assert_array_equal(spliced.positions[1:], plan[13:])


def test_joints_without_a_position_command_interface_are_named():
    assert without_position_interface(["a", "b", "c"], ("a", "c")) == ["b"]
    assert without_position_interface(["a", "c"], ("a", "b", "c")) == []
    # A description without a <ros2_control> block names no interfaces: nothing can be said.
    assert without_position_interface(["a", "b"], ()) == []


def test_a_controller_gets_its_columns_after_the_start_knot():
    rng = np.random.default_rng(3)
    times, q = random_knots(rng, n=6, joints=4)
    spline = spline_trajectory(times, q, np.full(4, 50.0))
    part = for_controller(spline, ["b", "d"], [1, 3])
    assert part.joint_names == ["b", "d"]
    np.testing.assert_array_equal(part.times, spline.times[1:])
    np.testing.assert_array_equal(part.positions, q[1:, [1, 3]])
    np.testing.assert_array_equal(part.velocities[-1], [0.0, 0.0])  # it ends at rest
    with pytest.raises(ValueError, match="2 names for 1 joints"):
        for_controller(spline, ["b", "d"], [1])


def test_limits_come_from_the_robot_description():
    urdf = build_urdf().replace('"arm_joint_1"', '"shoulder_pan"')
    limits = joint_limits(urdf, ["shoulder_pan", "arm_joint_4"], names=["arm_joint_1", "arm_joint_4"])
    assert limits.names == ("arm_joint_1", "arm_joint_4")
    np.testing.assert_allclose(limits.lower, arm.JOINT_LOWER[[0, 3]])
    np.testing.assert_allclose(limits.upper, arm.JOINT_UPPER[[0, 3]])
    np.testing.assert_allclose(limits.max_velocity, arm.MAX_VELOCITY[[0, 3]])
    continuous = ('<robot name="r"><joint name="wrist" type="continuous"><parent link="a"/><child link="b"/>'
                  '<limit effort="1" velocity="3.5"/></joint></robot>')
    wrist = joint_limits(continuous, ["wrist"])
    assert wrist.lower[0] == -np.inf and wrist.upper[0] == np.inf and wrist.max_velocity[0] == 3.5


@pytest.mark.parametrize("urdf, names, problem", [
    ("<robot", ["j"], "robot description is not valid XML"),
    ("<model/>", ["j"], "root element is <model>"),
    (build_urdf(), ["shoulder_pan"], "robot description has no joint 'shoulder_pan'; its moving joints are "
                                     "['arm_joint_1'"),
    (build_urdf(), ["fingertip_centre_joint"], "'fingertip_centre_joint' is fixed, not a moving joint"),
    ('<robot name="r"><joint name="j" type="revolute"/></robot>', ["j"], "joint 'j' has no <limit>"),
    ('<robot name="r"><joint name="j" type="revolute"><limit lower="-1" upper="1"/></joint></robot>', ["j"],
     "joint 'j' has no numeric <limit velocity=...> (got None)"),
    ('<robot name="r"><joint name="j" type="revolute"><limit lower="1" upper="-1" velocity="1"/></joint></robot>',
     ["j"], "lower 1 > upper -1"),
    ('<robot name="r"><joint name="j" type="revolute"><limit upper="1" velocity="0"/></joint></robot>', ["j"],
     "velocity limit 0"),
])
def test_bad_robot_descriptions_are_refused_in_one_line(urdf, names, problem):
    with pytest.raises(RobotDescriptionError) as info:
        joint_limits(urdf, names)
    assert problem in str(info.value) and "\n" not in str(info.value)
