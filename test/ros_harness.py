"""Helpers for the node tests: a tiny model, and a graph of real rclpy nodes spun in the background.

Nothing here mocks ROS: nodes talk over DDS in the session's own domain (see conftest.py). A ``Probe``
node records what the graph publishes, including every log line (from ``/rosout``), so tests can check
that bad input produced exactly the message it should and no command.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import Log
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSDurabilityPolicy, QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, String
from trajectory_msgs.msg import JointTrajectory

from latent_nodes.nodes import messages

from synthetic import tiny_checkpoint


def train_tiny_model(path: Path) -> Path:
    """A small model on synthetic behaviours mapped onto the arm's joints, saved to ``path`` (seconds)."""
    from latent_nodes.model.checkpoint import save_checkpoint
    from latent_nodes.sim import arm

    ckpt = tiny_checkpoint(arm.JOINT_NAMES, arm.JOINT_LOWER, arm.JOINT_UPPER, arm.HOME)
    ckpt.config.inference.steps = 10
    save_checkpoint(path, ckpt)
    return path


class Probe(Node):
    """Records the graph's outputs: trajectories, commands, results, tracking errors and log lines."""

    def __init__(self, context) -> None:
        super().__init__("probe", context=context)
        self.lock = threading.Lock()
        self.got: dict[str, list] = defaultdict(list)
        for topic, kind in ((messages.COMPLETED_BEHAVIOUR, JointTrajectory), (messages.JOINT_COMMAND, JointState),
                            (messages.INFERENCE_RESULT, String), (messages.TRACKING_ERROR, Float64),
                            (messages.JOINT_STATES, JointState), (messages.BLOCK_POSE, PoseStamped),
                            (messages.DIAGNOSTICS, DiagnosticArray)):
            self.create_subscription(kind, topic, lambda msg, t=topic: self.record(t, msg), 100)
        rosout = QoSProfile(depth=1000, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        self.create_subscription(Log, "/rosout", lambda msg: self.record("/rosout", msg), rosout)

    def record(self, topic: str, msg) -> None:
        with self.lock:
            self.got[topic].append(msg)
            if topic == messages.JOINT_STATES and len(self.got[topic]) > 2000:
                del self.got[topic][:1000]

    def count(self, topic: str) -> int:
        with self.lock:
            return len(self.got[topic])

    def last(self, topic: str):
        with self.lock:
            return self.got[topic][-1] if self.got[topic] else None

    def logs(self, node: str, level: int | None = None) -> list[str]:
        with self.lock:
            return [m.msg for m in self.got["/rosout"] if m.name == node and (level is None or m.level >= level)]


class Graph:
    """Nodes of the suite in one rclpy context, spun on a background thread; use as a context manager.

    Add the nodes first, then ``start()``: the executor's wait set is built once with everything in it.
    """

    def __init__(self) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.nodes: list[Node] = []
        self.probe = Probe(self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.probe)
        self.spinner = threading.Thread(target=self.executor.spin, daemon=True)

    def add(self, node_cls, **params):
        """Create a node of ``node_cls`` with parameter overrides (name=value)."""
        node = node_cls(context=self.context,
                        parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def start(self) -> Graph:
        self.spinner.start()
        return self

    def publisher(self, kind, topic: str):
        return self.probe.create_publisher(kind, topic, 10)

    def wait(self, predicate, timeout: float = 5.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            time.sleep(0.01)
        return bool(predicate())

    def wait_for_subscribers(self, publisher, count: int = 1, timeout: float = 5.0) -> None:
        assert self.wait(lambda: publisher.get_subscription_count() >= count, timeout), \
            f"nobody subscribed to {publisher.topic_name}"

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        # Let a callback still running on the spinner finish before its node is destroyed under it.
        if self.spinner.is_alive():
            self.spinner.join(timeout=5.0)
        for node in reversed(self.nodes):
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        self.probe.destroy_node()
        rclpy.try_shutdown(context=self.context)
        if self.spinner.is_alive():
            self.spinner.join(timeout=2.0)
