"""The robot-description reader against public robot descriptions, as their packages ship them.

Each file under test/data/robot_descriptions is a public description package's xacro expanded with
xacro (README.md there: repository, commit, command): xArm 6, RRBot (ros2_control_demos example 8),
Franka FR3, Kinova Gen3, UR5e, ROBOTIS OpenMANIPULATOR-X and Doosan M1013 with a Robotiq 2F-85, each
with a ``<ros2_control>`` block that names every joint again (the M1013 has two: arm and gripper). Four
arms from four makers ship ``<transmission>`` blocks too: xArm, OpenMANIPULATOR-X and M1013 at the top
level, RRBot inside ``<ros2_control>``. xArm, Gen3, OpenMANIPULATOR-X and M1013 carry ``<gazebo>`` tags;
xArm, FR3, Gen3, OpenMANIPULATOR-X and M1013 mimic joints. The reader's joints and limits are compared
with an independent parser, yourdfpy, on the same files. Then the nodes that read descriptions: the
commander over DDS, the record node and bag2dataset.
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
    "open_manipulator_x": [f"joint{i}" for i in range(1, 5)],
    "m1013": [f"joint_{i}" for i in range(1, 7)],
}
GRIPPER = {"xarm6": ["drive_joint"], "rrbot": [], "fr3": ["fr3_finger_joint1"], "gen3": ["right_finger_bottom_joint"],
           "ur5e": [], "open_manipulator_x": ["gripper_left_joint"], "m1013": ["robotiq_85_left_knuckle_joint"]}
MIMIC = {
    "xarm6": {n: "drive_joint" for n in ("left_finger_joint", "left_inner_knuckle_joint", "right_outer_knuckle_joint",
                                          "right_finger_joint", "right_inner_knuckle_joint")},
    "rrbot": {},
    "fr3": {"fr3_finger_joint2": "fr3_finger_joint1"},
    "gen3": {n: "right_finger_bottom_joint" for n in ("right_finger_tip_joint", "left_finger_bottom_joint",
                                                       "left_finger_tip_joint")},
    "ur5e": {},
    "open_manipulator_x": {"gripper_right_joint": "gripper_left_joint"},
    "m1013": {n: "robotiq_85_left_knuckle_joint" for n in (
        "robotiq_85_right_knuckle_joint", "robotiq_85_left_inner_knuckle_joint", "robotiq_85_right_inner_knuckle_joint",
        "robotiq_85_left_finger_tip_joint", "robotiq_85_right_finger_tip_joint")},
}
# The joints each description's <ros2_control> blocks give a position command interface: the arm's, and the
# gripper's leader where the gripper is in a block (OpenMANIPULATOR-X: the arm's block; M1013: its own block).
POSITION_COMMANDED = {robot: ARM[robot] + (GRIPPER[robot] if robot in ("open_manipulator_x", "m1013") else [])
                      for robot in ARM}
# What the files hold besides the kinematic tree, counted by hand: <ros2_control> blocks (direct children of
# <robot>), <transmission> and <gazebo> elements anywhere, and the joint names the transmissions give.
# Doosan's transmissions name joint1..joint6, which its arm (joint_1..joint_6) does not have: shipped so.
BLOCKS = {"xarm6": (1, 7, 20), "rrbot": (1, 2, 0), "fr3": (1, 0, 0), "gen3": (1, 0, 5), "ur5e": (1, 0, 0),
          "open_manipulator_x": (1, 6, 9), "m1013": (2, 6, 8)}
TRANSMITTED = {"open_manipulator_x": ARM["open_manipulator_x"] + ["gripper_left_joint", "gripper_right_joint"],
               "m1013": [f"joint{i}" for i in range(1, 7)], "rrbot": ["joint1", "joint2"]}
MAKER = {"xarm6": "UFACTORY", "rrbot": "ros2_control_demos", "fr3": "Franka Robotics", "gen3": "Kinova",
         "ur5e": "Universal Robots", "open_manipulator_x": "ROBOTIS", "m1013": "Doosan Robotics"}
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
    blocks, transmissions, gazebo = BLOCKS[robot]
    assert len(root.findall("ros2_control")) == blocks
    assert set(ARM[robot]) <= set(ros2_control_joints(robot))  # the block repeats the arm's joint names
    assert len(list(root.iter("transmission"))) == transmissions
    assert len(list(root.iter("gazebo"))) == gazebo
    if robot in TRANSMITTED:
        assert [j.get("name") for t in root.iter("transmission") for j in t.findall("joint")] == TRANSMITTED[robot]


def test_three_makers_arms_ship_ros2_control_and_transmission_blocks():
    """The issue's bar: at least three different makers' arms with both blocks, as their packages ship them."""
    both = {MAKER[robot] for robot, (blocks, transmissions, _) in BLOCKS.items() if blocks and transmissions}
    assert both == {"UFACTORY", "ROBOTIS", "Doosan Robotics", "ros2_control_demos"}


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
def test_every_joints_links_and_origin_agree_with_yourdfpy(robot):
    """Parent, child and <origin> of every kinematic joint (what the camera's extrinsics are read from)."""
    from latent_nodes.perception.camera_geometry import rpy_to_rotation

    description = RobotDescription.from_urdf(text(robot))
    for joint in independent(robot).robot.joints:
        ours = description.joints[joint.name]
        assert (ours.parent, ours.child) == (joint.parent, joint.child), joint.name
        assert description.joint_above(joint.child) is ours
        xyz, rpy = ours.origin()
        expected = np.eye(4) if joint.origin is None else joint.origin
        np.testing.assert_allclose(xyz, expected[:3, 3], atol=1e-12, err_msg=joint.name)
        np.testing.assert_allclose(rpy_to_rotation(*rpy), expected[:3, :3], atol=1e-12, err_msg=joint.name)


def test_a_malformed_origin_is_refused_only_where_it_is_read():
    description = RobotDescription.from_urdf(robot(
        joint("a", "revolute", LIMITED + '<origin xyz="0 0 x"/>')))
    assert description.limits(["a"]).max_velocity[0] == 2.0
    with pytest.raises(RobotDescriptionError, match="joint 'a' has <origin xyz='0 0 x'>, not three finite numbers"):
        description.joints["a"].origin()


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
    assert len(limits.names) == len(ARM[robot] + GRIPPER[robot])


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
    assert description.position_commanded == tuple(POSITION_COMMANDED[robot])
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


def test_a_new_description_replaces_the_limits_and_an_unreadable_one_keeps_none():
    """DescriptionLimits: one rule for a re-published /robot_description, whether the joints are fixed or not."""
    from latent_nodes.robot.robot_description import DescriptionLimits
    from latent_nodes.robot.safety import JointLimits, UnsafeTrajectory

    embedded = JointLimits(("e1",), np.array([-1.0]), np.array([1.0]), np.array([2.0]))
    limits = DescriptionLimits(embedded)
    with pytest.raises(UnsafeTrajectory, match="no /robot_description has arrived"):
        limits.limits(["a"])
    usable, line = limits.receive(robot(joint("a", "revolute", '<limit upper="1" velocity="1.5"/>')))
    assert usable and "limits for joints other than the embedded arm's come from it" in line
    assert limits.limits(["a"]).max_velocity[0] == 1.5
    # The joints fixed: a new description's limits replace the old ones, said once.
    usable, line = limits.receive(robot(joint("a", "revolute", '<limit upper="1" velocity="0.5"/>')), fixed=["a"])
    assert usable and line == ("/robot_description replaced: the limits of ['a'] come from it from the next "
                               "trajectory on")
    assert limits.limits(["a"]).max_velocity[0] == 0.5
    # One without the fixed joints: said on receipt, and nothing of the old one is kept.
    usable, line = limits.receive(robot(joint("b", "revolute", '<limit velocity="1"/>')), fixed=["a"])
    assert not usable and "without limits for the arm's joints" in line and "no joint 'a'" in line
    with pytest.raises(UnsafeTrajectory, match="no joint 'a'"):
        limits.limits(["a"])
    # An unreadable one: refused until a readable one arrives.
    usable, line = limits.receive("<robot><joint", fixed=["a"])
    assert not usable and line.startswith("/robot_description cannot be read")
    with pytest.raises(UnsafeTrajectory, match="could not be read"):
        limits.limits(["a"])
    assert limits.receive(robot(joint("a", "revolute", '<limit upper="1" velocity="1"/>')), fixed=["a"])[0]
    assert limits.limits(["a"]).max_velocity[0] == 1.0
    # The embedded arm's joints keep the embedded arm's limits whatever the description says.
    assert limits.limits(["e1"]) is embedded


# --- a bag recorded on a robot: bag2dataset takes the joints from its description ----------------------


def record_on(bag: Path, robot: str, joint_names: list[str], description: str | None = None) -> None:
    """Two labelled episodes of 2.5 s on ``robot``, its joint_state_broadcaster publishing ``joint_names``
    at 50 Hz (every joint it has, mimic ones too), its description latched as robot_state_publisher offers it.
    """
    from latent_nodes.data.recording import BagWriter

    with BagWriter(bag) as writer:
        writer.text("/robot_description", 0, text(robot) if description is None else description, latched=True)
        writer.block_pose(10_000_000, (0.4, 0.1))
        for k in range(1, 300):
            t = k * 20_000_000
            if k in (10, 160):
                writer.start_episode(t, "reach")
            if k in (140, 290):
                writer.stop_episode(t)
            writer.joint_state(t, joint_names, 0.01 * k + np.arange(len(joint_names)))


def test_bag2dataset_takes_the_joints_of_the_recorded_description(tmp_path):
    """A bag recorded on an xArm (ros2_control and transmission blocks, five mimic joints) converts without
    --joint-names: its commandable joints, in the description's order, mimic joints left out.
    Before, the embedded arm's joints were assumed and the bag was refused ("lacks joints ['arm_joint_1', ...").
    """
    from latent_nodes.data.dataset import load_dataset
    from latent_nodes.scripts.bag2dataset import main

    broadcast = sorted(ARM["xarm6"] + GRIPPER["xarm6"] + list(MIMIC["xarm6"]))  # a broadcaster's order, not the URDF's
    bag, out = tmp_path / "xarm", tmp_path / "xarm.npz"
    record_on(bag, "xarm6", broadcast)
    assert main(["--bag", str(bag), "--out", str(out)]) == 0
    dataset = load_dataset(out)
    assert dataset.joint_names == tuple(ARM["xarm6"] + GRIPPER["xarm6"])
    assert dataset.sequences.shape == (2, 20, 7 + 2)
    # joint k of the broadcast carries 0.01 * step + k: the columns are the named joints' values
    first = 0.01 * 10 + np.array([broadcast.index(n) for n in dataset.joint_names])
    np.testing.assert_allclose(dataset.sequences[0, 0, :7], first, atol=0.011)


def test_bag2dataset_refuses_joints_the_description_does_not_command(tmp_path, capsys):
    from latent_nodes.scripts.bag2dataset import main

    bag, out = tmp_path / "xarm", tmp_path / "xarm.npz"
    record_on(bag, "xarm6", ARM["xarm6"] + GRIPPER["xarm6"] + list(MIMIC["xarm6"]))
    cases = [
        (["joint1", "left_finger_joint"], "robot description's joint 'left_finger_joint' mimics 'drive_joint'"),
        (["joint1", "joint7"], "robot description has no joint 'joint7'; its moving joints are ['joint1', "),
        (["joint1", "world_joint"], "robot description's joint 'world_joint' is fixed, not a moving joint"),
    ]
    for names, problem in cases:
        assert main(["--bag", str(bag), "--out", str(out), "--joint-names", *names]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"latent-nodes bag2dataset: recording {bag}: {problem}") and err.count("\n") == 1, err
    # A broadcaster that leaves out the gripper: the missing joint is named.
    partial = tmp_path / "partial"
    record_on(partial, "xarm6", ARM["xarm6"])
    assert main(["--bag", str(partial), "--out", str(out)]) == 2
    assert f"recording {partial}: /joint_states lacks joints ['drive_joint']" in capsys.readouterr().err
    # An unreadable description is named as such.
    broken = tmp_path / "broken"
    record_on(broken, "xarm6", ARM["xarm6"], description="<robot name='x'><joint")
    assert main(["--bag", str(broken), "--out", str(out)]) == 2
    assert f"recording {broken}: its /robot_description: robot description is not valid XML" in capsys.readouterr().err
    assert not out.exists()


# --- the nodes, over real DDS ------------------------------------------------------------------------------


def latched_description(graph):
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from std_msgs.msg import String

    from latent_nodes.nodes import messages

    return graph.probe.create_publisher(String, messages.ROBOT_DESCRIPTION,
                                        QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))


