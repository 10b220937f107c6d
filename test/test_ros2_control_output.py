"""The commander with ``target: ros2_control``, against stand-in controllers over real DDS.

The stand-ins play what a ros2_control arm offers: a joint_state_broadcaster (``/joint_states`` under
the robot's joint names), a robot description (``/robot_description``, transient local, the arm's URDF
with the robot's names) and two joint_trajectory_controllers (arm and gripper) that accept, reject and
execute trajectories by the real controller's rules (``trajectory_controller_stand_in.py``, which cites
the lines it models): a message the real controller would reject is rejected here too, and every test that
sends checks that nothing was. The commander is the real node; nothing of ROS is mocked.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from rcl_interfaces.msg import Log
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from ros_harness import Graph
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger
from trajectory_controller_stand_in import ControllerRules, StandInTrajectoryController
from trajectory_msgs.msg import JointTrajectory

from latent_nodes.nodes import messages
from latent_nodes.nodes.commander_node import CommanderNode
from latent_nodes.nodes.ros2_control_output import FollowJointTrajectory
from latent_nodes.robot.joint_trajectory import SplineTrajectory, knot_velocities
from latent_nodes.sim import arm
from latent_nodes.sim.urdf import build_urdf

NAMES = list(arm.JOINT_NAMES)
HOME = np.asarray(arm.HOME, dtype=np.float64)
MAP = {"arm_joint_1": "shoulder_pan", "arm_joint_4": "elbow", "finger_joint_left": "left_finger"}
ROBOT = [MAP.get(n, n) for n in NAMES]
ARM_TOPIC, GRIPPER_TOPIC = "/arm_controller/joint_trajectory", "/gripper_controller/joint_trajectory"


def robot_urdf(velocity_scale: float = 1.0, elbow_upper: float | None = None,
               command_interfaces: dict[str, str] | None = None) -> str:
    """The arm's URDF under the robot's joint names, velocity limits scaled, the elbow's upper limit changed;
    with ``command_interfaces`` (robot joint -> interface) a ``<ros2_control>`` block as a robot's
    description carries it (mock hardware, a state interface for each joint).
    """
    text = build_urdf()
    if command_interfaces is not None:
        joints = "".join(f'<joint name="{name}"><command_interface name="{kind}"/><state_interface name="position"/>'
                         f'</joint>' for name, kind in command_interfaces.items())
        block = (f'<ros2_control name="stand_in" type="system"><hardware><plugin>mock_components/GenericSystem'
                 f'</plugin></hardware>{joints}</ros2_control>')
        text = text.replace("</robot>", block + "</robot>")
    for model, robot in MAP.items():
        text = text.replace(f'name="{model}"', f'name="{robot}"')
    if velocity_scale != 1.0:
        for v in set(arm.MAX_VELOCITY):
            text = text.replace(f'velocity="{v:.9g}"', f'velocity="{v * velocity_scale:.9g}"')
    if elbow_upper is not None:
        text = text.replace(f'upper="{arm.JOINT_UPPER[3]:.9g}"', f'upper="{elbow_upper:.9g}"', 1)
    return text


class StandInRobot(Node):
    """joint_state_broadcaster + robot description over two stand-in trajectory controllers (arm, gripper).

    ``joints`` are the joints the robot reports; the arm controller has the first seven, the gripper
    controller the fingers (absent when ``joints`` stops at seven).
    """

    def __init__(self, context, urdf: str | None, joints: list[str] = ROBOT) -> None:
        super().__init__("stand_in_robot", context=context)
        self.joints = joints
        self.on = True  # publishing /joint_states
        self.controllers = {ARM_TOPIC: StandInTrajectoryController(context, "arm_controller",
                                                                   ControllerRules(tuple(ROBOT[:7])), HOME[:7]),
                            GRIPPER_TOPIC: StandInTrajectoryController(context, "gripper_controller",
                                                                       ControllerRules(tuple(ROBOT[7:])), HOME[7:])}
        self.states = self.create_publisher(JointState, messages.JOINT_STATES, 10)
        self.description = self.create_publisher(
            String, messages.ROBOT_DESCRIPTION, QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        if urdf is not None:
            self.description.publish(String(data=urdf))
        self.create_timer(0.01, self.tick)

    def received(self, topic: str) -> list[JointTrajectory]:
        return self.controllers[topic].accepted

    def rejected(self) -> list[str]:
        return [reason for c in self.controllers.values() for _, reason in c.rejected]

    def positions(self) -> np.ndarray:
        """[9] where the robot's joints are now, robot order."""
        return np.concatenate([c.state()[0] for c in self.controllers.values()])

    def tick(self) -> None:
        if not self.on:
            return
        q = self.positions()
        self.states.publish(messages.joint_state(self.joints, np.asarray([q[ROBOT.index(j)] for j in self.joints])))


