"""The camera source over DDS: the sim node's rendered images in, /block_pose with the image's stamp out.

Real rclpy nodes in one context (test/ros_harness.py), nothing mocked. The sim node renders at 320 x 240,
2 Hz (software rendering: 30-120 ms a frame); the pose bound is test_block_detector's (the benchmark's
maximum at 320 x 240). 1-8 s each on the 2-core development machine (about 20 s for the file, with the
tiny model the graph test trains).
"""

import threading

import numpy as np
import pytest
from geometry_msgs.msg import PoseWithCovarianceStamped
from rcl_interfaces.msg import Log
from rclpy.qos import qos_profile_sensor_data
from ros_harness import Graph
from sensor_msgs.msg import CameraInfo, Image

from latent_nodes.config import CameraConfig
from latent_nodes.nodes import messages
from latent_nodes.nodes.perception_node import PerceptionNode
from latent_nodes.nodes.sim_node import SimNode
from latent_nodes.perception.camera_geometry import rotation_to_rpy
from latent_nodes.sim.camera import camera_pose, intrinsics
from latent_nodes.sim.simulator import ArmSimulator, RenderUnavailable

CAMERA = CameraConfig(width=320, height=240, depth=False)
BOUND_M = 0.0017  # test_block_detector.BOUND_M: the benchmark's maximum at 320 x 240
WARN = int.from_bytes(Log.WARN, "little") if isinstance(Log.WARN, bytes) else Log.WARN


def stamp_key(stamp) -> tuple[int, int]:
    return stamp.sec, stamp.nanosec


def perception_status(probe):
    """The newest /diagnostics status of the perception node, as (level, message, values)."""
    with probe.lock:
        arrays = list(probe.got[messages.DIAGNOSTICS])
    for array in reversed(arrays):
        for status in array.status:
            if status.name.startswith("perception"):
                return int.from_bytes(status.level, "little"), status.message, {v.key: v.value for v in status.values}
    return None


@pytest.fixture(scope="module")
def frame():
    """A rendered 320 x 240 frame with the block at (0.5, -0.05), and its truth."""
    with ArmSimulator(camera_cfg=CAMERA) as sim:
        sim.set_block(0.5, -0.05)
        try:
            rgb, _ = sim.camera_images()
        except RenderUnavailable as exc:
            pytest.skip(f"offscreen rendering unavailable: {exc}")
        return rgb, sim.block_xy


def test_sim_camera_to_block_pose_carries_the_image_stamp():
    with Graph() as g:
        lock, image_stamps, covariances = threading.Lock(), set(), []

        def on_image(msg: Image) -> None:
            with lock:
                image_stamps.add(stamp_key(msg.header.stamp))

        g.probe.create_subscription(Image, messages.CAMERA_COLOR_IMAGE, on_image, qos_profile_sensor_data)
        g.probe.create_subscription(PoseWithCovarianceStamped, messages.BLOCK_POSE_COVARIANCE, covariances.append, 10)
        sim = g.add(SimNode, **{"camera.rate": 2.0, "camera.width": CAMERA.width, "camera.height": CAMERA.height,
                                "camera.depth": False})
        g.add(PerceptionNode, perception_source="camera", perception_rate=0.0)
        g.start()
        assert g.wait(lambda: g.probe.count(messages.BLOCK_POSE) >= 1 and covariances, timeout=60.0), \
            f"no /block_pose from the camera; perception said {g.probe.logs('perception')}"
        pose = g.probe.last(messages.BLOCK_POSE)
        with lock:
            assert stamp_key(pose.header.stamp) in image_stamps  # the image's stamp, not the time of detection
        assert pose.header.frame_id == "table"
        truth = sim.sim.block_xy
        assert np.linalg.norm(messages.block_xy(pose) - truth) <= BOUND_M
        assert stamp_key(covariances[0].header.stamp) == stamp_key(pose.header.stamp)
        # (0.5 mm / visible fraction) squared, the fraction of a fully visible block between 0.9 and 1.05
        assert (0.0005 / 1.05) ** 2 <= covariances[0].pose.covariance[0] <= (0.0005 / 0.9) ** 2


