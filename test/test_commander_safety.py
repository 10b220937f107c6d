"""The commander with foreign clocks and an arm that does not follow, over real DDS.

The commander is the real node; a fake arm in the probe publishes ``/joint_states`` every 10 ms, either
following ``/joint_command`` exactly or stuck where it is, with or without header stamps. Each test sends
trajectories as another node would (its stamp on its own clock) and checks what reaches ``/joint_command``,
the log (from ``/rosout``) and ``/diagnostics``.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from rcl_interfaces.msg import Log
from rclpy.time import Time
from ros_harness import Graph
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from latent_nodes.nodes import messages
from latent_nodes.nodes.commander_node import CommanderNode
from latent_nodes.robot.safety import CheckedTrajectory
from latent_nodes.sim import arm

NAMES = list(arm.JOINT_NAMES)
HOME = np.asarray(arm.HOME, dtype=np.float64)
TOWARDS_MIDDLE = np.sign((arm.JOINT_LOWER + arm.JOINT_UPPER) / 2 - HOME)
DT, STEPS = 0.1, 20


class FakeArm:
    """``/joint_states`` every 10 ms: at ``q``, which follows /joint_command when ``follow`` is set.

    ``stamp_offset_s`` (None: a zero stamp) stamps each message that far from the commander's clock.
    """

    def __init__(self, g: Graph, clock, follow: bool = True, q: np.ndarray = HOME) -> None:
        self.q, self.follow, self.clock = np.array(q, dtype=np.float64), follow, clock
        self.stamp_offset_s: float | None = None
        self.states = g.publisher(JointState, messages.JOINT_STATES)
        g.probe.create_subscription(JointState, messages.JOINT_COMMAND, self.on_command, 10)
        g.probe.create_timer(0.01, self.tick)

    def on_command(self, msg: JointState) -> None:
        if self.follow:
            self.q = messages.joint_positions(msg, NAMES)

    def tick(self) -> None:
        stamp = None
        if self.stamp_offset_s is not None:
            now = self.clock.now()
            stamp = Time(nanoseconds=now.nanoseconds + int(self.stamp_offset_s * 1e9),
                         clock_type=now.clock_type).to_msg()
        self.states.publish(messages.joint_state(NAMES, self.q, stamp=stamp))


@contextmanager
def commander_graph(follow: bool = True, q: np.ndarray = HOME, **params) -> Iterator[tuple]:
    """(graph, commander, fake arm, trajectory publisher), with the commander hearing the arm."""
    with Graph() as g:
        commander = g.add(CommanderNode, **{"settle_s": 0.2, **params})
        fake = FakeArm(g, commander.get_clock(), follow, q)
        trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
        g.start()
        g.wait_for_subscribers(trajectory)
        assert g.wait(lambda: commander.measured is not None)
        yield g, commander, fake, trajectory


def ramp(offset: float = 0.0) -> np.ndarray:
    """[STEPS, J] a slow ramp away from HOME (0.15 rad/s), shifted by ``offset`` rad."""
    return HOME + TOWARDS_MIDDLE * (0.015 * (np.arange(STEPS)[:, None] + 1) + offset)


def stamped(g_commander: CommanderNode, seconds_from_now: float) -> Time:
    now = g_commander.get_clock().now()
    return Time(nanoseconds=now.nanoseconds + int(seconds_from_now * 1e9), clock_type=now.clock_type)


def errors(g: Graph) -> list[str]:
    return g.probe.logs("commander", Log.ERROR)


def commands(g: Graph) -> tuple[np.ndarray, np.ndarray]:
    """(send times in seconds, [N, J] positions) of every /joint_command so far."""
    with g.probe.lock:
        sent = list(g.probe.got[messages.JOINT_COMMAND])
    return (np.array([messages.time_to_seconds(m.header.stamp) for m in sent]),
            np.array([messages.joint_positions(m, NAMES) for m in sent]).reshape(-1, len(NAMES)))


def intervals(g: Graph) -> np.ndarray:
    """Seconds between consecutive /joint_command stamps, from integer nanoseconds: 1.7e9 s in a float
    has a resolution of 0.24 us, which would show as 0.01 rad/s^2 of spurious acceleration at 50 Hz.
    """
    with g.probe.lock:
        sent = list(g.probe.got[messages.JOINT_COMMAND])
    ns = np.array([m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in sent], dtype=np.int64)
    return np.diff(ns) * 1e-9


def diagnostics(g: Graph) -> DiagnosticStatus | None:
    msg = g.probe.last(messages.DIAGNOSTICS)
    return None if msg is None else msg.status[0]


def values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def refused_with(g: Graph, trajectory, msg: JointTrajectory, words: str) -> str:
    """Publish ``msg``; the commander must log one refusal containing ``words`` and send nothing."""
    before, sent = len(errors(g)), g.probe.count(messages.JOINT_COMMAND)
    trajectory.publish(msg)
    assert g.wait(lambda: len(errors(g)) > before), "refused, with an error"
    new = errors(g)[before:]
    assert len(new) == 1 and new[0].startswith("refusing trajectory, nothing sent: ") and words in new[0], new
    assert not g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > sent, timeout=0.5), "nothing moves"
    return new[0]


# --- stamps ------------------------------------------------------------------------------------------------

def test_a_trajectory_stamped_far_in_the_past_is_refused_and_nothing_moves():
    """Before: it was spliced as a straight joint-space line to its last point at full velocity."""
    with commander_graph() as (g, commander, _, trajectory):
        old = messages.joint_trajectory(NAMES, ramp(0.3), DT, stamp=stamped(commander, -100.0).to_msg())
        line = refused_with(g, trajectory, old, "the trajectory ended 98 s ago")
        assert "both are wall time, so the two machines' clocks differ" in line
        # A sender on simulated time (its stamp a few minutes since its world started): which clock it is.
        sim = messages.joint_trajectory(NAMES, ramp(0.3), DT, stamp=messages.seconds_to_time(120.0))
        line = refused_with(g, trajectory, sim, "is the sender on sim time (use_sim_time) and this node on wall time?")
        assert "s behind this node's clock" in line
        assert commander.active is None
        assert g.wait(lambda: diagnostics(g) is not None and diagnostics(g).level == DiagnosticStatus.ERROR)
        assert "header stamp" in diagnostics(g).message and values(diagnostics(g))["refused_stamp"] == "2"


def test_a_trajectory_stamped_far_in_the_future_is_refused():
    """Before: the commander held the arm "executing" until the stamp came, its error sums growing."""
    with commander_graph() as (g, commander, _, trajectory):
        future = messages.joint_trajectory(NAMES, ramp(), DT, stamp=stamped(commander, 1000.0).to_msg())
        line = refused_with(g, trajectory, future, "starts 1e+03 s from now, more than max_future_start_s (1 s)")
        assert "stamp is 1e+03 s ahead of this node's clock" in line
        assert commander.active is None


def test_a_trajectory_starting_within_the_horizon_is_accepted_and_timed_from_its_stamp():
    with commander_graph() as (g, commander, _, trajectory):
        start = stamped(commander, 0.6)
        trajectory.publish(messages.joint_trajectory(NAMES, ramp(), DT, stamp=start.to_msg()))
        assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) > 0, timeout=10.0), "executed"
        t, q = commands(g)
        s0 = start.nanoseconds * 1e-9
        # As JTC (trajectory.cpp kilted L143-160): from where the arm is to the first point, due at the
        # stamp plus its time_from_start; never further than that point before it.
        first = np.abs(ramp()[0] - HOME)
        assert np.all(np.abs(q[t < s0 + DT] - HOME) <= first + 1e-9)
        # Then the plan at its own times from the stamp, not from receipt (0.6 s earlier).
        plan = CheckedTrajectory((np.arange(STEPS) + 1) * DT, ramp(), False)
        later = np.nonzero((t > s0 + 0.5) & (t < s0 + STEPS * DT))[0]
        assert len(later) > 20 and max(np.abs(q[i] - plan.sample(t[i] - s0)).max() for i in later) < 0.01
        assert np.allclose(q[-1], ramp()[-1], atol=1e-9)
        assert abs(t[np.argmax(np.all(np.abs(q - ramp()[-1]) < 1e-9, axis=1))] - (s0 + STEPS * DT)) < 0.15
        assert not errors(g) and g.probe.last(messages.TRACKING_ERROR).data < 0.01


# --- the arm off the plan ------------------------------------------------------------------------------------

def test_an_arm_that_stays_off_the_plan_is_stopped_held_and_reported():
    """Before: the tracking error was only reported at the end; the stream went on without the arm."""
    with commander_graph(follow=False, path_tolerance=0.1, path_tolerance_time_s=0.2) as (g, commander, _, trajectory):
        away = HOME + TOWARDS_MIDDLE * np.linspace(0.05, 1.0, STEPS)[:, None]  # 1 rad in 2 s; the arm is stuck
        trajectory.publish(messages.joint_trajectory(NAMES, away, DT))
        assert g.wait(lambda: any("path tolerance violated" in m for m in errors(g)), timeout=10.0)
        line = [m for m in errors(g) if "path tolerance violated" in m][0]
        assert line.startswith("trajectory stopped, holding: path tolerance violated: joint ")
        assert commander.active is None
        # Held where the arm is; nothing after the hold.
        assert g.wait(lambda: np.allclose(commands(g)[1][-1], HOME, atol=1e-9))
        sent = g.probe.count(messages.JOINT_COMMAND)
        assert not g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > sent, timeout=0.5)
        # Stopped soon after the error passed the tolerance for path_tolerance_time_s: the stream reached
        # 0.1 rad off the stuck arm about 0.2 s in (0.5 rad/s), so about 0.4 s, not the trajectory's 2 s.
        t, q = commands(g)
        moving = t[np.abs(q - HOME).max(axis=1) > 1e-9]
        assert moving[-1] - moving[0] < 0.8, moving[-1] - moving[0]
        assert np.abs(q[:-1] - HOME).max() < 0.1 + 0.5 * (0.2 + 0.15), "stopped before it got far"
        assert g.wait(lambda: diagnostics(g) is not None and diagnostics(g).level == DiagnosticStatus.ERROR
                      and "path tolerance violated: joint" in diagnostics(g).message, timeout=5.0)
        v = values(diagnostics(g))
        assert v["violation"] == "path" and v["violation_joint"] in NAMES and abs(float(v["violation_error_rad"])) > 0.1
        assert v["stopped_path_tolerance"] == "1" and "executed" not in v


def test_an_arm_that_ends_off_its_goal_is_reported_after_settle():
    stuck = HOME.copy()
    stuck[3] += 0.08 * TOWARDS_MIDDLE[3]  # one joint 0.08 rad off, within the path tolerance all along
    with commander_graph(follow=False, q=stuck, goal_tolerance=0.05) as (g, commander, _, trajectory):
        trajectory.publish(messages.joint_trajectory(NAMES, np.tile(HOME, (5, 1)), DT))
        assert g.wait(lambda: any("goal tolerance violated" in m for m in errors(g)), timeout=10.0)
        line = [m for m in errors(g) if "goal tolerance violated" in m][0]
        assert f"joint {NAMES[3]} is 0.0800 rad off (tolerance 0.05 rad) after settle_s (0.2 s)" in line
        assert g.wait(lambda: np.allclose(commands(g)[1][-1], stuck, atol=1e-9)), "held where the arm is"
        assert g.wait(lambda: diagnostics(g) is not None and diagnostics(g).level == DiagnosticStatus.ERROR
                      and "goal tolerance violated" in diagnostics(g).message, timeout=5.0)
        assert values(diagnostics(g))["goal_tolerance_violated"] == "1"


def test_the_hold_on_stop_is_clamped_to_the_joint_limits():
    """Before: /commander/stop commanded the measured position as it was, beyond the limit."""
    beyond = HOME.copy()
    beyond[0] = arm.JOINT_UPPER[0] + 0.05  # a joint reported past its limit (calibration, a soft limit)
    with commander_graph(follow=False, q=beyond, path_tolerance=0.0) as (g, commander, _, trajectory):
        trajectory.publish(messages.joint_trajectory(NAMES, np.tile(HOME, (30, 1)), DT))
        assert g.wait(lambda: g.probe.count(messages.JOINT_COMMAND) > 3)
        client = g.probe.create_client(Trigger, "/commander/stop")
        assert client.wait_for_service(timeout_sec=5.0)
        future = client.call_async(Trigger.Request())
        assert g.wait(future.done) and future.result().success
        # The hold is published before the reply, on another topic: it may reach the probe after the reply.
        assert g.wait(lambda: commands(g)[1][-1][0] == arm.JOINT_UPPER[0]), commands(g)[1][-1]
        q = commands(g)[1]
        assert np.all(q <= arm.JOINT_UPPER + 1e-12) and np.all(q >= arm.JOINT_LOWER - 1e-12)
        assert q[-1][0] == arm.JOINT_UPPER[0] and np.allclose(q[-1][1:], beyond[1:])


# --- limits --------------------------------------------------------------------------------------------------

def test_streamed_targets_keep_within_the_acceleration_limit():
    """Before: only the velocity was limited, so a jump started at full speed (2 rad/s in one 20 ms tick)."""
    amax = 8.0
    with commander_graph(follow=True, max_joint_acceleration=amax) as (g, commander, _, trajectory):
        far = HOME + TOWARDS_MIDDLE * np.array([[0.8]])  # 0.8 rad away, due in 0.1 s: the limits decide
        back = HOME + TOWARDS_MIDDLE * np.array([[0.2]])
        trajectory.publish(messages.joint_trajectory(NAMES, np.vstack([far, far, back, back, back]), DT))
        assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) > 0, timeout=10.0)
        _, q = commands(g)
        dt = intervals(g)
        v = np.diff(q, axis=0) / dt[:, None]
        a = np.diff(v, axis=0) / dt[1:, None]
        on_time = (dt[1:] <= 2.0 / commander.settings.command_rate) & (dt[:-1] > 0)  # not across a stalled tick
        assert on_time.mean() > 0.8, "most ticks on time"
        measured = np.abs(a[on_time]).max()
        assert measured <= amax * (1 + 1e-6), measured
        assert measured > 0.9 * amax, "the limit is what shapes the stream"
        limit = np.minimum(arm.MAX_VELOCITY, commander.settings.max_joint_velocity)
        assert np.all(np.abs(v) <= limit + 1e-6)
        assert np.allclose(q[-1], back[0], atol=1e-9), "and it still arrives"


def test_a_first_trajectory_refused_for_stale_feedback_does_not_pin_its_joints():
    """Before: the joint set was fixed before the feedback check, so the refused trajectory's joints stayed."""
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from std_msgs.msg import String

    other = ["joint_a", "joint_b"]  # another arm's, with limits in its description
    urdf = "<robot name='other'>" + "".join(
        f"<joint name='{name}' type='revolute'><limit lower='-1' upper='1' velocity='1'/></joint>" for name in other
    ) + "</robot>"
    with Graph() as g:
        commander = g.add(CommanderNode, settle_s=0.1)
        description = g.probe.create_publisher(String, messages.ROBOT_DESCRIPTION,
                                               QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        description.publish(String(data=urdf))
        trajectory = g.publisher(JointTrajectory, messages.COMPLETED_BEHAVIOUR)
        g.start()
        g.wait_for_subscribers(trajectory)
        assert g.wait(lambda: commander.description is not None)
        # Another arm's joints, but no /joint_states for them: refused, and the joint set stays open.
        refused_with(g, trajectory, messages.joint_trajectory(other, np.zeros((5, 2)), DT),
                     "no fresh /joint_states (last never)")
        assert not commander.joints_fixed and commander.names == NAMES
        # The embedded arm reports and its trajectory is executed.
        FakeArm(g, commander.get_clock())
        assert g.wait(lambda: commander.measured is not None)
        trajectory.publish(messages.joint_trajectory(NAMES, np.tile(HOME, (5, 1)), DT))
        assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) > 0, timeout=10.0), errors(g)
        assert commander.joints_fixed and commander.names == NAMES


