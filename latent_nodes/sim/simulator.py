"""``ArmSimulator``: the arm, table and block in MuJoCo, driven by joint position targets.

This is the whole embedded world behind one small API: place the block, set 9 joint targets, advance
time, read joints, the fingertip and pictures back (also what the fixed RGB-D camera sees:
``camera_images``). It knows nothing of ROS; the ``sim`` node wraps it and the demonstration generator
drives it directly.

Control is what a real arm's joint servo does: position targets, held until the next one arrives,
tracked by the per-joint PD loops of ``arm.KP``/``arm.KV`` with gravity compensation and torque limits.
The block is a free body resting on the table, so an arm that hits it pushes it, and ``block_xy`` reads
where it really is.
"""

from __future__ import annotations

import math
import os

import mujoco
import numpy as np

from latent_nodes.config import CameraConfig, SimConfig
from latent_nodes.sim import arm
from latent_nodes.sim.camera import CameraRenderer, RenderUnavailable

__all__ = ["ArmSimulator", "RenderUnavailable"]


class ArmSimulator:
    """The embedded world; one instance per thread of use (MuJoCo data is not thread safe)."""

    def __init__(self, sim_cfg: SimConfig | None = None, camera_cfg: CameraConfig | None = None) -> None:
        self.cfg = sim_cfg or SimConfig()
        self.camera_cfg = camera_cfg or CameraConfig()
        self.model = mujoco.MjModel.from_xml_string(arm.build_mjcf(self.cfg, self.camera_cfg))
        self._camera: CameraRenderer | None = None
        self.data = mujoco.MjData(self.model)
        self._qadr = np.array([self.model.joint(n).qposadr[0] for n in arm.JOINT_NAMES])
        self._dadr = np.array([self.model.joint(n).dofadr[0] for n in arm.JOINT_NAMES])
        self._act = np.array([self.model.actuator(n).id for n in arm.JOINT_NAMES])
        block_joint = self.model.body(arm.BLOCK_BODY).jntadr[0]
        self._block_q = int(self.model.jnt_qposadr[block_joint])
        self._block_v = int(self.model.jnt_dofadr[block_joint])
        self._site = self.model.site(arm.EE_SITE).id
        self._pending = 0.0  # simulated seconds asked for but not yet stepped (less than one physics step)
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self._block_placed = np.array([np.mean(self.cfg.workspace_x), np.mean(self.cfg.workspace_y)])
        self.reset()

    # --- state ------------------------------------------------------------------------------------------

    def reset(self, q: np.ndarray | None = None) -> None:
        """Arm at rest at ``q`` (None: HOME) holding it, block back upright where it was last placed, t = 0."""
        q = self._joints(arm.HOME if q is None else q, "reset pose")
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[self._qadr] = np.clip(q, arm.JOINT_LOWER, arm.JOINT_UPPER)
        self.data.ctrl[self._act] = self.data.qpos[self._qadr]
        self._pending = 0.0
        self._put_block(self._block_placed)

    def set_block(self, x: float, y: float) -> None:
        """Place the block (at rest, upright, on the table) with its centre at (x, y) in the table frame.

        The whole block must lie on the table (``SimConfig.table_x``/``table_y``); anything else, or a
        non-finite coordinate, is a ValueError that says where the table is.
        """
        xy = np.array([x, y], dtype=np.float64)
        if xy.shape != (2,) or not np.all(np.isfinite(xy)):
            raise ValueError(f"block position must be two finite numbers (x, y) in metres, got ({x!r}, {y!r})")
        h = self.cfg.block_size / 2
        (x0, x1), (y0, y1) = self.cfg.table_x, self.cfg.table_y
        if not (x0 + h <= xy[0] <= x1 - h and y0 + h <= xy[1] <= y1 - h):
            raise ValueError(
                f"block position ({xy[0]:.3f}, {xy[1]:.3f}) m is off the table: its centre must lie in "
                f"x [{x0 + h:.3f}, {x1 - h:.3f}], y [{y0 + h:.3f}, {y1 - h:.3f}] (table frame, "
                f"table_x={list(self.cfg.table_x)}, table_y={list(self.cfg.table_y)})")
        self._block_placed = xy
        self._put_block(xy)

    def _put_block(self, xy: np.ndarray) -> None:
        a, v = self._block_q, self._block_v
        self.data.qpos[a:a + 7] = [xy[0], xy[1], self.cfg.block_size / 2, 1.0, 0.0, 0.0, 0.0]
        self.data.qvel[v:v + 6] = 0.0
        mujoco.mj_forward(self.model, self.data)

    @property
    def block_xy(self) -> np.ndarray:
        """[2] where the block's centre is now (it moves only if something pushes it)."""
        return self.data.qpos[self._block_q:self._block_q + 2].copy()

    def set_targets(self, q: np.ndarray) -> None:
        """Position targets for the 9 joints (radians, JOINT_NAMES order), clipped to the joint limits."""
        q = self._joints(q, "joint targets")
        self.data.ctrl[self._act] = np.clip(q, arm.JOINT_LOWER, arm.JOINT_UPPER)

    @property
    def targets(self) -> np.ndarray:
        """[9] the position targets the servos hold now."""
        return self.data.ctrl[self._act].copy()

    def step(self, seconds: float) -> None:
        """Advance the physics by ``seconds`` of simulated time (whole physics steps; the rest carries over).

        Carrying the remainder makes many irregular calls (a wall-clock timer's) add up to exactly the
        time asked for.
        """
        seconds = float(seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"step needs a finite, non-negative duration in seconds, got {seconds!r}")
        self._pending += seconds
        dt = self.model.opt.timestep
        n = int(math.floor(self._pending / dt + 1e-9))
        if n > 0:
            mujoco.mj_step(self.model, self.data, nstep=n)
            self._pending = max(0.0, self._pending - n * dt)

    @property
    def joint_positions(self) -> np.ndarray:
        """[9] joint angles, radians, in JOINT_NAMES order."""
        return self.data.qpos[self._qadr].copy()

    @property
    def joint_velocities(self) -> np.ndarray:
        """[9] joint velocities, rad/s, in JOINT_NAMES order."""
        return self.data.qvel[self._dadr].copy()

    @property
    def time(self) -> float:
        """Simulated seconds since the last reset."""
        return float(self.data.time)

    def end_effector_position(self) -> np.ndarray:
        """[3] fingertip centre in the table frame, for the current joint angles."""
        mujoco.mj_kinematics(self.model, self.data)  # after mj_step, site poses lag the state by one step
        return self.data.site_xpos[self._site].copy()

    # --- pictures ---------------------------------------------------------------------------------------

    def render(self, width: int = 320, height: int = 240, camera: str | int | mujoco.MjvCamera | None = None,
               trail: np.ndarray | None = None) -> np.ndarray:
        """[H, W, 3] uint8 picture of the world; ``camera`` is a camera name ("overview", "side", "top"),
        an id, an ``MjvCamera``, or None for "overview". ``trail`` [K, 3] (table frame) draws a path as
        small green beads, e.g. where the fingertip has been.

        Needs an OpenGL context: on a machine without a display set MUJOCO_GL=osmesa (libosmesa6) or egl
        before MuJoCo is imported (``latent_nodes.sim`` picks osmesa when there is no display).
        """
        if not (0 < width <= 1280 and 0 < height <= 960):
            raise ValueError(f"render size must be within 1280 x 960 pixels, got {width} x {height}")
        key = (int(width), int(height))
        if key not in self._renderers:
            try:
                self._renderers[key] = mujoco.Renderer(self.model, height=key[1], width=key[0])
            except Exception as exc:  # the GL backends fail with ImportError, RuntimeError, OpenGL's own errors
                raise RenderUnavailable(
                    f"no OpenGL context for offscreen rendering with MUJOCO_GL="
                    f"{os.environ.get('MUJOCO_GL', '')!r} ({type(exc).__name__}: {exc}); on a machine without a "
                    f"display install libosmesa6 and set MUJOCO_GL=osmesa before starting Python") from exc
        renderer = self._renderers[key]
        mujoco.mj_forward(self.model, self.data)
        renderer.update_scene(self.data, camera="overview" if camera is None else camera)
        if trail is not None:
            scene = renderer.scene
            for point in np.asarray(trail, dtype=np.float64).reshape(-1, 3)[: scene.maxgeom - scene.ngeom]:
                mujoco.mjv_initGeom(scene.geoms[scene.ngeom], mujoco.mjtGeom.mjGEOM_SPHERE, np.array([0.009, 0, 0]),
                                    point, np.eye(3).ravel(), np.array([0.05, 0.85, 0.15, 1.0], dtype=np.float32))
                scene.ngeom += 1
        return renderer.render().copy()

    def camera_images(self, depth: bool | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """What the RGB-D camera sees now: ([H, W, 3] uint8 RGB, [H, W] float32 depth in metres or None).

        Resolution, mount and whether depth is rendered come from ``camera_cfg`` (``latent_nodes.sim.camera``).
        """
        if self._camera is None:
            self._camera = CameraRenderer(self.model, self.camera_cfg)
        mujoco.mj_forward(self.model, self.data)
        return self._camera.render(self.data, depth)

    def close(self) -> None:
        """Free the rendering contexts now (they hold OpenGL resources)."""
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
        if self._camera is not None:
            self._camera.close()
            self._camera = None

    def __enter__(self) -> ArmSimulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- helpers ----------------------------------------------------------------------------------------

    @staticmethod
    def _joints(q: np.ndarray, what: str) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        if q.shape != (len(arm.JOINT_NAMES),):
            raise ValueError(f"{what}: expected {len(arm.JOINT_NAMES)} joint angles ({', '.join(arm.JOINT_NAMES)}), "
                             f"got shape {q.shape}")
        if not np.all(np.isfinite(q)):
            raise ValueError(f"{what}: joint angles must be finite, got {q.tolist()}")
        return q
