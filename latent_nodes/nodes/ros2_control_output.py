"""The commander's ros2_control side (``target: ros2_control``): whole trajectories to the arm's controllers.

A ros2_control arm is driven by a joint_trajectory_controller, which takes the whole behaviour at once
and interpolates it itself. The commander checks a trajectory exactly as for the other targets
(``latent_nodes.robot.safety``: the model's joint names, finite values, increasing times, clamped to the
limits); this module then times it within the velocity and acceleration limits with spline velocities
(``latent_nodes.robot.joint_trajectory``: from where the arm is, segments stretched as the limits ask),
renames the joints for the robot (``joint_name_map``) and sends the arm's joints to
``arm_controller_topic`` and ``gripper_joints`` to ``gripper_controller_topic`` (nothing if that is
empty), each as a JointTrajectory with a zero stamp ("start now"). A stamped trajectory (timed from its
behaviour's start: the online inference node's updates) is spliced in at its current phase from where
the arm is (``Ros2ControlOutput.splice``) and sent with a zero stamp too. With ``trajectory_interface:
action`` the arm's part goes to the controller's FollowJointTrajectory action instead, and the commander
counts the trajectory by the goal's fate (``Ros2ControlOutput.outcome``, the rules in
``latent_nodes.robot.controller_outcome``): executed only when the goal succeeded; rejected, aborted (the
result's error_code and error_string logged) or unanswered (no answer, or no result, within
``action_timeout_s``) otherwise. Over the topic nothing comes back, so a trajectory counts as executed
when its time is up. The action needs ``control_msgs`` (a system ROS 2 install, or the build ``./run``
installs from ``LATENT_NODES_INTERFACES``); without it the commander cannot start, saying so in one line.
This module is the ROS side only: what it computes lives in ``latent_nodes.robot``.

Limits come from ``joint_limits_*`` parameters when given, else from ``/robot_description`` (transient
local, the URDF that robot_state_publisher or the sim node publishes): until it arrives, trajectories are
refused. Acceleration limits are the commander's (``max_joint_acceleration``, per joint
``joint_max_acceleration``; a URDF has none), read from its settings here as well, so a trajectory is
never sent faster than ``/diagnostics`` says. When the description's ``<ros2_control>`` block gives a
joint that is sent no position command interface, the first trajectory sending it says so, once.
Feedback is ``/joint_states`` under the robot's names (a joint_state_broadcaster).

Stopping: a joint_trajectory_controller rejects an empty trajectory ("Empty trajectory received.",
ros2_controllers joint_trajectory_controller.cpp, kilted L1690-1695), so over the topic a stop is a
one-point trajectory at rest, due at once, at the position the sent trajectory commands at that moment:
the controller holds there, the analogue of the streaming targets stopping where they are, and it needs
no feedback (stale ``/joint_states`` is one reason to stop). An action goal is cancelled instead, on
which the controller holds the position it measures (L1419-1447).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from latent_nodes.config import NodesConfig
from latent_nodes.nodes import messages
from latent_nodes.robot.controller_outcome import (  # noqa: F401 - re-exported: the commander's vocabulary
    ABORTED,
    ACTION_RESULTS,
    EXECUTED,
    REJECTED,
    UNANSWERED,
    Goal,
    Outcome,
    describe_result,
    goal_outcome,
    result_kind,
    topic_outcome,
)
from latent_nodes.robot.joint_trajectory import (
    ControllerTrajectory,
    JointNameMap,
    SplineTrajectory,
    for_controller,
    splice_sent_joints,
    split_joints,
    time_for_controller,
    without_position_interface,
)
from latent_nodes.robot.robot_description import RobotDescription, RobotDescriptionError
from latent_nodes.robot.safety import CheckedTrajectory, JointLimits, UnsafeTrajectory
from latent_nodes.robot.tolerances import joint_values, parse_joint_values

try:  # a system ROS 2 install has control_msgs; the PyPI wheels do not
    from control_msgs.action import FollowJointTrajectory
except ImportError:
    FollowJointTrajectory = None

# The commander's parameters (NodesConfig fields) that only this target reads.
ROS2_CONTROL_PARAMETERS = ("arm_controller_topic", "model_joints", "gripper_controller_topic", "gripper_joints",
                           "joint_name_map", "joint_limits_lower", "joint_limits_upper", "joint_limits_velocity",
                           "trajectory_interface", "arm_controller_action", "action_timeout_s")
DESCRIPTION_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)


@dataclass
class SentTrajectory(CheckedTrajectory):
    """A trajectory as the controllers follow it, the reference for the commander's tracking error.

    The joints sent follow the cubic spline through the sent points, as a joint_trajectory_controller
    interpolates them (trajectory.cpp, kilted L334-364); joints never sent keep the checked points,
    linear between them (only their feedback, if any, is compared with them).
    """

    spline: SplineTrajectory | None = None
    columns: list[int] = field(default_factory=list)  # model joints of the spline's columns

    def sample(self, t: float) -> np.ndarray:
        q = super().sample(t)
        q[self.columns] = self.spline.sample(t)[0][0]
        return q


def hold_message(joint_names: list[str], positions: np.ndarray) -> JointTrajectory:
    """One point at ``positions``, at rest and due at once: the controller commands it and holds it.

    The controller's own hold is the same message (set_hold_position, joint_trajectory_controller.cpp,
    kilted L1836-1845 and L2058-2081: one point due at once, zero velocities); an empty trajectory would be
    rejected (L1690-1695). A first point at time 0 is accepted (times are compared from the second
    point on, L1750-1760) and commanded from the controller's next cycle on (trajectory.cpp L143-148,
    L208-253).
    """
    msg = JointTrajectory()
    msg.joint_names = list(joint_names)
    msg.points.append(JointTrajectoryPoint(positions=[float(x) for x in positions],
                                           velocities=[0.0] * len(joint_names),
                                           time_from_start=messages.seconds_to_duration(0.0)))
    return msg


def controller_message(part: ControllerTrajectory) -> JointTrajectory:
    """A JointTrajectory with positions and velocities per point; the zero stamp means "start on receipt"."""
    msg = JointTrajectory()
    msg.joint_names = list(part.joint_names)
    for t, q, v in zip(part.times, part.positions, part.velocities):
        msg.points.append(JointTrajectoryPoint(positions=q.tolist(), velocities=v.tolist(),
                                               time_from_start=messages.seconds_to_duration(float(t))))
    return msg


class Ros2ControlOutput:
    """Sends checked trajectories to ros2_control controllers for a commander node."""

    def __init__(self, node: Node, settings: NodesConfig, model_limits: JointLimits) -> None:
        """Raises ValueError (the node's one ``cannot start`` line) for inconsistent parameters."""
        self.node = node
        self.model_limits = model_limits
        names = list(model_limits.names)
        self.names = JointNameMap.parse(names, settings.joint_name_map)
        gripper_joints = list(settings.gripper_joints)
        if gripper_joints == NodesConfig().gripper_joints and not set(gripper_joints) <= set(names):
            gripper_joints = []  # the default names the embedded arm's fingers; another robot's model lacks them
        arm, gripper = split_joints(names, gripper_joints)
        self.arm_columns = arm
        self.gripper_columns = gripper if settings.gripper_controller_topic else []
        self.sent = sorted(self.arm_columns + self.gripper_columns)  # model joints that reach a controller
        self.robot_names = list(self.names.robot_names)
        self.settings = settings  # the acceleration limits are read from it at each send (they are dynamic)
        # Per-joint acceleration limits by model joint, as the commander reads them; a malformed entry is
        # the commander's start-up error already, and is the same one here.
        self.acceleration_overrides = parse_joint_values(settings.joint_max_acceleration, "joint_max_acceleration",
                                                         positive=True)
        self.position_commanded: tuple[str, ...] = ()  # the description's joints with a position command interface
        self.reported_without_position: set[str] = set()  # warned once each
        self.limits: JointLimits | None = None
        self.limits_problem = "waiting for /robot_description"

        self.arm_pub = node.create_publisher(JointTrajectory, settings.arm_controller_topic, 10)
        self.gripper_pub = (node.create_publisher(JointTrajectory, settings.gripper_controller_topic, 10)
                            if self.gripper_columns else None)
        self.action = None
        self.goal: Goal | None = None  # the goal of the trajectory the commander runs now
        self.goal_sequence = 0  # numbers the goals sent
        self.action_timeout_s = settings.action_timeout_s
        self.last_outcome: Outcome | None = None
        self.running: tuple[SplineTrajectory, object] | None = None  # the spline sent, and when (node clock)
        if settings.trajectory_interface == "action":
            if FollowJointTrajectory is None:
                raise ValueError("trajectory_interface action needs control_msgs (FollowJointTrajectory), which "
                                 "does not import here (a system ROS 2 install has it); use trajectory_interface "
                                 "topic")
            from rclpy.action import ActionClient

            self.action = ActionClient(node, FollowJointTrajectory, settings.arm_controller_action)
            self.action_name = settings.arm_controller_action

        given = [settings.joint_limits_lower, settings.joint_limits_upper, settings.joint_limits_velocity]
        if any(given):
            if any(len(values) != len(names) for values in given):
                raise ValueError(f"joint_limits_lower, joint_limits_upper and joint_limits_velocity: give all three, "
                                 f"one value per model joint ({len(names)}: {names}), or none to read "
                                 f"{messages.ROBOT_DESCRIPTION}")
            self.limits = JointLimits(tuple(names), *given)
            source = "parameters"
        else:
            node.create_subscription(String, messages.ROBOT_DESCRIPTION, self.on_description, DESCRIPTION_QOS)
            source = messages.ROBOT_DESCRIPTION
        gripper_text = (f"{[self.robot_names[i] for i in self.gripper_columns]} on {settings.gripper_controller_topic}"
                        if self.gripper_columns else "no gripper controller")
        arm_target = (f"action {settings.arm_controller_action}" if self.action is not None
                      else settings.arm_controller_topic)
        node.get_logger().info(f"sending to ros2_control: {[self.robot_names[i] for i in self.arm_columns]} on "
                               f"{arm_target}, {gripper_text}; joint limits from {source}")

    # --- inputs ----------------------------------------------------------------------------------------

    def on_description(self, msg: String) -> None:
        """Limits of the joints sent, from the robot description; the others keep the model's."""
        robot = [self.robot_names[i] for i in self.sent]
        try:
            description = RobotDescription.from_urdf(msg.data)
            read = description.limits(robot)
        except RobotDescriptionError as exc:
            self.limits, self.limits_problem = None, str(exc)
            self.node.get_logger().error(f"ignoring {messages.ROBOT_DESCRIPTION}: {exc}")
            return
        lower, upper = self.model_limits.lower.copy(), self.model_limits.upper.copy()
        velocity = self.model_limits.max_velocity.copy()
        lower[self.sent], upper[self.sent], velocity[self.sent] = read.lower, read.upper, read.max_velocity
        self.limits = JointLimits(self.model_limits.names, lower, upper, velocity)
        self.position_commanded, self.reported_without_position = description.position_commanded, set()
        self.node.get_logger().info(f"joint limits from {messages.ROBOT_DESCRIPTION} for {robot}")

    def current_limits(self) -> JointLimits:
        """The limits trajectories are checked against; UnsafeTrajectory while there are none."""
        if self.limits is None:
            raise UnsafeTrajectory(f"no joint limits for the robot yet ({self.limits_problem})")
        return self.limits

    def positions(self, msg: JointState) -> np.ndarray:
        """[J] model-order positions from the robot's /joint_states; NaN for joints never sent.

        ValueError if a joint that is sent is missing or not finite (the feedback is then not fresh).
        """
        q = np.full(len(self.robot_names), np.nan)
        sent_names = [self.robot_names[i] for i in self.sent]
        q[self.sent] = messages.joint_positions(msg, sent_names)
        index = {name: i for i, name in enumerate(msg.name)}
        for i in set(range(len(q))) - set(self.sent):
            k = index.get(self.robot_names[i])
            if k is not None and k < len(msg.position):
                q[i] = msg.position[k]
        return q

    # --- output ----------------------------------------------------------------------------------------

    def splice(self, trajectory: CheckedTrajectory, elapsed: float, measured: np.ndarray,
               max_velocity: np.ndarray) -> CheckedTrajectory:
        """A stamped trajectory (timed from its behaviour's start, ``elapsed`` s ago) continued from the arm.

        Spliced here and sent due on receipt (zero stamp), not forwarded with its stamp: a
        joint_trajectory_controller given a stamp in the past samples the segment that contains "now"
        between the message's own points (trajectory.cpp, kilted L173-205); the arm's state enters only
        before the first point (L148-170, set from the measured state on the first sample,
        joint_trajectory_controller.cpp L300-318), so an updated plan the arm is not on would be a step
        in the commanded position, and the stamp would be read on the controller's clock, which need not
        be the behaviour's. The splice instead blends from where the arm is within the velocity limits
        (``latent_nodes.robot.joint_trajectory.splice_sent_joints``: the joints sent only), and the timing
        within the limits then applies as for any trajectory.
        """
        return splice_sent_joints(trajectory, elapsed, measured, max_velocity, self.sent)

    def acceleration_limits(self, limits: JointLimits) -> JointLimits:
        """``limits`` with the commander's acceleration limits (``max_joint_acceleration``, per joint
        ``joint_max_acceleration``) applied, as on the streamed targets: the same figures ``/diagnostics``
        reports, whatever ``limits`` already carries.
        """
        per_joint, _ = joint_values(self.acceleration_overrides, list(limits.names), np.inf)
        return limits.with_acceleration_cap(np.minimum(per_joint, self.settings.max_joint_acceleration))

    def send(self, trajectory: CheckedTrajectory, measured: np.ndarray, limits: JointLimits) -> CheckedTrajectory:
        """Time ``trajectory`` from ``measured`` within ``limits`` and the acceleration limits, send it; returns
        it as sent (for tracking).

        The returned trajectory has the sent knots' times (stretched where the limits asked for it) and
        starts at t = 0 where the arm was (``latent_nodes.robot.joint_trajectory.time_for_controller``).
        """
        spline, q, planned = time_for_controller(trajectory, measured, self.sent, self.acceleration_limits(limits))
        self.report_without_position([self.robot_names[i] for i in self.sent])
        column = {model: k for k, model in enumerate(self.sent)}  # model joint -> column of the spline
        arm = for_controller(spline, [self.robot_names[i] for i in self.arm_columns],
                             [column[i] for i in self.arm_columns])
        if self.action is not None:
            self.send_goal(controller_message(arm))
        else:
            self.arm_pub.publish(controller_message(arm))
        if self.gripper_pub is not None:
            gripper = for_controller(spline, [self.robot_names[i] for i in self.gripper_columns],
                                     [column[i] for i in self.gripper_columns])
            self.gripper_pub.publish(controller_message(gripper))
        self.running = (spline, self.node.get_clock().now())
        if spline.duration > planned * (1 + 1e-9):
            self.node.get_logger().warning(f"trajectory slowed to stay within the velocity and acceleration "
                                           f"limits: {planned:.2f} s -> {spline.duration:.2f} s")
        return SentTrajectory(spline.times, q, trajectory.clamped, spline, list(self.sent))

    def report_without_position(self, joints: list[str]) -> None:
        """Warn once, naming them, about sent joints the description gives no position command interface."""
        missing = [name for name in without_position_interface(joints, self.position_commanded)
                   if name not in self.reported_without_position]
        if missing:
            self.reported_without_position.update(missing)
            self.node.get_logger().warning(
                f"sending position trajectories to {missing}, which the {messages.ROBOT_DESCRIPTION} "
                f"<ros2_control> block gives no position command interface: hardware that takes only "
                f"velocity or effort commands follows them only through a controller configured for those")

    def stop(self, hold: bool = True) -> None:
        """Stop the controllers: each holds where the sent trajectory has got to (``hold_message``), and
        an action goal is cancelled (the controller then holds where it measures its arm).

        ``hold=False`` (the clock jumped: the time since sending means nothing) sends no hold point; the
        topic controllers then finish the trajectory they have, which was checked and timed within the
        limits, and the commander says so.
        """
        running, self.running = self.running, None
        goal, self.goal = self.goal, None  # a goal not yet accepted is cancelled when it is (on_goal_response)
        if goal is not None and goal.running:
            goal.handle.cancel_goal_async()
        topics = [(self.gripper_pub, self.gripper_columns)]
        if self.action is None:
            topics.insert(0, (self.arm_pub, self.arm_columns))
        if not hold or running is None:
            if any(pub is not None for pub, _ in topics) and running is not None:
                self.node.get_logger().warning("no hold point is known (the clock jumped): the controllers "
                                               "finish the trajectory they were sent")
            return
        spline, sent_at = running
        elapsed = (self.node.get_clock().now() - sent_at).nanoseconds * 1e-9
        now = spline.sample(elapsed)[0][0]  # columns of self.sent
        column = {model: k for k, model in enumerate(self.sent)}
        for pub, columns in topics:
            if pub is not None:
                pub.publish(hold_message([self.robot_names[i] for i in columns], now[[column[i] for i in columns]]))

    # --- FollowJointTrajectory (where control_msgs imports) -------------------------------------------

    def outcome(self, overdue_s: float) -> Outcome | None:
        """How the trajectory sent last has ended, or None while that is not known yet (``read_outcome``).

        The last one is kept in ``last_outcome`` for ``/diagnostics``.
        """
        outcome = self.read_outcome(overdue_s)
        if outcome is not None:
            self.last_outcome = outcome
        return outcome

    def read_outcome(self, overdue_s: float) -> Outcome | None:
        """How the trajectory sent last has ended, or None while that is not known yet
        (``latent_nodes.robot.controller_outcome``: ``topic_outcome``, ``goal_outcome``).

        ``overdue_s`` is the commander's time past the trajectory's end and ``settle_s`` (negative before).
        A goal that has an outcome is forgotten; one still running is cancelled (one not yet answered is
        cancelled when its answer comes, ``on_goal_response``).
        """
        if self.action is None:
            return topic_outcome(overdue_s)
        goal = self.goal
        if goal is None:  # nothing sent since the last outcome or stop
            return None
        outcome = goal_outcome(goal, time.monotonic() - goal.sent_at, overdue_s, self.action_timeout_s,
                               self.action_name, self.action.server_is_ready)
        if outcome is not None:
            self.goal = None
            if goal.running:
                goal.handle.cancel_goal_async()
        return outcome

    def send_goal(self, msg: JointTrajectory) -> None:
        """Send ``msg`` as the goal; what becomes of it is read by ``outcome``.

        It is sent even while no server is known yet (discovery may lag); a goal nobody answers counts as
        unanswered after ``action_timeout_s``. The goal's tolerances are left empty: the controller's own
        (FollowJointTrajectory.action L6-30).
        """
        if not self.action.server_is_ready():
            self.node.get_logger().warning(f"no FollowJointTrajectory server is known on {self.action_name}; "
                                           f"sending the goal, unanswered if none answers within "
                                           f"{self.action_timeout_s:g} s")
        request = FollowJointTrajectory.Goal()
        request.trajectory = msg
        self.goal_sequence += 1
        goal = Goal(self.goal_sequence, time.monotonic())
        self.goal = goal
        self.action.send_goal_async(request, feedback_callback=lambda feedback: self.on_feedback(feedback, goal)
                                    ).add_done_callback(lambda future: self.on_goal_response(future, goal))

    def on_goal_response(self, future, goal: Goal) -> None:
        handle = future.result()
        goal.answered, goal.accepted = True, bool(handle.accepted)
        if not handle.accepted:
            if goal is not self.goal:
                self.node.get_logger().info(f"arm controller: an earlier goal was rejected (goal {goal.sequence})")
            return
        goal.handle = handle
        if goal is not self.goal:  # stopped, replaced or given up while the goal was on its way
            handle.cancel_goal_async()
            return
        handle.get_result_async().add_done_callback(lambda result: self.on_result(result, goal))

    def on_feedback(self, feedback, goal: Goal) -> None:
        error = np.asarray(feedback.feedback.error.positions, dtype=np.float64)
        if error.size:
            goal.tracking_error = float(np.sqrt(np.mean(error**2)))

    def on_result(self, future, goal: Goal) -> None:
        response = future.result()
        goal.result = (response.status, response.result.error_code, response.result.error_string)
        if goal is not self.goal:  # replaced or stopped: the commander counts nothing for it
            self.node.get_logger().info(f"{describe_result(*goal.result, goal.tracking_error)} "
                                        f"(goal {goal.sequence}, no longer the running one)")
