"""Bad input: one clear log line, nothing sent, and the node still serves the next valid message."""

import resource

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import Log
from rclpy.parameter import Parameter
from ros_harness import Graph
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from latent_nodes.nodes import messages
from latent_nodes.nodes.commander_node import CommanderNode
from latent_nodes.nodes.inference_node import InferenceNode
from latent_nodes.nodes.sim_node import SimNode
from latent_nodes.sim import arm

WARN = Log.WARN


@pytest.fixture(scope="module")
def model(tiny_model):
    return tiny_model


@pytest.fixture(scope="module")
def inference_graph(model):
    """One inference node for the whole module: each test sends its bad input, then a valid pose."""
    with Graph() as g:
        node = g.add(InferenceNode, model_path=str(model))
        g.pose = g.publisher(PoseStamped, messages.BLOCK_POSE)
        g.behaviour = g.publisher(String, messages.BEHAVIOUR)
        g.node = node
        g.start()
        g.wait_for_subscribers(g.pose)
        g.wait_for_subscribers(g.behaviour)
        yield g


def refused(g, pose: PoseStamped | None, expected: str) -> None:
    """Send ``pose`` (if any), expect exactly one new warning containing ``expected`` and no trajectory;
    then a valid pose must still be completed.
    """
    warnings_before = len(g.probe.logs("inference", WARN))
    trajectories = g.probe.count(messages.COMPLETED_BEHAVIOUR)
    if pose is not None:
        g.pose.publish(pose)
    assert g.wait(lambda: len(g.probe.logs("inference", WARN)) > warnings_before), "a warning is logged"
    new = g.probe.logs("inference", WARN)[warnings_before:]
    assert len(new) == 1 and expected in new[0], new
    assert not g.wait(lambda: g.probe.count(messages.COMPLETED_BEHAVIOUR) > trajectories, timeout=0.3)
    g.pose.publish(messages.block_pose([0.5, 0.02], "table"))
    assert g.wait(lambda: g.probe.count(messages.COMPLETED_BEHAVIOUR) == trajectories + 1), "still serving"


@pytest.mark.parametrize("xy, expected", [
    ([float("nan"), 0.0], "not finite"),
    ([0.5, float("inf")], "not finite"),
    ([-float("inf"), float("nan")], "not finite"),
    ([1.5, 0.0], "off the table"),
    ([0.5, -0.9], "off the table"),
])
def test_bad_pose_is_refused(inference_graph, xy, expected):
    refused(inference_graph, messages.block_pose(xy, "table"), expected)


@pytest.mark.parametrize("xy, outside", [([0.70, 0.0], 0.105), ([0.45, 0.32], 0.12), ([0.30, -0.10], 0.055)])
def test_out_of_domain_pose_is_refused(inference_graph, xy, outside):
    # The tiny model was trained on x 0.355-0.595, y -0.2-0.2 m: these lie on the table, outside that.
    expected = (f"({xy[0]:.3f}, {xy[1]:.3f}) m is {outside:.3f} m outside the region 'reach' was trained on "
                "(x 0.355-0.595")
    refused(inference_graph, messages.block_pose(xy, "table"), expected)


def test_out_of_domain_is_judged_per_behaviour(inference_graph):
    g = inference_graph
    assert g.node.set_parameters([Parameter("behaviour", value="reach_circle")])[0].successful
    try:
        refused(g, messages.block_pose([0.66, 0.0], "table"), "0.065 m outside the region 'reach_circle'")
    finally:
        assert g.node.set_parameters([Parameter("behaviour", value="reach")])[0].successful