def test_bad_images_are_refused_counted_and_throttled_and_the_node_keeps_serving(frame):
    rgb, truth = frame
    pose = camera_pose(CAMERA)
    xyz_rpy = [*pose.position.tolist(), *rotation_to_rpy(pose.rotation)]
    k = intrinsics(CAMERA)
    with Graph() as g:
        g.add(PerceptionNode, perception_source="camera", perception_rate=0.0, perception_camera_pose=xyz_rpy)
        images = g.publisher(Image, messages.CAMERA_COLOR_IMAGE)
        infos = g.publisher(CameraInfo, messages.CAMERA_COLOR_INFO)
        g.start()
        g.wait_for_subscribers(images)
        g.wait_for_subscribers(infos)

        def refused(reason: str) -> bool:
            status = perception_status(g.probe)
            return status is not None and int(status[2].get(reason, "0")) >= 1 and reason in status[1]

        def feed(make, reason: str) -> None:
            assert g.wait(lambda: (images.publish(make()), refused(reason))[1], timeout=20.0), \
                f"{reason} not reported; diagnostics {perception_status(g.probe)}"

        stamp = messages.seconds_to_time(100.0)
        good = messages.image(rgb, "rgb8", CAMERA.frame_id, stamp)
        feed(lambda: good, "no_camera_info")
        infos.publish(messages.camera_info(np.zeros((3, 3)), 320, 240, CAMERA.frame_id))
        feed(lambda: (infos.publish(messages.camera_info(np.zeros((3, 3)), 320, 240, CAMERA.frame_id)), good)[1],
             "invalid_k")
        info = messages.camera_info(k, 320, 240, CAMERA.frame_id)
        mono = messages.image(rgb, "rgb8", CAMERA.frame_id, stamp)
        mono.encoding = "mono8"
        feed(lambda: (infos.publish(info), mono)[1], "unsupported_encoding")
        empty = messages.image(rgb[:0], "rgb8", CAMERA.frame_id, stamp)
        feed(lambda: empty, "bad_size")
        feed(lambda: messages.image(rgb[:120], "rgb8", CAMERA.frame_id, stamp), "size_mismatch")
        feed(lambda: messages.image(np.broadcast_to(rgb[5, 5], rgb.shape), "rgb8", CAMERA.frame_id, stamp),
             "no_block")
        two = rgb.copy()
        two[:, 200:] = rgb[:, 120:240]  # the block's column again, 80 px to the right
        feed(lambda: messages.image(two, "rgb8", CAMERA.frame_id, stamp), "several_candidates")
        assert g.probe.count(messages.BLOCK_POSE) == 0
        level, _, values = perception_status(g.probe)
        assert level == 1  # WARN while the newest image gave no pose
        # Throttled: at most one warning a second, however many images were refused.
        refusals = sum(int(values.get(r, "0")) for r in ("no_camera_info", "invalid_k", "unsupported_encoding",
                                                         "bad_size", "size_mismatch", "no_block",
                                                         "several_candidates"))
        warnings = g.probe.logs("perception", WARN)
        assert len(warnings) < refusals, (len(warnings), refusals)

        # Still serving: a good image gives its pose, stamped with the image's stamp.
        images.publish(good)
        assert g.wait(lambda: g.probe.count(messages.BLOCK_POSE) >= 1 or (images.publish(good), False)[1], 20.0)
        out = g.probe.last(messages.BLOCK_POSE)
        assert stamp_key(out.header.stamp) == (100, 0)
        assert np.linalg.norm(messages.block_xy(out) - truth) <= BOUND_M


