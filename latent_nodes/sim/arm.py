"""The Torobo-like arm: joint names, limits and home pose in one place, and the MJCF of the whole world.

Every layer that speaks about joints reads them from here: the simulator, the kinematics, the
demonstrations, the dataset's ``joint_names`` and the ROS nodes' JointState / JointTrajectory messages.

The arm is a 7-joint S-R-S chain (shoulder yaw, pitch, roll; elbow pitch; forearm roll; wrist pitch;
flange roll) with a two-finger gripper whose fingers are revolute, so the state is 9 joint angles. Link
lengths are those of a 7-DOF collaborative arm with 0.8 m from shoulder to wrist (Torobo Arm, Franka
Panda and KUKA iiwa are all in this range); the exact numbers are below and in ``docs/simulator.md``.

The world frame of the MJCF *is* the ``table`` frame: x forward from the arm's base, y to its left, z up
from the table surface, metres. The arm's base sits at the origin on a pedestal behind the table, level
with the table top, so block coordinates need no transform.
"""

from __future__ import annotations

import numpy as np

from latent_nodes.config import SimConfig

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


def _joint(i: int, axis: str) -> str:
    # actuatorgravcomp: the controller, not a magic buoyancy, holds the links against gravity, so that
    # torque counts against the joint's torque limit as it would on the real arm.
    return (f'<joint name="{JOINT_NAMES[i]}" axis="{axis}" range="{JOINT_LOWER[i]:.6g} {JOINT_UPPER[i]:.6g}" '
            f'armature="{ARMATURE[i]:.6g}" damping="{DAMPING[i]:.6g}" actuatorgravcomp="true" '
            f'actuatorfrcrange="{-MAX_TORQUE[i]:.6g} {MAX_TORQUE[i]:.6g}"/>')


def _look_at(pos: tuple[float, float, float], target: tuple[float, float, float]) -> str:
    """MJCF ``xyaxes`` of a camera at ``pos`` looking at ``target`` with the table's z up in the image."""
    forward = np.subtract(target, pos, dtype=np.float64)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return " ".join(f"{v:.4f}" for v in (*right, *up))


