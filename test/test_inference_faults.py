"""The inference node under faults, over real DDS: a clock that jumps back, a failure while serving a pose.

Each test has its own graph (no other inference node in the domain), on simulated time where it says so.
"""

import time

from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import Log
from ros_harness import Graph
from rosgraph_msgs.msg import Clock
from test_inference_online import STEPS, FakeArm, results, trajectories

from latent_nodes.nodes import messages
from latent_nodes.nodes.diagnostics import ERROR
from latent_nodes.nodes.inference_node import InferenceNode


def quiet(g: Graph, topic: str, for_s: float, timeout: float) -> bool:
    """Wait until nothing arrived on ``topic`` for ``for_s`` seconds (messages in flight are delivered)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        heard = g.probe.count(topic)
        if not g.wait(lambda heard=heard: g.probe.count(topic) > heard, timeout=for_s):
            return True
    return False


class SimClock:
    """Publishes /clock at 100 Hz from the probe: ``base`` + the wall time since ``set``; ``set`` jumps it."""

    def __init__(self, g: Graph, base: float) -> None:
        self.pub = g.publisher(Clock, "/clock")
        self.set(base)
        g.probe.create_timer(0.01, self.tick)

    def set(self, base: float) -> None:
        self.base, self.t0 = base, time.monotonic()

    def now(self) -> float:
        return self.base + time.monotonic() - self.t0

    def tick(self) -> None:
        self.pub.publish(Clock(clock=messages.seconds_to_time(self.now())))


def test_a_clock_jump_back_ends_the_online_behaviour_and_the_next_pose_starts_a_new_one(tiny_model):
    """Simulated time restarts (a reset scene) mid-behaviour: the worker must not sleep until the old time."""
    with Graph() as g:
        node = g.add(InferenceNode, model_path=str(tiny_model), mode="online", use_sim_time=True)
        arm_ = FakeArm(g)
        pose = g.publisher(PoseStamped, messages.BLOCK_POSE)
        clock = SimClock(g, base=100.0)
        g.start()
        g.wait_for_subscribers(pose)
        assert g.wait(lambda: node.get_clock().now().nanoseconds > 99e9 and node.mode.joints is not None, timeout=10.0)
        pose.publish(messages.block_pose([0.45, 0.05], "table"))
        assert g.wait(lambda: any(r["step"] >= 3 for r in results(g)), timeout=10.0)
        first_start = results(g)[0]["behaviour_start"]
        assert first_start > 99.0
        # The arm falls silent, then the clock goes back to 5 s: the last joint state was received at about
        # 100 s, "in the future" of the new clock. It must not count as fresh.
        arm_.on = False
        assert quiet(g, messages.JOINT_STATES, for_s=0.3, timeout=5.0), "the arm went quiet"
        clock.set(5.0)
        # Measured: 10 ms after the jump (the next /clock tick); the old time would come round in 97 s.
        assert g.wait(lambda: not node.running, timeout=1.0), "the behaviour ends at the jump, not at t = 102 s"
        assert g.wait(lambda: any("clock jumped back" in line for line in g.probe.logs("inference", Log.WARN)))
        assert node.mode.joints is None
        # The next pose starts a new behaviour on the new clock and runs it to the end.
        pose.publish(messages.block_pose([0.45, 0.05], "table"))
        assert g.wait(lambda: any(r["step"] == STEPS - 1 and r["behaviour_start"] < 50.0 for r in results(g)),
                      timeout=20.0), "the new behaviour runs to its last step"
        old = [r for r in results(g) if r["behaviour_start"] == first_start]
        new = [r for r in results(g) if r["behaviour_start"] != first_start]
        assert max(r["step"] for r in old) < STEPS - 1, "the old behaviour did not run on"
        assert new[0]["step"] == 0 and all(5.0 <= r["behaviour_start"] < 30.0 for r in new), new[0]
        assert all(r["joint_rms"] is None for r in new), "the joint state from before the jump is not observed"


def test_a_failure_while_serving_a_pose_is_counted_and_the_next_pose_is_served(tiny_model, monkeypatch):
    """Building or publishing the result used to sit outside the worker's try: one failure ended the worker."""
    real, calls = messages.joint_trajectory, []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("one bad trajectory")
        return real(*args, **kwargs)

    monkeypatch.setattr(messages, "joint_trajectory", fails_once)
    with Graph() as g:
        node = g.add(InferenceNode, model_path=str(tiny_model))
        pose = g.publisher(PoseStamped, messages.BLOCK_POSE)
        g.start()
        g.wait_for_subscribers(pose)
        pose.publish(messages.block_pose([0.45, 0.05], "table"))
        assert g.wait(lambda: node.health.counter("failed") == 1, timeout=10.0)
        pose.publish(messages.block_pose([0.45, 0.0], "table"))
        assert g.wait(lambda: len(trajectories(g)) == 1, timeout=10.0), "the worker serves the next pose"
        assert node.worker.is_alive() and node.health.counter("completed") == 1
        assert g.wait(lambda: g.probe.logs("inference", Log.ERROR))
        errors = g.probe.logs("inference", Log.ERROR)
        assert len(errors) == 1 and "inference failed for block [0.45, 0.05]: RuntimeError: one bad trajectory" \
            in errors[0], errors
        status = g.wait(lambda: any(s.level == bytes([ERROR]) for m in g.probe.got[messages.DIAGNOSTICS]
                                    for s in m.status if s.name.startswith("inference")), timeout=5.0)
        assert status, "ERROR on /diagnostics after the failure"
