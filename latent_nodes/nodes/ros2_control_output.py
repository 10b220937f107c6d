"""The commander's ros2_control side (``target: ros2_control``): whole trajectories to the arm's controllers.

A ros2_control arm is driven by a joint_trajectory_controller, which takes the whole behaviour at once
and interpolates it itself. The commander checks a trajectory exactly as for the other targets
(``latent_nodes.robot.safety``: the model's joint names, finite values, increasing times, clamped to the
limits); this module then times it within the velocity limits with spline velocities
(``latent_nodes.robot.joint_trajectory``), renames the joints for the robot (``joint_name_map``) and sends
the arm's joints to ``arm_controller_topic`` and ``gripper_joints`` to ``gripper_controller_topic``
(nothing if that is empty), each as a JointTrajectory with a zero stamp ("start now"). A stamped
trajectory (timed from its behaviour's start: the online inference node's updates) is spliced in at its
current phase from where the arm is (``Ros2ControlOutput.splice``) and sent with a zero stamp too. With
``trajectory_interface: action`` the arm's part goes to the controller's FollowJointTrajectory action
instead, and the commander counts the trajectory by the goal's fate (``Ros2ControlOutput.outcome``):
executed only when the goal succeeded; rejected, aborted (the result's error_code and error_string
logged) or unanswered (no answer, or no result, within ``action_timeout_s``) otherwise. Over the topic
nothing comes back, so a trajectory counts as executed when its time is up. The action needs
``control_msgs`` (a system ROS 2 install, or the build ``./run`` installs from
``LATENT_NODES_INTERFACES``); without it the commander cannot start, saying so in one line.

Limits come from ``joint_limits_*`` parameters when given, else from ``/robot_description`` (transient
local, the URDF that robot_state_publisher or the sim node publishes): until it arrives, trajectories are
refused. Feedback is ``/joint_states`` under the robot's names (a joint_state_broadcaster).

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
from action_msgs.msg import GoalStatus
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from latent_nodes.config import NodesConfig
from latent_nodes.nodes import messages
from latent_nodes.robot.joint_trajectory import (
    ControllerTrajectory,
    JointNameMap,
    SplineTrajectory,
    for_controller,
    spline_trajectory,
    split_joints,
)
from latent_nodes.robot.robot_description import RobotDescription, RobotDescriptionError
from latent_nodes.robot.safety import CheckedTrajectory, JointLimits, UnsafeTrajectory
from latent_nodes.robot.splice import splice

try:  # a system ROS 2 install has control_msgs; the PyPI wheels do not
    from control_msgs.action import FollowJointTrajectory
except ImportError:
    FollowJointTrajectory = None

# The commander's parameters (NodesConfig fields) that only this target reads.
ROS2_CONTROL_PARAMETERS = ("arm_controller_topic", "model_joints", "gripper_controller_topic", "gripper_joints",
                           "joint_name_map", "joint_limits_lower", "joint_limits_upper", "joint_limits_velocity",
                           "trajectory_interface", "arm_controller_action", "action_timeout_s")
# When a trajectory's first point is due at once (time 0) but the arm is elsewhere, it is moved this far
# out first; the timing within the velocity limits then stretches it as far as the move needs.
FIRST_POINT_S = 1e-3
DESCRIPTION_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
# control_msgs/action/FollowJointTrajectory.action, result codes (6.8.0, L33-39).
ACTION_RESULTS = {0: "SUCCESSFUL", -1: "INVALID_GOAL", -2: "INVALID_JOINTS", -3: "OLD_HEADER_TIMESTAMP",
                  -4: "PATH_TOLERANCE_VIOLATED", -5: "GOAL_TOLERANCE_VIOLATED"}
# How a sent trajectory ends, as the commander counts it (``Outcome.kind``).
EXECUTED, REJECTED, ABORTED, UNANSWERED = "executed", "rejected", "aborted", "unanswered"


@dataclass(frozen=True)
class Outcome:
    """How the trajectory sent last ended: ``kind`` is EXECUTED, REJECTED, ABORTED or UNANSWERED; ``line`` says why."""

    kind: str
    line: str = ""

    @property
    def executed(self) -> bool:
        return self.kind == EXECUTED


@dataclass
class Goal:
    """One FollowJointTrajectory goal as sent, and what its server has said of it so far."""

    sequence: int
    sent_at: float  # time.monotonic(): the answer's timeout is about messages, not the node's clock
    handle: object | None = None  # rclpy's ClientGoalHandle, once accepted
    answered: bool = False  # accepted or rejected
    accepted: bool = False
    result: tuple[int, int, str] | None = None  # (GoalStatus, error_code, error_string)
    tracking_error: float = float("nan")  # RMS of the controller's feedback error, the last feedback


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


def result_kind(status: int, error_code: int) -> str:
    """EXECUTED for a goal that succeeded with SUCCESSFUL, else ABORTED: the trajectory was not completed.

    A joint_trajectory_controller ends a goal it ran as succeeded with SUCCESSFUL (joint_trajectory_controller.cpp,
    kilted L500-512) or aborted with PATH_TOLERANCE_VIOLATED (L473-496) or GOAL_TOLERANCE_VIOLATED (L517-535);
    another goal on the same action preempts it, aborted with INVALID_GOAL (``preempt_active_goal``
    L1820-1833), as does the controller's deactivation (L1253-1264), and a cancel from another client ends
    it cancelled (L1419-1449). None of these completed the trajectory. The code is read as well: control_msgs gives
    SUCCESSFUL as the only success (FollowJointTrajectory.action L33-49).
    """
    success = status == GoalStatus.STATUS_SUCCEEDED and error_code == 0
    return EXECUTED if success else ABORTED


def describe_result(status: int, error_code: int, error_string: str, tracking_error: float) -> str:
    """The one log line for a FollowJointTrajectory result: what happened (the status) and why (the code).

    A cancelled goal carries code 0 (SUCCESSFUL) too (joint_trajectory_controller.cpp, kilted L1433-1434),
    so the status is read first.
    """
    tail = f"; its tracking error {tracking_error:.4f} rad RMS at the last feedback"
    why = ACTION_RESULTS.get(error_code, str(error_code)) + (f" ({error_string})" if error_string else "")
    if status == GoalStatus.STATUS_SUCCEEDED and error_code == 0:
        return f"arm controller: {why}{tail}"
    if status == GoalStatus.STATUS_CANCELED:
        return f"arm controller: goal cancelled, it holds where it is{tail}"
    kind = {GoalStatus.STATUS_ABORTED: "aborted", GoalStatus.STATUS_SUCCEEDED: "succeeded with an error code"}.get(
        status, f"ended with status {status}")
    return f"arm controller: goal {kind}: {why}{tail}"


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
            read = RobotDescription.from_urdf(msg.data).limits(robot)
        except RobotDescriptionError as exc:
            self.limits, self.limits_problem = None, str(exc)
            self.node.get_logger().error(f"ignoring {messages.ROBOT_DESCRIPTION}: {exc}")
            return
        lower, upper = self.model_limits.lower.copy(), self.model_limits.upper.copy()
        velocity = self.model_limits.max_velocity.copy()
        lower[self.sent], upper[self.sent], velocity[self.sent] = read.lower, read.upper, read.max_velocity
        self.limits = JointLimits(self.model_limits.names, lower, upper, velocity)
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
        (``latent_nodes.robot.splice``), and the timing within the limits then applies as for any trajectory.

        Only the joints sent are spliced from the arm: a joint never sent may have no feedback (NaN in
        ``measured``); it takes the plan's own position at ``elapsed`` and does not limit the blend.
        """
        start = np.asarray(trajectory.sample(elapsed), dtype=np.float64)
        vmax = np.full(len(start), np.inf)
        start[self.sent], vmax[self.sent] = measured[self.sent], max_velocity[self.sent]
        return splice(trajectory, elapsed, start, vmax)

    def send(self, trajectory: CheckedTrajectory, measured: np.ndarray, limits: JointLimits) -> CheckedTrajectory:
        """Time ``trajectory`` from ``measured`` within ``limits``, send it; returns it as sent (for tracking).

        The returned trajectory has the sent knots' times (stretched where the limits asked for it) and
        starts at t = 0 where the arm was.
        """
        times, q = trajectory.times, trajectory.positions.copy()
        if len(q) > 1:  # the commander's start row lacks the joints never sent (no feedback needed for them)
            missing = ~np.isfinite(q[0])
            q[0, missing] = q[1, missing]
        start = np.where(np.isfinite(measured), measured, q[0])
        if times[0] > 0 or not np.array_equal(q[0, self.sent], start[self.sent]):
            times = np.concatenate([[0.0], times + (FIRST_POINT_S if times[0] <= 0 else 0.0)])
            q = np.vstack([start, q])
        spline = spline_trajectory(times, q[:, self.sent], limits.max_velocity[self.sent])
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
        if spline.duration > times[-1] * (1 + 1e-9):
            self.node.get_logger().warning(f"trajectory slowed to stay within the velocity limits: "
                                           f"{times[-1]:.2f} s -> {spline.duration:.2f} s")
        return SentTrajectory(spline.times, q, trajectory.clamped, spline, list(self.sent))

    def stop(self, hold: bool = True) -> None:
        """Stop the controllers: each holds where the sent trajectory has got to (``hold_message``), and
        an action goal is cancelled (the controller then holds where it measures its arm).

        ``hold=False`` (the clock jumped: the time since sending means nothing) sends no hold point; the
        topic controllers then finish the trajectory they have, which was checked and timed within the
        limits, and the commander says so.
        """
        running, self.running = self.running, None
        goal, self.goal = self.goal, None  # a goal not yet accepted is cancelled when it is (on_goal_response)
        if goal is not None and goal.handle is not None and goal.result is None:
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
        """How the trajectory sent last has ended, or None while that is not known yet (``goal_outcome``).

        The last one is kept in ``last_outcome`` for ``/diagnostics``.
        """
        outcome = self.goal_outcome(overdue_s)
        if outcome is not None:
            self.last_outcome = outcome
        return outcome

    def goal_outcome(self, overdue_s: float) -> Outcome | None:
        """How the trajectory sent last has ended, or None while that is not known yet.

        ``overdue_s`` is the commander's time past the trajectory's end and ``settle_s`` (negative before).
        Over the topic nothing comes back: the trajectory counts as executed once overdue. Over the action
        the goal's server decides: rejected (at once), aborted (its result), executed (succeeded, once
        overdue), or unanswered: no answer to the goal within ``action_timeout_s`` (no server, or none
        that answers), or no result ``action_timeout_s`` after the end (a controller whose goal tolerance
        is not met waits without limit when its goal_time is 0, joint_trajectory_controller.cpp, kilted
        L391-411); an unanswered goal is cancelled, now or when its answer comes.
        """
        if self.action is None:
            return Outcome(EXECUTED) if overdue_s >= 0 else None
        goal = self.goal
        if goal is None:  # nothing sent since the last outcome or stop
            return None
        if not goal.answered:
            waited = time.monotonic() - goal.sent_at
            if waited < self.action_timeout_s:
                return None
            self.goal = None  # a late acceptance is cancelled (on_goal_response)
            known = "" if self.action.server_is_ready() else " (no server is known on it)"
            return Outcome(UNANSWERED, f"arm controller: no answer to the goal on {self.action_name}{known} "
                                       f"within {self.action_timeout_s:g} s; nothing executed")
        if not goal.accepted:
            self.goal = None
            # The action's answer carries no reason; the controller logs it (goal_received_callback,
            # joint_trajectory_controller.cpp kilted L1397-1417: not active, or validate_trajectory_msg).
            return Outcome(REJECTED, f"arm controller: {self.action_name} rejected the goal, nothing executed "
                                     "(a joint_trajectory_controller rejects a goal while inactive or when the "
                                     "trajectory fails its checks; its log names which)")
        if goal.result is None:
            if overdue_s < self.action_timeout_s:
                return None
            self.goal = None
            goal.handle.cancel_goal_async()
            return Outcome(UNANSWERED, f"arm controller: no result from {self.action_name} {overdue_s:.2f} s after "
                                       "the trajectory's end and settle_s; goal cancelled, the controller holds")
        status, code, text = goal.result
        kind = result_kind(status, code)
        if kind == EXECUTED and overdue_s < 0:
            return None
        self.goal = None
        return Outcome(kind, describe_result(status, code, text, goal.tracking_error))

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
