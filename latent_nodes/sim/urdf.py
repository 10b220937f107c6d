"""The arm's robot description: a URDF written from the same link tree as the MJCF (``arm.LINKS``).

What RViz, Foxglove, ``robot_state_publisher``, MoveIt or a ros2_control driver read about the arm: link
frames, joint names, axes, limits (position, speed, torque), viscous damping, inertias, and the solids
(MuJoCo's capsules become a cylinder with a sphere at each end). The end effector is a link of its own,
named after the MuJoCo site (``fingertip_centre``), fixed to the gripper where the site is, so a TF lookup
of ``fingertip_centre`` gives the point the model's behaviours move.

Masses, centres of mass and inertia tensors are those MuJoCo computes from the solids, read from the
compiled model, so the description's dynamics are the simulated arm's. The root is a link named after
the block poses' frame (``table`` by default), fixed to ``base_link`` at its origin: the arm's base
*is* the table frame's origin (``latent_nodes/sim/arm.py``). The world's fixed RGB-D camera hangs from
it too (``camera_link`` and its optical frame, ``latent_nodes.sim.camera``), so the extrinsics the
perception node reads are those the camera renders from.

    from latent_nodes.sim.urdf import build_urdf
    xml = build_urdf()                 # or: latent-nodes urdf -o arm.urdf
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import mujoco
import numpy as np

from latent_nodes.config import CameraConfig
from latent_nodes.perception.camera_geometry import rotation_to_rpy
from latent_nodes.sim import arm
from latent_nodes.sim.camera import camera_pose

ROBOT_NAME = "latent_nodes_torobo_like_arm"
EE_JOINT = f"{arm.EE_SITE}_joint"
CAMERA_LINK = "camera_link"
CAMERA_JOINT = "camera_joint"


def _number(v: float) -> str:
    # 9 significant digits keep every length far below a micrometre of float64; + 0.0 turns -0 into 0.
    return f"{float(v) + 0.0:.9g}"


def _numbers(values) -> str:
    return " ".join(_number(v) for v in values)


def _origin(parent: ET.Element, xyz, rpy=(0.0, 0.0, 0.0)) -> None:
    ET.SubElement(parent, "origin", xyz=_numbers(xyz), rpy=_numbers(rpy))


def _inertial(link: ET.Element, model: mujoco.MjModel, body: str) -> None:
    """MuJoCo's mass, centre of mass and inertia of ``body``, as the full tensor in the link's frame."""
    b = model.body(body)
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, b.iquat)
    rot = rot.reshape(3, 3)
    tensor = rot @ np.diag(b.inertia) @ rot.T  # principal axes -> link frame
    tensor[np.abs(tensor) < 1e-12 * np.abs(tensor).max()] = 0.0  # products of inertia that are rounding noise
    node = ET.SubElement(link, "inertial")
    _origin(node, b.ipos)
    ET.SubElement(node, "mass", value=_number(b.mass[0]))
    ET.SubElement(node, "inertia", **{name: _number(tensor[i, j]) for name, (i, j) in (
        ("ixx", (0, 0)), ("ixy", (0, 1)), ("ixz", (0, 2)), ("iyy", (1, 1)), ("iyz", (1, 2)), ("izz", (2, 2)))})


def _solids(g: arm.Geom) -> list[tuple[tuple[float, float, float], tuple[str, dict[str, str]]]]:
    """(centre, (URDF geometry tag, attributes)) of the URDF shapes that make up ``g``."""
    if g.shape == "box":
        return [(g.pos, ("box", {"size": _numbers(2 * np.asarray(g.size))}))]
    radius, half = g.size
    shapes = [(g.pos, ("cylinder", {"radius": _number(radius), "length": _number(2 * half)}))]
    if g.shape == "capsule":  # a URDF has no capsule: a cylinder with a sphere on each end
        axis = np.array([0.0, -math.sin(g.roll), math.cos(g.roll)])  # the link's z turned by roll about x
        for end in (-1.0, 1.0):
            shapes.append((tuple(np.asarray(g.pos) + end * half * axis), ("sphere", {"radius": _number(radius)})))
    elif g.shape != "cylinder":
        raise ValueError(f"no URDF shape for geom shape {g.shape!r}")
    return shapes


def _link(robot: ET.Element, link: arm.Link, model: mujoco.MjModel) -> None:
    node = ET.SubElement(robot, "link", name=link.name)
    _inertial(node, model, link.name)
    for g in link.geoms:
        for centre, (tag, attrs) in _solids(g):
            for kind in ("visual", "collision"):
                element = ET.SubElement(node, kind)
                _origin(element, centre, (g.roll, 0.0, 0.0))
                ET.SubElement(ET.SubElement(element, "geometry"), tag, **attrs)
                if kind == "visual":
                    ET.SubElement(element, "material", name=g.material)


def _joint(robot: ET.Element, link: arm.Link) -> None:
    i = arm.JOINT_NAMES.index(link.joint)
    node = ET.SubElement(robot, "joint", name=link.joint, type="revolute")
    ET.SubElement(node, "parent", link=link.parent)
    ET.SubElement(node, "child", link=link.name)
    _origin(node, link.pos)
    ET.SubElement(node, "axis", xyz=_numbers(arm.JOINT_AXES[i]))
    ET.SubElement(node, "limit", lower=_number(arm.JOINT_LOWER[i]), upper=_number(arm.JOINT_UPPER[i]),
                  effort=_number(arm.MAX_TORQUE[i]), velocity=_number(arm.MAX_VELOCITY[i]))
    ET.SubElement(node, "dynamics", damping=_number(arm.DAMPING[i]), friction="0")


def _fixed(robot: ET.Element, name: str, parent: str, child: str, xyz, rpy=(0.0, 0.0, 0.0)) -> None:
    node = ET.SubElement(robot, "joint", name=name, type="fixed")
    ET.SubElement(node, "parent", link=parent)
    ET.SubElement(node, "child", link=child)
    _origin(node, xyz, rpy)


# camera_link's axes (x forward, y left, z up: REP 103 body) in optical-frame coordinates (x right, y down,
# z forward), as columns.
LINK_IN_OPTICAL = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
# The optical frame in camera_link: rpy (-pi/2, 0, -pi/2), what camera drivers (realsense2_description,
# image_pipeline's examples) write.
OPTICAL_RPY = (-math.pi / 2, 0.0, -math.pi / 2)


def _camera(robot: ET.Element, parent: str, cfg: CameraConfig) -> None:
    """``camera_link`` fixed to ``parent`` (at the table frame's origin) where the MJCF camera is, and the
    optical frame (``cfg.frame_id``) the images are stamped with.
    """
    pose = camera_pose(cfg)
    ET.SubElement(robot, "link", name=CAMERA_LINK)
    _fixed(robot, CAMERA_JOINT, parent, CAMERA_LINK, pose.position, rotation_to_rpy(pose.rotation @ LINK_IN_OPTICAL))
    ET.SubElement(robot, "link", name=cfg.frame_id)
    _fixed(robot, f"{cfg.frame_id}_joint", CAMERA_LINK, cfg.frame_id, (0.0, 0.0, 0.0), OPTICAL_RPY)


def build_urdf(root_frame: str | None = "table", camera_cfg: CameraConfig | None = None, camera: bool = True) -> str:
    """The arm's URDF (XML text). ``root_frame``: a link fixed at ``base_link``'s origin, named after the
    frame block poses are in, so that one TF tree holds the arm and the block; None or "" for none.
    With ``camera``, the fixed RGB-D camera of ``camera_cfg`` (default ``CameraConfig()``) hangs from the
    root frame: ``camera_link`` and its optical frame, so RViz and the perception node read the extrinsics
    the MJCF renders with.
    """
    base = arm.LINKS[0].name
    camera_cfg = camera_cfg or CameraConfig()
    taken = {link.name for link in arm.LINKS[1:]} | {arm.EE_SITE}
    if camera:
        taken |= {CAMERA_LINK, camera_cfg.frame_id}
        if camera_cfg.frame_id in {link.name for link in arm.LINKS} | {arm.EE_SITE, CAMERA_LINK, root_frame}:
            raise ValueError(f"camera frame_id {camera_cfg.frame_id!r} is the name of another link")
    if root_frame in taken:
        raise ValueError(f"root_frame {root_frame!r} is the name of one of the arm's links")
    model = mujoco.MjModel.from_xml_string(arm.build_mjcf())  # the arm's inertias do not depend on the config
    robot = ET.Element("robot", name=ROBOT_NAME)
    for name, rgba in arm.MATERIALS.items():
        ET.SubElement(ET.SubElement(robot, "material", name=name), "color", rgba=_numbers(rgba))
    if root_frame and root_frame != base:
        ET.SubElement(robot, "link", name=root_frame)
        _fixed(robot, f"{root_frame}_to_{base}", root_frame, base, (0.0, 0.0, 0.0))
    for link in arm.LINKS:
        _link(robot, link, model)
        if link.joint is not None:
            _joint(robot, link)
    ET.SubElement(robot, "link", name=arm.EE_SITE)
    _fixed(robot, EE_JOINT, arm.EE_LINK, arm.EE_SITE, arm.EE_POS)
    if camera:
        _camera(robot, root_frame or base, camera_cfg)
    ET.indent(robot)
    return '<?xml version="1.0"?>\n' + ET.tostring(robot, encoding="unicode") + "\n"
