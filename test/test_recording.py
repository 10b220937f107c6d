"""Bags written by latent_nodes.data.recording read back as labelled episodes, and appear only when complete."""

import numpy as np
import pytest

pytest.importorskip("rosbags")

from latent_nodes.data.bags import read_episodes  # noqa: E402
from latent_nodes.data.recording import BagWriter, RecordingError  # noqa: E402

NAMES = [f"j{i}" for i in range(6)]
S = 1_000_000_000


def angles(t: float) -> np.ndarray:
    return np.array([0.2 * j + 0.4 * np.sin(1.5 * t + j) for j in range(len(NAMES))])


def record(writer: BagWriter, episodes, rate: float = 100.0) -> None:
    """episodes: (label, start_s, duration_s, (x, y)); joint states at ``rate`` Hz from 0 to the last end + 0.3 s."""
    events = []
    for label, start, dur, xy in episodes:
        events += [(start - 0.1, "pose", xy), (start, "start", label), (start + dur, "stop", None)]
    end = max(s + d for _, s, d, _ in episodes) + 0.3
    events += [(k / rate, "joints", None) for k in range(int(end * rate))]
    for t, kind, value in sorted(events, key=lambda e: e[0]):
        ns = int(round(t * S))
        if kind == "joints":
            writer.joint_state(ns, NAMES, angles(t))
        elif kind == "pose":
            writer.block_pose(ns, value, z=0.02)
        elif kind == "start":
            writer.start_episode(ns, value)
        else:
            writer.stop_episode(ns)


def test_episodes_round_trip_and_the_bag_appears_complete(tmp_path):
    bag = tmp_path / "demos"
    with BagWriter(bag) as writer:
        record(writer, [("reach", 0.5, 2.0, (0.45, 0.1)), ("reach_circle", 3.0, 2.1, (0.5, -0.05))])
        assert not bag.exists()  # nothing under the bag's name while it is being written
        writer.text("/robot_description", 0, "<robot name='x'/>", latched=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demos"]  # the staging directory is gone
    assert sorted(p.suffix for p in bag.iterdir()) == [".mcap", ".yaml"]
    eps = read_episodes(bag, NAMES, steps=20, dt=0.1)
    assert [e.behaviour for e in eps] == ["reach", "reach_circle"]
    for e, xy in zip(eps, [(0.45, 0.1), (0.5, -0.05)]):
        np.testing.assert_allclose(e.block_xy, xy)
        t = e.start_ns / S + 0.1 * np.arange(20)
        np.testing.assert_allclose(e.sequence[:, :6], np.array([angles(ti) for ti in t]), atol=1e-9)
    meta = (bag / "metadata.yaml").read_text()
    assert "transient_local" in meta or "durability: 1" in meta  # the description is offered latched


def test_an_interrupted_recording_is_a_complete_bag_with_its_open_episode_ended(tmp_path):
    bag = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        with BagWriter(bag) as writer:
            writer.block_pose(0, (0.4, 0.0))
            writer.start_episode(1, "reach")
            for k in range(300):
                writer.joint_state(1 + k * S // 100, NAMES, angles(k / 100))
            raise KeyboardInterrupt
    eps = read_episodes(bag, NAMES, steps=20, dt=0.1)
    assert [e.behaviour for e in eps] == ["reach"]
    # Ended by close() at the last message: the whole 3 s are in the episode.
    from rosbags.highlevel import AnyReader

    with AnyReader([bag]) as reader:
        marks = [reader.deserialize(raw, c.msgtype).data for c, _, raw in reader.messages()
                 if c.topic == "/episode"]
    assert marks == ["reach", ""]


def test_refusals(tmp_path):
    bag = tmp_path / "b"
    with BagWriter(bag) as writer:
        for label in ("", "end", " reach", "auto", "Undecided"):  # "auto" and "undecided" mean something to the nodes
            with pytest.raises(RecordingError):
                writer.start_episode(0, label)
        with pytest.raises(RecordingError, match="start one first"):
            writer.stop_episode(0)
        writer.start_episode(0, "reach")
        with pytest.raises(RecordingError, match="still being recorded"):
            writer.start_episode(1, "reach_circle")
        with pytest.raises(RecordingError, match="6 joint names but 2"):
            writer.joint_state(2, NAMES, [0.0, 1.0])
        with pytest.raises(RecordingError, match="carries std_msgs/msg/String"):
            writer.write_cdr("/episode", "sensor_msgs/msg/JointState", 3, b"")
    with pytest.raises(RecordingError, match="exists already"):
        BagWriter(bag)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RecordingError, match="is a file"):
        BagWriter(tmp_path / "file" / "bag")
    # overwrite replaces the old bag only once the new one is complete
    with BagWriter(bag, overwrite=True) as writer:
        writer.start_episode(0, "reach_circle")
        assert (bag / "metadata.yaml").exists()
        for k in range(250):
            writer.joint_state(k * S // 100, NAMES, angles(k / 100))
        writer.block_pose(0, (0.5, 0.0))
    assert [e.behaviour for e in read_episodes(bag, NAMES, 20, 0.1)] == ["reach_circle"]
