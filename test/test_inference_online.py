"""The inference node in online mode, over real DDS: step-by-step estimates, stamped updates, recognition.

A fake arm in the probe publishes ``/joint_states`` (at HOME unless a test changes what it sends), so each
test controls the proprioception exactly; the inference node is the real node with the tiny model.
"""

import json
import math

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import Log
from rclpy.duration import Duration
from ros_harness import Graph
from sensor_msgs.msg import JointState

from latent_nodes.nodes import messages
from latent_nodes.nodes.inference_node import InferenceNode
from latent_nodes.sim import arm

NAMES = list(arm.JOINT_NAMES)
HOME = np.asarray(arm.HOME, dtype=np.float64)
STEPS = 20


class FakeArm:
    """Publishes ``self.message()`` on /joint_states at 100 Hz while ``on``; by default the arm at HOME."""

    def __init__(self, g: Graph) -> None:
        self.on = True
        self.message = lambda: messages.joint_state(NAMES, HOME)
        self.pub = g.publisher(JointState, messages.JOINT_STATES)
        g.probe.create_timer(0.01, self.tick)

    def tick(self) -> None:
        if self.on:
            self.pub.publish(self.message())


class Camera:
    """Publishes the block at ``xy`` on /block_pose at 20 Hz, stamped when it is seen (now), as the camera
    perception does while the block is in view; ``xy`` None: the arm hides the block, nothing is published.
    """

    def __init__(self, g: Graph, pub) -> None:
        self.xy: list[float] | None = None
        self.pub, self.clock = pub, g.probe.get_clock()
        g.probe.create_timer(0.05, self.tick)

    def tick(self) -> None:
        xy = self.xy
        if xy is not None:
            self.pub.publish(messages.block_pose(xy, "table", stamp=self.clock.now().to_msg()))


def results(g: Graph) -> list[dict]:
    with g.probe.lock:
        return [json.loads(m.data) for m in g.probe.got[messages.INFERENCE_RESULT]]


def trajectories(g: Graph) -> list:
    with g.probe.lock:
        return list(g.probe.got[messages.COMPLETED_BEHAVIOUR])


def behaviour_done(g: Graph, count_before: int) -> bool:
    """The behaviour that started after ``count_before`` results has reported its last step."""
    return any(r["step"] == STEPS - 1 for r in results(g)[count_before:])


@pytest.fixture(scope="module")
def online_graph(tiny_model):
    """One online inference node and a fake arm for the module."""
    with Graph() as g:
        g.node = g.add(InferenceNode, model_path=str(tiny_model), mode="online")
        g.arm = FakeArm(g)
        g.pose = g.publisher(PoseStamped, messages.BLOCK_POSE)
        g.camera = Camera(g, g.pose)
        g.start()
        g.wait_for_subscribers(g.pose)
        assert g.wait(lambda: g.node.mode.joints is not None)
        yield g


def run_behaviour(g: Graph, xy, during=None, at_step: int = 3) -> tuple[list[dict], list]:
    """Start a behaviour with a pose at ``xy``; call ``during()`` once step ``at_step`` is reported."""
    n_results, n_trajectories = len(results(g)), len(trajectories(g))
    g.pose.publish(messages.block_pose(xy, "table"))
    if during is not None:
        assert g.wait(lambda: any(r["step"] >= at_step for r in results(g)[n_results:]), timeout=10.0)
        during()
    assert g.wait(lambda: behaviour_done(g, n_results), timeout=20.0), "the behaviour runs to its last step"
    assert g.wait(lambda: not g.node.running, timeout=5.0)
    return results(g)[n_results:], trajectories(g)[n_trajectories:]