def commander_graph(g, names: list[str]):
    """A commander and a stand-in robot that follows its commands exactly (/joint_states of ``names`` at 50 Hz,
    at the last /joint_command, from rest at 0): so the commander's path and goal tolerances hold; its
    description publisher.
    """
    from sensor_msgs.msg import JointState
    from trajectory_msgs.msg import JointTrajectory

    from latent_nodes.nodes import messages
    from latent_nodes.nodes.commander_node import CommanderNode

    commander = g.add(CommanderNode, settle_s=0.1)
    description = latched_description(g)
    states = g.publisher(JointState, messages.JOINT_STATES)
    at = {"q": np.zeros(len(names))}
    g.probe.create_subscription(JointState, messages.JOINT_COMMAND,
                                lambda m: at.update(q=np.asarray(m.position, dtype=np.float64)), 10)
    g.probe.create_timer(0.02, lambda: states.publish(messages.joint_state(names, at["q"])))
    trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
    g.start()
    g.wait_for_subscribers(trajectory)
    assert g.wait(lambda: commander.last_joint_state is not None, timeout=10.0)
    return commander, description, trajectory


@pytest.mark.parametrize("robot", ["ur5e", "m1013"])
def test_the_commander_drives_a_robot_whose_description_has_a_ros2_control_block(robot):
    """The UR5e's and the M1013's descriptions as shipped (the M1013's with transmission blocks and a second
    <ros2_control> block for its gripper): the arm's trajectory is executed within the description's limits.

    Before, the <ros2_control> block's joints replaced the arm's, and the trajectory was refused ("robot
    description's joint 'shoulder_pan_joint' is None, not a moving joint").
    """
    pytest.importorskip("rclpy")
    from rcl_interfaces.msg import Log
    from ros_harness import Graph
    from std_msgs.msg import String

    from latent_nodes.nodes import messages

    names = ARM[robot]
    target = np.tile(np.linspace(0.0, 0.2, 20)[:, None], (1, len(names)))  # 0.2 rad in 2 s, within the limits
    with Graph() as g:
        commander, description, trajectory = commander_graph(g, names)
        description.publish(String(data=text(robot)))
        assert g.wait(lambda: commander.description is not None, timeout=10.0)
        trajectory.publish(messages.joint_trajectory(names, target, 0.1))
        assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) == 1, timeout=20.0), \
            g.probe.logs("commander", Log.ERROR)
        commands = list(g.probe.got[messages.JOINT_COMMAND])
        errors = g.probe.logs("commander", Log.ERROR)
    assert not errors
    assert commands and all(list(m.name) == names for m in commands)
    np.testing.assert_allclose(commands[-1].position, target[-1], atol=1e-9)
    assert commander.arm.names == tuple(names)
    by_name = {j.name: j for j in independent(robot).robot.joints}
    np.testing.assert_array_equal(commander.arm.upper, [by_name[n].limit.upper for n in names])
    np.testing.assert_array_equal(commander.arm.max_velocity, [by_name[n].limit.velocity for n in names])


