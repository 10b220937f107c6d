"""Demonstrations recorded on a robot: rosbag2 recordings (MCAP or SQLite3) to behaviour sequences.

A recording holds ``/joint_states`` (sensor_msgs/JointState) and ``/block_pose``
(geometry_msgs/PoseStamped). One episode is one execution of a behaviour. Episodes are delimited
either by the whole bag (label given per bag) or by an ``/episode`` topic (std_msgs/String) whose
message carries the behaviour name at an episode's start and an empty string (or ``end``) at its end,
which labels each episode on its own. Each episode becomes a T-step sequence: joint positions linearly
resampled at dt from the episode's first joint state, in the dataset's joint order, with the block
(x, y) of the newest pose at the episode's start (the first-step perception) at every step. By default
all times are the recording's receive times, so episode marks, joint states and poses share one clock
even when the robot's header stamps come from another (e.g. a hardware) clock. With ``stamps="header"``
joint states are timed by their header stamps instead, when they were measured rather than when the
recorder got them: exact where the driver stamps on the recorder's clock (the embedded simulator
publishing ``/clock``, a driver on ROS time), and free of the recorder's delivery jitter.

A person starts moving some time after the start mark, and that delay varies from episode to episode;
resampled from the mark, the same motion then lands at different steps. With ``onset`` (radians) an
episode starts instead at its *motion onset*: the last joint state before any joint has moved more than
``onset`` from where it was at the mark, so step 0 is the arm (nearly) at rest as it starts to move, as
in the generated demonstrations. A smooth start crosses the threshold a little after it begins; that lag
is the same for the same motion, so it no longer varies between episodes as the delay after the mark does.

A bag recorded on a robot may also hold its ``/robot_description`` (the record node keeps it, latched):
``recorded_joints`` then gives the joints a dataset takes from it, the description's commandable ones
(``latent_nodes.robot.robot_description``: kinematic, moving, mimic joints left out, so a description with
``<ros2_control>`` and transmission blocks reads as its robot), or checks joints named by hand against it.

Bags are read with ``rosbags``, which needs no ROS installation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latent_nodes.robot.robot_description import RobotDescription, RobotDescriptionError

JOINT_TOPIC, POSE_TOPIC, EPISODE_TOPIC = "/joint_states", "/block_pose", "/episode"
DESCRIPTION_TOPIC = "/robot_description"  # std_msgs/String, latched, as robot_state_publisher offers it
EPISODE_END = "end"  # an /episode mark with this text (or an empty one) ends the open episode
STAMPS = ("receive", "header")  # what times a joint state: when the recorder got it, or its header stamp


class BagError(ValueError):
    """A recording that cannot be converted; the message names the bag and the reason."""


@dataclass
class Episode:
    """One behaviour execution, resampled."""

    behaviour: str
    sequence: np.ndarray  # [T, n_joints + 2]
    block_xy: np.ndarray  # [2]
    start_ns: int


def read_episodes(bag: str | Path, joint_names: list[str] | tuple[str, ...], steps: int, dt: float,
                  behaviour: str | None = None, onset: float | None = None, stamps: str = "receive"
                  ) -> list[Episode]:
    """Episodes of one recording; ``behaviour`` labels a bag without an ``/episode`` topic.

    ``onset``: start each episode at its motion onset (see the module's docstring), radians; None: at its mark.
    ``stamps``: time joint states by their receive time (``receive``) or their header stamp (``header``).
    """
    if onset is not None and not onset > 0:
        raise BagError(f"the motion onset threshold must be positive radians, got {onset!r}")
    if stamps not in STAMPS:
        raise BagError(f"joint state times come from one of {list(STAMPS)}, not {stamps!r}")
    from rosbags.highlevel import AnyReader

    bag = Path(bag)
    if not bag.exists():
        raise BagError(f"recording {bag} does not exist")
    joints: list[tuple[int, dict[str, float]]] = []
    poses: list[tuple[int, np.ndarray]] = []
    marks: list[tuple[int, str]] = []
    try:
        with AnyReader([bag]) as reader:
            wanted = [c for c in reader.connections if c.topic in (JOINT_TOPIC, POSE_TOPIC, EPISODE_TOPIC)]
            if not wanted:  # no connections would mean every topic to rosbags, each read as a demonstration's
                raise BagError(f"recording {bag} has none of the topics {JOINT_TOPIC}, {POSE_TOPIC}, "
                               f"{EPISODE_TOPIC}; its topics are {sorted({c.topic for c in reader.connections})}")
            for conn, stamp, raw in reader.messages(connections=wanted):
                msg = reader.deserialize(raw, conn.msgtype)
                if conn.topic == JOINT_TOPIC:
                    if stamps == "header":
                        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
                        if stamp == 0:
                            raise BagError(f"recording {bag}: a {JOINT_TOPIC} message has no header stamp, so "
                                           "it cannot be timed by its stamp (use receive times)")
                    joints.append((stamp, dict(zip(msg.name, msg.position))))
                elif conn.topic == POSE_TOPIC:
                    p = msg.pose.position
                    poses.append((stamp, np.array([p.x, p.y], dtype=np.float64)))
                else:
                    marks.append((stamp, msg.data.strip()))
    except BagError:
        raise
    except Exception as exc:  # rosbags raises several types for unreadable or foreign files
        raise BagError(f"recording {bag} cannot be read: {exc}") from None
    if not joints:
        raise BagError(f"recording {bag} has no {JOINT_TOPIC} messages")
    if not poses:
        raise BagError(f"recording {bag} has no {POSE_TOPIC} messages")
    missing = [n for n in joint_names if n not in joints[0][1]]
    if missing:
        raise BagError(f"recording {bag}: {JOINT_TOPIC} lacks joints {missing} (has {sorted(joints[0][1])})")
    joints.sort(key=lambda j: j[0])
    poses.sort(key=lambda p: p[0])
    return [_episode(bag, label, t0, t1, joints, poses, joint_names, steps, dt, onset)
            for label, t0, t1 in _segments(bag, marks, joints, behaviour)]


def read_description(bag: str | Path) -> RobotDescription | None:
    """The robot description recorded in ``bag`` (its last ``/robot_description``), parsed; None if it has none."""
    from rosbags.highlevel import AnyReader

    bag = Path(bag)
    if not bag.exists():
        raise BagError(f"recording {bag} does not exist")
    text = None
    try:
        with AnyReader([bag]) as reader:
            wanted = [c for c in reader.connections if c.topic == DESCRIPTION_TOPIC]
            if not wanted:  # (no connections would mean all of them to rosbags)
                return None
            for conn, _, raw in reader.messages(connections=wanted):
                text = reader.deserialize(raw, conn.msgtype).data
    except Exception as exc:  # rosbags raises several types for unreadable or foreign files
        raise BagError(f"recording {bag} cannot be read: {exc}") from None
    if text is None:
        return None
    try:
        return RobotDescription.from_urdf(text)
    except RobotDescriptionError as exc:
        raise BagError(f"recording {bag}: its {DESCRIPTION_TOPIC}: {exc}") from None


def recorded_joints(bag: str | Path, names: Sequence[str] | None) -> list[str] | None:
    """The joints to read from ``bag``, by the robot description recorded in it.

    ``names`` None: the description's commandable joints in its order (None if the bag has no description).
    Given ``names`` are checked against it: a joint it lacks, a fixed joint or a mimic joint (which follows
    its leader and is never commanded) is refused naming the bag, so a dataset never learns a joint the
    commander could not send. A bag without a description leaves ``names`` as they are.
    """
    description = read_description(bag)
    if description is None:
        return None if names is None else list(names)
    if names is None:
        if not description.commandable:
            raise BagError(f"recording {bag}: its {DESCRIPTION_TOPIC} ({description.name!r}) has no commandable "
                           "joints; name the joints to read")
        return list(description.commandable)
    try:
        description.check_commandable(names)
    except RobotDescriptionError as exc:
        raise BagError(f"recording {bag}: {exc}") from None
    return list(names)


def _segments(bag: Path, marks: list[tuple[int, str]], joints: list, behaviour: str | None
              ) -> list[tuple[str, int, int]]:
    if not marks:
        if behaviour is None:
            raise BagError(f"recording {bag} has no {EPISODE_TOPIC} topic: give its behaviour label")
        return [(behaviour, joints[0][0], joints[-1][0])]
    segments, open_label, open_t = [], None, 0
    for t, text in sorted(marks):
        if open_label is not None:
            segments.append((open_label, open_t, t))
            open_label = None
        if text and text.lower() != EPISODE_END:
            open_label, open_t = text, t
    if open_label is not None:
        segments.append((open_label, open_t, joints[-1][0]))
    if not segments:
        raise BagError(f"recording {bag}: {EPISODE_TOPIC} marks no episode")
    return segments


def motion_onset(q: np.ndarray, threshold: float) -> int | None:
    """Index of the last row of ``q`` [N, joints] before any joint is more than ``threshold`` from row 0."""
    moved = np.flatnonzero(np.max(np.abs(q - q[0]), axis=1) > threshold)
    return int(moved[0]) - 1 if len(moved) else None


def _episode(bag: Path, label: str, t0: int, t1: int, joints: list, poses: list, names, steps: int,
             dt: float, onset: float | None = None) -> Episode:
    inside = [(t, js) for t, js in joints if t0 <= t <= t1]
    if len(inside) < 2:
        raise BagError(f"recording {bag}: episode {label!r} at {t0 * 1e-9:.3f} s has fewer than 2 joint states")
    times = np.array([t for t, _ in inside], dtype=np.float64) * 1e-9
    q = np.array([[js[n] for n in names] for _, js in inside], dtype=np.float64)
    if onset is not None:
        first = motion_onset(q, onset)
        if first is None:
            raise BagError(f"recording {bag}: episode {label!r} at {t0 * 1e-9:.3f} s: no joint moves more than "
                           f"{onset} rad, so it has no motion onset")
        times, q = times[first:], q[first:]
    want = times[0] + dt * np.arange(steps)
    if want[-1] > times[-1] + 0.5 * dt:
        raise BagError(f"recording {bag}: episode {label!r} lasts {times[-1] - times[0]:.2f} s, "
                       f"shorter than {steps} steps of {dt} s")
    resampled = np.stack([np.interp(want, times, q[:, j]) for j in range(q.shape[1])], axis=1)
    before = [xy for t, xy in poses if t <= int(times[0] * 1e9)]
    xy = before[-1] if before else poses[0][1]  # the newest pose when the episode starts
    seq = np.concatenate([resampled, np.repeat(xy[None, :], steps, axis=0)], axis=1)
    return Episode(behaviour=label, sequence=seq, block_xy=xy.copy(), start_ns=int(times[0] * 1e9))