def build_mjcf(sim_cfg: SimConfig | None = None) -> str:
    """The MJCF of arm, table, pedestal and block, sized from ``sim_cfg`` (table extent, block edge, dt).

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
    <material name="shell" rgba="0.93 0.93 0.95 1" specular="0.3"/>
    <material name="joint" rgba="0.18 0.19 0.22 1"/>
    <material name="finger" rgba="0.25 0.27 0.30 1"/>
    <material name="block" rgba="0.85 0.08 0.06 1"/>
  </asset>
  <default>
    <default class="furniture"><geom contype="1" conaffinity="3" friction="0.8 0.01 0.001"/></default>
    <default class="arm">
      <geom contype="2" conaffinity="0" material="shell"/>
      <default class="joint_housing"><geom type="cylinder" material="joint"/></default>
    </default>
  </default>
  <worldbody>
    <light name="key" pos="0.6 -0.6 2.2" dir="-0.2 0.3 -1" diffuse="0.6 0.6 0.6" castshadow="true"/>
    <light name="fill" pos="-0.8 0.8 1.8" dir="0.5 -0.4 -1" diffuse="0.25 0.25 0.25" castshadow="false"/>
    <camera name="overview" pos="1.20 -0.80 1.00" xyaxes="{_look_at((1.20, -0.80, 1.00), (0.32, 0.0, 0.24))}"/>
    <camera name="side" pos="0.42 -1.25 0.38" xyaxes="{_look_at((0.42, -1.25, 0.38), (0.38, 0.0, 0.26))}"/>
    <camera name="top" pos="0.42 0 1.40" xyaxes="0 -1 0 1 0 0"/>
    <geom name="floor" type="plane" size="3 3 0.1" pos="0 0 {-TABLE_HEIGHT:.4f}" material="floor"
          contype="1" conaffinity="3"/>
    <geom name="table" class="furniture" type="box" size="{hx:.4f} {hy:.4f} {TABLE_THICKNESS / 2:.4f}"
          pos="{cx:.4f} {cy:.4f} {-TABLE_THICKNESS / 2:.4f}" material="tabletop"/>
    {legs}
    <geom name="pedestal" class="furniture" type="cylinder" size="0.09 {TABLE_HEIGHT / 2:.4f}"
          pos="0 0 {-TABLE_HEIGHT / 2:.4f}" material="joint"/>
    <body name="base_link" childclass="arm">
      <geom type="cylinder" size="0.075 0.04" pos="0 0 0.04" mass="4.0"/>
      <body name="link_1" pos="0 0 0.08" gravcomp="1">
        {_joint(0, "0 0 1")}
        <geom type="cylinder" size="0.065 0.08" pos="0 0 0.08" mass="3.5"/>
        <geom class="joint_housing" size="0.068 0.065" pos="0 0 {SHOULDER_HEIGHT - 0.08:.4f}"
              euler="1.5708 0 0" mass="0.5"/>
        <body name="link_2" pos="0 0 {SHOULDER_HEIGHT - 0.08:.4f}" gravcomp="1">
          {_joint(1, "0 1 0")}
          <geom type="capsule" fromto="0 0 0.02 0 0 0.18" size="0.058" mass="2.5"/>
          <body name="link_3" pos="0 0 0.20" gravcomp="1">
            {_joint(2, "0 0 1")}
            <geom type="capsule" fromto="0 0 0 0 0 {UPPER_ARM - 0.22:.4f}" size="0.052" mass="2.2"/>
            <geom class="joint_housing" size="0.058 0.055" pos="0 0 {UPPER_ARM - 0.20:.4f}"
                  euler="1.5708 0 0" mass="0.5"/>
            <body name="link_4" pos="0 0 {UPPER_ARM - 0.20:.4f}" gravcomp="1">
              {_joint(3, "0 1 0")}
              <geom type="capsule" fromto="0 0 0.02 0 0 0.16" size="0.048" mass="1.6"/>
              <body name="link_5" pos="0 0 0.18" gravcomp="1">
                {_joint(4, "0 0 1")}
                <geom type="capsule" fromto="0 0 0 0 0 {FOREARM - 0.22:.4f}" size="0.042" mass="1.3"/>
                <geom class="joint_housing" size="0.046 0.045" pos="0 0 {FOREARM - 0.18:.4f}"
                      euler="1.5708 0 0" mass="0.3"/>
                <body name="link_6" pos="0 0 {FOREARM - 0.18:.4f}" gravcomp="1">
                  {_joint(5, "0 1 0")}
                  <geom type="capsule" fromto="0 0 0.02 0 0 0.045" size="0.04" mass="0.8"/>
                  <body name="link_7" pos="0 0 0.06" gravcomp="1">
                    {_joint(6, "0 0 1")}
                    <geom class="joint_housing" size="0.038 0.012" pos="0 0 0.012" mass="0.3"/>
                    <geom type="box" size="0.030 0.040 0.024" pos="0 0 0.036" mass="0.5"/>
                    <site name="{EE_SITE}" pos="0 0 {HAND - 0.06:.4f}" size="0.006" rgba="0.1 0.8 0.2 0.6"
                          group="3"/>
                    <body name="finger_left" pos="{FINGER_PIVOT} 0 0.06" gravcomp="1">
                      {_joint(7, "0 1 0")}
                      <geom type="box" size="0.006 0.012 {FINGER_LENGTH / 2:.4f}" pos="0.002 0 {FINGER_LENGTH / 2:.4f}"
                            material="finger" mass="0.06"/>
                    </body>
                    <body name="finger_right" pos="{-FINGER_PIVOT} 0 0.06" gravcomp="1">
                      {_joint(8, "0 -1 0")}
                      <geom type="box" size="0.006 0.012 {FINGER_LENGTH / 2:.4f}" pos="-0.002 0 {FINGER_LENGTH / 2:.4f}"
                            material="finger" mass="0.06"/>
                    </body>
                  </body>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>
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
