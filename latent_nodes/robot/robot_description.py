"""Joint limits read from a robot description (URDF text), without ROS.

A ros2_control arm is not the embedded one: its position and velocity limits are those its robot
description (``/robot_description``) states, and the commander must hold a trajectory to them. Only
what the limits need is read here: each named joint's type and ``<limit>``. A continuous joint has no
position limits (infinite bounds) but must still state a velocity.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import numpy as np

from latent_nodes.robot.safety import JointLimits

MOVING_TYPES = ("revolute", "continuous", "prismatic")


class RobotDescriptionError(ValueError):
    """A robot description that does not give the limits of the joints a trajectory moves."""


def _number(limit: ET.Element, attribute: str, joint: str, default: str | None = None) -> float:
    text = limit.get(attribute, default)
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise RobotDescriptionError(f"robot description: joint {joint!r} has no numeric <limit {attribute}=...> "
                                    f"(got {text!r})") from None
    if not math.isfinite(value):
        raise RobotDescriptionError(f"robot description: joint {joint!r} has <limit {attribute}={text!r}>")
    return value


def joint_limits(urdf: str, robot_names: Sequence[str], names: Sequence[str] | None = None) -> JointLimits:
    """Limits of ``robot_names`` from the URDF ``urdf``, labelled ``names`` (default: the robot names).

    ``names`` lets the commander keep the model's joint names while reading the robot's joints.
    Raises ``RobotDescriptionError`` naming what is missing: no XML, a joint it lacks (listing the
    moving joints it has), a fixed joint, a limit or velocity that is not a number.
    """
    try:
        root = ET.fromstring(urdf)
    except ET.ParseError as exc:
        raise RobotDescriptionError(f"robot description is not valid XML ({exc})") from None
    if root.tag != "robot":
        raise RobotDescriptionError(f"robot description's root element is <{root.tag}>, not <robot>")
    joints = {j.get("name"): j for j in root.iter("joint")}
    lower, upper, velocity = [], [], []
    for name in robot_names:
        joint = joints.get(name)
        if joint is None:
            moving = [n for n, j in joints.items() if j.get("type") in MOVING_TYPES]
            raise RobotDescriptionError(f"robot description has no joint {name!r}; its moving joints are {moving}")
        kind = joint.get("type")
        if kind not in MOVING_TYPES:
            raise RobotDescriptionError(f"robot description's joint {name!r} is {kind}, not a moving joint")
        limit = joint.find("limit")
        if limit is None:
            raise RobotDescriptionError(f"robot description's joint {name!r} has no <limit>")
        if kind == "continuous":
            lo, hi = -np.inf, np.inf
        else:
            # The URDF specification: lower and upper default to 0, velocity is required.
            lo, hi = _number(limit, "lower", name, "0"), _number(limit, "upper", name, "0")
            if lo > hi:
                raise RobotDescriptionError(f"robot description's joint {name!r} has lower {lo:g} > upper {hi:g}")
        vel = _number(limit, "velocity", name)
        if vel <= 0:
            raise RobotDescriptionError(f"robot description's joint {name!r} has velocity limit {vel:g}: "
                                        "expected a positive speed")
        lower.append(lo)
        upper.append(hi)
        velocity.append(vel)
    labels = tuple(robot_names if names is None else names)
    return JointLimits(labels, np.array(lower), np.array(upper), np.array(velocity))
