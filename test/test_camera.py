"""The embedded RGB-D camera: the URDF, the MJCF and the intrinsics agree with what MuJoCo renders.

The URDF's camera frames are read by ``yourdfpy`` (an independent URDF reader) and by the perception's
own reader, and compared with MuJoCo's compiled camera; the intrinsics are checked against a rendered
frame at 160 x 120 (the block's projected corners against its red pixels, the depth of its top against
the geometry). About 3 s, most of it the one rendered frame.
"""

import io
from dataclasses import replace

import mujoco
import numpy as np
import pytest

from latent_nodes.config import CameraConfig, ConfigError, validate_section
from latent_nodes.perception.block_detector import DetectorSettings, red_mask
from latent_nodes.perception.extrinsics import camera_pose_from_urdf
from latent_nodes.sim import arm
from latent_nodes.sim.camera import CAMERA_NAME, camera_model, camera_pose, intrinsics
from latent_nodes.sim.simulator import ArmSimulator, RenderUnavailable
from latent_nodes.sim.urdf import build_urdf

yourdfpy = pytest.importorskip("yourdfpy", reason="pip install yourdfpy (test extra) to read URDFs")

MOVED = CameraConfig(position=[0.7, -0.5, 0.6], look_at=[0.45, 0.1, 0.02], fovy=55.0, width=320, height=200,
                     frame_id="my_camera_optical")


def mujoco_optical(cfg: CameraConfig) -> tuple[np.ndarray, np.ndarray]:
    """(rotation, position) of the optical frame from MuJoCo's compiled camera (which looks along its -z)."""
    model = mujoco.MjModel.from_xml_string(arm.build_mjcf(camera_cfg=cfg))
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    cam = model.camera(CAMERA_NAME).id
    return data.cam_xmat[cam].reshape(3, 3) @ np.diag([1.0, -1.0, -1.0]), data.cam_xpos[cam].copy()


@pytest.mark.parametrize("cfg", [CameraConfig(), MOVED], ids=["default", "moved"])
def test_urdf_camera_pose_equals_mjcf(cfg):
    rotation, position = mujoco_optical(cfg)
    urdf = build_urdf(camera_cfg=cfg)
    robot = yourdfpy.URDF.load(io.StringIO(urdf), load_meshes=False, build_collision_scene_graph=False)
    frame = robot.get_transform(cfg.frame_id, "table")
    assert np.abs(frame[:3, 3] - position).max() < 1e-6
    assert np.abs(frame[:3, :3] - rotation).max() < 1e-6
    # The perception node's reader of the description agrees with yourdfpy.
    pose = camera_pose_from_urdf(urdf, "table", cfg.frame_id)
    assert np.abs(pose.position - position).max() < 1e-6
    assert np.abs(pose.rotation - rotation).max() < 1e-6
    # camera_link follows REP 103: x along the optical axis, z up in the image.
    link = robot.get_transform("camera_link", "table")
    assert np.allclose(link[:3, 0], rotation[:, 2]) and np.allclose(link[:3, 2], -rotation[:, 1])


def test_urdf_without_camera_and_a_colliding_frame_name():
    assert "camera_link" not in build_urdf(camera=False)
    with pytest.raises(ValueError, match="name of another link"):
        build_urdf(camera_cfg=replace(CameraConfig(), frame_id="link_3"))


def test_extrinsics_refuse_a_camera_on_a_moving_joint():
    urdf = build_urdf(camera=False).replace("</robot>", (
        '<link name="wrist_cam"/><joint name="wrist_cam_joint" type="fixed"><parent link="link_7"/>'
        '<child link="wrist_cam"/></joint></robot>'))
    with pytest.raises(ValueError, match="revolute joint 'arm_joint_7'"):
        camera_pose_from_urdf(urdf, "table", "wrist_cam")
    with pytest.raises(ValueError, match="no chain of joints"):
        camera_pose_from_urdf(urdf, "table", "nowhere")


def test_config_refuses_a_camera_looking_straight_down_or_at_itself():
    with pytest.raises(ConfigError, match="camera.look_at .* straight above or below"):
        validate_section(CameraConfig(position=[0.5, 0.0, 1.0], look_at=[0.5, 0.0, 0.0]), "camera.")
    with pytest.raises(ConfigError, match="is at camera.position"):
        validate_section(CameraConfig(look_at=[0.95, 0.0, 0.85]), "camera.")


def test_intrinsics_and_depth_match_the_rendered_frame():
    cfg = CameraConfig(width=160, height=120)
    k = intrinsics(cfg)
    assert k[0, 0] == pytest.approx(60.0 / np.tan(np.radians(21.0))) and k[0, 0] == k[1, 1]
    assert (k[0, 2], k[1, 2]) == (79.5, 59.5)
    with ArmSimulator(camera_cfg=cfg) as sim:
        sim.set_block(0.5, 0.1)
        try:
            rgb, depth = sim.camera_images()
        except RenderUnavailable as exc:
            pytest.skip(f"offscreen rendering unavailable: {exc}")
    assert rgb.shape == (120, 160, 3) and rgb.dtype == np.uint8 and depth.shape == (120, 160)
    camera = camera_model(cfg)
    corners = np.array([[0.5 + a * 0.02, 0.1 + b * 0.02, z] for a in (-1, 1) for b in (-1, 1) for z in (0.0, 0.04)])
    uv = camera.project(corners)
    v, u = np.nonzero(red_mask(rgb, DetectorSettings(min_blob_px=1)))
    # The red pixels' extent is the projected cube's, to a pixel (the opening may shave one at an edge).
    assert abs(u.min() - uv[:, 0].min()) <= 1.0 and abs(u.max() - uv[:, 0].max()) <= 1.0
    assert abs(v.min() - uv[:, 1].min()) <= 1.0 and abs(v.max() - uv[:, 1].max()) <= 1.0
    # Depth is metres along the optical axis: at the top face's centre pixel, that point's optical z.
    top = camera_pose(cfg).to_optical(np.array([[0.5, 0.1, 0.04]]))[0]
    pixel = camera.project(np.array([[0.5, 0.1, 0.04]]))[0]
    assert depth[int(round(pixel[1])), int(round(pixel[0]))] == pytest.approx(top[2], abs=1e-3)
