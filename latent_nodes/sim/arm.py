"""The Torobo-like arm: joint names, limits, home pose and links in one place, and the MJCF of the whole world.

Every layer that speaks about joints reads them from here: the simulator, the kinematics, the
demonstrations, the dataset's ``joint_names`` and the ROS nodes' JointState / JointTrajectory messages.
The arm's kinematic tree (``LINKS``: link frames, joints, solids) is data, so that the MJCF below and
the URDF of ``latent_nodes.sim.urdf`` are both written from it and cannot disagree.

The arm is a 7-joint S-R-S chain (shoulder yaw, pitch, roll; elbow pitch; forearm roll; wrist pitch;
flange roll) with a two-finger gripper whose fingers are revolute, so the state is 9 joint angles. Link
lengths are those of a 7-DOF collaborative arm with 0.8 m from shoulder to wrist (Torobo Arm, Franka
Panda and KUKA iiwa are all in this range); the exact numbers are below and in ``docs/simulator.md``.

The world frame of the MJCF *is* the ``table`` frame: x forward from the arm's base, y to its left, z up
from the table surface, metres. The arm's base sits at the origin on a pedestal behind the table, level
with the table top, so block coordinates need no transform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latent_nodes.config import CameraConfig, SimConfig
from latent_nodes.sim.camera import mjcf_camera

ARM_JOINTS = tuple(f"arm_joint_{i}" for i in range(1, 8))
FINGER_JOINTS = ("finger_joint_left", "finger_joint_right")
JOINT_NAMES: tuple[str, ...] = ARM_JOINTS + FINGER_JOINTS
N_ARM = len(ARM_JOINTS)

# Kinematic lengths, metres (S-R-S: the three shoulder axes meet at one point, the wrist pitch and
# flange roll axes meet at the wrist centre).
SHOULDER_HEIGHT = 0.30  # base plate to the shoulder centre (arm_joint_2 axis)
UPPER_ARM = 0.40  # shoulder centre to elbow (arm_joint_4 axis)
FOREARM = 0.40  # elbow to wrist centre (arm_joint_6 axis)
HAND = 0.20  # wrist centre to the fingertip centre (flange 0.06, gripper body 0.06, fingers 0.08)
FINGER_LENGTH = 0.08
FINGER_PIVOT = 0.012  # finger pivots sit this far either side of the gripper's axis

# Limits in the order of JOINT_NAMES. Shoulder and wrist ranges are those of 7-DOF collaborative arms;
# the elbow bends further (149 deg) so that the gripper can point straight down over the near edge of
# the block workspace. Finger angles: 0 is closed, 0.6 rad opens the fingertips to about 11 cm.
JOINT_LOWER = np.array([-2.90, -1.90, -2.90, -2.60, -2.90, -2.10, -3.00, 0.0, 0.0])
JOINT_UPPER = np.array([2.90, 1.90, 2.90, 2.60, 2.90, 2.10, 3.00, 0.6, 0.6])
# Rated joint speeds, rad/s: 143 deg/s for shoulder and elbow, 172 deg/s for the wrist (collaborative
# arms are rated 100-180 deg/s), 1.5 rad/s for the fingers. The scripted demonstrations peak at about
# 2.1 rad/s (arm_joint_4 circling a block at a far corner of the workspace; 1.9 rad/s over a 0.1 s step).
MAX_VELOCITY = np.array([2.5, 2.5, 2.5, 2.5, 3.0, 3.0, 3.0, 1.5, 1.5])
# Torque limits, N m: what a harmonic-drive joint of this size delivers continuously.
MAX_TORQUE = np.array([150.0, 150.0, 80.0, 80.0, 30.0, 30.0, 15.0, 5.0, 5.0])

# Home, a ready pose: upper arm leaning forward 0.22 rad, elbow bent 2.02 rad, wrist pitched so the
# gripper points straight down (the pitches sum to pi), fingers slightly open. The fingertips are then
# 0.40 m in front of the base and 0.24 m above the table, over the near half of the block workspace,
# so every block position is a short approach away (the paper's behaviours last only 2 s).
HOME = np.array([0.0, 0.22, 0.0, 2.02, 0.0, np.pi - 2.24, 0.0, 0.05, 0.05])

# Position servo per joint (MuJoCo position actuators: torque = kp (target - q) - kv qdot, clamped to
# MAX_TORQUE, gravity compensated). Over the joint-space inertias met along the demonstrations (armature
# plus links, kg m^2: arm_joint_1 0.92-2.25, arm_joint_2 1.36-2.39, arm_joint_3 0.54-0.72, arm_joint_4
# 0.71-0.74, wrist 0.04-0.09, fingers 0.001) kp gives a natural frequency of 16 Hz at each joint's
# largest inertia (up to 25 Hz at its smallest) and kv a damping ratio of 0.9 there (up to 1.4): a
# target moving every 0.1 s is followed with about 20 ms of lag and no ringing. docs/simulator.md has
# the measured tracking error.
KP = np.array([22000.0, 24000.0, 7200.0, 7500.0, 900.0, 900.0, 400.0, 10.0, 10.0])
KV = np.array([400.0, 430.0, 130.0, 135.0, 16.0, 16.0, 7.3, 0.18, 0.18])
# Reflected rotor inertia of the geared motors, kg m^2: dominates the wrist's inertia, as on real arms.
ARMATURE = np.array([0.40, 0.40, 0.20, 0.20, 0.08, 0.08, 0.04, 0.001, 0.001])
DAMPING = np.array([1.0, 1.0, 0.5, 0.5, 0.2, 0.2, 0.1, 0.01, 0.01])  # joint viscous friction, N m s/rad

EE_SITE = "fingertip_centre"
BLOCK_BODY = "block"
TABLE_HEIGHT = 0.75  # table top above the floor
TABLE_THICKNESS = 0.04

for _name, _array in (("JOINT_LOWER", JOINT_LOWER), ("JOINT_UPPER", JOINT_UPPER), ("MAX_VELOCITY", MAX_VELOCITY),
                      ("MAX_TORQUE", MAX_TORQUE), ("HOME", HOME), ("KP", KP), ("KV", KV), ("ARMATURE", ARMATURE),
                      ("DAMPING", DAMPING)):
    assert _array.shape == (len(JOINT_NAMES),), f"{_name} must have one entry per joint"
    _array.setflags(write=False)  # shared by every module: nobody may change them in place
assert np.all(JOINT_LOWER <= HOME) and np.all(HOME <= JOINT_UPPER), "HOME must lie inside the joint limits"

# Joint axes in the frame of the link each joint moves, in the order of JOINT_NAMES: z for yaw and roll, y for
# pitch; the right finger turns about -y so that positive angles open both fingers.
JOINT_AXES = np.array([(0, 0, 1), (0, 1, 0), (0, 0, 1), (0, 1, 0), (0, 0, 1), (0, 1, 0), (0, 0, 1),
                       (0, 1, 0), (0, -1, 0)], dtype=np.float64)
JOINT_AXES.setflags(write=False)
assert JOINT_AXES.shape == (len(JOINT_NAMES), 3), "JOINT_AXES must have one axis per joint"

# Materials, RGBA: white shells, dark joint housings and fingers.
MATERIALS = {"shell": (0.93, 0.93, 0.95, 1.0), "joint": (0.18, 0.19, 0.22, 1.0), "finger": (0.25, 0.27, 0.30, 1.0)}
QUARTER_TURN = 1.5708  # roll of a joint housing lying across its link (a pitch joint's axis), rad


@dataclass(frozen=True)
class Geom:
    """One solid of a link, in the link's frame, with MuJoCo's size conventions (half lengths).

    ``shape`` is "box" (size: half extents x, y, z), "cylinder" or "capsule" (size: radius, half length of
    the axis, not counting a capsule's caps); axes are the link's z, turned by ``roll`` about its x.
    """

    shape: str
    size: tuple[float, ...]
    mass: float
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    roll: float = 0.0
    material: str = "shell"


@dataclass(frozen=True)
class Link:
    """A rigid link: its frame's origin in its parent's frame, the joint that moves it, its solids.

    All link frames are parallel when every joint is at zero, so an origin is a translation only.
    ``joint`` is None for the base, which is fixed at the origin of the table frame.
    """

    name: str
    parent: str | None
    pos: tuple[float, float, float]
    joint: str | None
    geoms: tuple[Geom, ...]


def _capsule(z0: float, z1: float, radius: float, mass: float) -> Geom:
    """A capsule along the link's z from ``z0`` to ``z1`` (the centres of its caps)."""
    return Geom("capsule", (radius, (z1 - z0) / 2), mass, pos=(0.0, 0.0, (z0 + z1) / 2))


# The kinematic tree, parents before children. Lengths: SHOULDER_HEIGHT from the base plate to the
# arm_joint_2 axis, UPPER_ARM from there to the arm_joint_4 axis, FOREARM on to the arm_joint_6 axis (the
# wrist centre), then the flange (0.06), the gripper body (0.06) and the fingers (FINGER_LENGTH).
LINKS: tuple[Link, ...] = (
    Link("base_link", None, (0.0, 0.0, 0.0), None, (Geom("cylinder", (0.075, 0.04), 4.0, pos=(0.0, 0.0, 0.04)),)),
    Link("link_1", "base_link", (0.0, 0.0, 0.08), "arm_joint_1", (
        Geom("cylinder", (0.065, 0.08), 3.5, pos=(0.0, 0.0, 0.08)),
        Geom("cylinder", (0.068, 0.065), 0.5, pos=(0.0, 0.0, SHOULDER_HEIGHT - 0.08), roll=QUARTER_TURN,
             material="joint"))),
    Link("link_2", "link_1", (0.0, 0.0, SHOULDER_HEIGHT - 0.08), "arm_joint_2", (_capsule(0.02, 0.18, 0.058, 2.5),)),
    Link("link_3", "link_2", (0.0, 0.0, 0.20), "arm_joint_3", (
        _capsule(0.0, UPPER_ARM - 0.22, 0.052, 2.2),
        Geom("cylinder", (0.058, 0.055), 0.5, pos=(0.0, 0.0, UPPER_ARM - 0.20), roll=QUARTER_TURN,
             material="joint"))),
    Link("link_4", "link_3", (0.0, 0.0, UPPER_ARM - 0.20), "arm_joint_4", (_capsule(0.02, 0.16, 0.048, 1.6),)),
    Link("link_5", "link_4", (0.0, 0.0, 0.18), "arm_joint_5", (
        _capsule(0.0, FOREARM - 0.22, 0.042, 1.3),
        Geom("cylinder", (0.046, 0.045), 0.3, pos=(0.0, 0.0, FOREARM - 0.18), roll=QUARTER_TURN,
             material="joint"))),
    Link("link_6", "link_5", (0.0, 0.0, FOREARM - 0.18), "arm_joint_6", (_capsule(0.02, 0.045, 0.04, 0.8),)),
    Link("link_7", "link_6", (0.0, 0.0, 0.06), "arm_joint_7", (
        Geom("cylinder", (0.038, 0.012), 0.3, pos=(0.0, 0.0, 0.012), material="joint"),
        Geom("box", (0.030, 0.040, 0.024), 0.5, pos=(0.0, 0.0, 0.036)))),
    Link("finger_left", "link_7", (FINGER_PIVOT, 0.0, 0.06), "finger_joint_left", (
        Geom("box", (0.006, 0.012, FINGER_LENGTH / 2), 0.06, pos=(0.002, 0.0, FINGER_LENGTH / 2),
             material="finger"),)),
    Link("finger_right", "link_7", (-FINGER_PIVOT, 0.0, 0.06), "finger_joint_right", (
        Geom("box", (0.006, 0.012, FINGER_LENGTH / 2), 0.06, pos=(-0.002, 0.0, FINGER_LENGTH / 2),
             material="finger"),)),
)
# The end effector (EE_SITE): fixed in the gripper between the tips of the closed fingers, HAND from the
# wrist centre along the gripper's axis.
EE_LINK = "link_7"
EE_POS = (0.0, 0.0, HAND - 0.06)

assert [link.joint for link in LINKS if link.joint] == list(JOINT_NAMES), "LINKS must move by JOINT_NAMES, in order"
assert all(link.parent in {other.name for other in LINKS[:i]} for i, link in enumerate(LINKS) if link.parent), \
    "LINKS must list parents before children"
assert all(g.material in MATERIALS for link in LINKS for g in link.geoms), "every geom material must be in MATERIALS"


def _numbers(values) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def _joint(name: str) -> str:
    i = JOINT_NAMES.index(name)
    # actuatorgravcomp: the controller, not a magic buoyancy, holds the links against gravity, so that
    # torque counts against the joint's torque limit as it would on the real arm.
    return (f'<joint name="{name}" axis="{_numbers(JOINT_AXES[i])}" range="{JOINT_LOWER[i]:.6g} {JOINT_UPPER[i]:.6g}" '
            f'armature="{ARMATURE[i]:.6g}" damping="{DAMPING[i]:.6g}" actuatorgravcomp="true" '
            f'actuatorfrcrange="{-MAX_TORQUE[i]:.6g} {MAX_TORQUE[i]:.6g}"/>')


def _geom(g: Geom) -> str:
    placement = f'pos="{_numbers(g.pos)}"' + (f' euler="{g.roll:.6g} 0 0"' if g.roll else "")
    if g.shape == "capsule":  # MuJoCo places a capsule by the centres of its caps
        radius, half = g.size
        placement = f'fromto="{_numbers((g.pos[0], g.pos[1], g.pos[2] - half, g.pos[0], g.pos[1], g.pos[2] + half))}"'
        assert not g.roll, "capsules lie along their link"
        return f'<geom type="capsule" {placement} size="{radius:.6g}" material="{g.material}" mass="{g.mass:.6g}"/>'
    return f'<geom type="{g.shape}" size="{_numbers(g.size)}" {placement} material="{g.material}" mass="{g.mass:.6g}"/>'


def _body(link: Link, indent: str) -> str:
    """The MJCF body of ``link`` with its joint, solids, the end-effector site and its child links."""
    attrs = 'childclass="arm"' if link.parent is None else f'pos="{_numbers(link.pos)}" gravcomp="1"'
    lines = [f'<body name="{link.name}" {attrs}>']
    if link.joint is not None:
        lines.append(f"  {_joint(link.joint)}")
    lines += [f"  {_geom(g)}" for g in link.geoms]
    if link.name == EE_LINK:
        lines.append(f'  <site name="{EE_SITE}" pos="{_numbers(EE_POS)}" size="0.006" rgba="0.1 0.8 0.2 0.6" '
                     'group="3"/>')
    lines += [_body(child, "  ") for child in LINKS if child.parent == link.name]
    lines.append("</body>")
    return "\n".join(indent + line for line in "\n".join(lines).split("\n"))


def _look_at(pos: tuple[float, float, float], target: tuple[float, float, float]) -> str:
    """MJCF ``xyaxes`` of a camera at ``pos`` looking at ``target`` with the table's z up in the image."""
    forward = np.subtract(target, pos, dtype=np.float64)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return " ".join(f"{v:.4f}" for v in (*right, *up))


def build_mjcf(sim_cfg: SimConfig | None = None, camera_cfg: CameraConfig | None = None) -> str:
    """The MJCF of arm, table, pedestal, block and RGB-D camera, sized from ``sim_cfg`` (table extent, block
    edge, dt) and ``camera_cfg`` (the camera's mount and field of view, ``latent_nodes.sim.camera``).

    Built in code rather than kept as a file so that the table and the block follow the configuration;
    the arm itself does not depend on it, so kinematics computed on any build agree.
    """
    cfg = sim_cfg or SimConfig()
    (tx0, tx1), (ty0, ty1) = cfg.table_x, cfg.table_y
    if not (tx0 < tx1 and ty0 < ty1):
        raise ValueError(f"table extent must be increasing, got table_x={cfg.table_x}, table_y={cfg.table_y}")
    if not 0 < cfg.block_size < 0.2:
        raise ValueError(f"block_size must be in (0, 0.2) m, got {cfg.block_size}")
    if not 0 < cfg.physics_dt <= 0.01:
        raise ValueError(f"physics_dt must be in (0, 0.01] s, got {cfg.physics_dt}")
    h = cfg.block_size / 2
    wcx, wcy = sum(cfg.workspace_x) / 2, sum(cfg.workspace_y) / 2
    cx, cy, hx, hy = (tx0 + tx1) / 2, (ty0 + ty1) / 2, (tx1 - tx0) / 2, (ty1 - ty0) / 2
    legs = "\n".join(
        f'<geom class="furniture" type="box" size="0.025 0.025 {(TABLE_HEIGHT - TABLE_THICKNESS) / 2:.4f}" '
        f'pos="{x:.4f} {y:.4f} {-(TABLE_HEIGHT + TABLE_THICKNESS) / 2:.4f}" material="wood"/>'
        for x in (tx0 + 0.05, tx1 - 0.05) for y in (ty0 + 0.05, ty1 - 0.05))
    actuators = "\n".join(
        f'<position name="{n}" joint="{n}" kp="{KP[i]:.6g}" kv="{KV[i]:.6g}" '
        f'ctrlrange="{JOINT_LOWER[i]:.6g} {JOINT_UPPER[i]:.6g}" forcerange="{-MAX_TORQUE[i]:.6g} {MAX_TORQUE[i]:.6g}"/>'
        for i, n in enumerate(JOINT_NAMES))
    arm_bodies = _body(LINKS[0], "    ").lstrip()
    arm_materials = "\n    ".join(
        f'<material name="{name}" rgba="{_numbers(rgba)}"' + (' specular="0.3"/>' if name == "shell" else "/>")
        for name, rgba in MATERIALS.items())
    # Collision groups: arm geoms (contype 2, conaffinity 0) never collide with each other, only with the
    # table and the block (contype 1, conaffinity 3); that keeps the physics cheap and the arm's links,
    # which overlap at the joints, from fighting each other.
    return f"""<mujoco model="latent_nodes_torobo_like_arm">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{cfg.physics_dt:.6g}" integrator="implicitfast" gravity="0 0 -9.81"/>
  <visual>
    <global offwidth="1280" offheight="960" elevation="-30" azimuth="150"/>
    <quality shadowsize="2048"/>
    <headlight ambient="0.3 0.3 0.3" diffuse="0.35 0.35 0.35" specular="0.1 0.1 0.1"/>
  </visual>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.93 0.95 0.98" rgb2="0.70 0.76 0.84"
             width="256" height="256"/>
    <texture name="floor" type="2d" builtin="checker" rgb1="0.82 0.83 0.85" rgb2="0.74 0.75 0.78"
             width="256" height="256"/>
    <material name="floor" texture="floor" texrepeat="6 6"/>
    <material name="wood" rgba="0.72 0.58 0.42 1"/>
    <material name="tabletop" rgba="0.78 0.70 0.58 1"/>
    {arm_materials}
    <material name="block" rgba="0.85 0.08 0.06 1"/>
  </asset>
  <default>
    <default class="furniture"><geom contype="1" conaffinity="3" friction="0.8 0.01 0.001"/></default>
    <default class="arm"><geom contype="2" conaffinity="0" material="shell"/></default>
  </default>
  <worldbody>
    <light name="key" pos="0.6 -0.6 2.2" dir="-0.2 0.3 -1" diffuse="0.6 0.6 0.6" castshadow="true"/>
    <light name="fill" pos="-0.8 0.8 1.8" dir="0.5 -0.4 -1" diffuse="0.25 0.25 0.25" castshadow="false"/>
    <camera name="overview" pos="1.20 -0.80 1.00" xyaxes="{_look_at((1.20, -0.80, 1.00), (0.32, 0.0, 0.24))}"/>
    <camera name="side" pos="0.42 -1.25 0.38" xyaxes="{_look_at((0.42, -1.25, 0.38), (0.38, 0.0, 0.26))}"/>
    <camera name="top" pos="0.42 0 1.40" xyaxes="0 -1 0 1 0 0"/>
    {mjcf_camera(camera_cfg)}
    <geom name="floor" type="plane" size="3 3 0.1" pos="0 0 {-TABLE_HEIGHT:.4f}" material="floor"
          contype="1" conaffinity="3"/>
    <geom name="table" class="furniture" type="box" size="{hx:.4f} {hy:.4f} {TABLE_THICKNESS / 2:.4f}"
          pos="{cx:.4f} {cy:.4f} {-TABLE_THICKNESS / 2:.4f}" material="tabletop"/>
    {legs}
    <geom name="pedestal" class="furniture" type="cylinder" size="0.09 {TABLE_HEIGHT / 2:.4f}"
          pos="0 0 {-TABLE_HEIGHT / 2:.4f}" material="joint"/>
    {arm_bodies}
    <body name="{BLOCK_BODY}" pos="{wcx:.4f} {wcy:.4f} {h:.4f}">
      <freejoint name="block_free"/>
      <geom name="block" class="furniture" type="box" size="{h:.4f} {h:.4f} {h:.4f}" material="block"
            mass="0.05"/>
    </body>
  </worldbody>
  <actuator>
    {actuators}
  </actuator>
</mujoco>
"""
