"""Acceleration and velocity limits from joint_limits.yaml files as robot description packages ship them.

``test/data/robot_descriptions/xarm6/joint_limits.yaml`` (xArm-Developer/xarm_ros2,
``xarm_moveit_config/config/xarm6/joint_limits.yaml``) and ``ur5e/joint_limits.yaml``
(UniversalRobots/Universal_Robots_ROS2_Description, ``config/ur5e/joint_limits.yaml``), unchanged; see the
README there. They are read with the rules of ros2_control's ``get_joint_limits``
(joint_limits/include/joint_limits/joint_limits_rosparam.hpp) and applied to the limits of the robots' own
URDFs, as the commander does with ``joint_limits_file``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from latent_nodes.robot.joint_limits_file import JointLimitsFileError, apply_file_limits, read_joint_limits_file
from latent_nodes.robot.robot_description import RobotDescription

DATA = Path(__file__).parent / "data" / "robot_descriptions"
XARM = ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "drive_joint"]
UR = ["shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint", "wrist_2_joint", "wrist_3_joint"]


def test_xarm6_file_tightens_the_arm_speed_and_limits_the_gripper_acceleration():
    file = read_joint_limits_file(DATA / "xarm6" / "joint_limits.yaml")
    assert len(file) == 12
    # has_acceleration_limits: false with max_acceleration: 0 is no limit, not a zero one.
    assert file["joint1"].max_acceleration is None and file["joint1"].max_velocity == 2.14
    assert file["drive_joint"].max_acceleration == 10.0 and file["drive_joint"].max_velocity == 3.14
    urdf = RobotDescription.from_urdf((DATA / "xarm6" / "xarm6.urdf").read_text()).limits(XARM)
    np.testing.assert_array_equal(urdf.max_velocity, [3.14] * 6 + [2.0])
    limits = apply_file_limits(urdf, file)
    np.testing.assert_array_equal(limits.max_velocity, [2.14] * 6 + [2.0])  # the file's where tighter
    np.testing.assert_array_equal(limits.max_acceleration, [np.inf] * 6 + [10.0])
    np.testing.assert_array_equal(limits.lower, urdf.lower)
    np.testing.assert_array_equal(limits.upper, urdf.upper)


def test_ur5e_file_in_degrees_has_no_acceleration_limits():
    file = read_joint_limits_file(DATA / "ur5e" / "joint_limits.yaml")
    assert sorted(file) == sorted(UR)
    assert all(file[j].max_velocity == pytest.approx(math.pi) and file[j].max_acceleration is None for j in UR)
    urdf = RobotDescription.from_urdf((DATA / "ur5e" / "ur5e.urdf").read_text()).limits(UR)
    limits = apply_file_limits(urdf, file)
    np.testing.assert_array_equal(limits.max_velocity, np.minimum(urdf.max_velocity, math.pi))
    assert np.all(np.isinf(limits.max_acceleration))


def test_a_ros2_parameter_file_and_renamed_joints(tmp_path):
    path = tmp_path / "limits.yaml"
    path.write_text("controller_manager:\n  ros__parameters:\n    joint_limits:\n      j1:\n"
                    "        has_acceleration_limits: true\n        max_acceleration: 2.5\n      j2:\n"
                    "        has_acceleration_limits: true\n")  # no value: no limit (get_joint_limits)
    file = read_joint_limits_file(path)
    assert file["j1"].max_acceleration == 2.5 and file["j2"].max_acceleration is None
    from latent_nodes.robot.safety import JointLimits

    model = JointLimits(("a", "b"), np.zeros(2), np.ones(2), np.full(2, 1.0), np.full(2, 30.0))
    limits = apply_file_limits(model, file, names=["j1", "j2"])
    assert limits.names == ("a", "b")
    np.testing.assert_array_equal(limits.max_acceleration, [2.5, 30.0])


@pytest.mark.parametrize("text, problem", [
    ("joint_limits:\n  j1:\n    has_acceleration_limits: true\n    max_acceleration: -1\n",
     "joint_limits.j1.max_acceleration is -1, not a positive number"),
    ("joint_limits:\n  j1:\n    has_velocity_limits: yes please\n", "has_velocity_limits is 'yes please'"),
    ("limits: {}\n", "no joint_limits mapping"),
    ("joint_limits: [\n", "not YAML"),
    ("joint_limits:\n  j1:\n    has_velocity_limits: true\n    max_velocity: !degrees fast\n", "not YAML"),
])
def test_bad_files_are_refused_in_one_line(tmp_path, text, problem):
    path = tmp_path / "joint_limits.yaml"
    path.write_text(text)
    with pytest.raises(JointLimitsFileError, match="joint_limits.yaml") as info:
        read_joint_limits_file(path)
    assert problem in str(info.value) and "\n" not in str(info.value)


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(JointLimitsFileError, match="cannot be read: No such file"):
        read_joint_limits_file(tmp_path / "nope.yaml")


def test_the_commander_applies_the_file_by_the_robots_joint_names(tmp_path):
    """target ros2_control, xArm 6's model joints and limits by parameter: the file's 2.14 rad/s apply."""
    pytest.importorskip("rclpy")
    from ros_harness import Graph

    from latent_nodes.nodes.commander_node import CommanderNode
    from latent_nodes.sim import arm

    with Graph() as g:
        xarm = g.add(CommanderNode, target="ros2_control", model_joints=XARM[:6], gripper_controller_topic="",
                     joint_limits_lower=[-3.0] * 6, joint_limits_upper=[3.0] * 6, joint_limits_velocity=[3.14] * 6,
                     max_joint_velocity=5.0, joint_limits_file=str(DATA / "xarm6" / "joint_limits.yaml"))
        xarm.arm = xarm.output.current_limits()
        np.testing.assert_array_equal(xarm.limits().max_velocity, [2.14] * 6)
        # The embedded arm streaming, a file giving its first joint 2.5 rad/s^2 (under the 30 rad/s^2 default).
        path = tmp_path / "joint_limits.yaml"
        path.write_text(f"joint_limits:\n  {arm.JOINT_NAMES[0]}:\n    has_acceleration_limits: true\n"
                        "    max_acceleration: 2.5\n")
        embedded = g.add(CommanderNode, joint_limits_file=str(path))
        np.testing.assert_array_equal(embedded.limits().max_acceleration, [2.5] + [30.0] * (len(arm.JOINT_NAMES) - 1))
