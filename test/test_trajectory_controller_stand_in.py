"""The stand-in joint_trajectory_controller keeps the real one's rules, and our messages pass them.

The rejection cases are those of ros2_controllers' own test of ``validate_trajectory_msg`` (kilted,
joint_trajectory_controller/test/test_trajectory_controller.cpp L1825-1913 ``invalid_message`` and
L1915-1942 ``..._nonzero_end_velocity_and_when_param_false``; their fixture allows a nonzero end velocity
unless a test says otherwise, test_trajectory_controller_utils.hpp L327-338), so the stand-in cannot drift
into accepting what the controller rejects.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from builtin_interfaces.msg import Duration, Time
from trajectory_controller_stand_in import ControllerRules, Execution, rejection
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from latent_nodes.nodes import messages
from latent_nodes.nodes.ros2_control_output import controller_message, hold_message
from latent_nodes.robot.joint_trajectory import for_controller, spline_trajectory

JOINTS = ("joint1", "joint2", "joint3")
UPSTREAM = ControllerRules(JOINTS, allow_nonzero_velocity_at_trajectory_end=True)
NOW_NS = 1_000 * 1_000_000_000


def good() -> JointTrajectory:
    """good_traj_msg of the upstream test: one point at 0.25 s."""
    msg = JointTrajectory(joint_names=list(JOINTS))
    msg.points.append(JointTrajectoryPoint(positions=[1.0, 2.0, 3.0], velocities=[-1.0, -2.0, -3.0],
                                           time_from_start=Duration(sec=0, nanosec=250_000_000)))
    return msg


def changed(edit) -> JointTrajectory:
    msg = copy.deepcopy(good())
    edit(msg)
    return msg


@pytest.mark.parametrize("edit, reason", [
    (lambda m: setattr(m, "joint_names", ["bad_name"]), "Joints on incoming trajectory don't match"),
    (lambda m: m.points.clear(), "Empty trajectory received."),
    (lambda m: setattr(m.points[0], "positions", []), "and positions (0) at point #0"),
    (lambda m: setattr(m.points[0], "positions", [1.0, 2.0]), "and positions (2) at point #0"),
    (lambda m: setattr(m.points[0], "positions", [1.0, 2.0, 3.0, 4.0]), "and positions (4) at point #0"),
    (lambda m: setattr(m.points[0], "velocities", [1.0, 2.0]), "and velocities (2) at point #0"),
    (lambda m: setattr(m.points[0], "accelerations", [1.0, 2.0]), "and accelerations (2) at point #0"),
    (lambda m: setattr(m.points[0], "effort", [1.0, 2.0, 3.0]), "only supported for controllers using the 'effort'"),
    (lambda m: m.points.append(copy.deepcopy(m.points[0])), "Time between points 0 and 1 is not strictly increasing"),
    (lambda m: setattr(m.header, "stamp", Time(sec=0, nanosec=1)), "non-zero start time"),
])
def test_the_stand_in_rejects_what_the_controller_rejects(edit, reason):
    assert rejection(good(), UPSTREAM, NOW_NS) is None
    problem = rejection(changed(edit), UPSTREAM, NOW_NS)
    assert problem is not None and reason in problem, problem


def test_and_accepts_what_the_controller_accepts():
    def future(m):  # "End time in the future": a stamp of now, the point 10 s later
        m.header.stamp = Time(sec=NOW_NS // 1_000_000_000)
        m.points[0].time_from_start = Duration(sec=10)
    assert rejection(changed(future), UPSTREAM, NOW_NS) is None
    effort = changed(lambda m: setattr(m.points[0], "effort", [1.0, 2.0, 3.0]))
    with_effort = ControllerRules(JOINTS, allow_nonzero_velocity_at_trajectory_end=True, effort_command_interface=True)
    assert rejection(effort, with_effort, NOW_NS) is None


def test_end_velocity_partial_goals_and_names():
    strict = ControllerRules(JOINTS)  # the controller's defaults
    assert "Velocity of last trajectory point of joint joint1 is not zero" in rejection(good(), strict, NOW_NS)
    at_rest = changed(lambda m: setattr(m.points[0], "velocities", [0.0, 1e-8, -1e-8]))  # within float epsilon
    assert rejection(at_rest, strict, NOW_NS) is None
    partial = changed(lambda m: (setattr(m, "joint_names", ["joint3", "joint1"]),
                                 setattr(m.points[0], "positions", [3.0, 1.0]),
                                 setattr(m.points[0], "velocities", [])))
    assert "don't match the controller joints" in rejection(partial, strict, NOW_NS)
    allowed = ControllerRules(JOINTS, allow_partial_joints_goal=True)
    assert rejection(partial, allowed, NOW_NS) is None
    unknown = changed(lambda m: setattr(m, "joint_names", ["joint1", "joint2", "wrist"]))
    assert "Incoming joint wrist doesn't match" in rejection(unknown, UPSTREAM, NOW_NS)
    # A partial goal holds the joints it leaves out, and is reordered into the controller's order.
    run = Execution(partial, allowed, 0, np.array([0.5, 0.6, 0.7]), np.zeros(3))
    np.testing.assert_allclose(run.sample(10**9)[0], [1.0, 0.6, 3.0])


def test_the_commanders_messages_pass_and_an_empty_stop_would_not():
    """Our trajectory (positions + velocities, ending at rest) and our hold point pass the default rules."""
    rng = np.random.default_rng(0)
    q = np.vstack([np.zeros(3), np.cumsum(rng.normal(0.0, 0.2, (12, 3)), axis=0)])
    spline = spline_trajectory(np.arange(13) * 0.1, q, np.full(3, 1.0))
    msg = controller_message(for_controller(spline, list(JOINTS), [0, 1, 2]))
    strict = ControllerRules(JOINTS)
    assert rejection(msg, strict, NOW_NS) is None
    assert rejection(hold_message(list(JOINTS), q[3]), strict, NOW_NS) is None
    assert rejection(JointTrajectory(joint_names=list(JOINTS)), strict, NOW_NS) == "Empty trajectory received."
    # The gripper's controller has only its joints: the whole trajectory is refused there.
    assert "Joints on incoming trajectory" in rejection(msg, ControllerRules(("finger",)), NOW_NS)


def test_the_controller_interpolates_our_points_as_our_spline_does():
    """Sampled as trajectory.cpp does, from the state at receipt through the points: our SplineTrajectory."""
    rng = np.random.default_rng(1)
    q = np.vstack([np.zeros(3), np.cumsum(rng.normal(0.0, 0.2, (12, 3)), axis=0)])
    spline = spline_trajectory(np.arange(13) * 0.1, q, np.full(3, 1.0))
    msg = controller_message(for_controller(spline, list(JOINTS), [0, 1, 2]))
    receipt = 5 * 10**9
    run = Execution(msg, ControllerRules(JOINTS), receipt, q[0], np.zeros(3))
    t = np.linspace(0.0, spline.duration + 0.2, 997)
    ours_q, ours_v = spline.sample(t)
    theirs = [run.sample(receipt + int(round(x * 1e9))) for x in t]
    np.testing.assert_allclose([p for p, _ in theirs], ours_q, atol=1e-7)
    np.testing.assert_allclose([v for _, v in theirs], ours_v, atol=1e-5)
    # Without velocities the controller interpolates linearly: the same points, other positions between them.
    linear = copy.deepcopy(msg)
    for point in linear.points:
        point.velocities = []
    run = Execution(linear, ControllerRules(JOINTS), receipt, q[0], np.zeros(3))
    mid = 0.5 * (spline.times[3] + spline.times[4])
    np.testing.assert_allclose(run.sample(receipt + int(mid * 1e9))[0], 0.5 * (q[3] + q[4]), atol=1e-9)
    assert np.abs(spline.sample(mid)[0][0] - 0.5 * (q[3] + q[4])).max() > 1e-3
    assert messages.duration_to_seconds(msg.points[0].time_from_start) == pytest.approx(spline.times[1])
