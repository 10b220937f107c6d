"""Acceleration and velocity limits from a ``joint_limits.yaml`` as robot description packages ship them, without ROS.

A URDF ``<limit>`` has no acceleration. ros2_control reads acceleration (and tighter velocity) limits from
parameters named ``joint_limits.<joint>.has_acceleration_limits`` / ``max_acceleration`` (and
``has_velocity_limits`` / ``max_velocity``, ``has_position_limits`` / ``min_position`` / ``max_position``),
which description and MoveIt config packages ship as a ``joint_limits.yaml`` (e.g. Universal Robots'
``ur_description/config/<model>/joint_limits.yaml``, xArm's ``xarm_moveit_config/config/<arm>/joint_limits.yaml``).
This reads that format as ros2_control's ``get_joint_limits`` does (ros-controls/ros2_control
``joint_limits/include/joint_limits/joint_limits_rosparam.hpp``, the ``get_joint_limits`` overload for a
parameters interface): a limit counts only when its ``has_*`` flag is true *and* its value is given
(``has_acceleration_limits: true`` without ``max_acceleration`` is no limit); a flag that is false
turns the limit off whatever value follows it (xArm ships ``has_acceleration_limits: false`` with
``max_acceleration: 0``).

The file's ``joint_limits`` mapping may sit at the top (as the packages ship it) or under a node's
``ros__parameters`` (a ROS 2 parameter file). Angles may carry xacro's ``!degrees`` / ``!radians`` tags
(``xacro.load_yaml``; UR's files use ``!degrees``). Only velocity and acceleration are read: the commander
takes the position limits from the robot description, which the controllers enforce too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from latent_nodes.robot.safety import JointLimits


class JointLimitsFileError(ValueError):
    """A joint_limits.yaml that cannot be read; the message names the file and what is wrong, in one line."""


@dataclass(frozen=True)
class FileLimits:
    """One joint's limits from the file: rad/s and rad/s^2 (or m/s, m/s^2), None where the file sets none."""

    max_velocity: float | None
    max_acceleration: float | None


class _Loader(yaml.SafeLoader):
    """YAML with xacro's angle tags (xacro/__init__.py ``construct_angle_degrees`` / ``_radians``)."""


def _angle(scale: float):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> float:
        value = loader.construct_scalar(node)
        try:
            return float(value) * scale
        except ValueError:
            raise yaml.constructor.ConstructorError(None, None, f"{node.tag} {value!r} is not a number",
                                                    node.start_mark) from None
    return construct


_Loader.add_constructor("!degrees", _angle(math.pi / 180.0))
_Loader.add_constructor("!radians", _angle(1.0))


def _find_joint_limits(data: object) -> dict | None:
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("joint_limits"), dict):
        return data["joint_limits"]
    for value in data.values():  # <node>: ros__parameters: joint_limits: ...
        if isinstance(value, dict) and isinstance(value.get("ros__parameters"), dict):
            found = _find_joint_limits(value["ros__parameters"])
            if found is not None:
                return found
    return None


def _limit(path: str, joint: str, entry: dict, kind: str) -> float | None:
    """``max_<kind>`` when ``has_<kind>_limits`` is true and it is given (get_joint_limits' rule), else None."""
    flag = entry.get(f"has_{kind}_limits")
    if flag is None or flag is False:
        return None
    if flag is not True:
        raise JointLimitsFileError(f"{path}: joint_limits.{joint}.has_{kind}_limits is {flag!r}, not true or false")
    if f"max_{kind}" not in entry:
        return None
    value = entry[f"max_{kind}"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise JointLimitsFileError(f"{path}: joint_limits.{joint}.max_{kind} is {value!r}, not a positive number")
    return float(value)


def read_joint_limits_file(path: str | Path) -> dict[str, FileLimits]:
    """Each joint's velocity and acceleration limits in the joint_limits.yaml at ``path``; one-line errors."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise JointLimitsFileError(f"joint_limits_file {str(path)!r} cannot be read: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 -- a SafeLoader with two scalar tags added
    except yaml.YAMLError as exc:
        raise JointLimitsFileError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
    joints = _find_joint_limits(data)
    if joints is None:
        raise JointLimitsFileError(f"{path}: no joint_limits mapping (joint_limits.<joint>.has_acceleration_limits, "
                                   "max_acceleration, ... as ros2_control reads them)")
    limits: dict[str, FileLimits] = {}
    for joint, entry in joints.items():
        if not isinstance(entry, dict):
            raise JointLimitsFileError(f"{path}: joint_limits.{joint} is not a mapping")
        limits[str(joint)] = FileLimits(_limit(str(path), joint, entry, "velocity"),
                                        _limit(str(path), joint, entry, "acceleration"))
    return limits


def apply_file_limits(limits: JointLimits, file: dict[str, FileLimits], names: Sequence[str] | None = None
                      ) -> JointLimits:
    """``limits`` with the file's acceleration limits, and its velocity limits where they are tighter.

    ``names``: the joints' names as the file (the robot) calls them, in ``limits``' order (default
    ``limits.names``). A joint the file does not name, or sets no limit for, keeps what it had.
    """
    names = list(limits.names if names is None else names)
    velocity = np.array([np.inf if file.get(n) is None or file[n].max_velocity is None else file[n].max_velocity
                         for n in names])
    acceleration = np.array([np.inf if file.get(n) is None or file[n].max_acceleration is None
                             else file[n].max_acceleration for n in names])
    return JointLimits(limits.names, limits.lower, limits.upper, np.minimum(limits.max_velocity, velocity),
                       np.minimum(limits.max_acceleration, acceleration))
