"""The commander while its inputs are missing or restart: nothing is commanded that the arm did not ask for.

A fake world in the probe publishes ``/joint_states`` (and ``/clock``) on a timer, so each test controls
exactly when feedback exists and what time it is; the commander is the real node over DDS.
"""

import numpy as np
from rcl_interfaces.msg import Log
from rclpy.qos import DurabilityPolicy, QoSProfile
from ros_harness import Graph
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from latent_nodes.nodes import messages
from latent_nodes.nodes.commander_node import CommanderNode
from latent_nodes.sim import arm

NAMES = list(arm.JOINT_NAMES)
HOME = np.asarray(arm.HOME, dtype=np.float64)


class FakeWorld:
    """``/joint_states`` at HOME (and ``/clock`` from ``clock_s``) at 100 Hz, while ``on`` is set."""

    def __init__(self, g: Graph, clock_s: float | None = None) -> None:
        self.on = False
        self.clock_s = clock_s
        self.states = g.publisher(JointState, messages.JOINT_STATES)
        self.clock = g.publisher(Clock, "/clock") if clock_s is not None else None
        g.probe.create_timer(0.01, self.tick)

    def tick(self) -> None:
        if self.clock is not None:
            self.clock_s += 0.01
            msg = Clock()
            msg.clock = messages.seconds_to_time(self.clock_s)
            self.clock.publish(msg)
        if self.on:
            self.states.publish(messages.joint_state(NAMES, HOME))


def home_trajectory(n_points: int = 20) -> JointTrajectory:
    return messages.joint_trajectory(NAMES, np.tile(HOME, (n_points, 1)), 0.1)


def test_nothing_is_commanded_before_feedback_and_a_refused_trajectory_never_resumes():
    with Graph() as g:
        commander = g.add(CommanderNode)
        world = FakeWorld(g)
        trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
        g.start()
        g.wait_for_subscribers(trajectory)
        trajectory.publish(home_trajectory())
        assert g.wait(lambda: any("no fresh /joint_states (last never)" in m
                                  for m in g.probe.logs("commander", Log.ERROR)))
        # Feedback arrives now: the refused trajectory stays refused, the stop service has nothing to hold.
        world.on = True
        assert g.wait(lambda: commander.measured is not None)
        client = g.probe.create_client(Trigger, "/commander/stop")
        assert client.wait_for_service(timeout_sec=5.0)
        future = client.call_async(Trigger.Request())
        assert g.wait(future.done) and future.result().message == "nothing running"
        assert not g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > 0, timeout=0.5)
        assert commander.active is None
        # ...and the next trajectory, with feedback, is executed.
        trajectory.publish(home_trajectory())
        assert g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > 0)


def test_a_restarted_commander_replays_nothing():
    """Even a latching publisher (transient local, as `ros2 topic pub` can be) is not replayed after a restart."""
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    with Graph() as world_graph:
        world = FakeWorld(world_graph)
        world.on = True
        trajectory = world_graph.probe.create_publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR, latched)
        world_graph.start()
        trajectory.publish(home_trajectory())  # published before the (re)started commander exists
        with Graph() as g:
            commander = g.add(CommanderNode)
            g.start()
            assert world_graph.wait(lambda: trajectory.get_subscription_count() >= 1)
            assert g.wait(lambda: commander.measured is not None), "the commander hears /joint_states"
            assert not g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > 0, timeout=1.0), "nothing replayed"
            # Not even received (a replay arriving before feedback would be refused, and say so).
            assert commander.active is None and not g.probe.logs("commander", Log.WARN), g.probe.logs("commander")
            trajectory.publish(home_trajectory())  # what is published after the start is executed
            assert g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > 0)


def test_a_clock_jump_back_stops_without_a_hold_command():
    """Simulated time restarting (a respawned world): feedback from before is forgotten, nothing is held."""
    with Graph() as g:
        world = FakeWorld(g, clock_s=100.0)
        world.on = True
        commander = g.add(CommanderNode, use_sim_time=True)
        trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
        g.start()
        g.wait_for_subscribers(trajectory)
        assert g.wait(lambda: commander.measured is not None and commander.get_clock().now().nanoseconds > 100e9)
        trajectory.publish(home_trajectory(50))  # 5 s long
        assert g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > 5)
        world.on, world.clock_s = False, 0.0  # the world restarts: its clock from zero, no feedback yet
        assert g.wait(lambda: any("clock jumped back" in m for m in g.probe.logs("commander", Log.ERROR)))
        assert commander.active is None and commander.measured is None
        sent = g.probe.count(messages.JOINT_COMMAND)
        assert not g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > sent, timeout=0.5), "no command after"


def test_diagnostics_follow_the_commanders_state():
    from diagnostic_msgs.msg import DiagnosticStatus

    def status(g):
        msg = g.probe.last(messages.DIAGNOSTICS)
        return None if msg is None else msg.status[0]

    def values(s):
        return {kv.key: kv.value for kv in s.values}

    with Graph() as g:
        g.add(CommanderNode, settle_s=0.1)
        world = FakeWorld(g)
        trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
        g.start()
        g.wait_for_subscribers(trajectory)
        # No feedback yet: nothing could be executed.
        assert g.wait(lambda: status(g) is not None, timeout=5.0)
        s = status(g)
        assert s.name == "commander: latent_nodes" and s.level == DiagnosticStatus.WARN
        assert "no fresh /joint_states" in s.message and values(s)["feedback_age_s"] == "inf"
        # Feedback and one executed trajectory: OK, with its tracking error.
        world.on = True
        assert g.wait(lambda: status(g).level == DiagnosticStatus.OK, timeout=5.0)
        trajectory.publish(messages.joint_trajectory(NAMES, np.tile(HOME, (3, 1)), 0.05))
        assert g.wait(lambda: values(status(g)).get("executed") == "1", timeout=10.0)
        s = status(g)
        assert s.level == DiagnosticStatus.OK and values(s)["state"] == "idle"
        assert 0.0 <= float(values(s)["tracking_error_rad"]) < 0.01  # the fake arm sits exactly at HOME
        assert float(values(s)["feedback_age_s"]) < 0.5
        # Feedback stops during a trajectory: stopped, and the status says why.
        trajectory.publish(home_trajectory())
        assert g.wait(lambda: values(status(g)).get("state") == "executing", timeout=5.0)
        world.on = False
        assert g.wait(lambda: status(g).level == DiagnosticStatus.ERROR, timeout=5.0)
        s = status(g)
        assert "went stale" in s.message and values(s)["stopped_stale_feedback"] == "1"