def test_online_mode_reports_every_step_and_stamps_updates_with_the_behaviours_start(online_graph):
    g = online_graph
    steps, sent = run_behaviour(g, [0.45, 0.05])
    assert [r["step"] for r in steps] == sorted({r["step"] for r in steps}) and steps[0]["step"] == 0
    assert len(steps) >= STEPS // 2, "steps are observed one by one (some skipped on a busy machine)"
    first = steps[0]
    for key in ("mode", "step", "window_error", "errors", "decision", "published", "behaviour_start", "window",
                "joint_rms", "change_rad", "pose_distance_m"):
        assert key in first, key
    assert first["mode"] == "online" and first["decision"] == "reach" and first["published"]
    assert first["errors"].keys() == {"reach"} and first["window"] == [0]
    # What was published is what the results say was published, all stamped with the behaviour's start.
    assert len(sent) == sum(r["published"] for r in steps) >= 1
    start = first["behaviour_start"]
    assert all(r["behaviour_start"] == start for r in steps)
    for msg in sent:
        assert messages.time_to_seconds(msg.header.stamp) == pytest.approx(start, abs=1e-6)
        assert len(msg.points) == STEPS and all(np.isfinite(p.positions).all() for p in msg.points)
    # An update goes out only for a change beyond the tolerance; the rest of the steps are quiet.
    for r in steps[1:]:
        assert r["published"] == (r["change_rad"] > 0.01), r
    assert steps[-1]["window"][-1] == STEPS - 1 and len(steps[-1]["window"]) > 1, "joints observed as it ran"


def test_a_moved_block_is_followed_on_the_same_clock(online_graph):
    g = online_graph
    steps, sent = run_behaviour(g, [0.40, -0.10],
                                during=lambda: g.pose.publish(messages.block_pose([0.55, 0.12], "table")))
    moved = [r for r in steps if abs(r["block_xy"][0] - 0.55) < 1e-6]
    assert moved and moved[0]["published"], "the move changes the plan: an update goes out at once"
    assert moved[0]["window"] == [moved[0]["step"]], "the window restarts at the move"
    assert moved[0]["step"] >= 3 and len(sent) >= 2
    assert len({messages.time_to_seconds(m.header.stamp) for m in sent}) == 1, "one behaviour, one start"
    # After the move only the block is observed (the arm is still leaving the old plan).
    assert all(r["joint_rms"] is None for r in moved)
    assert all(r["joint_rms"] is not None for r in steps[1:] if r not in moved), "joints counted before it"


def test_bad_joint_states_get_one_line_each_and_the_node_keeps_serving(online_graph):
    g = online_graph
    bad = {
        "joint state has non-finite positions": lambda: messages.joint_state(NAMES, np.full(len(NAMES), math.nan)),
        "joint state lacks joints": lambda: messages.joint_state(NAMES[:-2], HOME[:-2]),
    }
    for expected, message in bad.items():
        before = len(g.probe.logs("inference", Log.WARN))
        g.arm.message = message
        assert g.wait(lambda n=before: len(g.probe.logs("inference", Log.WARN)) > n)
        steps, sent = run_behaviour(g, [0.47, 0.0])
        new = g.probe.logs("inference", Log.WARN)[before:]
        assert all(expected in m for m in new) and len(new) <= 6, new  # throttled: one a second
        assert all(r["joint_rms"] is None for r in steps), "no bad joint state was observed"
        assert sent and all(np.isfinite(p.positions).all() for m in sent for p in m.points)
    # Extra names (another robot's joints on the same topic): one line, and the arm's joints still count.
    before = len(g.probe.logs("inference", Log.WARN))
    g.arm.message = lambda: messages.joint_state([*NAMES, "conveyor"], np.append(HOME, 0.3))
    steps, sent = run_behaviour(g, [0.47, 0.0])
    new = g.probe.logs("inference", Log.WARN)[before:]
    assert len(new) == 1 and "does not know, ignored: ['conveyor']" in new[0], new
    assert steps[-1]["joint_rms"] is not None
    g.arm.message = lambda: messages.joint_state(NAMES, HOME)


def test_stale_joint_states_leave_the_joints_unobserved_with_one_line(online_graph):
    g = online_graph
    g.arm.on = False
    assert g.wait(lambda: g.node.mode.joints is not None)
    g.wait(lambda: False, timeout=0.6)  # older than stale_feedback_s (0.5 s)
    before = len(g.probe.logs("inference", Log.WARN))
    steps, sent = run_behaviour(g, [0.5, -0.05])
    new = g.probe.logs("inference", Log.WARN)[before:]
    assert len(new) == 1 and "/joint_states is stale" in new[0] and "observes the block only" in new[0], new
    assert all(r["joint_rms"] is None for r in steps) and sent
    g.arm.on = True
    assert g.wait(lambda: g.node.mode.joints is not None and len(results(g)) > 0)


