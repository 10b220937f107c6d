"""Commander: streams a completed behaviour to the arm at the trajectory's timing, safely.

Subscribes ``/completed_behaviour`` (trajectory_msgs/JointTrajectory) and sends joint position targets on
``/joint_command`` at ``command_rate``, interpolating between the trajectory's points. Both worlds (the
embedded sim and CoppeliaSim's scene script, chosen by ``target``) read the same topic. Before anything
is sent a trajectory must pass ``latent_nodes.robot.safety``: exactly the arm's joint names, finite values,
increasing times; positions are clamped to the joint limits. Every streamed target keeps within the
velocity limits (``max_joint_velocity`` on top of the arm's) and the acceleration limits
(``max_joint_acceleration``, per joint ``joint_max_acceleration``), and a late tick steps no further than
the limits allow over two nominal periods (``latent_nodes.robot.stream_limiter``). A newer trajectory
replaces the running one (it starts from the last target sent, at the stream's velocity). With ``target:
ros2_control`` the checked trajectory goes whole to the robot's controllers instead, timed within the
velocity limits, under the robot's joint names and limits (``ros2_control_output.py``).

Streaming on ``/joint_command``, the arm's joints are those of the first trajectory that is accepted
(checked, admitted and with fresh feedback for its joints), fixed from then on (a trajectory naming other
joints is refused; one refused for any reason fixes nothing). Their limits are the embedded arm's when
the names are its joints, else those ``/robot_description`` (transient local) gives for them; a
trajectory with a joint that has no limits there is refused, nothing sent. So a model of another arm
drives that arm, within the limits of its description. A description published again counts from the
next trajectory on: a readable one replaces the fixed joints' limits, an unreadable one (or one without
those joints) refuses trajectories until a readable one arrives, each said once on receipt
(``latent_nodes.robot.robot_description.DescriptionLimits``; the ros2_control output follows the same
rule). With ``target: ros2_control`` the model's joints are fixed from the start: the embedded arm's, or
``model_joints`` for another robot's model, renamed for the robot by ``joint_name_map``; their limits
are ``joint_limits_*`` or the description's (``ros2_control_output.py``).

``joint_limits_file`` (a ``joint_limits.yaml`` as description packages ship it, by the robot's joint
names, ``latent_nodes.robot.joint_limits_file``) adds its acceleration limits, and its velocity limits
where tighter, on either target.

Stamps follow ros2_controllers' joint_trajectory_controller (``latent_nodes.robot.admission``): a zero
header stamp starts on receipt; a trajectory whose last point is already past (stamp + last
``time_from_start`` before now) is refused, and so is one starting more than ``max_future_start_s`` from
now; a refusal for a stamp off by more than the behaviour's length says which clock is probably wrong
(sim time against wall time, two machines). An admitted stamp times the trajectory from the behaviour's
start (the online inference node's updates): it is spliced in at the current time
(``latent_nodes.robot.splice``), continuing from the step the arm is at and blending from the last target
sent within the velocity limit, with no restart from home and no jump.

Feedback is ``/joint_states``, aged by its header stamp where set (the receipt time for a zero stamp, or
with a warning for a stamp ahead of this clock or on another kind of clock). Each feedback is compared
(``latent_nodes.robot.tolerances``) with the target in force when it was measured (streaming), or with
the trajectory as sent, where the controller has it then (ros2_control over the topic, whose controller
holds on its own path check with only a log line and tells the sender nothing): a joint further than its
path tolerance for ``path_tolerance_time_s`` stops the trajectory and holds the arm where it is. After
``settle_s`` the last point is checked against the goal tolerance (an ERROR and a hold where the arm is
when a joint is off: not executed). Over the FollowJointTrajectory action the controller's result
decides instead. The RMS tracking error between the trajectory and ``/joint_states`` over the execution
is published on ``/commander/tracking_error``.

Execution also stops on ``~/stop`` (std_srvs/Trigger), holding the arm where it is, when ``/joint_states``
goes stale, and when the clock jumps back (a restarted world on simulated time): the feedback then
belongs to another world, so it is forgotten and no hold command is sent. A hold is the measured position
clamped to the joint limits. Nothing is commanded before fresh ``/joint_states`` arrive, and a refused or
stopped trajectory is never resumed. Trajectories are received volatile: a restarted commander hears only
what is published after it starts, never a replay of an old one.

The node reads parameters and messages and publishes; what an execution does (start row, stream, path
and goal checks, stale feedback, hold) is decided by ``latent_nodes.robot.execution``, without ROS.

Once a second the node reports its health on ``/diagnostics``: state, feedback age, the last tracking
error, the last tolerance violation (joint and error), trajectories executed, refused and stopped (and,
over the ros2_control FollowJointTrajectory action, goals the controller rejected, aborted or left
unanswered: not executed); WARN while there is no fresh feedback (nothing could be executed), ERROR for a
while after a trajectory was refused as unsafe or for its stamp, stopped off its path, ended off its goal,
stopped for stale feedback or a clock jump, or not executed by the arm controller.
"""

