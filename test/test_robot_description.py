"""The robot-description reader against public robot descriptions, as their packages ship them.

Each file under test/data/robot_descriptions is a public description package's xacro expanded with
xacro (README.md there: repository, commit, command): xArm 6, RRBot (ros2_control_demos example 8),
Franka FR3, Kinova Gen3 and UR5e, each with a ``<ros2_control>`` block that names every joint again,
two with ``<transmission>`` blocks (xArm at the top level, RRBot inside ``<ros2_control>``), xArm and
Gen3 with ``<gazebo>`` tags and mimic joints. The reader's joints and limits are compared with an
independent parser, yourdfpy, on the same files.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yourdfpy

from latent_nodes.robot.robot_description import RobotDescription, RobotDescriptionError, joint_limits
from latent_nodes.robot.safety import check_trajectory

DATA = Path(__file__).parent / "data" / "robot_descriptions"
MOVING = ("revolute", "continuous", "prismatic")

# What each description holds, read off the expanded files by hand: the commandable joints (document
# order), the mimic joints and their leader, and the joints its <ros2_control> block commands by position.
ARM = {
    "xarm6": [f"joint{i}" for i in range(1, 7)],
    "rrbot": ["joint1", "joint2"],
    "fr3": [f"fr3_joint{i}" for i in range(1, 8)],
    "gen3": [f"joint_{i}" for i in range(1, 8)],
    "ur5e": ["shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint", "wrist_2_joint",
             "wrist_3_joint"],
}
GRIPPER = {"xarm6": ["drive_joint"], "rrbot": [], "fr3": ["fr3_finger_joint1"], "gen3": ["right_finger_bottom_joint"],
           "ur5e": []}
MIMIC = {
    "xarm6": {n: "drive_joint" for n in ("left_finger_joint", "left_inner_knuckle_joint", "right_outer_knuckle_joint",
                                          "right_finger_joint", "right_inner_knuckle_joint")},
    "rrbot": {},
    "fr3": {"fr3_finger_joint2": "fr3_finger_joint1"},
    "gen3": {n: "right_finger_bottom_joint" for n in ("right_finger_tip_joint", "left_finger_bottom_joint",
                                                       "left_finger_tip_joint")},
    "ur5e": {},
}
ROBOTS = sorted(ARM)


def text(robot: str) -> str:
    return (DATA / robot / f"{robot}.urdf").read_text()


def independent(robot: str) -> yourdfpy.URDF:
    return yourdfpy.URDF.load(str(DATA / robot / f"{robot}.urdf"), build_scene_graph=False, load_meshes=False,
                              build_collision_scene_graph=False, load_collision_meshes=False)


def ros2_control_joints(robot: str) -> list[str]:
    root = ET.fromstring(text(robot))
    return [j.get("name") for block in root.iter("ros2_control") for j in block.iter("joint")]


@pytest.mark.parametrize("robot", ROBOTS)
def test_the_files_are_as_shipped(robot):
    """Each file has the blocks its README row claims (so the tests below exercise them)."""
    root = ET.fromstring(text(robot))
    assert len(root.findall("ros2_control")) == 1
    assert set(ARM[robot]) <= set(ros2_control_joints(robot))  # the block repeats the arm's joint names
    transmissions = {"xarm6": 7, "rrbot": 2}.get(robot, 0)
    assert len(list(root.iter("transmission"))) == transmissions
    assert len(list(root.iter("gazebo"))) == {"xarm6": 20, "gen3": 5}.get(robot, 0)


@pytest.mark.parametrize("robot", ROBOTS)
def test_commandable_and_mimic_joints_agree_with_yourdfpy(robot):
    description = RobotDescription.from_urdf(text(robot))
    joints = independent(robot).robot.joints
    assert description.commandable == tuple(j.name for j in joints if j.type in MOVING and j.mimic is None)
    assert description.mimic == {j.name: j.mimic.joint for j in joints if j.mimic is not None}
    assert list(description.joints) == [j.name for j in joints]
    assert {n: j.type for n, j in description.joints.items()} == {j.name: j.type for j in joints}
    # ... and both say what the files hold
    assert description.commandable == tuple(ARM[robot] + GRIPPER[robot])
    assert description.mimic == MIMIC[robot]
    assert description.name == independent(robot).robot.name


@pytest.mark.parametrize("robot", ROBOTS)
def test_every_limit_agrees_with_yourdfpy(robot):
    description = RobotDescription.from_urdf(text(robot))
    limits = description.limits(description.commandable)
    by_name = {j.name: j for j in independent(robot).robot.joints}
    for k, name in enumerate(limits.names):
        joint = by_name[name]
        if joint.type == "continuous":
            assert (limits.lower[k], limits.upper[k]) == (-np.inf, np.inf)
        else:  # yourdfpy leaves an absent bound None; the URDF specification's default is 0
            assert limits.lower[k] == (joint.limit.lower or 0.0), name
            assert limits.upper[k] == (joint.limit.upper or 0.0), name
        assert limits.max_velocity[k] == joint.limit.velocity, name
    continuous = [n for n in limits.names if by_name[n].type == "continuous"]
    assert len(continuous) == {"rrbot": 2, "gen3": 4}.get(robot, 0)


@pytest.mark.parametrize("robot", ROBOTS)
def test_a_ros2_control_joint_does_not_replace_the_kinematic_one(robot):
    """Before, every <joint> in the file was collected, so the block's typeless joint replaced the real one
    and each trajectory was refused ("joint ... is None, not a moving joint").
    """
    names = ARM[robot]
    limits = joint_limits(text(robot), names)  # the function the nodes called before the reader existed
    assert limits.names == tuple(names)
    by_name = {j.name: j for j in independent(robot).robot.joints}
    np.testing.assert_array_equal(limits.max_velocity, [by_name[n].limit.velocity for n in names])


@pytest.mark.parametrize("robot", ROBOTS)
def test_the_ros2_control_block_commands_the_arm_by_position(robot):
    description = RobotDescription.from_urdf(text(robot))
    assert description.position_commanded == tuple(ARM[robot])
    assert set(description.position_commanded) <= set(description.commandable)


@pytest.mark.parametrize("robot", ROBOTS)
def test_a_trajectory_for_the_robot_passes_the_safety_check(robot):
    description = RobotDescription.from_urdf(text(robot))
    names = description.commandable
    limits = description.limits(names)
    lo = np.where(np.isfinite(limits.lower), limits.lower, -np.pi)
    hi = np.where(np.isfinite(limits.upper), limits.upper, np.pi)
    times = np.linspace(0.0, 4.0, 9)
    positions = lo + (hi - lo) * (0.5 + 0.4 * np.sin(times)[:, None])  # within the limits throughout
    reversed_order = list(names)[::-1]  # names in any order map onto the robot's
    checked = check_trajectory(reversed_order, times, positions[:, ::-1], limits)
    assert not checked.clamped
    np.testing.assert_allclose(checked.positions, positions)
    beyond = positions.copy()
    beyond[3] = hi + 1.0  # past every upper limit: clamped onto the description's bounds
    clamped = check_trajectory(list(names), times, beyond, limits)
    assert clamped.clamped == bool(np.isfinite(limits.upper).any())  # RRBot's joints are all continuous
    np.testing.assert_array_equal(clamped.positions[3], np.where(np.isfinite(limits.upper), limits.upper, hi + 1.0))


def test_a_mimic_joint_is_refused_naming_its_leader():
    description = RobotDescription.from_urdf(text("xarm6"))
    with pytest.raises(RobotDescriptionError) as info:
        description.limits([*ARM["xarm6"], "left_finger_joint"])
    assert str(info.value) == ("robot description's joint 'left_finger_joint' mimics 'drive_joint': it follows that "
                               "joint and is not commanded (command 'drive_joint')")


def test_a_missing_joint_lists_the_commandable_ones():
    with pytest.raises(RobotDescriptionError) as info:
        joint_limits(text("ur5e"), ["shoulder_pan_joint", "wrist_4_joint"])
    assert str(info.value) == ("robot description has no joint 'wrist_4_joint'; its moving joints are "
                               f"{ARM['ur5e']}")


def robot(*joints: str) -> str:
    return f'<robot name="r">{"".join(joints)}</robot>'


def joint(name: str, kind: str, inner: str = "") -> str:
    return f'<joint name="{name}" type="{kind}"><parent link="a"/><child link="b"/>{inner}</joint>'


LIMITED = '<limit lower="-1" upper="1" velocity="2" effort="5"/>'


@pytest.mark.parametrize("urdf, names, problem", [
    ("<robot", ["j"], "robot description is not valid XML (unclosed token: line 1, column 0)"),
    ("<model/>", ["j"], "robot description's root element is <model>, not <robot>"),
    (robot(joint("j", "revolute", LIMITED), joint("j", "revolute", LIMITED)), ["j"],
     "robot description has two joints named 'j'"),
    (robot(joint("j", "revolute", LIMITED), '<joint type="fixed"/>'), ["j"],
     "robot description has a <joint> without a name"),
    (robot(joint("j", "fixed")), ["j"], "robot description's joint 'j' is fixed, not a moving joint"),
    (robot(joint("j", "revolute")), ["j"], "robot description's joint 'j' has no <limit>"),
    (robot(joint("j", "revolute", '<limit lower="-1" upper="1"/>')), ["j"],
     "robot description: joint 'j' has no numeric <limit velocity=...> (got None)"),
    (robot(joint("j", "revolute", '<limit lower="-pi" upper="1" velocity="1"/>')), ["j"],
     "robot description: joint 'j' has no numeric <limit lower=...> (got '-pi')"),
    (robot(joint("j", "prismatic", '<limit lower="0" upper="inf" velocity="1"/>')), ["j"],
     "robot description: joint 'j' has <limit upper='inf'>"),
    (robot(joint("j", "revolute", '<limit lower="1" upper="-1" velocity="1"/>')), ["j"],
     "robot description's joint 'j' has lower 1 > upper -1"),
    (robot(joint("j", "continuous", '<limit velocity="0"/>')), ["j"],
     "robot description's joint 'j' has velocity limit 0: expected a positive speed"),
    # A joint named only inside <ros2_control> (or <transmission>) is no joint of the robot.
    (robot(joint("j", "revolute", LIMITED),
           '<ros2_control name="hw" type="system"><joint name="k"><command_interface name="position"/></joint>'
           '</ros2_control><transmission name="t"><joint name="m"/></transmission>'), ["k"],
     "robot description has no joint 'k'; its moving joints are ['j']"),
])
def test_bad_descriptions_are_refused_in_one_line(urdf, names, problem):
    with pytest.raises(RobotDescriptionError) as info:
        joint_limits(urdf, names)
    assert str(info.value) == problem


def test_limits_follow_the_urdf_specification():
    """lower and upper default to 0, effort is not read, a continuous joint has no position bounds."""
    urdf = robot(joint("a", "revolute", '<limit velocity="1.5"/>'),
                 joint("b", "prismatic", '<limit upper="0.2" velocity="0.1"/>'),
                 joint("c", "continuous", '<limit lower="-1" upper="1" velocity="3" effort="nan"/>'))
    limits = RobotDescription.from_urdf(urdf).limits(["a", "b", "c"], names=["x", "y", "z"])
    assert limits.names == ("x", "y", "z")
    np.testing.assert_array_equal(limits.lower, [0.0, 0.0, -np.inf])
    np.testing.assert_array_equal(limits.upper, [0.0, 0.2, np.inf])
    np.testing.assert_array_equal(limits.max_velocity, [1.5, 0.1, 3.0])
