"""What RViz shows: the fingertip path by forward kinematics, and the markers node over real DDS."""

from __future__ import annotations

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import Log
from rclpy.qos import DurabilityPolicy, QoSProfile
from ros_harness import Graph
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import Marker, MarkerArray

from latent_nodes.nodes import messages
from latent_nodes.nodes.markers_node import MARKERS, MarkersNode
from latent_nodes.robot.fingertip_path import fingertip_path
from latent_nodes.sim import arm
from latent_nodes.sim.kinematics import forward_kinematics

NAMES = list(arm.JOINT_NAMES)
HOME = np.asarray(arm.HOME, dtype=np.float64)


def behaviour(n_points: int = 6) -> np.ndarray:
    s = np.sin(np.linspace(0.0, np.pi, n_points))[:, None]
    return HOME + 0.3 * s * np.array([1.0, 0.5, 0.0, -0.5, 0.0, 0.3, 0.0, 0.0, 0.0])


def test_the_path_passes_through_each_point_and_follows_joint_space_in_between():
    q = behaviour()
    path = fingertip_path(NAMES, q, substeps=4)
    assert path.shape == (4 * (len(q) - 1) + 1, 3)
    for k, row in enumerate(q):
        np.testing.assert_allclose(path[4 * k], forward_kinematics(row), atol=1e-12)
    np.testing.assert_allclose(path[2], forward_kinematics(0.5 * (q[0] + q[1])), atol=1e-12)
    # Names in another order are put in the arm's order first.
    order = list(reversed(range(len(NAMES))))
    np.testing.assert_allclose(fingertip_path([NAMES[i] for i in order], q[:, order], substeps=4), path, atol=1e-12)
    assert fingertip_path(NAMES, q[:1]).shape == (1, 3)


@pytest.mark.parametrize("names, q, problem", [
    (NAMES[:-1], np.zeros((2, 8)), "are not the arm's"),
    (NAMES, np.zeros((2, 8)), "expected positions [N, 9]"),
    (NAMES, np.zeros((0, 9)), "expected positions [N, 9]"),
])
def test_bad_trajectories_have_no_path(names, q, problem):
    with pytest.raises(ValueError) as info:
        fingertip_path(names, q)
    assert problem in str(info.value)


def test_the_node_publishes_the_block_and_the_path():
    with Graph() as g:
        g.add(MarkersNode)
        got: list[MarkerArray] = []
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        g.probe.create_subscription(MarkerArray, MARKERS, got.append, latched)
        pose = g.publisher(PoseStamped, messages.BLOCK_POSE)
        trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
        g.start()
        g.wait_for_subscribers(pose)
        g.wait_for_subscribers(trajectory)

        def newest(ns: str) -> Marker | None:
            for array in reversed(got):
                found = [m for m in array.markers if m.ns == ns]
                if found:
                    return found[0]
            return None

        pose.publish(messages.block_pose((0.47, 0.05), "table", z=0.02))
        assert g.wait(lambda: newest("block") is not None)
        block = newest("block")
        assert block.type == Marker.CUBE and block.header.frame_id == "table"
        position = block.pose.position
        assert (position.x, position.y, position.z) == pytest.approx((0.47, 0.05, 0.02))
        assert block.scale.x == pytest.approx(0.04)

        q = behaviour()
        trajectory.publish(messages.joint_trajectory(NAMES, q, 0.1))
        assert g.wait(lambda: newest("fingertip_path") is not None)
        line, dots = newest("fingertip_path"), newest("fingertip_points")
        assert line.type == Marker.LINE_STRIP and dots.type == Marker.SPHERE_LIST
        assert line.header.frame_id == "table" and line.scale.x > 0
        points = np.array([[p.x, p.y, p.z] for p in line.points])
        np.testing.assert_allclose(points, fingertip_path(NAMES, q), atol=1e-9)
        tips = np.array([[p.x, p.y, p.z] for p in dots.points])
        np.testing.assert_allclose(tips, [forward_kinematics(row) for row in q], atol=1e-9)
        assert block.header.frame_id == "table" and newest("block") is not None  # the block stays shown

        # A trajectory of another arm: a warning, and the path shown stays the last good one.
        before = len(got)
        trajectory.publish(messages.joint_trajectory(["a", "b"], np.zeros((3, 2)), 0.1))
        assert g.wait(lambda: any("no fingertip path for this trajectory" in m
                                  for m in g.probe.logs("markers", Log.WARN)))
        assert len(got) == before

        # A display started later still gets the newest markers (transient local).
        late: list[MarkerArray] = []
        g.probe.create_subscription(MarkerArray, MARKERS, late.append, latched)
        assert g.wait(lambda: late)
        assert {m.ns for m in late[-1].markers} == {"block", "fingertip_path", "fingertip_points"}
