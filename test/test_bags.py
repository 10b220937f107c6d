"""rosbag2 recordings (written here with rosbags, SQLite3 and MCAP) become behaviour sequences."""

import numpy as np
import pytest

rosbags = pytest.importorskip("rosbags")
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

from latent_nodes.data.bags import BagError, read_episodes  # noqa: E402

NAMES = [f"joint_{i}" for i in range(9)]
TS = get_typestore(Stores.ROS2_JAZZY)
JointState, PoseStamped, String = (TS.types[n] for n in (
    "sensor_msgs/msg/JointState", "geometry_msgs/msg/PoseStamped", "std_msgs/msg/String"))
Header, Time = TS.types["std_msgs/msg/Header"], TS.types["builtin_interfaces/msg/Time"]
Pose, Point, Quaternion = (TS.types[n] for n in (
    "geometry_msgs/msg/Pose", "geometry_msgs/msg/Point", "geometry_msgs/msg/Quaternion"))


def joint_angle(j: int, t: float, phase: float) -> float:
    return 0.1 * j + 0.5 * np.sin(2.0 * t + phase)


def write_bag(path, episodes, storage=StoragePlugin.SQLITE3, marks=True, rate=50.0, angles=None, delay=None):
    """episodes: list of (label, start_s, duration_s, (x, y)); joint states at ``rate`` Hz throughout.

    ``angles(t)``: the 9 joint angles at time t (default: ``joint_angle``'s sines). ``delay``: [N] seconds
    between measuring joint state k and receiving it; then its header is stamped with the measuring time
    (by default headers are unstamped and states are received at once).
    """
    hdr = Header(stamp=Time(sec=0, nanosec=0), frame_id="table")
    with Writer(path, version=9, storage_plugin=storage) as w:
        cj = w.add_connection("/joint_states", JointState.__msgtype__, typestore=TS)
        cp = w.add_connection("/block_pose", PoseStamped.__msgtype__, typestore=TS)
        ce = w.add_connection("/episode", String.__msgtype__, typestore=TS) if marks else None
        end = max(s + d for _, s, d, _ in episodes) + 0.5
        msgs = []
        for k in range(0 if delay is None else 1, int(end * rate)):  # a zero stamp means "unstamped"
            t = k / rate
            q = angles(t) if angles is not None else [joint_angle(j, t, 0.3) for j in range(9)]
            stamped = hdr if delay is None else Header(stamp=Time(sec=int(t), nanosec=round((t % 1) * 1e9)),
                                                        frame_id="")
            js = JointState(header=stamped, name=NAMES, position=np.array(q, dtype=np.float64),
                            velocity=np.zeros(0), effort=np.zeros(0))
            received = t if delay is None else t + delay[k]
            msgs.append((round(received * 1e9), cj, TS.serialize_cdr(js, JointState.__msgtype__)))
        for label, start, dur, (x, y) in episodes:
            pose = PoseStamped(header=hdr, pose=Pose(position=Point(x=x, y=y, z=0.02),
                                                     orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0)))
            msgs.append((int((start - 0.2) * 1e9), cp, TS.serialize_cdr(pose, PoseStamped.__msgtype__)))
            if marks:
                msgs.append((int(start * 1e9), ce, TS.serialize_cdr(String(data=label), String.__msgtype__)))
                msgs.append((int((start + dur) * 1e9), ce, TS.serialize_cdr(String(data=""), String.__msgtype__)))
        for stamp, conn, raw in sorted(msgs, key=lambda m: m[0]):
            w.write(conn, stamp, raw)


@pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP])
def test_episodes_from_marks(tmp_path, storage):
    bag = tmp_path / "rec"
    write_bag(bag, [("reach", 1.0, 2.2, (0.45, 0.1)), ("reach_circle", 4.0, 2.3, (0.5, -0.05))], storage)
    eps = read_episodes(bag, NAMES, steps=20, dt=0.1)
    assert [e.behaviour for e in eps] == ["reach", "reach_circle"]
    for e, (start, xy) in zip(eps, [(1.0, (0.45, 0.1)), (4.0, (0.5, -0.05))]):
        assert e.sequence.shape == (20, 11)
        np.testing.assert_allclose(e.sequence[:, 9:], np.tile(xy, (20, 1)))
        # Resampled at dt from the first joint state inside the episode (50 Hz grid: within 20 ms).
        t = e.start_ns * 1e-9 + 0.1 * np.arange(20)
        want = np.array([[joint_angle(j, ti, 0.3) for j in range(9)] for ti in t])
        np.testing.assert_allclose(e.sequence[:, :9], want, atol=2e-3)
        assert abs(e.start_ns * 1e-9 - start) <= 0.02