def test_the_commander_reports_an_unreadable_description_on_receipt_and_refuses_naming_it():
    """One error line when it arrives; it leaves no limits behind, and each trajectory it leaves without limits
    is refused naming why. Before, the refusal said no description had arrived.
    """
    pytest.importorskip("rclpy")
    from rcl_interfaces.msg import Log
    from ros_harness import Graph
    from std_msgs.msg import String

    from latent_nodes.nodes import messages

    names = ARM["ur5e"]
    with Graph() as g:
        commander, description, trajectory = commander_graph(g, names)
        description.publish(String(data=text("ur5e")))
        assert g.wait(lambda: commander.description is not None, timeout=10.0)
        description.publish(String(data="<robot name='ur'><joint"))
        assert g.wait(lambda: g.probe.logs("commander", Log.ERROR), timeout=10.0)
        for k in (2, 3):  # each refused with its own line
            trajectory.publish(messages.joint_trajectory(names, np.zeros((20, len(names))), 0.1))
            assert g.wait(lambda k=k: len(g.probe.logs("commander", Log.ERROR)) == k, timeout=10.0)
        first, *refused = g.probe.logs("commander", Log.ERROR)
        assert g.probe.count(messages.JOINT_COMMAND) == 0
    problem = "robot description is not valid XML (unclosed token: line 1, column 17)"
    assert first == ("/robot_description cannot be read, so no joint limits are known from it: trajectories for "
                     f"joints other than the embedded arm's are refused until a readable one arrives ({problem})"
                     ), first
    assert refused == [f"refusing trajectory, nothing sent: joints {names} are not the embedded arm's and the last "
                       f"/robot_description could not be read, so their limits are unknown: {problem}"] * 2, refused


