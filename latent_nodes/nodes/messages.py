"""Every conversion between ROS messages and arrays, in one place.

The nodes never pick fields out of messages themselves: they call these functions, so the topic contract
(frames, units, timing, joint order) is written down once and the core below only ever sees numpy arrays.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Duration, Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from rclpy.time import Time as RclpyTime
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64, String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

# Topic names of the contract (docs/architecture.md); the CoppeliaSim scene script uses the same.
BLOCK_POSE = "/block_pose"
DIAGNOSTICS = "/diagnostics"
BEHAVIOUR = "/behaviour"
COMPLETED_BEHAVIOUR = "/completed_behaviour"
INFERENCE_RESULT = "/inference/result"
JOINT_COMMAND = "/joint_command"
JOINT_STATES = "/joint_states"
ROBOT_DESCRIPTION = "/robot_description"
SIM_BLOCK_POSE = "/sim/block_pose"
SIM_SET_BLOCK = "/sim/set_block"
TRACKING_ERROR = "/commander/tracking_error"
# The RGB-D camera, under the names of a realsense2_camera or image_pipeline driver in the ``camera``
# namespace: colour (rgb8), depth registered to the colour image (32FC1 metres), each with its CameraInfo.
CAMERA_COLOR_IMAGE = "/camera/color/image_raw"
CAMERA_COLOR_INFO = "/camera/color/camera_info"
CAMERA_DEPTH_IMAGE = "/camera/depth/image_raw"
CAMERA_DEPTH_INFO = "/camera/depth/camera_info"
# The camera perception's pose with its uncertainty (same header as /block_pose), for RViz and for nodes
# that weigh observations.
BLOCK_POSE_COVARIANCE = "/block_pose/covariance"


def seconds_to_time(seconds: float) -> Time:
    """A builtin_interfaces/Time from seconds (for /clock and header stamps)."""
    sec = math.floor(seconds)
    return Time(sec=int(sec), nanosec=min(int(round((seconds - sec) * 1e9)), 999_999_999))


def time_to_seconds(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def seconds_to_duration(seconds: float) -> Duration:
    sec = math.floor(seconds)
    return Duration(sec=int(sec), nanosec=min(int(round((seconds - sec) * 1e9)), 999_999_999))


def duration_to_seconds(duration: Duration) -> float:
    return duration.sec + duration.nanosec * 1e-9


# --- block poses (geometry_msgs/PoseStamped in the table frame) -------------------------------------------

def block_pose(xy: Sequence[float], frame_id: str, stamp: Time | None = None, z: float = 0.0) -> PoseStamped:
    """The block's pose: x, y on the table plane (metres), z above it, no rotation."""
    msg = PoseStamped()
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = float(xy[0]), float(xy[1]), float(z)
    msg.pose.orientation.w = 1.0
    return msg


def block_xy(msg: PoseStamped) -> np.ndarray:
    """[2] x, y of a block pose (the model only uses the position on the table plane)."""
    return np.array([msg.pose.position.x, msg.pose.position.y], dtype=np.float64)


# --- trajectories (trajectory_msgs/JointTrajectory) ---------------------------------------------------------

def joint_trajectory(names: Sequence[str], joints: np.ndarray, dt: float, stamp: Time | None = None) -> JointTrajectory:
    """A completed behaviour as a trajectory: point k at (k + 1) * dt.

    The first point lies one step after the start, as in ros2_control's convention: the executor moves
    from wherever the arm is to point 0 in one step, then follows the points at the behaviour's timing.
    A zero header stamp means "start on receipt".
    """
    joints = np.asarray(joints, dtype=np.float64)
    msg = JointTrajectory()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.joint_names = list(names)
    for k, row in enumerate(joints):
        point = JointTrajectoryPoint()
        point.positions = row.tolist()
        point.time_from_start = seconds_to_duration((k + 1) * dt)
        msg.points.append(point)
    return msg


def trajectory_start(msg: JointTrajectory, clock_type) -> RclpyTime | None:
    """When the trajectory's behaviour started (its header stamp), or None for a zero stamp: start on receipt.

    ``clock_type`` is the receiving node's (system or ROS time), so the stamp can be compared with its clock.
    """
    stamp = msg.header.stamp
    if stamp.sec == 0 and stamp.nanosec == 0:
        return None
    return RclpyTime.from_msg(stamp, clock_type=clock_type)