def test_a_block_that_leaves_the_table_mid_behaviour_is_refused_and_nothing_is_sent_for_it(online_graph):
    g = online_graph
    before = len(g.probe.logs("inference", Log.WARN))
    n_sent = len(trajectories(g))
    steps, sent = run_behaviour(g, [0.45, 0.0],
                                during=lambda: g.pose.publish(messages.block_pose([2.0, 0.0], "table")))
    new = g.probe.logs("inference", Log.WARN)[before:]
    assert len(new) == 1 and "refusing block pose" in new[0] and "table" in new[0], new
    assert all(r["block_xy"][0] < 1.0 for r in steps), "the off-table pose was never observed"
    assert all(np.isfinite(p.positions).all() for m in sent for p in m.points)
    assert len(trajectories(g)) - n_sent == len(sent)
    # Still serving: the next behaviour starts and publishes.
    steps, sent = run_behaviour(g, [0.45, 0.0])
    assert steps[0]["published"] and sent


def test_a_slowly_drifting_block_is_moved_once_it_is_a_threshold_from_the_windows_start(online_graph):
    """2 mm a pose never moves 1 cm between two steps; the node must still see the block as moved."""
    g = online_graph

    def drift() -> None:
        for k in range(1, 13):  # 2 mm every 0.1 s (a step), 24 mm in all
            g.pose.publish(messages.block_pose([0.45 + 0.002 * k, 0.0], "table"))
            g.wait(lambda: False, timeout=0.1)

    steps, sent = run_behaviour(g, [0.45, 0.0], during=drift, at_step=2)
    restarts = [r for r in steps if r["step"] > 0 and r["window"] == [r["step"]]]
    assert restarts, [(r["step"], r["window"]) for r in steps]
    first = restarts[0]["step"]
    # The block counts as moved from the first restart on: only the block is observed after it.
    assert all(r["joint_rms"] is None for r in steps if r["step"] >= first)
    assert all(r["joint_rms"] is not None for r in steps if 0 < r["step"] < first)
    # No window mixes positions more than the threshold (1 cm) apart.
    seen = {r["step"]: np.asarray(r["block_xy"]) for r in steps}
    for r in steps:
        inside = [seen[t] for t in r["window"] if t in seen]
        assert max(np.linalg.norm(b - inside[0]) for b in inside) <= 0.01 + 1e-9, (r["step"], r["window"])


def now_s(g: Graph) -> float:
    return g.probe.get_clock().now().nanoseconds * 1e-9


def hidden_run(g: Graph, seen_again_at: list[float], hidden_s: float = 0.7) -> tuple[list[dict], float, float]:
    """One behaviour seen by a 20 Hz camera at (0.45, 0.0) m, the block hidden by the arm for ``hidden_s``
    from step 2 on (the camera publishes nothing), then seen at ``seen_again_at`` until a step observes it.
    Returns the behaviour's results and when the block was hidden and seen again (seconds, probe clock).
    """
    n = len(results(g))
    g.camera.xy = [0.45, 0.0]
    assert g.wait(lambda: any(r["step"] >= 2 for r in results(g)[n:]), timeout=10.0)
    g.camera.xy, hidden_at = None, now_s(g)
    g.wait(lambda: False, timeout=hidden_s)
    g.camera.xy, seen_at = seen_again_at, now_s(g)
    assert g.wait(lambda: any((r["block_stamp"] or 0.0) >= seen_at for r in results(g)[n:]), timeout=10.0)
    g.camera.xy = None  # before the behaviour ends: a pose after it would start the next one
    assert g.wait(lambda: behaviour_done(g, n), timeout=20.0), "the behaviour runs to its last step"
    assert g.wait(lambda: not g.node.running, timeout=20.0)
    start = results(g)[n]["behaviour_start"]
    return [r for r in results(g)[n:] if r["behaviour_start"] == start], hidden_at, seen_at


