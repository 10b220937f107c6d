"""Perception: where the block is, as a PoseStamped on ``/block_pose`` in the table frame.

A stand-in for a camera. Source ``sim`` reads the simulator's true pose (``/sim/block_pose``) and adds
seeded Gaussian noise if asked; source ``list`` cycles through configured positions (by default the
unseen test positions). A pose is published at once when the block has moved (so moving the block
starts a new behaviour without waiting), again at ``perception_rate`` (so the arm keeps working on a
block that stays put), and on request through ``~/perceive``.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile
from std_srvs.srv import Trigger

from latent_nodes.config import DataConfig, NodesConfig, SimConfig
from latent_nodes.nodes import messages
from latent_nodes.nodes.parameters import declare_section
from latent_nodes.nodes.runner import run_node


def unseen_positions() -> np.ndarray:
    """[N, 2] the unseen test positions of the default data set (Fig. 3's in-between grid)."""
    from latent_nodes.sim.demonstrations import train_test_positions

    return np.asarray(train_test_positions(DataConfig(), SimConfig())[1], dtype=np.float64)


class PerceptionNode(Node):
    """Publishes the perceived block pose: on change, periodically, and on request."""

    def __init__(self, **kwargs) -> None:
        super().__init__("perception", **kwargs)
        self.settings = declare_section(self, NodesConfig, only=[
            "frame_id", "perception_source", "perception_positions", "perception_noise", "perception_rate",
            "perception_min_change", "seed"])
        s = self.settings
        if s.perception_rate < 0 or s.perception_noise < 0 or s.perception_min_change < 0:
            raise ValueError("perception_rate, perception_noise and perception_min_change must be >= 0")
        self.rng = np.random.default_rng(s.seed)
        self.pub = self.create_publisher(PoseStamped, messages.BLOCK_POSE, 10)
        self.truth: np.ndarray | None = None  # [2] latest true position
        self.height = 0.0
        self.last_published: np.ndarray | None = None  # true position behind the last publication
        self.cycle = 0

        if s.perception_source == "sim":
            self.create_subscription(PoseStamped, messages.SIM_BLOCK_POSE, self.on_sim_pose, QoSProfile(depth=1))
            origin = "the simulator's true pose (/sim/block_pose)"
        else:
            flat = np.asarray(s.perception_positions, dtype=np.float64)
            if flat.size % 2:
                raise ValueError(f"perception_positions needs x, y pairs, got {flat.size} numbers")
            self.positions = flat.reshape(-1, 2) if flat.size else unseen_positions()
            if not np.all(np.isfinite(self.positions)):
                raise ValueError("perception_positions must be finite")
            self.truth = self.positions[0]
            origin = f"a list of {len(self.positions)} positions"
            if s.perception_rate == 0:
                raise ValueError("perception_source 'list' cycles at perception_rate, which must be > 0")
        self.create_service(Trigger, "~/perceive", self.on_perceive)
        if s.perception_rate > 0:
            self.create_timer(1.0 / s.perception_rate, self.on_timer)
        self.get_logger().info(f"perceiving from {origin}; noise {s.perception_noise:g} m, "
                               f"rate {s.perception_rate:g} Hz, frame {s.frame_id!r}")

    def on_sim_pose(self, msg: PoseStamped) -> None:
        xy = messages.block_xy(msg)
        if not np.all(np.isfinite(xy)):
            self.get_logger().warning("ignoring a non-finite block pose from the simulator",
                                      throttle_duration_sec=1.0)
            return
        self.truth, self.height = xy, msg.pose.position.z
        threshold = self.settings.perception_min_change
        if threshold > 0 and (self.last_published is None or np.linalg.norm(xy - self.last_published) > threshold):
            self.publish()

    def on_timer(self) -> None:
        if self.settings.perception_source == "list":
            self.truth = self.positions[self.cycle % len(self.positions)]
            self.cycle += 1
        if self.truth is not None:
            self.publish()

    def on_perceive(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.truth is None:
            response.success, response.message = False, "no block seen yet"
            return response
        xy = self.publish()
        response.success, response.message = True, f"block at ({xy[0]:.4f}, {xy[1]:.4f}) m"
        return response

    def publish(self) -> np.ndarray:
        """Publish the current position (plus the seeded noise); returns what was published."""
        noise = self.settings.perception_noise
        xy = self.truth + (self.rng.normal(0.0, noise, 2) if noise > 0 else 0.0)
        self.last_published = self.truth.copy()
        self.pub.publish(messages.block_pose(xy, self.settings.frame_id, self.get_clock().now().to_msg(), self.height))
        return xy


def main(args: list[str] | None = None) -> int:
    return run_node(PerceptionNode, "perception", args)


if __name__ == "__main__":
    raise SystemExit(main())
