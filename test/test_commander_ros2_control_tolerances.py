"""The commander's path and goal tolerances over ros2_control's topic interface, over real DDS.

A joint_trajectory_controller given a trajectory on its topic holds on a path violation with only a log
line (ros2_controllers joint_trajectory_controller.cpp @0f8eb14 L548-551), and nothing comes back to the
sender: the commander must watch ``/joint_states`` against the trajectory it sent itself, or it counts a
trajectory the arm never followed as executed. Here the stand-in controllers (``trajectory_controller_stand_in.py``)
execute the trajectory while the arm, as ``/joint_states`` reports it, stops partway or ends off the goal.
"""

from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from rcl_interfaces.msg import Log
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from ros_harness import Graph
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from trajectory_controller_stand_in import ControllerRules, StandInTrajectoryController
from trajectory_msgs.msg import JointTrajectory

from latent_nodes.nodes import messages
from latent_nodes.nodes.commander_node import CommanderNode
from latent_nodes.sim import arm
from latent_nodes.sim.urdf import build_urdf

NAMES = list(arm.JOINT_NAMES)
HOME = np.asarray(arm.HOME, dtype=np.float64)
ARM_TOPIC, GRIPPER_TOPIC = "/arm_controller/joint_trajectory", "/gripper_controller/joint_trajectory"


class BlockedArm(Node):
    """Two stand-in controllers that execute what they get; ``/joint_states`` reports an arm that does not follow.

    ``stop_after`` (rad): once any joint has moved that far from HOME the reported arm stops there (blocked,
    or a controller that held on its own path check). ``offset`` (rad, per joint) is added to every report
    (an arm that settles off its goal).
    """

    def __init__(self, context, stop_after: float = np.inf, offset: np.ndarray | None = None) -> None:
        super().__init__("blocked_arm", context=context)
        self.controllers = {ARM_TOPIC: StandInTrajectoryController(context, "arm_controller",
                                                                   ControllerRules(tuple(NAMES[:7])), HOME[:7]),
                            GRIPPER_TOPIC: StandInTrajectoryController(context, "gripper_controller",
                                                                       ControllerRules(tuple(NAMES[7:])), HOME[7:])}
        self.stop_after = stop_after
        self.offset = np.zeros(len(NAMES)) if offset is None else offset
        self.stopped_at: np.ndarray | None = None
        self.states = self.create_publisher(JointState, messages.JOINT_STATES, 10)
        self.create_publisher(String, messages.ROBOT_DESCRIPTION,
                              QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
                              ).publish(String(data=build_urdf()))
        self.create_timer(0.01, self.tick)

    def commanded(self) -> np.ndarray:
        return np.concatenate([c.state()[0] for c in self.controllers.values()])

    def received(self, topic: str) -> list[JointTrajectory]:
        return self.controllers[topic].accepted

    def rejected(self) -> list[str]:
        return [reason for c in self.controllers.values() for _, reason in c.rejected]

    def tick(self) -> None:
        q = self.commanded()
        if self.stopped_at is None and np.abs(q - HOME).max() >= self.stop_after:
            self.stopped_at = q
        reported = (q if self.stopped_at is None else self.stopped_at) + self.offset
        self.states.publish(messages.joint_state(NAMES, reported))


def behaviour(amplitude: float, n_points: int = 20) -> np.ndarray:
    """[n_points, 9] an excursion from HOME and back over 1.9 s (fingers move a fifth as far)."""
    s = np.sin(np.linspace(0.0, np.pi, n_points))[:, None]
    return HOME + amplitude * s * np.linspace(0.2, 1.0, len(NAMES))[None, :] * np.array([1] * 7 + [0.2, 0.2])


def run(robot_kwargs: dict, joints: np.ndarray):
    g = Graph()
    commander = g.add(CommanderNode, target="ros2_control")
    robot = BlockedArm(g.context, **robot_kwargs)
    for node in (robot, *robot.controllers.values()):
        g.nodes.append(node)
        g.executor.add_node(node)
    trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
    g.start()
    g.wait_for_subscribers(trajectory)
    assert g.wait(lambda: commander.measured is not None and commander.output.limits is not None, timeout=10.0)
    trajectory.publish(messages.joint_trajectory(NAMES, joints, 0.1))
    assert g.wait(lambda: robot.received(ARM_TOPIC) or robot.rejected(), timeout=10.0)
    assert not robot.rejected(), robot.rejected()
    return g, commander, robot


def diagnostics(g: Graph) -> DiagnosticStatus | None:
    msg = g.probe.last(messages.DIAGNOSTICS)
    return None if msg is None else msg.status[0]


def test_an_arm_that_stops_partway_is_stopped_held_and_not_counted_executed():
    g, commander, robot = run({"stop_after": 0.1}, behaviour(amplitude=1.0))
    with g:
        assert g.wait(lambda: any("path tolerance violated" in m for m in g.probe.logs("commander", Log.ERROR)),
                      timeout=10.0), g.probe.logs("commander")
        assert commander.active is None and commander.health.counter("executed") == 0
        assert commander.health.counter("stopped_path_tolerance") == 1
        # Both controllers told to hold where the arm is (one point, at rest, due at once), not where the plan is.
        assert g.wait(lambda: all(len(robot.received(t)) == 2 for t in (ARM_TOPIC, GRIPPER_TOPIC)))
        assert not robot.rejected(), robot.rejected()
        hold = np.concatenate([robot.received(t)[-1].points[0].positions for t in (ARM_TOPIC, GRIPPER_TOPIC)])
        assert all(len(robot.received(t)[-1].points) == 1 for t in (ARM_TOPIC, GRIPPER_TOPIC))
        np.testing.assert_allclose(hold, robot.stopped_at, atol=1e-9)
        assert g.wait(lambda: diagnostics(g) is not None and diagnostics(g).level == DiagnosticStatus.ERROR)
        assert "path tolerance violated" in diagnostics(g).message
        # The trajectory's time runs out with the commander idle: it is never counted executed afterwards.
        assert not g.wait(lambda: commander.health.counter("executed") > 0, timeout=2.5)
        assert not any("trajectory done" in m for m in g.probe.logs("commander"))


def test_an_arm_that_ends_off_its_goal_is_an_error_not_executed():
    offset = np.zeros(len(NAMES))
    offset[3] = 0.1  # within the path tolerance (0.3 rad), outside the goal tolerance (0.05 rad)
    g, commander, robot = run({"offset": offset}, behaviour(amplitude=0.3))
    with g:
        assert g.wait(lambda: any("ended off its goal" in m for m in g.probe.logs("commander", Log.ERROR)),
                      timeout=10.0), g.probe.logs("commander")
        line = next(m for m in g.probe.logs("commander", Log.ERROR) if "ended off its goal" in m)
        assert f"joint {NAMES[3]} is 0.1000 rad off" in line
        assert commander.health.counter("executed") == 0 and commander.health.counter("goal_tolerance_violated") == 1
        assert g.wait(lambda: diagnostics(g) is not None and diagnostics(g).level == DiagnosticStatus.ERROR)
        assert "goal tolerance violated" in diagnostics(g).message


def test_an_arm_that_follows_is_counted_executed():
    g, commander, robot = run({}, behaviour(amplitude=1.0))
    with g:
        assert g.wait(lambda: commander.health.counter("executed") == 1, timeout=10.0), g.probe.logs("commander")
        assert not g.probe.logs("commander", Log.ERROR)
        assert len(robot.received(ARM_TOPIC)) == 1
