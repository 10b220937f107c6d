"""Forward and inverse kinematics of the arm's end effector (the fingertip centre), in the table frame.

Both use MuJoCo's own model of the arm (built once from ``arm.build_mjcf``), so the kinematics can never
disagree with the simulated arm. The end effector is a point fixed in the gripper's frame between the
fingertips of the closed fingers, ``arm.HAND`` metres from the wrist centre along the gripper's axis.

Inverse kinematics is damped least squares on position and, by default, orientation (gripper pointing
straight down, fingers closing along the table's x axis, as a scripted pick would hold it), with the
arm's one redundant degree of freedom (the elbow's swivel) pulled towards the home posture in the
null space. Warm-started from a nearby solution it converges in a few iterations, which is what the
demonstration scripts need: one solve per 10 ms control tick along a Cartesian path.
"""

from __future__ import annotations

import threading

import mujoco
import numpy as np

from latent_nodes.sim import arm

# Gripper pointing down (its z axis along -z of the table), fingers along x: the home orientation.
DOWN = np.array([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]])
DOWN.setflags(write=False)

# Solutions keep this far from the joint limits, so that tracking overshoot never touches a limit.
LIMIT_MARGIN = 0.05

_model_lock = threading.Lock()
_model: mujoco.MjModel | None = None
_local = threading.local()  # one MjData per thread: FK may be called from several executor threads


class IKError(ValueError):
    """The target is out of reach (or the solver was stopped early); the message says how far off."""


def _state() -> tuple[mujoco.MjModel, mujoco.MjData, np.ndarray, np.ndarray, int]:
    global _model
    with _model_lock:
        if _model is None:
            _model = mujoco.MjModel.from_xml_string(arm.build_mjcf())
    data = getattr(_local, "data", None)
    if data is None:
        data = _local.data = mujoco.MjData(_model)
        _local.qadr = np.array([_model.joint(n).qposadr[0] for n in arm.JOINT_NAMES])
        _local.dadr = np.array([_model.joint(n).dofadr[0] for n in arm.ARM_JOINTS])
        _local.site = _model.site(arm.EE_SITE).id
    return _model, data, _local.qadr, _local.dadr, _local.site


def _check_q(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    if q.shape != (len(arm.JOINT_NAMES),):
        raise ValueError(f"expected {len(arm.JOINT_NAMES)} joint angles {arm.JOINT_NAMES}, got shape {q.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError(f"joint angles must be finite, got {q}")
    return q


def _place(q: np.ndarray, jacobian: bool = False) -> tuple[mujoco.MjModel, mujoco.MjData, np.ndarray, int]:
    model, data, qadr, dadr, site = _state()
    data.qpos[qadr] = q
    mujoco.mj_kinematics(model, data)
    if jacobian:
        mujoco.mj_comPos(model, data)  # the Jacobian needs the com-based motion vectors
    return model, data, dadr, site


def forward_kinematics(q: np.ndarray) -> np.ndarray:
    """[3] fingertip-centre position, metres in the table frame, for 9 joint angles ``q``."""
    _, data, _, site = _place(_check_q(q))
    return data.site_xpos[site].copy()


def forward_pose(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position [3], rotation [3, 3]) of the gripper frame at the fingertip centre."""
    _, data, _, site = _place(_check_q(q))
    return data.site_xpos[site].copy(), data.site_xmat[site].reshape(3, 3).copy()


def jacobian(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positional [3, 7], rotational [3, 7]) Jacobian of the fingertip centre w.r.t. the 7 arm joints."""
    model, data, dadr, site = _place(_check_q(q), jacobian=True)
    jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    mujoco.mj_jacSite(model, data, jacp, jacr, site)
    return jacp[:, dadr], jacr[:, dadr]


def orientation_error(rot: np.ndarray, target: np.ndarray) -> np.ndarray:
    """[3] rotation vector that turns ``rot`` towards ``target`` (exact direction, magnitude ~ sin angle)."""
    return 0.5 * sum(np.cross(rot[:, i], target[:, i]) for i in range(3))


def inverse_kinematics(target_xyz: np.ndarray, q0: np.ndarray | None = None, *,
                       orientation: np.ndarray | None = DOWN, orientation_weight: float = 0.3,
                       posture: np.ndarray | None = None, posture_gain: float = 0.1, damping: float = 0.02,
                       tol: float = 1e-4, max_iters: int = 200, max_error: float | None = 1e-3) -> np.ndarray:
    """9 joint angles that put the fingertip centre at ``target_xyz`` (table frame, metres).

    ``q0`` is the starting point (default HOME) and supplies the finger angles, which IK leaves alone.
    ``orientation`` is the gripper's target rotation matrix (default: pointing down, ``DOWN``), or None
    for position only; ``orientation_weight`` (metres per radian) trades it against position, so an
    unreachable orientation bends before the position gives. ``posture`` (default HOME) is what the
    redundant degrees of freedom are pulled towards. Iterates until the position error is below ``tol``
    and the orientation error below ``tol / orientation_weight``. Raises ``IKError`` if the final position
    error exceeds ``max_error`` (None: return the best effort).
    """
    target = np.asarray(target_xyz, dtype=np.float64)
    if target.shape != (3,) or not np.all(np.isfinite(target)):
        raise ValueError(f"IK target must be 3 finite coordinates (x, y, z), got {target_xyz!r}")
    q = _check_q(arm.HOME if q0 is None else q0).copy()
    rest = _check_q(arm.HOME if posture is None else posture)[: arm.N_ARM]
    lo = arm.JOINT_LOWER[: arm.N_ARM] + LIMIT_MARGIN
    hi = arm.JOINT_UPPER[: arm.N_ARM] - LIMIT_MARGIN
    q[: arm.N_ARM] = np.clip(q[: arm.N_ARM], lo, hi)
    rows = 3 if orientation is None else 6
    for _ in range(max_iters):
        model, data, dadr, site = _place(q, jacobian=True)
        err_p = target - data.site_xpos[site]
        jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
        mujoco.mj_jacSite(model, data, jacp, jacr, site)
        if orientation is None:
            err, jac = err_p, jacp[:, dadr]
            done = np.linalg.norm(err_p) < tol
        else:
            err_r = orientation_error(data.site_xmat[site].reshape(3, 3), orientation)
            err = np.concatenate([err_p, orientation_weight * err_r])
            jac = np.vstack([jacp[:, dadr], orientation_weight * jacr[:, dadr]])
            done = np.linalg.norm(err_p) < tol and orientation_weight * np.linalg.norm(err_r) < tol
        if done:
            break
        dq = jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(rows), err)
        null = np.eye(arm.N_ARM) - np.linalg.pinv(jac, rcond=1e-4) @ jac
        dq += null @ (posture_gain * (rest - q[: arm.N_ARM]))
        step = np.linalg.norm(dq)
        if step > 0.3:  # large steps leave the region where the linearization holds
            dq *= 0.3 / step
        q[: arm.N_ARM] = np.clip(q[: arm.N_ARM] + dq, lo, hi)
    error = float(np.linalg.norm(target - forward_kinematics(q)))
    if max_error is not None and error > max_error:
        raise IKError(f"IK could not reach {np.round(target, 4).tolist()} m (table frame): the fingertip "
                      f"stays {error * 1000:.1f} mm away; the point is outside the arm's reach with this "
                      f"orientation or too close to a joint limit")
    return q
