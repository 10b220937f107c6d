"""Commander: streams a completed behaviour to the arm at the trajectory's timing, safely.

Subscribes ``/completed_behaviour`` (trajectory_msgs/JointTrajectory) and sends joint position targets on
``/joint_command`` at ``command_rate``, interpolating between the trajectory's points. Both worlds (the
embedded sim and CoppeliaSim's scene script, chosen by ``target``) read the same topic. Before anything
is sent a trajectory must pass ``latent_nodes.robot.safety``: exactly the arm's joint names, finite values,
increasing times; positions are clamped to the joint limits and every streamed target is rate-limited to
the velocity limits. A newer trajectory replaces the running one (it starts from the last target sent).
With ``target: ros2_control`` the checked trajectory goes whole to the robot's controllers instead, timed
within the velocity limits, under the robot's joint names and limits (``ros2_control_output.py``).

Streaming on ``/joint_command``, the arm's joints are those of the first trajectory that passes these
checks, fixed from then on (a trajectory naming other joints is refused). Their limits are the embedded
arm's when the names are its joints, else those ``/robot_description`` (transient local) gives for them;
a trajectory with a joint that has no limits there is refused, nothing sent. So a model of another arm
drives that arm, within the limits of its description. (ros2_control keeps the embedded arm's joints as
the model's, renamed by ``joint_name_map``.)
A trajectory with a zero header stamp starts on receipt. One with a stamp is timed from that stamp, the
behaviour's start (the online inference node's updates): it is spliced in at the current time
(``latent_nodes.robot.splice``), continuing from the step the arm is at and blending from the last target sent
within the velocity limit, with no restart from home and no jump.

Execution stops on ``~/stop`` (std_srvs/Trigger), when ``/joint_states`` goes stale, and when the clock
jumps back (a restarted world on simulated time): the feedback then belongs to another world, so it is
forgotten and no hold command is sent. Nothing is commanded before fresh ``/joint_states`` arrive, and a
refused or stopped trajectory is never resumed. Trajectories are received volatile: a restarted
commander hears only what is published after it starts, never a replay of an old one. When a
trajectory has run and the arm has had ``settle_s`` to arrive, the RMS tracking error between the
trajectory and ``/joint_states`` over the execution is published on ``/commander/tracking_error``.

Once a second the node reports its health on ``/diagnostics``: state, feedback age, the last tracking
error, trajectories executed, refused and stopped (and, over the ros2_control FollowJointTrajectory
action, goals the controller rejected, aborted or left unanswered: not executed); WARN while there is no
fresh feedback (nothing could be executed), ERROR for a while after a trajectory was refused as unsafe,
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
from latent_nodes.nodes.ros2_control_output import DESCRIPTION_QOS, ROS2_CONTROL_PARAMETERS, Ros2ControlOutput
from latent_nodes.nodes.runner import run_node
from latent_nodes.robot.robot_description import RobotDescriptionError, joint_limits
from latent_nodes.robot.safety import CheckedTrajectory, JointLimits, UnsafeTrajectory, check_trajectory, rate_limit
from latent_nodes.robot.splice import splice


def arm_limits() -> JointLimits:
    """The arm's joint and velocity limits (the embedded model; the CoppeliaSim arm is mapped onto it)."""
    from latent_nodes.sim import arm

    return JointLimits(tuple(arm.JOINT_NAMES), arm.JOINT_LOWER, arm.JOINT_UPPER, arm.MAX_VELOCITY)


def limits_for(names: list[str], description: str | None) -> JointLimits:
    """Limits of the joints ``names``: the embedded arm's when they name any of its joints, else the description's.

    A partial or mixed set of the embedded arm's joints thus meets the embedded arm, and is refused by
    ``check_trajectory`` as always. Raises ``UnsafeTrajectory`` naming what is missing (no description
    yet, or a joint it gives no limits for): a joint without known limits is never commanded.
    """
    embedded = arm_limits()
    if not names or set(names) & set(embedded.names):
        return embedded
    if len(set(names)) != len(names):
        raise UnsafeTrajectory(f"trajectory repeats joint names: {names}")
    if description is None:
        raise UnsafeTrajectory(f"joints {names} are not the embedded arm's and no {messages.ROBOT_DESCRIPTION} "
                               "has arrived to give their limits")
    try:
        return joint_limits(description, names)
    except RobotDescriptionError as exc:
        raise UnsafeTrajectory(f"no limits for the trajectory's joints: {exc}") from None