def behaviour(n_points: int = 20, dt: float = 0.1, amplitude: float = 0.3) -> np.ndarray:
    """[n_points, 9] a smooth excursion from HOME and back (all joints move, fingers included)."""
    s = np.sin(np.linspace(0.0, np.pi, n_points))[:, None]
    return HOME + amplitude * s * np.linspace(0.2, 1.0, len(NAMES))[None, :] * np.array([1] * 7 + [0.2, 0.2])


def graph(urdf: str | None = None, joints: list[str] = ROBOT, **params):
    g = Graph()
    commander = g.add(CommanderNode, target="ros2_control",
                      joint_name_map=[f"{m}:{r}" for m, r in MAP.items()], **params)
    robot = StandInRobot(g.context, urdf, joints)
    for node in (robot, *robot.controllers.values()):
        g.nodes.append(node)
        g.executor.add_node(node)
    g.trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
    g.start()
    g.wait_for_subscribers(g.trajectory)
    assert g.wait(lambda: commander.measured is not None), "the commander never took the stand-in's /joint_states"
    return g, commander, robot


def send(g, robot, joints: np.ndarray, topics=(ARM_TOPIC, GRIPPER_TOPIC)) -> list[JointTrajectory]:
    before = {t: len(robot.received(t)) for t in topics}
    g.trajectory.publish(messages.joint_trajectory(NAMES, joints, 0.1))
    assert g.wait(lambda: all(len(robot.received(t)) > before[t] for t in topics) or robot.rejected()), \
        f"nothing reached the controllers; commander said: {g.probe.logs('commander')}"
    assert not robot.rejected(), f"a controller rejected the trajectory: {robot.rejected()}"
    return [robot.received(t)[-1] for t in topics]


def times_of(msg: JointTrajectory) -> np.ndarray:
    return np.array([messages.duration_to_seconds(p.time_from_start) for p in msg.points])


def sampled_acceleration(spline: SplineTrajectory, n: int = 40001) -> np.ndarray:
    """[J] the largest |acceleration| along ``spline``, by finite differences of its sampled velocity."""
    t = np.linspace(0.0, spline.duration, n)
    v = spline.sample(t)[1]
    return np.abs(np.diff(v, axis=0) / np.diff(t)[:, None]).max(axis=0)


def commanded_acceleration(controller: StandInTrajectoryController, n: int = 20001) -> np.ndarray:
    """[J] the largest |acceleration| a controller commands over its last trajectory, from its arm's state on
    receipt to the last point (the stand-in samples as the real controller does), by finite differences.
    """
    execution = controller.execution
    t_ns = np.linspace(execution.before_ns, execution.start_ns + int(execution.times_ns[-1]), n).astype(np.int64)
    v = np.array([execution.sample(int(t))[1] for t in t_ns])
    return np.abs(np.diff(v, axis=0) / (np.diff(t_ns)[:, None] * 1e-9)).max(axis=0)


