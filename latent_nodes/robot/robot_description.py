"""The one reader of robot descriptions (URDF text, e.g. ``/robot_description``), without ROS.

A ros2_control arm is not the embedded one: its joints and their position and velocity limits are
those its robot description states, and the commander must hold a trajectory to them. The commander,
its ros2_control output and ``bag2dataset`` all read the description here, so they agree on which
joints a robot has and fail the same way.

A description as robot packages ship it holds more than the kinematic tree: a ``<ros2_control>`` block
(every ros2_control robot has one) names each joint again with its command and state interfaces,
``<transmission>`` blocks (at the top level, or inside ``<ros2_control>``) name joints with their
actuators, and ``<gazebo>`` tags carry plugins. Their ``<joint name=...>`` elements are not joints of the
robot. Following the URDF specification (wiki.ros.org/urdf/XML/robot, /joint), the kinematic joints are
the ``<joint>`` elements that are direct children of ``<robot>``; only those are read.

- **Commandable joints**: revolute, continuous and prismatic joints without ``<mimic>``, in document
  order. A mimic joint follows its leader (``<mimic joint=...>``); a controller commands the leader,
  so a trajectory naming a mimic joint is refused, naming the leader.
- **Limits** (URDF ``<limit>``): ``lower`` and ``upper`` default to 0, ``velocity`` is required and must
  be positive; a continuous joint has no position limits (infinite bounds). ``effort`` is not used.
- **Errors** (``RobotDescriptionError``, one line) name what is missing: not XML, a root other than
  ``<robot>``, a joint the description lacks (listing the commandable ones), a fixed or mimic joint, no
  ``<limit>``, a limit that is not a number.

The joints a ``<ros2_control>`` block gives a ``position`` command interface are kept too
(``position_commanded``): what the robot's ros2_control hardware actually accepts position commands for.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latent_nodes.robot.safety import JointLimits, UnsafeTrajectory

MOVING_TYPES = ("revolute", "continuous", "prismatic")


class RobotDescriptionError(ValueError):
    """A robot description that does not give what is asked of it; the message says what is missing."""


def _triple(joint: str, attribute: str, text: str | None) -> np.ndarray:
    """An ``<origin>`` attribute's three numbers (absent: zeros, as the URDF specification defaults them)."""
    if text is None:
        return np.zeros(3)
    try:
        values = np.array([float(v) for v in text.split()], dtype=np.float64)
    except ValueError:
        values = np.array([])
    if values.shape != (3,) or not np.all(np.isfinite(values)):
        raise RobotDescriptionError(f"robot description: joint {joint!r} has <origin {attribute}={text!r}>, not three "
                                    "finite numbers")
    return values


@dataclass(frozen=True)
class Joint:
    """A kinematic joint: its URDF type, its ``<limit>`` attributes (None: no ``<limit>``), its leader if a mimic,
    the links it joins and its ``<origin>`` (the child's frame in the parent's, as written: ``origin``).
    """

    name: str
    type: str
    limit: dict[str, str] | None
    mimics: str | None = None
    parent: str | None = None  # <parent link=...>
    child: str | None = None  # <child link=...>
    origin_xyz: str | None = None  # <origin xyz=...> as written (None: absent)
    origin_rpy: str | None = None  # <origin rpy=...>

    @property
    def moving(self) -> bool:
        return self.type in MOVING_TYPES

    def origin(self) -> tuple[np.ndarray, np.ndarray]:
        """(xyz metres, rpy radians) of ``<origin>``, zeros where absent; RobotDescriptionError if malformed.

        Read when asked, so a malformed origin refuses only what needs it (the limits never do).
        """
        return _triple(self.name, "xyz", self.origin_xyz), _triple(self.name, "rpy", self.origin_rpy)


def _number(joint: str, attribute: str, text: str | None) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise RobotDescriptionError(f"robot description: joint {joint!r} has no numeric <limit {attribute}=...> "
                                    f"(got {text!r})") from None
    if not math.isfinite(value):
        raise RobotDescriptionError(f"robot description: joint {joint!r} has <limit {attribute}={text!r}>")
    return value


