"""The embedded world: the MuJoCo arm stepped in real time behind the topic contract.

Takes joint position targets on ``/joint_command``, publishes all joints on ``/joint_states`` and the
block's true pose on ``/sim/block_pose``; ``/sim/set_block`` moves the block and ``/sim/reset`` puts the
arm back home, so a demo can run many trials. With ``publish_clock`` it also publishes ``/clock`` from
the simulated time, for nodes running with ``use_sim_time``; that clock never runs backwards, also not
across a reset. With ``lockstep`` the physics does not follow the wall clock: each ``/joint_command``
received advances it by exactly one period (1 / ``joint_state_rate``) and publishes the state it reached,
so a driver that sends the next target only after that state has arrived (``latent-nodes teach``) gets
the same motion on any machine, under any load. At start-up it publishes the arm's URDF
(``latent_nodes.sim.urdf``, with the fixed RGB-D camera's links) once on ``/robot_description``,
transient local as robot_state_publisher does, so RViz, robot_state_publisher or a ros2_control driver
that starts later still receives it. The CoppeliaSim scene script (``coppeliasim/latent_nodes_bridge.lua``)
serves the same topics except the description, so either world can sit behind the commander.

With ``camera.rate`` > 0 it renders the RGB-D camera (``latent_nodes.sim.camera``) on a thread of its
own, from a copy of the state taken under the physics lock, and publishes ``/camera/color/image_raw``
(rgb8), ``/camera/depth/image_raw`` (32FC1 metres, with ``camera.depth``) and their CameraInfo, all
stamped with the time of the state drawn, as ``/joint_states`` are (simulated time with
``publish_clock``). Rendering in software costs 30-200 ms a frame
(docs/camera.md), so it is off by default and never runs on the executor: the physics and
``/joint_states`` keep their timing while a frame renders.
"""

from __future__ import annotations

import threading
import time

import mujoco
import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from latent_nodes.config import CameraConfig, NodesConfig, SimConfig
from latent_nodes.nodes import messages
from latent_nodes.nodes.parameters import declare_section
from latent_nodes.nodes.runner import run_node
from latent_nodes.sim import arm
from latent_nodes.sim.camera import CameraRenderer, RenderUnavailable, intrinsics
from latent_nodes.sim.simulator import ArmSimulator
from latent_nodes.sim.urdf import build_urdf

# The physics never catches up more than this in one tick, so a stalled process does not fast-forward.
MAX_CATCH_UP_S = 0.1
# The robot description is published once and kept for late subscribers: the QoS robot_state_publisher uses.
DESCRIPTION_QOS = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=QoSReliabilityPolicy.RELIABLE)
# Images: reliable (what a camera driver offers by default), only the newest two kept.
IMAGE_QOS = QoSProfile(depth=2, reliability=QoSReliabilityPolicy.RELIABLE)


