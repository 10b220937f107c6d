"""Writing rosbag2 recordings (MCAP) without ROS: demonstrations, and any run worth replaying.

A ``BagWriter`` is a rosbag2 bag being written with ``rosbags``: a directory holding ``metadata.yaml`` and
one ``.mcap`` file, which ``ros2 bag play``, Foxglove and ``latent_nodes.data.bags`` read. Messages arrive
either as CDR bytes (what a ROS subscription with ``raw=True`` hands over, so nothing is decoded and
re-encoded) or as plain values through the helpers for the topics demonstrations use: ``/joint_states``,
``/block_pose`` and the ``/episode`` marks that ``latent-nodes bag2dataset`` splits a bag by.

The bag never exists half-written under its name: it is written into a hidden directory beside the
target (``.NAME.<pid>@<host>.<random>.recording``) and renamed into place by ``close()``, which also
ends an open episode. Closing in a ``finally`` (the record node does, on Ctrl-C and SIGTERM), or at the
latest when the interpreter exits, therefore leaves a complete bag; a writer killed outright leaves only
the hidden directory, whose MCAP file lacks its index but still holds the messages written so far
(``mcap recover`` restores it).
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from latent_nodes.atomic import HOST, check_target
from latent_nodes.data.bags import EPISODE_END, EPISODE_TOPIC, JOINT_TOPIC, POSE_TOPIC

# Message definitions for the bag's schema records: those of the ROS 2 release the PyPI wheels are built
# from (the messages used here are the same in every release since Humble).
STORE_NAME = "ROS2_KILTED"


class RecordingError(ValueError):
    """A recording that cannot be made as asked (the message says why, naming the bag)."""


def _typestore():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(getattr(Stores, STORE_NAME, Stores.LATEST))


def _latched_qos():
    """The QoS a transient-local publisher offers (``ros2 bag play`` then re-publishes the topic latched)."""
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    zero = QosTime(0, 0)
    return Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, zero, zero,
               QosLiveliness.AUTOMATIC, zero, False)


# Names a behaviour cannot have, because the nodes give them a meaning: the inference node's ``behaviour:
# auto`` asks for recognition, and recognition reports "undecided" (inference/recognition.py) while it abstains.
RESERVED_LABELS = ("auto", "undecided")


def valid_label(label: str) -> str | None:
    """Why ``label`` cannot name an episode, or None: an episode mark's text is its behaviour's name.

    Any other name is the user's to choose: it becomes a behaviour name of the dataset and the model.
    """
    text = label.strip()
    if not text:
        return "an episode needs a behaviour label (an empty mark ends an episode)"
    if text.lower() == EPISODE_END:
        return f"{EPISODE_END!r} ends an episode; it cannot label one"
    if text.lower() in RESERVED_LABELS:
        return (f"{text!r} is reserved (the inference node's behaviour auto, recognition's undecided); "
                "choose another name")
    if text != label:
        return f"behaviour label {label!r} has leading or trailing spaces"
    return None


class BagWriter:
    """An MCAP rosbag2 bag being written; it appears at ``path`` only when closed. Thread-safe."""

    def __init__(self, path: str | Path, *, overwrite: bool = False) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise RecordingError(f"recording {self.path} exists already (choose another name, or overwrite)")
        try:
            if not self.path.exists():
                check_target(self.path)  # e.g. a parent that is a file
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordingError(f"cannot record to {self.path}: {exc}") from None
        self.store = _typestore()
        self.overwrite = overwrite
        # The storage file inside is named after the directory, so write into a hidden parent whose child
        # already has the final name: the rename then moves a bag that is correct where it lands.
        self._staging = self.path.parent / f".{self.path.name}.{os.getpid()}@{HOST}.{secrets.token_hex(4)}.recording"
        self._staging.mkdir()
        self._writer = Writer(self._staging / self.path.name, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections: dict[str, object] = {}
        self._lock = threading.Lock()
        self._open_label: str | None = None
        self._last_ns = 0
        self.episodes = 0  # episodes started
        self.messages = 0
        self.closed = False
        # A Ctrl-C can land between any two statements of the code that owns this writer (e.g. while a
        # node is still being built, before anyone could close it); the interpreter's exit closes it then.
        atexit.register(self.close)

    # --- any topic ---------------------------------------------------------------------------------------

    def _connection(self, topic: str, msgtype: str, latched: bool):
        conn = self._connections.get(topic)
        if conn is None:
            if msgtype not in self.store.types:
                raise RecordingError(f"recording {self.path}: no message definition for {msgtype} ({topic})")
            conn = self._writer.add_connection(topic, msgtype, typestore=self.store,
                                               offered_qos_profiles=[_latched_qos()] if latched else [])
            self._connections[topic] = conn
        elif conn.msgtype != msgtype:
            raise RecordingError(f"recording {self.path}: {topic} carries {conn.msgtype}, not {msgtype}")
        return conn

    def write_cdr(self, topic: str, msgtype: str, t_ns: int, data: bytes | memoryview, *,
                  latched: bool = False) -> None:
        """Record one serialized message (CDR, as ROS sends it) received at ``t_ns`` nanoseconds."""
        with self._lock:
            if self.closed:
                raise RecordingError(f"recording {self.path} is closed")
            self._writer.write(self._connection(topic, msgtype, latched), int(t_ns), bytes(data))
            self._last_ns = max(self._last_ns, int(t_ns))
            self.messages += 1

    def write(self, topic: str, t_ns: int, msg, *, latched: bool = False) -> None:
        """Record a ``rosbags`` message object (e.g. from ``self.store.types[...]``)."""
        self.write_cdr(topic, msg.__msgtype__, t_ns, self.store.serialize_cdr(msg, msg.__msgtype__), latched=latched)

    def _header(self, stamp_ns: int, frame_id: str = ""):
        t = self.store.types
        return t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](
            sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000)), frame_id=frame_id)

    # --- the topics of a demonstration ----------------------------------------------------------------------

    def joint_state(self, t_ns: int, names: Sequence[str], positions, velocities=None) -> None:
        """``/joint_states`` (sensor_msgs/JointState) stamped with its receive time."""
        q = np.asarray(positions, dtype=np.float64).reshape(-1)
        if len(q) != len(names):
            raise RecordingError(f"recording {self.path}: {len(names)} joint names but {len(q)} positions")
        qd = np.zeros(0) if velocities is None else np.asarray(velocities, dtype=np.float64).reshape(-1)
        msg = self.store.types["sensor_msgs/msg/JointState"](
            header=self._header(t_ns), name=list(names), position=q, velocity=qd, effort=np.zeros(0))
        self.write(JOINT_TOPIC, t_ns, msg)

    def block_pose(self, t_ns: int, xy, frame_id: str = "table", z: float = 0.0) -> None:
        """``/block_pose`` (geometry_msgs/PoseStamped): x, y on the table plane, z above it, no rotation."""
        t = self.store.types
        position = t["geometry_msgs/msg/Point"](x=float(xy[0]), y=float(xy[1]), z=float(z))
        pose = t["geometry_msgs/msg/Pose"](position=position,
                                           orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0))
        self.write(POSE_TOPIC, t_ns, t["geometry_msgs/msg/PoseStamped"](header=self._header(t_ns, frame_id), pose=pose))

    def text(self, topic: str, t_ns: int, text: str, *, latched: bool = False) -> None:
        """A std_msgs/String, e.g. ``/robot_description`` (latched, as robot_state_publisher offers it)."""
        self.write(topic, t_ns, self.store.types["std_msgs/msg/String"](data=text), latched=latched)

    # --- episodes --------------------------------------------------------------------------------------------

    @property
    def open_episode(self) -> str | None:
        """The label of the episode being recorded, or None between episodes."""
        return self._open_label

    def start_episode(self, t_ns: int, label: str) -> None:
        """Mark the start of an episode of behaviour ``label`` on ``/episode``; one episode at a time."""
        reason = valid_label(label)
        if reason:
            raise RecordingError(reason)
        if self._open_label is not None:
            raise RecordingError(f"episode {self._open_label!r} is still being recorded: stop it first")
        self.text(EPISODE_TOPIC, t_ns, label)
        self._open_label = label
        self.episodes += 1

    def stop_episode(self, t_ns: int) -> str:
        """Mark the end of the open episode; returns its label."""
        if self._open_label is None:
            raise RecordingError("no episode is being recorded: start one first")
        self.text(EPISODE_TOPIC, t_ns, "")
        label, self._open_label = self._open_label, None
        return label

    # --- the end ---------------------------------------------------------------------------------------------

    def close(self) -> Path:
        """End an open episode, finish the bag and move it to ``path``; safe to call twice."""
        if self.closed:
            return self.path
        if self._open_label is not None:
            self.stop_episode(self._last_ns)
        with self._lock:
            self.closed = True
            atexit.unregister(self.close)
            self._writer.close()
            if self.overwrite and self.path.exists():
                shutil.rmtree(self.path) if self.path.is_dir() else self.path.unlink()
            os.replace(self._staging / self.path.name, self.path)
            self._staging.rmdir()
        return self.path

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()  # an exception (Ctrl-C included) still leaves a complete bag of what was recorded