@dataclass(frozen=True)
class RobotDescription:
    """A parsed robot description: its name and kinematic joints (document order)."""

    name: str
    joints: dict[str, Joint]
    position_commanded: tuple[str, ...] = ()  # joints with a position command interface in <ros2_control>

    @classmethod
    def from_urdf(cls, urdf: str) -> RobotDescription:
        """Parse URDF text; RobotDescriptionError if it is not XML, not a ``<robot>`` or repeats a joint name."""
        try:
            root = ET.fromstring(urdf)
        except ET.ParseError as exc:
            raise RobotDescriptionError(f"robot description is not valid XML ({exc})") from None
        if root.tag != "robot":
            raise RobotDescriptionError(f"robot description's root element is <{root.tag}>, not <robot>")
        joints: dict[str, Joint] = {}
        for element in root.findall("joint"):  # direct children only: not <ros2_control>/<transmission>/<gazebo>
            name = element.get("name")
            if not name:
                raise RobotDescriptionError("robot description has a <joint> without a name")
            if name in joints:
                raise RobotDescriptionError(f"robot description has two joints named {name!r}")
            limit, mimic = element.find("limit"), element.find("mimic")
            parent, child, origin = element.find("parent"), element.find("child"), element.find("origin")
            joints[name] = Joint(name, element.get("type", ""), None if limit is None else dict(limit.attrib),
                                 None if mimic is None else mimic.get("joint", ""),
                                 None if parent is None else parent.get("link"),
                                 None if child is None else child.get("link"),
                                 None if origin is None else origin.get("xyz"),
                                 None if origin is None else origin.get("rpy"))
        commanded = [j.get("name") for block in root.findall("ros2_control") for j in block.findall("joint")
                     if any(c.get("name") == "position" for c in j.findall("command_interface"))]
        return cls(root.get("name", ""), joints, tuple(commanded))

    def joint_above(self, link: str) -> Joint | None:
        """The kinematic joint whose child is ``link`` (None for the root or an unknown link)."""
        for joint in self.joints.values():
            if joint.child == link:
                return joint
        return None

    @property
    def commandable(self) -> tuple[str, ...]:
        """Moving joints that follow no other (revolute, continuous, prismatic, no ``<mimic>``), document order."""
        return tuple(j.name for j in self.joints.values() if j.moving and j.mimics is None)

    @property
    def mimic(self) -> dict[str, str]:
        """Mimic joints and the joint each follows."""
        return {j.name: j.mimics for j in self.joints.values() if j.mimics is not None}

    def check_commandable(self, names: Sequence[str]) -> None:
        """RobotDescriptionError naming the first of ``names`` that is no commandable joint, and why."""
        for name in names:
            joint = self.joints.get(name)
            if joint is None:
                raise RobotDescriptionError(f"robot description has no joint {name!r}; its moving joints are "
                                            f"{list(self.commandable)}")
            if not joint.moving:
                raise RobotDescriptionError(f"robot description's joint {name!r} is {joint.type or 'untyped'}, "
                                            "not a moving joint")
            if joint.mimics is not None:
                raise RobotDescriptionError(f"robot description's joint {name!r} mimics {joint.mimics!r}: it "
                                            f"follows that joint and is not commanded (command {joint.mimics!r})")

    def joint_limit(self, name: str) -> tuple[float, float, float]:
        """(lower, upper, velocity) of commandable joint ``name``, per the URDF specification."""
        self.check_commandable([name])
        joint = self.joints[name]
        if joint.limit is None:
            raise RobotDescriptionError(f"robot description's joint {name!r} has no <limit>")
        if joint.type == "continuous":
            lo, hi = -np.inf, np.inf
        else:  # lower and upper default to 0 (URDF spec); a revolute joint without them cannot move
            lo = _number(name, "lower", joint.limit.get("lower", "0"))
            hi = _number(name, "upper", joint.limit.get("upper", "0"))
            if lo > hi:
                raise RobotDescriptionError(f"robot description's joint {name!r} has lower {lo:g} > upper {hi:g}")
        velocity = _number(name, "velocity", joint.limit.get("velocity"))
        if velocity <= 0:
            raise RobotDescriptionError(f"robot description's joint {name!r} has velocity limit {velocity:g}: "
                                        "expected a positive speed")
        return lo, hi, velocity

    def limits(self, robot_names: Sequence[str], names: Sequence[str] | None = None) -> JointLimits:
        """Limits of ``robot_names``, labelled ``names`` (default: the robot names).

        ``names`` lets the commander keep the model's joint names while reading the robot's joints.
        """
        rows = [self.joint_limit(name) for name in robot_names]
        lower, upper, velocity = (np.array([row[k] for row in rows], dtype=np.float64) for k in range(3))
        return JointLimits(tuple(robot_names if names is None else names), lower, upper, velocity)


