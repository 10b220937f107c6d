"""Markers for RViz and Foxglove: the block and the completed behaviour's fingertip path.

Subscribes ``/block_pose`` (best effort, as the inference node) and ``/completed_behaviour``, and
publishes a visualization_msgs/MarkerArray on ``/latent_nodes/markers`` in the block poses' frame
(``frame_id``, the robot description's root link): a red cube where the block is, and the line the
fingertip follows along the newest completed behaviour (``latent_nodes.robot.fingertip_path``, forward
kinematics of the arm) with a dot at each of its points. The publisher is transient local, so a
display started later still gets the newest markers. A trajectory that is not the arm's is ignored
with a warning.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point, PoseStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import ColorRGBA
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import Marker, MarkerArray

from latent_nodes.config import NodesConfig, SimConfig
from latent_nodes.nodes import messages
from latent_nodes.nodes.parameters import declare_section
from latent_nodes.nodes.runner import run_node
from latent_nodes.robot.fingertip_path import fingertip_path

MARKERS = "/latent_nodes/markers"
BLOCK_NS, PATH_NS, POINTS_NS = "block", "fingertip_path", "fingertip_points"
RED = ColorRGBA(r=0.85, g=0.08, b=0.06, a=1.0)
GREEN = ColorRGBA(r=0.1, g=0.75, b=0.2, a=1.0)
LINE_WIDTH = 0.004  # m
DOT = 0.012  # m, diameter of a trajectory point's dot


def block_marker(pose: PoseStamped, size: float) -> Marker:
    m = Marker(ns=BLOCK_NS, id=0, type=Marker.CUBE, action=Marker.ADD, color=RED)
    m.header.frame_id = pose.header.frame_id
    m.pose = pose.pose
    m.scale.x = m.scale.y = m.scale.z = float(size)
    return m


def path_markers(frame_id: str, path: np.ndarray, knots: np.ndarray) -> list[Marker]:
    """The fingertip's line (LINE_STRIP through ``path``) and dots at the trajectory's points ``knots``."""
    line = Marker(ns=PATH_NS, id=0, type=Marker.LINE_STRIP, action=Marker.ADD, color=GREEN)
    dots = Marker(ns=POINTS_NS, id=0, type=Marker.SPHERE_LIST, action=Marker.ADD, color=GREEN)
    for marker, points in ((line, path), (dots, knots)):
        marker.header.frame_id = frame_id
        marker.pose.orientation.w = 1.0
        marker.points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in points]
    line.scale.x = LINE_WIDTH
    dots.scale.x = dots.scale.y = dots.scale.z = DOT
    return [line, dots]


class MarkersNode(Node):
    """Turns block poses and completed behaviours into markers."""

    def __init__(self, **kwargs) -> None:
        super().__init__("markers", **kwargs)
        self.settings = declare_section(self, NodesConfig, only=["frame_id"])
        self.sim = declare_section(self, SimConfig, only=["block_size"], prefix="sim.")
        self.pub = self.create_publisher(MarkerArray, MARKERS,
                                         QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.block: Marker | None = None
        self.path: list[Marker] = []
        self.create_subscription(PoseStamped, messages.BLOCK_POSE, self.on_pose,
                                 QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.create_subscription(JointTrajectory, messages.COMPLETED_BEHAVIOUR, self.on_trajectory, 10)
        self.get_logger().info(f"markers of the block and the fingertip path on {MARKERS}")

    def on_pose(self, msg: PoseStamped) -> None:
        if msg.header.frame_id != self.settings.frame_id or not np.all(np.isfinite(messages.block_xy(msg))):
            return  # the inference node refuses it and says why; nothing to show
        self.block = block_marker(msg, self.sim.block_size)
        self.publish()

    def on_trajectory(self, msg: JointTrajectory) -> None:
        names, _, positions = messages.trajectory_arrays(msg)
        try:
            knots = np.asarray(positions, dtype=np.float64)
            path = fingertip_path(names, knots)
            tips = fingertip_path(names, knots, substeps=1)
        except ValueError as exc:
            self.get_logger().warning(f"no fingertip path for this trajectory: {exc}")
            return
        self.path = path_markers(self.settings.frame_id, path, tips)
        self.publish()

    def publish(self) -> None:
        markers = ([self.block] if self.block is not None else []) + self.path
        stamp = self.get_clock().now().to_msg()
        for m in markers:
            m.header.stamp = stamp
        self.pub.publish(MarkerArray(markers=markers))


def main(args: list[str] | None = None) -> int:
    return run_node(MarkersNode, "markers", args)


if __name__ == "__main__":
    raise SystemExit(main())