def test_the_controllers_accept_and_execute_the_mapped_split_trajectory_with_spline_velocities():
    g, commander, robot = graph(urdf=robot_urdf())
    with g:
        joints = behaviour()
        arm_msg, gripper_msg = send(g, robot, joints)
        # Joint sets and names after mapping: the arm's seven to the arm controller, the fingers apart.
        assert list(arm_msg.joint_names) == [ROBOT[i] for i in range(7)]
        assert list(gripper_msg.joint_names) == ["left_finger", "finger_joint_right"]
        # Zero stamp: start on receipt.
        for msg in (arm_msg, gripper_msg):
            assert msg.header.stamp.sec == 0 and msg.header.stamp.nanosec == 0
        # Strictly increasing times from after "now", the same for both controllers, one point per point.
        t = times_of(arm_msg)
        assert len(t) == 20 and t[0] > 0 and np.all(np.diff(t) > 0)
        np.testing.assert_array_equal(t, times_of(gripper_msg))
        np.testing.assert_allclose(t, 0.1 * np.arange(1, 21), atol=1e-6)  # within the limits: timing kept
        # Positions are the behaviour's; velocities the spline's, consistent with the positions and times.
        q = np.hstack([[list(p.positions) for p in arm_msg.points], [list(p.positions) for p in gripper_msg.points]])
        np.testing.assert_allclose(q, joints, atol=1e-12)
        v = np.hstack([[list(p.velocities) for p in arm_msg.points],
                       [list(p.velocities) for p in gripper_msg.points]])
        knots_t, knots_q = np.concatenate([[0.0], t]), np.vstack([HOME, joints])
        np.testing.assert_allclose(v, knot_velocities(knots_t, knots_q)[1:], atol=1e-9)
        assert np.any(np.abs(v) > 0.1) and np.all(v[-1] == 0)
        spline = SplineTrajectory(knots_t, knots_q, np.vstack([np.zeros(9), v]))
        speeds = np.abs(spline.sample(np.linspace(0, t[-1], 4001))[1])
        assert np.all(speeds <= np.minimum(arm.MAX_VELOCITY, 2.0) * (1 + 1e-5))
        # The commander's reference for the tracking error is the spline the controllers follow.
        running = commander.active
        assert running is not None
        for when in (0.05, 0.37, 1.23):
            np.testing.assert_allclose(running.sample(when), spline.sample(when)[0][0], atol=1e-12)
        # Nothing is streamed on the embedded arm's topic; the run is reported when it is over, and the
        # controllers, interpolating as the real one does, brought the arm to the last point.
        assert g.probe.count(messages.JOINT_COMMAND) == 0
        assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) == 1, timeout=10.0)
        np.testing.assert_allclose(robot.positions(), joints[-1], atol=1e-12)
        assert g.probe.last(messages.TRACKING_ERROR).data < 0.01  # ideal tracking: only the feedback's delay
        # A description without a <ros2_control> block says nothing of command interfaces: no warning.
        assert not any("command interface" in m for m in g.probe.logs("commander", Log.WARN))


def test_stop_holds_the_controllers_where_the_trajectory_has_got_to():
    """An empty trajectory would be rejected ("Empty trajectory received."): a stop is a one-point hold."""
    g, commander, robot = graph(urdf=robot_urdf())
    with g:
        joints = behaviour(amplitude=0.6)
        send(g, robot, joints)
        assert g.wait(lambda: np.abs(robot.positions() - HOME).max() > 0.1), "the arm never moved"
        client = g.probe.create_client(Trigger, "/commander/stop")
        assert client.wait_for_service(timeout_sec=5.0)
        future = client.call_async(Trigger.Request())
        assert g.wait(future.done) and future.result().success
        assert g.wait(lambda: all(len(robot.received(t)) == 2 for t in (ARM_TOPIC, GRIPPER_TOPIC)) or robot.rejected())
        assert not robot.rejected(), robot.rejected()
        for topic, columns in ((ARM_TOPIC, slice(0, 7)), (GRIPPER_TOPIC, slice(7, 9))):
            controller = robot.controllers[topic]
            hold = controller.accepted[-1]
            assert list(hold.joint_names) == ROBOT[columns] and len(hold.points) == 1
            assert hold.points[0].time_from_start.sec == 0 and hold.points[0].time_from_start.nanosec == 0
            assert list(hold.points[0].velocities) == [0.0] * len(hold.joint_names)
            # Where the arm was when the hold arrived, up to the few milliseconds the message took.
            np.testing.assert_allclose(hold.points[0].positions, controller.state_at_receipt[-1], atol=0.05)
        held = robot.positions()
        assert np.abs(held - joints[-1]).max() > 0.1, "the stop came too late to test anything"
        assert not g.wait(lambda: np.abs(robot.positions() - held).max() > 1e-9, timeout=0.5), "the arm moved on"