def test_sim_source_carries_the_simulators_stamp():
    """Source sim used to stamp /block_pose with now(), losing when the block was there."""
    from geometry_msgs.msg import PoseStamped

    with Graph() as g:
        g.add(PerceptionNode, perception_source="sim", perception_rate=0.0)
        truth = g.publisher(PoseStamped, messages.SIM_BLOCK_POSE)
        g.start()
        g.wait_for_subscribers(truth)
        sent = messages.block_pose((0.45, 0.05), "table", messages.seconds_to_time(42.5), z=0.02)
        assert g.wait(lambda: g.probe.count(messages.BLOCK_POSE) >= 1 or (truth.publish(sent), False)[1], 20.0)
        assert stamp_key(g.probe.last(messages.BLOCK_POSE).header.stamp) == (42, 500_000_000)
        # ~/perceive says when the pose it publishes was observed.
        from std_srvs.srv import Trigger

        client = g.probe.create_client(Trigger, "/perception/perceive")
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(Trigger.Request())
        assert g.wait(future.done, timeout=10.0)
        assert future.result().success and future.result().message.endswith("seen at t = 42.500 s")


def test_without_extrinsics_images_are_refused_until_the_description_arrives(frame):
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile
    from std_msgs.msg import String

    from latent_nodes.sim.urdf import build_urdf

    rgb, truth = frame
    with Graph() as g:
        g.add(PerceptionNode, perception_source="camera", perception_rate=0.0)
        images = g.publisher(Image, messages.CAMERA_COLOR_IMAGE)
        infos = g.publisher(CameraInfo, messages.CAMERA_COLOR_INFO)
        g.start()
        g.wait_for_subscribers(images)
        info = messages.camera_info(intrinsics(CAMERA), 320, 240, CAMERA.frame_id)
        good = messages.image(rgb, "rgb8", CAMERA.frame_id, messages.seconds_to_time(7.0))

        def refused() -> bool:
            infos.publish(info)
            images.publish(good)
            status = perception_status(g.probe)
            return status is not None and int(status[2].get("no_extrinsics", "0")) >= 1

        assert g.wait(refused, timeout=20.0), perception_status(g.probe)
        assert g.probe.count(messages.BLOCK_POSE) == 0
        latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        description = g.probe.create_publisher(String, messages.ROBOT_DESCRIPTION, latched)
        description.publish(String(data=build_urdf(camera_cfg=CAMERA)))
        assert g.wait(lambda: g.probe.count(messages.BLOCK_POSE) >= 1 or (images.publish(good), False)[1], 20.0)
        assert np.linalg.norm(messages.block_xy(g.probe.last(messages.BLOCK_POSE)) - truth) <= BOUND_M


def test_camera_source_graph_pose_in_trajectory_out(tiny_model):
    """The whole graph with the camera as the only eye: rendered image -> /block_pose -> trajectory."""
    from latent_nodes.inference.completion import BehaviourCompleter
    from latent_nodes.nodes.commander_node import CommanderNode
    from latent_nodes.nodes.inference_node import InferenceNode

    with Graph() as g:
        sim = g.add(SimNode, **{"camera.rate": 2.0, "camera.width": CAMERA.width, "camera.height": CAMERA.height,
                                "camera.depth": False})
        g.add(PerceptionNode, perception_source="camera")
        g.add(InferenceNode, model_path=str(tiny_model), behaviour="reach")
        g.add(CommanderNode)
        g.start()
        assert g.wait(lambda: g.probe.count(messages.COMPLETED_BEHAVIOUR) >= 1, timeout=60.0), \
            f"no trajectory; perception said {g.probe.logs('perception')}"
        seen = messages.block_xy(g.probe.got[messages.BLOCK_POSE][0])
        assert np.linalg.norm(seen - sim.sim.block_xy) <= BOUND_M
        expected = BehaviourCompleter.from_checkpoint(tiny_model).complete(seen, "reach")
        traj = g.probe.got[messages.COMPLETED_BEHAVIOUR][0]
        np.testing.assert_allclose([list(p.positions) for p in traj.points], expected.joints, atol=1e-6)
        assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) >= 1, timeout=10.0)  # the arm executed it