from __future__ import annotations

import numpy as np
from rclpy.clock import JumpThreshold, TimeJump
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from rclpy.time import Time
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from latent_nodes.config import NodesConfig
from latent_nodes.nodes import messages
from latent_nodes.nodes.diagnostics import ERROR, OK, WARN, Health
from latent_nodes.nodes.parameters import declare_section
from latent_nodes.nodes.ros2_control_output import (
    DESCRIPTION_QOS,
    ROS2_CONTROL_PARAMETERS,
    Ros2ControlOutput,
    hold_message,
)
from latent_nodes.nodes.runner import run_node
from latent_nodes.robot.admission import RefusedStamp, admit_stamp, feedback_time
from latent_nodes.robot.execution import Execution, with_start_row
from latent_nodes.robot.joint_limits_file import FileLimits, apply_file_limits, read_joint_limits_file
from latent_nodes.robot.robot_description import DescriptionLimits, RobotDescription, RobotDescriptionError
from latent_nodes.robot.safety import CheckedTrajectory, JointLimits, UnsafeTrajectory, check_trajectory
from latent_nodes.robot.splice import splice
from latent_nodes.robot.tolerances import ToleranceMonitor, Violation, joint_values, parse_joint_values

# The commander's own parameters (NodesConfig fields); ros2_control_output.py lists the ros2_control ones.
COMMANDER_PARAMETERS = ("target", "max_joint_velocity", "max_joint_acceleration", "joint_max_acceleration",
                        "joint_limits_file",
                        "stale_feedback_s", "command_rate", "settle_s", "max_future_start_s", "path_tolerance",
                        "path_tolerance_time_s", "goal_tolerance", "joint_path_tolerance", "joint_goal_tolerance")


def arm_limits() -> JointLimits:
    """The arm's joint and velocity limits (the embedded model; the CoppeliaSim arm is mapped onto it)."""
    from latent_nodes.sim import arm

    return JointLimits(tuple(arm.JOINT_NAMES), arm.JOINT_LOWER, arm.JOINT_UPPER, arm.MAX_VELOCITY)


def seconds(t: Time) -> float:
    return t.nanoseconds * 1e-9


def positive(value: float) -> str | None:
    return None if value > 0 else "must be positive"