def trajectory_arrays(msg: JointTrajectory) -> tuple[list[str], list[float], list[list[float]]]:
    """(joint names, times from start, positions per point), unvalidated: the safety checks judge them."""
    return (list(msg.joint_names), [duration_to_seconds(p.time_from_start) for p in msg.points],
            [list(p.positions) for p in msg.points])


# --- joint states (sensor_msgs/JointState: feedback on /joint_states, targets on /joint_command) ------------

def joint_state(names: Sequence[str], positions: np.ndarray, velocities: np.ndarray | None = None,
                stamp: Time | None = None) -> JointState:
    msg = JointState()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.name = list(names)
    msg.position = np.asarray(positions, dtype=np.float64).tolist()
    if velocities is not None:
        msg.velocity = np.asarray(velocities, dtype=np.float64).tolist()
    return msg


def joint_positions(msg: JointState, names: Sequence[str]) -> np.ndarray:
    """Positions of ``names`` (in that order) from a JointState; ValueError if any is missing or not finite."""
    index = {name: i for i, name in enumerate(msg.name)}
    missing = [name for name in names if name not in index]
    if missing:
        raise ValueError(f"joint state lacks joints {missing}")
    if len(msg.position) != len(msg.name):
        raise ValueError(f"joint state has {len(msg.name)} names but {len(msg.position)} positions")
    q = np.array([msg.position[index[name]] for name in names], dtype=np.float64)
    if not np.all(np.isfinite(q)):
        raise ValueError("joint state has non-finite positions")
    return q


# --- small values -------------------------------------------------------------------------------------------

def float64(value: float) -> Float64:
    return Float64(data=float(value))