def test_a_first_point_due_at_once_is_reached_in_time_and_stale_feedback_stops():
    g, commander, robot = graph(urdf=robot_urdf())
    with g:
        joints = behaviour()[:5] + 0.5  # the first point half a radian away from where the arm is
        msg = messages.joint_trajectory(NAMES, joints, 0.1)
        for k, point in enumerate(msg.points):
            point.time_from_start = messages.seconds_to_duration(0.1 * k)  # point 0 at t = 0
        g.trajectory.publish(msg)
        assert g.wait(lambda: robot.received(ARM_TOPIC) or robot.rejected())
        assert not robot.rejected(), robot.rejected()
        arm_msg = robot.received(ARM_TOPIC)[-1]
        t = times_of(arm_msg)
        assert len(t) == 5 and t[0] >= 0.5 / 2.0 and np.all(np.diff(t) > 0)  # 0.5 rad at <= 2 rad/s
        q, v = (np.array([list(getattr(p, k)) for p in arm_msg.points]) for k in ("positions", "velocities"))
        spline = SplineTrajectory(np.concatenate([[0.0], t]), np.vstack([HOME[:7], q]), np.vstack([np.zeros(7), v]))
        assert np.abs(spline.sample(np.linspace(0, t[-1], 4001))[1]).max() <= 2.0 * (1 + 1e-5)
        # /joint_states stop: the controllers are told to hold where the trajectory has got to, which needs
        # no feedback; the arm then stays between where it started and the trajectory's end.
        robot.on = False
        assert g.wait(lambda: all(len(robot.received(t)) == 2 for t in (ARM_TOPIC, GRIPPER_TOPIC)), timeout=5.0)
        assert not robot.rejected(), robot.rejected()
        assert all(len(robot.received(t)[-1].points) == 1 for t in (ARM_TOPIC, GRIPPER_TOPIC))
        assert g.wait(lambda: any("/joint_states is stale" in m for m in g.probe.logs("commander", Log.ERROR)))
        held = robot.positions()
        assert np.abs(held - HOME).max() > 0.05
        assert not g.wait(lambda: np.abs(robot.positions() - held).max() > 1e-9, timeout=0.5), "the arm moved on"


def test_the_controllers_command_within_the_acceleration_limits():
    """The controllers interpolate the whole trajectory themselves, so its timing is the only place the
    acceleration limits can hold: a first point 0.05 rad away due at once was a 0.0375 s segment at
    213 rad/s^2 while /diagnostics reported max_joint_acceleration 30. Each joint now keeps its limit
    (joint_max_acceleration for the elbow) along what the stand-in controllers command.
    """
    g, commander, robot = graph(urdf=robot_urdf(), max_joint_acceleration=30.0,
                                joint_max_acceleration=["arm_joint_4:10"])
    with g:
        joints = behaviour()[:5] + 0.05  # the first point 0.05 rad from where the arm is, due at once
        msg = messages.joint_trajectory(NAMES, joints, 0.1)
        for k, point in enumerate(msg.points):
            point.time_from_start = messages.seconds_to_duration(0.1 * k)
        g.trajectory.publish(msg)
        assert g.wait(lambda: (robot.received(ARM_TOPIC) and robot.received(GRIPPER_TOPIC)) or robot.rejected())
        assert not robot.rejected(), robot.rejected()
        limit = np.full(9, 30.0)
        limit[3] = 10.0
        peak = np.concatenate([commanded_acceleration(robot.controllers[t]) for t in (ARM_TOPIC, GRIPPER_TOPIC)])
        assert np.all(peak <= limit * (1 + 1e-4)), peak
        assert peak[3] >= 10.0 * 0.99, peak  # the elbow's limit times the first segment, no slower
        t = times_of(robot.received(ARM_TOPIC)[-1])
        assert 0.14 < t[0] < np.sqrt(6 * 0.05 / 10.0)  # 0.148 s: less than from rest to rest, the knot moves on
        assert g.wait(lambda: any("slowed to stay within the velocity and acceleration limits" in m
                                  for m in g.probe.logs("commander", Log.WARN)))