class CommanderNode(Node):
    """Validates and admits trajectories, streams limited targets, watches feedback and tolerances."""

    def __init__(self, **kwargs) -> None:
        super().__init__("commander", **kwargs)
        self.settings = declare_section(
            self, NodesConfig, only=[*COMMANDER_PARAMETERS, *ROS2_CONTROL_PARAMETERS],
            dynamic=["max_joint_velocity", "max_joint_acceleration"],
            validators={"max_joint_velocity": positive, "max_joint_acceleration": positive})
        s = self.settings
        if not (s.max_joint_velocity > 0 and s.max_joint_acceleration > 0 and s.stale_feedback_s > 0
                and s.command_rate > 0 and s.settle_s >= 0):
            raise ValueError("max_joint_velocity, max_joint_acceleration, stale_feedback_s and command_rate must be "
                             "positive, settle_s >= 0")
        # Per-joint overrides ("joint:value"); a malformed one is a start-up error, one line.
        self.acceleration_overrides = parse_joint_values(s.joint_max_acceleration, "joint_max_acceleration",
                                                         positive=True)
        self.path_overrides = parse_joint_values(s.joint_path_tolerance, "joint_path_tolerance")
        self.goal_overrides = parse_joint_values(s.joint_goal_tolerance, "joint_goal_tolerance")
        # A description package's joint_limits.yaml (robot joint names); an unreadable one cannot start.
        self.file_limits: dict[str, FileLimits] = read_joint_limits_file(s.joint_limits_file) \
            if s.joint_limits_file else {}
        # The embedded arm until the first accepted trajectory fixes the joint set (ros2_control: always).
        self.arm = arm_limits()
        self.names = list(self.arm.names)
        self.joints_fixed = s.target == "ros2_control"
        self.descriptions = DescriptionLimits(self.arm)  # /robot_description's limits, one rule for a new one
        # target ros2_control: whole trajectories to the robot's controllers (nodes/ros2_control_output.py)
        if s.target == "ros2_control" and s.model_joints and tuple(s.model_joints) != self.arm.names:
            # Another robot's model: its joints are named by the parameter; their limits come from the robot
            # description or joint_limits_* (the output refuses trajectories until it has them).
            n = len(s.model_joints)
            self.arm = JointLimits(tuple(s.model_joints), np.full(n, -np.inf), np.full(n, np.inf), np.full(n, np.inf))
            self.names = list(self.arm.names)
        self.output = Ros2ControlOutput(self, s, self.arm) if s.target == "ros2_control" else None
        # The execution's state and decisions (robot/execution.py). Streaming: the targets within the limits
        # (a late tick capped), the arm checked against them. ros2_control over the topic: the arm checked
        # against the trajectory sent, on the joints sent (the controller holds on its own path check with
        # only a log line, joint_trajectory_controller.cpp @0f8eb14 L548-551); over the action, the
        # controller's result decides.
        supervised = None
        if self.output is not None:
            supervised = list(self.output.sent) if self.output.action is None else []
        self.execution = Execution(self.names, self.tolerance_monitor(self.names), 1.0 / s.command_rate,
                                   s.stale_feedback_s, s.settle_s, streaming=self.output is None,
                                   supervised=supervised)
        self.violation: Violation | None = None  # the last path or goal tolerance violation, for /diagnostics

        self.command_pub = self.create_publisher(JointState, messages.JOINT_COMMAND, 10)
        self.error_pub = self.create_publisher(Float64, messages.TRACKING_ERROR, 10)
        # Newest trajectory wins, so nothing is queued behind the one being replaced; volatile, so that a
        # restarted commander never executes a trajectory published before it started.
        self.create_subscription(JointTrajectory, messages.COMPLETED_BEHAVIOUR, self.on_trajectory,
                                 QoSProfile(depth=1, durability=DurabilityPolicy.VOLATILE))
        self.create_subscription(JointState, messages.JOINT_STATES, self.on_joint_states, 10)
        if self.output is None:  # ros2_control_output.py reads the description itself
            self.create_subscription(String, messages.ROBOT_DESCRIPTION, self.on_description, DESCRIPTION_QOS)
        self.create_service(Trigger, "~/stop", self.on_stop)
        self.create_timer(1.0 / s.command_rate, self.on_tick)
        # Any backward jump (simulated time restarting with a respawned world); kept alive with the node.
        self.jump_handle = self.get_clock().create_jump_callback(
            JumpThreshold(min_forward=None, min_backward=Duration(nanoseconds=-1), on_clock_change=True),
            post_callback=self.on_clock_jump)

        self.last_joint_state: tuple[JointState, Time] | None = None  # read again when the joint set changes
        self.last_tracking_error = float("nan")
        self.health = Health(self, self.health_status)
        if self.file_limits:
            accelerations = sorted(j for j, v in self.file_limits.items() if v.max_acceleration)
            velocities = sorted(j for j, v in self.file_limits.items() if v.max_velocity)
            self.get_logger().info(f"joint_limits_file {s.joint_limits_file}: acceleration limits for "
                                   f"{accelerations}, velocity limits for {velocities} (by the robot's joint names)")
        if self.output is None:
            self.get_logger().info(f"streaming to the {s.target} arm on {messages.JOINT_COMMAND} at "
                                   f"{s.command_rate:g} Hz; velocity limit {s.max_joint_velocity:g} rad/s, "
                                   f"acceleration limit {s.max_joint_acceleration:g} rad/s^2")

    def limits(self) -> JointLimits:
        """The arm's limits under the commander's velocity and acceleration settings (read at each use)."""
        s = self.settings
        acceleration, _ = joint_values(self.acceleration_overrides, self.names, np.inf)
        limits = (self.arm.with_velocity_cap(s.max_joint_velocity)
                  .with_acceleration_cap(np.minimum(acceleration, s.max_joint_acceleration)))
        # joint_limits_file: by the robot's joint names (ros2_control: joint_name_map applied).
        return apply_file_limits(limits, self.file_limits, self.robot_names()) if self.file_limits else limits

    def robot_names(self) -> list[str]:
        """The arm's joints as the robot names them (its description, joint_limits.yaml, controllers)."""
        return list(self.output.robot_names) if self.output is not None else list(self.names)

    def tolerance_monitor(self, names: list[str]) -> ToleranceMonitor:
        """Path and goal tolerances of ``names``: per-joint overrides, else the common parameters."""
        s = self.settings
        path, unknown_path = joint_values(self.path_overrides, names, s.path_tolerance)
        goal, unknown_goal = joint_values(self.goal_overrides, names, s.goal_tolerance)
        unknown_acceleration = joint_values(self.acceleration_overrides, names, 0.0)[1]
        for label, unknown in (("joint_path_tolerance", unknown_path), ("joint_goal_tolerance", unknown_goal),
                               ("joint_max_acceleration", unknown_acceleration)):
            if unknown:
                self.get_logger().warning(f"{label} names joints the arm does not have: {unknown}; its joints are "
                                          f"{names}")
        return ToleranceMonitor(names, path, s.path_tolerance_time_s, goal)

    def elapsed(self, since: Time) -> float:
        return (self.get_clock().now() - since).nanoseconds * 1e-9

    def now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def feedback_age(self) -> float:
        return self.execution.feedback_age(self.now_ns())

    @property
    def measured(self) -> np.ndarray | None:
        """The latest /joint_states positions, arm order (None before any, or after a clock jump)."""
        return self.execution.measured

    @property
    def active(self) -> CheckedTrajectory | None:
        """The trajectory being executed, None when idle."""
        return self.execution.active

    @property
    def started_at(self) -> Time | None:
        """When the running trajectory's time 0 is, on this node's clock."""
        at = self.execution.started_at_ns
        return None if at is None else Time(nanoseconds=at, clock_type=self.get_clock().clock_type)

    # --- inputs ----------------------------------------------------------------------------------------

    @property
    def description(self) -> RobotDescription | RobotDescriptionError | None:
        """The last /robot_description received, parsed, or the error it could not be read with."""
        return self.descriptions.latest

    def on_description(self, msg: String) -> None:
        """Parsed once on receipt, by the rule of ``DescriptionLimits``, and said in one line."""
        fixed = self.names if self.joints_fixed else None
        usable, line = self.descriptions.receive(msg.data, fixed)
        if usable:  # two call sites: rclpy keys a log call's severity by where it is made
            self.get_logger().info(line)
        else:
            self.get_logger().error(line)

    def on_joint_states(self, msg: JointState) -> None:
        self.read_feedback(msg, self.get_clock().now())

    def parse_feedback(self, msg: JointState, received_at: Time, names: list[str]) -> tuple[np.ndarray, Time]:
        """(positions of ``names``, when they were measured); ValueError for a message without them.

        The time is the header stamp where it is set and on this node's clock, else the receipt time
        (``latent_nodes.robot.admission.feedback_time``, which also says which clock a bad stamp is on).
        """
        q = self.output.positions(msg) if self.output else messages.joint_positions(msg, names)
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        measured = feedback_time(stamp, seconds(received_at))
        if measured.warning:
            self.get_logger().warning(measured.warning, throttle_duration_sec=5.0)
        return q, Time(nanoseconds=int(round(measured.at_s * 1e9)), clock_type=received_at.clock_type)

    def read_feedback(self, msg: JointState, received_at: Time) -> None:
        self.last_joint_state = (msg, received_at)
        try:
            q, at = self.parse_feedback(msg, received_at, self.names)
        except ValueError as exc:
            self.get_logger().warning(f"ignoring /joint_states: {exc}", throttle_duration_sec=1.0)
            return
        violation = self.execution.feedback(q, at.nanoseconds)
        if violation is not None:
            self.stop_off_plan(violation)

    def feedback_under(self, arm: JointLimits) -> tuple[np.ndarray | None, Time | None]:
        """The latest feedback read under ``arm``'s joints (the arm's own, or a candidate's before it is fixed)."""
        if list(arm.names) == self.names:
            if self.measured is None:
                return None, None
            return self.measured, Time(nanoseconds=self.execution.measured_at_ns,
                                       clock_type=self.get_clock().clock_type)
        if self.last_joint_state is None:
            return None, None
        try:
            return self.parse_feedback(*self.last_joint_state, list(arm.names))
        except ValueError:
            return None, None

    def on_trajectory(self, msg: JointTrajectory) -> None:
        names, times, positions = messages.trajectory_arrays(msg)
        now = self.get_clock().now()
        behaviour_start = messages.trajectory_start(msg, self.get_clock().clock_type)
        try:
            if self.output is not None:
                arm = self.arm = self.output.current_limits()  # the robot's, once known
            else:  # the fixed joints' limits from the latest description (a new one counts from now on)
                arm = self.descriptions.limits(self.names if self.joints_fixed else names)
            trajectory = check_trajectory(names, times, positions, arm)
            # A stamp: JTC's rule (the end must not be past) and a bound on the start (admission.py).
            admission = None if behaviour_start is None else admit_stamp(
                seconds(behaviour_start), seconds(now), trajectory.duration, self.settings.max_future_start_s)
        except RefusedStamp as exc:
            self.health.count("refused_stamp", event=True)
            self.get_logger().error(f"refusing trajectory, nothing sent: {exc}")
            return
        except UnsafeTrajectory as exc:
            self.health.count("refused_unsafe", event=True)
            self.get_logger().error(f"refusing trajectory, nothing sent: {exc}")
            return
        # The feedback under the trajectory's joints; the joint set is fixed only once a trajectory is accepted.
        measured, measured_at = self.feedback_under(arm)
        age = float("inf") if measured_at is None else self.elapsed(measured_at)
        if age > self.settings.stale_feedback_s:
            self.health.count("refused_no_feedback", event=True)
            self.get_logger().error(f"refusing trajectory, nothing sent: no fresh /joint_states "
                                    f"(last {'never' if measured_at is None else f'{age:.2f} s ago'})")
            return
        if not self.joints_fixed:
            self.fix_joints(arm)
        self.arm = arm  # the latest description's limits for the fixed joints, from this trajectory on
        if admission is not None and admission.clock_warning:
            self.get_logger().warning(f"trajectory accepted, but its {admission.clock_warning}")
        if trajectory.clamped:
            self.get_logger().warning("trajectory exceeds the joint limits; clamped to them")
        start = self.execution.start_position()
        if behaviour_start is not None:  # timed from the behaviour's start: continue it at the current phase
            elapsed = admission.elapsed
            splicer = splice if self.output is None else self.output.splice  # ros2_control: from the arm, sent joints
            trajectory = splicer(trajectory, elapsed, start, self.limits().max_velocity)
            self.get_logger().info(f"splicing the trajectory in {elapsed:.2f} s into its behaviour "
                                   f"({'from the running one' if self.active is not None else 'from the arm'})")
            started_at = behaviour_start
        else:
            trajectory = with_start_row(trajectory, start)  # the first point reached from where the arm is
            if self.active is not None:
                self.get_logger().info("replacing the running trajectory")
            started_at = now
        if self.output is not None:  # the controller interpolates it from the send; keep what was sent
            if behaviour_start is not None:
                trajectory = CheckedTrajectory(trajectory.times - trajectory.times[0], trajectory.positions,
                                               trajectory.clamped)
                started_at = now
            trajectory = self.output.send(trajectory, self.measured, self.limits())
        self.execution.begin(trajectory, start, started_at.nanoseconds, now.nanoseconds)
        self.get_logger().info(f"executing {len(times)} points over {trajectory.duration:.2f} s")

    def fix_joints(self, arm: JointLimits) -> None:
        """Make ``arm`` the arm's joint set for good; the feedback is read again under its names."""
        self.joints_fixed = True
        if arm.names == self.arm.names:
            return
        self.arm, self.names = arm, list(arm.names)
        self.execution.set_joints(self.names, self.tolerance_monitor(self.names))
        if self.last_joint_state is not None:
            self.read_feedback(*self.last_joint_state)  # as fresh as it was, if it has these joints
        self.get_logger().info(f"arm joints {self.names}, limits from {messages.ROBOT_DESCRIPTION}")

    def on_stop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.active is None:
            response.success, response.message = True, "nothing running"
            return response
        self.abort("stop requested")
        response.success, response.message = True, "stopped; holding the current position"
        return response

    def on_clock_jump(self, jump: TimeJump) -> None:
        """The clock went back or changed source: feedback and timing from before are meaningless now."""
        self.execution.forget_feedback()
        self.last_joint_state = None
        if self.active is not None:
            self.execution.stop()  # no hold command: the arm's position is unknown until /joint_states arrive
            if self.output is not None:
                self.output.stop(hold=False)  # the time since sending is meaningless now: no hold point
            self.health.count("stopped_clock_jump", event=True)
            self.get_logger().error("trajectory stopped: the clock jumped back or changed source "
                                    f"({jump.delta.nanoseconds * 1e-9:+.2f} s); waiting for fresh /joint_states")

    # --- streaming -------------------------------------------------------------------------------------

    def abort(self, reason: str) -> None:
        """End execution now and hold the arm where it is (if we still know where that is)."""
        self.execution.stop()
        if self.output is not None:
            self.output.stop()
        else:
            self.hold()
        self.health.count("stopped_on_request")
        self.get_logger().warning(f"trajectory stopped: {reason}")

    def hold(self) -> None:
        """Command the measured position, clamped to the joint limits; nothing without fresh feedback.

        Streaming: as the next target. ros2_control: a one-point trajectory at rest, due at once, to each
        controller (``hold_message``), which replaces the trajectory it runs.

        JTC's ``set_hold_position`` (joint_trajectory_controller.cpp kilted L1835-1845) holds the measured
        state; a joint measured past its limit is held at the limit here, never commanded outside it.
        """
        now = self.get_clock().now()
        q = self.execution.hold(now.nanoseconds, self.limits())
        if q is None:
            return
        if self.output is None:
            self.command_pub.publish(messages.joint_state(self.names, q, stamp=now.to_msg()))
            return
        self.output.running = None  # replaced by this hold: a later stop has nothing else to hold
        for pub, columns in ((self.output.arm_pub, self.output.arm_columns),
                             (self.output.gripper_pub, self.output.gripper_columns)):
            if pub is not None and columns:
                pub.publish(hold_message([self.output.robot_names[i] for i in columns], q[columns]))

    def stop_off_plan(self, violation: Violation) -> None:
        """The arm stayed off the plan (already stopped): hold where it is, report (JTC aborts and holds)."""
        self.hold()
        self.violation = violation
        self.health.count("stopped_path_tolerance", event=True)
        self.get_logger().error(f"trajectory stopped, holding: {violation.describe()}")

    def health_status(self) -> tuple[int, str, dict]:
        """Level, message and values for /diagnostics."""
        age = self.feedback_age()
        values = {"state": "executing" if self.active is not None else "idle", "target": self.settings.target,
                  "feedback_age_s": age, "tracking_error_rad": self.last_tracking_error,
                  "max_joint_velocity": self.settings.max_joint_velocity,
                  "max_joint_acceleration": self.settings.max_joint_acceleration}
        if self.output is not None and self.output.last_outcome is not None:  # how the last trajectory ended
            values["last_outcome"] = self.output.last_outcome.kind
            values["last_outcome_reason"] = self.output.last_outcome.line
        if self.violation is not None:
            values.update({"violation": self.violation.kind, "violation_joint": self.violation.joint,
                           "violation_error_rad": self.violation.error})
        for event in ("stopped_path_tolerance", "goal_tolerance_violated"):
            if self.health.recent(event) and self.violation is not None:
                return ERROR, self.violation.describe(), values
        for event, text in (("stopped_stale_feedback", "a trajectory was stopped: /joint_states went stale"),
                            ("stopped_clock_jump", "a trajectory was stopped: the clock jumped back"),
                            ("goal_rejected", "the arm controller rejected a trajectory (see the log)"),
                            ("goal_aborted", "the arm controller aborted a trajectory (see the log)"),
                            ("goal_unanswered", "the arm controller did not answer a trajectory (see the log)"),
                            ("refused_unsafe", "an unsafe trajectory was refused (see the log)"),
                            ("refused_stamp", "a trajectory was refused for its header stamp (see the log)")):
            if self.health.recent(event):
                return ERROR, text, values
        if age > self.settings.stale_feedback_s:
            return WARN, "no fresh /joint_states: trajectories would be refused", values
        if self.health.recent("refused_no_feedback"):
            return WARN, "a trajectory was refused for lack of feedback", values
        return OK, values["state"], values

    def on_tick(self) -> None:
        now = self.get_clock().now()
        tick = self.execution.tick(now.nanoseconds, self.limits())
        if tick is None:
            return
        if tick.stale_s is not None:  # no hold command: with stale feedback we do not know where the arm is
            if self.output is not None:
                self.output.stop()  # it holds where the sent trajectory has got to: no feedback needed
            self.health.count("stopped_stale_feedback", event=True)
            self.get_logger().error(f"trajectory stopped: /joint_states is stale ({tick.stale_s:.2f} s old)")
            return
        if self.output is not None:  # the controller interpolates on its own: wait for how it ends
            outcome = self.output.outcome(tick.overdue_s)
            if outcome is not None and outcome.executed:
                self.finish(outcome.line)
            elif outcome is not None:  # rejected, aborted or unanswered: not executed; the gripper holds too
                self.execution.stop()
                self.output.stop()
                self.health.count(f"goal_{outcome.kind}", event=True)
                self.get_logger().error(outcome.line)
            return
        self.command_pub.publish(messages.joint_state(self.names, tick.command, stamp=now.to_msg()))
        if tick.overdue_s >= 0:
            self.finish()

    def finish(self, controller_line: str = "") -> None:
        """After settle_s: the tracking error over the run, then the goal tolerance (JTC's goal check, once).

        ``controller_line``: the arm controller's result (FollowJointTrajectory), for the log.
        """
        done = self.execution.finish(self.now_ns())
        self.last_tracking_error = done.tracking_error
        self.error_pub.publish(messages.float64(done.tracking_error))
        self.get_logger().info(f"trajectory done: tracking error {done.tracking_error:.4f} rad RMS over "
                               f"{done.samples} feedback samples, {done.final_error:.4f} rad at the end"
                               + (f"; {controller_line}" if controller_line else ""))
        if done.violation is None:
            self.health.count("executed")
            return
        self.hold()  # as JTC on a goal violation: hold where the arm is (L518-544)
        self.violation = done.violation
        self.health.count("goal_tolerance_violated", event=True)
        self.get_logger().error(f"trajectory ended off its goal, holding: {done.violation.describe()} after "
                                f"settle_s ({self.settings.settle_s:g} s)")


def main(args: list[str] | None = None) -> int:
    return run_node(CommanderNode, "commander", args)


if __name__ == "__main__":
    raise SystemExit(main())
