"""Node executables with a fault built in, for the process tests (test_nodes_process.py).

``python faulty_nodes.py callback``: a node whose subscription callback raises ValueError for the message
"raise" and echoes any other on /faulty/out, with a ``Health`` like the suite's nodes.
``python faulty_nodes.py worker``: the real inference node whose worker thread is killed by the first
pose (its completer raises an exception no per-pose handler catches), to test what happens then.
Both run through ``run_node`` exactly as the suite's executables do.
"""

from __future__ import annotations

import sys

from rclpy.node import Node
from std_msgs.msg import String

from latent_nodes.nodes.diagnostics import OK, Health
from latent_nodes.nodes.inference_node import InferenceNode
from latent_nodes.nodes.runner import run_node

IN, OUT = "/faulty/in", "/faulty/out"


class EchoNode(Node):
    """Echoes /faulty/in on /faulty/out; the message "raise" makes the callback raise."""

    def __init__(self) -> None:
        super().__init__("echo")
        self.pub = self.create_publisher(String, OUT, 10)
        self.create_subscription(String, IN, self.on_message, 10)
        self.health = Health(self, lambda: (OK, "serving", {}), period_s=0.2)
        self.get_logger().info("echoing")

    def on_message(self, msg: String) -> None:
        if msg.data == "raise":
            raise ValueError(f"cannot handle {msg.data!r}")
        self.pub.publish(String(data=msg.data))


class WorkerKilled(BaseException):
    """Not an Exception: passes every per-pose handler, as a bug in the worker's own loop would."""


class DyingWorkerNode(InferenceNode):
    """The inference node, its completer made to kill the worker thread on the first pose after start-up."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)  # the warm-up inference runs as usual

        def killed(*args, **kw):
            raise WorkerKilled("killed on purpose by the test")

        self.completer.complete = killed


if __name__ == "__main__":
    kind = sys.argv[1]
    factory = {"callback": EchoNode, "worker": DyingWorkerNode}[kind]
    raise SystemExit(run_node(factory, {"callback": "echo", "worker": "inference"}[kind]))