def test_joints_without_a_position_command_interface_are_named_once():
    """A robot whose ros2_control hardware takes only velocity (here: the fingers) follows a position trajectory
    only through a controller configured for that: the first trajectory says which joints, once.
    """
    interfaces = {name: ("velocity" if name in ROBOT[7:] else "position") for name in ROBOT}
    g, commander, robot = graph(urdf=robot_urdf(command_interfaces=interfaces))
    with g:
        for _ in range(2):
            send(g, robot, behaviour())

        def warnings() -> list[str]:
            return [m for m in g.probe.logs("commander", Log.WARN) if "no position command interface" in m]

        assert g.wait(lambda: warnings()), g.probe.logs("commander")
        assert len(robot.received(ARM_TOPIC)) == 2
        assert not g.wait(lambda: len(warnings()) > 1, timeout=0.5), warnings()
        assert warnings()[0].startswith("sending position trajectories to ['left_finger', 'finger_joint_right'], "
                                        "which the /robot_description <ros2_control> block gives no position "
                                        "command interface")


def test_a_clock_jump_sends_no_hold_point():
    """Simulated time restarting: the time since sending means nothing, so the controllers keep their trajectory."""
    g = Graph()
    clock = {"s": 100.0}
    clock_pub = g.publisher(Clock, "/clock")

    def tick() -> None:
        clock["s"] += 0.01
        clock_pub.publish(Clock(clock=messages.seconds_to_time(clock["s"])))

    g.probe.create_timer(0.01, tick)
    commander = g.add(CommanderNode, target="ros2_control", joint_name_map=[f"{m}:{r}" for m, r in MAP.items()],
                      use_sim_time=True)
    robot = StandInRobot(g.context, robot_urdf())
    for node in (robot, *robot.controllers.values()):
        g.nodes.append(node)
        g.executor.add_node(node)
    trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
    with g.start():
        g.wait_for_subscribers(trajectory)
        assert g.wait(lambda: commander.measured is not None and commander.get_clock().now().nanoseconds > 100e9)
        trajectory.publish(messages.joint_trajectory(NAMES, behaviour(), 0.1))
        assert g.wait(lambda: robot.received(ARM_TOPIC) and robot.received(GRIPPER_TOPIC))
        clock["s"] = 0.0  # the world restarts
        assert g.wait(lambda: any("clock jumped back" in m for m in g.probe.logs("commander", Log.ERROR)))
        assert g.wait(lambda: any("no hold point is known (the clock jumped)" in m
                                  for m in g.probe.logs("commander", Log.WARN)))
        assert not g.wait(lambda: len(robot.received(ARM_TOPIC)) > 1 or len(robot.received(GRIPPER_TOPIC)) > 1
                          or robot.rejected(), timeout=0.5)


def test_limits_come_from_the_robot_description():
    """A slower robot gets a slower trajectory; a tighter elbow limit clamps the elbow."""
    g, commander, robot = graph(urdf=robot_urdf(velocity_scale=0.1, elbow_upper=2.1))
    with g:
        joints = behaviour(amplitude=0.6)
        (arm_msg,) = send(g, robot, joints, topics=(ARM_TOPIC,))
        t = times_of(arm_msg)
        assert t[-1] > 2.0 * 1.2 and np.all(np.diff(t) > 0)  # stretched beyond the behaviour's 2 s
        q = np.array([list(p.positions) for p in arm_msg.points])
        assert q[:, 3].max() == pytest.approx(2.1) and joints[:, 3].max() > 2.1
        v = np.array([list(p.velocities) for p in arm_msg.points])
        spline = SplineTrajectory(np.concatenate([[0.0], t]), np.vstack([HOME[:7], q]), np.vstack([np.zeros(7), v]))
        speeds = np.abs(spline.sample(np.linspace(0, t[-1], 4001))[1])
        assert np.all(speeds <= arm.MAX_VELOCITY[:7] * 0.1 * (1 + 1e-5))
        assert g.wait(lambda: any("slowed to stay within the velocity and acceleration limits: 2.00 s ->" in m
                                  for m in g.probe.logs("commander", Log.WARN)))