def joint_limits(urdf: str, robot_names: Sequence[str], names: Sequence[str] | None = None) -> JointLimits:
    """Limits of ``robot_names`` from the URDF text ``urdf``: ``RobotDescription.from_urdf(urdf).limits(...)``."""
    return RobotDescription.from_urdf(urdf).limits(robot_names, names)


def limits_for(names: Sequence[str], description: RobotDescription | RobotDescriptionError | None,
               embedded: JointLimits) -> JointLimits:
    """Limits of the joints ``names``: the embedded arm's when they name any of its joints, else the description's.

    ``description``: the last ``/robot_description`` received, parsed, or the error it could not be read with
    (so a refusal says why there are no limits), or None before one arrives. A partial or mixed set of the
    embedded arm's joints meets the embedded arm, and is refused by ``check_trajectory`` as always. Raises
    ``UnsafeTrajectory`` naming what is missing (no description yet, an unreadable one, or a joint it gives no
    limits for): a joint without known limits is never commanded.
    """
    names = list(names)
    if not names or set(names) & set(embedded.names):
        return embedded
    if len(set(names)) != len(names):
        raise UnsafeTrajectory(f"trajectory repeats joint names: {names}")
    if description is None:
        raise UnsafeTrajectory(f"joints {names} are not the embedded arm's and no /robot_description has arrived "
                               "to give their limits")
    if isinstance(description, RobotDescriptionError):
        raise UnsafeTrajectory(f"joints {names} are not the embedded arm's and the last /robot_description could "
                               f"not be read, so their limits are unknown: {description}")
    try:
        return description.limits(names)
    except RobotDescriptionError as exc:
        raise UnsafeTrajectory(f"no limits for the trajectory's joints: {exc}") from None


class DescriptionLimits:
    """The joint limits the latest ``/robot_description`` gives, under one rule for a re-published description.

    A robot description is latched (transient local) and may be published again at any time (a
    robot_state_publisher restarted with a corrected URDF, a parameter changed). What a controls engineer
    expects, and what both readers (the streaming commander here, ``Ros2ControlOutput.on_description``
    for ros2_control) do:

    - the latest description is the one that counts, also after the arm's joints were fixed by a
      trajectory: a new readable one replaces the limits of those joints from the next trajectory on
      (the running one keeps the limits it was checked against), logged once on receipt;
    - an unreadable one, or one that lacks the fixed joints, keeps nothing of the old one: trajectories
      needing its limits are refused until a readable one arrives, logged once on receipt (each refusal
      then says why, through ``limits_for``).

    The embedded arm's joints always have the embedded arm's limits.
    """

    def __init__(self, embedded: JointLimits) -> None:
        self.embedded = embedded
        self.latest: RobotDescription | RobotDescriptionError | None = None

    def receive(self, urdf: str, fixed: Sequence[str] | None = None) -> tuple[bool, str]:
        """Take a newly received description; (whether its limits are usable, the one line to log).

        ``fixed``: the arm's joints once a trajectory has fixed them (None before), checked against it.
        """
        try:
            self.latest = RobotDescription.from_urdf(urdf)
        except RobotDescriptionError as exc:
            self.latest = exc
            return False, (f"/robot_description cannot be read, so no joint limits are known from it: trajectories "
                           f"for joints other than the embedded arm's are refused until a readable one arrives ({exc})")
        if fixed is None or set(fixed) & set(self.embedded.names):
            return True, "/robot_description received: limits for joints other than the embedded arm's come from it"
        try:
            self.latest.limits(fixed)
        except RobotDescriptionError as exc:
            return False, (f"/robot_description replaced by one without limits for the arm's joints: trajectories are "
                           f"refused until one that has them arrives ({exc})")
        return True, (f"/robot_description replaced: the limits of {list(fixed)} come from it from the next "
                      "trajectory on")

    def limits(self, names: Sequence[str]) -> JointLimits:
        """Limits of the joints ``names`` (``limits_for``); UnsafeTrajectory naming what is missing."""
        return limits_for(names, self.latest, self.embedded)