def test_whole_bag_is_one_episode_with_given_label(tmp_path):
    bag = tmp_path / "rec"
    write_bag(bag, [("ignored", 0.0, 2.5, (0.4, 0.0))], marks=False)
    eps = read_episodes(bag, NAMES, steps=20, dt=0.1, behaviour="reach")
    assert len(eps) == 1 and eps[0].behaviour == "reach"
    with pytest.raises(BagError, match="give its behaviour label"):
        read_episodes(bag, NAMES, steps=20, dt=0.1)


def delayed_motion(onsets):
    """Joint angles at rest until each onset time, then the same smooth 2.4 s motion back to rest."""
    rest = 0.1 * np.arange(9)

    def angles(t: float) -> np.ndarray:
        since = [t - o for o in onsets if o <= t]
        s = min(since) if since else 0.0
        return rest + 0.6 * np.sin(np.pi * min(s, 2.4) / 2.4) ** 2 * np.linspace(1.0, 0.2, 9)

    return angles


def test_onset_alignment_removes_a_known_delay_after_the_mark(tmp_path):
    # Two episodes marked at 1.0 s and 5.0 s; the motion starts 30 ms and 80 ms after its mark.
    bag, marks, delays = tmp_path / "rec", (1.0, 5.0), (0.03, 0.08)
    write_bag(bag, [("reach", m, 2.4, (0.45, 0.1)) for m in marks], rate=100.0,
              angles=delayed_motion([m + d for m, d in zip(marks, delays)]))
    at_mark = read_episodes(bag, NAMES, steps=20, dt=0.1)
    aligned = read_episodes(bag, NAMES, steps=20, dt=0.1, onset=1e-3)
    # From the mark, the same motion lands 50 ms apart; from the onset, at the same steps.
    assert np.abs(at_mark[0].sequence - at_mark[1].sequence).max() > 0.02
    np.testing.assert_allclose(aligned[0].sequence, aligned[1].sequence, atol=1e-9)
    # Step 0 is the last joint state within 1 mrad of the pose at the mark: for this smooth start, the same
    # lag after the true onset in both episodes, and the arm still (nearly) at rest.
    lags = [ep.start_ns * 1e-9 - (m + d) for ep, m, d in zip(aligned, marks, delays)]
    assert 0.0 <= lags[0] < 0.1 and abs(lags[0] - lags[1]) < 1e-6, lags
    np.testing.assert_allclose(aligned[0].sequence[0, :9], 0.1 * np.arange(9), atol=1e-3)
    with pytest.raises(BagError, match="must be positive"):
        read_episodes(bag, NAMES, steps=20, dt=0.1, onset=0.0)
    with pytest.raises(BagError, match="no motion onset"):
        read_episodes(bag, NAMES, steps=20, dt=0.1, onset=1.0)  # the motion never moves a joint 1 rad


def test_header_stamps_remove_the_delivery_jitter(tmp_path):
    # Joint states measured every 10 ms but received 0-40 ms later, a different delay each.
    bag, rate = tmp_path / "rec", 100.0
    delay = np.random.default_rng(0).uniform(0.0, 0.04, size=500)
    write_bag(bag, [("reach", 1.0, 2.2, (0.45, 0.1))], rate=rate, delay=delay)
    (by_receipt,) = read_episodes(bag, NAMES, steps=20, dt=0.1)
    (by_stamp,) = read_episodes(bag, NAMES, steps=20, dt=0.1, stamps="header")
    assert by_stamp.start_ns == 1_000_000_000  # the first state measured at or after the mark
    want = np.array([[joint_angle(j, 1.0 + 0.1 * k, 0.3) for j in range(9)] for k in range(20)])
    np.testing.assert_allclose(by_stamp.sequence[:, :9], want, atol=1e-9)
    assert np.abs(by_receipt.sequence[:, :9] - want).max() > 0.01
    with pytest.raises(BagError, match="one of"):
        read_episodes(bag, NAMES, steps=20, dt=0.1, stamps="sent")