def test_limits_from_parameters_and_a_disabled_gripper():
    """No description needed with joint_limits_*; without a gripper controller the fingers need no feedback."""
    lower, upper = list(arm.JOINT_LOWER), list(arm.JOINT_UPPER)
    g, commander, robot = graph(urdf=None, joints=ROBOT[:7], gripper_controller_topic="",
                                     joint_limits_lower=lower, joint_limits_upper=upper,
                                     joint_limits_velocity=[0.3] * 9)
    with g:
        (arm_msg,) = send(g, robot, behaviour(), topics=(ARM_TOPIC,))
        assert list(arm_msg.joint_names) == ROBOT[:7]
        t = times_of(arm_msg)
        assert t[-1] > 2.2  # slowed: 0.3 rad/s instead of the arm's 2.5
        q, v = (np.array([list(getattr(p, k)) for p in arm_msg.points]) for k in ("positions", "velocities"))
        spline = SplineTrajectory(np.concatenate([[0.0], t]), np.vstack([HOME[:7], q]), np.vstack([np.zeros(7), v]))
        assert np.abs(spline.sample(np.linspace(0, t[-1], 4001))[1]).max() <= 0.3 * (1 + 1e-5)
        assert not g.wait(lambda: robot.received(GRIPPER_TOPIC), timeout=0.5)
        assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) == 1, timeout=15.0)
        assert np.isfinite(g.probe.last(messages.TRACKING_ERROR).data)  # over the arm joints it has feedback for


def test_without_limits_trajectories_are_refused():
    g, commander, robot = graph(urdf=None)
    with g:
        g.trajectory.publish(messages.joint_trajectory(NAMES, behaviour(), 0.1))
        assert g.wait(lambda: any("refusing trajectory, nothing sent: no joint limits for the robot yet (waiting "
                                  "for /robot_description)" in m for m in g.probe.logs("commander", Log.ERROR)))
        # A description lacking a mapped joint is reported, and trajectories stay refused with its reason.
        robot.description.publish(String(data=build_urdf()))
        assert g.wait(lambda: any("ignoring /robot_description: robot description has no joint 'shoulder_pan'" in m
                                  for m in g.probe.logs("commander", Log.ERROR)))
        g.trajectory.publish(messages.joint_trajectory(NAMES, behaviour(), 0.1))
        assert g.wait(lambda: any("nothing sent: no joint limits for the robot yet (robot description has no joint "
                                  "'shoulder_pan'" in m for m in g.probe.logs("commander", Log.ERROR)))
        assert not robot.received(ARM_TOPIC) and not robot.received(GRIPPER_TOPIC)


@pytest.mark.parametrize("params, problem", [
    ({"joint_name_map": ["arm_joint_8:wrist"]}, "joint_name_map names unknown joint 'arm_joint_8'"),
    ({"joint_name_map": ["arm_joint_1"]}, "joint_name_map entry 'arm_joint_1': expected model_name:robot_name"),
    ({"gripper_joints": ["thumb"]}, "gripper_joints names unknown joint(s) ['thumb']"),
    ({"joint_limits_lower": [0.0] * 9}, "give all three, one value per model joint (9:"),
    ({"joint_limits_lower": [1.0] * 9, "joint_limits_upper": [0.0] * 9, "joint_limits_velocity": [1.0] * 9},
     "lower <= upper"),
    ({"joint_limits_velocity": [-1.0] * 9}, "parameter joint_limits_velocity = [-1, -1, -1, -1, -1, -1, -1, -1, ...]: "
                                            "expected a list of finite numbers, each > 0"),
    ({"trajectory_interface": "service"}, "parameter trajectory_interface = 'service': expected one of: topic, action"),
])
def test_bad_parameters_are_refused_in_one_line(params, problem):
    with Graph() as g:
        with pytest.raises(ValueError) as info:
            g.add(CommanderNode, target="ros2_control", **params)
    assert problem in str(info.value) and "\n" not in str(info.value), str(info.value)