def check_hidden(steps: list[dict], hidden_at: float, seen_at: float) -> list[int]:
    """What holds whether the block is seen again in place or elsewhere; returns the steps it was hidden."""
    stamps = [r["block_stamp"] for r in steps if r["block_observed"]]
    assert all(a < b for a, b in zip(stamps, stamps[1:])), "no pose observed twice"
    # Nothing was published while hidden (a tick under way as it was hidden may still go out).
    assert not [t for t in stamps if hidden_at + 0.06 < t < seen_at], (hidden_at, seen_at, stamps)
    again = min(r["step"] for r in steps if r["block_observed"] and r["block_stamp"] >= seen_at)
    hidden = [r["step"] for r in steps if not r["block_observed"] and r["step"] < again]
    # 0.7 s is 7 steps (measured: steps 3-9 unobserved, three runs on a lightly loaded machine; a step
    # skipped on a busy one may take some); the old node observed the last pose again at each of them.
    assert len(hidden) >= 4, hidden
    assert not set(hidden) & set(steps[-1]["block_steps"]), "no hidden step counts the block in the mask"
    return hidden


def test_a_block_hidden_by_the_arm_is_unobserved_and_seen_again_where_it_was_the_behaviour_goes_on(online_graph):
    """Poses stop for 0.7 s (the camera refuses a mostly hidden block): the steps meanwhile observe the joints,
    never the last pose again; the block seen again at the same place continues the same window.
    """
    steps, hidden_at, seen_at = hidden_run(online_graph, seen_again_at=[0.45, 0.0])
    hidden = check_hidden(steps, hidden_at, seen_at)
    # The joints still count (at every hidden step when measured; /joint_states may stall on a busy machine).
    assert set(hidden) & set(steps[-1]["joint_steps"]), "the joints were observed while it was hidden"
    assert all(r["window"][0] == 0 for r in steps), "the same place: no restart"
    assert all(r["decision"] == "reach" and abs(r["block_xy"][0] - 0.45) < 1e-9 for r in steps)


def test_a_block_seen_again_elsewhere_after_being_hidden_counts_as_moved(online_graph):
    steps, hidden_at, seen_at = hidden_run(online_graph, seen_again_at=[0.50, 0.05])
    hidden = check_hidden(steps, hidden_at, seen_at)
    moved = [r for r in steps if abs(r["block_xy"][0] - 0.50) < 1e-9]
    assert moved and moved[0]["block_observed"] and moved[0]["block_stamp"] >= seen_at
    assert moved[0]["step"] > max(hidden)
    assert moved[0]["window"] == [moved[0]["step"]] and moved[0]["published"], "a move: restart, update at once"
    assert all(r["window"][0] == 0 for r in steps if r["step"] < moved[0]["step"]), "no move while it was hidden"
    assert all(r["joint_rms"] is None for r in moved), "only the block from the move on"


def test_a_stale_block_pose_is_not_observed_and_said_once(online_graph):
    """A new pose stamped 0.6 s ago (older than stale_feedback_s, 0.5 s) elsewhere neither counts as a move
    nor is observed.
    """
    g = online_graph
    before = len(g.probe.logs("inference", Log.WARN))

    def stale() -> None:  # at step 9 or later: stamped after the behaviour started, so new to it
        old = g.probe.get_clock().now() - Duration(seconds=0.6)
        g.pose.publish(messages.block_pose([0.52, 0.08], "table", stamp=old.to_msg()))

    steps, sent = run_behaviour(g, [0.45, 0.0], during=stale, at_step=9)
    assert g.wait(lambda: any("/block_pose" in m for m in g.probe.logs("inference", Log.WARN)[before:]))
    new = [m for m in g.probe.logs("inference", Log.WARN)[before:] if "/block_pose" in m]
    assert len(new) == 1 and "/block_pose is stale (0." in new[0] and "leaves the block unobserved" in new[0], new
    assert all(abs(r["block_xy"][0] - 0.45) < 1e-9 and r["window"][0] == 0 for r in steps)
    assert [r["step"] for r in steps if r["block_observed"]] == [0]