def test_diagnostics_report_health(inference_graph):
    import json

    g = inference_graph
    refused(g, messages.block_pose([0.72, 0.0], "table"), "outside the region")
    before = g.probe.count(messages.DIAGNOSTICS)
    assert g.wait(lambda: g.probe.count(messages.DIAGNOSTICS) > before + 1, timeout=5.0), "published at 1 Hz"
    status = g.probe.last(messages.DIAGNOSTICS).status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert status.name == "inference: latent_nodes" and status.hardware_id == "latent_nodes"
    assert status.level == DiagnosticStatus.WARN
    assert "refused recently" in status.message
    assert int(values["refused_out_of_domain"]) >= 1 and int(values["completed"]) >= 1
    assert values["domain"].startswith("x 0.355-0.595, y -0.200-0.200 m")
    assert values["out_of_domain"] == "refuse beyond 0.02 m" and values["model_file"].endswith(".pt")
    assert 0 < float(values["latency_p50_ms"]) <= float(values["latency_p99_ms"])
    # The same counters travel with every result.
    result = json.loads(g.probe.last(messages.INFERENCE_RESULT).data)
    assert result["pose_distance_m"] == 0.0 and result["chart_distance"] >= 0.0


def test_unknown_frame_is_refused(inference_graph):
    refused(inference_graph, messages.block_pose([0.5, 0.0], "camera_link"), "frame 'camera_link'")


def test_unknown_behaviour_is_refused(inference_graph):
    g = inference_graph
    g.behaviour.publish(String(data="wave"))
    refused(g, None, "unknown behaviour 'wave'")
    assert g.node.settings.behaviour == "reach"
    # The same through the parameter: refused with the reason, and the behaviour stays.
    result = g.node.set_parameters([Parameter("behaviour", value="juggle")])[0]
    assert not result.successful and "juggle" in result.reason and "reach_circle" in result.reason
    assert g.node.settings.behaviour == "reach"


def test_behaviour_changes_at_run_time(inference_graph):
    g = inference_graph
    g.behaviour.publish(String(data="reach_circle"))
    assert g.wait(lambda: g.node.settings.behaviour == "reach_circle")
    g.pose.publish(messages.block_pose([0.45, 0.0], "table"))
    assert g.wait(lambda: '"behaviour": "reach_circle"' in g.probe.last(messages.INFERENCE_RESULT).data)
    assert g.node.set_parameters([Parameter("behaviour", value="reach")])[0].successful


def test_flood_keeps_memory_bounded_and_handles_the_newest(inference_graph):
    g = inference_graph
    before = g.probe.count(messages.INFERENCE_RESULT)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    xs = np.linspace(0.40, 0.55, 1000)
    for x in xs:
        g.pose.publish(messages.block_pose([x, 0.03], "table"))
    newest = [xs[-1], 0.03]
    assert g.wait(lambda: np.allclose(_last_xy(g), newest), timeout=10.0), "the newest pose is handled"
    handled = g.probe.count(messages.INFERENCE_RESULT) - before
    assert handled < 200, f"{handled} of 1000 poses were completed: the node must skip stale ones"
    assert g.node.mailbox is None  # nothing left queued behind the newest pose
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 50, f"memory grew by {grown_mb:.0f} MB under the flood"


def _last_xy(g):
    import json

    msg = g.probe.last(messages.INFERENCE_RESULT)
    return json.loads(msg.data)["block_xy"] if msg else [np.nan, np.nan]


# --- commander ------------------------------------------------------------------------------------------

@pytest.fixture()
def commander_graph():
    with Graph() as g:
        g.add(SimNode)
        g.node = g.add(CommanderNode, settle_s=0.1)
        g.trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
        g.start()
        g.wait_for_subscribers(g.trajectory)
        assert g.wait(lambda: g.node.measured is not None), "the commander hears /joint_states"
        yield g


def short_trajectory(names=None, n_points=5, value=None) -> JointTrajectory:
    names = list(arm.JOINT_NAMES) if names is None else names
    home = np.clip(np.asarray(arm.HOME, dtype=np.float64), arm.JOINT_LOWER, arm.JOINT_UPPER)
    q = np.tile(home[: len(names)], (n_points, 1)) if value is None else np.full((n_points, len(names)), value)
    return messages.joint_trajectory(names, q, 0.05)


