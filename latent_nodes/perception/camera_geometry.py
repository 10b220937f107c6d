"""What relates a camera's pixels to the table frame: its pose (extrinsics) and its pinhole intrinsics.

Conventions are ROS's: the optical frame has z forward along the optical axis, x right and y down in
the image (REP 103); URDF rotations are roll, pitch, yaw about the fixed x, y, z axes; K is the 3 x 3
matrix of sensor_msgs/CameraInfo with pixel centres at integer coordinates (OpenCV's convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraPose:
    """The optical frame in the table frame: ``rotation`` maps optical-frame vectors to table-frame ones."""

    rotation: np.ndarray  # [3, 3], columns: the optical x (right), y (down), z (forward) in the table frame
    position: np.ndarray  # [3] optical centre, metres

    def to_optical(self, points: np.ndarray) -> np.ndarray:
        """[N, 3] table-frame points in the optical frame."""
        return (np.asarray(points, dtype=np.float64) - self.position) @ self.rotation

    def to_table(self, points: np.ndarray) -> np.ndarray:
        """[N, 3] optical-frame points in the table frame."""
        return np.asarray(points, dtype=np.float64) @ self.rotation.T + self.position

    @classmethod
    def from_xyz_rpy(cls, values) -> CameraPose:
        """From [x, y, z, roll, pitch, yaw] (metres, radians), how a URDF joint or a calibration writes it."""
        v = np.asarray(values, dtype=np.float64)
        if v.shape != (6,) or not np.all(np.isfinite(v)):
            raise ValueError(f"a camera pose is six finite numbers [x, y, z, roll, pitch, yaw], got {v.tolist()}")
        return cls(rotation=rpy_to_rotation(*v[3:]), position=v[:3])


def rpy_to_rotation(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """The rotation of URDF's rpy (fixed axes x, y, z: R = Rz(yaw) Ry(pitch) Rx(roll))."""
    cr, sr, cp, sp, cy, sy = (math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch), math.cos(yaw),
                              math.sin(yaw))
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def rotation_to_rpy(rotation: np.ndarray) -> tuple[float, float, float]:
    """URDF roll, pitch, yaw of a rotation matrix (the inverse of ``rpy_to_rotation``)."""
    r = np.asarray(rotation, dtype=np.float64)
    pitch = math.asin(max(-1.0, min(1.0, -r[2, 0])))
    if abs(r[2, 0]) < 1.0 - 1e-12:
        return math.atan2(r[2, 1], r[2, 2]), pitch, math.atan2(r[1, 0], r[0, 0])
    return 0.0, pitch, math.atan2(-r[0, 1], r[1, 1])  # gimbal lock: yaw and roll turn about one axis


def intrinsics_problem(k: np.ndarray, width: int, height: int) -> str | None:
    """Why ``k`` cannot be a pinhole camera's K for a ``width`` x ``height`` image, or None.

    Focal lengths positive and finite, the principal point inside the image, the last row (0, 0, 1):
    an all-zero K (an uncalibrated driver's CameraInfo) fails the first.
    """
    k = np.asarray(k, dtype=np.float64)
    if k.shape != (3, 3) or not np.all(np.isfinite(k)):
        return f"K must be 3 x 3 finite numbers, got {np.round(k, 4).ravel().tolist()}"
    if not (k[0, 0] > 0 and k[1, 1] > 0):
        return f"K's focal lengths must be positive, got fx = {k[0, 0]:g}, fy = {k[1, 1]:g}"
    if not (-0.5 <= k[0, 2] <= width - 0.5 and -0.5 <= k[1, 2] <= height - 0.5):
        return f"K's principal point ({k[0, 2]:g}, {k[1, 2]:g}) lies outside the {width} x {height} image"
    if k[1, 0] != 0 or k[2, 0] != 0 or k[2, 1] != 0 or k[2, 2] != 1:
        return f"K must be upper triangular with K[2, 2] = 1, got {np.round(k, 4).ravel().tolist()}"
    return None
