"""The inference node's glimpse mode: each block pose is completed once, from the first step's perception.

For each pose the worker runs the core's deployment call (first-step perception -> xi* -> the whole
sequence, ``BehaviourCompleter.complete``) and publishes the trajectory on ``/completed_behaviour``,
stamped zero (start on receipt), and what inference found (xi, z, error, latency, the pose's distances
outside the domain) on ``/inference/result``. The pose checks, the worker and the publishing are the
node's (nodes/inference_node.py); the mode holds no state between poses.
"""

from __future__ import annotations

import time

import numpy as np
from geometry_msgs.msg import PoseStamped

from latent_nodes.nodes.inference_node import InferenceNode, Job


class GlimpseMode:
    """Completes every pose on its own; no behaviour is held between poses, so none takes the poses."""

    holds_behaviour = False

    def __init__(self, node: InferenceNode) -> None:
        self.node = node

    def take_pose(self, xy: np.ndarray, msg: PoseStamped, running: bool) -> bool:
        return False  # every valid pose is a job of its own

    def pose_refused(self) -> None:
        """Nothing is held: a refused pose is simply not completed."""

    def forget_clock(self) -> None:
        """Nothing is timed between poses."""

    def serve(self, job: Job) -> None:
        """One pose: complete the behaviour, publish the trajectory and the result."""
        node = self.node
        try:
            completion = node.completer.complete(job.xy, job.behaviour)
        except ValueError as exc:  # InvalidObservation (checked already, but the model is the judge)
            node.refuse(exc)
            return
        node.publish_trajectory(completion)
        total = time.perf_counter() - job.received
        node.health.latency(total)
        node.publish_result(completion, job, total)
        xi = "-" if completion.xi is None else np.array2string(completion.xi, precision=3)
        node.get_logger().info(
            f"{completion.behaviour} for block ({job.xy[0]:.3f}, {job.xy[1]:.3f}): xi* {xi}, "
            f"error {completion.error:.2e}, {1e3 * completion.latency_s:.1f} ms")