@pytest.mark.skipif(FollowJointTrajectory is not None, reason="control_msgs imports here: the action is available")
def test_the_action_without_control_msgs_is_one_line():
    from latent_nodes.nodes.runner import EXIT_CANNOT_START

    proc = subprocess.run([sys.executable, "-m", "latent_nodes.nodes.commander_node", "--ros-args",
                           "-p", "target:=ros2_control", "-p", "trajectory_interface:=action"],
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    errors = [line for line in out.splitlines() if "ERROR" in line]
    assert proc.returncode == EXIT_CANNOT_START and "Traceback" not in out, out
    assert len(errors) == 1 and ("cannot start: trajectory_interface action needs control_msgs "
                                 "(FollowJointTrajectory), which does not import here") in errors[0], out


def test_a_parameter_file_may_give_the_string_lists(tmp_path):
    """joint_name_map is an empty list by default: declared as a string array, so a file's strings are taken."""
    from latent_nodes.nodes.parameters import check_parameters_file
    from latent_nodes.nodes.runner import EXIT_CANNOT_START

    path = tmp_path / "commander.yaml"
    path.write_text("commander:\n  ros__parameters:\n    target: ros2_control\n"
                    "    joint_name_map: ['arm_joint_1:shoulder_pan']\n    gripper_controller_topic: ''\n")
    assert check_parameters_file(path, "commander")["joint_name_map"] == ["arm_joint_1:shoulder_pan"]
    path.write_text(path.read_text().replace("['arm_joint_1:shoulder_pan']", "['arm_joint_1:a', 'arm_joint_1:b']"))
    proc = subprocess.run([sys.executable, "-m", "latent_nodes.nodes.commander_node", "--ros-args", "--params-file",
                           str(path)], capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    errors = [line for line in out.splitlines() if "ERROR" in line]
    assert proc.returncode == EXIT_CANNOT_START and "Traceback" not in out, out
    assert len(errors) == 1 and "cannot start: joint_name_map maps 'arm_joint_1' twice" in errors[0], out


def test_a_stamped_trajectory_is_spliced_from_the_arm_without_the_joints_never_sent():
    """The online inference node's updates carry their behaviour's start as the stamp; the fingers here have
    neither a controller nor feedback. The commander splices the arm's joints in at the current phase from
    where the arm is and sends them due on receipt (zero stamp); the fingers, never sent, take no part.
    """
    lower, upper = list(arm.JOINT_LOWER), list(arm.JOINT_UPPER)
    g, commander, robot = graph(urdf=None, joints=ROBOT[:7], gripper_controller_topic="",
                                joint_limits_lower=lower, joint_limits_upper=upper,
                                joint_limits_velocity=list(arm.MAX_VELOCITY))
    with g:
        assert np.isnan(commander.measured[7:]).all()  # no finger feedback: the start row NaN, as reported
        joints = behaviour(n_points=40, amplitude=0.2)  # 4 s behaviour
        msg = messages.joint_trajectory(NAMES, joints, 0.1)
        elapsed = 1.0  # the behaviour started a second ago (as the node's clock sees it)
        msg.header.stamp = (commander.get_clock().now() - Duration(seconds=elapsed)).to_msg()
        g.trajectory.publish(msg)
        assert g.wait(lambda: robot.received(ARM_TOPIC) or robot.rejected()), \
            f"nothing reached the arm controller; commander said: {g.probe.logs('commander')}"
        assert not robot.rejected(), robot.rejected()
        arm_msg = robot.received(ARM_TOPIC)[-1]
        assert arm_msg.header.stamp.sec == 0 and arm_msg.header.stamp.nanosec == 0  # due on receipt
        t = times_of(arm_msg)
        q = np.array([list(p.positions) for p in arm_msg.points])
        # The behaviour's later points at their own spacing, the last one 3 s after now (less the delivery)
        # plus what the blend from the arm was stretched by to stay within 30 rad/s^2 (0.12 rad in the 0.08 s
        # its phase left would be 110 rad/s^2; from rest it takes 0.12-0.16 s): 3.05 s measured.
        np.testing.assert_allclose(q[-1], joints[-1, :7], atol=1e-12)
        np.testing.assert_allclose(np.diff(t), 0.1, atol=1e-6)
        assert 2.95 < t[-1] <= 3.0 + 0.08
        v = np.array([list(p.velocities) for p in arm_msg.points])
        spline = SplineTrajectory(np.concatenate([[0.0], t]), np.vstack([HOME[:7], q]), np.vstack([np.zeros(7), v]))
        assert sampled_acceleration(spline).max() <= 30.0 * (1 + 1e-4)
        # Its points are the behaviour's own from the first one reachable on time (point 10, at 1.1 s, is
        # 0.12 rad at most from home: 0.058 s at the velocity limit, reachable unless delivery takes 40 ms) to the end.
        first = int(np.argmin(np.abs(joints[:, :7] - q[0]).max(axis=1)))
        np.testing.assert_allclose(q, joints[first:, :7], atol=1e-12)
        assert 10 <= first <= 11
        # Executed and reported as such, not killed by the splice.
        assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) == 1, timeout=15.0)
        np.testing.assert_allclose(robot.positions()[:7], joints[-1, :7], atol=1e-12)
