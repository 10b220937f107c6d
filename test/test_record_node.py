"""The record node over real DDS: episodes marked by its services land in a bag that bag2dataset reads."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("rosbags")

from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from ros_harness import Graph  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from latent_nodes.data.bags import read_episodes  # noqa: E402
from latent_nodes.nodes import messages  # noqa: E402
from latent_nodes.nodes.record_node import RecordNode  # noqa: E402
from latent_nodes.nodes.runner import EXIT_CANNOT_START  # noqa: E402

NAMES = ["a", "b", "c"]


def call(graph, client) -> Trigger.Response:
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(Trigger.Request())
    assert graph.wait(future.done, 5.0)
    return future.result()


def test_episodes_marked_by_the_services_become_labelled_episodes(tmp_path):
    bag = tmp_path / "demos"
    marks = []
    with Graph() as graph:
        node = graph.add(RecordNode, bag=str(bag), behaviour="reach")
        probe = graph.probe
        joints = graph.publisher(JointState, messages.JOINT_STATES)
        pose = graph.publisher(PoseStamped, messages.BLOCK_POSE)
        probe.create_subscription(String, "/episode", lambda m: marks.append(m.data), 10)
        start = probe.create_client(Trigger, "/record/start_episode")
        stop = probe.create_client(Trigger, "/record/stop_episode")
        graph.start()
        graph.wait_for_subscribers(joints)
        graph.wait_for_subscribers(pose)

        def stream(seconds: float, offset: float) -> None:
            t0 = time.monotonic()
            while (t := time.monotonic() - t0) < seconds:
                joints.publish(messages.joint_state(NAMES, [offset + t, 2 * t, -t]))
                time.sleep(0.01)

        assert not call(graph, stop).success  # nothing to stop yet
        for label, xy in (("reach", (0.4, 0.1)), ("reach_circle", (0.55, -0.1))):
            node.set_parameters([Parameter("behaviour", value=label)])
            pose.publish(messages.block_pose(xy, "table"))
            stream(0.2, 0.0)
            answer = call(graph, start)
            assert answer.success, answer.message
            assert not call(graph, start).success  # one episode at a time
            stream(2.2, 10.0 if label == "reach" else 20.0)
            assert call(graph, stop).success
        refused = node.set_parameters([Parameter("behaviour", value="end")])[0]
        assert not refused.successful and "ends an episode" in refused.reason
        assert graph.wait(lambda: len(marks) == 4)
        assert not bag.exists()  # still being written
    assert marks == ["reach", "", "reach_circle", ""]
    episodes = read_episodes(bag, NAMES, steps=20, dt=0.1)
    assert [e.behaviour for e in episodes] == ["reach", "reach_circle"]
    np.testing.assert_allclose(episodes[0].block_xy, (0.4, 0.1))
    np.testing.assert_allclose(episodes[1].block_xy, (0.55, -0.1))
    # Joint a ramps at 1 rad/s from 10 (resp. 20) inside each episode, resampled at dt: 0.1 rad per step.
    # Times are receive times, so on a busy machine a late delivery bends single steps; the whole
    # episode still spans 1.9 s of the ramp, and never goes back.
    for e, offset in zip(episodes, (10.0, 20.0)):
        a = e.sequence[:, 0]
        assert np.all((a > offset) & (a < offset + 2.5))
        assert np.all(np.diff(a) >= 0) and abs(a[-1] - a[0] - 1.9) < 0.15, a


def test_the_command_leaves_a_complete_bag_on_ctrl_c(tmp_path):
    bag = tmp_path / "cut"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "latent_nodes.cli", "record", "--bag", str(bag)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "recording /joint_states" in line or not line:
                break
        assert any("recording /joint_states" in line for line in lines), lines
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    assert bag.is_dir(), out
    assert sorted(p.suffix for p in bag.iterdir()) == [".mcap", ".yaml"]
    assert [p.name for p in tmp_path.iterdir()] == ["cut"]  # no staging directory left behind
    with pytest.raises(ValueError, match="has none of the topics /joint_states"):  # a readable bag, just empty
        read_episodes(bag, NAMES, 20, 0.1, "reach")
    again = subprocess.run([sys.executable, "-m", "latent_nodes.cli", "record", "--bag", str(bag)],
                           capture_output=True, text=True, timeout=60, env=env)
    assert again.returncode == EXIT_CANNOT_START and "exists already" in again.stdout + again.stderr


def test_the_demo_recorder_keeps_a_description_published_before_it_and_the_behaviours(tmp_path):
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from rosbags.highlevel import AnyReader
    from trajectory_msgs.msg import JointTrajectory

    from latent_nodes.nodes.topic_recorder import TopicRecorder

    bag = tmp_path / "demo_bag"
    with Graph() as graph:
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        description = graph.probe.create_publisher(String, messages.ROBOT_DESCRIPTION, latched)
        description.publish(String(data="<robot name='arm'/>"))
        trajectories = graph.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
        graph.start()
        recorder = TopicRecorder(graph.probe, bag)
        recorder.record_standard()
        graph.wait_for_subscribers(trajectories)
        trajectories.publish(messages.joint_trajectory(NAMES, np.zeros((20, 3)), 0.1))
        assert graph.wait(lambda: recorder.writer.messages >= 2, 5.0)
        recorder.close()
    with AnyReader([bag]) as reader:
        got = {c.topic: [reader.deserialize(raw, c.msgtype) for _, _, raw in reader.messages([c])]
               for c in reader.connections}
        latched_topics = {c.topic for c in reader.connections
                          if any(q.durability.name == "TRANSIENT_LOCAL" for q in c.ext.offered_qos_profiles)}
    assert [m.data for m in got[messages.ROBOT_DESCRIPTION]] == ["<robot name='arm'/>"]
    assert len(got[messages.COMPLETED_BEHAVIOUR][0].points) == 20
    assert messages.ROBOT_DESCRIPTION in latched_topics and messages.COMPLETED_BEHAVIOUR not in latched_topics


def test_a_description_bag2dataset_would_refuse_is_one_warning_and_still_recorded(tmp_path):
    """Parsed on receipt with the one reader: each distinct problem said once, every description recorded."""
    from rcl_interfaces.msg import Log
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from rosbags.highlevel import AnyReader

    bag = tmp_path / "descriptions"
    not_xml = "<robot name='arm'><joint name='j1' type='revolute'>"
    fixed_only = "<robot name='bolted'><joint name='base' type='fixed'/></robot>"
    valid = ("<robot name='arm'><joint name='j1' type='revolute'><limit lower='-1' upper='1' velocity='2'/></joint>"
             "<joint name='j2' type='prismatic'><limit lower='0' upper='0.1' velocity='0.5'/></joint></robot>")
    with Graph() as graph:
        node = graph.add(RecordNode, bag=str(bag))
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        description = graph.probe.create_publisher(String, messages.ROBOT_DESCRIPTION, latched)
        graph.start()
        graph.wait_for_subscribers(description, count=2, timeout=10.0)  # the recorder's and the parser's

        def warnings() -> list[str]:
            return graph.probe.logs("record", Log.WARN)

        def publish(text: str, recorded: int) -> None:
            description.publish(String(data=text))
            assert graph.wait(lambda: node.recorder.writer.messages >= recorded, 10.0), recorded

        publish(not_xml, 1)
        assert graph.wait(lambda: len(warnings()) == 1, 10.0), graph.probe.logs("record")
        assert warnings()[0].startswith("/robot_description: robot description is not valid XML (")
        assert "recorded all the same, but bag2dataset will refuse this bag" in warnings()[0]
        publish(not_xml, 2)  # the same problem again: recorded, not said again
        publish(fixed_only, 3)
        assert graph.wait(lambda: len(warnings()) == 2, 10.0), graph.probe.logs("record")
        assert "robot description 'bolted' has no commandable joints" in warnings()[1]
        publish(valid, 4)
        assert graph.wait(lambda: any("/robot_description 'arm' received: commandable joints ['j1', 'j2']" in m
                                      for m in graph.probe.logs("record")), 10.0), graph.probe.logs("record")
        assert len(warnings()) == 2, warnings()
    with AnyReader([bag]) as reader:
        (connection,) = [c for c in reader.connections if c.topic == messages.ROBOT_DESCRIPTION]
        got = [reader.deserialize(raw, connection.msgtype).data for _, _, raw in reader.messages([connection])]
    assert got == [not_xml, not_xml, fixed_only, valid]
