"""Perception: where the block is, as a PoseStamped on ``/block_pose`` in the table frame.

Three sources. ``camera`` finds the block in the RGB-D camera's images (``/camera/color/image_raw`` with
its CameraInfo, and ``/camera/depth/image_raw`` with ``perception_use_depth``) with the OpenCV detector
of ``latent_nodes.perception.block_detector``; the camera's pose in the table frame comes from
``perception_camera_pose`` or, left empty, from the fixed joints of ``/robot_description`` down to the
images' frame. Its poses carry the image's stamp (when the block was seen, not when it was computed),
and ``/block_pose/covariance`` carries the same pose with a variance that grows as less of the block is
visible. An image that gives no pose (no CameraInfo yet, an invalid K, an unsupported encoding, a size
that disagrees, no block, two red objects, a block mostly hidden by the arm, a red thing larger than
the block) publishes nothing, logs one warning a second and is counted by reason on ``/diagnostics``;
the next image is read as usual.
Source ``sim`` reads the simulator's true pose (``/sim/block_pose``, stamp carried) and adds seeded
Gaussian noise if asked; source ``list`` cycles through configured positions (by default the unseen
test positions). A pose is published at once when the block has moved (so moving the block starts a
new behaviour without waiting), again at ``perception_rate`` (so the arm keeps working on a block that
stays put: for the camera, only while the newest image showed it), and on request through
``~/perceive``.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from latent_nodes.config import DataConfig, NodesConfig, SimConfig
from latent_nodes.nodes import messages
from latent_nodes.nodes.diagnostics import OK, WARN, Health
from latent_nodes.nodes.parameters import declare_section
from latent_nodes.nodes.runner import run_node
from latent_nodes.perception.block_detector import CameraModel, DetectorSettings, Refusal, detect_block
from latent_nodes.perception.camera_geometry import CameraPose
from latent_nodes.perception.extrinsics import camera_pose_from_urdf

# A depth image is paired with the colour image of the same stamp (a registered RGB-D pair), within this.
DEPTH_PAIRING_S = 0.005
# /block_pose/covariance: the standard deviation of a fully visible block's position (between the plane
# method's p50, 0.30 mm, and p99, 0.87 mm, at 640 x 480: docs/camera.md), growing as 1 / visible fraction.
POSE_STD_M = 0.0005


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
            "perception_min_change", "seed", "perception_use_depth", "perception_min_visible",
            "perception_camera_pose"])
        self.sim_cfg = declare_section(self, SimConfig, only=["block_size"], prefix="sim.")
        s = self.settings
        if s.perception_rate < 0 or s.perception_noise < 0 or s.perception_min_change < 0:
            raise ValueError("perception_rate, perception_noise and perception_min_change must be >= 0")
        self.rng = np.random.default_rng(s.seed)
        self.pub = self.create_publisher(PoseStamped, messages.BLOCK_POSE, 10)
        self.truth: np.ndarray | None = None  # [2] latest true position
        self.height = 0.0
        self.last_published: np.ndarray | None = None  # true position behind the last publication
        self.cycle = 0
        self.stamp_of_truth = None  # the stamp of the observation behind ``truth`` (sim and camera sources)

        if s.perception_source == "sim":
            self.create_subscription(PoseStamped, messages.SIM_BLOCK_POSE, self.on_sim_pose, QoSProfile(depth=1))
            origin = "the simulator's true pose (/sim/block_pose)"
        elif s.perception_source == "camera":
            origin = self.start_camera()
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

    # --- source camera -----------------------------------------------------------------------------------

    def start_camera(self) -> str:
        """Subscribe the camera's topics and set up the detector; returns where poses come from, for the log."""
        s = self.settings
        self.detector = DetectorSettings(block_size=self.sim_cfg.block_size, min_visible=s.perception_min_visible)
        self.info: CameraInfo | None = None
        self.camera_pose: CameraPose | None = None
        self.camera_frame = ""  # the optical frame the pose above belongs to
        self.description: str | None = None
        self.depth: Image | None = None
        self.detection = None  # the newest image's detection, None when it showed no block
        self.refusal = ""  # the newest refusal's reason and message
        self.health = Health(self, self.camera_status)
        self.covariance_pub = self.create_publisher(PoseWithCovarianceStamped, messages.BLOCK_POSE_COVARIANCE, 10)
        # Best effort and a short queue: matches any camera driver, and an old frame is worth nothing.
        self.create_subscription(Image, messages.CAMERA_COLOR_IMAGE, self.on_image, qos_profile_sensor_data)
        self.create_subscription(CameraInfo, messages.CAMERA_COLOR_INFO, self.on_camera_info, qos_profile_sensor_data)
        if s.perception_use_depth:
            self.create_subscription(Image, messages.CAMERA_DEPTH_IMAGE, self.on_depth, qos_profile_sensor_data)
        if s.perception_camera_pose:
            self.camera_pose = CameraPose.from_xyz_rpy(s.perception_camera_pose)
            where = "perception_camera_pose"
        else:
            description_qos = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
                                         reliability=QoSReliabilityPolicy.RELIABLE)
            self.create_subscription(String, messages.ROBOT_DESCRIPTION, self.on_description, description_qos)
            where = "/robot_description"
        return (f"the camera ({messages.CAMERA_COLOR_IMAGE}{' + depth' if s.perception_use_depth else ''}; "
                f"extrinsics from {where}; min visible {s.perception_min_visible:g})")

    def on_camera_info(self, msg: CameraInfo) -> None:
        self.info = msg

    def on_depth(self, msg: Image) -> None:
        self.depth = msg

    def on_description(self, msg: String) -> None:
        self.description = msg.data
        self.camera_frame = ""  # read the chain again for the next image's frame

    def extrinsics(self, frame: str) -> CameraPose:
        """The pose of optical frame ``frame`` in frame_id: the parameter's, or from the description."""
        if self.settings.perception_camera_pose:
            return self.camera_pose
        if self.description is None:
            raise Refusal("no_extrinsics", "no /robot_description yet, and perception_camera_pose is empty")
        if frame != self.camera_frame:
            try:
                self.camera_pose = camera_pose_from_urdf(self.description, self.settings.frame_id, frame)
            except ValueError as exc:
                raise Refusal("no_extrinsics", f"camera frame {frame!r}: {exc}") from None
            self.camera_frame = frame
        return self.camera_pose

    def on_image(self, msg: Image) -> None:
        try:
            detection = self.detect(msg)
        except Refusal as exc:
            self.detection = None
            self.refusal = f"{exc.reason}: {exc}"
            self.health.count(exc.reason, event=True)
            self.get_logger().warning(f"no block pose from the image: {exc}", throttle_duration_sec=1.0)
            return
        self.health.count("detected")
        self.detection = detection
        self.truth, self.height, self.stamp_of_truth = detection.xyz[:2], float(detection.xyz[2]), msg.header.stamp
        threshold = self.settings.perception_min_change
        if threshold > 0 and (self.last_published is None or np.linalg.norm(self.truth - self.last_published)
                              > threshold):
            self.publish()

    def detect(self, msg: Image):
        """The detection in one colour image, or a Refusal naming why there is none."""
        if self.info is None:
            raise Refusal("no_camera_info", f"no CameraInfo on {messages.CAMERA_COLOR_INFO} yet")
        try:
            rgb = messages.image_array(msg, ("rgb8", "bgr8"))
        except messages.ImageError as exc:
            raise Refusal(exc.reason, str(exc)) from None
        k, width, height = messages.camera_intrinsics(self.info)
        frame = msg.header.frame_id or self.info.header.frame_id
        camera = CameraModel(k=k, width=width, height=height, pose=self.extrinsics(frame))  # Refusal: invalid_k
        depth = None
        if self.depth is not None and abs(messages.time_to_seconds(self.depth.header.stamp)
                                          - messages.time_to_seconds(msg.header.stamp)) <= DEPTH_PAIRING_S:
            try:
                depth = messages.image_array(self.depth, ("32FC1", "16UC1"))
            except messages.ImageError as exc:
                raise Refusal(exc.reason, f"depth image: {exc}") from None
        return detect_block(rgb, camera, self.detector, depth=depth)

    def camera_status(self) -> tuple[int, str, dict]:
        """/diagnostics: WARN while the newest image gave no pose (and why), OK otherwise."""
        d = self.detection
        values = {"visible_fraction": d.visible_fraction if d else 0.0, "area_px": d.area_px if d else 0,
                  "pieces": d.pieces if d else 0, "method": d.method if d else ""}
        if d is None:
            return WARN, self.refusal or "no image yet", values
        return OK, f"block at ({d.xyz[0]:.3f}, {d.xyz[1]:.3f}) m, {d.visible_fraction:.0%} visible", values

    # --- source sim ----------------------------------------------------------------------------------------

    def on_sim_pose(self, msg: PoseStamped) -> None:
        xy = messages.block_xy(msg)
        if not np.all(np.isfinite(xy)):
            self.get_logger().warning("ignoring a non-finite block pose from the simulator",
                                      throttle_duration_sec=1.0)
            return
        self.truth, self.height, self.stamp_of_truth = xy, msg.pose.position.z, msg.header.stamp
        threshold = self.settings.perception_min_change
        if threshold > 0 and (self.last_published is None or np.linalg.norm(xy - self.last_published) > threshold):
            self.publish()

    def on_timer(self) -> None:
        if self.settings.perception_source == "list":
            self.truth = self.positions[self.cycle % len(self.positions)]
            self.cycle += 1
        if self.truth is not None and self.seen_now():
            self.publish()

    def seen_now(self) -> bool:
        """Whether the newest observation shows the block (a camera's last image may have lost it)."""
        return self.settings.perception_source != "camera" or self.detection is not None

    def on_perceive(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.truth is None or not self.seen_now():
            response.success = False
            response.message = f"no block seen ({self.refusal})" if self.refusal else "no block seen yet"
            return response
        xy = self.publish()
        response.success, response.message = True, f"block at ({xy[0]:.4f}, {xy[1]:.4f}) m"
        if self.stamp_of_truth is not None:  # when it was seen: a caller that just moved the block can tell
            response.message += f", seen at t = {messages.time_to_seconds(self.stamp_of_truth):.3f} s"
        return response

    def publish(self) -> np.ndarray:
        """Publish the current position (plus the seeded noise); returns what was published.

        Stamped with the observation's time (the image's, the simulator's pose's) where there is one, so a
        consumer knows when the block was there; the list source's poses are stamped now.
        """
        noise = self.settings.perception_noise
        xy = self.truth + (self.rng.normal(0.0, noise, 2) if noise > 0 else 0.0)
        self.last_published = self.truth.copy()
        stamp = self.stamp_of_truth if self.stamp_of_truth is not None else self.get_clock().now().to_msg()
        pose = messages.block_pose(xy, self.settings.frame_id, stamp, self.height)
        self.pub.publish(pose)
        if self.settings.perception_source == "camera" and self.detection is not None:
            std = POSE_STD_M / max(self.detection.visible_fraction, 1e-3)
            self.covariance_pub.publish(messages.pose_with_covariance(pose, std ** 2, std ** 2))
        return xy


def main(args: list[str] | None = None) -> int:
    return run_node(PerceptionNode, "perception", args)


if __name__ == "__main__":
    raise SystemExit(main())
