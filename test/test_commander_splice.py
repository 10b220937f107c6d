"""The commander splices a stamped trajectory into the running behaviour, over real DDS.

A fake world in the probe publishes ``/joint_states`` at HOME; the commander is the real node. The first
trajectory has a zero stamp (starts on receipt, as a glimpse's does); the update is stamped with that
behaviour's start, as the online inference node stamps it. Every command is stamped with the time it was
sent, so the test can check the commands against the velocity limit and the update's own timing.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from rclpy.time import Time
from ros_harness import Graph
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from latent_nodes.nodes import messages
from latent_nodes.nodes.commander_node import CommanderNode
from latent_nodes.robot.safety import CheckedTrajectory
from latent_nodes.sim import arm

NAMES = list(arm.JOINT_NAMES)
HOME = np.asarray(arm.HOME, dtype=np.float64)
TOWARDS_MIDDLE = np.sign((arm.JOINT_LOWER + arm.JOINT_UPPER) / 2 - HOME)
DT, STEPS, VMAX, AMAX = 0.1, 20, 2.0, 10.0


def plan(offset: float) -> np.ndarray:
    """[STEPS, J] a slow ramp away from HOME (0.15 rad/s), shifted by ``offset`` rad: a behaviour and its update."""
    ramp = 0.015 * (np.arange(STEPS)[:, None] + 1) + offset
    return HOME + TOWARDS_MIDDLE * ramp


def commands(g: Graph) -> tuple[np.ndarray, np.ndarray]:
    """(send times in seconds, [N, J] positions) of every /joint_command so far."""
    with g.probe.lock:
        sent = list(g.probe.got[messages.JOINT_COMMAND])
    return (np.array([messages.time_to_seconds(m.header.stamp) for m in sent]),
            np.array([messages.joint_positions(m, NAMES) for m in sent]))


@contextmanager
def commander_graph() -> Iterator[tuple[Graph, CommanderNode, object]]:
    """A commander whose arm reports HOME every 10 ms, ready; yields (graph, commander, trajectory publisher).

    The fake arm never moves, so the path and goal tolerances are off (0): these tests check the stream.
    """
    with Graph() as g:
        commander = g.add(CommanderNode, max_joint_velocity=VMAX, max_joint_acceleration=AMAX, settle_s=0.2,
                          path_tolerance=0.0, goal_tolerance=0.0)
        states = g.publisher(JointState, messages.JOINT_STATES)
        g.probe.create_timer(0.01, lambda: states.publish(messages.joint_state(NAMES, HOME)))
        trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
        g.start()
        g.wait_for_subscribers(trajectory)
        assert g.wait(lambda: commander.measured is not None)
        yield g, commander, trajectory


def test_an_update_stamped_with_the_behaviours_start_is_spliced_in_without_a_restart_or_a_jump():
    with commander_graph() as (g, commander, trajectory):
        trajectory.publish(messages.joint_trajectory(NAMES, plan(0.0), DT))  # zero stamp: start on receipt
        assert g.wait(lambda: commander.active is not None)
        start = commander.started_at
        assert g.wait(lambda: (commander.get_clock().now() - start).nanoseconds > 0.6e9)
        updated = plan(0.15)
        trajectory.publish(messages.joint_trajectory(NAMES, updated, DT, stamp=start.to_msg()))
        assert g.wait(lambda: commander.started_at == start and g.probe.count(messages.TRACKING_ERROR) > 0,
                      timeout=10.0), "the update runs on the first behaviour's clock and finishes"
        assert g.wait(lambda: any(m.startswith("splicing") for m in g.probe.logs("commander")))  # via /rosout
        spliced_at = [m for m in g.probe.logs("commander") if m.startswith("splicing")]
        assert len(spliced_at) == 1 and "from the running one" in spliced_at[0]
        assert not any("replacing" in m for m in g.probe.logs("commander"))

        t, q = commands(g)
        s0 = start.nanoseconds * 1e-9
        # No jump: no command moves a joint faster than the limit between two sends (small slack for the
        # rate limiter's own clock reading, taken a moment before the stamp).
        steps = np.abs(np.diff(q, axis=0)).max(axis=1)
        assert np.all(steps <= VMAX * np.diff(t) + 2e-3), steps.max()
        # Phase kept: once blended (0.15 rad within the acceleration limit takes 2 sqrt(0.15 / AMAX) = 0.25 s,
        # well below the fingers' 1.5 rad/s) the commands follow the update at its own times from the first
        # behaviour's start; it is not restarted from its first point.
        reference = CheckedTrajectory((np.arange(STEPS) + 1) * DT, updated, False)
        received = s0 + float(spliced_at[0].split(" s into")[0].split()[-1])
        after = (t > received + 2 * np.sqrt(0.15 / AMAX) + 0.15) & (t < s0 + STEPS * DT)
        assert after.sum() > 20
        lag = VMAX / 50.0  # a target is at most one command period behind
        deviation = max(np.abs(q[i] - reference.sample(t[i] - s0)).max() for i in np.nonzero(after)[0])
        assert deviation < lag * 0.2, deviation  # the update moves 0.15 rad/s: 3 mrad per period at most
        # It ends on the update's last point, at the behaviour's end rather than a restart's.
        assert np.allclose(q[-1], updated[-1], atol=1e-9)
        done = np.nonzero(np.all(np.abs(q - updated[-1]) < 1e-9, axis=1))[0][0]
        assert abs(t[done] - (s0 + STEPS * DT)) < 0.1, t[done] - s0


def test_a_stamped_trajectory_with_nothing_running_starts_from_the_arm_at_the_current_phase():
    """An arm moved by someone else through the first steps: the completion continues from where it is."""
    with commander_graph() as (g, commander, trajectory):
        now = commander.get_clock().now()
        start = Time(nanoseconds=now.nanoseconds - int(0.8e9), clock_type=now.clock_type)  # 8 steps ago
        trajectory.publish(messages.joint_trajectory(NAMES, plan(0.0), DT, stamp=start.to_msg()))
        assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) > 0, timeout=10.0)
        assert g.wait(lambda: any(m.startswith("splicing") and "from the arm" in m
                                  for m in g.probe.logs("commander")))  # /rosout may lag the commands
        t, q = commands(g)
        assert np.allclose(q[0], HOME, atol=VMAX * 0.05), "the first command is next to where the arm is"
        s0 = start.nanoseconds * 1e-9
        assert t[0] - s0 > 0.75, "the behaviour is continued at its phase, not started over"
        assert np.all(np.abs(np.diff(q, axis=0)).max(axis=1) <= VMAX * np.diff(t) + 2e-3)
        assert np.allclose(q[-1], plan(0.0)[-1], atol=1e-9)
        assert t[-1] - s0 < STEPS * DT + 0.5, "finished on the behaviour's clock (plus settle_s)"
