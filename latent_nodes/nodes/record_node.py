"""Recorder: demonstrations into one rosbag2 MCAP bag, many labelled episodes per bag.

Records ``/joint_states`` and ``/block_pose`` (with their receive times on this node's clock) into the
bag named by the ``bag`` parameter, and the robot's ``/robot_description`` (latched, as
robot_state_publisher offers it) when one is published: ``bag2dataset`` takes the dataset's joints from
it (its commandable joints; ``latent_nodes.robot.robot_description``). Each description received is also
parsed at once with that reader, so one ``bag2dataset`` would refuse (not XML, no commandable joint)
is named in one warning while the teacher is still at the arm; it is recorded all the same, as a
recording loses nothing (a valid one published later replaces it: bag2dataset reads the last).
An episode is one execution of a behaviour: ``~/start_episode`` (std_srvs/Trigger) opens one labelled
with the ``behaviour`` parameter, ``~/stop_episode`` closes it.
The start's reply names the mark's time on the node's clock (``... started at t=12.345000 s``), where
step 0 of the episode is resampled from.
Both publish the mark on ``/episode`` (std_msgs/String: the label at the start, an empty string at the
end) and write it into the bag, which is what ``latent-nodes bag2dataset`` splits the bag by; it then
resamples each episode at the model's dt. The label travels as a parameter because the PyPI wheels carry
no service type with a string request::

    ros2 param set /record behaviour reach_circle
    ros2 service call /record/start_episode std_srvs/srv/Trigger
    ...   # drive the arm through the behaviour
    ros2 service call /record/stop_episode std_srvs/srv/Trigger

The bag appears under its name when the node stops (Ctrl-C, SIGTERM, ``ros2 launch`` ending): it is
written beside it and moved into place complete (``latent_nodes.data.recording``).
"""

from __future__ import annotations

from pathlib import Path

from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from latent_nodes.config import BEHAVIOURS
from latent_nodes.data.bags import EPISODE_TOPIC
from latent_nodes.data.recording import RecordingError, valid_label
from latent_nodes.nodes import messages
from latent_nodes.nodes.runner import StartupError, run_node
from latent_nodes.nodes.topic_recorder import TopicRecorder
from latent_nodes.robot.robot_description import RobotDescription, RobotDescriptionError


class RecordNode(Node):
    """Records the demonstration topics and marks episodes on request."""

    def __init__(self, **kwargs) -> None:
        super().__init__("record", **kwargs)
        self.declare_parameter("bag", "demonstrations", ParameterDescriptor(
            description="rosbag2 directory to write (MCAP); must not exist unless overwrite is true", read_only=True))
        self.declare_parameter("overwrite", False, ParameterDescriptor(
            description="replace an existing bag of that name when this one is complete", read_only=True))
        self.declare_parameter("behaviour", BEHAVIOURS[0], ParameterDescriptor(
            description="label of the next episode ~/start_episode opens: your name for the behaviour, which the "
                        "dataset and the model trained on it will use (any name but auto, undecided, end)"))
        reason = valid_label(self.behaviour)
        if reason:
            raise StartupError(f"parameter behaviour: {reason}")
        self.add_on_set_parameters_callback(self.on_set_parameters)
        path = Path(self.get_parameter("bag").value)
        try:
            self.recorder = TopicRecorder(self, path, overwrite=self.get_parameter("overwrite").value)
        except RecordingError as exc:
            raise StartupError(str(exc)) from None
        self.recorder.record(messages.JOINT_STATES, JointState)
        self.recorder.record(messages.BLOCK_POSE, PoseStamped)
        self.recorder.record(messages.ROBOT_DESCRIPTION, String, latched=True)  # the joints bag2dataset reads
        # A second, parsing subscription (the recorder keeps the raw bytes): a description bag2dataset would
        # refuse is said now, once per distinct problem, rather than when the recording is converted.
        self.description_problem: str | None = None
        self.create_subscription(String, messages.ROBOT_DESCRIPTION, self.on_description, QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE))
        self.episode_pub = self.create_publisher(String, EPISODE_TOPIC, 10)
        self.create_service(Trigger, "~/start_episode", self.on_start)
        self.create_service(Trigger, "~/stop_episode", self.on_stop)
        self.get_logger().info(f"recording {messages.JOINT_STATES}, {messages.BLOCK_POSE} and "
                               f"{messages.ROBOT_DESCRIPTION} into {path} (MCAP); next episode: {self.behaviour!r}")

    @property
    def behaviour(self) -> str:
        return str(self.get_parameter("behaviour").value)

    def on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        for p in params:
            if p.name == "behaviour":
                reason = valid_label(str(p.value)) if p.type_ == Parameter.Type.STRING else "must be a string"
                if reason:
                    return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def on_description(self, msg: String) -> None:
        """Parse a received robot description as bag2dataset will; warn once about a problem, record it anyway."""
        try:
            description = RobotDescription.from_urdf(msg.data)
            problem = None if description.commandable else (
                f"robot description {description.name!r} has no commandable joints (revolute, continuous or "
                "prismatic, not mimic)")
        except RobotDescriptionError as exc:
            problem = str(exc)
        if problem is None:
            self.get_logger().info(f"{messages.ROBOT_DESCRIPTION} {description.name!r} received: commandable "
                                   f"joints {list(description.commandable)}")
        elif problem != self.description_problem:
            # bag2dataset reads the last description recorded: a valid one published later mends the bag.
            self.get_logger().warning(f"{messages.ROBOT_DESCRIPTION}: {problem}; recorded all the same, but "
                                      "bag2dataset will refuse this bag unless a valid description is published "
                                      "before recording ends")
        self.description_problem = problem

    def on_start(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        writer, label, now = self.recorder.writer, self.behaviour, self.recorder.now_ns()
        try:
            writer.start_episode(now, label)
        except RecordingError as exc:
            response.success, response.message = False, str(exc)
            self.get_logger().warning(f"not starting an episode: {exc}")
            return response
        self.episode_pub.publish(String(data=label))
        # The mark's time in the reply: a teacher can start moving exactly there (episode step 0).
        response.success = True
        response.message = f"episode {writer.episodes} ({label}) started at t={now * 1e-9:.6f} s"
        self.get_logger().info(response.message)
        return response

    def on_stop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        writer = self.recorder.writer
        try:
            label = writer.stop_episode(self.recorder.now_ns())
        except RecordingError as exc:
            response.success, response.message = False, str(exc)
            self.get_logger().warning(f"not stopping an episode: {exc}")
            return response
        self.episode_pub.publish(String(data=""))
        response.success, response.message = True, f"episode {writer.episodes} ({label}) stopped"
        self.get_logger().info(response.message)
        return response

    def close(self) -> None:
        """Finish the bag (ends an open episode); the runner calls this on every way out."""
        recorder = getattr(self, "recorder", None)
        if recorder is not None and not recorder.writer.closed:
            path = recorder.close()
            self.get_logger().info(f"wrote {path}: {recorder.writer.episodes} episodes, "
                                   f"{recorder.writer.messages} messages")


def main(args: list[str] | None = None) -> int:
    return run_node(RecordNode, "record", args)


if __name__ == "__main__":
    raise SystemExit(main())