def json_plain(value):
    """``value`` as plain JSON values at any depth: NaN and +/-inf become None (JSON's null).

    Dicts (keys as strings), lists, tuples, numpy arrays and numpy scalars are walked all the way down, so
    one non-finite figure anywhere (e.g. one behaviour's error inside ``errors``) is an unknown value in
    the message, never a ValueError from ``json.dumps(allow_nan=False)`` in the publishing thread.
    """
    if isinstance(value, dict):
        return {str(k): json_plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [json_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [json_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()  # np.float32, np.int64, np.bool_ -> float, int, bool
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN: an unknown figure (e.g. no domain record) is null
    return value


def json_string(payload: dict) -> String:
    """A std_msgs/String holding strict JSON (numpy values become plain ones, NaN and inf null at any depth)."""
    return String(data=json.dumps(json_plain(payload), allow_nan=False))


# --- health (diagnostic_msgs, what rqt_robot_monitor and Foxglove show) -------------------------------------

def diagnostic_array(stamp: Time, name: str, level: int, message: str, values: dict) -> DiagnosticArray:
    """One node's status as a DiagnosticArray: ``level`` is DiagnosticStatus.OK, WARN or ERROR.

    Values become key/value strings (floats with four significant digits, as a monitor shows them).
    """
    def text(value) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    status = DiagnosticStatus(level=bytes([level]) if isinstance(level, int) else level, name=name,
                              message=message, hardware_id="latent_nodes",
                              values=[KeyValue(key=k, value=text(v)) for k, v in values.items()])
    msg = DiagnosticArray(status=[status])
    msg.header.stamp = stamp
    return msg


# --- camera images (sensor_msgs/Image, sensor_msgs/CameraInfo; no cv_bridge: it is not on PyPI) -------------

# encoding -> (numpy dtype, channels) of the encodings read and written here (sensor_msgs/image_encodings.h).
IMAGE_ENCODINGS = {"rgb8": (np.uint8, 3), "bgr8": (np.uint8, 3), "32FC1": (np.float32, 1), "16UC1": (np.uint16, 1)}


class ImageError(ValueError):
    """An image that cannot be read; ``reason`` names which check failed (``unsupported_encoding``,
    ``bad_size``), so a node can count each kind on /diagnostics.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def image(array: np.ndarray, encoding: str, frame_id: str, stamp: Time | None = None) -> Image:
    """An Image from [H, W, 3] uint8 (rgb8, bgr8), [H, W] float32 (32FC1) or uint16 (16UC1), rows top first."""
    dtype, channels = IMAGE_ENCODINGS[encoding]
    array = np.ascontiguousarray(array, dtype=dtype)
    if array.ndim != (3 if channels > 1 else 2) or (channels > 1 and array.shape[2] != channels):
        raise ValueError(f"a {encoding} image is [H, W{', 3' if channels > 1 else ''}], got shape {array.shape}")
    msg = Image()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0  # numpy's native order on every machine ROS 2 supports
    msg.step = int(array.strides[0])
    msg.data = array.tobytes()
    return msg


def image_array(msg: Image, encodings: Sequence[str] = ("rgb8", "bgr8")) -> np.ndarray:
    """The pixels of ``msg`` as an array, colour images as RGB (bgr8 is reordered), depth as float32 metres
    (16UC1 millimetres, a RealSense's native depth, are converted; 0 stays 0: no reading).

    ImageError (``unsupported_encoding``) for an encoding outside ``encodings``; (``bad_size``) for a zero
    width or height, or data that does not hold height rows of ``step`` bytes.
    """
    if msg.encoding not in encodings or msg.encoding not in IMAGE_ENCODINGS:
        raise ImageError("unsupported_encoding", f"image encoding {msg.encoding!r} is not one of {list(encodings)}")
    dtype, channels = IMAGE_ENCODINGS[msg.encoding]
    row = msg.width * channels * np.dtype(dtype).itemsize
    if msg.width == 0 or msg.height == 0:
        raise ImageError("bad_size", f"image is {msg.width} x {msg.height} pixels")
    if msg.step < row or len(msg.data) != msg.step * msg.height:
        raise ImageError("bad_size", f"image of {msg.width} x {msg.height} {msg.encoding} has step {msg.step} and "
                                     f"{len(msg.data)} bytes; expected step >= {row} and step * height bytes")
    raw = np.frombuffer(msg.data, dtype=np.uint8).reshape(msg.height, msg.step)[:, :row]
    order = ">" if msg.is_bigendian else "<"
    pixels = raw.copy().view(np.dtype(dtype).newbyteorder(order)).astype(dtype, copy=False)
    pixels = pixels.reshape(msg.height, msg.width, channels) if channels > 1 else pixels.reshape(msg.height, msg.width)
    if msg.encoding == "bgr8":
        return pixels[:, :, ::-1].copy()
    if msg.encoding == "16UC1":
        return pixels.astype(np.float32) * np.float32(1e-3)
    return pixels


def camera_info(k: np.ndarray, width: int, height: int, frame_id: str, stamp: Time | None = None) -> CameraInfo:
    """CameraInfo of an undistorted pinhole camera: K, plumb_bob with D = 0, R = I, P = [K | 0]."""
    k = np.asarray(k, dtype=np.float64).reshape(3, 3)
    msg = CameraInfo()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.width, msg.height = int(width), int(height)
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = k.ravel().tolist()
    msg.r = np.eye(3).ravel().tolist()
    msg.p = np.hstack([k, np.zeros((3, 1))]).ravel().tolist()
    return msg


def camera_intrinsics(msg: CameraInfo) -> tuple[np.ndarray, int, int]:
    """([3, 3] K, width, height) of a CameraInfo, unvalidated: the perception checks them."""
    return np.array(msg.k, dtype=np.float64).reshape(3, 3), int(msg.width), int(msg.height)


def pose_with_covariance(pose: PoseStamped, variance_xy: float, variance_z: float) -> PoseWithCovarianceStamped:
    """``pose`` with a diagonal covariance: x, y and z variances (m^2); rotations unknown (variance 1e6)."""
    msg = PoseWithCovarianceStamped()
    msg.header = pose.header
    msg.pose.pose = pose.pose
    cov = np.diag([variance_xy, variance_xy, variance_z, 1e6, 1e6, 1e6])
    msg.pose.covariance = cov.ravel().tolist()
    return msg