def test_a_bag_recorded_by_the_record_node_on_a_robot_converts_with_its_joints(tmp_path):
    """The record node keeps the robot's latched /robot_description; bag2dataset then needs no joint names."""
    pytest.importorskip("rclpy")
    import time

    from geometry_msgs.msg import PoseStamped
    from ros_harness import Graph
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    from latent_nodes.data.dataset import load_dataset
    from latent_nodes.nodes import messages
    from latent_nodes.nodes.record_node import RecordNode
    from latent_nodes.scripts.bag2dataset import main

    broadcast = ARM["fr3"] + GRIPPER["fr3"] + list(MIMIC["fr3"])
    bag, out = tmp_path / "fr3", tmp_path / "fr3.npz"
    with Graph() as g:
        latched_description(g).publish(String(data=text("fr3")))  # before the recorder starts, as a robot does
        node = g.add(RecordNode, bag=str(bag), behaviour="wipe")
        joints, pose = g.publisher(JointState, messages.JOINT_STATES), g.publisher(PoseStamped, messages.BLOCK_POSE)
        start, stop = (g.probe.create_client(Trigger, f"/record/{s}_episode") for s in ("start", "stop"))
        g.start()
        g.wait_for_subscribers(joints)
        g.wait_for_subscribers(pose)
        assert g.wait(lambda: node.recorder.writer.messages >= 1, timeout=10.0)  # the description
        pose.publish(messages.block_pose((0.4, 0.1), "table"))
        for client in (start, None, stop):
            if client is None:
                t0 = time.monotonic()
                while (t := time.monotonic() - t0) < 2.3:
                    joints.publish(messages.joint_state(broadcast, t + np.arange(len(broadcast))))
                    time.sleep(0.01)
                continue
            assert client.wait_for_service(timeout_sec=5.0)
            future = client.call_async(Trigger.Request())
            assert g.wait(future.done, 5.0) and future.result().success, future.result()
        node.close()
    assert main(["--bag", str(bag), "--out", str(out), "--behaviours", "wipe"]) == 0
    dataset = load_dataset(out)
    assert dataset.joint_names == tuple(ARM["fr3"] + GRIPPER["fr3"])  # fr3_finger_joint2 (mimic) left out
    assert dataset.sequences.shape == (1, 20, 8 + 2)
