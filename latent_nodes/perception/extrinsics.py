"""Where the camera is: the pose of its optical frame in the table frame, read from a robot description.

A camera fixed in the cell (or a calibrated one: a hand-eye calibration's result written into the URDF
as a fixed joint) is a chain of fixed joints from the table frame to the optical frame the images are
stamped with. This reads that chain from the URDF text that ``/robot_description`` carries, through the
package's one robot-description reader (``latent_nodes.robot.robot_description``: kinematic joints only,
each with its parent, child and origin), so the perception node needs no TF library and uses exactly
what RViz shows. A camera carried by a moving joint (on the wrist) is refused: its pose would change
with the arm.
"""

from __future__ import annotations

import numpy as np

from latent_nodes.perception.camera_geometry import CameraPose, rpy_to_rotation
from latent_nodes.robot.robot_description import RobotDescription


def camera_pose_from_urdf(urdf: str, root: str, frame: str) -> CameraPose:
    """The pose of link ``frame`` in link ``root`` through fixed joints; ValueError says why not."""
    robot = RobotDescription.from_urdf(urdf)
    rotation, position = np.eye(3), np.zeros(3)
    link, seen = frame, set()
    while link != root:
        joint = robot.joint_above(link)
        if joint is None or joint.parent is None or link in seen:
            raise ValueError(f"robot description has no chain of joints from {root!r} to {frame!r}")
        seen.add(link)
        if joint.type != "fixed":
            raise ValueError(f"{frame!r} hangs from {root!r} through the {joint.type} joint "
                             f"{joint.name!r}: a camera must be fixed in the table frame")
        xyz, rpy = joint.origin()
        r = rpy_to_rotation(*rpy)
        rotation, position = r @ rotation, r @ position + xyz  # parent <- link composed with link <- frame
        link = joint.parent
    return CameraPose(rotation=rotation, position=position)