def rms_of(squared_errors: np.ndarray) -> float:
    """Root of the mean over the finite entries (NaN: a joint without feedback, never sent); NaN if none."""
    finite = squared_errors[np.isfinite(squared_errors)]
    return float(np.sqrt(finite.mean())) if finite.size else float("nan")


class CommanderNode(Node):
    """Validates trajectories, streams rate-limited targets, watches feedback, reports tracking error."""

    def __init__(self, **kwargs) -> None:
        super().__init__("commander", **kwargs)
        self.settings = declare_section(
            self, NodesConfig, only=["target", "max_joint_velocity", "stale_feedback_s", "command_rate", "settle_s",
                                     *ROS2_CONTROL_PARAMETERS],
            dynamic=["max_joint_velocity"],
            validators={"max_joint_velocity": lambda v: None if v > 0 else "must be positive"})
        s = self.settings
        if not (s.max_joint_velocity > 0 and s.stale_feedback_s > 0 and s.command_rate > 0 and s.settle_s >= 0):
            raise ValueError("max_joint_velocity, stale_feedback_s and command_rate must be positive, settle_s >= 0")
        # The embedded arm until the first accepted trajectory fixes the joint set (ros2_control: always).
        self.arm = arm_limits()
        self.names = list(self.arm.names)
        self.joints_fixed = s.target == "ros2_control"
        self.description: str | None = None  # /robot_description: limits of another arm's joints
        # target ros2_control: whole trajectories to the robot's controllers (nodes/ros2_control_output.py)
        if s.target == "ros2_control" and s.model_joints and tuple(s.model_joints) != self.arm.names:
            # Another robot's model: its joints are named by the parameter; their limits come from the robot
            # description or joint_limits_* (the output refuses trajectories until it has them).
            n = len(s.model_joints)
            self.arm = JointLimits(tuple(s.model_joints), np.full(n, -np.inf), np.full(n, np.inf), np.full(n, np.inf))
            self.names = list(self.arm.names)
        self.output = Ros2ControlOutput(self, s, self.arm) if s.target == "ros2_control" else None

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

        self.measured: np.ndarray | None = None  # latest /joint_states positions, arm order
        self.measured_at: Time | None = None
        self.last_joint_state: tuple[JointState, Time] | None = None  # read again when the joint set changes
        self.active: CheckedTrajectory | None = None
        self.started_at: Time | None = None
        self.last_command: np.ndarray | None = None
        self.last_tick: Time | None = None
        self.squared_errors: list[np.ndarray] = []
        self.last_tracking_error = float("nan")
        self.health = Health(self, self.health_status)
        if self.output is None:
            self.get_logger().info(f"streaming to the {s.target} arm on {messages.JOINT_COMMAND} at "
                                   f"{s.command_rate:g} Hz; velocity limit {s.max_joint_velocity:g} rad/s")

    def limits(self) -> JointLimits:
        return self.arm.with_velocity_cap(self.settings.max_joint_velocity)

    def elapsed(self, since: Time) -> float:
        return (self.get_clock().now() - since).nanoseconds * 1e-9

    def feedback_age(self) -> float:
        return float("inf") if self.measured_at is None else self.elapsed(self.measured_at)

    # --- inputs ----------------------------------------------------------------------------------------

    def on_description(self, msg: String) -> None:
        self.description = msg.data
        if not self.joints_fixed:
            self.get_logger().info(f"{messages.ROBOT_DESCRIPTION} received: limits for joints other than the "
                                   "embedded arm's come from it")

    def on_joint_states(self, msg: JointState) -> None:
        self.read_feedback(msg, self.get_clock().now())

    def read_feedback(self, msg: JointState, received_at: Time) -> None:
        self.last_joint_state = (msg, received_at)
        try:
            q = self.output.positions(msg) if self.output else messages.joint_positions(msg, self.names)
        except ValueError as exc:
            self.get_logger().warning(f"ignoring /joint_states: {exc}", throttle_duration_sec=1.0)
            return
        self.measured, self.measured_at = q, received_at
        if self.active is not None:
            desired = self.active.sample(self.elapsed(self.started_at))
            self.squared_errors.append((q - desired) ** 2)

    def on_trajectory(self, msg: JointTrajectory) -> None:
        names, times, positions = messages.trajectory_arrays(msg)
        try:
            if self.output is not None:
                self.arm = self.output.current_limits()  # the robot's, once known
            arm = self.arm if self.joints_fixed else limits_for(names, self.description)
            trajectory = check_trajectory(names, times, positions, arm)
        except UnsafeTrajectory as exc:
            self.health.count("refused_unsafe", event=True)
            self.get_logger().error(f"refusing trajectory, nothing sent: {exc}")
            return
        if not self.joints_fixed:
            self.fix_joints(arm)
        age = self.feedback_age()
        if age > self.settings.stale_feedback_s:
            self.health.count("refused_no_feedback", event=True)
            self.get_logger().error(f"refusing trajectory, nothing sent: no fresh /joint_states "
                                    f"(last {'never' if self.measured_at is None else f'{age:.2f} s ago'})")
            return
        if trajectory.clamped:
            self.get_logger().warning("trajectory exceeds the joint limits; clamped to them")
        start = self.last_command if self.active is not None and self.output is None else self.measured
        now = self.get_clock().now()
        behaviour_start = messages.trajectory_start(msg, self.get_clock().clock_type)
        if behaviour_start is not None:  # timed from the behaviour's start: continue it at the current phase
            elapsed = (now - behaviour_start).nanoseconds * 1e-9
            splicer = splice if self.output is None else self.output.splice  # ros2_control: from the arm, sent joints
            trajectory = splicer(trajectory, elapsed, start, self.limits().max_velocity)
            self.get_logger().info(f"splicing the trajectory in {elapsed:.2f} s into its behaviour "
                                   f"({'from the running one' if self.active is not None else 'from the arm'})")
            started_at = behaviour_start
        else:
            if trajectory.times[0] > 0:  # reach the first point from where the arm is, in the first interval
                trajectory = CheckedTrajectory(np.concatenate([[0.0], trajectory.times]),
                                               np.vstack([start, trajectory.positions]), trajectory.clamped)
            if self.active is not None:
                self.get_logger().info("replacing the running trajectory")
            started_at = now
        if self.output is not None:  # the controller interpolates it from the send; keep what was sent
            if behaviour_start is not None:
                trajectory = CheckedTrajectory(trajectory.times - trajectory.times[0], trajectory.positions,
                                               trajectory.clamped)
                started_at = now
            trajectory = self.output.send(trajectory, self.measured, self.limits())
        self.active, self.started_at = trajectory, started_at
        self.last_command, self.last_tick = start.copy(), now
        self.squared_errors = []
        self.get_logger().info(f"executing {len(times)} points over {trajectory.duration:.2f} s")

    def fix_joints(self, arm: JointLimits) -> None:
        """Make ``arm`` the arm's joint set for good; the feedback is read again under its names."""
        self.joints_fixed = True
        if arm.names == self.arm.names:
            return
        self.arm, self.names = arm, list(arm.names)
        self.measured, self.measured_at = None, None
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
        self.measured, self.measured_at, self.last_joint_state = None, None, None
        if self.active is not None:
            self.active = None  # no hold command: the arm's position is unknown until /joint_states arrive
            if self.output is not None:
                self.output.stop(hold=False)  # the time since sending is meaningless now: no hold point
            self.health.count("stopped_clock_jump", event=True)
            self.get_logger().error("trajectory stopped: the clock jumped back or changed source "
                                    f"({jump.delta.nanoseconds * 1e-9:+.2f} s); waiting for fresh /joint_states")

    # --- streaming -------------------------------------------------------------------------------------

    def abort(self, reason: str) -> None:
        """End execution now and hold the arm where it is (if we still know where that is)."""
        self.active = None
        if self.output is not None:
            self.output.stop()
        elif self.measured is not None and self.feedback_age() <= self.settings.stale_feedback_s:
            self.command_pub.publish(messages.joint_state(self.names, self.measured))
        self.health.count("stopped_on_request")
        self.get_logger().warning(f"trajectory stopped: {reason}")

    def health_status(self) -> tuple[int, str, dict]:
        """Level, message and values for /diagnostics."""
        age = self.feedback_age()
        values = {"state": "executing" if self.active is not None else "idle", "target": self.settings.target,
                  "feedback_age_s": age, "tracking_error_rad": self.last_tracking_error,
                  "max_joint_velocity": self.settings.max_joint_velocity}
        if self.output is not None and self.output.last_outcome is not None:  # how the last trajectory ended
            values["last_outcome"] = self.output.last_outcome.kind
            values["last_outcome_reason"] = self.output.last_outcome.line
        for event, text in (("stopped_stale_feedback", "a trajectory was stopped: /joint_states went stale"),
                            ("stopped_clock_jump", "a trajectory was stopped: the clock jumped back"),
                            ("goal_rejected", "the arm controller rejected a trajectory (see the log)"),
                            ("goal_aborted", "the arm controller aborted a trajectory (see the log)"),
                            ("goal_unanswered", "the arm controller did not answer a trajectory (see the log)"),
                            ("refused_unsafe", "an unsafe trajectory was refused (see the log)")):
            if self.health.recent(event):
                return ERROR, text, values
        if age > self.settings.stale_feedback_s:
            return WARN, "no fresh /joint_states: trajectories would be refused", values
        if self.health.recent("refused_no_feedback"):
            return WARN, "a trajectory was refused for lack of feedback", values
        return OK, values["state"], values

    def on_tick(self) -> None:
        if self.active is None:
            return
        age = self.feedback_age()
        if age > self.settings.stale_feedback_s:
            self.active = None  # no hold command: with stale feedback we do not know where the arm is
            if self.output is not None:
                self.output.stop()  # it holds where the sent trajectory has got to: no feedback needed
            self.health.count("stopped_stale_feedback", event=True)
            self.get_logger().error(f"trajectory stopped: /joint_states is stale ({age:.2f} s old)")
            return
        if self.output is not None:  # the controller interpolates on its own: wait for how it ends
            outcome = self.output.outcome(self.elapsed(self.started_at) - self.active.duration - self.settings.settle_s)
            if outcome is not None and outcome.executed:
                self.finish(outcome.line)
            elif outcome is not None:  # rejected, aborted or unanswered: not executed; the gripper holds too
                self.active = None
                self.output.stop()
                self.health.count(f"goal_{outcome.kind}", event=True)
                self.get_logger().error(outcome.line)
            return
        now = self.get_clock().now()
        dt = max((now - self.last_tick).nanoseconds * 1e-9, 0.0)
        self.last_tick = now
        t = self.elapsed(self.started_at)
        limits = self.limits()
        desired = self.active.sample(t)
        command = limits.clamp(rate_limit(self.last_command, desired, limits.max_velocity, dt))
        self.command_pub.publish(messages.joint_state(self.names, command, stamp=now.to_msg()))
        self.last_command = command
        if t >= self.active.duration + self.settings.settle_s:
            self.finish()

    def finish(self, controller_line: str = "") -> None:
        errors = np.array(self.squared_errors) if self.squared_errors else np.full((1, len(self.names)), np.nan)
        rms, final = rms_of(errors), rms_of(errors[-1])
        self.active = None
        self.last_tracking_error = rms
        self.health.count("executed")
        self.error_pub.publish(messages.float64(rms))
        self.get_logger().info(f"trajectory done: tracking error {rms:.4f} rad RMS over {len(self.squared_errors)} "
                               f"feedback samples, {final:.4f} rad at the end" + (f"; {controller_line}"
                                                                                  if controller_line else ""))


def main(args: list[str] | None = None) -> int:
    return run_node(CommanderNode, "commander", args)


if __name__ == "__main__":
    raise SystemExit(main())