# --- feedback stamps -----------------------------------------------------------------------------------------

def test_feedback_is_aged_by_its_header_stamp():
    """Before: feedback counted as fresh on receipt, however old its stamp said the positions were."""
    with commander_graph() as (g, commander, fake, trajectory):
        fake.stamp_offset_s = -2.0  # delivered on time, measured 2 s ago (a lagging driver or network)
        assert g.wait(lambda: commander.feedback_age() > 1.5)
        refused_with(g, trajectory, messages.joint_trajectory(NAMES, np.tile(HOME, (5, 1)), DT),
                     "no fresh /joint_states (last 2.0")
        fake.stamp_offset_s = 0.0  # stamped now: fresh
        assert g.wait(lambda: commander.feedback_age() < 0.1)
        trajectory.publish(messages.joint_trajectory(NAMES, np.tile(HOME, (5, 1)), DT))
        assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) > 0, timeout=10.0)


def test_feedback_stamped_ahead_of_this_clock_is_aged_by_receipt_with_a_warning():
    with commander_graph() as (g, commander, fake, trajectory):
        fake.stamp_offset_s = 30.0  # another machine's clock, 30 s ahead
        assert g.wait(lambda: any("/joint_states stamp is 30 s ahead of this node's clock" in m
                                  for m in g.probe.logs("commander", Log.WARN)), timeout=5.0)
        warning = [m for m in g.probe.logs("commander", Log.WARN) if "/joint_states stamp" in m][0]
        assert "clocks differ" in warning and warning.endswith("using the receipt time for its age")
        assert 0.0 <= commander.feedback_age() < 0.5, "neither negative (always fresh) nor refused"
        trajectory.publish(messages.joint_trajectory(NAMES, np.tile(HOME, (5, 1)), DT))
        assert g.wait(lambda: g.probe.count(messages.TRACKING_ERROR) > 0, timeout=10.0)


def test_acceleration_limits_come_from_the_parameters_per_joint_and_at_run_time():
    from rclpy.parameter import Parameter

    with Graph() as g:
        commander = g.add(CommanderNode, max_joint_acceleration=6.0,
                          joint_max_acceleration=[f"{NAMES[0]}:2.5", f"{NAMES[1]}:50.0"])
        g.start()
        limits = commander.limits().max_acceleration
        assert limits[0] == 2.5 and limits[1] == 6.0 and np.all(limits[2:] == 6.0), "each capped by the common one"
        assert commander.set_parameters([Parameter("max_joint_acceleration", value=4.0)])[0].successful
        assert commander.limits().max_acceleration[1] == 4.0
        assert not commander.set_parameters([Parameter("max_joint_acceleration", value=0.0)])[0].successful