class SimNode(Node):
    """Steps the simulator on a wall-clock timer and serves the world's side of the topic contract."""

    def __init__(self, **kwargs) -> None:
        super().__init__("sim", **kwargs)
        self.settings = declare_section(self, NodesConfig, only=[
            "frame_id", "joint_state_rate", "block_pose_rate", "publish_clock", "lockstep"])
        self.sim_cfg = declare_section(self, SimConfig, prefix="sim.")
        self.camera_cfg = declare_section(self, CameraConfig, prefix="camera.")
        if not self.settings.joint_state_rate > 0 or not self.settings.block_pose_rate > 0:
            raise ValueError("joint_state_rate and block_pose_rate must be positive")
        self.names = list(arm.JOINT_NAMES)
        # The physics is touched from the timer and from message callbacks; in the single-process demo
        # those may run on different executor threads.
        self.lock = threading.Lock()
        self.sim = ArmSimulator(self.sim_cfg, self.camera_cfg)
        self.sim.reset()
        self.time_offset = 0.0  # simulated seconds before the last reset (the simulator restarts at 0)

        self.joint_pub = self.create_publisher(JointState, messages.JOINT_STATES, 10)
        self.block_pub = self.create_publisher(PoseStamped, messages.SIM_BLOCK_POSE, 10)
        self.clock_pub = self.create_publisher(ClockMsg, "/clock", 10) if self.settings.publish_clock else None
        # In real time only the newest target matters (a backlog of stale ones would only make the arm lag);
        # in lock step every target is one period of motion, so none may be lost.
        command_qos = (QoSProfile(depth=1000, reliability=QoSReliabilityPolicy.RELIABLE) if self.settings.lockstep
                       else QoSProfile(depth=1))
        self.create_subscription(JointState, messages.JOINT_COMMAND, self.on_command, command_qos)
        self.create_subscription(PoseStamped, messages.SIM_SET_BLOCK, self.on_set_block, 10)
        self.create_service(Trigger, "~/reset", self.on_reset)
        self.description_pub = self.create_publisher(String, messages.ROBOT_DESCRIPTION, DESCRIPTION_QOS)
        self.description_pub.publish(String(data=build_urdf(root_frame=self.settings.frame_id,
                                                            camera_cfg=self.camera_cfg)))
        self.camera_stop = threading.Event()
        self.camera_thread: threading.Thread | None = None
        if self.camera_cfg.rate > 0:
            self.image_pubs = {
                "color": self.create_publisher(Image, messages.CAMERA_COLOR_IMAGE, IMAGE_QOS),
                "color_info": self.create_publisher(CameraInfo, messages.CAMERA_COLOR_INFO, IMAGE_QOS),
                "depth": self.create_publisher(Image, messages.CAMERA_DEPTH_IMAGE, IMAGE_QOS),
                "depth_info": self.create_publisher(CameraInfo, messages.CAMERA_DEPTH_INFO, IMAGE_QOS)}
            self.camera_thread = threading.Thread(target=self.camera_loop, name="sim_camera", daemon=True)
            self.camera_thread.start()

        # Physics follows the wall clock (this node is the source of simulated time, it never runs on it);
        # each tick steps by the time that really passed, so a late tick does not slow the world down.
        # In lock step the commands are the ticks.
        self.period = 1.0 / self.settings.joint_state_rate
        self.last_step = time.monotonic()
        self.ticks = 0
        self.block_every = max(1, round(self.settings.joint_state_rate / self.settings.block_pose_rate))
        if not self.settings.lockstep:
            self.create_timer(self.period, self.on_tick)
        pace = (f"one {self.period * 1e3:g} ms step per /joint_command (lock step)" if self.settings.lockstep
                else f"/joint_states at {self.settings.joint_state_rate:g} Hz")
        c = self.camera_cfg
        camera = (f"camera {c.width} x {c.height}{' RGB-D' if c.depth else ' RGB'} at {c.rate:g} Hz" if c.rate > 0
                  else "camera not rendered (camera.rate 0)")
        self.get_logger().info(
            f"embedded arm ready: {len(self.names)} joints, {pace}, {camera}, "
            f"block at {np.round(self.sim.block_xy, 3).tolist()} m ({self.settings.frame_id} frame)")

    # --- the RGB-D camera ------------------------------------------------------------------------------

    def camera_loop(self) -> None:
        """Render and publish at ``camera.rate`` until ``close``; a frame late by more than a period is
        dropped rather than caught up (a camera does not replay the past).
        """
        cfg = self.camera_cfg
        try:
            renderer = CameraRenderer(self.sim.model, cfg)  # made on this thread: its GL context lives here
        except (RenderUnavailable, ValueError) as exc:
            self.get_logger().error(f"camera disabled: {exc}")
            return
        view = mujoco.MjData(self.sim.model)
        k = intrinsics(cfg)
        period = 1.0 / cfg.rate
        due = time.monotonic()
        frames, spent = 0, 0.0
        try:
            while not self.camera_stop.is_set():
                with self.lock:
                    view.qpos[:] = self.sim.data.qpos
                    stamp = self.stamp()
                started = time.monotonic()
                mujoco.mj_forward(self.sim.model, view)
                rgb, depth = renderer.render(view)
                self.image_pubs["color"].publish(messages.image(rgb, "rgb8", cfg.frame_id, stamp))
                self.image_pubs["color_info"].publish(messages.camera_info(k, cfg.width, cfg.height, cfg.frame_id,
                                                                           stamp))
                if depth is not None:
                    self.image_pubs["depth"].publish(messages.image(depth, "32FC1", cfg.frame_id, stamp))
                    self.image_pubs["depth_info"].publish(messages.camera_info(k, cfg.width, cfg.height,
                                                                               cfg.frame_id, stamp))
                frames, spent = frames + 1, spent + time.monotonic() - started
                if frames == 5:
                    self.get_logger().info(f"camera: {1e3 * spent / frames:.0f} ms a frame (render and publish)")
                due += period
                now = time.monotonic()
                if due < now:
                    due = now  # behind: the next frame is drawn at once, the missed ones never
                self.camera_stop.wait(due - now)
        finally:
            renderer.close()

    def close(self) -> None:
        """Stop the camera thread (it holds a GL context) before the node goes."""
        self.camera_stop.set()
        if self.camera_thread is not None and self.camera_thread.is_alive():
            self.camera_thread.join(timeout=5.0)

    # --- physics and feedback --------------------------------------------------------------------------

    def stamp(self):
        """Header stamps: simulated time when this node is the clock, the node's clock otherwise."""
        if self.clock_pub is not None:
            return messages.seconds_to_time(self.time_offset + self.sim.time)
        return self.get_clock().now().to_msg()

    def on_tick(self) -> None:
        now = time.monotonic()
        elapsed = min(now - self.last_step, MAX_CATCH_UP_S)
        self.last_step = now
        self.advance(elapsed)

    def advance(self, seconds: float, targets: np.ndarray | None = None) -> None:
        """Step the physics by ``seconds`` (first setting ``targets``, if given) and publish the state reached."""
        with self.lock:
            if targets is not None:
                self.sim.set_targets(targets)  # the simulator clips targets to the joint limits
            self.sim.step(seconds)
            q, qd = self.sim.joint_positions, self.sim.joint_velocities
            stamp = self.stamp()
            block = self.sim.block_xy if self.ticks % self.block_every == 0 else None
        if self.clock_pub is not None:
            self.clock_pub.publish(ClockMsg(clock=stamp))
        self.joint_pub.publish(messages.joint_state(self.names, q, qd, stamp))
        if block is not None:
            self.publish_block(block, stamp)
        self.ticks += 1

    def publish_block(self, xy: np.ndarray, stamp) -> None:
        self.block_pub.publish(messages.block_pose(xy, self.settings.frame_id, stamp, z=self.sim_cfg.block_size / 2))

    # --- inputs ----------------------------------------------------------------------------------------

    def on_command(self, msg: JointState) -> None:
        try:
            q = messages.joint_positions(msg, self.names)
        except ValueError as exc:
            self.get_logger().warning(f"ignoring /joint_command: {exc}", throttle_duration_sec=1.0)
            return
        if self.settings.lockstep:
            self.advance(self.period, q)
            return
        with self.lock:
            self.sim.set_targets(q)  # the simulator clips targets to the joint limits

    def on_set_block(self, msg: PoseStamped) -> None:
        if msg.header.frame_id not in ("", self.settings.frame_id):
            self.get_logger().warning(f"ignoring /sim/set_block in frame {msg.header.frame_id!r}; "
                                      f"block poses are in the {self.settings.frame_id!r} frame")
            return
        xy = messages.block_xy(msg)
        try:
            with self.lock:
                self.sim.set_block(float(xy[0]), float(xy[1]))
                placed = self.sim.block_xy
                stamp = self.stamp()
        except ValueError as exc:
            self.get_logger().warning(f"ignoring /sim/set_block: {exc}")
            return
        self.get_logger().info(f"block placed at ({placed[0]:.3f}, {placed[1]:.3f}) m")
        self.publish_block(placed, stamp)  # at once, so perception need not wait for the next tick

    def on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self.lock:
            self.time_offset += self.sim.time  # /clock goes on from where it was
            self.sim.reset()
            # Hold home: the next command stream starts from here.
            self.sim.set_targets(self.sim.joint_positions)
        response.success = True
        response.message = "arm at home"
        return response


def main(args: list[str] | None = None) -> int:
    return run_node(SimNode, "sim", args)


if __name__ == "__main__":
    raise SystemExit(main())
