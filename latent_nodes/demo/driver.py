"""The demo's own node: places the block, asks perception for it, and records what the graph answers.

With ``perception: camera`` a pose is only as new as the newest image, and the newest image may show the
block where it was before the demo moved it (or not show it at all while the arm hides it). ``perceive``
therefore waits for a camera frame taken after the block was placed and checks the time perception says
its pose was seen (``~/perceive`` answers ``... seen at t = 12.300 s``), asking again with the next frame
while the answer is older than the move or the block is hidden (docs/camera.md).
"""

from __future__ import annotations

import json
import re
import threading
import time

import numpy as np

SEEN_AT = re.compile(r"seen at t = (-?[0-9.]+) s")
# After a camera frame newer than the move arrives here, the time the perception node (the same executor,
# one thread) is given to detect the block in it before it is asked: detection takes 1.5 ms a frame.
DETECTION_GRACE_S = 0.15


class Driver:
    """The demo's own node: places blocks, asks for perception, and records what comes back."""

    def __init__(self, context) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseStamped
        from rcl_interfaces.msg import Log
        from rclpy.node import Node
        from rclpy.parameter_client import AsyncParameterClient
        from rclpy.qos import QoSProfile, qos_profile_sensor_data
        from sensor_msgs.msg import CameraInfo, JointState
        from std_msgs.msg import Float64, String
        from std_srvs.srv import Trigger
        from trajectory_msgs.msg import JointTrajectory

        from latent_nodes.nodes import messages

        self.node = Node("demo", context=context)
        self.messages = messages
        self.lock = threading.Lock()
        self.block_pub = self.node.create_publisher(PoseStamped, messages.SIM_SET_BLOCK, 10)
        self.reset_client = self.node.create_client(Trigger, "/sim/reset")
        self.perceive_client = self.node.create_client(Trigger, "/perception/perceive")
        self.inference_params = AsyncParameterClient(self.node, "inference")
        self.node.create_subscription(JointState, messages.JOINT_STATES, self.on_joint_states, 50)
        self.node.create_subscription(PoseStamped, messages.SIM_BLOCK_POSE, self.on_block, 10)
        self.node.create_subscription(String, messages.INFERENCE_RESULT, self.on_result, 10)
        self.node.create_subscription(JointTrajectory, messages.COMPLETED_BEHAVIOUR, self.on_trajectory, 10)
        self.node.create_subscription(Float64, messages.TRACKING_ERROR, self.on_tracking_error, 10)
        # A refusal shows on /diagnostics (the inference node's count) whatever the log level; its reason
        # in the node's log line, when the log level lets warnings through to /rosout.
        self.node.create_subscription(Log, "/rosout", self.on_log, QoSProfile(depth=100))
        self.node.create_subscription(DiagnosticArray, messages.DIAGNOSTICS, self.on_diagnostics, 10)
        # The camera's frames, by their CameraInfo (small; the same stamp as the image): with camera
        # perception the driver asks for a pose only once a frame newer than the block's move is out.
        self.node.create_subscription(CameraInfo, messages.CAMERA_COLOR_INFO, self.on_camera_info,
                                      qos_profile_sensor_data)
        self.refused_count = 0
        self.joint_names: list[str] = []
        self.camera = False  # perception from the camera (``perceive`` waits for a newer frame), else the truth
        self.frame_stamp = -1.0  # the newest camera frame's stamp, seconds
        self.block_stamp = -1.0  # when the simulator last reported the block somewhere new, seconds
        self.graced = -1.0  # the newest frame that has had DETECTION_GRACE_S to be detected
        self.stale_answers = 0  # camera: answers with a pose seen before the move (published nonetheless)
        self.hidden_answers = 0  # camera: answers without a pose (the arm hiding the block, or no block)
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.results: list[dict] = []
            self.trajectory_at: float | None = None
            self.trajectory_times: list[float] = []  # every arrival since clear(), monotonic seconds
            self.plans: list[np.ndarray] = []  # their joint positions [steps, joints], in joint_names order
            self.behaviour_start: float | None = None  # a stamped trajectory's start, monotonic seconds
            self.tracking_error: float | None = None
            self.samples: list[tuple[float, np.ndarray]] = []
            self.block: np.ndarray | None = None
            self.refusals: list[str] = []
            self.refused_before = getattr(self, "refused_count", 0)

    # --- callbacks (executor thread) --------------------------------------------------------------------

    def on_joint_states(self, msg) -> None:
        try:
            q = self.messages.joint_positions(msg, self.joint_names)
        except ValueError:
            return
        with self.lock:
            self.samples.append((time.monotonic(), q))
            if len(self.samples) > 5000:  # a trial is a few seconds at 100 Hz; never grow without bound
                del self.samples[:1000]

    def on_block(self, msg) -> None:
        xy = self.messages.block_xy(msg)
        with self.lock:
            if self.block is None or np.linalg.norm(xy - self.block) > 1e-4:
                self.block_stamp = self.messages.time_to_seconds(msg.header.stamp)
            self.block = xy

    def on_camera_info(self, msg) -> None:
        with self.lock:
            self.frame_stamp = max(self.frame_stamp, self.messages.time_to_seconds(msg.header.stamp))

    def on_result(self, msg) -> None:
        with self.lock:
            self.results.append(json.loads(msg.data))

    def on_trajectory(self, msg) -> None:
        stamp = self.messages.time_to_seconds(msg.header.stamp)
        names, _, positions = self.messages.trajectory_arrays(msg)
        try:
            plan = np.asarray(positions, dtype=np.float64)[:, [names.index(n) for n in self.joint_names]]
        except (ValueError, IndexError):  # not this arm's joints: counted as an arrival, no plan kept
            plan = None
        with self.lock:
            if plan is not None:
                self.plans.append(plan)
            self.trajectory_at = time.monotonic()
            self.trajectory_times.append(self.trajectory_at)
            if stamp > 0:  # timed from the behaviour's start (the nodes' clock is the system clock here)
                self.behaviour_start = self.trajectory_at - (time.time() - stamp)

    def on_log(self, msg) -> None:
        if msg.name == "inference" and "refusing block pose" in msg.msg:
            with self.lock:
                self.refusals.append(msg.msg.removeprefix("refusing block pose: "))

    def on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name.startswith("inference:"):
                values = {kv.key: kv.value for kv in status.values}
                with self.lock:
                    self.refused_count = sum(int(values.get(k, 0)) for k in ("refused_out_of_domain",
                                                                               "refused_invalid"))

    def refused(self) -> bool:
        """Whether the inference node refused a pose since ``clear()`` (call with the lock held)."""
        return bool(self.refusals) or self.refused_count > self.refused_before

    def on_tracking_error(self, msg) -> None:
        with self.lock:
            self.tracking_error = float(msg.data)

    # --- steps (main thread) -----------------------------------------------------------------------------

    def wait(self, predicate, timeout: float) -> bool:
        """Whether ``predicate`` (evaluated with the lock held) became true within ``timeout`` s."""
        from latent_nodes.nodes.remote import wait_until

        return wait_until(predicate, timeout, lock=self.lock, poll=0.01)

    def call(self, client, request, timeout: float = 5.0):
        from latent_nodes.nodes.remote import call_service

        return call_service(client, request, timeout)

    def set_behaviour(self, behaviour: str) -> None:
        from latent_nodes.nodes.remote import set_remote_parameter

        set_remote_parameter(self.inference_params, "the inference node", "behaviour", behaviour,
                             f"could not set the behaviour to {behaviour!r}")

    def place(self, xy: np.ndarray, timeout: float) -> bool:
        self.block_pub.publish(self.messages.block_pose(xy, "table"))
        return self.wait(lambda: self.block is not None and np.linalg.norm(self.block - xy) < 1e-3, timeout)

    def wait_frame(self, after: float, timeout: float) -> bool:
        """Whether a camera frame stamped after ``after`` (seconds) arrived within ``timeout`` s, and was
        given ``DETECTION_GRACE_S`` to be detected.
        """
        if self.graced > after:  # that frame has had its time already
            return True
        if not self.wait(lambda: self.frame_stamp > after, timeout):
            return False
        with self.lock:
            frame = self.frame_stamp
        time.sleep(DETECTION_GRACE_S)
        self.graced = frame
        return True

    def perceive(self, timeout: float = 5.0) -> bool:
        """Ask perception to publish the block's pose; with the camera, one seen after the block's last move.

        Truth perception: one call, as the pose is the simulator's at once. Camera: waits for a frame
        newer than the move, asks, and asks again with each next frame while the answer is older than the
        move or has no pose (the arm hides the block: ``mostly_hidden``), up to ``timeout`` s. Whether a
        pose seen after the move was published.
        """
        from std_srvs.srv import Trigger

        if not self.camera:
            self.call(self.perceive_client, Trigger.Request())
            return True
        deadline = time.monotonic() + timeout
        with self.lock:
            moved, tried = self.block_stamp, self.block_stamp
        while time.monotonic() < deadline:
            if not self.wait_frame(tried, deadline - time.monotonic()):
                return False
            with self.lock:
                tried = self.frame_stamp
            answer = self.call(self.perceive_client, Trigger.Request())
            seen = SEEN_AT.search(answer.message) if answer.success else None
            if seen is None:
                self.hidden_answers += 1
                continue
            # The answer's time has 1 ms resolution: half of it more keeps an image from before the move out.
            if float(seen.group(1)) >= moved + 5e-4:
                return True
            self.stale_answers += 1
        return False