def test_clear_errors(tmp_path):
    with pytest.raises(BagError, match="does not exist"):
        read_episodes(tmp_path / "none", NAMES, 20, 0.1, "reach")
    bag = tmp_path / "short"
    write_bag(bag, [("reach", 0.5, 1.0, (0.4, 0.0))])
    with pytest.raises(BagError, match="shorter than 20 steps"):
        read_episodes(bag, NAMES, 20, 0.1)
    with pytest.raises(BagError, match="lacks joints"):
        read_episodes(bag, NAMES + ["extra_joint"], 20, 0.1)
    with pytest.raises(BagError, match="has no header stamp"):
        read_episodes(bag, NAMES, 20, 0.1, stamps="header")
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "metadata.yaml").write_text("not: a bag\n")
    with pytest.raises(BagError, match="cannot be read"):
        read_episodes(junk, NAMES, 20, 0.1, "reach")


def test_a_bag_without_the_demonstration_topics_is_refused_naming_its_topics(tmp_path):
    """A robot recorded under its own names (here a namespaced /arm/joint_states) has none of the three topics.

    Before, rosbags was handed no connections, which it reads as every topic: each message was taken for an
    /episode mark, and the bag was refused as unreadable ("... has no attribute 'data'").
    """
    from latent_nodes.data.recording import BagWriter

    bag = tmp_path / "namespaced"
    with BagWriter(bag) as writer:
        writer.text("/robot_description", 0, "<robot name='r'/>", latched=True)
        for k in range(1, 50):
            writer.write_cdr("/arm/joint_states", "sensor_msgs/msg/JointState", k * 20_000_000, TS.serialize_cdr(
                JointState(header=Header(stamp=Time(sec=0, nanosec=0), frame_id=""), name=NAMES,
                           position=np.zeros(9), velocity=np.zeros(0), effort=np.zeros(0)), JointState.__msgtype__))
    with pytest.raises(BagError) as info:
        read_episodes(bag, NAMES, 20, 0.1, "reach")
    assert str(info.value) == (f"recording {bag} has none of the topics /joint_states, /block_pose, /episode; its "
                               "topics are ['/arm/joint_states', '/robot_description']")


def test_bag2dataset_command_writes_a_trainable_dataset(tmp_path):
    from latent_nodes.data.dataset import load_dataset
    from latent_nodes.scripts.bag2dataset import main

    a, b = tmp_path / "a", tmp_path / "b"
    write_bag(a, [("reach", 1.0, 2.2, (0.45, 0.1)), ("reach_circle", 4.0, 2.3, (0.5, -0.05))])
    write_bag(b, [("x", 0.5, 2.5, (0.4, 0.0))], storage=StoragePlugin.MCAP, marks=False)
    out = tmp_path / "bags.npz"
    assert main(["--bag", str(a), "--bag", f"{b}:reach:test", "--out", str(out), "--joint-names", *NAMES]) == 0
    ds = load_dataset(out)
    assert ds.sequences.shape == (3, 20, 11)
    assert ds.labels.tolist() == [0, 1, 0] and ds.split.tolist() == ["train", "train", "test"]
    assert ds.joint_names == tuple(NAMES)
    # A label outside --behaviours is refused; without --behaviours the labels found are the names.
    assert main(["--bag", f"{b}:wave", "--out", str(out), "--joint-names", *NAMES,
                 "--behaviours", "reach", "reach_circle"]) == 2
    assert main(["--bag", f"{b}:wave", "--out", str(out), "--joint-names", *NAMES]) == 0
    assert load_dataset(out).behaviour_names == ("wave",)
    # --align-onset reaches the reader: the sines move at once, so the episodes start at their first state.
    assert main(["--bag", str(a), "--out", str(out), "--joint-names", *NAMES, "--align-onset", "0.001"]) == 0
    np.testing.assert_allclose(load_dataset(out).sequences, ds.sequences[:2])
