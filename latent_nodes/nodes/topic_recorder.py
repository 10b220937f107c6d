"""Record ROS topics of a running graph into a bag: what the record node and the demo use.

``TopicRecorder`` hangs raw subscriptions (``raw=True``: the CDR bytes as they arrived, nothing decoded)
on a node and writes each message with its receive time on the node's clock (simulated time under
``use_sim_time``) into a ``latent_nodes.data.recording.BagWriter``. A latched topic (``/robot_description``)
is subscribed transient local, so a description published before recording started is still recorded,
and is marked latched in the bag so that ``ros2 bag play`` offers it the same way.

For the demo, four lines::

    recorder = TopicRecorder(driver.node, out / "demo_bag")
    recorder.record_standard()                      # /joint_states, /block_pose, /completed_behaviour, ...
    ...                                             # run the trials
    recorder.close()                                # in the ``finally``: the bag is complete even on Ctrl-C
"""

from __future__ import annotations

from pathlib import Path

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message

from latent_nodes.data.recording import BagWriter
from latent_nodes.nodes import messages

MARKERS = "/latent_nodes/markers"  # the markers node's MarkerArray (block, fingertip path), transient local


def msgtype(msg_class: type) -> str:
    """``sensor_msgs/msg/JointState`` for the rclpy class (the name bags and typestores use)."""
    package = msg_class.__module__.split(".")[0]
    return f"{package}/msg/{msg_class.__name__}"


def standard_topics() -> list[tuple[str, type, bool]]:
    """(topic, message class, latched) of a run worth replaying: state, block, behaviour, description,
    and the markers (where ``visualization_msgs`` is installed).
    """
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String
    from trajectory_msgs.msg import JointTrajectory

    topics = [(messages.JOINT_STATES, JointState, False), (messages.BLOCK_POSE, PoseStamped, False),
              (messages.COMPLETED_BEHAVIOUR, JointTrajectory, False), (messages.INFERENCE_RESULT, String, False),
              (messages.ROBOT_DESCRIPTION, String, True)]
    try:
        from visualization_msgs.msg import MarkerArray
    except ImportError:  # the wheels without visualization_msgs: nothing publishes markers either
        return topics
    return topics + [(MARKERS, MarkerArray, True)]


class TopicRecorder:
    """Writes what ``node`` receives on the recorded topics into a bag at ``path``."""

    def __init__(self, node: Node, path: str | Path, *, overwrite: bool = False) -> None:
        self.node = node
        self.writer = BagWriter(path, overwrite=overwrite)
        self.subscriptions = []

    def now_ns(self) -> int:
        """The receive time written with a message: the node's clock, one clock for every topic."""
        return self.node.get_clock().now().nanoseconds

    def record(self, topic: str, msg_class: type, *, latched: bool = False, depth: int = 100) -> None:
        """Record ``topic`` from now on.

        Subscriptions are reliable, except ``/block_pose``: the inference node reads it best effort so that
        any perception matches, and only a best-effort subscription hears a best-effort publisher.
        """
        kind = msgtype(msg_class)
        qos = QoSProfile(depth=depth)
        if latched:
            qos = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        elif topic == messages.BLOCK_POSE:
            qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.BEST_EFFORT)

        def on_message(data: bytes) -> None:
            self.writer.write_cdr(topic, kind, self.now_ns(), data, latched=latched)

        self.subscriptions.append(self.node.create_subscription(msg_class, topic, on_message, qos, raw=True))

    def record_standard(self) -> None:
        """Record every topic of ``standard_topics()``."""
        for topic, msg_class, latched in standard_topics():
            self.record(topic, msg_class, latched=latched)

    def write(self, topic: str, msg, *, latched: bool = False) -> None:
        """Record a message this node produced itself (e.g. an episode mark it also publishes)."""
        self.writer.write_cdr(topic, msgtype(type(msg)), self.now_ns(), serialize_message(msg), latched=latched)

    def close(self) -> Path:
        """Stop recording and finish the bag (complete and in place when this returns)."""
        for sub in self.subscriptions:
            self.node.destroy_subscription(sub)
        self.subscriptions = []
        return self.writer.close()
