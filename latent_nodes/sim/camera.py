"""The embedded world's RGB-D camera: its pose, its intrinsics, and offscreen rendering of colour and depth.

One ``CameraConfig`` (position, look-at point, vertical field of view, resolution) gives everything a
reader of the pictures needs, computed here once so that the MJCF (``arm.build_mjcf``: where MuJoCo
renders from), the URDF (``urdf.build_urdf``: what RViz and the perception node read) and the
CameraInfo the sim node publishes cannot disagree:

- the optical frame's pose in the table frame (REP 103 optical convention: z forward along the optical
  axis, x right, y down in the image), ``camera_pose``;
- the pinhole intrinsics ``K`` of a MuJoCo camera: square pixels, ``fy = (height / 2) / tan(fovy / 2)``,
  the principal point at the image centre in OpenCV's pixel convention (pixel centres at integers, so
  ``cx = (width - 1) / 2``), no distortion (CameraInfo's plumb_bob with D = 0).

``CameraRenderer`` renders RGB (uint8) and depth (float32 metres along the optical axis, what an RGB-D
driver's depth image holds) with ``mujoco.Renderer``. On machines without a GPU that is software
rendering (OSMesa, see ``latent_nodes.sim``): 30-200 ms a frame, measured in docs/camera.md.
"""

from __future__ import annotations

import math
import os

import mujoco
import numpy as np

from latent_nodes.config import CameraConfig
from latent_nodes.perception.block_detector import CameraModel
from latent_nodes.perception.camera_geometry import CameraPose

CAMERA_NAME = "rgbd"  # the MJCF camera's name
# MuJoCo cameras look along their -z with y up; the optical frame looks along +z with y down.
MUJOCO_FROM_OPTICAL = np.diag([1.0, -1.0, -1.0])


class RenderUnavailable(RuntimeError):
    """No OpenGL context for offscreen rendering (physics still works)."""


def camera_pose(cfg: CameraConfig | None = None) -> CameraPose:
    """The optical frame of a camera at ``cfg.position`` looking at ``cfg.look_at``, image up = table z up."""
    cfg = cfg or CameraConfig()
    position = np.asarray(cfg.position, dtype=np.float64)
    forward = np.asarray(cfg.look_at, dtype=np.float64) - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return CameraPose(rotation=np.column_stack([right, down, forward]), position=position)


def intrinsics(cfg: CameraConfig | None = None) -> np.ndarray:
    """[3, 3] K of the rendered images (see the module docstring for the convention)."""
    cfg = cfg or CameraConfig()
    f = (cfg.height / 2.0) / math.tan(math.radians(cfg.fovy) / 2.0)
    return np.array([[f, 0.0, (cfg.width - 1) / 2.0], [0.0, f, (cfg.height - 1) / 2.0], [0.0, 0.0, 1.0]])


def mjcf_camera(cfg: CameraConfig | None = None) -> str:
    """The MJCF ``<camera>`` element of the RGB-D camera (a child of the worldbody: fixed to the world)."""
    cfg = cfg or CameraConfig()
    pose = camera_pose(cfg)
    axes = pose.rotation @ MUJOCO_FROM_OPTICAL  # MuJoCo's camera x and y axes in the table frame
    xyaxes = " ".join(f"{v:.9g}" for v in (*axes[:, 0], *axes[:, 1]))
    pos = " ".join(f"{v:.9g}" for v in pose.position)
    return f'<camera name="{CAMERA_NAME}" pos="{pos}" xyaxes="{xyaxes}" fovy="{cfg.fovy:.9g}"/>'


class CameraRenderer:
    """Renders the RGB-D camera of a compiled world offscreen; one per thread (it holds a GL context).

    ``render(data)`` draws the state in ``data`` (its kinematics must be current: ``mj_forward``).
    """

    def __init__(self, model: mujoco.MjModel, cfg: CameraConfig | None = None) -> None:
        self.cfg = cfg or CameraConfig()
        if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, CAMERA_NAME) < 0:
            raise ValueError(f"the world has no camera named {CAMERA_NAME!r}")
        if self.cfg.width > model.vis.global_.offwidth or self.cfg.height > model.vis.global_.offheight:
            raise ValueError(f"camera {self.cfg.width} x {self.cfg.height} exceeds the offscreen buffer "
                             f"{model.vis.global_.offwidth} x {model.vis.global_.offheight}")
        try:
            self.renderer = mujoco.Renderer(model, height=self.cfg.height, width=self.cfg.width)
        except Exception as exc:  # the GL backends fail with ImportError, RuntimeError, OpenGL's own errors
            raise RenderUnavailable(
                f"no OpenGL context for offscreen rendering with MUJOCO_GL={os.environ.get('MUJOCO_GL', '')!r} "
                f"({type(exc).__name__}: {exc}); on a machine without a display install libosmesa6 and set "
                f"MUJOCO_GL=osmesa (or egl with a GPU) before starting Python") from exc

    def render(self, data: mujoco.MjData, depth: bool | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """([H, W, 3] uint8 RGB, [H, W] float32 depth in metres along the optical axis, or None)."""
        want_depth = self.cfg.depth if depth is None else depth
        self.renderer.update_scene(data, camera=CAMERA_NAME)
        rgb = self.renderer.render().copy()
        if not want_depth:
            return rgb, None
        self.renderer.enable_depth_rendering()
        try:
            self.renderer.update_scene(data, camera=CAMERA_NAME)
            z = self.renderer.render().astype(np.float32, copy=True)
        finally:
            self.renderer.disable_depth_rendering()
        return rgb, z

    def close(self) -> None:
        self.renderer.close()


def camera_model(cfg: CameraConfig | None = None) -> CameraModel:
    """The rendered camera as the block detector sees it (what its CameraInfo and the URDF say)."""
    cfg = cfg or CameraConfig()
    return CameraModel(k=intrinsics(cfg), width=cfg.width, height=cfg.height, pose=camera_pose(cfg))