@pytest.mark.parametrize("trajectory, expected", [
    (lambda: short_trajectory(names=list(arm.JOINT_NAMES)[:8]), "8 joint names, the arm has 9"),
    (lambda: short_trajectory(names=list(arm.JOINT_NAMES)[:8] + ["elbow_of_someone_else"]), "unknown joints"),
    (lambda: short_trajectory(value=float("nan")), "non-finite"),
])
def test_commander_refuses_bad_trajectories(commander_graph, trajectory, expected):
    g = commander_graph
    errors_before = len(g.probe.logs("commander", Log.ERROR))
    commands = g.probe.count(messages.JOINT_COMMAND)
    g.trajectory.publish(trajectory())
    assert g.wait(lambda: len(g.probe.logs("commander", Log.ERROR)) > errors_before)
    new = g.probe.logs("commander", Log.ERROR)[errors_before:]
    assert len(new) == 1 and "refusing trajectory, nothing sent" in new[0] and expected in new[0], new
    assert not g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > commands, timeout=0.3)
    # ...and the next valid trajectory is executed.
    g.trajectory.publish(short_trajectory())
    assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) == 1, timeout=3.0)


def test_commander_stop_service_and_velocity_limit(commander_graph):
    g = commander_graph
    lower, upper = np.asarray(arm.JOINT_LOWER), np.asarray(arm.JOINT_UPPER)
    far = messages.joint_trajectory(list(arm.JOINT_NAMES), np.tile(lower + 0.9 * (upper - lower), (5, 1)), 0.2)
    g.trajectory.publish(far)
    assert g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > 10)
    cmds = [np.array(m.position) for m in list(g.probe.got[messages.JOINT_COMMAND])]
    steps = np.abs(np.diff(np.array(cmds), axis=0))
    limit = np.minimum(np.asarray(arm.MAX_VELOCITY), g.node.settings.max_joint_velocity)
    # Consecutive targets never differ by more than the velocity limit allows between two ticks (with
    # slack for a late tick).
    assert np.all(steps <= limit * 3.0 / g.node.settings.command_rate + 1e-9)
    client = g.probe.create_client(Trigger, "/commander/stop")
    assert client.wait_for_service(timeout_sec=3.0)
    future = client.call_async(Trigger.Request())
    assert g.wait(future.done)
    assert future.result().success and g.node.active is None
    sent = g.probe.count(messages.JOINT_COMMAND)
    assert not g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > sent + 1, timeout=0.3), "nothing after stop"
    assert g.probe.count(messages.TRACKING_ERROR) == 0


def test_commander_stops_when_feedback_goes_stale(model):
    with Graph() as g:
        sim = g.add(SimNode)
        node = g.add(CommanderNode, stale_feedback_s=0.2)
        trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
        g.start()
        g.wait_for_subscribers(trajectory)
        assert g.wait(lambda: node.measured is not None)
        trajectory.publish(messages.joint_trajectory(list(arm.JOINT_NAMES), np.tile(node.measured, (20, 1)), 0.1))
        assert g.wait(lambda: node.active is not None)
        g.executor.remove_node(sim)  # the world goes silent
        assert g.wait(lambda: any("stale" in m for m in g.probe.logs("commander", Log.ERROR)), timeout=2.0)
        assert node.active is None and g.probe.count(messages.TRACKING_ERROR) == 0


def test_sim_ignores_bad_commands_and_blocks():
    with Graph() as g:
        sim = g.add(SimNode)
        command = g.publisher(JointState, messages.JOINT_COMMAND)
        block = g.publisher(PoseStamped, messages.SIM_SET_BLOCK)
        g.start()
        g.wait_for_subscribers(command)
        g.wait_for_subscribers(block)
        command.publish(messages.joint_state(["a", "b"], [0.0, 1.0]))
        block.publish(messages.block_pose([5.0, 0.0], "table"))
        assert g.wait(lambda: len(g.probe.logs("sim", WARN)) >= 2)
        assert any("ignoring /joint_command" in m for m in g.probe.logs("sim", WARN))
        assert any("ignoring /sim/set_block" in m for m in g.probe.logs("sim", WARN))
        block.publish(messages.block_pose([0.5, 0.1], "table"))
        assert g.wait(lambda: np.allclose(sim.sim.block_xy, [0.5, 0.1], atol=2e-3))
