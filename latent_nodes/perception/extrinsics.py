"""Where the camera is: the pose of its optical frame in the table frame, read from a robot description.

A camera fixed in the cell (or a calibrated one: a hand-eye calibration's result written into the URDF
as a fixed joint) is a chain of fixed joints from the table frame to the optical frame the images are
stamped with. This reads that chain from the URDF text that ``/robot_description`` carries, so the
perception node needs no TF library and uses exactly what RViz shows. A camera carried by a moving
joint (on the wrist) is refused: its pose would change with the arm.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from latent_nodes.perception.camera_geometry import CameraPose, rpy_to_rotation


def _numbers(text: str | None, default: tuple[float, float, float]) -> np.ndarray:
    if text is None:
        return np.array(default, dtype=np.float64)
    values = np.array([float(v) for v in text.split()], dtype=np.float64)
    if values.shape != (3,) or not np.all(np.isfinite(values)):
        raise ValueError(f"expected three finite numbers, got {text!r}")
    return values


def camera_pose_from_urdf(urdf: str, root: str, frame: str) -> CameraPose:
    """The pose of link ``frame`` in link ``root`` through fixed joints; ValueError says why not."""
    try:
        robot = ET.fromstring(urdf)
    except ET.ParseError as exc:
        raise ValueError(f"robot description is not XML: {exc}") from None
    parent_joint = {}
    for joint in robot.iter("joint"):
        child, parent = joint.find("child"), joint.find("parent")
        if child is not None and parent is not None:
            parent_joint[child.get("link")] = joint
    rotation, position = np.eye(3), np.zeros(3)
    link, seen = frame, set()
    while link != root:
        joint = parent_joint.get(link)
        if joint is None or link in seen:
            raise ValueError(f"robot description has no chain of joints from {root!r} to {frame!r}")
        seen.add(link)
        if joint.get("type") != "fixed":
            raise ValueError(f"{frame!r} hangs from {root!r} through the {joint.get('type')} joint "
                             f"{joint.get('name')!r}: a camera must be fixed in the table frame")
        origin = joint.find("origin")
        xyz = _numbers(origin.get("xyz") if origin is not None else None, (0.0, 0.0, 0.0))
        rpy = _numbers(origin.get("rpy") if origin is not None else None, (0.0, 0.0, 0.0))
        r = rpy_to_rotation(*rpy)
        rotation, position = r @ rotation, r @ position + xyz  # parent <- link composed with link <- frame
        link = joint.find("parent").get("link")
    return CameraPose(rotation=rotation, position=position)
